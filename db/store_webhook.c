/*
 * store_webhook.c — webhooks and their delivery positions (store_webhook.h). Statements are
 * prepared per call (store.c's statement table is not ours to extend).
 */
#include "store_webhook.h"
#include "store_int.h"

#include "log.h"
#include "od.h"

#include <sqlite3.h>

#include <string.h>

static sqlite3_stmt *wh_prepare(struct store *st, const char *sql)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
        LOG_ERROR("store: cannot prepare webhook statement: %s", sqlite3_errmsg(st->db));
        sqlite3_finalize(s);
        return NULL;
    }
    return s;
}

/* Runs a write statement to its end; 0 or OD_EDB (logged). */
static int wh_run(struct store *st, sqlite3_stmt *s, int brc)
{
    if (store__batch_dropped(st, s, "webhook")) return OD_EDB;
    int rc = brc == SQLITE_OK ? sqlite3_step(s) : brc;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        LOG_ERROR("store: webhook statement failed: %s", sqlite3_errmsg(st->db));
        return OD_EDB;
    }
    return 0;
}

int store_webhook_add(struct store *st, struct store_webhook *w)
{
    sqlite3_stmt *s = wh_prepare(st,
        "INSERT INTO webhooks (url, types, secret, delivered_seq, created_ms) "
        "VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!s) return OD_EDB;
    int brc = sqlite3_bind_text(s, 1, w->url, -1, SQLITE_STATIC);
    brc |= sqlite3_bind_text(s, 2, w->types[0] ? w->types : "[]", -1, SQLITE_STATIC);
    brc |= sqlite3_bind_text(s, 3, w->secret, -1, SQLITE_STATIC);
    brc |= sqlite3_bind_int64(s, 4, w->delivered_seq);
    brc |= sqlite3_bind_int64(s, 5, w->created_ms);
    int rc = wh_run(st, s, brc);
    if (rc == 0) w->id = sqlite3_last_insert_rowid(st->db);
    sqlite3_finalize(s);
    return rc;
}

int store_webhook_delete(struct store *st, int64_t id)
{
    sqlite3_stmt *s = wh_prepare(st, "DELETE FROM webhooks WHERE id = ?1");
    if (!s) return OD_EDB;
    int rc = wh_run(st, s, sqlite3_bind_int64(s, 1, id));
    if (rc == 0 && sqlite3_changes(st->db) == 0) rc = OD_ENOTFOUND;
    sqlite3_finalize(s);
    return rc;
}

int store_webhook_set_delivered(struct store *st, int64_t id, int64_t seq)
{
    sqlite3_stmt *s = wh_prepare(st,
        "UPDATE webhooks SET delivered_seq = ?2 WHERE id = ?1 AND delivered_seq < ?2");
    if (!s) return OD_EDB;
    int brc = sqlite3_bind_int64(s, 1, id);
    brc |= sqlite3_bind_int64(s, 2, seq);
    int rc = wh_run(st, s, brc);
    sqlite3_finalize(s);
    return rc;
}

int store_webhook_foreach(struct store *st, int (*fn)(const struct store_webhook *w, void *ctx),
                          void *ctx)
{
    if (!fn) return OD_EINVAL;
    sqlite3_stmt *s = wh_prepare(st,
        "SELECT id, url, types, secret, delivered_seq, created_ms FROM webhooks ORDER BY id");
    if (!s) return OD_EDB;
    struct store_webhook w;
    int rc = 0, step;
    while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
        memset(&w, 0, sizeof w);
        w.id = sqlite3_column_int64(s, 0);
        store__col_field(s, 1, w.url, sizeof w.url);
        store__col_field(s, 2, w.types, sizeof w.types);
        store__col_field(s, 3, w.secret, sizeof w.secret);
        w.delivered_seq = sqlite3_column_int64(s, 4);
        w.created_ms = sqlite3_column_int64(s, 5);
        rc = fn(&w, ctx);
    }
    if (rc == 0 && step != SQLITE_DONE) {
        LOG_ERROR("store: reading webhooks failed: %s", sqlite3_errmsg(st->db));
        rc = OD_EDB;
    }
    sqlite3_finalize(s);
    return rc;
}
