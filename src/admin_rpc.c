/*
 * admin_rpc.c — JSON-RPC 2.0 on an admin session: envelope checks, batches, the method table
 * lookup and the params check against the method's definition in schemas/admin.json (compiled
 * into admin_schema.c by tools/ocppgen.py), all before any handler runs (the Redis
 * processCommand() shape). Handlers answer through admin_req_result()/admin_req_error(),
 * possibly later (ocpp.call waits for the charger).
 *
 * Batches: the answer to a batch is one array sent when its last member completes, so a batch
 * holding a slow ocpp.call answers as late as that call. Notifications (no "id") run but are
 * never answered, errors included (JSON-RPC 2.0, section 4.1).
 */
#include "admin_int.h"

#include "admin_schema.h"
#include "log.h"
#include "mem.h"
#include "od.h"
#include "schema.h"
#include "server.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* The answers of one incoming message. Holds a reference on the session. */
struct admin_batch {
    struct admin_session *s;
    json_t *out;   /* array of response objects (owned) */
    int pending;   /* requests not completed yet */
    bool is_batch; /* answer with an array even for one element */
    bool sealed;   /* every member has been started: the answer may go out once pending is 0 */
};

struct admin_req {
    struct admin_batch *b;
    json_t *id;    /* owned; NULL for a notification */
};

struct server *admin_req_server(const struct admin_req *req)
{
    return req->b->s->srv;
}

static void admin_batch_flush(struct admin_batch *b)
{
    if (!b->sealed || b->pending > 0) return;
    struct admin_session *s = b->s;
    json_t *answer = NULL;
    if (b->is_batch && json_array_size(b->out) > 0) answer = json_incref(b->out);
    else if (!b->is_batch && json_array_size(b->out) == 1)
        answer = json_incref(json_array_get(b->out, 0));
    if (answer) {
        char *text = json_dumps(answer, JSON_COMPACT);
        if (text) admin_session_send(s, text, strlen(text));
        free(text);
        json_decref(answer);
    }
    json_decref(b->out);
    free(b);
    admin_session_unref(s);
}

static void admin_req_finish(struct admin_req *req, json_t *response)
{
    struct admin_batch *b = req->b;
    if (req->id && response) {
        json_object_set_new(response, "id", req->id);
        req->id = NULL;
        json_array_append_new(b->out, response);
    } else {
        json_decref(response);
    }
    json_decref(req->id);
    free(req);
    b->pending--;
    admin_batch_flush(b);
}

struct admin_session *admin_req_session(const struct admin_req *req)
{
    return req->b->s;
}

void admin_req_result(struct admin_req *req, json_t *result)
{
    json_t *r = json_pack("{s:s, s:o}", "jsonrpc", "2.0", "result", result ? result : json_null());
    admin_req_finish(req, r);
}

static json_t *admin_error_obj(int code, const char *message, json_t *data)
{
    json_t *e = json_pack("{s:i, s:s}", "code", code, "message", message);
    if (data) json_object_set_new(e, "data", data);
    return json_pack("{s:s, s:o}", "jsonrpc", "2.0", "error", e);
}

void admin_req_error(struct admin_req *req, int code, json_t *data, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    admin_req_finish(req, admin_error_obj(code, msg, data));
}

/* ---- method table lookup and parameter checks ----------------------------------------------- */

static int admin_method_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct admin_method *)elem)->name);
}

const struct admin_method *admin_method_find(const char *name)
{
    return bsearch(name, admin_methods, admin_nmethods, sizeof *admin_methods, admin_method_cmp);
}

const struct ocpp_schema *admin_method_schema(const struct admin_method *m)
{
    return ocpp_schema_table_find(&admin_schema_table, m->name);
}

int admin_params_check(const struct admin_method *m, const json_t *params, char *msg,
                       size_t msglen)
{
    const struct ocpp_schema *schema = admin_method_schema(m);
    struct ocpp_error err;
    if (!schema) {
        /* test_admin checks every method has a definition; a miss is a build that skipped it */
        LOG_ERROR("admin method=%s has no definition in schemas/admin.json", m->name);
        snprintf(msg, msglen, "method %s has no params schema", m->name);
        return OD_EINTERNAL;
    }
    /* A misspelt name first ("chargerID"): it is the mistake, not the missing "chargerId". */
    if (ocpp_schema_validate_names(schema, params, &err) == 0 &&
        ocpp_schema_validate(schema, params, &err) == 0)
        return 0;
    /* the JSON pointer without its leading '/' names the field: "connectors/0/maxPowerKw" */
    snprintf(msg, msglen, "parameter '%s': %s", err.path[0] ? err.path + 1 : "params",
             err.description);
    return OD_EINVAL;
}

/* ---- requests ------------------------------------------------------------------------------ */

/* Starts one request object of batch b (b->pending already counts it). */
static void admin_rpc_one(struct admin_batch *b, json_t *msg)
{
    struct admin_req *req = xcalloc(1, sizeof *req);
    req->b = b;
    if (!json_is_object(msg)) {
        req->id = json_null();
        admin_req_error(req, ADMIN_E_INVALID_REQUEST, NULL, "a request must be an object");
        return;
    }
    json_t *id = json_object_get(msg, "id");
    /* A request whose id is itself invalid is answered with id null (JSON-RPC 2.0, 5). */
    bool id_ok = !id || json_is_string(id) || json_is_integer(id) || json_is_null(id);
    req->id = !id ? NULL : id_ok ? json_incref(id) : json_null();
    json_t *ver = json_object_get(msg, "jsonrpc");
    json_t *method = json_object_get(msg, "method");
    if (!id_ok || !json_is_string(ver) || strcmp(json_string_value(ver), "2.0") != 0 ||
        !json_is_string(method)) {
        if (!req->id) req->id = json_null(); /* invalid requests are always answered */
        admin_req_error(req, ADMIN_E_INVALID_REQUEST, NULL,
                        "not a JSON-RPC 2.0 request (jsonrpc \"2.0\", method string, id string, "
                        "integer or null)");
        return;
    }
    const struct admin_method *m = admin_method_find(json_string_value(method));
    if (!m) {
        admin_req_error(req, ADMIN_E_METHOD, NULL, "method not found: %.64s",
                        json_string_value(method));
        return;
    }
    json_t *params = json_object_get(msg, "params");
    if (params && !json_is_object(params)) {
        admin_req_error(req, ADMIN_E_PARAMS, NULL, "params must be an object");
        return;
    }
    json_t *own = params ? json_incref(params) : json_object();
    char why[200];
    int rc = admin_params_check(m, own, why, sizeof why);
    if (rc != 0) {
        admin_req_error(req, rc == OD_EINVAL ? ADMIN_E_PARAMS : ADMIN_E_INTERNAL, NULL, "%s", why);
    } else {
        LOG_DEBUG("admin call peer=%s method=%s", b->s->peer, m->name);
        m->fn(req, own);
    }
    json_decref(own);
}

void admin_rpc_handle(struct admin_session *s, const char *text, size_t len)
{
    struct admin_batch *b = xcalloc(1, sizeof *b);
    b->s = s;
    admin_session_ref(s);
    b->out = json_array();
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!root) {
        json_array_append_new(b->out, json_pack("{s:s, s:o, s:n}", "jsonrpc", "2.0", "error",
                                                json_pack("{s:i, s:s}", "code", ADMIN_E_PARSE,
                                                          "message", "parse error"),
                                                "id"));
    } else if (json_is_array(root)) {
        size_t n = json_array_size(root);
        if (n == 0 || n > ADMIN_MAX_BATCH) {
            json_t *e = admin_error_obj(ADMIN_E_INVALID_REQUEST,
                                        n ? "batch too large" : "empty batch", NULL);
            json_object_set_new(e, "id", json_null());
            json_array_append_new(b->out, e);
        } else {
            b->is_batch = true;
            b->pending = (int)n; /* counted up front: a member may complete synchronously */
            for (size_t i = 0; i < n; i++) admin_rpc_one(b, json_array_get(root, i));
        }
    } else {
        b->pending = 1;
        admin_rpc_one(b, root);
    }
    json_decref(root);
    b->sealed = true;
    admin_batch_flush(b);
}
