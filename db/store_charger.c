/*
 * store_charger.c — charger, connector and id-token records (store.h): reading rows into the
 * fixed-size structs, binding the structs back, and the get/put/delete/foreach calls.
 *
 * These run on every charger message (touch, connector status), so each call is one cached
 * statement: bind, step, reset. Nothing here allocates.
 */
#include "store_int.h"

#include "od.h"
#include "timeutil.h"

#include <sqlite3.h>

#include <string.h>

/* ---- row <-> struct (column order: STORE_*_COLS) ---------------------------------------- */

static void charger_read(sqlite3_stmt *s, struct store_charger *c)
{
    memset(c, 0, sizeof *c);
    int i = 0;
    store__col_field(s, i++, c->id, sizeof c->id);
    store__col_field(s, i++, c->protocol, sizeof c->protocol);
    store__col_field(s, i++, c->registration, sizeof c->registration);
    c->provisioned = sqlite3_column_int(s, i++) != 0;
    store__col_field(s, i++, c->password_hash, sizeof c->password_hash);
    store__col_field(s, i++, c->station_id, sizeof c->station_id);
    store__col_field(s, i++, c->vendor, sizeof c->vendor);
    store__col_field(s, i++, c->model, sizeof c->model);
    store__col_field(s, i++, c->serial, sizeof c->serial);
    store__col_field(s, i++, c->charge_box_serial, sizeof c->charge_box_serial);
    store__col_field(s, i++, c->firmware, sizeof c->firmware);
    store__col_field(s, i++, c->iccid, sizeof c->iccid);
    store__col_field(s, i++, c->imsi, sizeof c->imsi);
    store__col_field(s, i++, c->meter_type, sizeof c->meter_type);
    store__col_field(s, i++, c->meter_serial, sizeof c->meter_serial);
    store__col_field(s, i++, c->boot_reason, sizeof c->boot_reason);
    c->created_ms = sqlite3_column_int64(s, i++);
    c->last_seen_ms = sqlite3_column_int64(s, i++);
    c->last_boot_ms = sqlite3_column_int64(s, i++);
}

static int charger_bind(sqlite3_stmt *s, const struct store_charger *c, int64_t created_ms)
{
    int rc = 0, i = 1;
    rc |= store__bind_field(s, i++, c->id, sizeof c->id);
    rc |= store__bind_field(s, i++, c->protocol, sizeof c->protocol);
    rc |= store__bind_field(s, i++, c->registration, sizeof c->registration);
    rc |= sqlite3_bind_int(s, i++, c->provisioned ? 1 : 0);
    rc |= store__bind_field(s, i++, c->password_hash, sizeof c->password_hash);
    rc |= store__bind_field(s, i++, c->station_id, sizeof c->station_id);
    rc |= store__bind_field(s, i++, c->vendor, sizeof c->vendor);
    rc |= store__bind_field(s, i++, c->model, sizeof c->model);
    rc |= store__bind_field(s, i++, c->serial, sizeof c->serial);
    rc |= store__bind_field(s, i++, c->charge_box_serial, sizeof c->charge_box_serial);
    rc |= store__bind_field(s, i++, c->firmware, sizeof c->firmware);
    rc |= store__bind_field(s, i++, c->iccid, sizeof c->iccid);
    rc |= store__bind_field(s, i++, c->imsi, sizeof c->imsi);
    rc |= store__bind_field(s, i++, c->meter_type, sizeof c->meter_type);
    rc |= store__bind_field(s, i++, c->meter_serial, sizeof c->meter_serial);
    rc |= store__bind_field(s, i++, c->boot_reason, sizeof c->boot_reason);
    rc |= sqlite3_bind_int64(s, i++, created_ms);
    rc |= sqlite3_bind_int64(s, i++, c->last_seen_ms);
    rc |= sqlite3_bind_int64(s, i++, c->last_boot_ms);
    return rc;
}

static void connector_read(sqlite3_stmt *s, struct store_connector *c)
{
    memset(c, 0, sizeof *c);
    int i = 0;
    store__col_field(s, i++, c->charger_id, sizeof c->charger_id);
    c->evse_id = sqlite3_column_int(s, i++);
    c->connector_id = sqlite3_column_int(s, i++);
    store__col_field(s, i++, c->status, sizeof c->status);
    store__col_field(s, i++, c->raw_status, sizeof c->raw_status);
    store__col_field(s, i++, c->error_code, sizeof c->error_code);
    store__col_field(s, i++, c->info, sizeof c->info);
    store__col_field(s, i++, c->vendor_id, sizeof c->vendor_id);
    store__col_field(s, i++, c->vendor_error_code, sizeof c->vendor_error_code);
    c->status_ms = sqlite3_column_int64(s, i++);
    store__col_field(s, i++, c->availability, sizeof c->availability);
    c->tx_id = sqlite3_column_int64(s, i++);
    c->has_meter = store__col_opt_double(s, i++, &c->last_meter_wh);
    c->last_meter_ms = sqlite3_column_int64(s, i++);
    c->updated_ms = sqlite3_column_int64(s, i++);
}

static int connector_bind(sqlite3_stmt *s, const struct store_connector *c)
{
    int rc = 0, i = 1;
    rc |= store__bind_field(s, i++, c->charger_id, sizeof c->charger_id);
    rc |= sqlite3_bind_int(s, i++, c->evse_id);
    rc |= sqlite3_bind_int(s, i++, c->connector_id);
    rc |= store__bind_field(s, i++, c->status, sizeof c->status);
    rc |= store__bind_field(s, i++, c->raw_status, sizeof c->raw_status);
    rc |= store__bind_field(s, i++, c->error_code, sizeof c->error_code);
    rc |= store__bind_field(s, i++, c->info, sizeof c->info);
    rc |= store__bind_field(s, i++, c->vendor_id, sizeof c->vendor_id);
    rc |= store__bind_field(s, i++, c->vendor_error_code, sizeof c->vendor_error_code);
    rc |= sqlite3_bind_int64(s, i++, c->status_ms);
    rc |= store__bind_field(s, i++, c->availability, sizeof c->availability);
    rc |= sqlite3_bind_int64(s, i++, c->tx_id);
    rc |= store__bind_opt_double(s, i++, c->has_meter, c->last_meter_wh);
    rc |= sqlite3_bind_int64(s, i++, c->last_meter_ms);
    rc |= sqlite3_bind_int64(s, i++, c->updated_ms);
    return rc;
}

static void token_read(sqlite3_stmt *s, struct store_token *t)
{
    memset(t, 0, sizeof *t);
    int i = 0;
    store__col_field(s, i++, t->id_tag, sizeof t->id_tag);
    store__col_field(s, i++, t->status, sizeof t->status);
    t->expiry_ms = sqlite3_column_int64(s, i++);
    store__col_field(s, i++, t->parent_id_tag, sizeof t->parent_id_tag);
    store__col_field(s, i++, t->type, sizeof t->type);
    t->updated_ms = sqlite3_column_int64(s, i++);
}

static int token_bind(sqlite3_stmt *s, const struct store_token *t)
{
    int rc = 0, i = 1;
    rc |= store__bind_field(s, i++, t->id_tag, sizeof t->id_tag);
    rc |= store__bind_field(s, i++, t->status, sizeof t->status);
    rc |= sqlite3_bind_int64(s, i++, t->expiry_ms);
    rc |= store__bind_field(s, i++, t->parent_id_tag, sizeof t->parent_id_tag);
    rc |= store__bind_field(s, i++, t->type, sizeof t->type);
    rc |= sqlite3_bind_int64(s, i++, t->updated_ms);
    return rc;
}

/* ---- shared call shapes ------------------------------------------------------------------- */

/* One write statement: bind with the already-computed bind rc, step to completion. With
 * need_change, a statement that touched no row is OD_ENOTFOUND. */
static int run_write(struct store *st, enum store_q q, sqlite3_stmt *s, int bind_rc,
                     bool need_change)
{
    int rc = store__bind_check(st, q, bind_rc);
    if (rc == 0) rc = store__step(st, q, s);
    if (rc == 0 && need_change && store__changes(st) == 0) rc = OD_ENOTFOUND;
    store__q_put(st, q, s);
    return rc < 0 ? rc : 0;
}

/* ---- chargers ----------------------------------------------------------------------------- */

int store_charger_get(struct store *st, const char *id, struct store_charger *out)
{
    if (!id || !out) return OD_EINVAL;
    enum store_q q = STORE_Q_CHARGER_GET;
    sqlite3_stmt *s = store__q_get(st, q);
    if (!s) return OD_EDB;
    int rc = store__bind_check(st, q, store__bind_str(s, 1, id));
    if (rc == 0) rc = store__step(st, q, s);
    if (rc == 1) charger_read(s, out);
    store__q_put(st, q, s);
    return rc == 1 ? 0 : rc == 0 ? OD_ENOTFOUND : rc;
}

int store_charger_put(struct store *st, const struct store_charger *c)
{
    if (!c || !c->id[0]) return OD_EINVAL;
    enum store_q q = STORE_Q_CHARGER_PUT;
    sqlite3_stmt *s = store__q_get(st, q);
    if (!s) return OD_EDB;
    /* Only a new row takes created_ms (the upsert never updates it); a caller that leaves it
     * unset still gets a real creation time. */
    int64_t created = c->created_ms ? c->created_ms : od_now_ms();
    return run_write(st, q, s, charger_bind(s, c, created), false);
}

int store_charger_touch(struct store *st, const char *id, const char *protocol, int64_t now_ms)
{
    if (!id || !*id) return OD_EINVAL;
    enum store_q q = STORE_Q_CHARGER_TOUCH;
    sqlite3_stmt *s = store__q_get(st, q);
    if (!s) return OD_EDB;
    int rc = store__bind_str(s, 1, id);
    rc |= store__bind_str(s, 2, protocol);
    rc |= sqlite3_bind_int64(s, 3, now_ms);
    return run_write(st, q, s, rc, false);
}

int store_charger_delete(struct store *st, const char *id)
{
    if (!id) return OD_EINVAL;
    int rc = store__sp_begin(st);
    if (rc != 0) return rc;

    enum store_q q = STORE_Q_CHARGER_DELETE;
    sqlite3_stmt *s = store__q_get(st, q);
    rc = s ? run_write(st, q, s, store__bind_str(s, 1, id), true) : OD_EDB;
    if (rc == 0 || rc == OD_ENOTFOUND) {
        /* Connectors go even when the charger row was already gone: no orphans stay behind. */
        q = STORE_Q_CONNECTOR_DELETE_CHARGER;
        s = store__q_get(st, q);
        int rc2 = s ? run_write(st, q, s, store__bind_str(s, 1, id), false) : OD_EDB;
        if (rc2 != 0) rc = rc2;
    }
    if (rc == OD_ENOTFOUND) return store__sp_end(st, 0) ? OD_EDB : OD_ENOTFOUND;
    return store__sp_end(st, rc);
}

/* Bind and deliver halves of the keyset scans (store__scan). */
struct charger_visit {
    int (*fn)(const struct store_charger *c, void *ctx);
    void *ctx;
};

/* Ids are never "" (put and touch refuse it), so "" sorts before every row; likewise for
 * id tags. */
static int charger_scan_bind(sqlite3_stmt *s, int chunk, void *arg)
{
    return store__bind_str(s, 1, "") | sqlite3_bind_int(s, 2, chunk);
}

static void charger_scan_read(sqlite3_stmt *s, void *rec)
{
    charger_read(s, rec);
}

static int charger_scan_deliver(const void *rec, void *arg)
{
    struct charger_visit *v = arg;
    return v->fn(rec, v->ctx);
}

int store_charger_foreach(struct store *st, int (*fn)(const struct store_charger *c, void *ctx),
                          void *ctx)
{
    if (!fn) return OD_EINVAL;
    struct store_charger buf[STORE_SCAN_CHUNK];
    struct charger_visit v = {fn, ctx};
    const struct store__scan sc = {
        .q = STORE_Q_CHARGER_FOREACH, .rec_size = sizeof *buf, .buf = buf,
        .nkeys = 1, .key_col = {0}, .key_param = 1, /* id */
        .bind = charger_scan_bind, .read = charger_scan_read, .deliver = charger_scan_deliver,
        .arg = &v,
    };
    return store__scan(st, &sc);
}

/* ---- connectors ----------------------------------------------------------------------------- */

int store_connector_get(struct store *st, const char *charger_id, int evse_id, int connector_id,
                        struct store_connector *out)
{
    if (!charger_id || !out) return OD_EINVAL;
    enum store_q q = STORE_Q_CONNECTOR_GET;
    sqlite3_stmt *s = store__q_get(st, q);
    if (!s) return OD_EDB;
    int brc = store__bind_str(s, 1, charger_id);
    brc |= sqlite3_bind_int(s, 2, evse_id);
    brc |= sqlite3_bind_int(s, 3, connector_id);
    int rc = store__bind_check(st, q, brc);
    if (rc == 0) rc = store__step(st, q, s);
    if (rc == 1) connector_read(s, out);
    store__q_put(st, q, s);
    return rc == 1 ? 0 : rc == 0 ? OD_ENOTFOUND : rc;
}

int store_connector_put(struct store *st, const struct store_connector *c)
{
    if (!c || !c->charger_id[0]) return OD_EINVAL;
    enum store_q q = STORE_Q_CONNECTOR_PUT;
    sqlite3_stmt *s = store__q_get(st, q);
    if (!s) return OD_EDB;
    return run_write(st, q, s, connector_bind(s, c), false);
}

struct connector_visit {
    const char *charger_id;
    int (*fn)(const struct store_connector *c, void *ctx);
    void *ctx;
};

static int connector_scan_bind(sqlite3_stmt *s, int chunk, void *arg)
{
    struct connector_visit *v = arg;
    int rc = store__bind_str(s, 1, v->charger_id);
    rc |= sqlite3_bind_int64(s, 2, INT64_MIN);
    rc |= sqlite3_bind_int64(s, 3, INT64_MIN);
    return rc | sqlite3_bind_int(s, 4, chunk);
}

static void connector_scan_read(sqlite3_stmt *s, void *rec)
{
    connector_read(s, rec);
}

static int connector_scan_deliver(const void *rec, void *arg)
{
    struct connector_visit *v = arg;
    return v->fn(rec, v->ctx);
}

int store_connector_foreach(struct store *st, const char *charger_id,
                            int (*fn)(const struct store_connector *c, void *ctx), void *ctx)
{
    if (!charger_id || !fn) return OD_EINVAL;
    struct store_connector buf[STORE_SCAN_CHUNK];
    struct connector_visit v = {charger_id, fn, ctx};
    const struct store__scan sc = {
        .q = STORE_Q_CONNECTOR_FOREACH, .rec_size = sizeof *buf, .buf = buf,
        .nkeys = 2, .key_col = {1, 2}, .key_param = 2, /* evse_id, connector_id */
        .bind = connector_scan_bind, .read = connector_scan_read,
        .deliver = connector_scan_deliver, .arg = &v,
    };
    return store__scan(st, &sc);
}

/* ---- id tokens -------------------------------------------------------------------------------- */

int store_token_get(struct store *st, const char *id_tag, struct store_token *out)
{
    if (!id_tag || !out) return OD_EINVAL;
    enum store_q q = STORE_Q_TOKEN_GET;
    sqlite3_stmt *s = store__q_get(st, q);
    if (!s) return OD_EDB;
    int rc = store__bind_check(st, q, store__bind_str(s, 1, id_tag));
    if (rc == 0) rc = store__step(st, q, s);
    if (rc == 1) token_read(s, out);
    store__q_put(st, q, s);
    return rc == 1 ? 0 : rc == 0 ? OD_ENOTFOUND : rc;
}

int store_token_put(struct store *st, const struct store_token *t)
{
    if (!t || !t->id_tag[0]) return OD_EINVAL;
    enum store_q q = STORE_Q_TOKEN_PUT;
    sqlite3_stmt *s = store__q_get(st, q);
    if (!s) return OD_EDB;
    return run_write(st, q, s, token_bind(s, t), false);
}

int store_token_delete(struct store *st, const char *id_tag)
{
    if (!id_tag) return OD_EINVAL;
    enum store_q q = STORE_Q_TOKEN_DELETE;
    sqlite3_stmt *s = store__q_get(st, q);
    if (!s) return OD_EDB;
    return run_write(st, q, s, store__bind_str(s, 1, id_tag), true);
}

struct token_visit {
    int (*fn)(const struct store_token *t, void *ctx);
    void *ctx;
};

static int token_scan_bind(sqlite3_stmt *s, int chunk, void *arg)
{
    return store__bind_str(s, 1, "") | sqlite3_bind_int(s, 2, chunk);
}

static void token_scan_read(sqlite3_stmt *s, void *rec)
{
    token_read(s, rec);
}

static int token_scan_deliver(const void *rec, void *arg)
{
    struct token_visit *v = arg;
    return v->fn(rec, v->ctx);
}

int store_token_foreach(struct store *st, int (*fn)(const struct store_token *t, void *ctx),
                        void *ctx)
{
    if (!fn) return OD_EINVAL;
    struct store_token buf[STORE_SCAN_CHUNK];
    struct token_visit v = {fn, ctx};
    const struct store__scan sc = {
        .q = STORE_Q_TOKEN_FOREACH, .rec_size = sizeof *buf, .buf = buf,
        .nkeys = 1, .key_col = {0}, .key_param = 1, /* id_tag */
        .bind = token_scan_bind, .read = token_scan_read, .deliver = token_scan_deliver,
        .arg = &v,
    };
    return store__scan(st, &sc);
}
