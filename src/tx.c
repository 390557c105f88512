/*
 * tx.c — transactions and meter values in the version-neutral model (model.h).
 *
 * Integrity first: a repeated Start gets its first answer again, an unknown or repeated Stop is
 * stored and flagged instead of refused, a transaction the charger abandoned is closed with a
 * reason, and anything implausible (meter running backwards, stop below start, timestamps from
 * the future) is recorded as a flag and an event, never silently dropped.
 */
#include "model.h"

#include "admin.h"
#include "events.h"
#include "log.h"
#include "od.h"
#include "server.h"
#include "store.h"
#include "store_devmodel.h"
#include "timeutil.h"
#include "model_int.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TX_FUTURE_TOLERANCE_MS (10LL * 60 * 1000) /* charger clocks drift; beyond this, flag */
#define TX_LATE_START_MS (60LL * 60 * 1000)       /* a start older than this arrived late */

static void tx_note(struct store_tx *tx, const char *note)
{
    size_t used = strlen(tx->note);
    snprintf(tx->note + used, sizeof tx->note - used, "%s%s", used ? "; " : "", note);
}

static void tx_flag_event(const struct model_ctx *m, const struct store_tx *tx, uint32_t flag,
                          const char *what)
{
    json_t *data = json_pack("{s:I, s:s, s:I}", "transactionId", (json_int_t)tx->id, "flag", what,
                             "flags", (json_int_t)tx->flags);
    event_emit(m->srv, "transaction.flagged", m->charger_id, data);
    json_decref(data);
    CLOG_WARN(m->charger_id, "transaction flagged tx=%lld flag=%s", (long long)tx->id, what);
    (void)flag;
}

static json_t *tx_json(const struct store_tx *tx)
{
    char start[OD_TIME_BUFSZ], stop[OD_TIME_BUFSZ];
    json_t *j = json_pack("{s:I, s:i, s:i, s:s, s:s}", "transactionId", (json_int_t)tx->id,
                          "evseId", tx->evse_id, "connectorId", tx->connector_id, "idTag",
                          tx->id_tag, "startTime", od_time_format(tx->start_ms, start, sizeof start));
    if (tx->has_meter_start) json_object_set_new(j, "meterStartWh", json_real(tx->meter_start_wh));
    /* 2.0.1 chargers name their own transactions; "stop:" keys are ours (unknown 1.6 stops). */
    if (tx->ext_id[0] && strncmp(tx->ext_id, "stop:", 5) != 0)
        json_object_set_new(j, "chargerTransactionId", json_string(tx->ext_id));
    if (!tx->active) {
        json_object_set_new(j, "stopTime", json_string(od_time_format(tx->stop_ms, stop,
                                                                      sizeof stop)));
        json_object_set_new(j, "stopReason", json_string(tx->stop_reason));
        if (tx->has_meter_stop) {
            json_object_set_new(j, "meterStopWh", json_real(tx->meter_stop_wh));
            if (tx->has_meter_start)
                json_object_set_new(j, "energyWh", json_real(tx->meter_stop_wh -
                                                             tx->meter_start_wh));
        }
    }
    if (tx->flags) json_object_set_new(j, "flags", json_integer(tx->flags));
    return j;
}

/* Clears the connector's link to tx if it still points there. */
static int tx_unlink_connector(const struct model_ctx *m, const struct store_tx *tx)
{
    struct store_connector c;
    int rc = store_connector_get(m->srv->store, tx->charger_id, tx->evse_id, tx->connector_id, &c);
    if (rc == OD_ENOTFOUND) return 0;
    if (rc) return rc;
    if (c.tx_id != tx->id) return 0;
    c.tx_id = 0;
    c.updated_ms = m->now_ms;
    return store_connector_put(m->srv->store, &c);
}

struct zombie_ctx {
    const struct model_ctx *m;
    const char *why;
    int64_t ids[64];
    int n;
};

static int zombie_collect_cb(const struct store_tx *tx, void *ctx)
{
    struct zombie_ctx *z = ctx;
    if (z->n < (int)(sizeof z->ids / sizeof *z->ids)) z->ids[z->n++] = tx->id;
    return 0;
}

int tx__close_zombies(const struct model_ctx *m, int evse_id, int connector_id, const char *why)
{
    struct zombie_ctx z = {.m = m, .why = why};
    int rc = store_tx_foreach_active(m->srv->store, m->charger_id, evse_id, connector_id,
                                     zombie_collect_cb, &z);
    if (rc) return rc;
    for (int i = 0; i < z.n; i++) {
        struct store_tx tx;
        if ((rc = store_tx_get(m->srv->store, z.ids[i], &tx))) return rc;
        tx.active = false;
        tx.stop_ms = m->now_ms;
        model__copy(tx.stop_reason, sizeof tx.stop_reason, "Other");
        tx.flags |= STORE_TX_CLOSED_BY_SERVER;
        if (tx.has_energy) {
            /* The best estimate we have: the last register reading we were sent. */
            tx.has_meter_stop = true;
            tx.meter_stop_wh = tx.last_energy_wh;
        } else if (tx.has_meter_start) {
            tx.has_meter_stop = true;
            tx.meter_stop_wh = tx.meter_start_wh;
        }
        char note[200];
        snprintf(note, sizeof note, "closed by server: %s (meter stop estimated)", why);
        tx_note(&tx, note);
        tx.updated_ms = m->now_ms;
        if ((rc = store_tx_update(m->srv->store, &tx))) return rc;
        if ((rc = tx_unlink_connector(m, &tx))) return rc;
        json_t *data = tx_json(&tx);
        json_object_set_new(data, "closedByServer", json_true());
        json_object_set_new(data, "reason", json_string(why));
        event_emit(m->srv, "transaction.ended", m->charger_id, data);
        json_decref(data);
        CLOG_WARN(m->charger_id, "stuck transaction closed tx=%lld why=\"%s\"", (long long)tx.id,
                  why);
    }
    return 0;
}

static void tx_check_time(const struct model_ctx *m, struct store_tx *tx, int64_t t, bool had_zone)
{
    if (t > m->now_ms + TX_FUTURE_TOLERANCE_MS) tx->flags |= STORE_TX_FUTURE_TIME;
    if (!had_zone) tx->flags |= STORE_TX_NO_TIMEZONE;
}

/* A 2.0.1 start whose transaction id is already stored: either the charger repeated the
 * message, or its Ended (or an Updated) got here first and the start values are still missing. */
static int tx_start_known_ext(const struct model_ctx *m, const struct model_tx_start *s,
                              struct store_tx *tx, int64_t *tx_id)
{
    *tx_id = tx->id;
    bool unstarted = (tx->flags & STORE_TX_UNKNOWN_STOP) || strstr(tx->note, "first seen in");
    if (!unstarted || s->first_seen_in) {
        if (!s->first_seen_in && !(tx->flags & STORE_TX_REPEATED_START)) {
            tx->flags |= STORE_TX_REPEATED_START;
            tx->updated_ms = m->now_ms;
            CLOG_INFO(m->charger_id, "repeated start of transaction %s (tx=%lld)", tx->ext_id,
                      (long long)tx->id);
            return store_tx_update(m->srv->store, tx);
        }
        return 0;
    }
    tx->evse_id = s->evse_id;
    tx->connector_id = s->connector_id;
    if (!tx->id_tag[0]) model__copy(tx->id_tag, sizeof tx->id_tag, s->id_tag);
    tx->start_ms = s->start_ms;
    tx->has_meter_start = s->has_meter_start;
    tx->meter_start_wh = s->meter_start_wh;
    tx->has_reservation = s->has_reservation;
    tx->reservation_id = s->reservation_id;
    tx_check_time(m, tx, s->start_ms, s->start_had_zone);
    tx_note(tx, "its start arrived after a later event");
    tx->updated_ms = m->now_ms;
    CLOG_INFO(m->charger_id, "late start applied to transaction %s (tx=%lld)", tx->ext_id,
              (long long)tx->id);
    return store_tx_update(m->srv->store, tx);
}

int model_tx_start(const struct model_ctx *m, const struct model_tx_start *s, int64_t *tx_id,
                   struct model_auth *auth)
{
    struct server *srv = m->srv;
    int rc = server_batch(srv);
    if (rc) return rc;
    /* A 2.0.1 transaction may start before anyone presented a token (cable plugged in). */
    if (s->id_tag) {
        if ((rc = model_authorize_typed(m, s->id_tag, s->id_token_type, auth))) return rc;
    } else {
        memset(auth, 0, sizeof *auth);
        model__copy(auth->status, sizeof auth->status, "Accepted");
    }

    struct store_tx tx;
    if (s->ext_id) {
        rc = store_tx_get_ext(srv->store, m->charger_id, s->ext_id, &tx);
        if (rc == 0) return tx_start_known_ext(m, s, &tx, tx_id);
    } else {
        rc = store_tx_find_start(srv->store, m->charger_id, s->connector_id, s->id_tag,
                                 s->meter_start_wh, s->start_ms, &tx);
    }
    if (rc == 0) {
        /* The charger did not get (or lost) our answer and sent the same Start again. */
        if (!(tx.flags & STORE_TX_REPEATED_START)) {
            tx.flags |= STORE_TX_REPEATED_START;
            tx.updated_ms = m->now_ms;
            if ((rc = store_tx_update(srv->store, &tx))) return rc;
        }
        CLOG_INFO(m->charger_id, "repeated StartTransaction answered with tx=%lld",
                  (long long)tx.id);
        *tx_id = tx.id;
        return 0;
    }
    if (rc != OD_ENOTFOUND) return rc;

    struct store_connector c;
    bool known = store_connector_get(srv->store, m->charger_id, s->evse_id, s->connector_id,
                                     &c) == 0;
    memset(&tx, 0, sizeof tx);
    model__copy(tx.ext_id, sizeof tx.ext_id, s->ext_id);
    model__copy(tx.charger_id, sizeof tx.charger_id, m->charger_id);
    tx.evse_id = s->evse_id;
    tx.connector_id = s->connector_id;
    model__copy(tx.id_tag, sizeof tx.id_tag, s->id_tag);
    tx.start_ms = s->start_ms;
    tx.active = true;
    tx.has_meter_start = s->has_meter_start;
    tx.meter_start_wh = s->meter_start_wh;
    tx.has_energy = s->has_meter_start;
    tx.last_energy_wh = s->meter_start_wh;
    tx.has_reservation = s->has_reservation;
    tx.reservation_id = s->reservation_id;
    tx.created_ms = tx.updated_ms = m->now_ms;
    tx_check_time(m, &tx, s->start_ms, s->start_had_zone);
    if (s->start_ms < m->now_ms - TX_LATE_START_MS) tx.flags |= STORE_TX_LATE_START;
    if (!known) tx.flags |= STORE_TX_UNKNOWN_CONNECTOR;
    if (s->first_seen_in) {
        char note[96];
        snprintf(note, sizeof note,
                 "first seen in a TransactionEvent %s (its start never arrived)",
                 s->first_seen_in);
        tx_note(&tx, note);
    }
    if (s->id_tag && strcmp(auth->status, "Accepted") != 0) {
        char note[64];
        snprintf(note, sizeof note, "started with idTag status %s", auth->status);
        tx_note(&tx, note);
    }

    /* A new session on a connector that still has one open: the old one was abandoned. */
    if (known && c.tx_id) {
        if ((rc = tx__close_zombies(m, s->evse_id, s->connector_id,
                                    "a new transaction started on the connector")))
            return rc;
        store_connector_get(srv->store, m->charger_id, s->evse_id, s->connector_id, &c);
    }
    if ((rc = store_tx_insert(srv->store, &tx))) return rc;

    if (!known) {
        model__connector_init(&c, m->charger_id, s->evse_id, s->connector_id);
    }
    c.tx_id = tx.id;
    if (s->has_meter_start) {
        c.has_meter = true;
        c.last_meter_wh = s->meter_start_wh;
        c.last_meter_ms = s->start_ms;
    }
    c.updated_ms = m->now_ms;
    if ((rc = store_connector_put(srv->store, &c))) return rc;

    json_t *data = tx_json(&tx);
    event_emit(srv, "transaction.started", m->charger_id, data);
    json_decref(data);
    if (tx.flags & STORE_TX_FUTURE_TIME) tx_flag_event(m, &tx, STORE_TX_FUTURE_TIME, "futureTime");
    CLOG_INFO(m->charger_id, "transaction started tx=%lld connector=%d auth=%s", (long long)tx.id,
              s->connector_id, auth->status);
    *tx_id = tx.id;
    /* A remote start (admin charging.start) may be waiting for exactly this session. */
    admin_on_tx_started(srv, m->charger_id, s->evse_id, s->id_tag, tx.id);
    return 0;
}

/* A Stop for a transaction we have no record of: stored as its own flagged row, keyed so that
 * the charger's retries of the same Stop find it again. */
static int tx_stop_unknown(const struct model_ctx *m, const struct model_tx_stop *s,
                           int64_t *resolved_id, bool *repeated)
{
    struct server *srv = m->srv;
    char key[40];
    /* A 2.0.1 id is the charger's own key; a 1.6 one is only unique together with its time. */
    if (s->ext_id)
        model__copy(key, sizeof key, s->ext_id);
    else
        snprintf(key, sizeof key, "stop:%lld@%lld", (long long)s->tx_id, (long long)s->stop_ms);
    struct store_tx tx;
    int rc = store_tx_get_ext(srv->store, m->charger_id, key, &tx);
    if (rc == 0) {
        tx.flags |= STORE_TX_REPEATED_STOP;
        tx.updated_ms = m->now_ms;
        *resolved_id = tx.id;
        *repeated = true;
        return store_tx_update(srv->store, &tx);
    }
    if (rc != OD_ENOTFOUND) return rc;
    memset(&tx, 0, sizeof tx);
    model__copy(tx.ext_id, sizeof tx.ext_id, key);
    model__copy(tx.charger_id, sizeof tx.charger_id, m->charger_id);
    model__copy(tx.id_tag, sizeof tx.id_tag, s->id_tag);
    model__copy(tx.stop_id_tag, sizeof tx.stop_id_tag, s->id_tag);
    tx.start_ms = s->stop_ms;
    tx.stop_ms = s->stop_ms;
    tx.active = false;
    tx.has_meter_stop = s->has_meter_stop;
    tx.meter_stop_wh = s->meter_stop_wh;
    model__copy(tx.stop_reason, sizeof tx.stop_reason, s->reason ? s->reason : "Local");
    tx.flags = STORE_TX_UNKNOWN_STOP;
    tx_check_time(m, &tx, s->stop_ms, s->stop_had_zone);
    char note[96];
    if (s->ext_id)
        snprintf(note, sizeof note, "TransactionEvent Ended for unknown transactionId %.40s",
                 s->ext_id);
    else
        snprintf(note, sizeof note, "StopTransaction for unknown transactionId %lld",
                 (long long)s->tx_id);
    tx_note(&tx, note);
    tx.created_ms = tx.updated_ms = m->now_ms;
    if ((rc = store_tx_insert(srv->store, &tx))) return rc;
    tx_flag_event(m, &tx, STORE_TX_UNKNOWN_STOP, "unknownStop");
    *resolved_id = tx.id;
    return 0;
}

int model_tx_stop(const struct model_ctx *m, const struct model_tx_stop *s, int64_t *resolved_id,
                  bool *repeated)
{
    *repeated = false;
    struct server *srv = m->srv;
    int rc = server_batch(srv);
    if (rc) return rc;
    struct store_tx tx;
    if (s->ext_id)
        rc = store_tx_get_ext(srv->store, m->charger_id, s->ext_id, &tx);
    else
        rc = s->tx_id > 0 ? store_tx_get(srv->store, s->tx_id, &tx) : OD_ENOTFOUND;
    if (rc == 0 && strcmp(tx.charger_id, m->charger_id) != 0) rc = OD_ENOTFOUND;
    if (rc == OD_ENOTFOUND) return tx_stop_unknown(m, s, resolved_id, repeated);
    if (rc) return rc;
    *resolved_id = tx.id;

    bool server_closed = (tx.flags & STORE_TX_CLOSED_BY_SERVER) != 0;
    if (!tx.active && !server_closed) {
        /* Stored once: a repeated Stop is acknowledged but changes nothing but the flag. */
        *repeated = true;
        if (!(tx.flags & STORE_TX_REPEATED_STOP)) {
            tx.flags |= STORE_TX_REPEATED_STOP;
            tx.updated_ms = m->now_ms;
            if ((rc = store_tx_update(srv->store, &tx))) return rc;
            tx_flag_event(m, &tx, STORE_TX_REPEATED_STOP, "repeatedStop");
        }
        return 0;
    }
    if (!tx.active && server_closed) {
        if (strstr(tx.note, "charger's Stop applied")) {
            *repeated = true;
            tx.flags |= STORE_TX_REPEATED_STOP;
            tx.updated_ms = m->now_ms;
            return store_tx_update(srv->store, &tx);
        }
        /* We closed it as abandoned; the charger's own Stop carries the real values. */
        tx_note(&tx, "charger's Stop applied after the server closed it");
    }
    tx.active = false;
    tx.stop_ms = s->stop_ms;
    model__copy(tx.stop_reason, sizeof tx.stop_reason, s->reason ? s->reason : "Local");
    model__copy(tx.stop_id_tag, sizeof tx.stop_id_tag, s->id_tag);
    tx.has_meter_stop = s->has_meter_stop;
    tx.meter_stop_wh = s->meter_stop_wh;
    if (!s->has_meter_stop && tx.has_energy) {
        /* A 2.0.1 Ended need not carry a reading (1.6's Stop always does): the last register
         * reading of the session is the best stop value there is, and the note says so. */
        tx.has_meter_stop = true;
        tx.meter_stop_wh = tx.last_energy_wh;
        tx_note(&tx, "meter stop is the last reading (the stop carried none)");
    }
    tx_check_time(m, &tx, s->stop_ms, s->stop_had_zone);
    uint32_t before = tx.flags;
    if (tx.has_meter_start && s->has_meter_stop && s->meter_stop_wh < tx.meter_start_wh)
        tx.flags |= STORE_TX_STOP_BELOW_START;
    if (s->has_meter_stop) {
        tx.has_energy = true;
        tx.last_energy_wh = s->meter_stop_wh;
    }
    tx.updated_ms = m->now_ms;
    if ((rc = store_tx_update(srv->store, &tx))) return rc;
    if ((rc = tx_unlink_connector(m, &tx))) return rc;
    if ((tx.flags & ~before) & STORE_TX_STOP_BELOW_START)
        tx_flag_event(m, &tx, STORE_TX_STOP_BELOW_START, "stopBelowStart");
    if ((tx.flags & ~before) & STORE_TX_FUTURE_TIME)
        tx_flag_event(m, &tx, STORE_TX_FUTURE_TIME, "futureTime");
    json_t *data = tx_json(&tx);
    event_emit(srv, "transaction.ended", m->charger_id, data);
    json_decref(data);
    CLOG_INFO(m->charger_id, "transaction ended tx=%lld reason=%s energy_wh=%.1f",
              (long long)tx.id, tx.stop_reason,
              tx.has_meter_stop && tx.has_meter_start ? tx.meter_stop_wh - tx.meter_start_wh : 0.0);
    return 0;
}

int model_tx_find_ext(const struct model_ctx *m, const char *ext_id, int64_t *tx_id)
{
    struct store_tx tx;
    int rc = store_tx_get_ext(m->srv->store, m->charger_id, ext_id, &tx);
    if (rc == 0) *tx_id = tx.id;
    return rc;
}

int model_tx_update(const struct model_ctx *m, int64_t tx_id, const char *id_tag, int evse_id,
                    int connector_id)
{
    int rc = server_batch(m->srv);
    if (rc) return rc;
    struct store_tx tx;
    if ((rc = store_tx_get(m->srv->store, tx_id, &tx))) return rc;
    bool changed = false;
    /* Keep who started it: a different token later only ends it (stop by another token). */
    if (id_tag && id_tag[0] && !tx.id_tag[0]) {
        model__copy(tx.id_tag, sizeof tx.id_tag, id_tag);
        changed = true;
    }
    bool placed = tx.active && tx.evse_id == 0 && evse_id > 0;
    if (placed) {
        tx.evse_id = evse_id;
        tx.connector_id = connector_id;
        changed = true;
    }
    if (!changed) return 0;
    tx.updated_ms = m->now_ms;
    if ((rc = store_tx_update(m->srv->store, &tx))) return rc;
    if (!placed) return 0;
    /* Now that it has a place, the connector points at it like at any other session. */
    struct store_connector c;
    rc = store_connector_get(m->srv->store, m->charger_id, evse_id, connector_id, &c);
    if (rc == OD_ENOTFOUND) {
        model__connector_init(&c, m->charger_id, evse_id, connector_id);
    } else if (rc) {
        return rc;
    }
    c.tx_id = tx.id;
    c.updated_ms = m->now_ms;
    return store_connector_put(m->srv->store, &c);
}

int model_tx_event(const struct model_ctx *m, const struct model_tx_event *ev, bool *duplicate)
{
    *duplicate = false;
    struct store *st = m->srv->store;
    int rc = server_batch(m->srv);
    if (rc) return rc;
    struct store_tx_event row = {
        .tx_id = ev->tx_id, .seq_no = ev->seq_no, .event_type = ev->event_type,
        .trigger_reason = ev->trigger_reason, .charging_state = ev->charging_state,
        .stopped_reason = ev->stopped_reason, .id_token_type = ev->id_token_type,
        .offline = ev->offline, .has_remote_start = ev->has_remote_start,
        .remote_start_id = ev->remote_start_id, .ts_ms = ev->timestamp_ms,
        .received_ms = m->now_ms,
    };
    struct store_tx tx;
    if ((rc = store_tx_get(st, ev->tx_id, &tx))) return rc;
    /* Every event of the transaction repeats the id; only the first one is news. */
    int64_t known_tx = 0;
    bool remote_seen = ev->has_remote_start &&
                       store_tx_find_remote_start(st, m->charger_id, ev->remote_start_id,
                                                  &known_tx) == 0 && known_tx == tx.id;
    char note[80];
    rc = store_tx_event_put(st, &row);
    if (rc == OD_EEXISTS) {
        *duplicate = true;
        snprintf(note, sizeof note, "duplicate seqNo %lld (%s)", (long long)ev->seq_no,
                 ev->event_type ? ev->event_type : "");
        if (!strstr(tx.note, note)) tx_note(&tx, note);
        tx.updated_ms = m->now_ms;
        if ((rc = store_tx_update(st, &tx))) return rc;
        tx_flag_event(m, &tx, 0, "seqNoDuplicate");
        return 0;
    }
    if (rc) return rc;
    if (ev->has_remote_start && !remote_seen) {
        /* Subscribers match their remote start request to the transaction here. */
        json_t *data = json_pack("{s:I, s:I, s:s}", "transactionId", (json_int_t)tx.id,
                                 "remoteStartId", (json_int_t)ev->remote_start_id,
                                 "chargerTransactionId", tx.ext_id);
        event_emit(m->srv, "transaction.remoteStarted", m->charger_id, data);
        json_decref(data);
    }
    int64_t count, lo, hi;
    if ((rc = store_tx_event_count(st, ev->tx_id, &count, &lo, &hi))) return rc;
    /* Unsigned span: seqNo is any JSON integer, and hi - lo must not overflow. */
    bool gap = (uint64_t)count - 1 < (uint64_t)hi - (uint64_t)lo;
    bool had_gap = (tx.flags & STORE_TX_SEQ_GAP) != 0;
    if (gap == had_gap) return 0;
    if (gap) {
        tx.flags |= STORE_TX_SEQ_GAP;
        snprintf(note, sizeof note, "seqNo gap: %lld of %lld..%lld received", (long long)count,
                 (long long)lo, (long long)hi);
    } else {
        /* Offline messages replayed later filled it: the sequence is complete after all. */
        tx.flags &= ~(uint32_t)STORE_TX_SEQ_GAP;
        snprintf(note, sizeof note, "seqNo gap filled by seqNo %lld", (long long)ev->seq_no);
    }
    tx_note(&tx, note);
    tx.updated_ms = m->now_ms;
    if ((rc = store_tx_update(st, &tx))) return rc;
    if (gap) tx_flag_event(m, &tx, STORE_TX_SEQ_GAP, "seqNoGap");
    return 0;
}

int model_tx_find_remote_start(const struct model_ctx *m, int64_t remote_start_id,
                               int64_t *tx_id)
{
    return store_tx_find_remote_start(m->srv->store, m->charger_id, remote_start_id, tx_id);
}

/* ---- meter values ------------------------------------------------------------------------ */

struct unit_rule {
    const char *unit;
    double factor;
    const char *norm;
};

/* Everything is stored in base units so that sums and comparisons need no unit logic. */
static const struct unit_rule unit_rules[] = {
    {"Wh", 1, "Wh"},       {"kWh", 1000, "Wh"},  {"varh", 1, "varh"}, {"kvarh", 1000, "varh"},
    {"W", 1, "W"},         {"kW", 1000, "W"},    {"VA", 1, "VA"},     {"kVA", 1000, "VA"},
    {"var", 1, "var"},     {"kvar", 1000, "var"}, {"A", 1, "A"},      {"V", 1, "V"},
    {"K", 1, "K"},         {"Celsius", 1, "Celsius"}, {"Celcius", 1, "Celsius"},
    {"Fahrenheit", 1, "Fahrenheit"}, {"Percent", 1, "Percent"}, {"Hz", 1, "Hz"},
};

static const char *default_unit(const char *measurand)
{
    if (strncmp(measurand, "Energy.Reactive", 15) == 0) return "varh";
    if (strncmp(measurand, "Energy", 6) == 0) return "Wh";
    if (strncmp(measurand, "Power.Reactive", 14) == 0) return "var";
    if (strcmp(measurand, "Power.Factor") == 0) return NULL;
    if (strncmp(measurand, "Power", 5) == 0) return "W";
    if (strncmp(measurand, "Current", 7) == 0) return "A";
    if (strcmp(measurand, "Voltage") == 0) return "V";
    if (strcmp(measurand, "SoC") == 0) return "Percent";
    if (strcmp(measurand, "Temperature") == 0) return "Celsius";
    if (strcmp(measurand, "Frequency") == 0) return "Hz";
    return NULL;
}

/* Parses a sampled value's text leniently: chargers pad with spaces (" 0.0"). */
static bool parse_number(const char *s, double *out)
{
    while (isspace((unsigned char)*s)) s++;
    if (!*s) return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (isspace((unsigned char)*end)) end++;
    if (errno || *end || !isfinite(v)) return false;
    *out = v;
    return true;
}

struct sample_norm {
    bool has_value;
    double value;
    const char *norm_unit;
};

static struct sample_norm normalise(const struct model_sample *smp, const char *measurand)
{
    struct sample_norm n = {0};
    double v;
    if (smp->format && strcmp(smp->format, "SignedData") == 0) return n;
    if (smp->raw_value) {
        if (!parse_number(smp->raw_value, &v)) return n;
    } else {
        v = smp->number;
    }
    if (smp->multiplier) v *= pow(10, smp->multiplier);
    const char *unit = smp->unit ? smp->unit : default_unit(measurand);
    n.has_value = true;
    n.value = v;
    n.norm_unit = unit;
    if (unit) {
        for (size_t i = 0; i < sizeof unit_rules / sizeof *unit_rules; i++) {
            if (strcmp(unit_rules[i].unit, unit) == 0) {
                n.value = v * unit_rules[i].factor;
                n.norm_unit = unit_rules[i].norm;
                break;
            }
        }
    }
    return n;
}

int model_meter_values(const struct model_ctx *m, int evse_id, int connector_id, int64_t tx_id,
                       const struct model_meter_value *mv, int nmv)
{
    struct server *srv = m->srv;
    int rc = server_batch(srv);
    if (rc) return rc;
    struct store_tx tx;
    bool have_tx = false;
    if (tx_id > 0 && store_tx_get(srv->store, tx_id, &tx) == 0 &&
        strcmp(tx.charger_id, m->charger_id) == 0)
        have_tx = true;
    else if (tx_id) {
        static struct log_ratelimit rl;
        if (log_ratelimit_allow(&rl, 10))
            CLOG_WARN(m->charger_id, "meter values name unknown transaction tx=%lld; stored "
                      "unlinked", (long long)tx_id);
    }
    if (evse_id < 0) { /* "wherever the transaction is" (1.6 transactionData) */
        evse_id = have_tx ? tx.evse_id : 0;
        connector_id = have_tx ? tx.connector_id : 0;
    }
    uint32_t flags_before = have_tx ? tx.flags : 0;
    bool tx_changed = false;
    double power_sum = 0;
    bool power_phases = false;

    for (int i = 0; i < nmv; i++) {
        power_sum = 0;
        power_phases = false;
        for (int j = 0; j < mv[i].nsamples; j++) {
            const struct model_sample *smp = &mv[i].samples[j];
            const char *measurand = smp->measurand ? smp->measurand
                                                   : "Energy.Active.Import.Register";
            struct sample_norm n = normalise(smp, measurand);
            char rawbuf[64];
            const char *raw = smp->raw_value;
            if (!raw) {
                snprintf(rawbuf, sizeof rawbuf, "%.17g", smp->number);
                raw = rawbuf;
            }
            struct store_meter_value row = {
                .tx_id = have_tx ? tx.id : 0,
                .charger_id = m->charger_id,
                .evse_id = evse_id,
                .connector_id = connector_id,
                .timestamp_ms = mv[i].timestamp_ms,
                .measurand = measurand,
                .phase = smp->phase,
                .unit = smp->unit,
                .context = smp->context,
                .location = smp->location,
                .format = smp->format,
                .raw_value = raw,
                .has_value = n.has_value,
                .value = n.value,
                .norm_unit = n.norm_unit,
            };
            if ((rc = store_meter_insert(srv->store, &row))) return rc;
            if (!have_tx || !n.has_value) continue;
            /* A reading older than the latest one arrived late (an offline queue replayed out
             * of order): stored above, but it is neither "latest" nor a meter running back. */
            if (tx.last_meter_ms && mv[i].timestamp_ms < tx.last_meter_ms) continue;
            if (smp->location && strcmp(smp->location, "Outlet") != 0 &&
                strcmp(smp->location, "EV") != 0)
                continue; /* inlet/cable/body readings do not describe the session */
            if (strcmp(measurand, "Energy.Active.Import.Register") == 0 && !smp->phase) {
                if (tx.has_energy && n.value + 0.001 < tx.last_energy_wh)
                    tx.flags |= STORE_TX_METER_BACKWARDS;
                tx.has_energy = true;
                tx.last_energy_wh = n.value;
                tx.last_meter_ms = mv[i].timestamp_ms;
                tx_changed = true;
            } else if (strcmp(measurand, "Power.Active.Import") == 0) {
                if (!smp->phase) {
                    tx.has_power = true;
                    tx.last_power_w = n.value;
                    tx_changed = true;
                } else if (strncmp(smp->phase, "L", 1) == 0 && !strchr(smp->phase + 1, 'L')) {
                    power_sum += n.value; /* per-phase powers add up to the total */
                    power_phases = true;
                }
            } else if (strcmp(measurand, "SoC") == 0) {
                tx.has_soc = true;
                tx.last_soc = n.value;
                tx_changed = true;
            }
        }
        if (have_tx && power_phases) {
            tx.has_power = true;
            tx.last_power_w = power_sum;
            tx_changed = true;
        }
        if (have_tx && mv[i].timestamp_ms > m->now_ms + TX_FUTURE_TOLERANCE_MS)
            tx.flags |= STORE_TX_FUTURE_TIME;
    }
    if (!have_tx || !tx_changed) return 0;
    tx.updated_ms = m->now_ms;
    if ((rc = store_tx_update(srv->store, &tx))) return rc;
    if ((tx.flags & ~flags_before) & STORE_TX_METER_BACKWARDS)
        tx_flag_event(m, &tx, STORE_TX_METER_BACKWARDS, "meterBackwards");
    if ((tx.flags & ~flags_before) & STORE_TX_FUTURE_TIME)
        tx_flag_event(m, &tx, STORE_TX_FUTURE_TIME, "futureTime");

    json_t *data = json_pack("{s:I, s:i, s:i}", "transactionId", (json_int_t)tx.id, "evseId",
                             tx.evse_id, "connectorId", tx.connector_id);
    if (tx.has_energy) {
        json_object_set_new(data, "energyRegisterWh", json_real(tx.last_energy_wh));
        if (tx.has_meter_start)
            json_object_set_new(data, "energyWh", json_real(tx.last_energy_wh - tx.meter_start_wh));
    }
    if (tx.has_power) json_object_set_new(data, "powerW", json_real(tx.last_power_w));
    if (tx.has_soc) json_object_set_new(data, "soc", json_real(tx.last_soc));
    event_emit(srv, "transaction.updated", m->charger_id, data);
    json_decref(data);
    return 0;
}

bool model_meter_energy_register(const struct model_meter_value *mv, int nmv,
                                 const char *context, double *wh)
{
    for (int i = 0; i < nmv; i++) {
        for (int j = 0; j < mv[i].nsamples; j++) {
            const struct model_sample *smp = &mv[i].samples[j];
            const char *measurand = smp->measurand ? smp->measurand
                                                   : "Energy.Active.Import.Register";
            if (strcmp(measurand, "Energy.Active.Import.Register") != 0 || smp->phase) continue;
            if (smp->location && strcmp(smp->location, "Outlet") != 0) continue;
            if (context && (!smp->context || strcmp(smp->context, context) != 0)) continue;
            struct sample_norm n = normalise(smp, measurand);
            if (!n.has_value || !n.norm_unit || strcmp(n.norm_unit, "Wh") != 0) continue;
            *wh = n.value;
            return true;
        }
    }
    return false;
}
