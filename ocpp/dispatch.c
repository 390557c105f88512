/*
 * dispatch.c — one text message in, its answer queued (dispatch.h).
 *
 * Order of checks for a CALL, all before any handler runs: envelope (rpc.c), action known and
 * charger-initiated, registration state, payload schema. Then the handler, then the response
 * schema (our own bug must never reach a charger: it becomes InternalError and a log line).
 */
#include "dispatch.h"

#include "call.h"
#include "conn.h"
#include "handler.h"
#include "log.h"
#include "od.h"
#include "schema.h"
#include "server.h"
#include "timeutil.h"
#include "ws.h"

#include <stdlib.h>
#include <string.h>

/* Answers the CALL id (of action, NULL if unreadable) with err. */
static void dispatch_reply_error(struct conn *c, const char *id, const char *action,
                                 const struct ocpp_error *err)
{
    size_t len;
    char *block = rpc_build_error(WS_HEADROOM, c->version, id, err, &len);
    c->srv->stats.callerrors_out++;
    if ((unsigned)err->code < OCPP_ERR__COUNT) c->srv->stats.callerrors_by_code[err->code]++;
    /* Bounded per connection: a charger repeating one bad message must not fill the store. */
    if (log_ratelimit_allow(&c->callerror_event_rl, 2)) {
        struct model_ctx m = {.srv = c->srv, .conn = c, .charger_id = c->id,
                              .protocol = ocpp_version_name(c->version), .now_ms = od_now_ms()};
        model_callerror_sent(&m, action, ocpp_errcode_name(err->code, c->version),
                             err->description, err->path);
    }
    /* Through the commit queue too, so replies leave in the order their CALLs came in. */
    server_reply_after_commit(c->srv, c, block, len, id, false);
}

static void dispatch_protocol_violation(struct conn *c, const char *what)
{
    if (log_ratelimit_allow(&c->warn_rl, 5))
        CLOG_WARN(c->id, "protocol violation: %s", what);
    if (++c->bad_frames > CONN_MAX_BAD_FRAMES) {
        CLOG_WARN(c->id, "too many malformed messages, closing");
        conn_close(c, 1008, "too many malformed messages");
    }
}

/* May this charger send action now? A charger may reconnect without rebooting, so the stored
 * registration decides, not whether this connection has seen a BootNotification. */
static bool dispatch_registration_allows(const struct conn *c, const struct ocpp_handler *h,
                                         struct ocpp_error *err)
{
    if (h->flags & OCPP_HANDLER_ANY_REGISTRATION) return true;
    /* 2.0.1 is stricter than 1.6 (use cases B02 Pending, B03 Rejected): a station that is not
     * Accepted (never booted, Pending or Rejected) may send nothing but BootNotification,
     * whatever the server's auto-registration setting. */
    if (c->version == OCPP_V201 && c->registration != REG_ACCEPTED) {
        ocpp_error_set(err, OCPP_ERR_SECURITY, "",
                       "not accepted by the CSMS; only BootNotification is allowed");
        return false;
    }
    if (c->registration == REG_REJECTED) {
        ocpp_error_set(err, OCPP_ERR_SECURITY, "",
                       "BootNotification was rejected; only BootNotification is accepted");
        return false;
    }
    if (c->registration == REG_NEVER && !c->srv->cfg->auto_register && !c->provisioned) {
        ocpp_error_set(err, OCPP_ERR_SECURITY, "",
                       "unknown charge point; send BootNotification first");
        return false;
    }
    return true;
}

static void dispatch_call(struct conn *c, const struct rpc_msg *msg)
{
    struct server *srv = c->srv;
    struct ocpp_error err;
    memset(&err, 0, sizeof err);
    srv->stats.calls_in++;
    metrics_count(&srv->stats.calls_in_by_action,
                  ocpp_action_known(c->version, msg->action) ? msg->action : "unknown");

    const struct ocpp_handler *h = c->version == OCPP_V201 ? v201_handler_find(msg->action)
                                                            : v16_handler_find(msg->action);
    if (!h) {
        if (ocpp_action_known(c->version, msg->action))
            ocpp_error_set(&err, OCPP_ERR_NOT_SUPPORTED, "",
                           "%s is not sent by a charge point", msg->action);
        else
            ocpp_error_set(&err, OCPP_ERR_NOT_IMPLEMENTED, "", "unknown action");
        CLOG_INFO(c->id, "call refused id=%s action=%.48s code=%s", msg->id, msg->action,
                  ocpp_errcode_name(err.code, c->version));
        dispatch_reply_error(c, msg->id, msg->action, &err);
        return;
    }
    if (!dispatch_registration_allows(c, h, &err)) {
        CLOG_INFO(c->id, "call refused id=%s action=%s registration=%s", msg->id, msg->action,
                  model_registration_name((enum model_registration)c->registration));
        dispatch_reply_error(c, msg->id, msg->action, &err);
        return;
    }
    const struct ocpp_schema *req_schema = ocpp_schema_find(c->version, msg->action, true);
    if (req_schema && ocpp_schema_validate(req_schema, msg->payload, &err) != 0) {
        if (log_ratelimit_allow(&c->warn_rl, 5))
            CLOG_WARN(c->id, "invalid payload id=%s action=%s code=%s path=%s why=\"%s\"",
                      msg->id, msg->action, ocpp_errcode_name(err.code, c->version), err.path,
                      err.description);
        dispatch_reply_error(c, msg->id, msg->action, &err);
        return;
    }

    struct ocpp_ctx ctx = {
        .m = {.srv = srv, .conn = c, .charger_id = c->id,
              .protocol = ocpp_version_name(c->version), .now_ms = od_now_ms()},
        .version = c->version,
        .msg_id = msg->id,
    };
    json_t *resp = NULL;
    if (h->fn(&ctx, msg->payload, &resp, &err) != 0 || !resp) {
        json_decref(resp);
        if (err.description[0] == '\0')
            ocpp_error_set(&err, OCPP_ERR_INTERNAL, "", "handler failed");
        dispatch_reply_error(c, msg->id, msg->action, &err);
        return;
    }
    const struct ocpp_schema *conf_schema = ocpp_schema_find(c->version, msg->action, false);
    struct ocpp_error verr;
    if (conf_schema && ocpp_schema_validate(conf_schema, resp, &verr) != 0) {
        char *text = json_dumps(resp, JSON_COMPACT);
        CLOG_ERROR(c->id, "BUG: our %s response fails its schema path=%s why=\"%s\" body=%s",
                   msg->action, verr.path, verr.description, text ? text : "");
        free(text);
        json_decref(resp);
        ocpp_error_set(&err, OCPP_ERR_INTERNAL, "", "the server could not build a valid response");
        dispatch_reply_error(c, msg->id, msg->action, &err);
        return;
    }
    size_t len;
    char *block = rpc_build_result(WS_HEADROOM, msg->id, resp, &len);
    json_decref(resp);
    CLOG_DEBUG(c->id, "call answered id=%s action=%s", msg->id, msg->action);
    server_reply_after_commit(srv, c, block, len, msg->id, true);
}

void dispatch_message(struct conn *c, const char *text, size_t len)
{
    struct rpc_msg msg;
    struct ocpp_error err;
    memset(&err, 0, sizeof err);
    int rc = rpc_parse(text, len, &c->srv->limits, &msg, &err);
    if (rc != 0) {
        /* A CALLERROR may only answer a CALL: malformed results/errors are logged, and so is
         * anything whose unique id cannot be recovered. A frame whose type id is unreadable
         * or unknown but whose id is readable gets an answer, so the sender is not left
         * waiting for one. */
        bool answerable = msg.has_id && msg.type != RPC_CALLRESULT && msg.type != RPC_CALLERROR;
        char what[240];
        snprintf(what, sizeof what, "%s (%s)%s", err.description,
                 ocpp_errcode_name(err.code, c->version), answerable ? "" : ", not answerable");
        dispatch_protocol_violation(c, what);
        if (answerable) dispatch_reply_error(c, msg.id, NULL, &err);
        rpc_msg_clear(&msg);
        return;
    }
    switch (msg.type) {
    case RPC_CALL: dispatch_call(c, &msg); break;
    case RPC_CALLRESULT:
    case RPC_CALLERROR: call_on_reply(c, &msg); break;
    }
    rpc_msg_clear(&msg);
}
