/*
 * model.h — the version-neutral charging model: chargers, connectors, tokens, transactions,
 * meter values. The OCPP 1.6 and 2.0.1 handlers translate their messages into these calls; the
 * functions here decide what the messages mean, record it in the store (inside the current
 * batch) and emit events. Nothing here knows a wire format.
 *
 * Connector addressing: (evse_id, connector_id). A 1.6 connector N is (N, N); 1.6 connector 0,
 * the charger itself, is (0, 0).
 */
#ifndef OD_MODEL_H
#define OD_MODEL_H

#include <stdbool.h>
#include <stdint.h>

struct server;
struct conn;
struct store_dm_var;

/* Who is asking, and when. All pointers borrowed for the call. */
struct model_ctx {
    struct server *srv;
    struct conn *conn;
    const char *charger_id;
    const char *protocol; /* "ocpp1.6" | "ocpp2.0.1" */
    int64_t now_ms;
};

/* ---- chargers ---------------------------------------------------------------------------- */

enum model_registration { REG_NEVER = 0, REG_ACCEPTED, REG_PENDING, REG_REJECTED };

struct model_boot {
    const char *vendor, *model, *serial, *charge_box_serial, *firmware;
    const char *iccid, *imsi, *meter_type, *meter_serial, *reason;
};

/* Records a boot and decides registration. Closes transactions the reboot left open. */
int model_charger_boot(const struct model_ctx *m, const struct model_boot *b,
                       enum model_registration *out);
/* Registration state the connection starts with (from the store), and whether the charger was
 * pre-provisioned by an operator. */
int model_charger_connected(const struct model_ctx *m, enum model_registration *reg,
                            bool *provisioned);
void model_charger_disconnected(const struct model_ctx *m);
const char *model_registration_name(enum model_registration r);
/* Heartbeat and any other sign of life. */
int model_charger_seen(const struct model_ctx *m);
/* We answered one of the charger's CALLs with CALLERROR: an ocpp.callerror event (direction
 * toCharger), so operators see which chargers send what the server cannot accept. action is
 * NULL when the frame named none we could read. */
int model_callerror_sent(const struct model_ctx *m, const char *action, const char *error_code,
                         const char *description, const char *path);

/* ---- connectors -------------------------------------------------------------------------- */

struct model_status {
    int evse_id, connector_id;
    const char *status;      /* unified status */
    const char *raw_status;  /* as sent */
    const char *error_code, *info, *vendor_id, *vendor_error_code; /* may be NULL */
    int64_t timestamp_ms;    /* 0 if the charger sent none */
};

int model_connector_status(const struct model_ctx *m, const struct model_status *s);

/* ---- tokens ------------------------------------------------------------------------------ */

struct model_auth {
    char status[24]; /* Accepted | Blocked | Expired | Invalid | ConcurrentTx */
    int64_t expiry_ms;
    char parent_id_tag[37];
    bool known;      /* the token is in the table (2.0.1 answers Unknown, not Invalid) */
};

/* Answers from the token table (Expired once expiry passed; unknown -> Invalid unless the
 * server accepts unknown tokens). */
int model_authorize(const struct model_ctx *m, const char *id_tag, struct model_auth *out);
/* The same with the 2.0.1 token type: a stored token with a type only matches that type, and
 * NoAuthorization (the charger authorized nothing) is always Accepted. type may be NULL. */
int model_authorize_typed(const struct model_ctx *m, const char *id_tag, const char *type,
                          struct model_auth *out);

/* ---- transactions ------------------------------------------------------------------------ */

struct model_tx_start {
    int evse_id, connector_id;
    const char *id_tag;
    bool has_meter_start;
    double meter_start_wh;
    int64_t start_ms;
    bool start_had_zone;
    bool has_reservation;
    int reservation_id;
    const char *ext_id;        /* 2.0.1 transactionId chosen by the charger; NULL for 1.6 */
    const char *id_token_type; /* 2.0.1 IdTokenEnumType or NULL */
    const char *first_seen_in; /* NULL, or the event that revealed the transaction when its
                                  start never arrived ("Updated") */
};

/* Starts (or, for a repeated identical start, finds) a transaction. With ext_id, "repeated"
 * means the same charger transaction id; a transaction first stored by its end (an Ended that
 * arrived before its Started) gets its start values filled in. */
int model_tx_start(const struct model_ctx *m, const struct model_tx_start *s, int64_t *tx_id,
                   struct model_auth *auth);

struct model_tx_stop {
    int64_t tx_id;          /* as the charger sent it (may be unknown, or -1) */
    const char *id_tag;     /* may be NULL */
    bool has_meter_stop;
    double meter_stop_wh;
    int64_t stop_ms;
    bool stop_had_zone;
    const char *reason;     /* may be NULL (1.6 default: Local) */
    const char *ext_id;     /* 2.0.1: the charger's transactionId (then tx_id is ignored) */
};

/* Stops a transaction; unknown and repeated stops are stored and flagged, never refused.
 * *resolved_id receives the stored transaction's id (for linking transactionData) and
 * *repeated whether this Stop was already stored (its transactionData must not be again). */
int model_tx_stop(const struct model_ctx *m, const struct model_tx_stop *s, int64_t *resolved_id,
                  bool *repeated);

/* The stored transaction for a charger-chosen (2.0.1) id: OD_ENOTFOUND if none. */
int model_tx_find_ext(const struct model_ctx *m, const char *ext_id, int64_t *tx_id);
/* What a later message of a running transaction may add (2.0.1 Updated): the token when it
 * started without one (authorized later), the EVSE and connector when it started before the
 * cable was plugged in (evse_id 0). NULL / 0 = nothing new. */
int model_tx_update(const struct model_ctx *m, int64_t tx_id, const char *id_tag, int evse_id,
                    int connector_id);

/* One message of a transaction's sequence (2.0.1 TransactionEvent). Strings borrowed. */
struct model_tx_event {
    int64_t tx_id;
    int64_t seq_no;
    const char *event_type, *trigger_reason, *charging_state, *stopped_reason, *id_token_type;
    bool offline;
    bool has_remote_start;   /* the transaction answers a remote start request with this id */
    int64_t remote_start_id;
    int64_t timestamp_ms;
};

/* Records ev in the transaction's ledger. *duplicate: this seqNo was already recorded (its
 * content must not be stored again). Gaps (numbers missing between the lowest and highest seen)
 * set STORE_TX_SEQ_GAP with an event; offline messages filling the gap later clear it. */
int model_tx_event(const struct model_ctx *m, const struct model_tx_event *ev, bool *duplicate);
/* The charger's transaction that answered remote start request remote_start_id (2.0.1
 * RequestStartTransaction): OD_ENOTFOUND if none has been reported yet. */
int model_tx_find_remote_start(const struct model_ctx *m, int64_t remote_start_id,
                               int64_t *tx_id);

/* One sampled value, version-neutral. */
struct model_sample {
    const char *raw_value;  /* the text as sent ("1.7", " 0.0") or NULL for 2.0.1 numbers */
    double number;          /* 2.0.1 numeric value (used when raw_value is NULL) */
    int multiplier;         /* 2.0.1 unitOfMeasure.multiplier (power of ten), else 0 */
    const char *measurand, *phase, *unit, *context, *location, *format; /* NULL if absent */
};

struct model_meter_value {
    int64_t timestamp_ms;
    bool had_zone;
    const struct model_sample *samples;
    int nsamples;
};

/* Stores meter values for a connector (evse_id < 0: the transaction's own), linked to tx_id when the charger named a transaction
 * (0 = none); updates the transaction's latest energy/power/SoC and integrity flags. */
int model_meter_values(const struct model_ctx *m, int evse_id, int connector_id, int64_t tx_id,
                       const struct model_meter_value *mv, int nmv);
/* The energy import register reading (Wh, normalised like stored values) among mv, with the
 * given reading context (NULL = any): false if there is none. */
bool model_meter_energy_register(const struct model_meter_value *mv, int nmv,
                                 const char *context, double *wh);

/* True if the connector has an open transaction (for statuses that do not say, like 2.0.1's
 * Occupied). */
bool model_connector_has_tx(const struct model_ctx *m, int evse_id, int connector_id);
/* A finer unified status for the connector of transaction tx_id, learned from a transaction
 * message (2.0.1 chargingState). Applied only while the connector's raw status is raw_coarse
 * (what the charger itself reported stays authoritative); emits connector.status on change. */
int model_connector_refine(const struct model_ctx *m, int64_t tx_id, const char *raw_coarse,
                           const char *status);

/* ---- device model (2.0.1) ---------------------------------------------------------------- */

/* Keeps one part of a multi-part report (payload_json: the part's data, borrowed). *complete is
 * set once the last part (tbc false) is kept; *missing then counts seqNos never received. A
 * repeated part is ignored (*complete false). */
int model_report_part(const struct model_ctx *m, int request_id, int seq_no, bool tbc,
                      const char *payload_json, bool *complete, int *missing);
/* Hands a complete report's parts to fn in seqNo order, then forgets them (but the final one,
 * kept to recognise its resending) and emits devicemodel.reported. */
int model_report_assemble(const struct model_ctx *m, int request_id, int missing,
                          int (*fn)(int seq_no, const char *payload_json, void *ctx), void *ctx);
/* Stores one device model attribute of the charger (v->charger_id is overwritten). */
int model_devmodel_set(const struct model_ctx *m, struct store_dm_var *v);

/* A charger notice worth keeping (firmware/diagnostics status, security event, data transfer). */
int model_notice(const struct model_ctx *m, const char *kind, const char *payload_json);

#endif
