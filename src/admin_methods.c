/*
 * admin_methods.c — the admin JSON-RPC methods (rows of admin_methods.def). Every handler runs
 * after admin_rpc.c has checked the envelope and the params against the method's definition in
 * schemas/admin.json (types, required and unknown names, ranges, lengths, enums, formats), so
 * handlers only check what the schema cannot say: existence, cursors, whether a value fits a
 * store field in bytes.
 *
 * Writes go into the server's store batch (server_batch) and are committed before the answer
 * is queued: admin_commit() commits at once (so a failure is answered as one), and the answer
 * itself waits for the WAL fsync that covers it (admin_session_send), so an answer that says
 * "stored" is on disk, and a run of operator writes does not stall the loop with an fsync each.
 */
#include "admin_int.h"

#include "call.h"
#include "conn.h"
#include "events.h"
#include "log.h"
#include "mem.h"
#include "od.h"
#include "server.h"
#include "stations.h"
#include "store.h"
#include "store_devmodel.h"
#include "timeutil.h"
#include "webhooks.h"

#include <stdlib.h>
#include <string.h>

/* The defaults schemas/admin.json states for absent params. */
#define ADMIN_TX_LIMIT_DEFAULT 100
#define ADMIN_START_WAIT_DEFAULT_MS 15000

/* Where accepted configuration is remembered: the device model table (store_devmodel.h), under
 * a component of our own for 1.6 keys, so one listing serves both versions. */
#define ADMIN_CFG_COMPONENT "OCPP16Configuration"
#define ADMIN_LIST_COMPONENT "LocalAuthList"
#define ADMIN_LIST_VARIABLE "Version"

/* ---- helpers ------------------------------------------------------------------------------- */

/* Commits the open batch now; OD_EDB if that failed (nothing of it is stored then). */
static int admin_commit(struct server *srv)
{
    uint64_t failures = srv->stats.commit_failures;
    server_commit_async(srv);
    return srv->stats.commit_failures == failures ? 0 : OD_EDB;
}

/* New reference: s as a JSON string, or null when empty. */
static json_t *admin_str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

/* New reference: ms as an RFC 3339 string, or null when unset. */
static json_t *admin_time_or_null(int64_t ms)
{
    char buf[40];
    return ms ? json_string(od_time_format(ms, buf, sizeof buf)) : json_null();
}

static const char *admin_pstr(json_t *params, const char *name)
{
    return json_string_value(json_object_get(params, name)); /* NULL if absent */
}

/* The integer param name, or dflt when absent. The schema admits 5.0 as an integer (JSON Schema
 * does) and bounds every integer param, so a real is integral and in range here. */
static int64_t admin_pint(json_t *params, const char *name, int64_t dflt)
{
    json_t *v = json_object_get(params, name);
    if (json_is_integer(v)) return json_integer_value(v);
    return json_is_real(v) ? (int64_t)json_real_value(v) : dflt;
}

/* True if the string param name is absent or fits a store field of cap bytes with its NUL;
 * otherwise answers req with -32602 and returns false. The schema counts characters and the
 * store bytes, so a value of many multi-byte characters is refused here rather than cut. */
static bool admin_pfits(struct admin_req *req, json_t *params, const char *name, size_t cap)
{
    size_t n = json_string_length(json_object_get(params, name));
    if (n < cap) return true;
    admin_req_error(req, ADMIN_E_PARAMS, NULL,
                    "parameter '%s': %zu bytes of UTF-8, at most %zu fit", name, n, cap - 1);
    return false;
}

static int admin_connector_cb(const struct store_connector *c, void *ctx)
{
    if (c->evse_id == 0 && c->connector_id == 0) return 0; /* the charger itself */
    json_array_append_new(ctx, json_pack("{s:i, s:i, s:s, s:o, s:o, s:s}", "evseId", c->evse_id,
                                         "connectorId", c->connector_id, "status", c->status,
                                         "errorCode", admin_str_or_null(c->error_code),
                                         "transactionId",
                                         c->tx_id ? json_integer(c->tx_id) : json_null(),
                                         "availability",
                                         c->availability[0] ? c->availability : "Operative"));
    return 0;
}

/* New reference: the public view of a charger. */
static json_t *admin_charger_json(struct server *srv, const struct store_charger *ch)
{
    json_t *connectors = json_array();
    store_connector_foreach(srv->store, ch->id, admin_connector_cb, connectors);
    return json_pack("{s:s, s:o, s:b, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:b, s:o}", "id", ch->id,
                     "protocol", admin_str_or_null(ch->protocol), "connected",
                     conn_find(srv, ch->id) != NULL, "lastSeen",
                     admin_time_or_null(ch->last_seen_ms), "vendor",
                     admin_str_or_null(ch->vendor), "model", admin_str_or_null(ch->model),
                     "firmwareVersion", admin_str_or_null(ch->firmware), "stationId",
                     admin_str_or_null(ch->station_id), "registration",
                     admin_str_or_null(ch->registration), "provisioned", ch->provisioned,
                     "hasPassword", ch->password_hash[0] != '\0', "connectors", connectors);
}

/* ---- chargers ------------------------------------------------------------------------------ */

struct admin_list_ctx {
    struct server *srv;
    json_t *arr;
};

static int admin_charger_cb(const struct store_charger *c, void *ctx)
{
    struct admin_list_ctx *l = ctx;
    json_array_append_new(l->arr, admin_charger_json(l->srv, c));
    return 0;
}

static void admin_m_chargers_list(struct admin_req *req, json_t *params)
{
    (void)params;
    struct admin_list_ctx l = {admin_req_server(req), json_array()};
    if (store_charger_foreach(l.srv->store, admin_charger_cb, &l) != 0) {
        json_decref(l.arr);
        admin_req_error(req, ADMIN_E_INTERNAL, NULL, "could not read the store");
        return;
    }
    admin_req_result(req, json_pack("{s:o}", "chargers", l.arr));
}

static int admin_cfg_cb(const struct store_dm_var *v, void *ctx)
{
    json_object_set_new(ctx, v->variable, v->has_value ? json_string(v->value) : json_null());
    return 0;
}

static int admin_listver_cb(const struct store_dm_var *v, void *ctx)
{
    if (v->has_value) *(json_int_t *)ctx = strtoll(v->value, NULL, 10);
    return 1;
}

/* ---- device model (2.0.1; 1.6 configuration lives there under ADMIN_CFG_COMPONENT) --------- */

/* New reference: the attribute part of a stored row. */
static json_t *admin_dm_attr_json(const struct store_dm_var *v)
{
    json_t *a = json_pack("{s:s, s:o, s:o, s:b, s:b, s:o}", "type", v->attr_type, "value",
                          v->has_value ? json_string(v->value) : json_null(), "mutability",
                          admin_str_or_null(v->mutability), "persistent", v->persistent,
                          "constant", v->constant, "updatedAt",
                          admin_time_or_null(v->updated_ms));
    json_t *ch = json_object();
    if (v->data_type[0]) json_object_set_new(ch, "dataType", json_string(v->data_type));
    if (v->unit[0]) json_object_set_new(ch, "unit", json_string(v->unit));
    if (v->has_min) json_object_set_new(ch, "minLimit", json_real(v->min_limit));
    if (v->has_max) json_object_set_new(ch, "maxLimit", json_real(v->max_limit));
    if (v->values_list[0]) json_object_set_new(ch, "valuesList", json_string(v->values_list));
    if (json_object_size(ch)) {
        json_object_set_new(ch, "supportsMonitoring", json_boolean(v->supports_monitoring));
        json_object_set_new(a, "characteristics", ch);
    } else {
        json_decref(ch);
    }
    return a;
}

/* True if a and b name the same variable (everything of the key but the attribute type). */
static bool admin_dm_same_var(const struct store_dm_var *a, const struct store_dm_var *b)
{
    return strcmp(a->component, b->component) == 0 &&
           strcmp(a->component_instance, b->component_instance) == 0 &&
           a->evse_id == b->evse_id && a->connector_id == b->connector_id &&
           strcmp(a->variable, b->variable) == 0 &&
           strcmp(a->variable_instance, b->variable_instance) == 0;
}

struct admin_dm_list_ctx {
    json_t *arr;
    json_t *cur_attrs;         /* attributes of the last variable appended (borrowed) */
    struct store_dm_var *last; /* its key */
};

/* Rows come ordered by key, so a variable's attributes are consecutive: one entry each. */
static int admin_dm_list_cb(const struct store_dm_var *v, void *ctx)
{
    struct admin_dm_list_ctx *l = ctx;
    if (!l->cur_attrs || !admin_dm_same_var(l->last, v)) {
        json_t *comp = json_pack("{s:s}", "name", v->component);
        if (v->component_instance[0])
            json_object_set_new(comp, "instance", json_string(v->component_instance));
        if (v->evse_id) {
            json_t *evse = json_pack("{s:i}", "id", v->evse_id);
            if (v->connector_id)
                json_object_set_new(evse, "connectorId", json_integer(v->connector_id));
            json_object_set_new(comp, "evse", evse);
        }
        json_t *var = json_pack("{s:s}", "name", v->variable);
        if (v->variable_instance[0])
            json_object_set_new(var, "instance", json_string(v->variable_instance));
        l->cur_attrs = json_array();
        json_array_append_new(l->arr, json_pack("{s:o, s:o, s:o}", "component", comp,
                                                "variable", var, "attributes", l->cur_attrs));
        *l->last = *v;
    }
    json_array_append_new(l->cur_attrs, admin_dm_attr_json(v));
    return 0;
}

struct admin_dm_sum_ctx {
    int64_t attributes, variables, components;
    int64_t last_ms;
    struct store_dm_var *last;
    bool any;
};

static int admin_dm_sum_cb(const struct store_dm_var *v, void *ctx)
{
    struct admin_dm_sum_ctx *s = ctx;
    s->attributes++;
    if (!s->any || strcmp(s->last->component, v->component) != 0 ||
        strcmp(s->last->component_instance, v->component_instance) != 0 ||
        s->last->evse_id != v->evse_id || s->last->connector_id != v->connector_id) {
        s->components++;
        s->variables++;
    } else if (!admin_dm_same_var(s->last, v)) {
        s->variables++;
    }
    if (v->updated_ms > s->last_ms) s->last_ms = v->updated_ms;
    *s->last = *v;
    s->any = true;
    return 0;
}

/* New reference: counts of the charger's stored device model (components by name, instance and
 * EVSE; variables; attributes) and its latest change, or NULL if unreadable. */
static json_t *admin_dm_summary(struct server *srv, const char *charger_id)
{
    struct admin_dm_sum_ctx s = {0};
    s.last = xcalloc(1, sizeof *s.last);
    int rc = store_dm_var_foreach(srv->store, charger_id, NULL, NULL, admin_dm_sum_cb, &s);
    free(s.last);
    if (rc) return NULL;
    return json_pack("{s:I, s:I, s:I, s:o}", "components", (json_int_t)s.components,
                     "variables", (json_int_t)s.variables, "attributes",
                     (json_int_t)s.attributes, "lastUpdatedAt", admin_time_or_null(s.last_ms));
}

static void admin_m_devicemodel_get(struct admin_req *req, json_t *params)
{
    struct server *srv = admin_req_server(req);
    const char *id = admin_pstr(params, "chargerId");
    struct store_charger ch;
    int rc = store_charger_get(srv->store, id, &ch);
    if (rc == OD_ENOTFOUND) {
        admin_req_error(req, ADMIN_E_NOT_FOUND, NULL, "no charger %s", id);
        return;
    }
    struct admin_dm_list_ctx l = {json_array(), NULL, xcalloc(1, sizeof *l.last)};
    if (rc == 0)
        rc = store_dm_var_foreach(srv->store, id, admin_pstr(params, "component"),
                                  admin_pstr(params, "variable"), admin_dm_list_cb, &l);
    free(l.last);
    if (rc) {
        json_decref(l.arr);
        admin_req_error(req, ADMIN_E_INTERNAL, NULL, "could not read the store");
        return;
    }
    admin_req_result(req, json_pack("{s:s, s:o, s:o}", "chargerId", id, "protocol",
                                    admin_str_or_null(ch.protocol), "variables", l.arr));
}

static void admin_m_chargers_get(struct admin_req *req, json_t *params)
{
    struct server *srv = admin_req_server(req);
    const char *id = admin_pstr(params, "chargerId");
    struct store_charger ch;
    int rc = store_charger_get(srv->store, id, &ch);
    if (rc == OD_ENOTFOUND) {
        admin_req_error(req, ADMIN_E_NOT_FOUND, NULL, "no charger %s", id);
        return;
    }
    if (rc) {
        admin_req_error(req, ADMIN_E_INTERNAL, NULL, "could not read the store");
        return;
    }
    /* What accepted calls taught us (GetConfiguration, ChangeConfiguration, SendLocalList). */
    json_t *out = admin_charger_json(srv, &ch);
    json_t *cfg = json_object();
    store_dm_var_foreach(srv->store, id, ADMIN_CFG_COMPONENT, NULL, admin_cfg_cb, cfg);
    json_object_set_new(out, "configuration", cfg);
    json_int_t ver = -1;
    store_dm_var_foreach(srv->store, id, ADMIN_LIST_COMPONENT, ADMIN_LIST_VARIABLE,
                         admin_listver_cb, &ver);
    json_object_set_new(out, "localListVersion", ver >= 0 ? json_integer(ver) : json_null());
    if (strcmp(ch.protocol, "ocpp2.0.1") == 0) {
        json_t *sum = admin_dm_summary(srv, id);
        json_object_set_new(out, "deviceModel", sum ? sum : json_null());
    }
    admin_req_result(req, out);
}

static void admin_m_chargers_register(struct admin_req *req, json_t *params)
{
    struct server *srv = admin_req_server(req);
    const char *id = admin_pstr(params, "chargerId");
    for (const char *p = id; *p; p++)
        if (*p < 0x20 || *p > 0x7e) {
            admin_req_error(req, ADMIN_E_PARAMS, NULL,
                            "parameter 'chargerId' must be printable ASCII");
            return;
        }
    struct store_charger ch;
    int rc = store_charger_get(srv->store, id, &ch);
    if (rc == OD_ENOTFOUND) {
        memset(&ch, 0, sizeof ch);
        snprintf(ch.id, sizeof ch.id, "%s", id);
        ch.created_ms = od_now_ms();
    } else if (rc) {
        admin_req_error(req, ADMIN_E_INTERNAL, NULL, "could not read the store");
        return;
    }
    ch.provisioned = true;
    if (!admin_pfits(req, params, "stationId", sizeof ch.station_id)) return;
    const char *station = admin_pstr(params, "stationId");
    if (station) snprintf(ch.station_id, sizeof ch.station_id, "%s", station);
    const char *password = admin_pstr(params, "password");
    if (password && admin_password_hash(password, ch.password_hash, sizeof ch.password_hash)) {
        admin_req_error(req, ADMIN_E_INTERNAL, NULL, "could not hash the password");
        return;
    }
    if ((rc = server_batch(srv)) == 0) rc = store_charger_put(srv->store, &ch);
    if (rc == 0) rc = admin_commit(srv);
    if (rc) {
        admin_req_error(req, ADMIN_E_INTERNAL, NULL, "could not store the charger");
        return;
    }
    struct conn *c = conn_find(srv, id);
    if (c) c->provisioned = true;
    CLOG_INFO(id, "charger registered by an operator password=%s station=%s",
              password ? "set" : "unchanged", ch.station_id);
    admin_req_result(req, admin_charger_json(srv, &ch));
}

/* Deletes the row keyed by key with del, committed before the answer. Returns true when it was
 * deleted (the answer is sent either way). */
static bool admin_delete_row(struct admin_req *req, int (*del)(struct store *, const char *),
                             const char *key, const char *what)
{
    struct server *srv = admin_req_server(req);
    int rc = server_batch(srv);
    if (rc == 0) rc = del(srv->store, key);
    if (rc == OD_ENOTFOUND) {
        admin_req_error(req, ADMIN_E_NOT_FOUND, NULL, "no %s %s", what, key);
        return false;
    }
    if (rc == 0) rc = admin_commit(srv);
    if (rc) {
        admin_req_error(req, ADMIN_E_INTERNAL, NULL, "could not delete the %s", what);
        return false;
    }
    admin_req_result(req, json_pack("{s:b}", "deleted", true));
    return true;
}

static void admin_m_chargers_delete(struct admin_req *req, json_t *params)
{
    struct server *srv = admin_req_server(req); /* req is gone once answered */
    const char *id = admin_pstr(params, "chargerId");
    if (!admin_delete_row(req, store_charger_delete, id, "charger")) return;
    CLOG_INFO(id, "charger deleted by an operator");
    /* Its session would otherwise go on under a registration that no longer exists; whether it
     * may come back is the auto-registration setting's call. */
    struct conn *c = conn_find(srv, id);
    if (c) conn_close(c, 1000, "charger deleted by an operator");
}

/* ---- tokens -------------------------------------------------------------------------------- */

static json_t *admin_token_json(const struct store_token *t)
{
    return json_pack("{s:s, s:s, s:o, s:o}", "idTag", t->id_tag, "status", t->status,
                     "expiryDate", admin_time_or_null(t->expiry_ms), "parentIdTag",
                     admin_str_or_null(t->parent_id_tag));
}

static int admin_token_cb(const struct store_token *t, void *ctx)
{
    json_array_append_new(ctx, admin_token_json(t));
    return 0;
}

static void admin_m_tokens_list(struct admin_req *req, json_t *params)
{
    (void)params;
    json_t *arr = json_array();
    if (store_token_foreach(admin_req_server(req)->store, admin_token_cb, arr) != 0) {
        json_decref(arr);
        admin_req_error(req, ADMIN_E_INTERNAL, NULL, "could not read the store");
        return;
    }
    admin_req_result(req, json_pack("{s:o}", "tokens", arr));
}

static void admin_m_tokens_upsert(struct admin_req *req, json_t *params)
{
    struct server *srv = admin_req_server(req);
    struct store_token t;
    memset(&t, 0, sizeof t);
    if (!admin_pfits(req, params, "idTag", sizeof t.id_tag) ||
        !admin_pfits(req, params, "parentIdTag", sizeof t.parent_id_tag))
        return;
    snprintf(t.id_tag, sizeof t.id_tag, "%s", admin_pstr(params, "idTag"));
    snprintf(t.status, sizeof t.status, "%s", admin_pstr(params, "status"));
    const char *expiry = admin_pstr(params, "expiryDate");
    /* the schema's "date-time" is checked with this same parser */
    if (expiry && od_time_parse(expiry, &t.expiry_ms, NULL) != 0) {
        admin_req_error(req, ADMIN_E_PARAMS, NULL, "parameter 'expiryDate': not a date-time");
        return;
    }
    const char *parent = admin_pstr(params, "parentIdTag");
    if (parent) snprintf(t.parent_id_tag, sizeof t.parent_id_tag, "%s", parent);
    t.updated_ms = od_now_ms();
    int rc = server_batch(srv);
    if (rc == 0) rc = store_token_put(srv->store, &t);
    if (rc == 0) rc = admin_commit(srv);
    if (rc) {
        admin_req_error(req, ADMIN_E_INTERNAL, NULL, "could not store the token");
        return;
    }
    admin_req_result(req, admin_token_json(&t));
}

static void admin_m_tokens_delete(struct admin_req *req, json_t *params)
{
    admin_delete_row(req, store_token_delete, admin_pstr(params, "idTag"), "token");
}

/* ---- transactions -------------------------------------------------------------------------- */

static json_t *admin_num_or_null(bool has, double v)
{
    return has ? json_real(v) : json_null();
}

static json_t *admin_tx_json(const struct store_tx *tx)
{
    bool has_energy = false;
    double energy = 0;
    if (tx->has_meter_start && !tx->active && tx->has_meter_stop) {
        has_energy = true;
        energy = tx->meter_stop_wh - tx->meter_start_wh;
    } else if (tx->has_meter_start && tx->has_energy) {
        has_energy = true;
        energy = tx->last_energy_wh - tx->meter_start_wh;
    }
    return json_pack("{s:I, s:s, s:i, s:i, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:b}", "id",
                     (json_int_t)tx->id, "chargerId", tx->charger_id, "evseId", tx->evse_id,
                     "connectorId", tx->connector_id, "idTag", tx->id_tag, "startTime",
                     admin_time_or_null(tx->start_ms), "stopTime",
                     admin_time_or_null(tx->stop_ms), "meterStartWh",
                     admin_num_or_null(tx->has_meter_start, tx->meter_start_wh), "meterStopWh",
                     admin_num_or_null(tx->has_meter_stop, tx->meter_stop_wh), "energyWh",
                     admin_num_or_null(has_energy, energy), "stopReason",
                     admin_str_or_null(tx->stop_reason), "active", tx->active);
}

struct admin_txlist_ctx {
    json_t *arr;
    int limit;
    int n;
    int64_t last_id;
    bool more;
};

static int admin_txlist_cb(const struct store_tx *tx, void *ctx)
{
    struct admin_txlist_ctx *l = ctx;
    if (l->n == l->limit) {
        l->more = true; /* the one extra row only says whether a next page exists */
        return 1;
    }
    json_array_append_new(l->arr, admin_tx_json(tx));
    l->n++;
    l->last_id = tx->id;
    return 0;
}

static void admin_m_transactions_list(struct admin_req *req, json_t *params)
{
    struct server *srv = admin_req_server(req);
    struct store_tx_query q = {.charger_id = admin_pstr(params, "chargerId"), .active = -1};
    json_t *active = json_object_get(params, "active");
    if (active) q.active = json_is_true(active) ? 1 : 0;
    const char *since = admin_pstr(params, "since");
    /* the schema's "date-time" is checked with this same parser */
    if (since && od_time_parse(since, &q.since_ms, NULL) != 0) {
        admin_req_error(req, ADMIN_E_PARAMS, NULL, "parameter 'since': not a date-time");
        return;
    }
    const char *cursor = admin_pstr(params, "cursor");
    if (cursor) {
        char *end;
        long long v = strtoll(cursor, &end, 10);
        if (*end || v <= 0) {
            admin_req_error(req, ADMIN_E_PARAMS, NULL,
                            "parameter 'cursor' is not a cursor this server returned");
            return;
        }
        q.before_id = v;
    }
    struct admin_txlist_ctx l = {json_array(),
                                 (int)admin_pint(params, "limit", ADMIN_TX_LIMIT_DEFAULT), 0, 0,
                                 false};
    q.limit = l.limit + 1;
    int rc = store_tx_query(srv->store, &q, admin_txlist_cb, &l);
    if (rc < 0) {
        json_decref(l.arr);
        admin_req_error(req, ADMIN_E_INTERNAL, NULL, "could not read the store");
        return;
    }
    char next[24];
    snprintf(next, sizeof next, "%lld", (long long)l.last_id);
    admin_req_result(req, json_pack("{s:o, s:o}", "transactions", l.arr, "nextCursor",
                                    l.more ? json_string(next) : json_null()));
}

struct admin_series_ctx {
    json_t *energy, *power, *soc;
};

static int admin_meter_cb(const struct store_meter_value *mv, void *ctx)
{
    struct admin_series_ctx *s = ctx;
    /* Per-phase readings would be counted several times in a total series. */
    if (!mv->has_value || (mv->phase && *mv->phase)) return 0;
    json_t *dst = NULL;
    if (strcmp(mv->measurand, "Energy.Active.Import.Register") == 0) dst = s->energy;
    else if (strcmp(mv->measurand, "Power.Active.Import") == 0) dst = s->power;
    else if (strcmp(mv->measurand, "SoC") == 0) dst = s->soc;
    if (dst)
        json_array_append_new(dst, json_pack("{s:o, s:f}", "time",
                                             admin_time_or_null(mv->timestamp_ms), "value",
                                             mv->value));
    return 0;
}

/* New reference: series thinned to at most ADMIN_SERIES_MAX points, evenly spaced and always
 * keeping the last. A day at 1 Hz would otherwise exceed the session's outbound cap. */
#define ADMIN_SERIES_MAX 2000
static json_t *admin_series_thin(json_t *series, bool *thinned)
{
    size_t n = json_array_size(series);
    if (n <= ADMIN_SERIES_MAX) return series;
    *thinned = true;
    json_t *out = json_array();
    for (size_t i = 0; i < ADMIN_SERIES_MAX; i++)
        json_array_append(out, json_array_get(series, i * (n - 1) / (ADMIN_SERIES_MAX - 1)));
    json_decref(series);
    return out;
}

static void admin_m_transactions_get(struct admin_req *req, json_t *params)
{
    struct server *srv = admin_req_server(req);
    int64_t id = admin_pint(params, "id", 0);
    struct store_tx tx;
    int rc = store_tx_get(srv->store, id, &tx);
    if (rc == OD_ENOTFOUND) {
        admin_req_error(req, ADMIN_E_NOT_FOUND, NULL, "no transaction %lld", (long long)id);
        return;
    }
    if (rc) {
        admin_req_error(req, ADMIN_E_INTERNAL, NULL, "could not read the store");
        return;
    }
    struct admin_series_ctx s = {json_array(), json_array(), json_array()};
    store_meter_foreach_tx(srv->store, id, admin_meter_cb, &s);
    json_t *out = admin_tx_json(&tx);
    json_object_set_new(out, "lastPowerW", admin_num_or_null(tx.has_power, tx.last_power_w));
    json_object_set_new(out, "lastSoc", admin_num_or_null(tx.has_soc, tx.last_soc));
    bool thinned = false;
    s.energy = admin_series_thin(s.energy, &thinned);
    s.power = admin_series_thin(s.power, &thinned);
    s.soc = admin_series_thin(s.soc, &thinned);
    json_object_set_new(out, "meterValues",
                        json_pack("{s:o, s:o, s:o, s:b}", "energyWh", s.energy, "powerW", s.power,
                                  "socPercent", s.soc, "thinned", thinned));
    admin_req_result(req, out);
}

/* ---- ocpp.call ----------------------------------------------------------------------------- */

/* The request's context while the charger has it. */
struct admin_call_ctx {
    struct admin_req *req;
    struct server *srv;
    char charger_id[49];
    char action[48];
    json_t *payload; /* owned: what was sent, for effects applied on acceptance */
};

struct admin_avail_ctx {
    struct server *srv;
    int connector_id; /* 0 = every connector of the charger, and the charger itself */
    const char *type;
};

static int admin_avail_cb(const struct store_connector *c, void *ctx)
{
    struct admin_avail_ctx *a = ctx;
    if (a->connector_id && c->evse_id != a->connector_id) return 0; /* 1.6: evse == connector */
    struct store_connector copy = *c;
    snprintf(copy.availability, sizeof copy.availability, "%s", a->type);
    copy.updated_ms = od_now_ms();
    /* Writing from the callback is allowed (store.h): each row is delivered at most once. */
    store_connector_put(a->srv->store, &copy);
    return 0;
}

/* Remembers the availability a charger accepted (1.6 connector 0 means all of them). A
 * connector never reported has no row to hold it yet; its first status will tell. */
static void admin_effect_availability(struct server *srv, const char *charger_id,
                                      int connector_id, const char *type)
{
    if (!type || server_batch(srv) != 0) return;
    struct admin_avail_ctx a = {srv, connector_id, type};
    store_connector_foreach(srv->store, charger_id, admin_avail_cb, &a);
}

static void admin_remember_var(struct server *srv, const char *charger_id, const char *component,
                               const char *variable, const char *value, const char *mutability)
{
    if (!variable || server_batch(srv) != 0) return;
    struct store_dm_var *v = xcalloc(1, sizeof *v);
    snprintf(v->charger_id, sizeof v->charger_id, "%s", charger_id);
    snprintf(v->component, sizeof v->component, "%s", component);
    snprintf(v->variable, sizeof v->variable, "%s", variable);
    snprintf(v->attr_type, sizeof v->attr_type, "Actual");
    v->has_value = value != NULL;
    snprintf(v->value, sizeof v->value, "%s", value ? value : "");
    snprintf(v->mutability, sizeof v->mutability, "%s", mutability ? mutability : "");
    v->updated_ms = od_now_ms();
    if (store_dm_var_put(srv->store, v) != 0)
        CLOG_WARN(charger_id, "could not remember %s.%s", component, variable);
    free(v);
}

/* ---- 2.0.1 SetVariables / GetVariables into the device model ---- */

struct admin_dm_find_ctx {
    const struct store_dm_var *key;
    struct store_dm_var *found;
    bool hit;
};

static int admin_dm_find_cb(const struct store_dm_var *v, void *ctx)
{
    struct admin_dm_find_ctx *f = ctx;
    if (!admin_dm_same_var(f->key, v) || strcmp(f->key->attr_type, v->attr_type) != 0) return 0;
    *f->found = *v;
    f->hit = true;
    return 1;
}

/* Fills v's key from a 2.0.1 ComponentType, VariableType and attributeType (default Actual). */
static void admin_dm_key(struct store_dm_var *v, const json_t *comp, const json_t *var,
                         const char *type)
{
    const json_t *evse = json_object_get(comp, "evse");
    const char *ci = json_string_value(json_object_get(comp, "instance"));
    const char *vi = json_string_value(json_object_get(var, "instance"));
    snprintf(v->component, sizeof v->component, "%s",
             json_string_value(json_object_get(comp, "name")));
    snprintf(v->component_instance, sizeof v->component_instance, "%s", ci ? ci : "");
    v->evse_id = (int)json_integer_value(json_object_get(evse, "id"));
    v->connector_id = (int)json_integer_value(json_object_get(evse, "connectorId"));
    snprintf(v->variable, sizeof v->variable, "%s",
             json_string_value(json_object_get(var, "name")));
    snprintf(v->variable_instance, sizeof v->variable_instance, "%s", vi ? vi : "");
    snprintf(v->attr_type, sizeof v->attr_type, "%s", type ? type : "Actual");
}

/* Stores value as the attribute comp/var/type of the charger, keeping what a report said about
 * it (mutability, characteristics). value NULL: the charger has no value for it. */
static int admin_dm_store_value(struct server *srv, const char *charger_id, const json_t *comp,
                                const json_t *var, const char *type, const char *value)
{
    if (!json_is_string(json_object_get(comp, "name")) ||
        !json_is_string(json_object_get(var, "name")))
        return OD_EINVAL;
    int rc = server_batch(srv);
    if (rc) return rc;
    struct store_dm_var *key = xcalloc(1, sizeof *key);
    struct store_dm_var *v = xcalloc(1, sizeof *v);
    admin_dm_key(key, comp, var, type);
    struct admin_dm_find_ctx f = {key, v, false};
    rc = store_dm_var_foreach(srv->store, charger_id, key->component, key->variable,
                              admin_dm_find_cb, &f);
    if (rc == 0 || f.hit) {
        if (!f.hit) *v = *key;
        snprintf(v->charger_id, sizeof v->charger_id, "%s", charger_id);
        v->has_value = value != NULL;
        snprintf(v->value, sizeof v->value, "%s", value ? value : "");
        v->updated_ms = od_now_ms();
        rc = store_dm_var_put(srv->store, v);
    }
    if (rc) CLOG_WARN(charger_id, "could not remember %s.%s", key->component, key->variable);
    free(key);
    free(v);
    return rc;
}

/* True if a and b (ComponentType or VariableType objects) are the same. */
static bool admin_json_same(const json_t *a, const json_t *b)
{
    return json_equal((json_t *)a, (json_t *)b) != 0;
}

/* The attributeValue the SetVariables request asked for comp/var/type, or NULL. */
static const char *admin_set_value_for(const json_t *request, const json_t *comp,
                                       const json_t *var, const char *type)
{
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(request, "setVariableData"), i, d) {
        const char *t = json_string_value(json_object_get(d, "attributeType"));
        if (strcmp(t ? t : "Actual", type ? type : "Actual") == 0 &&
            admin_json_same(json_object_get(d, "component"), comp) &&
            admin_json_same(json_object_get(d, "variable"), var))
            return json_string_value(json_object_get(d, "attributeValue"));
    }
    return NULL;
}

/* 2.0.1: accepted SetVariables values and GetVariables answers go into the device model. */
static void admin_effect_variables(struct admin_call_ctx *cc, const json_t *result, bool set)
{
    size_t i;
    json_t *r;
    int stored = 0;
    json_array_foreach(json_object_get(result, set ? "setVariableResult" : "getVariableResult"),
                       i, r) {
        const char *st = json_string_value(json_object_get(r, "attributeStatus"));
        if (!st || strcmp(st, "Accepted") != 0) continue;
        const json_t *comp = json_object_get(r, "component");
        const json_t *var = json_object_get(r, "variable");
        const char *type = json_string_value(json_object_get(r, "attributeType"));
        const char *value;
        if (set) {
            value = admin_set_value_for(cc->payload, comp, var, type);
            if (!value) continue; /* a result for something we did not ask to set */
        } else {
            value = json_string_value(json_object_get(r, "attributeValue"));
        }
        if (admin_dm_store_value(cc->srv, cc->charger_id, comp, var, type, value) == 0) stored++;
    }
    if (stored)
        CLOG_INFO(cc->charger_id, "%s: %d device model attribute(s) stored",
                  set ? "SetVariables" : "GetVariables", stored);
}

/* Effects the server must remember once the charger accepted a call. */
static void admin_apply_effects(struct admin_call_ctx *cc, const json_t *result)
{
    const char *status = json_string_value(json_object_get(result, "status"));
    bool accepted = status && strcmp(status, "Accepted") == 0;
    if (strcmp(cc->action, "GetConfiguration") == 0) {
        size_t i;
        json_t *k;
        json_array_foreach(json_object_get(result, "configurationKey"), i, k) {
            admin_remember_var(cc->srv, cc->charger_id, ADMIN_CFG_COMPONENT,
                               json_string_value(json_object_get(k, "key")),
                               json_string_value(json_object_get(k, "value")),
                               json_is_true(json_object_get(k, "readonly")) ? "ReadOnly"
                                                                            : "ReadWrite");
        }
        return;
    }
    if (strcmp(cc->action, "ChangeConfiguration") == 0 && status &&
        (accepted || strcmp(status, "RebootRequired") == 0)) {
        admin_remember_var(cc->srv, cc->charger_id, ADMIN_CFG_COMPONENT,
                           json_string_value(json_object_get(cc->payload, "key")),
                           json_string_value(json_object_get(cc->payload, "value")),
                           "ReadWrite");
        return;
    }
    if (strcmp(cc->action, "SendLocalList") == 0 && accepted) {
        json_t *ver = json_object_get(cc->payload, "listVersion"); /* 1.6 */
        if (!ver) ver = json_object_get(cc->payload, "versionNumber"); /* 2.0.1 */
        char text[24];
        snprintf(text, sizeof text, "%lld", (long long)json_integer_value(ver));
        admin_remember_var(cc->srv, cc->charger_id, ADMIN_LIST_COMPONENT, ADMIN_LIST_VARIABLE,
                           text, "ReadOnly");
        return;
    }
    if (strcmp(cc->action, "SetVariables") == 0 || strcmp(cc->action, "GetVariables") == 0) {
        admin_effect_variables(cc, result, cc->action[0] == 'S');
        return;
    }
    if (strcmp(cc->action, "ChangeAvailability") == 0 && accepted) {
        /* 1.6: {connectorId, type}; 2.0.1: {operationalStatus, evse?: {id}} (no EVSE = all). */
        const char *type = json_string_value(json_object_get(cc->payload, "type"));
        json_t *where = json_object_get(cc->payload, "connectorId");
        if (!type) {
            type = json_string_value(json_object_get(cc->payload, "operationalStatus"));
            where = json_object_get(json_object_get(cc->payload, "evse"), "id");
        }
        admin_effect_availability(cc->srv, cc->charger_id, (int)json_integer_value(where), type);
        CLOG_INFO(cc->charger_id, "availability changed by an operator to=%s", type ? type : "?");
    }
}

/* Completes req from a call outcome other than a result. */
static void admin_call_failed(struct admin_req *req, const char *charger_id, const char *action,
                              const struct call_outcome *out)
{
    switch (out->status) {
    case CALL_ERROR: {
        /* Every CSMS-initiated call goes through here, so this is where a charger's CALLERROR
         * becomes an event (stored with the batch, published after its commit). */
        json_t *ev = json_pack("{s:s, s:s, s:s, s:s}", "direction", "fromCharger", "action",
                               action, "errorCode", out->error_code ? out->error_code : "",
                               "errorDescription",
                               out->error_description ? out->error_description : "");
        event_emit(admin_req_server(req), "ocpp.callerror", charger_id, ev);
        json_decref(ev);
        admin_req_error(req, ADMIN_E_CALLERROR,
                        json_pack("{s:s, s:s, s:o}", "ocppErrorCode",
                                  out->error_code ? out->error_code : "",
                                  "errorDescription",
                                  out->error_description ? out->error_description : "",
                                  "errorDetails",
                                  out->payload ? json_incref((json_t *)out->payload)
                                               : json_object()),
                        "the charger answered with a CALLERROR");
        return;
    }
    case CALL_TIMEOUT:
        admin_req_error(req, ADMIN_E_TIMEOUT, NULL, "charger %s did not answer in time",
                        charger_id);
        return;
    case CALL_DISCONNECTED:
    default:
        admin_req_error(req, ADMIN_E_NOT_CONNECTED, NULL, "charger %s disconnected", charger_id);
        return;
    }
}

static void admin_ocpp_call_done_cb(void *ctx, const struct call_outcome *out)
{
    struct admin_call_ctx *cc = ctx;
    if (out->status == CALL_RESULT) {
        admin_apply_effects(cc, out->payload);
        admin_req_result(cc->req, json_pack("{s:O}", "result", out->payload));
    } else {
        admin_call_failed(cc->req, cc->charger_id, cc->action, out);
    }
    json_decref(cc->payload);
    free(cc);
}

/* Sends action to chargerId for req. Returns 0 when sent (cb will run), else req is answered. */
static int admin_send_call(struct admin_req *req, const char *charger_id, const char *action,
                           json_t *payload, int timeout_ms, call_done_cb cb, void *ctx)
{
    struct server *srv = admin_req_server(req);
    struct conn *c = conn_find(srv, charger_id);
    if (!c || c->state != CONN_OPEN) {
        admin_req_error(req, ADMIN_E_NOT_CONNECTED, NULL, "charger %s is not connected",
                        charger_id);
        return OD_ECLOSED;
    }
    struct ocpp_error err;
    memset(&err, 0, sizeof err);
    int rc = call_send(c, action, payload, timeout_ms, cb, ctx, &err);
    if (rc == OD_EINVAL && err.code == OCPP_ERR_NOT_IMPLEMENTED)
        admin_req_error(req, ADMIN_E_PARAMS, NULL, "parameter 'action': %s", err.description);
    else if (rc == OD_EINVAL)
        admin_req_error(req, ADMIN_E_PARAMS,
                        json_pack("{s:s, s:s}", "path", err.path, "ocppErrorCode",
                                  ocpp_errcode_name(err.code, c->version)),
                        "parameter 'payload%s': %s", err.path, err.description);
    else if (rc == OD_ELIMIT)
        admin_req_error(req, ADMIN_E_INTERNAL, NULL, "too many calls queued for charger %s",
                        charger_id);
    else if (rc)
        admin_req_error(req, ADMIN_E_NOT_CONNECTED, NULL, "charger %s is not connected",
                        charger_id);
    return rc;
}

static void admin_m_ocpp_call(struct admin_req *req, json_t *params)
{
    struct admin_call_ctx *cc = xcalloc(1, sizeof *cc);
    if (!admin_pfits(req, params, "chargerId", sizeof cc->charger_id) ||
        !admin_pfits(req, params, "action", sizeof cc->action)) {
        free(cc);
        return;
    }
    cc->req = req;
    cc->srv = admin_req_server(req);
    snprintf(cc->charger_id, sizeof cc->charger_id, "%s", admin_pstr(params, "chargerId"));
    snprintf(cc->action, sizeof cc->action, "%s", admin_pstr(params, "action"));
    cc->payload = json_deep_copy(json_object_get(params, "payload"));
    if (admin_send_call(req, cc->charger_id, cc->action, cc->payload,
                        (int)admin_pint(params, "timeoutMs", 0), admin_ocpp_call_done_cb,
                        cc) != 0) {
        json_decref(cc->payload);
        free(cc);
    }
}

/* ---- charging.start / charging.stop -------------------------------------------------------- */

/* A charging.start waiting for the charger's answer and then for its StartTransaction (2.0.1:
 * the TransactionEvent naming its remoteStartId). Listed in srv->admin_waiters from the moment
 * the request is sent, so a start that arrives before the answer is not missed. Owned by that
 * list; freed in the timer's close callback. */
struct admin_waiter {
    struct admin_waiter *next;
    struct server *srv;
    struct admin_req *req; /* NULL once answered */
    char charger_id[49];
    int connector_id;      /* 1.6 connector / 2.0.1 EVSE the start names; 0 = any */
    char action[32];       /* RemoteStartTransaction | RequestStartTransaction */
    char id_tag[21];
    int wait_ms;
    bool accepted;         /* the charger answered Accepted; now waiting for the start */
    bool v201;             /* matched by remote_start_id, not by idTag */
    bool listening;        /* counted in srv->nsubscribers (see admin_waiter_listen) */
    int64_t remote_start_id;
    int64_t tx_id;         /* 0 until a matching transaction started */
    uv_timer_t timer;
};

static void admin_waiter_closed_cb(uv_handle_t *h)
{
    free(h->data);
}

/* A 2.0.1 waiter learns its transaction from the committed transaction.remoteStarted event,
 * and events.c keeps committed events for publishing only while someone subscribes: the waiter
 * counts as one until it finishes (the metrics leave it out: admin__waiters_listening). */
static void admin_waiter_listen(struct admin_waiter *w, bool on)
{
    if (w->listening == on) return;
    w->listening = on;
    if (on) w->srv->nsubscribers++;
    else w->srv->nsubscribers--;
}

size_t admin__waiters_listening(const struct server *srv)
{
    size_t n = 0;
    for (const struct admin_waiter *w = srv->admin_waiters; w; w = w->next)
        n += w->listening;
    return n;
}

static void admin_waiter_finish(struct admin_waiter *w, const char *status)
{
    struct server *srv = w->srv;
    admin_waiter_listen(w, false);
    for (struct admin_waiter **pp = &srv->admin_waiters; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
    if (w->req && status) {
        json_t *res = json_pack("{s:s, s:o}", "status", status, "transactionId",
                                w->tx_id ? json_integer(w->tx_id) : json_null());
        /* The id a station's TransactionEvent will name (only an accepted start has one). */
        if (w->v201 && strcmp(status, "Accepted") == 0)
            json_object_set_new(res, "remoteStartId", json_integer(w->remote_start_id));
        admin_req_result(w->req, res);
    }
    w->req = NULL;
    uv_timer_stop(&w->timer);
    uv_close((uv_handle_t *)&w->timer, admin_waiter_closed_cb);
}

static void admin_waiter_timeout_cb(uv_timer_t *t)
{
    admin_waiter_finish(t->data, "Accepted"); /* transactionId stays null */
}

static void admin_start_done_cb(void *ctx, const struct call_outcome *out)
{
    struct admin_waiter *w = ctx;
    if (out->status != CALL_RESULT) {
        admin_call_failed(w->req, w->charger_id, w->action, out);
        w->req = NULL;
        admin_waiter_finish(w, NULL);
        return;
    }
    const char *status = json_string_value(json_object_get(out->payload, "status"));
    if (!status || strcmp(status, "Accepted") != 0 || w->tx_id || w->wait_ms == 0) {
        admin_waiter_finish(w, status ? status : "Rejected");
        return;
    }
    w->accepted = true;
    uv_timer_start(&w->timer, admin_waiter_timeout_cb, (uint64_t)w->wait_ms, 0);
}

void admin_on_tx_started(struct server *srv, const char *charger_id, int evse_id,
                         const char *id_tag, int64_t tx_id)
{
    if (!id_tag) return;
    struct admin_waiter *w = srv->admin_waiters, *next;
    for (; w; w = next) {
        next = w->next;
        if (w->v201 || w->tx_id || strcmp(w->charger_id, charger_id) != 0 ||
            strcmp(w->id_tag, id_tag) != 0 || (w->connector_id && w->connector_id != evse_id))
            continue;
        w->tx_id = tx_id;
        /* Still waiting for the RemoteStart answer: that answer completes the request. */
        if (w->accepted) admin_waiter_finish(w, "Accepted");
        return; /* one transaction satisfies one waiter */
    }
}

/* 2.0.1: the first TransactionEvent naming a remoteStartId (tx.c emits
 * transaction.remoteStarted for it) wakes the charging.start that allocated that id, whether or
 * not the event carried an idToken. Called with every committed event. */
static void admin_on_remote_started(struct server *srv, const char *charger_id,
                                    const char *data_json)
{
    if (!srv->admin_waiters || !charger_id) return;
    json_t *data = json_loads(data_json, 0, NULL);
    json_t *rsid = json_object_get(data, "remoteStartId");
    json_t *txid = json_object_get(data, "transactionId");
    if (json_is_integer(rsid) && json_is_integer(txid)) {
        for (struct admin_waiter *w = srv->admin_waiters; w; w = w->next) {
            if (!w->v201 || w->tx_id || w->remote_start_id != json_integer_value(rsid) ||
                strcmp(w->charger_id, charger_id) != 0)
                continue;
            w->tx_id = json_integer_value(txid);
            if (w->accepted) admin_waiter_finish(w, "Accepted");
            break;
        }
    }
    json_decref(data);
}

/* A remoteStartId not used before by this server process and unlikely to repeat one an
 * earlier process handed out: seeded from the clock, then counted up (1..2^31-1). */
static int64_t admin_next_remote_start_id(void)
{
    static int64_t last;
    if (last == 0) last = (od_now_ms() / 1000) % 2000000000;
    last = last % 2147483646 + 1;
    return last;
}

void admin__waiters_cancel(struct server *srv)
{
    while (srv->admin_waiters) {
        struct admin_waiter *w = srv->admin_waiters;
        if (w->accepted) {
            admin_waiter_finish(w, "Accepted");
        } else {
            admin_waiter_listen(w, false);
            srv->admin_waiters = w->next;
            w->next = NULL;
            /* Its call completes (disconnect) later and finishes it; just unlist it here. */
        }
    }
}

static void admin_m_charging_start(struct admin_req *req, json_t *params)
{
    struct server *srv = admin_req_server(req);
    struct admin_waiter *w = xcalloc(1, sizeof *w);
    if (!admin_pfits(req, params, "chargerId", sizeof w->charger_id) ||
        !admin_pfits(req, params, "idTag", sizeof w->id_tag)) {
        free(w);
        return;
    }
    w->srv = srv;
    w->req = req;
    snprintf(w->charger_id, sizeof w->charger_id, "%s", admin_pstr(params, "chargerId"));
    snprintf(w->id_tag, sizeof w->id_tag, "%s", admin_pstr(params, "idTag"));
    w->connector_id = (int)admin_pint(params, "connectorId", 0);
    w->wait_ms = (int)admin_pint(params, "waitMs", ADMIN_START_WAIT_DEFAULT_MS);
    uv_timer_init(srv->loop, &w->timer);
    w->timer.data = w;

    /* The same request in each version's words: 2.0.1 names an EVSE and wants an id for the
     * remote start (the charger echoes it in its TransactionEvent). */
    struct conn *c = conn_find(srv, w->charger_id);
    bool v201 = c && c->version == OCPP_V201;
    json_t *payload;
    if (v201) {
        w->v201 = true;
        admin_waiter_listen(w, true);
        w->remote_start_id = admin_next_remote_start_id();
        payload = json_pack("{s:{s:s, s:s}, s:I}", "idToken", "idToken", w->id_tag, "type",
                            "Central", "remoteStartId", (json_int_t)w->remote_start_id);
        if (w->connector_id) json_object_set_new(payload, "evseId", json_integer(w->connector_id));
    } else {
        payload = json_pack("{s:s}", "idTag", w->id_tag);
        if (w->connector_id)
            json_object_set_new(payload, "connectorId", json_integer(w->connector_id));
    }
    snprintf(w->action, sizeof w->action, "%s",
             v201 ? "RequestStartTransaction" : "RemoteStartTransaction");
    w->next = srv->admin_waiters;
    srv->admin_waiters = w;
    if (admin_send_call(req, w->charger_id, w->action, payload, 0, admin_start_done_cb, w) != 0) {
        w->req = NULL; /* answered by admin_send_call */
        admin_waiter_finish(w, NULL);
    }
    json_decref(payload);
}

struct admin_stop_ctx {
    struct admin_req *req;
    char charger_id[49];
    char action[32];
};

static void admin_stop_done_cb(void *ctx, const struct call_outcome *out)
{
    struct admin_stop_ctx *sc = ctx;
    if (out->status == CALL_RESULT) {
        const char *status = json_string_value(json_object_get(out->payload, "status"));
        admin_req_result(sc->req, json_pack("{s:s}", "status", status ? status : "Rejected"));
    } else {
        admin_call_failed(sc->req, sc->charger_id, sc->action, out);
    }
    free(sc);
}

static void admin_m_charging_stop(struct admin_req *req, json_t *params)
{
    struct server *srv = admin_req_server(req);
    int64_t id = admin_pint(params, "transactionId", 0);
    struct store_tx tx;
    int rc = store_tx_get(srv->store, id, &tx);
    if (rc == OD_ENOTFOUND || (rc == 0 && !tx.active)) {
        admin_req_error(req, ADMIN_E_NOT_FOUND, NULL, "no active transaction %lld",
                        (long long)id);
        return;
    }
    if (rc) {
        admin_req_error(req, ADMIN_E_INTERNAL, NULL, "could not read the store");
        return;
    }
    struct admin_stop_ctx *sc = xcalloc(1, sizeof *sc);
    sc->req = req;
    snprintf(sc->charger_id, sizeof sc->charger_id, "%s", tx.charger_id);
    /* 2.0.1 names the transaction by the charger's own id. */
    bool v201 = tx.ext_id[0] != '\0';
    json_t *payload = v201 ? json_pack("{s:s}", "transactionId", tx.ext_id)
                           : json_pack("{s:I}", "transactionId", (json_int_t)id);
    snprintf(sc->action, sizeof sc->action, "%s",
             v201 ? "RequestStopTransaction" : "RemoteStopTransaction");
    if (admin_send_call(req, sc->charger_id, sc->action, payload, 0, admin_stop_done_cb, sc) != 0)
        free(sc);
    json_decref(payload);
}

/* ---- events.subscribe ---------------------------------------------------------------------- */

#define ADMIN_SUB_MAX_TYPES 32
/* A replay reads the store in chunks and refills the session's queue only below the low mark,
 * so a long history streams at the reader's pace instead of tripping the queue cap. */
#define ADMIN_REPLAY_CHUNK 256
#define ADMIN_REPLAY_LOW_BYTES (256 * 1024)
#define ADMIN_REPLAY_HIGH_BYTES (1024 * 1024)

/* One session's subscription: which events it wants and the last seq queued to it, which is
 * what keeps replay and live delivery free of gaps and duplicates. */
struct admin_sub {
    int64_t last_seq;
    bool replaying;      /* still reading the store; live events wait in the store meanwhile */
    char charger_id[49]; /* "" = every charger */
    char types[ADMIN_SUB_MAX_TYPES][48];
    int ntypes;          /* 0 = every type */
};

void admin__sub_free(struct admin_session *s)
{
    if (!s->sub) return;
    free(s->sub);
    s->sub = NULL;
    s->srv->nsubscribers--;
}

static bool admin_sub_wants(const struct admin_sub *sub, const char *type, const char *charger_id)
{
    if (sub->charger_id[0] && strcmp(sub->charger_id, charger_id) != 0) return false;
    if (sub->ntypes == 0) return true;
    for (int i = 0; i < sub->ntypes; i++)
        if (strcmp(sub->types[i], type) == 0) return true;
    return false;
}

/* Heap text of the notification for one event. */
static char *admin_event_text(int64_t seq, int64_t time_ms, const char *type,
                              const char *charger_id, const char *data_json)
{
    json_t *data = json_loads(data_json, JSON_DECODE_ANY, NULL);
    json_t *n = json_pack("{s:s, s:s, s:{s:I, s:o, s:s, s:o, s:o}}", "jsonrpc", "2.0", "method",
                          "event", "params", "seq", (json_int_t)seq, "time",
                          admin_time_or_null(time_ms), "type", type, "chargerId",
                          admin_str_or_null(charger_id), "data", data ? data : json_null());
    char *text = n ? json_dumps(n, JSON_COMPACT) : NULL;
    json_decref(n);
    return text;
}

void admin_publish_event(struct server *srv, int64_t seq, int64_t time_ms, const char *type,
                         const char *charger_id, const char *data_json)
{
    if (strcmp(type, "transaction.remoteStarted") == 0)
        admin_on_remote_started(srv, charger_id, data_json);
    char *text = NULL; /* built once, for the first subscriber that wants it */
    struct admin_session *s = srv->admin_all, *next;
    for (; s; s = next) {
        next = s->next;
        struct admin_sub *sub = s->sub;
        /* A replaying subscriber reads this event from the store when it gets there. */
        if (!sub || sub->replaying || seq <= sub->last_seq) continue;
        sub->last_seq = seq;
        if (!admin_sub_wants(sub, type, charger_id)) continue;
        if (!text) text = admin_event_text(seq, time_ms, type, charger_id, data_json);
        /* A subscriber over its queue cap is closed here; the chargers never wait for it. */
        if (text) admin_session_send_durable(s, text, strlen(text));
    }
    free(text);
}

struct admin_replay_ctx {
    struct admin_session *s;
    int rows;
    bool at_end; /* reached the last committed event */
};

static int admin_replay_cb(const struct store_event *ev, void *ctx)
{
    struct admin_replay_ctx *r = ctx;
    struct admin_sub *sub = r->s->sub;
    /* Rows of a batch not yet committed are visible on our own connection: never send those
     * (the batch might roll back); they come live after their commit. */
    if (!sub || ev->seq > r->s->srv->events_committed_seq) {
        r->at_end = true;
        return 1;
    }
    r->rows++;
    sub->last_seq = ev->seq;
    if (!admin_sub_wants(sub, ev->type, ev->charger_id)) return 0;
    char *text = admin_event_text(ev->seq, ev->time_ms, ev->type, ev->charger_id, ev->data_json);
    int rc = text ? admin_session_send_durable(r->s, text, strlen(text)) : 0;
    free(text);
    return rc != 0; /* the session was dropped: stop reading */
}

void admin__sub_replay(struct admin_session *s)
{
    if (!s->sub || !s->sub->replaying || s->outq_bytes > ADMIN_REPLAY_LOW_BYTES) return;
    while (s->sub && s->sub->replaying && !s->closing && s->outq_bytes < ADMIN_REPLAY_HIGH_BYTES) {
        struct admin_replay_ctx r = {s, 0, false};
        if (s->sub->last_seq >= s->srv->events_committed_seq) r.at_end = true;
        else if (store_event_foreach(s->srv->store, s->sub->last_seq, ADMIN_REPLAY_CHUNK,
                                     admin_replay_cb, &r) < 0)
            r.at_end = true; /* store failure: logged there; go live rather than stall */
        if (r.at_end || r.rows < ADMIN_REPLAY_CHUNK) {
            /* Caught up with everything committed: from here on, events come live. */
            if (s->sub) s->sub->replaying = false;
        }
    }
}

static void admin_m_events_subscribe(struct admin_req *req, json_t *params)
{
    struct server *srv = admin_req_server(req);
    struct admin_session *s = admin_req_session(req);
    json_t *types = json_object_get(params, "types");
    struct admin_sub *sub = xcalloc(1, sizeof *sub);
    if (!admin_pfits(req, params, "chargerId", sizeof sub->charger_id)) {
        free(sub);
        return;
    }
    size_t i;
    json_t *t;
    json_array_foreach(types, i, t) {
        /* The schema admits ADMIN_SUB_MAX_TYPES names of 47 characters; this keeps the table
         * safe should the two drift apart, and refuses names whose bytes do not fit. */
        if (i >= ADMIN_SUB_MAX_TYPES || json_string_length(t) >= sizeof sub->types[0]) {
            free(sub);
            admin_req_error(req, ADMIN_E_PARAMS, NULL,
                            "parameter 'types/%zu': more than %d names or %zu bytes", i,
                            ADMIN_SUB_MAX_TYPES, sizeof sub->types[0] - 1);
            return;
        }
        snprintf(sub->types[sub->ntypes++], sizeof sub->types[0], "%s", json_string_value(t));
    }
    const char *cid = admin_pstr(params, "chargerId");
    if (cid) snprintf(sub->charger_id, sizeof sub->charger_id, "%s", cid);

    /* Commit whatever this loop iteration has stored so far (its events go to the existing
     * subscribers), so the store's end is the committed end the replay may read up to. */
    server_commit(srv);
    int64_t last = store_event_last_seq(srv->store);
    if (last > srv->events_committed_seq) srv->events_committed_seq = last;
    sub->last_seq = admin_pint(params, "fromSeq", last);
    if (sub->last_seq > last) sub->last_seq = last;
    sub->replaying = sub->last_seq < last;
    admin__sub_free(s); /* a second subscribe replaces the first */
    s->sub = sub;
    srv->nsubscribers++;
    admin_req_result(req, json_pack("{s:b, s:I}", "subscribed", true, "lastSeq",
                                    (json_int_t)last));
    admin__sub_replay(s); /* the first chunks now; the rest as the reader drains them */
}

/* ---- stations (the logic is src/stations.c) ------------------------------------------------ */

typedef int (*admin_stations_fn)(struct store *st, const json_t *params, json_t **result,
                                 char *err, size_t errlen);

/* Runs a stations.* call; writes commit before the answer, like the other admin writes. */
static void admin_stations(struct admin_req *req, json_t *params, admin_stations_fn fn,
                           bool writes)
{
    struct server *srv = admin_req_server(req);
    char err[192] = "";
    json_t *result = NULL;
    int rc = writes ? server_batch(srv) : 0;
    if (rc == 0) rc = fn(srv->store, params, &result, err, sizeof err);
    if (rc == 0 && writes) rc = admin_commit(srv);
    if (rc) {
        json_decref(result);
        int code = stations_rpc_code(rc);
        admin_req_error(req, code, NULL, "%s",
                        err[0] ? err : code == ADMIN_E_NOT_FOUND ? "no such station"
                                                                 : "could not use the store");
        return;
    }
    admin_req_result(req, result);
}

static void admin_m_stations_upsert(struct admin_req *req, json_t *params)
{
    admin_stations(req, params, stations_upsert, true);
}

static void admin_m_stations_delete(struct admin_req *req, json_t *params)
{
    admin_stations(req, params, stations_delete, true);
}

static void admin_m_stations_get(struct admin_req *req, json_t *params)
{
    admin_stations(req, params, stations_get, false);
}

static void admin_m_stations_search(struct admin_req *req, json_t *params)
{
    admin_stations(req, params, stations_search, false);
}

/* ---- webhooks (the delivery is src/webhooks.c) ---------------------------------------------- */

static void admin_m_webhooks_add(struct admin_req *req, json_t *params)
{
    char err[160] = "";
    int64_t id = 0;
    int rc = webhooks_add(admin_req_server(req), admin_pstr(params, "url"),
                          json_object_get(params, "types"), admin_pstr(params, "secret"), &id, err,
                          sizeof err);
    if (rc) {
        admin_req_error(req, rc == OD_EINVAL ? ADMIN_E_PARAMS : ADMIN_E_INTERNAL, NULL, "%s", err);
        return;
    }
    admin_req_result(req, json_pack("{s:I}", "id", (json_int_t)id));
}

static void admin_m_webhooks_list(struct admin_req *req, json_t *params)
{
    (void)params;
    admin_req_result(req, json_pack("{s:o}", "webhooks", webhooks_list(admin_req_server(req))));
}

static void admin_m_webhooks_delete(struct admin_req *req, json_t *params)
{
    int64_t id = admin_pint(params, "id", 0);
    int rc = webhooks_delete(admin_req_server(req), id);
    if (rc == OD_ENOTFOUND) {
        admin_req_error(req, ADMIN_E_NOT_FOUND, NULL, "no webhook %lld", (long long)id);
        return;
    }
    if (rc) {
        admin_req_error(req, ADMIN_E_INTERNAL, NULL, "could not delete the webhook");
        return;
    }
    admin_req_result(req, json_pack("{s:b}", "deleted", true));
}

/* ---- the table ----------------------------------------------------------------------------- */

const struct admin_method admin_methods[] = {
#define ADMIN_METHOD(name, fn) {name, admin_m_##fn},
#include "admin_methods.def"
#undef ADMIN_METHOD
};
const size_t admin_nmethods = sizeof admin_methods / sizeof *admin_methods;
