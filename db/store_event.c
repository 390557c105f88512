/*
 * store_event.c — the append-only logs: charger notices and the event log that admin
 * subscribers replay by seq (store.h).
 *
 * Event seq comes from an AUTOINCREMENT key, so it only grows, even across pruning. An event
 * appended inside a batch that is rolled back gives its seq back, which is harmless because
 * events are published only after their batch commits.
 */
#include "store_int.h"

#include "od.h"

#include <sqlite3.h>

#include <string.h>

int store_notice_insert(struct store *st, const char *charger_id, const char *kind,
                        const char *payload_json, int64_t time_ms)
{
    if (!charger_id || !kind) return OD_EINVAL;
    enum store_q q = STORE_Q_NOTICE_INSERT;
    sqlite3_stmt *s = store__q_get(st, q);
    if (!s) return OD_EDB;
    int brc = store__bind_str(s, 1, charger_id);
    brc |= store__bind_str(s, 2, kind);
    brc |= sqlite3_bind_int64(s, 3, time_ms);
    brc |= store__bind_str(s, 4, payload_json); /* NULL is stored as JSON null */
    int rc = store__bind_check(st, q, brc);
    if (rc == 0) rc = store__step(st, q, s);
    store__q_put(st, q, s);
    return rc < 0 ? rc : 0;
}

int store_event_append(struct store *st, int64_t time_ms, const char *type, const char *charger_id,
                       const char *data_json, int64_t *out_seq)
{
    if (!type || !*type) return OD_EINVAL;
    enum store_q q = STORE_Q_EVENT_APPEND;
    sqlite3_stmt *s = store__q_get(st, q);
    if (!s) return OD_EDB;
    int brc = sqlite3_bind_int64(s, 1, time_ms);
    brc |= store__bind_str(s, 2, type);
    brc |= store__bind_str(s, 3, charger_id); /* NULL or "": not about a charger */
    brc |= store__bind_str(s, 4, data_json);  /* NULL is stored as JSON null */
    int rc = store__bind_check(st, q, brc);
    if (rc == 0) rc = store__step(st, q, s);
    /* Read before the reset: nothing else can insert on this connection in between. */
    int64_t seq = rc == 0 ? sqlite3_last_insert_rowid(sqlite3_db_handle(s)) : 0;
    store__q_put(st, q, s);
    if (rc < 0) return rc;
    if (out_seq) *out_seq = seq;
    return 0;
}

int store_event_foreach(struct store *st, int64_t after_seq, int limit,
                        int (*fn)(const struct store_event *ev, void *ctx), void *ctx)
{
    if (!fn) return OD_EINVAL;
    enum store_q q = STORE_Q_EVENT_FOREACH;
    sqlite3_stmt *s = store__q_get(st, q);
    if (!s) return OD_EDB;
    int brc = sqlite3_bind_int64(s, 1, after_seq);
    brc |= sqlite3_bind_int(s, 2, limit > 0 ? limit : -1); /* LIMIT -1: none */
    int rc = store__bind_check(st, q, brc);
    struct store_event ev;
    while (rc == 0 && (rc = store__step(st, q, s)) == 1) {
        memset(&ev, 0, sizeof ev);
        ev.seq = sqlite3_column_int64(s, 0);
        ev.time_ms = sqlite3_column_int64(s, 1);
        store__col_field(s, 2, ev.type, sizeof ev.type);
        store__col_field(s, 3, ev.charger_id, sizeof ev.charger_id);
        ev.data_json = (const char *)sqlite3_column_text(s, 4);
        if (!ev.data_json) ev.data_json = "null";
        rc = fn(&ev, ctx);
    }
    store__q_put(st, q, s);
    return rc;
}

int64_t store_event_last_seq(struct store *st)
{
    enum store_q q = STORE_Q_EVENT_LAST_SEQ;
    sqlite3_stmt *s = store__q_get(st, q);
    if (!s) return OD_EDB;
    int rc = store__step(st, q, s);
    int64_t seq = rc == 1 ? sqlite3_column_int64(s, 0) : 0;
    store__q_put(st, q, s);
    return rc < 0 ? rc : seq;
}
