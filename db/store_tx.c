/*
 * store_tx.c — charging transactions and their meter values (store.h).
 *
 * Transaction ids are allocated here, not by SQLite's rowid logic: SQLite would pick a random
 * 63-bit rowid once the largest one is taken, and the 1.6 transactionId must fit in 31 bits.
 */
#include "store_int.h"

#include "log.h"
#include "od.h"

#include <sqlite3.h>

#include <string.h>

/* ---- row <-> struct (column order: STORE_TX_COLS) ---------------------------------------- */

static void tx_read(sqlite3_stmt *s, struct store_tx *tx)
{
    memset(tx, 0, sizeof *tx);
    int i = 0;
    tx->id = sqlite3_column_int64(s, i++);
    store__col_field(s, i++, tx->ext_id, sizeof tx->ext_id);
    store__col_field(s, i++, tx->charger_id, sizeof tx->charger_id);
    tx->evse_id = sqlite3_column_int(s, i++);
    tx->connector_id = sqlite3_column_int(s, i++);
    store__col_field(s, i++, tx->id_tag, sizeof tx->id_tag);
    tx->start_ms = sqlite3_column_int64(s, i++);
    tx->stop_ms = sqlite3_column_int64(s, i++);
    tx->active = sqlite3_column_int(s, i++) != 0;
    tx->has_meter_start = store__col_opt_double(s, i++, &tx->meter_start_wh);
    tx->has_meter_stop = store__col_opt_double(s, i++, &tx->meter_stop_wh);
    tx->has_reservation = sqlite3_column_type(s, i) != SQLITE_NULL;
    tx->reservation_id = sqlite3_column_int(s, i++);
    store__col_field(s, i++, tx->stop_reason, sizeof tx->stop_reason);
    store__col_field(s, i++, tx->stop_id_tag, sizeof tx->stop_id_tag);
    tx->flags = (uint32_t)sqlite3_column_int64(s, i++);
    store__col_field(s, i++, tx->note, sizeof tx->note);
    tx->has_energy = store__col_opt_double(s, i++, &tx->last_energy_wh);
    tx->has_power = store__col_opt_double(s, i++, &tx->last_power_w);
    tx->has_soc = store__col_opt_double(s, i++, &tx->last_soc);
    tx->last_meter_ms = sqlite3_column_int64(s, i++);
    tx->created_ms = sqlite3_column_int64(s, i++);
    tx->updated_ms = sqlite3_column_int64(s, i++);
}

/* Binds ?1..?22 for both tx_insert and tx_update. */
static int tx_bind(sqlite3_stmt *s, const struct store_tx *tx, int64_t id)
{
    int rc = 0, i = 1;
    rc |= sqlite3_bind_int64(s, i++, id);
    rc |= store__bind_field(s, i++, tx->ext_id, sizeof tx->ext_id);
    rc |= store__bind_field(s, i++, tx->charger_id, sizeof tx->charger_id);
    rc |= sqlite3_bind_int(s, i++, tx->evse_id);
    rc |= sqlite3_bind_int(s, i++, tx->connector_id);
    rc |= store__bind_field(s, i++, tx->id_tag, sizeof tx->id_tag);
    rc |= sqlite3_bind_int64(s, i++, tx->start_ms);
    rc |= sqlite3_bind_int64(s, i++, tx->stop_ms);
    rc |= sqlite3_bind_int(s, i++, tx->active ? 1 : 0);
    rc |= store__bind_opt_double(s, i++, tx->has_meter_start, tx->meter_start_wh);
    rc |= store__bind_opt_double(s, i++, tx->has_meter_stop, tx->meter_stop_wh);
    rc |= tx->has_reservation ? sqlite3_bind_int(s, i, tx->reservation_id)
                              : sqlite3_bind_null(s, i);
    i++;
    rc |= store__bind_field(s, i++, tx->stop_reason, sizeof tx->stop_reason);
    rc |= store__bind_field(s, i++, tx->stop_id_tag, sizeof tx->stop_id_tag);
    rc |= sqlite3_bind_int64(s, i++, (int64_t)tx->flags);
    rc |= store__bind_field(s, i++, tx->note, sizeof tx->note);
    rc |= store__bind_opt_double(s, i++, tx->has_energy, tx->last_energy_wh);
    rc |= store__bind_opt_double(s, i++, tx->has_power, tx->last_power_w);
    rc |= store__bind_opt_double(s, i++, tx->has_soc, tx->last_soc);
    rc |= sqlite3_bind_int64(s, i++, tx->last_meter_ms);
    rc |= sqlite3_bind_int64(s, i++, tx->created_ms);
    rc |= sqlite3_bind_int64(s, i++, tx->updated_ms);
    return rc;
}

/* Runs a bound single-row tx SELECT: 0 and *out, OD_ENOTFOUND, or an error. */
static int tx_get_row(struct store *st, enum store_q q, sqlite3_stmt *s, int bind_rc,
                      struct store_tx *out)
{
    int rc = store__bind_check(st, q, bind_rc);
    if (rc == 0) rc = store__step(st, q, s);
    if (rc == 1) tx_read(s, out);
    store__q_put(st, q, s);
    return rc == 1 ? 0 : rc == 0 ? OD_ENOTFOUND : rc;
}

/* Keyset scans over transactions (store__scan): one visit struct serves both foreach calls. */
struct tx_visit {
    const char *charger_id;
    int evse_id, connector_id;         /* foreach_active */
    const struct store_tx_query *qry;  /* query */
    int (*fn)(const struct store_tx *tx, void *ctx);
    void *ctx;
};

static void tx_scan_read(sqlite3_stmt *s, void *rec)
{
    tx_read(s, rec);
}

static int tx_scan_deliver(const void *rec, void *arg)
{
    struct tx_visit *v = arg;
    return v->fn(rec, v->ctx);
}

/* ?1 charger, ?2 ?3 evse and connector (when one is given), ?4 ?5 the (start_ms, id) key,
 * ?6 chunk. */
static int tx_active_bind(sqlite3_stmt *s, int chunk, void *arg)
{
    struct tx_visit *v = arg;
    int rc = store__bind_str(s, 1, v->charger_id);
    if (v->connector_id >= 0) {
        rc |= sqlite3_bind_int(s, 2, v->evse_id);
        rc |= sqlite3_bind_int(s, 3, v->connector_id);
    }
    rc |= sqlite3_bind_int64(s, 4, INT64_MIN);
    rc |= sqlite3_bind_int64(s, 5, 0);
    return rc | sqlite3_bind_int(s, 6, chunk);
}

/* ?1 id cursor, ?2 active, ?3 since, ?4 chunk, ?5 charger (tx_query_open ignores ?2). */
static int tx_query_bind(sqlite3_stmt *s, int chunk, void *arg)
{
    const struct store_tx_query *q = ((struct tx_visit *)arg)->qry;
    /* A cursor of 0 starts at the newest row; binding the maximum keeps one plan (id < ?). */
    int rc = sqlite3_bind_int64(s, 1, q->before_id > 0 ? q->before_id : INT64_MAX);
    rc |= sqlite3_bind_int(s, 2, q->active < 0 ? -1 : q->active > 0 ? 1 : 0);
    rc |= sqlite3_bind_int64(s, 3, q->since_ms);
    rc |= sqlite3_bind_int(s, 4, chunk);
    if (q->charger_id) rc |= store__bind_str(s, 5, q->charger_id);
    return rc;
}

/* A single-integer SELECT. */
static int select_int64(struct store *st, enum store_q q, int64_t *out)
{
    sqlite3_stmt *s = store__q_get(st, q);
    if (!s) return OD_EDB;
    int rc = store__step(st, q, s);
    if (rc == 1) *out = sqlite3_column_int64(s, 0);
    store__q_put(st, q, s);
    return rc == 1 ? 0 : rc == 0 ? OD_ENOTFOUND : rc;
}

/* ---- transactions ----------------------------------------------------------------------- */

/*
 * Next id: max + 1, so ids grow with time (what operators expect, and what the query cursor
 * pages by). Past 2^31 - 1, the lowest free id instead; only when all 2^31 - 1 are taken is
 * that an error. The caller is the single writer, so nothing can take the id between the
 * SELECT and the INSERT.
 */
static int tx_alloc_id(struct store *st, int64_t *out)
{
    int64_t id = 0;
    int rc = select_int64(st, STORE_Q_TX_NEXT_ID, &id);
    if (rc != 0) return rc;
    if (id <= STORE_TX_ID_MAX) {
        *out = id;
        return 0;
    }
    rc = select_int64(st, STORE_Q_TX_FREE_ID, &id);
    if (rc == OD_ENOTFOUND) {
        LOG_ERROR("store: every transaction id up to %lld is taken", (long long)STORE_TX_ID_MAX);
        return OD_ELIMIT;
    }
    if (rc == 0) *out = id;
    return rc;
}

int store_tx_insert(struct store *st, struct store_tx *tx)
{
    if (!tx || !tx->charger_id[0]) return OD_EINVAL;
    if (tx->id < 0 || tx->id > STORE_TX_ID_MAX) return OD_EINVAL;
    int64_t id = tx->id;
    if (id == 0) {
        int rc = tx_alloc_id(st, &id);
        if (rc != 0) return rc;
    }
    enum store_q q = STORE_Q_TX_INSERT;
    sqlite3_stmt *s = store__q_get(st, q);
    if (!s) return OD_EDB;
    int rc = store__bind_check(st, q, tx_bind(s, tx, id));
    if (rc == 0) rc = store__step(st, q, s);
    store__q_put(st, q, s);
    if (rc < 0) return rc; /* OD_EEXISTS: that id, or that ext_id on this charger, is taken */
    tx->id = id;
    return 0;
}

int store_tx_update(struct store *st, const struct store_tx *tx)
{
    if (!tx || tx->id <= 0) return tx ? OD_ENOTFOUND : OD_EINVAL;
    enum store_q q = STORE_Q_TX_UPDATE;
    sqlite3_stmt *s = store__q_get(st, q);
    if (!s) return OD_EDB;
    int rc = store__bind_check(st, q, tx_bind(s, tx, tx->id));
    if (rc == 0) rc = store__step(st, q, s);
    if (rc == 0 && store__changes(st) == 0) rc = OD_ENOTFOUND;
    store__q_put(st, q, s);
    return rc;
}

int store_tx_get(struct store *st, int64_t id, struct store_tx *out)
{
    if (!out) return OD_EINVAL;
    enum store_q q = STORE_Q_TX_GET;
    sqlite3_stmt *s = store__q_get(st, q);
    if (!s) return OD_EDB;
    return tx_get_row(st, q, s, sqlite3_bind_int64(s, 1, id), out);
}

int store_tx_get_ext(struct store *st, const char *charger_id, const char *ext_id,
                     struct store_tx *out)
{
    if (!charger_id || !ext_id || !out) return OD_EINVAL;
    if (!*ext_id) return OD_ENOTFOUND; /* "" is how 1.6 rows say "no ext_id" */
    enum store_q q = STORE_Q_TX_GET_EXT;
    sqlite3_stmt *s = store__q_get(st, q);
    if (!s) return OD_EDB;
    int brc = store__bind_str(s, 1, charger_id);
    brc |= store__bind_str(s, 2, ext_id);
    return tx_get_row(st, q, s, brc, out);
}

int store_tx_find_start(struct store *st, const char *charger_id, int connector_id,
                        const char *id_tag, double meter_start_wh, int64_t start_ms,
                        struct store_tx *out)
{
    if (!charger_id || !out) return OD_EINVAL;
    enum store_q q = STORE_Q_TX_FIND_START;
    sqlite3_stmt *s = store__q_get(st, q);
    if (!s) return OD_EDB;
    int brc = store__bind_str(s, 1, charger_id);
    brc |= sqlite3_bind_int(s, 2, connector_id);
    brc |= store__bind_str(s, 3, id_tag ? id_tag : "");
    brc |= sqlite3_bind_double(s, 4, meter_start_wh);
    brc |= sqlite3_bind_int64(s, 5, start_ms);
    return tx_get_row(st, q, s, brc, out);
}

int store_tx_foreach_active(struct store *st, const char *charger_id, int evse_id, int connector_id,
                            int (*fn)(const struct store_tx *tx, void *ctx), void *ctx)
{
    if (!charger_id || !fn) return OD_EINVAL;
    struct store_tx buf[STORE_SCAN_CHUNK];
    struct tx_visit v = {.charger_id = charger_id, .evse_id = evse_id,
                         .connector_id = connector_id, .fn = fn, .ctx = ctx};
    /* connector_id < 0 means the whole charger; evse_id is then ignored. */
    const struct store__scan sc = {
        .q = connector_id < 0 ? STORE_Q_TX_ACTIVE_CHARGER : STORE_Q_TX_ACTIVE_CONNECTOR,
        .rec_size = sizeof *buf, .buf = buf,
        .nkeys = 2, .key_col = {6, 0}, .key_param = 4, /* start_ms, id */
        .bind = tx_active_bind, .read = tx_scan_read, .deliver = tx_scan_deliver, .arg = &v,
    };
    return store__scan(st, &sc);
}

int store_tx_query(struct store *st, const struct store_tx_query *qry,
                   int (*fn)(const struct store_tx *tx, void *ctx), void *ctx)
{
    if (!qry || !fn) return OD_EINVAL;
    struct store_tx buf[STORE_SCAN_CHUNK];
    struct tx_visit v = {.qry = qry, .fn = fn, .ctx = ctx};
    const struct store__scan sc = {
        .q = qry->charger_id ? STORE_Q_TX_QUERY_CHARGER
             : qry->active > 0 ? STORE_Q_TX_QUERY_OPEN : STORE_Q_TX_QUERY_ALL,
        .rec_size = sizeof *buf, .buf = buf, .limit = qry->limit,
        .nkeys = 1, .key_col = {0}, .key_param = 1, /* id, descending: "id < ?1" */
        .bind = tx_query_bind, .read = tx_scan_read, .deliver = tx_scan_deliver, .arg = &v,
    };
    return store__scan(st, &sc);
}

/* ---- meter values ------------------------------------------------------------------------- */

int store_meter_insert(struct store *st, const struct store_meter_value *mv)
{
    if (!mv || !mv->charger_id || !mv->measurand) return OD_EINVAL;
    enum store_q q = STORE_Q_METER_INSERT;
    sqlite3_stmt *s = store__q_get(st, q);
    if (!s) return OD_EDB;
    int brc = 0, i = 1;
    brc |= sqlite3_bind_int64(s, i++, mv->tx_id);
    brc |= store__bind_str(s, i++, mv->charger_id);
    brc |= sqlite3_bind_int(s, i++, mv->evse_id);
    brc |= sqlite3_bind_int(s, i++, mv->connector_id);
    brc |= sqlite3_bind_int64(s, i++, mv->timestamp_ms);
    brc |= store__bind_str(s, i++, mv->measurand);
    brc |= store__bind_str(s, i++, mv->phase);
    brc |= store__bind_str(s, i++, mv->unit);
    brc |= store__bind_str(s, i++, mv->context);
    brc |= store__bind_str(s, i++, mv->location);
    brc |= store__bind_str(s, i++, mv->format);
    brc |= store__bind_str(s, i++, mv->raw_value);
    brc |= store__bind_opt_double(s, i++, mv->has_value, mv->value);
    brc |= store__bind_str(s, i++, mv->norm_unit);
    int rc = store__bind_check(st, q, brc);
    if (rc == 0) rc = store__step(st, q, s);
    store__q_put(st, q, s);
    return rc < 0 ? rc : 0;
}

/* The record points into the current row: valid until the next step, i.e. for one callback. */
static void meter_read(sqlite3_stmt *s, struct store_meter_value *mv)
{
    int i = 0;
    mv->tx_id = sqlite3_column_int64(s, i++);
    mv->charger_id = (const char *)sqlite3_column_text(s, i++);
    mv->evse_id = sqlite3_column_int(s, i++);
    mv->connector_id = sqlite3_column_int(s, i++);
    mv->timestamp_ms = sqlite3_column_int64(s, i++);
    mv->measurand = (const char *)sqlite3_column_text(s, i++);
    mv->phase = (const char *)sqlite3_column_text(s, i++);
    mv->unit = (const char *)sqlite3_column_text(s, i++);
    mv->context = (const char *)sqlite3_column_text(s, i++);
    mv->location = (const char *)sqlite3_column_text(s, i++);
    mv->format = (const char *)sqlite3_column_text(s, i++);
    mv->raw_value = (const char *)sqlite3_column_text(s, i++);
    mv->has_value = store__col_opt_double(s, i++, &mv->value);
    mv->norm_unit = (const char *)sqlite3_column_text(s, i++);
    /* NOT NULL columns; guard anyway so a hand-edited row cannot hand out NULL. */
    if (!mv->charger_id) mv->charger_id = "";
    if (!mv->measurand) mv->measurand = "";
    if (!mv->raw_value) mv->raw_value = "";
}

int store_meter_foreach_tx(struct store *st, int64_t tx_id,
                           int (*fn)(const struct store_meter_value *mv, void *ctx), void *ctx)
{
    if (!fn) return OD_EINVAL;
    enum store_q q = STORE_Q_METER_FOREACH_TX;
    sqlite3_stmt *s = store__q_get(st, q);
    if (!s) return OD_EDB;
    int rc = store__bind_check(st, q, sqlite3_bind_int64(s, 1, tx_id));
    struct store_meter_value mv;
    while (rc == 0 && (rc = store__step(st, q, s)) == 1) {
        meter_read(s, &mv);
        rc = fn(&mv, ctx);
    }
    store__q_put(st, q, s);
    return rc;
}

int64_t store_meter_count(struct store *st)
{
    int64_t n = 0;
    int rc = select_int64(st, STORE_Q_METER_COUNT, &n);
    return rc == 0 ? n : rc;
}
