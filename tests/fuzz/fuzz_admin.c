/*
 * fuzz_admin.c — libFuzzer target for the admin API: the input is one text message on an admin
 * WebSocket, handed to admin_session_on_receive() exactly as ws.c does, so it goes through the
 * size cap, JSON parsing, envelope checks, batches, the parameter tables and every method.
 *
 * Each input gets a fresh server on a socket-less loop, over one in-memory store kept for the
 * whole process: it is seeded once with a booted 1.6 charger (CP16, one active transaction) and a
 * booted 2.0.1 charger (CP201, one active transaction), so methods that need a charger or a
 * transaction get past their lookups. Both chargers reconnect for each input. Everything an input
 * writes stays in one open store transaction that is rolled back afterwards (store_batch_commit
 * is wrapped at link time to keep the batch open), so every input starts from the same database:
 * runs are reproducible from the input alone, and opening and migrating a store per input (most
 * of the cost) is paid once. Calls the methods send to a charger are answered at once,
 * alternately with a result shaped for the action (charger_result) and with a CALLERROR, so both
 * completion paths run. LeakSanitizer sees each input's leaks, as nothing of it outlives it.
 *
 * What must hold for every input: each frame the session sends is a JSON object or array whose
 * members are JSON-RPC 2.0 responses or event notifications; every handle closes, so the loop
 * closes clean (a timer or request left behind would abort here).
 *
 * The network is never touched: sessions and connections have no socket, and webhook delivery
 * fails at name resolution (uv_getaddrinfo is wrapped, see tests/fuzz/meson.build). Commit
 * failures are not simulated here (tests/unit/test_commit.c does that).
 */
#include "admin_int.h"
#include "conn.h"
#include "log.h"
#include "server.h"
#include "store.h"
#include "webhooks.h"
#include "ws.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Link seam (-Wl,--wrap=uv_getaddrinfo): a webhook added by the input must not resolve (and
 * then connect to) whatever host the input names. Failing synchronously sends the hook into
 * its backoff timer, which the teardown closes. */
int __wrap_uv_getaddrinfo(uv_loop_t *loop, uv_getaddrinfo_t *req, uv_getaddrinfo_cb cb,
                          const char *node, const char *service, const struct addrinfo *hints);
int __wrap_uv_getaddrinfo(uv_loop_t *loop, uv_getaddrinfo_t *req, uv_getaddrinfo_cb cb,
                          const char *node, const char *service, const struct addrinfo *hints)
{
    (void)loop, (void)req, (void)cb, (void)node, (void)service, (void)hints;
    return UV_EAI_NONAME;
}

/* Link seam (-Wl,--wrap=store_batch_commit): while an input runs, a commit leaves the batch
 * open, so that the input's writes can be rolled back when it ends; the seeding commits. */
static bool commit_for_real = true;
int __real_store_batch_commit(struct store *st);
int __wrap_store_batch_commit(struct store *st);
int __wrap_store_batch_commit(struct store *st)
{
    return commit_for_real ? __real_store_batch_commit(st) : 0;
}

/* The process's store, seeded on first use (see world_seed). */
static struct store *fuzz_store;

struct world {
    uv_loop_t loop;
    struct config cfg;
    struct server srv;
    struct conn *cp16, *cp201;
    struct admin_session *s;
    unsigned calls_answered;
};

#define FUZZ_CHECK(cond)                                                                      \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "fuzz_admin: check failed: %s (line %d)\n", #cond, __LINE__);    \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

/* Feeds one frame from charger c and commits, as one loop iteration would. */
static void charger_says(struct world *w, struct conn *c, const char *text)
{
    conn_on_receive(c, text, strlen(text), true, true, false);
    server_commit(&w->srv);
}

/* The CALLRESULT payload a cooperative charger would send for action (new reference): the
 * shapes the methods' effects read (configuration keys, device model variables, echoing what was
 * asked), {"status":"Accepted"} for everything else (which the response schema refuses for
 * actions whose answer has another shape: that path is worth running too). */
static json_t *charger_result(const char *action, const json_t *payload)
{
    size_t i;
    json_t *d;
    if (strcmp(action, "GetConfiguration") == 0) {
        json_t *keys = json_array();
        json_array_foreach(json_object_get(payload, "key"), i, d)
            json_array_append_new(keys, json_pack("{s:O, s:b, s:s}", "key", d, "readonly", 0,
                                                  "value", "1"));
        return json_pack("{s:o}", "configurationKey", keys);
    }
    bool set = strcmp(action, "SetVariables") == 0;
    if (set || strcmp(action, "GetVariables") == 0) {
        json_t *out = json_array();
        json_array_foreach(json_object_get(payload, set ? "setVariableData" : "getVariableData"),
                           i, d) {
            json_t *r = json_pack("{s:s, s:O*, s:O*}", "attributeStatus", "Accepted",
                                  "component", json_object_get(d, "component"), "variable",
                                  json_object_get(d, "variable"));
            json_t *type = json_object_get(d, "attributeType");
            if (type) json_object_set(r, "attributeType", type);
            if (!set) json_object_set_new(r, "attributeValue", json_string("1"));
            json_array_append_new(out, r);
        }
        return json_pack("{s:o}", set ? "setVariableResult" : "getVariableResult", out);
    }
    return json_pack("{s:s}", "status", "Accepted");
}

/* Pops c's queued frames and answers each CALL from the server: alternately with
 * charger_result() and with a CALLERROR, so both completions run. Returns whether anything was
 * queued. */
static bool charger_answer(struct world *w, struct conn *c)
{
    bool any = false;
    struct conn_frame *f;
    while ((f = conn_next_frame(c))) {
        any = true;
        json_t *frame = json_loadb(f->block + WS_HEADROOM, f->len, 0, NULL);
        conn_frame_free(f);
        FUZZ_CHECK(json_is_array(frame)); /* we only ever send OCPP-J frames */
        json_t *id = json_array_get(frame, 1);
        const char *action = json_string_value(json_array_get(frame, 2));
        if (json_integer_value(json_array_get(frame, 0)) == 2 && json_is_string(id) && action) {
            json_t *reply = w->calls_answered++ % 2 == 0
                ? json_pack("[i, O, o]", 3, id, charger_result(action, json_array_get(frame, 3)))
                : json_pack("[i, O, s, s, {}]", 4, id, "NotImplemented", "fuzz");
            char *text = json_dumps(reply, JSON_COMPACT);
            FUZZ_CHECK(text);
            charger_says(w, c, text);
            free(text);
            json_decref(reply);
        }
        json_decref(frame);
    }
    return any;
}

/* A server on a new loop over fuzz_store, with both chargers connected (not yet booted on
 * this connection, like a charger that reconnects). */
static void world_open(struct world *w)
{
    memset(w, 0, sizeof *w);
    FUZZ_CHECK(uv_loop_init(&w->loop) == 0);
    config_defaults(&w->cfg);
    w->cfg.accept_unknown_tokens = true;
    server_init(&w->srv, &w->loop, &w->cfg, fuzz_store);
    /* From here every write belongs to the batch that the input's end rolls back. */
    FUZZ_CHECK(commit_for_real || server_batch(&w->srv) == 0);
    w->cp16 = conn_open(&w->srv, NULL, "CP16", OCPP_V16, "fuzz");
    w->cp201 = conn_open(&w->srv, NULL, "CP201", OCPP_V201, "fuzz");
    server_commit(&w->srv);
}

static void world_close(struct world *w);

/* Opens fuzz_store and commits the chargers' boots and transactions into it. */
static void world_seed(void)
{
    char err[256];
    FUZZ_CHECK(store_open(":memory:", STORE_SYNC_NORMAL, &fuzz_store, err, sizeof err) == 0);
    struct world w;
    world_open(&w);
    charger_says(&w, w.cp16, "[2,\"b\",\"BootNotification\",{\"chargePointVendor\":\"V\","
                             "\"chargePointModel\":\"M\"}]");
    charger_says(&w, w.cp16, "[2,\"s\",\"StartTransaction\",{\"connectorId\":1,\"idTag\":"
                             "\"TAG16\",\"meterStart\":100,\"timestamp\":"
                             "\"2026-01-01T00:00:00Z\"}]");
    charger_says(&w, w.cp201, "[2,\"b\",\"BootNotification\",{\"reason\":\"PowerUp\","
                              "\"chargingStation\":{\"model\":\"M\",\"vendorName\":\"V\"}}]");
    charger_says(&w, w.cp201, "[2,\"t\",\"TransactionEvent\",{\"eventType\":\"Started\","
                              "\"timestamp\":\"2026-01-01T00:00:00Z\",\"triggerReason\":"
                              "\"Authorized\",\"seqNo\":0,\"transactionInfo\":{\"transactionId\":"
                              "\"T201\"},\"evse\":{\"id\":1,\"connectorId\":1},\"idToken\":"
                              "{\"idToken\":\"TAG201\",\"type\":\"ISO14443\"}}]");
    charger_answer(&w, w.cp16); /* the seeding replies */
    charger_answer(&w, w.cp201);
    world_close(&w);
    FUZZ_CHECK(!store_batch_active(fuzz_store));
    commit_for_real = false;
}

static void drain_session(struct world *w);

static void noop_close_cb(uv_handle_t *h)
{
    (void)h;
}

/* Ends every request, subscription, waiter and hook the input started, then the server. */
static void world_close(struct world *w)
{
    conn_on_closed(w->cp16);
    conn_on_closed(w->cp201);
    admin__waiters_cancel(&w->srv);
    server_commit(&w->srv);
    if (w->s) {
        drain_session(w); /* what those endings answered */
        admin_session_on_closed(w->s);
    }
    webhooks_shutdown(&w->srv);
    webhooks_abort(&w->srv);
    server_commit(&w->srv);
    uv_close((uv_handle_t *)&w->srv.commit_check, noop_close_cb);
    uv_close((uv_handle_t *)&w->srv.tick_timer, noop_close_cb);
    uv_close((uv_handle_t *)&w->srv.shutdown_timer, noop_close_cb);
    uv_close((uv_handle_t *)&w->srv.sig_int, noop_close_cb);
    uv_close((uv_handle_t *)&w->srv.sig_term, noop_close_cb);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    FUZZ_CHECK(w->srv.nadmin == 0 && w->srv.nsubscribers == 0 && !w->srv.admin_waiters);
    server_close(&w->srv);
    store_batch_rollback(fuzz_store); /* a no-op after the seeding, which committed */
    FUZZ_CHECK(uv_loop_close(&w->loop) == 0);
    config_free(&w->cfg);
}

/* A response object (id, and exactly one of result and error with an integer code) or an
 * event notification. */
static void check_member(const json_t *m)
{
    FUZZ_CHECK(json_is_object(m));
    FUZZ_CHECK(json_is_string(json_object_get(m, "jsonrpc")) &&
               strcmp(json_string_value(json_object_get(m, "jsonrpc")), "2.0") == 0);
    const json_t *method = json_object_get(m, "method");
    if (method) {
        FUZZ_CHECK(json_is_string(method) && strcmp(json_string_value(method), "event") == 0);
        FUZZ_CHECK(json_is_object(json_object_get(m, "params")));
        return;
    }
    const json_t *id = json_object_get(m, "id");
    FUZZ_CHECK(json_is_string(id) || json_is_integer(id) || json_is_null(id));
    const json_t *error = json_object_get(m, "error");
    FUZZ_CHECK(!json_object_get(m, "result") != !error);
    if (error) {
        FUZZ_CHECK(json_is_integer(json_object_get(error, "code")));
        FUZZ_CHECK(json_is_string(json_object_get(error, "message")));
    }
}

/* FUZZ_ADMIN_TRACE=1 prints every answer, to see what an input reaches. */
static bool trace;

/* Checks and frees every frame queued on the session. */
static void drain_session(struct world *w)
{
    struct admin_frame *f;
    while ((f = admin_session_next_frame(w->s))) {
        json_error_t jerr;
        json_t *j = json_loadb(f->block + WS_HEADROOM, f->len, 0, &jerr);
        if (trace) fprintf(stderr, "%.*s\n", (int)f->len, f->block + WS_HEADROOM);
        admin_frame_free(f);
        FUZZ_CHECK(j != NULL);
        if (json_is_array(j)) {
            FUZZ_CHECK(json_array_size(j) > 0 && json_array_size(j) <= ADMIN_MAX_BATCH);
            size_t i;
            json_t *m;
            json_array_foreach(j, i, m) check_member(m);
        } else {
            check_member(j);
        }
        json_decref(j);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    if (!quiet) {
        log_set_level(LOG_LEVEL_ERROR); /* a log line per request would dominate the run */
        trace = getenv("FUZZ_ADMIN_TRACE") != NULL;
        quiet = true;
    }
    if (!fuzz_store) world_seed();
    struct world w;
    world_open(&w);
    w.s = admin_session_open(&w.srv, NULL, "fuzz");
    admin_session_on_receive(w.s, data, size, true, true, false);
    /* Answer the chargers until nothing more is sent: one call is in flight per charger, so a
     * batch of calls goes out one answer at a time. Bounded by the batch cap. */
    for (int round = 0; round <= 2 * ADMIN_MAX_BATCH; round++) {
        server_commit(&w.srv); /* what the loop's check handle does after each iteration */
        drain_session(&w);
        bool a = charger_answer(&w, w.cp16);
        bool b = charger_answer(&w, w.cp201);
        if (!a && !b) break;
    }
    server_commit(&w.srv);
    drain_session(&w);
    world_close(&w);
    return 0;
}
