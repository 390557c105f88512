/*
 * store.c — the store's lifecycle: open (pragmas, schema migrations, statement preparation),
 * close, group-commit batches, checkpoints, and the helpers the other store_*.c files share.
 *
 * Records live in store_charger.c (chargers, connectors, id tokens), store_tx.c (transactions,
 * meter values) and store_event.c (notices, events); all SQL is in store_sql.c and
 * db/migrations/. The main connection is used from the loop thread only; store_durable.c adds
 * a second one for background checkpoints.
 */
#include "store_int.h"

#include "log.h"
#include "mem.h"
#include "od.h"

#include <sqlite3.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Long enough to ride out a checkpoint or an ocppctl/backup reader holding a lock, short
 * enough that a stuck peer process cannot freeze the loop thread for long. */
#define STORE_BUSY_TIMEOUT_MS 2000

/* Applied in this order after the version check and journal mode, after the caller's
 * synchronous setting. */
static const char *const store_pragmas[] = {
    "PRAGMA foreign_keys = ON",      /* no FKs yet; later migrations may rely on them */
    "PRAGMA cache_size = -32768",    /* 32 MiB: the charger and connector rows stay hot */
    "PRAGMA temp_store = MEMORY",    /* sorts for ORDER BY never touch the disk */
    "PRAGMA journal_size_limit = 67108864", /* shrink the WAL back to 64 MiB after a burst */
    "PRAGMA trusted_schema = OFF",   /* the schema is ours; never run functions it names */
};

static void store_seterr(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void store_seterr(char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (!errbuf || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

/* ---- helpers shared by store_*.c ----------------------------------------------------------- */

sqlite3_stmt *store__q_get(struct store *st, enum store_q q)
{
    if (!st->stmt_busy[q]) {
        st->stmt_busy[q] = true;
        return st->stmt[q];
    }
    /* Re-entered from a foreach callback while this statement is mid-iteration: resetting it
     * would cut the outer loop short, so this call gets its own copy. Rare, hence no cache. */
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, store__sql[q].sql, -1, &s, NULL) != SQLITE_OK) {
        LOG_ERROR("store: prepare failed stmt=%s err=\"%s\"", store__sql[q].name,
                  sqlite3_errmsg(st->db));
        sqlite3_finalize(s);
        return NULL;
    }
    return s;
}

void store__q_put(struct store *st, enum store_q q, sqlite3_stmt *s)
{
    if (!s) return;
    if (s != st->stmt[q]) {
        sqlite3_finalize(s);
        return;
    }
    /* Reset ends the statement's read transaction (autocommit) and clearing drops pointers to
     * the caller's strings bound with SQLITE_STATIC. */
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    st->stmt_busy[q] = false;
}

bool store__batch_dropped(struct store *st, sqlite3_stmt *s, const char *what)
{
    if (!st->in_batch || !sqlite3_get_autocommit(st->db) || sqlite3_stmt_readonly(s))
        return false;
    /* SQLite rolled the batch back by itself (disk full, I/O error): a write now would run as
     * a transaction of its own, stored although the batch's commit is going to fail. */
    st->batch_lost = true;
    LOG_ERROR("store: write refused, the batch was rolled back by SQLite stmt=%s path=%s", what,
              st->path);
    return true;
}

int store__step(struct store *st, enum store_q q, sqlite3_stmt *s)
{
    if (store__batch_dropped(st, s, store__sql[q].name)) return OD_EDB;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) return 1;
    if (rc == SQLITE_DONE) return 0;
    int ext = sqlite3_extended_errcode(st->db);
    if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY) {
        LOG_WARN("store: duplicate key stmt=%s err=\"%s\"", store__sql[q].name,
                 sqlite3_errmsg(st->db));
        return OD_EEXISTS;
    }
    LOG_ERROR("store: step failed stmt=%s rc=%d err=\"%s\"", store__sql[q].name, ext,
              sqlite3_errmsg(st->db));
    /* SQLite rolls the whole transaction back after some errors (disk full, I/O, no memory).
     * Inside a batch that loses earlier writes too: remember it so the commit fails. */
    if (st->in_batch && sqlite3_get_autocommit(st->db)) st->batch_lost = true;
    return OD_EDB;
}

int store__bind_check(struct store *st, enum store_q q, int rc)
{
    if (rc == SQLITE_OK) return 0;
    LOG_ERROR("store: bind failed stmt=%s rc=%d err=\"%s\"", store__sql[q].name, rc,
              sqlite3_errmsg(st->db));
    return OD_EDB;
}

int store__exec_q(struct store *st, enum store_q q)
{
    sqlite3_stmt *s = store__q_get(st, q);
    if (!s) return OD_EDB;
    int rc = store__step(st, q, s);
    store__q_put(st, q, s);
    return rc < 0 ? rc : 0;
}

int64_t store__changes(struct store *st)
{
    return sqlite3_changes(st->db);
}

int store__scan(struct store *st, const struct store__scan *sc)
{
    char *buf = sc->buf;
    sqlite3_value *keys[2] = {NULL, NULL};
    int left = sc->limit > 0 ? sc->limit : -1;
    int rc = 0;
    for (bool first = true;; first = false) {
        int want = left >= 0 && left < STORE_SCAN_CHUNK ? left : STORE_SCAN_CHUNK;
        if (want == 0) break;
        sqlite3_stmt *s = store__q_get(st, sc->q);
        if (!s) {
            rc = OD_EDB;
            break;
        }
        int brc = sc->bind(s, want, sc->arg);
        for (int k = 0; !first && k < sc->nkeys; k++)
            brc |= sqlite3_bind_value(s, sc->key_param + k, keys[k]);
        rc = store__bind_check(st, sc->q, brc);
        int n = 0;
        while (rc == 0 && n < want && (rc = store__step(st, sc->q, s)) == 1) {
            sc->read(s, buf + (size_t)n * sc->rec_size);
            n++;
            rc = 0;
        }
        /* A full chunk leaves the statement on its last row: take that row's keys from there. */
        for (int k = 0; rc == 0 && n == want && k < sc->nkeys; k++) {
            sqlite3_value_free(keys[k]);
            keys[k] = sqlite3_value_dup(sqlite3_column_value(s, sc->key_col[k]));
            if (!keys[k]) rc = OD_ENOMEM;
        }
        store__q_put(st, sc->q, s);
        if (rc < 0) break;
        for (int i = 0; i < n && rc == 0; i++)
            rc = sc->deliver(buf + (size_t)i * sc->rec_size, sc->arg);
        if (rc != 0 || n < want) break;
        if (left > 0) left -= n;
    }
    for (int k = 0; k < 2; k++) sqlite3_value_free(keys[k]);
    return rc;
}

int store__sp_begin(struct store *st)
{
    return store__exec_q(st, STORE_Q_SP_BEGIN);
}

int store__sp_end(struct store *st, int rc)
{
    if (rc != 0) {
        /* ROLLBACK TO keeps the savepoint open; RELEASE then closes it (and, outside a batch,
         * ends the transaction it started). If SQLite already rolled everything back, both
         * fail harmlessly and are logged. */
        if (!sqlite3_get_autocommit(st->db)) {
            store__exec_q(st, STORE_Q_SP_ROLLBACK);
            store__exec_q(st, STORE_Q_SP_RELEASE);
        }
        return rc;
    }
    return store__exec_q(st, STORE_Q_SP_RELEASE);
}

int store__bind_field(sqlite3_stmt *s, int idx, const char *field, size_t cap)
{
    return sqlite3_bind_text(s, idx, field, (int)strnlen(field, cap), SQLITE_STATIC);
}

int store__bind_str(sqlite3_stmt *s, int idx, const char *str)
{
    if (!str) return sqlite3_bind_null(s, idx);
    return sqlite3_bind_text(s, idx, str, -1, SQLITE_STATIC);
}

int store__bind_opt_double(sqlite3_stmt *s, int idx, bool has, double v)
{
    return has ? sqlite3_bind_double(s, idx, v) : sqlite3_bind_null(s, idx);
}

size_t store__copy_utf8(char *dst, size_t cap, const char *src, size_t len)
{
    if (cap == 0) return 0;
    if (len >= cap) {
        len = cap - 1;
        /* If the first byte left out is a continuation byte, the character it belongs to
         * started inside the kept part: drop that partial character too. */
        while (len > 0 && ((unsigned char)src[len] & 0xC0) == 0x80) len--;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
    return len;
}

void store__col_field(sqlite3_stmt *s, int col, char *dst, size_t cap)
{
    /* column_text before column_bytes: the documented order that avoids a second conversion. */
    const unsigned char *t = sqlite3_column_text(s, col);
    if (!t) {
        if (cap) dst[0] = '\0';
        return;
    }
    store__copy_utf8(dst, cap, (const char *)t, (size_t)sqlite3_column_bytes(s, col));
}

bool store__col_opt_double(sqlite3_stmt *s, int col, double *out)
{
    if (sqlite3_column_type(s, col) == SQLITE_NULL) {
        *out = 0;
        return false;
    }
    *out = sqlite3_column_double(s, col);
    return true;
}

/* ---- open: schema version and migrations ----------------------------------------------- */

/* Reads PRAGMA user_version with a one-off statement (the cached ones do not exist yet). */
static int store_read_user_version(sqlite3 *db, int *out)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int(s, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(s);
    return rc;
}

/*
 * Applies each migration above the current version in its own transaction (BEGIN IMMEDIATE,
 * so a second process opening the same file waits instead of migrating twice; the version is
 * read again inside the transaction for the same reason). A failure rolls back that migration
 * only: the ones before it stay applied and the next open resumes from there.
 */
static int store_migrate(struct store *st, int version, const struct store__migration *m,
                         int count, char *errbuf, size_t errlen)
{
    sqlite3 *db = st->db;
    for (int i = 0; i < count; i++) {
        if (m[i].version <= version) continue; /* the common case: no write lock at open */
        char *err = NULL;
        int cur = 0;
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &err) != SQLITE_OK) goto fail;
        if (store_read_user_version(db, &cur) != SQLITE_OK) goto fail;
        if (cur >= m[i].version) {
            if (sqlite3_exec(db, "COMMIT", NULL, NULL, &err) != SQLITE_OK) goto fail;
            continue;
        }
        char setv[48];
        snprintf(setv, sizeof setv, "PRAGMA user_version = %d", m[i].version);
        if (sqlite3_exec(db, m[i].sql, NULL, NULL, &err) != SQLITE_OK) goto fail;
        if (sqlite3_exec(db, setv, NULL, NULL, &err) != SQLITE_OK) goto fail;
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, &err) != SQLITE_OK) goto fail;
        LOG_INFO("store: applied migration name=%s path=%s", m[i].name, st->path);
        continue;
    fail:
        store_seterr(errbuf, errlen, "database '%s': migration %s failed: %s", st->path,
                     m[i].name, err ? err : sqlite3_errmsg(db));
        sqlite3_free(err);
        if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return OD_EDB;
    }
    return 0;
}

/* ---- open / close ------------------------------------------------------------------------ */

/* Runs one setup statement at open; on failure fills errbuf and returns OD_EDB. */
static int store_exec_setup(struct store *st, const char *sql, char *errbuf, size_t errlen)
{
    char *err = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &err) == SQLITE_OK) return 0;
    store_seterr(errbuf, errlen, "cannot use database '%s': %s: %s", st->path, sql,
                 err ? err : sqlite3_errmsg(st->db));
    sqlite3_free(err);
    return OD_EDB;
}

int store__open_with(const char *path, enum store_sync sync, const struct store__migration *m,
                     int count, struct store **out, char *errbuf, size_t errlen)
{
    int ret = OD_EDB;
    struct store *st = NULL;
    if (!out) return OD_EINVAL;
    *out = NULL;
    store_seterr(errbuf, errlen, "%s", "");
    if (!path || !*path) {
        store_seterr(errbuf, errlen, "no database path given");
        return OD_EINVAL;
    }
    if (!m || count <= 0) {
        store_seterr(errbuf, errlen, "no schema migrations given");
        return OD_EINVAL;
    }

    st = xcalloc(1, sizeof *st);
    st->path = xstrdup(path);
    for (int i = 0; i < STORE_FSYNC__COUNT; i++) st->wal_fd[i] = -1;
    /* NOMUTEX: one thread owns the connection, so SQLite's own locking is pure overhead. */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &st->db, flags, NULL);
    if (rc != SQLITE_OK) {
        store_seterr(errbuf, errlen, "cannot open database '%s': %s", path,
                     st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        goto out;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
    /* Refuse writable_schema tricks and similar ways to corrupt the file through SQL. */
    sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);

    /* The first read: a file that is not a database fails here, and a newer schema is refused
     * before anything (even the journal mode) is written to it. */
    int version = 0;
    rc = store_read_user_version(st->db, &version);
    if (rc != SQLITE_OK) {
        store_seterr(errbuf, errlen, "cannot use database '%s': %s", path,
                     sqlite3_errmsg(st->db));
        goto out;
    }
    int latest = m[count - 1].version;
    if (version > latest) {
        store_seterr(errbuf, errlen,
                     "database schema version %d is newer than this ocppd supports (%d)",
                     version, latest);
        ret = OD_EDBVERSION;
        goto out;
    }

    /* WAL: readers never block the writer and a commit is one append. For a :memory: or
     * temporary database SQLite answers "memory", which is expected. */
    sqlite3_stmt *jm = NULL;
    if (sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &jm, NULL) != SQLITE_OK ||
        sqlite3_step(jm) != SQLITE_ROW) {
        store_seterr(errbuf, errlen, "cannot use database '%s': journal_mode: %s", path,
                     sqlite3_errmsg(st->db));
        sqlite3_finalize(jm);
        goto out;
    }
    const char *mode = (const char *)sqlite3_column_text(jm, 0);
    const char *file = sqlite3_db_filename(st->db, "main");
    bool wal = file && *file && mode && strcmp(mode, "wal") == 0;
    if (file && *file && !wal)
        LOG_WARN("store: WAL unavailable, commits will be slower path=%s journal_mode=%s", path,
                 mode ? mode : "?");
    sqlite3_finalize(jm);

    /* On a WAL file, FULL is kept by fsyncing the WAL outside COMMIT (store_durable.c). */
    char syncp[48];
    snprintf(syncp, sizeof syncp, "PRAGMA synchronous = %s",
             sync == STORE_SYNC_NORMAL || wal ? "NORMAL" : "FULL");
    if (store_exec_setup(st, syncp, errbuf, errlen) != 0) goto out;
    for (size_t i = 0; i < sizeof store_pragmas / sizeof *store_pragmas; i++)
        if (store_exec_setup(st, store_pragmas[i], errbuf, errlen) != 0) goto out;

    if (store_migrate(st, version, m, count, errbuf, errlen) != 0) goto out;

    for (int q = 0; q < STORE_Q__COUNT; q++) {
        if (!store__sql[q].sql) {
            store_seterr(errbuf, errlen, "internal error: statement %d has no SQL", q);
            ret = OD_EINTERNAL;
            goto out;
        }
        if (sqlite3_prepare_v3(st->db, store__sql[q].sql, -1, SQLITE_PREPARE_PERSISTENT,
                               &st->stmt[q], NULL) != SQLITE_OK) {
            store_seterr(errbuf, errlen, "database '%s': cannot prepare %s: %s", path,
                         store__sql[q].name, sqlite3_errmsg(st->db));
            goto out;
        }
    }

    if (store__durable_open(st, wal, sync, errbuf, errlen) != 0) goto out;

    LOG_INFO("store: open path=%s schema=%d sync=%s%s", path, store_schema_version(st),
             sync == STORE_SYNC_NORMAL ? "normal" : "full",
             st->defer_sync ? " (WAL fsync off the loop thread)" : "");
    *out = st;
    st = NULL;
    ret = 0;
out:
    store_close(st);
    return ret;
}

int store_open(const char *path, enum store_sync sync, struct store **out, char *errbuf,
               size_t errlen)
{
    return store__open_with(path, sync, store__migrations, store__migrations_count, out, errbuf,
                            errlen);
}

void store_close(struct store *st)
{
    if (!st) return;
    if (st->in_batch) {
        LOG_WARN("store: closing with an open batch, rolling it back path=%s", st->path);
        store_batch_rollback(st);
    }
    store__durable_close(st);
    for (int q = 0; q < STORE_Q__COUNT; q++) sqlite3_finalize(st->stmt[q]);
    for (int i = 0; i < STORE_DM_CACHE; i++) sqlite3_finalize(st->dm_cache[i].s);
    /* Every statement is finalized, so close cannot be refused; the last connection to close
     * checkpoints and removes the WAL file. */
    if (sqlite3_close(st->db) != SQLITE_OK)
        LOG_ERROR("store: close failed path=%s err=\"%s\"", st->path, sqlite3_errmsg(st->db));
    free(st->path);
    free(st);
}

int store_schema_version(struct store *st)
{
    sqlite3_stmt *s = store__q_get(st, STORE_Q_USER_VERSION);
    if (!s) return OD_EDB;
    int rc = store__step(st, STORE_Q_USER_VERSION, s);
    int v = rc == 1 ? sqlite3_column_int(s, 0) : (rc < 0 ? rc : OD_EDB);
    store__q_put(st, STORE_Q_USER_VERSION, s);
    return v;
}

int store_schema_version_latest(void)
{
    return store__migrations[store__migrations_count - 1].version;
}

/* ---- group commit ---------------------------------------------------------------------------- */

int store_batch_begin(struct store *st)
{
    if (st->in_batch) {
        if (!sqlite3_get_autocommit(st->db)) return 0;
        /* SQLite dropped the batch after an error; keep batching so later writes still group,
         * but the commit will roll everything back and fail. */
        st->batch_lost = true;
    }
    int rc = store__exec_q(st, STORE_Q_BEGIN);
    if (rc == 0) st->in_batch = true;
    return rc;
}

int store_batch_commit(struct store *st)
{
    if (!st->in_batch) return 0;
    if (st->batch_lost || sqlite3_get_autocommit(st->db)) {
        LOG_ERROR("store: batch lost after a database error, nothing committed path=%s",
                  st->path);
        store_batch_rollback(st);
        return OD_EDB;
    }
    int rc = store__exec_q(st, STORE_Q_COMMIT);
    if (rc != 0) {
        /* Commit either happened or it did not: never leave a half-open batch behind. */
        store_batch_rollback(st);
        return OD_EDB;
    }
    st->in_batch = false;
    return 0;
}

void store_batch_rollback(struct store *st)
{
    if (!st->in_batch) return;
    if (!sqlite3_get_autocommit(st->db)) store__exec_q(st, STORE_Q_ROLLBACK);
    st->in_batch = false;
    st->batch_lost = false;
}

bool store_batch_active(const struct store *st)
{
    return st->in_batch;
}

void store_checkpoint(struct store *st)
{
    /* Not inside a write transaction: the WAL pages it wrote are not committed yet. */
    if (st->in_batch) return;
    int log_frames = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_frames,
                                       &done);
    if (rc != SQLITE_OK)
        LOG_WARN("store: checkpoint failed path=%s err=\"%s\"", st->path,
                 sqlite3_errmsg(st->db));
    else
        LOG_DEBUG("store: checkpoint wal_frames=%d checkpointed=%d", log_frames, done);
}

bool store_ping(struct store *st)
{
    if (atomic_load(&st->sync_failed)) return false;
    sqlite3_stmt *s = store__q_get(st, STORE_Q_PING);
    if (!s) return false;
    int rc = store__step(st, STORE_Q_PING, s);
    store__q_put(st, STORE_Q_PING, s);
    return rc == 1;
}
