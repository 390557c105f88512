/*
 * call.h — CSMS-initiated OCPP calls to a connected charger.
 *
 * OCPP-J allows one outstanding CALL per direction, so each connection sends its calls one at a
 * time and queues the rest (bounded). Every call has a timeout, and its completion callback runs
 * exactly once: with the charger's CALLRESULT, its CALLERROR, a timeout, or the disconnect.
 * Payloads are validated against the request schema before anything is queued, and results
 * against the response schema before they are delivered.
 */
#ifndef OD_CALL_H
#define OD_CALL_H

#include "rpc.h"

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

struct conn;

enum call_status {
    CALL_RESULT,       /* payload: the CALLRESULT payload (schema-valid) */
    CALL_ERROR,        /* error_code/description/payload(details) from the charger's CALLERROR */
    CALL_TIMEOUT,      /* no answer in time */
    CALL_DISCONNECTED, /* the connection went away first */
};

struct call_outcome {
    enum call_status status;
    const json_t *payload; /* borrowed for the duration of the callback; may be NULL */
    const char *error_code;
    const char *error_description;
    int64_t rtt_ms;
};

typedef void (*call_done_cb)(void *ctx, const struct call_outcome *out);

#define CALL_QUEUE_MAX 64

struct call {
    struct call *next;     /* in the connection's queue */
    struct conn *conn;     /* referenced until the call is freed */
    char id[RPC_ID_MAX + 1];
    char action[48];
    json_t *payload;       /* owned */
    call_done_cb cb;
    void *ctx;
    uv_timer_t timer;
    int timeout_ms;
    int64_t sent_ms;
    bool done;
};

/*
 * Queues a call of action with payload (a new reference is taken; the caller keeps its own).
 * Returns 0; OD_EINVAL with err filled if the payload fails the request schema or the action is
 * unknown for the charger's version; OD_ELIMIT if too many calls are queued; OD_ECLOSED if the
 * connection is closing. On error cb is never called.
 */
int call_send(struct conn *c, const char *action, json_t *payload, int timeout_ms, call_done_cb cb,
              void *ctx, struct ocpp_error *err);

/* A CALLRESULT or CALLERROR arrived on c (the dispatcher's entry point). */
void call_on_reply(struct conn *c, const struct rpc_msg *msg);

/* The connection is gone: every queued and in-flight call completes with CALL_DISCONNECTED. */
void call_fail_all(struct conn *c);

#endif
