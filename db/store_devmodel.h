/*
 * store_devmodel.h — what OCPP 2.0.1 adds to the store (migration 0003_device_model.sql): the
 * device model per charger, the parts of multi-part reports until they are assembled, and the
 * ledger of TransactionEvent sequence numbers per transaction (0004_tx_remote_start.sql adds the
 * remoteStartId to it).
 *
 * Kept apart from store.h so 2.0.1 work does not collide with other store work. It only stores
 * and fetches: which variables a report holds and what a gap means is decided in src/ and
 * ocpp/v201/. Loop thread only. These calls prepare their statements per call (store.c's
 * statement table is shared); they run on reports and transaction events, not per sample.
 */
#ifndef OD_STORE_DEVMODEL_H
#define OD_STORE_DEVMODEL_H

#include "store.h"

#include <stdbool.h>
#include <stdint.h>

/* ---- device model variables ------------------------------------------------------------ */

/* One variable attribute. Sizes follow the 2.0.1 schema limits (+1 for the NUL). */
struct store_dm_var {
    char charger_id[STORE_ID_LEN];
    char component[51];
    char component_instance[51]; /* "" when absent */
    int evse_id;                 /* 0 when the component names no EVSE */
    int connector_id;            /* 0 when absent */
    char variable[51];
    char variable_instance[51];  /* "" when absent */
    char attr_type[16];          /* Actual | Target | MinSet | MaxSet */
    bool has_value;
    char value[2501];
    char mutability[16];         /* ReadOnly | WriteOnly | ReadWrite | "" */
    bool persistent, constant;
    char data_type[24];          /* from variableCharacteristics, "" if not reported */
    char unit[17];
    bool has_min, has_max;
    double min_limit, max_limit;
    char values_list[1001];
    bool supports_monitoring;
    int64_t updated_ms;
};

/* Inserts or replaces one attribute (keyed by everything up to attr_type). */
int store_dm_var_put(struct store *st, const struct store_dm_var *v);
/* The charger's variables ordered by key; component / variable NULL = any. fn returns non-zero
 * to stop (that value is returned). fn gets a borrowed record valid for the call. */
int store_dm_var_foreach(struct store *st, const char *charger_id, const char *component,
                         const char *variable, int (*fn)(const struct store_dm_var *v, void *ctx),
                         void *ctx);
/* Number of stored attributes of a charger (for summaries and tests). */
int store_dm_var_count(struct store *st, const char *charger_id, int64_t *out);

/* ---- report parts ----------------------------------------------------------------------- */

/* Keeps one part of report request_id (payload: its reportData as JSON text, borrowed).
 * OD_EEXISTS if that seqNo is already kept (a repeated message). */
int store_dm_part_put(struct store *st, const char *charger_id, int request_id, int seq_no,
                      bool tbc, const char *payload_json, int64_t now_ms);
/* Parts of a report in seqNo order; payload borrowed for the call; non-zero from fn stops. */
int store_dm_part_foreach(struct store *st, const char *charger_id, int request_id,
                          int (*fn)(int seq_no, bool tbc, const char *payload, void *ctx),
                          void *ctx);
/* How many parts are kept, and the highest seqNo (-1 if none). */
int store_dm_part_count(struct store *st, const char *charger_id, int request_id, int *count,
                        int *max_seq);
/* The seqNo of the report's kept final part (tbc false), or -1 if none is kept. */
int store_dm_part_final(struct store *st, const char *charger_id, int request_id, int *seq_no);
/* Forgets the report's parts; with keep_final the final part stays (see model_report_part). */
int store_dm_part_delete(struct store *st, const char *charger_id, int request_id,
                         bool keep_final);

/* ---- transaction event ledger --------------------------------------------------------- */

struct store_tx_event {
    int64_t tx_id;
    int64_t seq_no;             /* the schema puts no bound on it */
    const char *event_type;     /* borrowed strings, "" or NULL when absent */
    const char *trigger_reason;
    const char *charging_state;
    const char *stopped_reason;
    const char *id_token_type;
    bool offline;
    bool has_remote_start;      /* transactionInfo.remoteStartId was present */
    int64_t remote_start_id;
    int64_t ts_ms;
    int64_t received_ms;
};

/* Records one event. OD_EEXISTS (without logging) if (tx_id, seq_no) is already recorded. */
int store_tx_event_put(struct store *st, const struct store_tx_event *ev);
/* The transaction of the charger whose events named remote_start_id (the newest if several):
 * OD_ENOTFOUND if none. */
int store_tx_find_remote_start(struct store *st, const char *charger_id, int64_t remote_start_id,
                               int64_t *tx_id);
/* Events recorded for tx_id, with the lowest and highest seqNo (-1 if none). */
int store_tx_event_count(struct store *st, int64_t tx_id, int64_t *count, int64_t *min_seq,
                         int64_t *max_seq);

#endif
