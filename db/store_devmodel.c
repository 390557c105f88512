/*
 * store_devmodel.c — the 2.0.1 device model, report parts and transaction event ledger
 * (store_devmodel.h). Statements are prepared per call: these paths run per report or per
 * TransactionEvent, and store.c's prepared-statement table belongs to the core store.
 */
#include "store_devmodel.h"

#include "store_int.h"

#include "log.h"
#include "od.h"

#include <sqlite3.h>

#include <string.h>

#define DM_COLS                                                                              \
    "charger_id, component, component_instance, evse_id, connector_id, variable, "            \
    "variable_instance, attr_type, value, mutability, persistent, constant, data_type, unit, " \
    "min_limit, max_limit, values_list, supports_monitoring, updated_ms"

/*
 * A statement for sql, ready to bind; NULL (logged) on failure. Hand it back with dm_done.
 * Statements are kept per SQL text (the TransactionEvent ledger runs some for every message,
 * and parsing SQL each time cost more than running it); one already checked out, by a caller
 * further up the stack, gets a fresh copy that dm_done finalizes.
 */
static sqlite3_stmt *dm_prepare(struct store *st, const char *what, const char *sql)
{
    int free_slot = -1;
    for (int i = 0; i < STORE_DM_CACHE; i++) {
        struct store_dm_stmt *c = &st->dm_cache[i];
        if (!c->s) {
            if (free_slot < 0) free_slot = i;
        } else if (!c->busy && strcmp(sqlite3_sql(c->s), sql) == 0) {
            c->busy = true;
            return c->s;
        }
    }
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v3(st->db, sql, -1, free_slot >= 0 ? SQLITE_PREPARE_PERSISTENT : 0, &s,
                           NULL) != SQLITE_OK) {
        LOG_ERROR("store: prepare failed stmt=%s err=\"%s\"", what, sqlite3_errmsg(st->db));
        sqlite3_finalize(s);
        return NULL;
    }
    if (free_slot >= 0) st->dm_cache[free_slot] = (struct store_dm_stmt){s, true};
    return s;
}

/* Hands back a statement from dm_prepare: reset and kept, or finalized if it was a copy. */
static void dm_done(struct store *st, sqlite3_stmt *s)
{
    for (int i = 0; i < STORE_DM_CACHE; i++) {
        if (st->dm_cache[i].s == s) {
            sqlite3_reset(s);
            sqlite3_clear_bindings(s);
            st->dm_cache[i].busy = false;
            return;
        }
    }
    sqlite3_finalize(s);
}

/* Steps s: 1 = row, 0 = done, OD_EEXISTS for a key conflict (quietly: callers expect it),
 * OD_EDB (logged) otherwise. */
static int dm_step(struct store *st, const char *what, sqlite3_stmt *s)
{
    if (store__batch_dropped(st, s, what)) return OD_EDB;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) return 1;
    if (rc == SQLITE_DONE) return 0;
    int ext = sqlite3_extended_errcode(st->db);
    if (ext == SQLITE_CONSTRAINT_PRIMARYKEY || ext == SQLITE_CONSTRAINT_UNIQUE) return OD_EEXISTS;
    LOG_ERROR("store: step failed stmt=%s rc=%d err=\"%s\"", what, ext, sqlite3_errmsg(st->db));
    return OD_EDB;
}

static int dm_bind_fail(struct store *st, const char *what)
{
    LOG_ERROR("store: bind failed stmt=%s err=\"%s\"", what, sqlite3_errmsg(st->db));
    return OD_EDB;
}

/* ---- device model variables ------------------------------------------------------------ */

int store_dm_var_put(struct store *st, const struct store_dm_var *v)
{
    static const char what[] = "dm_var_put";
    sqlite3_stmt *s = dm_prepare(st, what,
        "INSERT INTO device_model (" DM_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
        "?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19) "
        "ON CONFLICT (charger_id, component, component_instance, evse_id, connector_id, "
        "variable, variable_instance, attr_type) DO UPDATE SET value = excluded.value, "
        "mutability = excluded.mutability, persistent = excluded.persistent, "
        "constant = excluded.constant, data_type = excluded.data_type, unit = excluded.unit, "
        "min_limit = excluded.min_limit, max_limit = excluded.max_limit, "
        "values_list = excluded.values_list, "
        "supports_monitoring = excluded.supports_monitoring, updated_ms = excluded.updated_ms");
    if (!s) return OD_EDB;
    int rc = 0, i = 1;
    rc |= store__bind_field(s, i++, v->charger_id, sizeof v->charger_id);
    rc |= store__bind_field(s, i++, v->component, sizeof v->component);
    rc |= store__bind_field(s, i++, v->component_instance, sizeof v->component_instance);
    rc |= sqlite3_bind_int(s, i++, v->evse_id);
    rc |= sqlite3_bind_int(s, i++, v->connector_id);
    rc |= store__bind_field(s, i++, v->variable, sizeof v->variable);
    rc |= store__bind_field(s, i++, v->variable_instance, sizeof v->variable_instance);
    rc |= store__bind_field(s, i++, v->attr_type[0] ? v->attr_type : "Actual",
                            sizeof v->attr_type);
    rc |= v->has_value ? store__bind_field(s, i, v->value, sizeof v->value)
                       : sqlite3_bind_null(s, i);
    i++;
    rc |= store__bind_field(s, i++, v->mutability, sizeof v->mutability);
    rc |= sqlite3_bind_int(s, i++, v->persistent);
    rc |= sqlite3_bind_int(s, i++, v->constant);
    rc |= store__bind_field(s, i++, v->data_type, sizeof v->data_type);
    rc |= store__bind_field(s, i++, v->unit, sizeof v->unit);
    rc |= store__bind_opt_double(s, i++, v->has_min, v->min_limit);
    rc |= store__bind_opt_double(s, i++, v->has_max, v->max_limit);
    rc |= store__bind_field(s, i++, v->values_list, sizeof v->values_list);
    rc |= sqlite3_bind_int(s, i++, v->supports_monitoring);
    rc |= sqlite3_bind_int64(s, i++, v->updated_ms);
    rc = rc ? dm_bind_fail(st, what) : dm_step(st, what, s);
    dm_done(st, s);
    return rc < 0 ? rc : 0;
}

static void dm_read(sqlite3_stmt *s, struct store_dm_var *v)
{
    memset(v, 0, sizeof *v);
    int i = 0;
    store__col_field(s, i++, v->charger_id, sizeof v->charger_id);
    store__col_field(s, i++, v->component, sizeof v->component);
    store__col_field(s, i++, v->component_instance, sizeof v->component_instance);
    v->evse_id = sqlite3_column_int(s, i++);
    v->connector_id = sqlite3_column_int(s, i++);
    store__col_field(s, i++, v->variable, sizeof v->variable);
    store__col_field(s, i++, v->variable_instance, sizeof v->variable_instance);
    store__col_field(s, i++, v->attr_type, sizeof v->attr_type);
    v->has_value = sqlite3_column_type(s, i) != SQLITE_NULL;
    store__col_field(s, i++, v->value, sizeof v->value);
    store__col_field(s, i++, v->mutability, sizeof v->mutability);
    v->persistent = sqlite3_column_int(s, i++) != 0;
    v->constant = sqlite3_column_int(s, i++) != 0;
    store__col_field(s, i++, v->data_type, sizeof v->data_type);
    store__col_field(s, i++, v->unit, sizeof v->unit);
    v->has_min = store__col_opt_double(s, i++, &v->min_limit);
    v->has_max = store__col_opt_double(s, i++, &v->max_limit);
    store__col_field(s, i++, v->values_list, sizeof v->values_list);
    v->supports_monitoring = sqlite3_column_int(s, i++) != 0;
    v->updated_ms = sqlite3_column_int64(s, i++);
}

/* Streams one SELECT: a callback may read the store but must not write device_model (SQLite
 * leaves undefined whether a running SELECT sees such writes). */
int store_dm_var_foreach(struct store *st, const char *charger_id, const char *component,
                         const char *variable, int (*fn)(const struct store_dm_var *v, void *ctx),
                         void *ctx)
{
    static const char what[] = "dm_var_foreach";
    sqlite3_stmt *s = dm_prepare(st, what,
        "SELECT " DM_COLS " FROM device_model WHERE charger_id = ?1 "
        "AND (?2 IS NULL OR component = ?2) AND (?3 IS NULL OR variable = ?3) "
        "ORDER BY component, component_instance, evse_id, connector_id, variable, "
        "variable_instance, attr_type");
    if (!s) return OD_EDB;
    int rc = store__bind_str(s, 1, charger_id) | store__bind_str(s, 2, component) |
             store__bind_str(s, 3, variable);
    if (rc) {
        dm_done(st, s);
        return dm_bind_fail(st, what);
    }
    struct store_dm_var v;
    while ((rc = dm_step(st, what, s)) == 1) {
        dm_read(s, &v);
        if ((rc = fn(&v, ctx)) != 0) break;
    }
    dm_done(st, s);
    return rc;
}

/* Shared shape of the single-row count queries below. */
static int dm_count(struct store *st, const char *what, const char *sql, const char *charger_id,
                    int64_t key, bool has_key, int64_t *count, int64_t *max)
{
    sqlite3_stmt *s = dm_prepare(st, what, sql);
    if (!s) return OD_EDB;
    int rc = 0;
    if (charger_id) rc |= sqlite3_bind_text(s, 1, charger_id, -1, SQLITE_STATIC);
    if (has_key) rc |= sqlite3_bind_int64(s, 2, key);
    if (rc) {
        dm_done(st, s);
        return dm_bind_fail(st, what);
    }
    rc = dm_step(st, what, s);
    if (rc == 1) {
        *count = sqlite3_column_int64(s, 0);
        if (max) *max = sqlite3_column_int64(s, 1);
        rc = 0;
    } else if (rc == 0) {
        rc = OD_EDB; /* an aggregate always yields a row */
    }
    dm_done(st, s);
    return rc;
}

int store_dm_var_count(struct store *st, const char *charger_id, int64_t *out)
{
    return dm_count(st, "dm_var_count", "SELECT count(*) FROM device_model WHERE charger_id = ?1",
                    charger_id, 0, false, out, NULL);
}

/* ---- report parts ----------------------------------------------------------------------- */

int store_dm_part_put(struct store *st, const char *charger_id, int request_id, int seq_no,
                      bool tbc, const char *payload_json, int64_t now_ms)
{
    static const char what[] = "dm_part_put";
    sqlite3_stmt *s = dm_prepare(st, what,
        "INSERT INTO device_model_parts (charger_id, request_id, seq_no, tbc, payload, "
        "received_ms) VALUES (?1, ?2, ?3, ?4, coalesce(?5, '[]'), ?6)");
    if (!s) return OD_EDB;
    int rc = store__bind_str(s, 1, charger_id) | sqlite3_bind_int(s, 2, request_id) |
             sqlite3_bind_int(s, 3, seq_no) | sqlite3_bind_int(s, 4, tbc) |
             store__bind_str(s, 5, payload_json) | sqlite3_bind_int64(s, 6, now_ms);
    rc = rc ? dm_bind_fail(st, what) : dm_step(st, what, s);
    dm_done(st, s);
    return rc < 0 ? rc : 0;
}

int store_dm_part_foreach(struct store *st, const char *charger_id, int request_id,
                          int (*fn)(int seq_no, bool tbc, const char *payload, void *ctx),
                          void *ctx)
{
    static const char what[] = "dm_part_foreach";
    sqlite3_stmt *s = dm_prepare(st, what,
        "SELECT seq_no, tbc, payload FROM device_model_parts WHERE charger_id = ?1 "
        "AND request_id = ?2 ORDER BY seq_no");
    if (!s) return OD_EDB;
    int rc = store__bind_str(s, 1, charger_id) | sqlite3_bind_int(s, 2, request_id);
    if (rc) {
        dm_done(st, s);
        return dm_bind_fail(st, what);
    }
    /* The callback writes device_model, never device_model_parts, so streaming is safe. */
    while ((rc = dm_step(st, what, s)) == 1) {
        const char *payload = (const char *)sqlite3_column_text(s, 2);
        if ((rc = fn(sqlite3_column_int(s, 0), sqlite3_column_int(s, 1) != 0,
                     payload ? payload : "[]", ctx)) != 0)
            break;
    }
    dm_done(st, s);
    return rc;
}

int store_dm_part_count(struct store *st, const char *charger_id, int request_id, int *count,
                        int *max_seq)
{
    int64_t n = 0, mx = -1;
    int rc = dm_count(st, "dm_part_count",
                      "SELECT count(*), coalesce(max(seq_no), -1) FROM device_model_parts "
                      "WHERE charger_id = ?1 AND request_id = ?2",
                      charger_id, request_id, true, &n, &mx);
    *count = (int)n;
    *max_seq = (int)mx;
    return rc;
}

int store_dm_part_final(struct store *st, const char *charger_id, int request_id, int *seq_no)
{
    int64_t n = 0, seq = -1;
    int rc = dm_count(st, "dm_part_final",
                      "SELECT count(*), coalesce(max(seq_no), -1) FROM device_model_parts "
                      "WHERE charger_id = ?1 AND request_id = ?2 AND tbc = 0",
                      charger_id, request_id, true, &n, &seq);
    *seq_no = (int)seq;
    return rc;
}

int store_dm_part_delete(struct store *st, const char *charger_id, int request_id,
                         bool keep_final)
{
    static const char what[] = "dm_part_delete";
    sqlite3_stmt *s = dm_prepare(st, what,
        "DELETE FROM device_model_parts WHERE charger_id = ?1 AND request_id = ?2 "
        "AND (?3 = 0 OR tbc = 1)");
    if (!s) return OD_EDB;
    int rc = store__bind_str(s, 1, charger_id) | sqlite3_bind_int(s, 2, request_id) |
             sqlite3_bind_int(s, 3, keep_final);
    rc = rc ? dm_bind_fail(st, what) : dm_step(st, what, s);
    dm_done(st, s);
    return rc < 0 ? rc : 0;
}

/* ---- transaction event ledger --------------------------------------------------------- */

int store_tx_event_put(struct store *st, const struct store_tx_event *ev)
{
    static const char what[] = "tx_event_put";
    sqlite3_stmt *s = dm_prepare(st, what,
        "INSERT INTO tx_events (tx_id, seq_no, event_type, trigger_reason, charging_state, "
        "stopped_reason, id_token_type, offline, ts_ms, received_ms, remote_start_id) VALUES "
        "(?1, ?2, coalesce(?3, ''), coalesce(?4, ''), coalesce(?5, ''), coalesce(?6, ''), "
        "coalesce(?7, ''), ?8, ?9, ?10, ?11)");
    if (!s) return OD_EDB;
    int rc = sqlite3_bind_int64(s, 1, ev->tx_id) | sqlite3_bind_int64(s, 2, ev->seq_no) |
             store__bind_str(s, 3, ev->event_type) | store__bind_str(s, 4, ev->trigger_reason) |
             store__bind_str(s, 5, ev->charging_state) |
             store__bind_str(s, 6, ev->stopped_reason) |
             store__bind_str(s, 7, ev->id_token_type) | sqlite3_bind_int(s, 8, ev->offline) |
             sqlite3_bind_int64(s, 9, ev->ts_ms) | sqlite3_bind_int64(s, 10, ev->received_ms) |
             (ev->has_remote_start ? sqlite3_bind_int64(s, 11, ev->remote_start_id)
                                   : sqlite3_bind_null(s, 11));
    rc = rc ? dm_bind_fail(st, what) : dm_step(st, what, s);
    dm_done(st, s);
    return rc < 0 ? rc : 0;
}

int store_tx_find_remote_start(struct store *st, const char *charger_id, int64_t remote_start_id,
                               int64_t *tx_id)
{
    static const char what[] = "tx_find_remote_start";
    sqlite3_stmt *s = dm_prepare(st, what,
        "SELECT e.tx_id FROM tx_events AS e JOIN transactions AS t ON t.id = e.tx_id "
        "WHERE e.remote_start_id = ?2 AND t.charger_id = ?1 ORDER BY e.tx_id DESC LIMIT 1");
    if (!s) return OD_EDB;
    int rc = store__bind_str(s, 1, charger_id) | sqlite3_bind_int64(s, 2, remote_start_id);
    if (rc) {
        dm_done(st, s);
        return dm_bind_fail(st, what);
    }
    rc = dm_step(st, what, s);
    if (rc == 1) {
        *tx_id = sqlite3_column_int64(s, 0);
        rc = 0;
    } else if (rc == 0) {
        rc = OD_ENOTFOUND;
    }
    dm_done(st, s);
    return rc;
}

int store_tx_event_count(struct store *st, int64_t tx_id, int64_t *count, int64_t *min_seq,
                         int64_t *max_seq)
{
    static const char what[] = "tx_event_count";
    sqlite3_stmt *s = dm_prepare(st, what,
        "SELECT count(*), coalesce(min(seq_no), -1), coalesce(max(seq_no), -1) FROM tx_events "
        "WHERE tx_id = ?1");
    if (!s) return OD_EDB;
    int rc = sqlite3_bind_int64(s, 1, tx_id);
    if (rc) {
        dm_done(st, s);
        return dm_bind_fail(st, what);
    }
    rc = dm_step(st, what, s);
    if (rc == 1) {
        *count = sqlite3_column_int64(s, 0);
        *min_seq = sqlite3_column_int64(s, 1);
        *max_seq = sqlite3_column_int64(s, 2);
        rc = 0;
    } else if (rc == 0) {
        rc = OD_EDB;
    }
    dm_done(st, s);
    return rc;
}
