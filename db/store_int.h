/*
 * store_int.h — internals shared by the db/store*.c files: the connection struct, the
 * prepared-statement table, the compiled-in migrations and the bind/read/step helpers.
 *
 * Not an API: nothing outside db/ includes it except tests/unit/test_store.c, which uses the
 * migration hook below. It names SQLite's types by struct tag instead of including
 * <sqlite3.h>, so that test stays on the right side of the "only db/ sees SQLite" boundary.
 */
#ifndef OD_STORE_INT_H
#define OD_STORE_INT_H

#include "store.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct sqlite3;
struct sqlite3_stmt;

/* ---- statements: one enum row per entry of store__sql[] (store_sql.c) ---------------------- */

enum store_q {
    STORE_Q_BEGIN,
    STORE_Q_COMMIT,
    STORE_Q_ROLLBACK,
    STORE_Q_SP_BEGIN,
    STORE_Q_SP_RELEASE,
    STORE_Q_SP_ROLLBACK,
    STORE_Q_USER_VERSION,
    STORE_Q_PING,

    STORE_Q_CHARGER_GET,
    STORE_Q_CHARGER_PUT,
    STORE_Q_CHARGER_TOUCH,
    STORE_Q_CHARGER_DELETE,
    STORE_Q_CHARGER_FOREACH,
    STORE_Q_CONNECTOR_GET,
    STORE_Q_CONNECTOR_PUT,
    STORE_Q_CONNECTOR_DELETE_CHARGER,
    STORE_Q_CONNECTOR_FOREACH,
    STORE_Q_TOKEN_GET,
    STORE_Q_TOKEN_PUT,
    STORE_Q_TOKEN_DELETE,
    STORE_Q_TOKEN_FOREACH,

    STORE_Q_TX_NEXT_ID,
    STORE_Q_TX_FREE_ID,
    STORE_Q_TX_INSERT,
    STORE_Q_TX_UPDATE,
    STORE_Q_TX_GET,
    STORE_Q_TX_GET_EXT,
    STORE_Q_TX_FIND_START,
    STORE_Q_TX_ACTIVE_CHARGER,
    STORE_Q_TX_ACTIVE_CONNECTOR,
    STORE_Q_TX_QUERY_ALL,
    STORE_Q_TX_QUERY_OPEN,
    STORE_Q_TX_QUERY_CHARGER,
    STORE_Q_METER_INSERT,
    STORE_Q_METER_FOREACH_TX,
    STORE_Q_METER_COUNT,

    STORE_Q_NOTICE_INSERT,
    STORE_Q_EVENT_APPEND,
    STORE_Q_EVENT_FOREACH,
    STORE_Q_EVENT_LAST_SEQ,

    STORE_Q__COUNT
};

struct store_sql {
    const char *name; /* for log lines */
    const char *sql;
};
/* Indexed by enum store_q; every entry is set (store_open checks). */
extern const struct store_sql store__sql[STORE_Q__COUNT];

/*
 * Column lists shared by the SQL (store_sql.c) and the row readers and binders (store_*.c),
 * which walk the columns, and the ?N parameters, in exactly this order.
 */
#define STORE_CHARGER_COLS                                                                   \
    "id, protocol, registration, provisioned, password_hash, station_id, vendor, model, "     \
    "serial, charge_box_serial, firmware, iccid, imsi, meter_type, meter_serial, "            \
    "boot_reason, created_ms, last_seen_ms, last_boot_ms"
#define STORE_CONNECTOR_COLS                                                                 \
    "charger_id, evse_id, connector_id, status, raw_status, error_code, info, vendor_id, "    \
    "vendor_error_code, status_ms, availability, tx_id, last_meter_wh, last_meter_ms, "       \
    "updated_ms"
#define STORE_TOKEN_COLS "id_tag, status, expiry_ms, parent_id_tag, type, updated_ms"
#define STORE_TX_COLS                                                                        \
    "id, ext_id, charger_id, evse_id, connector_id, id_tag, start_ms, stop_ms, active, "      \
    "meter_start_wh, meter_stop_wh, reservation_id, stop_reason, stop_id_tag, flags, note, "  \
    "last_energy_wh, last_power_w, last_soc, last_meter_ms, created_ms, updated_ms"
#define STORE_METER_COLS                                                                     \
    "tx_id, charger_id, evse_id, connector_id, ts_ms, measurand, phase, unit, context, "      \
    "location, format, raw_value, value, norm_unit"
#define STORE_EVENT_COLS "seq, time_ms, type, charger_id, data"

/* The largest id store_tx_insert hands out: 1.6 transactionId is a signed 32-bit integer. */
#define STORE_TX_ID_MAX INT64_C(2147483647)

/* ---- the connection --------------------------------------------------------------------- */

#define STORE_DM_CACHE 24 /* more than store_devmodel.c has statements */

/* Owned by the loop thread that opened it; store_close frees everything below. */
struct store {
    struct sqlite3 *db;
    char *path;        /* owned copy, for log lines */
    bool in_batch;     /* store_batch_begin ran and no commit/rollback since */
    bool batch_lost;   /* SQLite rolled the batch back after an error: commit must fail */
    struct sqlite3_stmt *stmt[STORE_Q__COUNT];
    bool stmt_busy[STORE_Q__COUNT]; /* checked out by a running call (see store__q_get) */

    /* Durability split from commit (store_durable.c). The worker thread reads defer_sync and
     * wal_fd, which change only at open and close, and uses ckpt_db alone; the rest is the loop
     * thread's. */
    bool wal;          /* a WAL file on disk: commits append and the fields below apply */
    bool defer_sync;   /* sync FULL on a WAL file: COMMIT does not fsync, store_wal_fsync does */
    /* The -wal file for fdatasync, opened at open: one descriptor per thread, because Linux
     * reports a writeback error once per open file and each caller must see it. -1 if unused. */
    int wal_fd[STORE_FSYNC__COUNT];
    atomic_bool sync_failed; /* an fsync failed: nothing may be called durable any more */
    int wal_frames;    /* frames in the WAL after the last commit (from the wal hook) */
    int wal_frames_mark; /* wal_frames when the last background checkpoint was due */
    struct sqlite3 *ckpt_db; /* second connection, used only by store_checkpoint_bg */

    /* store_devmodel.c's statements, prepared on first use and kept (see dm_prepare) */
    struct store_dm_stmt {
        struct sqlite3_stmt *s;
        bool busy;
    } dm_cache[STORE_DM_CACHE];
};

/* store_durable.c: called by store__open_with once the statements are prepared, and by
 * store_close. */
int store__durable_open(struct store *st, bool wal, enum store_sync sync, char *errbuf,
                        size_t errlen);
void store__durable_close(struct store *st);

/* ---- migrations (generated into store_migrations.c by tools/embed-sql.py) --------------- */

struct store__migration {
    int version;      /* 1, 2, 3, ... in array order */
    const char *name; /* "0001_initial" */
    const char *sql;
};
extern const struct store__migration store__migrations[];
extern const int store__migrations_count;

/*
 * store_open with an explicit migration list (store_open passes the compiled-in one). Exposed
 * so the unit test can exercise in-place upgrades and failing migrations; the list must hold
 * the real migrations first, since statements are prepared against the resulting schema.
 */
int store__open_with(const char *path, enum store_sync sync, const struct store__migration *m,
                     int count, struct store **out, char *errbuf, size_t errlen);

/* ---- helpers (store.c) ------------------------------------------------------------------ */

/*
 * Checks out statement q for one call: the cached one, reset and unbound, or, when that one is
 * still running because a foreach callback re-entered the store, a private copy prepared for
 * this call. NULL (logged) if even that fails. Hand it back with store__q_put.
 */
struct sqlite3_stmt *store__q_get(struct store *st, enum store_q q);
void store__q_put(struct store *st, enum store_q q, struct sqlite3_stmt *s);

/*
 * Keyset-paged iteration behind the foreach calls that hand out record copies. Rows are read
 * STORE_SCAN_CHUNK at a time into the caller's buffer and the statement is reset before any
 * callback runs, so a callback may call anything in the store, writes included, without
 * disturbing the iteration or seeing a row twice: the next chunk starts after the exact key
 * values (copied from the row, not from the possibly truncated record) of the last row read.
 * A single long-running SELECT would not do: SQLite leaves it undefined whether it sees writes
 * made to its table meanwhile, and an updated row can indeed come round again.
 */
#define STORE_SCAN_CHUNK 16

struct store__scan {
    enum store_q q;
    size_t rec_size;
    void *buf; /* STORE_SCAN_CHUNK * rec_size bytes, usually on the caller's stack */
    int limit; /* rows in total, 0 = no limit */
    /* The ordering key: column key_col[i] of a row feeds parameter key_param + i. */
    int nkeys;
    int key_col[2];
    int key_param;
    /* Binds every parameter, the chunk size as the LIMIT and keys that sort before the first
     * row; store__scan rebinds the key parameters for the chunks after the first. Returns 0
     * or a failing SQLite code (codes may be OR-ed together). */
    int (*bind)(struct sqlite3_stmt *s, int chunk, void *arg);
    void (*read)(struct sqlite3_stmt *s, void *rec);
    int (*deliver)(const void *rec, void *arg); /* the user's callback; non-zero stops */
    void *arg;
};
/* Returns 0, the callback's non-zero answer, or OD_EDB. */
int store__scan(struct store *st, const struct store__scan *sc);

/* Steps s: 1 = a row, 0 = done, OD_EDB (logged with sqlite3_errmsg) on error. A UNIQUE or
 * PRIMARY KEY violation returns OD_EEXISTS instead, logged as a warning. */
int store__step(struct store *st, enum store_q q, struct sqlite3_stmt *s);
/* True (logged, and the batch marked lost) when s would write outside a batch that SQLite has
 * already rolled back: the caller must not step it. */
bool store__batch_dropped(struct store *st, struct sqlite3_stmt *s, const char *what);
/* Logs a failed bind (rc != 0) and returns OD_EDB; returns 0 for rc == 0. */
int store__bind_check(struct store *st, enum store_q q, int rc);
/* Runs a statement that takes no parameters and returns no rows (transaction control). */
int store__exec_q(struct store *st, enum store_q q);
/* Rows changed by the last write on this connection. */
int64_t store__changes(struct store *st);

/*
 * Savepoint around a multi-statement write, so the write is atomic both on its own and inside
 * a batch (where a failure then undoes only this call, not the batch).
 */
int store__sp_begin(struct store *st);
int store__sp_end(struct store *st, int rc); /* releases if rc == 0, else rolls back; returns rc */

/* Binds a fixed-size record field: at most cap bytes, stopping at the first NUL. */
int store__bind_field(struct sqlite3_stmt *s, int idx, const char *field, size_t cap);
/* Binds a C string, or SQL NULL for a NULL pointer. */
int store__bind_str(struct sqlite3_stmt *s, int idx, const char *str);
/* Binds v, or SQL NULL when !has. */
int store__bind_opt_double(struct sqlite3_stmt *s, int idx, bool has, double v);

/* Copies column col into dst[cap] (NULL reads as ""), truncated at a UTF-8 character boundary
 * and always NUL-terminated. */
void store__col_field(struct sqlite3_stmt *s, int col, char *dst, size_t cap);
/* Reads a nullable REAL column: false (and *out = 0) for NULL. */
bool store__col_opt_double(struct sqlite3_stmt *s, int col, double *out);

/* Copies src (len bytes) into dst[cap] as above; returns the bytes copied. */
size_t store__copy_utf8(char *dst, size_t cap, const char *src, size_t len);

#endif
