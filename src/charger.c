/*
 * charger.c — chargers, connectors and tokens in the version-neutral model (model.h).
 *
 * Registration, connector status with its zombie-transaction cleanup, and token answers. Each
 * function writes inside the current store batch and emits the matching event; the dispatcher
 * acknowledges only after that batch commits.
 */
#include "model.h"

#include "conn.h"
#include "events.h"
#include "log.h"
#include "od.h"
#include "server.h"
#include "store.h"
#include "store_devmodel.h"
#include "model_int.h"

#include <jansson.h>
#include <string.h>

void model__copy(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

void model__connector_init(struct store_connector *c, const char *charger_id, int evse_id,
                           int connector_id)
{
    memset(c, 0, sizeof *c);
    model__copy(c->charger_id, sizeof c->charger_id, charger_id);
    c->evse_id = evse_id;
    c->connector_id = connector_id;
    model__copy(c->availability, sizeof c->availability, "Operative");
}

const char *model_registration_name(enum model_registration r)
{
    switch (r) {
    case REG_ACCEPTED: return "Accepted";
    case REG_PENDING: return "Pending";
    case REG_REJECTED: return "Rejected";
    default: return "";
    }
}

static enum model_registration registration_parse(const char *s)
{
    if (strcmp(s, "Accepted") == 0) return REG_ACCEPTED;
    if (strcmp(s, "Pending") == 0) return REG_PENDING;
    if (strcmp(s, "Rejected") == 0) return REG_REJECTED;
    return REG_NEVER;
}

int model_charger_connected(const struct model_ctx *m, enum model_registration *reg,
                            bool *provisioned)
{
    struct server *srv = m->srv;
    int rc = server_batch(srv);
    if (rc) return rc;
    rc = store_charger_touch(srv->store, m->charger_id, m->protocol, m->now_ms);
    if (rc) return rc;
    struct store_charger ch;
    *reg = REG_NEVER;
    *provisioned = false;
    if (store_charger_get(srv->store, m->charger_id, &ch) == 0) {
        *reg = registration_parse(ch.registration);
        *provisioned = ch.provisioned;
    }
    json_t *data = json_pack("{s:s, s:s}", "protocol", m->protocol, "peer",
                             m->conn ? m->conn->peer : "");
    event_emit(srv, "charger.connected", m->charger_id, data);
    json_decref(data);
    return 0;
}

void model_charger_disconnected(const struct model_ctx *m)
{
    if (server_batch(m->srv) != 0) return;
    store_charger_touch(m->srv->store, m->charger_id, m->protocol, m->now_ms);
    event_emit(m->srv, "charger.disconnected", m->charger_id, NULL);
}

int model_charger_seen(const struct model_ctx *m)
{
    int rc = server_batch(m->srv);
    if (rc) return rc;
    return store_charger_touch(m->srv->store, m->charger_id, m->protocol, m->now_ms);
}

int model_callerror_sent(const struct model_ctx *m, const char *action, const char *error_code,
                         const char *description, const char *path)
{
    json_t *data = json_pack("{s:s, s:s, s:s, s:s}", "direction", "toCharger", "errorCode",
                             error_code, "errorDescription", description, "path", path);
    /* NULL only if a description was cut inside a UTF-8 sequence: the log line has it. */
    if (!data) return 0;
    if (action) json_object_set_new(data, "action", json_string(action));
    int64_t seq = event_emit(m->srv, "ocpp.callerror", m->charger_id, data);
    json_decref(data);
    return seq ? 0 : OD_EDB;
}

int model_charger_boot(const struct model_ctx *m, const struct model_boot *b,
                       enum model_registration *out)
{
    struct server *srv = m->srv;
    int rc = server_batch(srv);
    if (rc) return rc;
    struct store_charger ch;
    memset(&ch, 0, sizeof ch);
    bool known = store_charger_get(srv->store, m->charger_id, &ch) == 0;
    if (!known) model__copy(ch.id, sizeof ch.id, m->charger_id);

    enum model_registration reg = REG_ACCEPTED;
    if (!srv->cfg->auto_register && !ch.provisioned) reg = REG_REJECTED;

    model__copy(ch.protocol, sizeof ch.protocol, m->protocol);
    model__copy(ch.registration, sizeof ch.registration, model_registration_name(reg));
    model__copy(ch.vendor, sizeof ch.vendor, b->vendor);
    model__copy(ch.model, sizeof ch.model, b->model);
    model__copy(ch.serial, sizeof ch.serial, b->serial);
    model__copy(ch.charge_box_serial, sizeof ch.charge_box_serial, b->charge_box_serial);
    model__copy(ch.firmware, sizeof ch.firmware, b->firmware);
    model__copy(ch.iccid, sizeof ch.iccid, b->iccid);
    model__copy(ch.imsi, sizeof ch.imsi, b->imsi);
    model__copy(ch.meter_type, sizeof ch.meter_type, b->meter_type);
    model__copy(ch.meter_serial, sizeof ch.meter_serial, b->meter_serial);
    model__copy(ch.boot_reason, sizeof ch.boot_reason, b->reason);
    ch.last_boot_ms = m->now_ms;
    ch.last_seen_ms = m->now_ms;
    if (!ch.created_ms) ch.created_ms = m->now_ms;
    rc = store_charger_put(srv->store, &ch);
    if (rc) return rc;

    /* A reboot ends whatever the charger had running; if it later sends the real Stop from its
     * offline queue, that Stop's values replace the server's estimate. */
    if (reg == REG_ACCEPTED) {
        rc = tx__close_zombies(m, -1, -1, "charger rebooted (BootNotification) with the "
                               "transaction still open");
        if (rc) return rc;
    }

    json_t *data = json_pack("{s:s, s:s, s:s, s:s, s:s}", "registration",
                             model_registration_name(reg), "vendor", ch.vendor, "model", ch.model,
                             "firmwareVersion", ch.firmware, "protocol", m->protocol);
    event_emit(srv, "charger.booted", m->charger_id, data);
    json_decref(data);
    CLOG_INFO(m->charger_id, "boot registration=%s vendor=\"%s\" model=\"%s\" firmware=\"%s\"",
              model_registration_name(reg), ch.vendor, ch.model, ch.firmware);
    if (m->conn) m->conn->registration = reg; /* later messages on this connection obey it */
    *out = reg;
    return 0;
}

int model_connector_status(const struct model_ctx *m, const struct model_status *s)
{
    struct server *srv = m->srv;
    int rc = server_batch(srv);
    if (rc) return rc;
    struct store_connector c;
    bool known = store_connector_get(srv->store, m->charger_id, s->evse_id, s->connector_id,
                                     &c) == 0;
    if (!known) {
        model__connector_init(&c, m->charger_id, s->evse_id, s->connector_id);
        CLOG_INFO(m->charger_id, "new connector evse=%d connector=%d", s->evse_id,
                  s->connector_id);
    }
    char previous[24];
    model__copy(previous, sizeof previous, c.status);
    model__copy(c.status, sizeof c.status, s->status);
    model__copy(c.raw_status, sizeof c.raw_status, s->raw_status);
    model__copy(c.error_code, sizeof c.error_code, s->error_code);
    model__copy(c.info, sizeof c.info, s->info);
    model__copy(c.vendor_id, sizeof c.vendor_id, s->vendor_id);
    model__copy(c.vendor_error_code, sizeof c.vendor_error_code, s->vendor_error_code);
    c.status_ms = s->timestamp_ms ? s->timestamp_ms : m->now_ms;
    c.updated_ms = m->now_ms;
    if (strcmp(s->status, "Unavailable") == 0 && !known) model__copy(c.availability, 16, "Inoperative");
    rc = store_connector_put(srv->store, &c);
    if (rc) return rc;

    /* Available means nothing is plugged in: whatever transaction is still open there was
     * left behind by a charger that never sent its Stop. */
    if (strcmp(s->status, "Available") == 0 && s->connector_id > 0) {
        rc = tx__close_zombies(m, s->evse_id, s->connector_id,
                               "connector reported Available with the transaction still open");
        if (rc) return rc;
    }

    json_t *data = json_pack("{s:i, s:i, s:s, s:s, s:s, s:s}", "evseId", s->evse_id,
                             "connectorId", s->connector_id, "status", s->status, "rawStatus",
                             s->raw_status ? s->raw_status : s->status, "errorCode",
                             s->error_code ? s->error_code : "", "previousStatus", previous);
    event_emit(srv, "connector.status", m->charger_id, data);
    json_decref(data);
    CLOG_DEBUG(m->charger_id, "status evse=%d connector=%d status=%s error=%s", s->evse_id,
               s->connector_id, s->status, s->error_code ? s->error_code : "");
    return 0;
}

int model_authorize(const struct model_ctx *m, const char *id_tag, struct model_auth *out)
{
    return model_authorize_typed(m, id_tag, NULL, out);
}

int model_authorize_typed(const struct model_ctx *m, const char *id_tag, const char *type,
                          struct model_auth *out)
{
    struct store_token t;
    memset(out, 0, sizeof *out);
    /* The charger authorized nothing (free vend, or a token it checked itself): nothing to ask. */
    if (type && strcmp(type, "NoAuthorization") == 0) {
        model__copy(out->status, sizeof out->status, "Accepted");
        return 0;
    }
    int rc = store_token_get(m->srv->store, id_tag, &t);
    /* 2.0.1 identifies a token by value and type: the same digits as an eMAID and as an RFID
     * UID are different tokens. 1.6 tokens (no stored type) match any type. */
    if (rc == 0 && type && t.type[0] && strcmp(t.type, type) != 0) rc = OD_ENOTFOUND;
    if (rc == OD_ENOTFOUND) {
        model__copy(out->status, sizeof out->status,
             m->srv->cfg->accept_unknown_tokens ? "Accepted" : "Invalid");
        return 0;
    }
    if (rc) return rc;
    out->known = true;
    model__copy(out->status, sizeof out->status, t.status);
    out->expiry_ms = t.expiry_ms;
    model__copy(out->parent_id_tag, sizeof out->parent_id_tag, t.parent_id_tag);
    if (strcmp(t.status, "Accepted") == 0 && t.expiry_ms && t.expiry_ms <= m->now_ms)
        model__copy(out->status, sizeof out->status, "Expired");
    return 0;
}

bool model_connector_has_tx(const struct model_ctx *m, int evse_id, int connector_id)
{
    struct store_connector c;
    return store_connector_get(m->srv->store, m->charger_id, evse_id, connector_id, &c) == 0 &&
           c.tx_id != 0;
}

int model_connector_refine(const struct model_ctx *m, int64_t tx_id, const char *raw_coarse,
                           const char *status)
{
    struct store *st = m->srv->store;
    int rc = server_batch(m->srv);
    if (rc) return rc;
    struct store_tx tx;
    if ((rc = store_tx_get(st, tx_id, &tx))) return rc;
    if (tx.evse_id <= 0) return 0; /* not placed on a connector yet */
    struct store_connector c;
    rc = store_connector_get(st, m->charger_id, tx.evse_id, tx.connector_id, &c);
    if (rc == OD_ENOTFOUND) return 0;
    if (rc) return rc;
    if (strcmp(c.raw_status, raw_coarse) != 0 || strcmp(c.status, status) == 0) return 0;
    char previous[24];
    model__copy(previous, sizeof previous, c.status);
    model__copy(c.status, sizeof c.status, status);
    c.updated_ms = m->now_ms;
    if ((rc = store_connector_put(st, &c))) return rc;
    json_t *data = json_pack("{s:i, s:i, s:s, s:s, s:s, s:s}", "evseId", c.evse_id,
                             "connectorId", c.connector_id, "status", c.status, "rawStatus",
                             c.raw_status, "errorCode", c.error_code, "previousStatus", previous);
    event_emit(m->srv, "connector.status", m->charger_id, data);
    json_decref(data);
    return 0;
}

/* ---- device model (2.0.1) ---------------------------------------------------------------- */

int model_report_part(const struct model_ctx *m, int request_id, int seq_no, bool tbc,
                      const char *payload_json, bool *complete, int *missing)
{
    *complete = false;
    *missing = 0;
    int rc = server_batch(m->srv);
    if (rc) return rc;
    /* An assembled report leaves its final part behind, so that the charger resending it (our
     * answer got lost) is recognised as a repeat instead of starting a report of one part with
     * the rest "missing". Any other seqNo under that requestId starts a new report. */
    int final_seq;
    if ((rc = store_dm_part_final(m->srv->store, m->charger_id, request_id, &final_seq)))
        return rc;
    if (final_seq >= 0 && final_seq != seq_no &&
        (rc = store_dm_part_delete(m->srv->store, m->charger_id, request_id, false)))
        return rc;
    rc = store_dm_part_put(m->srv->store, m->charger_id, request_id, seq_no, tbc, payload_json,
                           m->now_ms);
    if (rc == OD_EEXISTS) {
        CLOG_INFO(m->charger_id, "repeated report part ignored requestId=%d seqNo=%d",
                  request_id, seq_no);
        return 0;
    }
    if (rc) return rc;
    if (tbc) return 0;
    /* The last part: whatever has not arrived by now was lost (parts come in order on one
     * connection), so the report is assembled from what there is and the loss is recorded. */
    int count, max_seq;
    if ((rc = store_dm_part_count(m->srv->store, m->charger_id, request_id, &count, &max_seq)))
        return rc;
    *complete = true;
    *missing = max_seq + 1 - count;
    if (*missing < 0) *missing = 0;
    return 0;
}

struct report_assembly {
    int (*fn)(int seq_no, const char *payload_json, void *ctx);
    void *ctx;
};

static int report_part_cb(int seq_no, bool tbc, const char *payload, void *ctx)
{
    (void)tbc;
    struct report_assembly *a = ctx;
    return a->fn(seq_no, payload, a->ctx);
}

int model_report_assemble(const struct model_ctx *m, int request_id, int missing,
                          int (*fn)(int seq_no, const char *payload_json, void *ctx), void *ctx)
{
    struct store *st = m->srv->store;
    int rc = server_batch(m->srv);
    if (rc) return rc;
    int64_t before = 0, after = 0;
    if ((rc = store_dm_var_count(st, m->charger_id, &before))) return rc;
    struct report_assembly a = {fn, ctx};
    if ((rc = store_dm_part_foreach(st, m->charger_id, request_id, report_part_cb, &a)))
        return rc;
    if ((rc = store_dm_part_delete(st, m->charger_id, request_id, true))) return rc;
    if ((rc = store_dm_var_count(st, m->charger_id, &after))) return rc;
    json_t *data = json_pack("{s:i, s:i, s:I}", "requestId", request_id, "missingParts", missing,
                             "variables", (json_int_t)after);
    event_emit(m->srv, "devicemodel.reported", m->charger_id, data);
    json_decref(data);
    if (missing)
        CLOG_WARN(m->charger_id, "report assembled with parts missing requestId=%d missing=%d",
                  request_id, missing);
    CLOG_INFO(m->charger_id, "device model report requestId=%d variables=%lld new=%lld",
              request_id, (long long)after, (long long)(after - before));
    return 0;
}

int model_devmodel_set(const struct model_ctx *m, struct store_dm_var *v)
{
    int rc = server_batch(m->srv);
    if (rc) return rc;
    model__copy(v->charger_id, sizeof v->charger_id, m->charger_id);
    v->updated_ms = m->now_ms;
    return store_dm_var_put(m->srv->store, v);
}

int model_notice(const struct model_ctx *m, const char *kind, const char *payload_json)
{
    int rc = server_batch(m->srv);
    if (rc) return rc;
    rc = store_notice_insert(m->srv->store, m->charger_id, kind, payload_json, m->now_ms);
    if (rc) return rc;
    json_t *data = json_pack("{s:s}", "kind", kind);
    event_emit(m->srv, "charger.notice", m->charger_id, data);
    json_decref(data);
    return 0;
}
