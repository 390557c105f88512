/*
 * call.c — CSMS-initiated calls: one in flight per connection, a bounded queue behind it, a
 * timer per call, exactly one completion (call.h).
 */
#include "call.h"

#include "conn.h"
#include "log.h"
#include "mem.h"
#include "od.h"
#include "schema.h"
#include "server.h"
#include "timeutil.h"
#include "ws.h"

#include <openssl/rand.h>
#include <string.h>

static void call_timer_closed_cb(uv_handle_t *h)
{
    struct call *call = h->data;
    struct conn *c = call->conn;
    json_decref(call->payload);
    free(call);
    conn_unref(c);
}

/* Completes call (once) and releases it; the caller has already unlinked it. */
static void call_finish(struct call *call, const struct call_outcome *out)
{
    if (call->done) return;
    call->done = true;
    uv_timer_stop(&call->timer);
    if (call->cb) call->cb(call->ctx, out);
    uv_close((uv_handle_t *)&call->timer, call_timer_closed_cb);
}

static void call_send_next(struct conn *c);

/* Round trip of an answered call into the /metrics histogram. */
static void call_note_latency(struct server_stats *st, int64_t rtt_ms)
{
    metrics_hist_add(&st->call_latency, (double)rtt_ms / 1000.0);
}

static void call_timeout_cb(uv_timer_t *t)
{
    struct call *call = t->data;
    struct conn *c = call->conn;
    struct call_outcome out = {.status = CALL_TIMEOUT};
    if (c->call_inflight == call) {
        c->call_inflight = NULL;
    } else {
        struct call **pp = &c->callq_head;
        while (*pp && *pp != call) pp = &(*pp)->next;
        if (*pp) {
            *pp = call->next;
            c->callq_len--;
            if (!c->callq_head) c->callq_tail = &c->callq_head;
        }
    }
    CLOG_WARN(c->id, "call timed out action=%s id=%s timeout_ms=%d", call->action, call->id,
              call->timeout_ms);
    call_finish(call, &out);
    call_send_next(c);
}

static void call_make_id(char *id, size_t len)
{
    static uint64_t counter;
    unsigned char r[4];
    if (RAND_bytes(r, sizeof r) != 1) memset(r, 0, sizeof r);
    /* A random prefix keeps ids unique across restarts, the counter within one run. */
    snprintf(id, len, "%02x%02x%02x%02x-%llu", r[0], r[1], r[2], r[3],
             (unsigned long long)++counter);
}

static void call_send_next(struct conn *c)
{
    while (!c->call_inflight && c->callq_head && c->state == CONN_OPEN) {
        struct call *call = c->callq_head;
        c->callq_head = call->next;
        if (!c->callq_head) c->callq_tail = &c->callq_head;
        c->callq_len--;
        call->next = NULL;
        size_t len;
        char *block = rpc_build_call(WS_HEADROOM, call->id, call->action, call->payload, &len);
        call->sent_ms = od_now_ms();
        c->call_inflight = call;
        metrics_count(&c->srv->stats.calls_out_by_action, call->action);
        CLOG_DEBUG(c->id, "call sent action=%s id=%s", call->action, call->id);
        if (c->replies_waiting) {
            /* Behind the replies still waiting for their fsync: a charger must not get, say, a
             * Reset before the answer to its BootNotification. */
            server_reply_after_commit(c->srv, c, block, len, call->id, false);
        } else if (conn_send_block(c, block, len) != 0) {
            c->call_inflight = NULL;
            struct call_outcome out = {.status = CALL_DISCONNECTED};
            call_finish(call, &out);
        }
    }
}

int call_send(struct conn *c, const char *action, json_t *payload, int timeout_ms, call_done_cb cb,
              void *ctx, struct ocpp_error *err)
{
    if (c->state != CONN_OPEN) return OD_ECLOSED;
    const struct ocpp_schema *schema = ocpp_schema_find(c->version, action, true);
    if (!schema) {
        ocpp_error_set(err, OCPP_ERR_NOT_IMPLEMENTED, "", "%s is not an action of %s", action,
                       ocpp_version_name(c->version));
        return OD_EINVAL;
    }
    /* Our own bug must never reach a charger: validate what we send. */
    if (ocpp_schema_validate(schema, payload, err) != 0) return OD_EINVAL;
    if (c->callq_len >= CALL_QUEUE_MAX) return OD_ELIMIT;
    if (strlen(action) >= sizeof ((struct call *)0)->action) return OD_EINVAL;

    struct call *call = xcalloc(1, sizeof *call);
    call->conn = c;
    conn_ref(c);
    call_make_id(call->id, sizeof call->id);
    snprintf(call->action, sizeof call->action, "%s", action);
    call->payload = json_incref(payload);
    call->cb = cb;
    call->ctx = ctx;
    call->timeout_ms = timeout_ms > 0 ? timeout_ms : c->srv->cfg->call_timeout_ms;
    uv_timer_init(c->srv->loop, &call->timer);
    call->timer.data = call;
    uv_timer_start(&call->timer, call_timeout_cb, (uint64_t)call->timeout_ms, 0);
    *c->callq_tail = call;
    c->callq_tail = &call->next;
    c->callq_len++;
    call_send_next(c);
    return 0;
}

void call_on_reply(struct conn *c, const struct rpc_msg *msg)
{
    static struct log_ratelimit rl;
    struct call *call = c->call_inflight;
    if (!call || strcmp(call->id, msg->id) != 0) {
        /* A late answer to a timed-out call, or one we never sent: nothing waits for it. */
        if (log_ratelimit_allow(&rl, 10))
            CLOG_WARN(c->id, "reply for no pending call id=%s type=%d", msg->id, (int)msg->type);
        return;
    }
    c->call_inflight = NULL;
    struct call_outcome out = {.rtt_ms = od_now_ms() - call->sent_ms};
    call_note_latency(&c->srv->stats, out.rtt_ms);
    if (msg->type == RPC_CALLRESULT) {
        struct ocpp_error verr;
        const struct ocpp_schema *schema = ocpp_schema_find(c->version, call->action, false);
        if (schema && ocpp_schema_validate(schema, msg->payload, &verr) != 0) {
            CLOG_WARN(c->id, "call result fails its schema action=%s id=%s path=%s why=\"%s\"",
                      call->action, call->id, verr.path, verr.description);
            out.status = CALL_ERROR;
            out.error_code = ocpp_errcode_name(verr.code, c->version);
            out.error_description = verr.description;
        } else {
            out.status = CALL_RESULT;
            out.payload = msg->payload;
        }
    } else {
        out.status = CALL_ERROR;
        out.error_code = msg->error_code;
        out.error_description = msg->error_description;
        out.payload = msg->payload;
    }
    call_finish(call, &out);
    call_send_next(c);
}

void call_fail_all(struct conn *c)
{
    struct call_outcome out = {.status = CALL_DISCONNECTED};
    struct call *call = c->call_inflight;
    c->call_inflight = NULL;
    if (call) call_finish(call, &out);
    while ((call = c->callq_head)) {
        c->callq_head = call->next;
        c->callq_len--;
        call_finish(call, &out);
    }
    c->callq_tail = &c->callq_head;
}
