/*
 * admin_int.h — what the admin modules share among themselves: the JSON-RPC request handle that
 * method handlers answer, the error codes, and the method table with its params check.
 * Not for use outside src/admin*.c (and their unit tests).
 */
#ifndef OD_ADMIN_INT_H
#define OD_ADMIN_INT_H

#include "admin.h"

#include <jansson.h>

/* JSON-RPC 2.0 error codes, and ours in the server range. */
#define ADMIN_E_PARSE (-32700)
#define ADMIN_E_INVALID_REQUEST (-32600)
#define ADMIN_E_METHOD (-32601)
#define ADMIN_E_PARAMS (-32602)
#define ADMIN_E_INTERNAL (-32603)
#define ADMIN_E_NOT_FOUND (-32004)
#define ADMIN_E_CALLERROR (-32010)
#define ADMIN_E_NOT_CONNECTED (-32011)
#define ADMIN_E_TIMEOUT (-32012)

/* One request being answered. Handlers complete it exactly once, before returning or later
 * (asynchronous methods); the request is freed by that completion. */
struct admin_req;

struct server *admin_req_server(const struct admin_req *req);
/* The session that asked (alive at least until req completes). */
struct admin_session *admin_req_session(const struct admin_req *req);
/* Completes req with result (stolen; new reference expected). */
void admin_req_result(struct admin_req *req, json_t *result);
/* Completes req with an error; data (stolen, may be NULL) goes into error.data. */
void admin_req_error(struct admin_req *req, int code, json_t *data, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- methods and their params ---------------------------------------------------------------- */

/* params is an object that passed the method's definition in schemas/admin.json; borrowed. */
typedef void (*admin_method_fn)(struct admin_req *req, json_t *params);

struct admin_method {
    const char *name;
    admin_method_fn fn;
};

/* The method table, sorted by name (admin_methods.c, rows from admin_methods.def). */
extern const struct admin_method admin_methods[];
extern const size_t admin_nmethods;

/* The method called name, or NULL. */
const struct admin_method *admin_method_find(const char *name);

/* m's params schema (its definition in schemas/admin.json, compiled in), or NULL if it has
 * none. */
struct ocpp_schema;
const struct ocpp_schema *admin_method_schema(const struct admin_method *m);

/* Checks params (an object, borrowed) against m's schema. Returns 0; OD_EINVAL with msg naming
 * the field ("parameter 'limit': 0 is less than the minimum 1"); or OD_EINTERNAL if m has no
 * schema. */
int admin_params_check(const struct admin_method *m, const json_t *params, char *msg,
                       size_t msglen);

/* Continues s's event replay while its queue has room (admin_session_on_written). */
void admin__sub_replay(struct admin_session *s);
/* Drops s's event subscription, if any (session end). */
void admin__sub_free(struct admin_session *s);

/* Answers every charging.start still waiting (server shutdown: their timers must not hold the
 * loop). */
void admin__waiters_cancel(struct server *srv);
/* How many of srv->nsubscribers are charging.start waiters rather than sessions. */
size_t admin__waiters_listening(const struct server *srv);

#endif
