/*
 * handler.h — the contract between the dispatcher and the per-version message handlers.
 *
 * A handler gets a payload already validated against the official request schema, calls the
 * version-neutral model (src/model.h), and returns either a response payload (a new reference,
 * validated against the response schema by the dispatcher before it is sent) or a protocol
 * error. Handlers never write to the socket and never commit: the dispatcher queues the reply
 * behind the group commit.
 */
#ifndef OCPP_HANDLER_H
#define OCPP_HANDLER_H

#include "model.h"
#include "rpc.h"

#include <jansson.h>

struct ocpp_ctx {
    struct model_ctx m;
    enum ocpp_version version;
    const char *msg_id;
};

/* Returns 0 with *resp set (new reference), or non-zero with err filled. */
typedef int (*ocpp_handler_fn)(struct ocpp_ctx *ctx, const json_t *req, json_t **resp,
                               struct ocpp_error *err);

enum ocpp_handler_flags {
    OCPP_HANDLER_ANY_REGISTRATION = 1 << 0, /* allowed before the charger is Accepted */
};

struct ocpp_handler {
    const char *action;
    ocpp_handler_fn fn;
    unsigned flags;
};

/* The charger-initiated actions of 1.6 / 2.0.1 that ocppd handles, or NULL. */
const struct ocpp_handler *v16_handler_find(const char *action);
const struct ocpp_handler *v201_handler_find(const char *action);

/* Helpers shared by handlers. */
/* Borrowed string member or NULL. */
const char *ocpp_json_str(const json_t *obj, const char *key);
/* Parses a date-time member; missing/invalid -> fallback_ms with *had_zone=true. */
int64_t ocpp_json_time(const json_t *obj, const char *key, int64_t fallback_ms, bool *had_zone);
/* New string holding the current time in OCPP's format. */
json_t *ocpp_json_now(int64_t now_ms);
/* Sampled values one message may carry (the frame cap bounds it too). */
#define OCPP_MAX_SAMPLES 512

/* Reads one version's sampledValue object into a model sample (strings borrowed). */
typedef void (*ocpp_sample_fn)(const json_t *sv, struct model_sample *out);

/*
 * Converts a meterValue array (same outer shape in 1.6 and 2.0.1: timestamp + sampledValue[])
 * into model records, each sample read by the version's read_sample. The records live in one
 * allocation returned in *storage (caller frees) and borrow strings from arr. OD_ELIMIT if the
 * message holds more than OCPP_MAX_SAMPLES samples.
 */
int ocpp_meter_values(const json_t *arr, int64_t now_ms, ocpp_sample_fn read_sample,
                      struct model_meter_value **out, int *nout, void **storage);

/* Fills err with InternalError for a model/store failure rc and logs it. */
int ocpp_internal_error(struct ocpp_ctx *ctx, int rc, struct ocpp_error *err);

#endif
