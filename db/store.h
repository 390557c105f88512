/*
 * store.h — ocppd's durable state in SQLite. The only module that includes <sqlite3.h> or holds
 * SQL.
 *
 * One connection, owned by the loop thread (plus one for background checkpoints, see
 * "durability" below). WAL journal; statements prepared once at open.
 * Writes are grouped: the server opens a batch (store_batch_begin) at the first write of a loop
 * iteration and commits it once per iteration before any reply for those writes is sent (group
 * commit). Every write function below may be called inside or outside a batch; outside one it
 * is its own transaction.
 * Times are int64 milliseconds since the epoch (UTC); 0 means "unset". Strings in the record
 * structs are fixed-size copies (truncated to fit, always NUL-terminated), so records are plain
 * values with no ownership.
 *
 * foreach callbacks may call any store function, writes included. The calls that pass record
 * copies (chargers, connectors, tokens, transactions) deliver each row at most once; rows
 * written during the iteration may or may not be seen. The meter and event iterations hand out
 * borrowed strings and stream: rows appended meanwhile may be seen.
 */
#ifndef OD_STORE_H
#define OD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* ---- lifecycle ------------------------------------------------------------------------------ */

enum store_sync { STORE_SYNC_FULL = 0, STORE_SYNC_NORMAL = 1 };

/*
 * Opens (creating if needed) the database at path (":memory:" allowed), applies pending
 * migrations (db/migrations/NNNN_*.sql, compiled in) and prepares statements. A database whose
 * schema version is newer than this build knows fails with OD_EDBVERSION. On failure, *out is
 * NULL and errbuf holds one line saying why.
 */
int store_open(const char *path, enum store_sync sync, struct store **out, char *errbuf,
               size_t errlen);
void store_close(struct store *st); /* NULL is a no-op; rolls back an open batch */
/* Schema version after migrations (PRAGMA user_version). */
int store_schema_version(struct store *st);
/* Highest migration version compiled into this binary. */
int store_schema_version_latest(void);

/* ---- group commit ----------------------------------------------------------------------------- */

int store_batch_begin(struct store *st);  /* opens a write transaction unless one is open */
/* Commits the open batch; 0 if none is open. On OD_EDB nothing of the batch was committed (a
 * failed commit, or SQLite dropped the batch after an earlier write failed) and none is open. */
int store_batch_commit(struct store *st);
void store_batch_rollback(struct store *st);
bool store_batch_active(const struct store *st);
/* Runs a passive WAL checkpoint on the loop thread's connection. */
void store_checkpoint(struct store *st);

/* ---- durability (store_durable.c) ---------------------------------------------------------- */

/*
 * With sync FULL on a WAL file, a commit is not durable until store_wal_fsync has run after it
 * (store_sync_deferred is true); one call covers every commit before it. store_wal_fsync and
 * store_checkpoint_bg are the only store calls made off the loop thread: from one worker thread
 * at a time, while the loop thread goes on committing.
 */
bool store_sync_deferred(const struct store *st);
/* Who calls store_wal_fsync: each has its own descriptor of the WAL file. */
enum store_fsync_caller { STORE_FSYNC_WORKER, STORE_FSYNC_LOOP, STORE_FSYNC__COUNT };
/* 0, or OD_EIO: the commits cannot be called durable. A failure is sticky: the kernel may have
 * dropped the pages it could not write, so every later call fails too (and store_ping reports
 * the store unhealthy) until ocppd is restarted and SQLite recovers from what is on disk. */
int store_wal_fsync(struct store *st, enum store_fsync_caller who);
/* Passive checkpoint on the store's second connection; *frames and *copied as SQLite reports
 * them. SQLite's own checkpoint-on-commit is off for a WAL file: the caller schedules this. */
int store_checkpoint_bg(struct store *st, int *frames, int *copied);
/* Whether a store_checkpoint_bg is due (the WAL grew enough since the last one began, or when
 * idle, grew at all); true counts as beginning one. Loop thread. */
bool store_checkpoint_due(struct store *st, bool idle);
/* A cheap read that proves the database answers, and no WAL fsync failed (for /healthz). */
bool store_ping(struct store *st);

/* ---- chargers ------------------------------------------------------------------------------ */

#define STORE_ID_LEN 49  /* charge point id: 1..48 chars + NUL */
#define STORE_STR_LEN 64 /* vendor, model, serial, firmware, ... */

struct store_charger {
    char id[STORE_ID_LEN];
    char protocol[16];     /* "ocpp1.6" | "ocpp2.0.1" (last seen) */
    char registration[16]; /* "Accepted" | "Pending" | "Rejected" | "" (never booted) */
    bool provisioned;      /* registered by an operator (chargers.register) */
    char password_hash[160]; /* "" = no password; otherwise an encoded salted slow hash */
    char station_id[STORE_STR_LEN];
    char vendor[STORE_STR_LEN];
    char model[STORE_STR_LEN];
    char serial[STORE_STR_LEN];            /* chargePointSerialNumber / serialNumber */
    char charge_box_serial[STORE_STR_LEN]; /* 1.6 chargeBoxSerialNumber */
    char firmware[STORE_STR_LEN];
    char iccid[STORE_STR_LEN];
    char imsi[STORE_STR_LEN];
    char meter_type[STORE_STR_LEN];
    char meter_serial[STORE_STR_LEN];
    char boot_reason[32]; /* 2.0.1 BootReason; "" for 1.6 */
    int64_t created_ms;
    int64_t last_seen_ms;
    int64_t last_boot_ms;
};

int store_charger_get(struct store *st, const char *id, struct store_charger *out); /* OD_ENOTFOUND */
/* Inserts or replaces the whole row (created_ms is kept from an existing row). */
int store_charger_put(struct store *st, const struct store_charger *c);
/* Updates last_seen_ms and protocol, inserting a minimal row if the charger is new. A NULL or
 * "" protocol keeps the stored one. */
int store_charger_touch(struct store *st, const char *id, const char *protocol, int64_t now_ms);
/* Deletes the charger and its connectors (transactions and meter values are kept). */
int store_charger_delete(struct store *st, const char *id); /* OD_ENOTFOUND */
/* Calls fn for each charger ordered by id; fn returns non-zero to stop (that value is returned). */
int store_charger_foreach(struct store *st, int (*fn)(const struct store_charger *c, void *ctx),
                          void *ctx);

/* ---- connectors (1.6 connector N == EVSE N, connector 1 would be 2.0.1's view; 1.6 rows use
 *      evse_id = connector_id = N, and N = 0 is the charger itself) ----------------------- */

struct store_connector {
    char charger_id[STORE_ID_LEN];
    int evse_id;
    int connector_id;
    char status[24];     /* unified status shown to operators (see charger.h) */
    char raw_status[32]; /* as the charger sent it */
    char error_code[32];
    char info[64];
    char vendor_id[256];
    char vendor_error_code[64];
    int64_t status_ms;       /* charger's timestamp of the status, else receive time */
    char availability[16];   /* "Operative" | "Inoperative" */
    int64_t tx_id;           /* open transaction on this connector, 0 if none */
    bool has_meter;
    double last_meter_wh;    /* last energy register reading, normalised to Wh */
    int64_t last_meter_ms;
    int64_t updated_ms;
};

int store_connector_get(struct store *st, const char *charger_id, int evse_id, int connector_id,
                        struct store_connector *out); /* OD_ENOTFOUND */
int store_connector_put(struct store *st, const struct store_connector *c); /* insert or replace */
/* Ordered by evse_id, connector_id; fn returns non-zero to stop. */
int store_connector_foreach(struct store *st, const char *charger_id,
                            int (*fn)(const struct store_connector *c, void *ctx), void *ctx);

/* ---- id tokens --------------------------------------------------------------------------- */

struct store_token {
    char id_tag[37];  /* 1.6 idTag (20) / 2.0.1 idToken (36) */
    char status[24];  /* "Accepted" | "Blocked" | "Expired" | "Invalid" | ... */
    int64_t expiry_ms; /* 0 = never */
    char parent_id_tag[37];
    char type[24];    /* 2.0.1 IdTokenEnumType, "" for 1.6-only tokens */
    int64_t updated_ms;
};

int store_token_get(struct store *st, const char *id_tag, struct store_token *out); /* OD_ENOTFOUND */
int store_token_put(struct store *st, const struct store_token *t); /* insert or replace */
int store_token_delete(struct store *st, const char *id_tag);       /* OD_ENOTFOUND */
int store_token_foreach(struct store *st, int (*fn)(const struct store_token *t, void *ctx),
                        void *ctx);

/* ---- transactions ------------------------------------------------------------------------ */

/* Integrity flags recorded on a transaction (bitmask, stored as an integer). */
enum store_tx_flag {
    STORE_TX_METER_BACKWARDS = 1u << 0,   /* a register reading went down */
    STORE_TX_STOP_BELOW_START = 1u << 1,  /* meterStop < meterStart */
    STORE_TX_FUTURE_TIME = 1u << 2,       /* a timestamp far ahead of the server clock */
    STORE_TX_UNKNOWN_STOP = 1u << 3,      /* Stop for a transaction the server never started */
    STORE_TX_REPEATED_STOP = 1u << 4,     /* Stop received again after the first */
    STORE_TX_CLOSED_BY_SERVER = 1u << 5,  /* zombie closed on reboot/Available */
    STORE_TX_NO_TIMEZONE = 1u << 6,       /* a timestamp came without zone, read as UTC */
    STORE_TX_REPEATED_START = 1u << 7,    /* StartTransaction answered again with the same id */
    STORE_TX_LATE_START = 1u << 8,        /* start timestamp long before it was received */
    STORE_TX_UNKNOWN_CONNECTOR = 1u << 9, /* started on a connector never reported before */
    STORE_TX_SEQ_GAP = 1u << 10,          /* 2.0.1 seqNo gap */
};

struct store_tx {
    int64_t id;            /* 1.6 transactionId (positive, < 2^31); row id */
    char ext_id[40];       /* 2.0.1 transactionId chosen by the charger; "" for 1.6 */
    char charger_id[STORE_ID_LEN];
    int evse_id;
    int connector_id;
    char id_tag[37];
    int64_t start_ms;
    int64_t stop_ms;       /* 0 while active */
    bool active;
    bool has_meter_start;
    double meter_start_wh;
    bool has_meter_stop;
    double meter_stop_wh;
    bool has_reservation;
    int reservation_id;
    char stop_reason[32];
    char stop_id_tag[37];
    uint32_t flags;        /* enum store_tx_flag */
    char note[256];        /* free text: why the server closed or flagged it */
    bool has_energy;
    double last_energy_wh; /* latest register reading */
    bool has_power;
    double last_power_w;
    bool has_soc;
    double last_soc;
    int64_t last_meter_ms;
    int64_t created_ms;
    int64_t updated_ms;
};

/* Inserts tx; when tx->id is 0 a new id is allocated and written back. OD_EEXISTS if the id,
 * or the ext_id on that charger, is taken; OD_EINVAL for an explicit id outside 1..2^31-1. */
int store_tx_insert(struct store *st, struct store_tx *tx);
int store_tx_update(struct store *st, const struct store_tx *tx); /* by id; OD_ENOTFOUND */
int store_tx_get(struct store *st, int64_t id, struct store_tx *out); /* OD_ENOTFOUND */
int store_tx_get_ext(struct store *st, const char *charger_id, const char *ext_id,
                     struct store_tx *out); /* 2.0.1 lookup; OD_ENOTFOUND */
/* The transaction started with exactly these values (a repeated StartTransaction). */
int store_tx_find_start(struct store *st, const char *charger_id, int connector_id,
                        const char *id_tag, double meter_start_wh, int64_t start_ms,
                        struct store_tx *out); /* OD_ENOTFOUND */
/* Active transactions of a charger (all connectors when connector_id < 0, evse_id then
 * ignored), oldest first (start_ms, then id). */
int store_tx_foreach_active(struct store *st, const char *charger_id, int evse_id, int connector_id,
                            int (*fn)(const struct store_tx *tx, void *ctx), void *ctx);

struct store_tx_query {
    const char *charger_id; /* NULL = all */
    int active;             /* -1 = any, 0 = stopped only, 1 = active only */
    int64_t since_ms;       /* start_ms >= since_ms; 0 = any */
    int64_t before_id;      /* cursor: id < before_id; 0 = from newest */
    int limit;              /* <= 0 = no limit */
};
/* Newest first. */
int store_tx_query(struct store *st, const struct store_tx_query *q,
                   int (*fn)(const struct store_tx *tx, void *ctx), void *ctx);

/* ---- meter values ------------------------------------------------------------------------ */

struct store_meter_value {
    int64_t tx_id;            /* 0 if not linked to a transaction */
    const char *charger_id;
    int evse_id;
    int connector_id;
    int64_t timestamp_ms;
    const char *measurand;    /* default "Energy.Active.Import.Register" applied by the caller */
    const char *phase;        /* NULL if absent (likewise below) */
    const char *unit;         /* as sent */
    const char *context;
    const char *location;
    const char *format;
    const char *raw_value;    /* the string as sent */
    bool has_value;           /* raw_value parsed as a number */
    double value;             /* normalised: Wh, W, varh, var, VA, A, V, Celsius, Percent */
    const char *norm_unit;    /* unit of value after normalisation */
};

int store_meter_insert(struct store *st, const struct store_meter_value *mv);
/* Meter values of a transaction in time order; fn gets a borrowed record valid for the call. */
int store_meter_foreach_tx(struct store *st, int64_t tx_id,
                           int (*fn)(const struct store_meter_value *mv, void *ctx), void *ctx);
int64_t store_meter_count(struct store *st); /* for tests and metrics */

/* ---- charger reports (1.6 Diagnostics/Firmware status, security events, data transfers) ---- */

/* Appends a row to the charger's notification log (kind e.g. "FirmwareStatusNotification",
 * payload the JSON text of the message). */
int store_notice_insert(struct store *st, const char *charger_id, const char *kind,
                        const char *payload_json, int64_t time_ms);

/* ---- events (append-only, monotonic seq) --------------------------------------------------- */

struct store_event {
    int64_t seq;
    int64_t time_ms;
    char type[48];
    char charger_id[STORE_ID_LEN]; /* "" when not about a charger */
    const char *data_json;         /* borrowed, valid during the callback */
};

int store_event_append(struct store *st, int64_t time_ms, const char *type, const char *charger_id,
                       const char *data_json, int64_t *out_seq);
/* Events with seq > after_seq in seq order, at most limit (0 = no limit). */
int store_event_foreach(struct store *st, int64_t after_seq, int limit,
                        int (*fn)(const struct store_event *ev, void *ctx), void *ctx);
int64_t store_event_last_seq(struct store *st); /* 0 if none */

#endif
