/*
 * test_admin.c — unit tests of the admin JSON-RPC layer (src/admin_rpc.c, src/admin.c): the
 * method table and its params schemas (schemas/admin.json, one definition per method), envelope
 * errors, batches and notifications, the params checks, the session's
 * bounded outbound queue, the password hashing, and event delivery (after commit only; a paced
 * replay that joins the live stream without gap or duplicate), and devicemodel.get. A
 * socket-less admin session (wsi NULL) on the shared fixture's server; answers are read from
 * the session's queue.
 */
#include "fixture.h"

#include "admin_int.h"
#include "admin_schema.h"
#include "events.h"
#include "od.h"
#include "store_devmodel.h"
#include "ws.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

struct admin_fx {
    struct fixture *f;
    struct admin_session *s;
};

static int setup(void **state)
{
    struct admin_fx *x = calloc(1, sizeof *x);
    x->f = fixture_new(true, false);
    x->s = admin_session_open(&x->f->srv, NULL, "unit");
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct admin_fx *x = *state;
    if (x->s) admin_session_on_closed(x->s);
    assert_int_equal(x->f->srv.nadmin, 0);
    fixture_free(x->f);
    free(x);
    return 0;
}

/* Sends text and returns the one answer it produced (new reference), or NULL if none. */
static json_t *rpc(struct admin_fx *x, const char *text)
{
    admin_rpc_handle(x->s, text, strlen(text));
    server_commit(&x->f->srv); /* the loop's end-of-iteration commit; answers wait for it */
    struct admin_frame *f = admin_session_next_frame(x->s);
    if (!f) return NULL;
    json_t *j = json_loads(f->block + WS_HEADROOM, 0, NULL);
    assert_non_null(j);
    admin_frame_free(f);
    assert_null(admin_session_next_frame(x->s)); /* exactly one frame per message */
    return j;
}

static int err_code(const json_t *answer)
{
    return (int)json_integer_value(json_object_get(json_object_get(answer, "error"), "code"));
}

static const char *err_msg(const json_t *answer)
{
    return json_string_value(json_object_get(json_object_get(answer, "error"), "message"));
}

static void test_admin__table_sorted_and_found(void **state)
{
    (void)state;
    for (size_t i = 1; i < admin_nmethods; i++)
        assert_true(strcmp(admin_methods[i - 1].name, admin_methods[i].name) < 0);
    for (size_t i = 0; i < admin_nmethods; i++)
        assert_ptr_equal(admin_method_find(admin_methods[i].name), &admin_methods[i]);
    assert_null(admin_method_find("chargers"));
    assert_null(admin_method_find(""));
}

static void test_admin__every_method_has_a_schema(void **state)
{
    (void)state;
    const struct ocpp_schema_table *t = &admin_schema_table;
    for (size_t i = 0; i < admin_nmethods; i++) {
        if (!admin_method_schema(&admin_methods[i]))
            fail_msg("method %s has no definition in schemas/admin.json", admin_methods[i].name);
    }
    for (size_t i = 0; i < t->nentries; i++) {
        if (!admin_method_find(t->entries[i].name))
            fail_msg("schemas/admin.json defines %s, which is no method", t->entries[i].name);
        /* params are always an object, and a closed one: unknown names must be refused */
        assert_int_equal(t->entries[i].schema->kind, OCPP_SK_OBJECT);
        assert_false(t->entries[i].schema->additional_props);
    }
    assert_int_equal(t->nentries, admin_nmethods);
}

static void test_admin__envelope_errors(void **state)
{
    struct admin_fx *x = *state;
    struct {
        const char *text;
        int code;
    } cases[] = {
        {"{", ADMIN_E_PARSE},
        {"", ADMIN_E_PARSE},
        {"{\"a\":1,\"a\":2}", ADMIN_E_PARSE}, /* duplicate keys are refused, not guessed at */
        {"[]", ADMIN_E_INVALID_REQUEST},
        {"42", ADMIN_E_INVALID_REQUEST},
        {"{\"jsonrpc\":\"2.0\",\"id\":1}", ADMIN_E_INVALID_REQUEST},
        {"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"tokens.list\"}", ADMIN_E_INVALID_REQUEST},
        {"{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"tokens.list\"}", ADMIN_E_INVALID_REQUEST},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x.y\"}", ADMIN_E_METHOD},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tokens.list\",\"params\":[]}",
         ADMIN_E_PARAMS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *a = rpc(x, cases[i].text);
        assert_non_null(a);
        assert_int_equal(err_code(a), cases[i].code);
        assert_string_equal(json_string_value(json_object_get(a, "jsonrpc")), "2.0");
        json_decref(a);
    }
}

static void test_admin__params_name_the_field(void **state)
{
    struct admin_fx *x = *state;
    json_t *a = rpc(x, "{\"jsonrpc\":\"2.0\",\"id\":\"q\",\"method\":\"tokens.upsert\","
                       "\"params\":{\"idTag\":\"T\"}}");
    assert_int_equal(err_code(a), ADMIN_E_PARAMS);
    assert_non_null(strstr(err_msg(a), "'status'"));
    assert_string_equal(json_string_value(json_object_get(a, "id")), "q");
    json_decref(a);
    a = rpc(x, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"transactions.list\","
               "\"params\":{\"limit\":100000}}");
    assert_int_equal(err_code(a), ADMIN_E_PARAMS);
    assert_non_null(strstr(err_msg(a), "'limit'"));
    json_decref(a);
    a = rpc(x, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"chargers.get\","
               "\"params\":{\"chargerID\":\"X\"}}");
    assert_non_null(strstr(err_msg(a), "'chargerID'")); /* the typo is named, not "missing" */
    json_decref(a);
    /* the schema's message, under the field's JSON pointer */
    const struct {
        const char *method, *params, *message;
    } cases[] = {
        {"transactions.list", "{\"limit\":0}",
         "parameter 'limit': 0 is less than the minimum 1"},
        {"tokens.upsert", "{\"idTag\":\"T\",\"status\":\"Maybe\"}",
         "parameter 'status': \"Maybe\" is not an allowed value"},
        {"tokens.upsert", "{\"idTag\":\"\",\"status\":\"Accepted\"}",
         "parameter 'idTag': string of 0 characters, at least 1"},
        {"tokens.upsert",
         "{\"idTag\":\"T\",\"status\":\"Accepted\",\"expiryDate\":\"soon\"}",
         "parameter 'expiryDate': not a date-time"},
        {"events.subscribe", "{\"types\":[\"a\",5]}",
         "parameter 'types/1': expected string, got integer"},
        {"stations.search", "{\"lat\":1,\"lon\":1,\"radiusKm\":0}",
         "parameter 'radiusKm': 0 is not more than the exclusive minimum 0"},
        {"stations.upsert",
         "{\"id\":\"S\",\"name\":\"N\",\"address\":\"\",\"lat\":1,\"lon\":1,"
         "\"chargerIds\":[],\"openingHours\":7}",
         "parameter 'openingHours': expected object or string, got integer"},
        {"webhooks.add", "{\"url\":\"ftp://x\",\"secret\":\"k\"}",
         "parameter 'url': does not start with \"http://\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"%s\",\"params\":%s}",
                 cases[i].method, cases[i].params);
        a = rpc(x, text);
        assert_int_equal(err_code(a), ADMIN_E_PARAMS);
        if (strcmp(err_msg(a), cases[i].message) != 0)
            fail_msg("%s %s: '%s', want '%s'", cases[i].method, cases[i].params, err_msg(a),
                     cases[i].message);
        json_decref(a);
    }
}

/* JSON Schema counts characters, the store bytes: a value that passes the one and not the other
 * is refused, never cut short; and an integer may be written 5.0. */
static void test_admin__params_fit_the_store(void **state)
{
    struct admin_fx *x = *state;
    char tag[36 * 2 + 1] = "", text[256];
    for (int i = 0; i < 36; i++) strcat(tag, "\xc3\xa9");
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tokens.upsert\","
             "\"params\":{\"idTag\":\"%s\",\"status\":\"Accepted\"}}", tag);
    json_t *a = rpc(x, text);
    assert_int_equal(err_code(a), ADMIN_E_PARAMS);
    assert_string_equal(err_msg(a), "parameter 'idTag': 72 bytes of UTF-8, at most 36 fit");
    json_decref(a);
    tag[36] = '\0'; /* 18 characters, 36 bytes: fits */
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tokens.upsert\","
             "\"params\":{\"idTag\":\"%s\",\"status\":\"Accepted\"}}", tag);
    a = rpc(x, text);
    assert_string_equal(json_string_value(json_object_get(json_object_get(a, "result"), "idTag")),
                        tag);
    json_decref(a);
    a = rpc(x, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"transactions.list\","
               "\"params\":{\"limit\":1.0}}");
    assert_non_null(json_object_get(a, "result"));
    json_decref(a);
    a = rpc(x, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"transactions.get\","
               "\"params\":{\"id\":77.0}}");
    assert_int_equal(err_code(a), ADMIN_E_NOT_FOUND);
    assert_string_equal(err_msg(a), "no transaction 77"); /* read as 77, not as 0 */
    json_decref(a);
}

static void test_admin__batch_and_notifications(void **state)
{
    struct admin_fx *x = *state;
    /* Notifications run but are never answered, errors included. */
    assert_null(rpc(x, "{\"jsonrpc\":\"2.0\",\"method\":\"tokens.upsert\","
                       "\"params\":{\"idTag\":\"N1\",\"status\":\"Accepted\"}}"));
    assert_null(rpc(x, "{\"jsonrpc\":\"2.0\",\"method\":\"nope\"}"));
    assert_null(rpc(x, "[{\"jsonrpc\":\"2.0\",\"method\":\"tokens.list\"}]"));
    json_t *a = rpc(x, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tokens.list\"},"
                       "{\"jsonrpc\":\"2.0\",\"method\":\"tokens.list\"},"
                       "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tokens.delete\","
                       "\"params\":{\"idTag\":\"NONE\"}}, 1]");
    assert_true(json_is_array(a));
    assert_int_equal(json_array_size(a), 3);
    json_t *list = json_object_get(json_object_get(json_array_get(a, 0), "result"), "tokens");
    assert_int_equal(json_array_size(list), 1); /* N1, stored by the notification */
    assert_int_equal(err_code(json_array_get(a, 1)), ADMIN_E_NOT_FOUND);
    assert_int_equal(err_code(json_array_get(a, 2)), ADMIN_E_INVALID_REQUEST);
    assert_true(json_is_null(json_object_get(json_array_get(a, 2), "id")));
    json_decref(a);
}

static void test_admin__oversize_and_binary_messages(void **state)
{
    struct admin_fx *x = *state;
    char chunk[4096];
    memset(chunk, ' ', sizeof chunk);
    size_t sent = 0;
    admin_session_on_receive(x->s, "[", 1, true, false, false);
    while (sent <= ADMIN_MAX_MESSAGE) {
        admin_session_on_receive(x->s, chunk, sizeof chunk, false, false, false);
        sent += sizeof chunk;
    }
    admin_session_on_receive(x->s, "]", 1, false, true, false);
    struct admin_frame *f = admin_session_next_frame(x->s);
    assert_non_null(f);
    assert_non_null(strstr(f->block + WS_HEADROOM, "-32600"));
    admin_frame_free(f);
    admin_session_on_receive(x->s, "\x01\x02", 2, true, true, true);
    f = admin_session_next_frame(x->s);
    assert_non_null(f);
    assert_non_null(strstr(f->block + WS_HEADROOM, "not text"));
    admin_frame_free(f);
    /* Still answering afterwards. */
    const char *ok = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"chargers.list\"}";
    admin_session_on_receive(x->s, ok, strlen(ok), true, true, false);
    f = admin_session_next_frame(x->s);
    assert_non_null(f);
    assert_non_null(strstr(f->block + WS_HEADROOM, "\"result\":{\"chargers\":["));
    admin_frame_free(f);
}

static void test_admin__slow_reader_is_dropped(void **state)
{
    struct admin_fx *x = *state;
    static char big[64 * 1024];
    memset(big, 'x', sizeof big);
    uint64_t dropped = x->f->srv.stats.admin_sessions_dropped;
    int rc = 0;
    for (int i = 0; rc == 0 && i < 1000; i++) rc = admin_session_send(x->s, big, sizeof big);
    assert_int_equal(rc, OD_ELIMIT);
    assert_int_equal(x->f->srv.stats.admin_sessions_dropped, dropped + 1);
    assert_true(x->s->closing);
    assert_null(admin_session_next_frame(x->s)); /* the backlog is discarded, not kept */
    int code;
    const char *reason;
    assert_true(admin_session_close_requested(x->s, &code, &reason));
    assert_int_equal(code, 1008);
    assert_int_equal(admin_session_send(x->s, "{}", 2), OD_ECLOSED);
}

static void test_admin__not_connected_and_not_found(void **state)
{
    struct admin_fx *x = *state;
    json_t *a = rpc(x, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ocpp.call\",\"params\":"
                       "{\"chargerId\":\"NOBODY\",\"action\":\"Reset\",\"payload\":{}}}");
    assert_int_equal(err_code(a), ADMIN_E_NOT_CONNECTED);
    json_decref(a);
    a = rpc(x, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"transactions.get\","
               "\"params\":{\"id\":77}}");
    assert_int_equal(err_code(a), ADMIN_E_NOT_FOUND);
    json_decref(a);
}

static void test_admin__password_hash(void **state)
{
    (void)state;
    char h1[ADMIN_PASSWORD_HASH_LEN], h2[ADMIN_PASSWORD_HASH_LEN];
    assert_int_equal(admin_password_hash("correct horse", h1, sizeof h1), 0);
    assert_int_equal(admin_password_hash("correct horse", h2, sizeof h2), 0);
    assert_string_not_equal(h1, h2); /* salted */
    assert_true(admin_password_verify("correct horse", h1));
    assert_false(admin_password_verify("correct hors", h1));
    assert_false(admin_password_verify("correct horse", "pbkdf2-sha256$999999999$00$00"));
    assert_false(admin_password_verify("x", ""));
    assert_false(admin_password_verify("x", "plain"));
}

/* Drains every queued frame as if written, returning the event seqs seen (in order). */
static size_t drain_events(struct admin_fx *x, int64_t *seqs, size_t cap, bool *saw_result)
{
    size_t n = 0;
    struct admin_frame *f;
    while ((f = admin_session_next_frame(x->s))) {
        json_t *j = json_loads(f->block + WS_HEADROOM, 0, NULL);
        admin_frame_free(f);
        assert_non_null(j);
        json_t *params = json_object_get(j, "params");
        if (params) {
            assert_true(n < cap);
            seqs[n++] = json_integer_value(json_object_get(params, "seq"));
        } else if (saw_result) {
            *saw_result = true;
        }
        json_decref(j);
        admin_session_on_written(x->s); /* what ws.c does after each write */
    }
    return n;
}

static void test_admin__events_published_after_commit_only(void **state)
{
    struct admin_fx *x = *state;
    struct server *srv = &x->f->srv;
    server_commit(srv);
    json_t *a = rpc(x, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"events.subscribe\"}");
    int64_t last = json_integer_value(json_object_get(json_object_get(a, "result"), "lastSeq"));
    json_decref(a);

    int64_t s1 = event_emit(srv, "unit.rolledback", "CPX", NULL);
    assert_true(s1 > last);
    assert_null(admin_session_next_frame(x->s)); /* not before its commit */
    store_batch_rollback(srv->store);
    event_discard_pending(srv);
    server_commit(srv);
    assert_null(admin_session_next_frame(x->s)); /* a rolled-back event is never published */

    int64_t s2 = event_emit(srv, "unit.kept", "CPX", NULL);
    assert_null(admin_session_next_frame(x->s));
    server_commit(srv);
    int64_t seqs[4];
    assert_int_equal(drain_events(x, seqs, 4, NULL), 1);
    assert_int_equal(seqs[0], s2);
}

static void test_admin__replay_is_paced_and_joins_live(void **state)
{
    struct admin_fx *x = *state;
    struct server *srv = &x->f->srv;
    enum { N = 9000 }; /* about 2 MiB of notifications: more than one refill */
    json_t *data = json_pack("{s:s}", "pad", "................................................");
    for (int i = 0; i < N; i++) event_emit(srv, "unit.history", "CPX", data);
    json_decref(data);
    server_commit(srv);
    /* The answer and the replay stay queued: nothing is "written" until drain_events(). */
    const char *sub = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"events.subscribe\","
                      "\"params\":{\"fromSeq\":0}}";
    admin_rpc_handle(x->s, sub, strlen(sub));
    /* The first refill stops near the high mark instead of queueing the whole history. */
    assert_true(x->s->outq_bytes < 2 * 1024 * 1024);
    assert_false(x->s->closing);
    int64_t last_live = event_emit(srv, "unit.live", "CPX", NULL); /* arrives mid-replay */
    server_commit(srv);
    static int64_t seqs[N + 64];
    bool saw = false;
    size_t n = drain_events(x, seqs, N + 64, &saw);
    assert_true(saw);
    assert_true(n >= N + 1);
    for (size_t i = 1; i < n; i++) assert_int_equal(seqs[i], seqs[i - 1] + 1); /* no gap/dup */
    assert_int_equal(seqs[n - 1], last_live);
    assert_false(x->s->closing);
}

static void test_admin__charger_basic_auth(void **state)
{
    struct admin_fx *x = *state;
    struct server *srv = &x->f->srv;
    struct store_charger ch;
    memset(&ch, 0, sizeof ch);
    snprintf(ch.id, sizeof ch.id, "CP-AUTH");
    ch.created_ms = 1;
    assert_int_equal(admin_password_hash("pa:ss word", ch.password_hash, sizeof ch.password_hash),
                     0);
    assert_int_equal(store_charger_put(srv->store, &ch), 0);
    uint64_t fails = srv->stats.auth_failures;

    /* base64("CP-AUTH:pa:ss word"): the password may hold a colon, the user may not. */
    assert_int_equal(admin_charger_auth(srv, "CP-AUTH", "Basic Q1AtQVVUSDpwYTpzcyB3b3Jk"), 0);
    assert_int_equal(admin_charger_auth(srv, "CP-AUTH", "basic  Q1AtQVVUSDpwYTpzcyB3b3Jk"), 0);
    const char *bad[] = {
        NULL,
        "",
        "Bearer Q1AtQVVUSDpwYTpzcyB3b3Jk",
        "Basic Q1AtQVVUSDpwYTpzcyB3b3JL",     /* one character of the password differs */
        "Basic T1RIRVI6cGE6c3Mgd29yZA==",     /* OTHER:pa:ss word — someone else's id */
        "Basic Q1AtQVVUSA==",                 /* CP-AUTH, no colon */
        "Basic !!!!",
        "Basic Q1AtQVVUSDpwYTpzcyB3b3Jk=",    /* not a multiple of 4 */
        "Basic Q1AtQVVUSDoAcGFzcw==",         /* CP-AUTH:\0pass — an embedded NUL */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(admin_charger_auth(srv, "CP-AUTH", bad[i]), OD_EINVAL);
    assert_int_equal(srv->stats.auth_failures, fails + sizeof bad / sizeof *bad);
    /* No stored password (or no row at all): no credentials needed. */
    assert_int_equal(admin_charger_auth(srv, "CP-FREE", NULL), 0);
}

static void test_admin__meter_series_thinned(void **state)
{
    struct admin_fx *x = *state;
    struct store *st = x->f->srv.store;
    struct store_tx tx;
    memset(&tx, 0, sizeof tx);
    snprintf(tx.charger_id, sizeof tx.charger_id, "CP1");
    tx.evse_id = tx.connector_id = 1;
    tx.start_ms = 1000;
    tx.active = true;
    assert_int_equal(store_tx_insert(st, &tx), 0);
    enum { N = 4999 };
    for (int i = 0; i < N; i++) {
        char raw[16];
        snprintf(raw, sizeof raw, "%d", i);
        struct store_meter_value mv = {.tx_id = tx.id, .charger_id = "CP1", .evse_id = 1,
                                       .connector_id = 1, .timestamp_ms = 1000 + i,
                                       .measurand = "Energy.Active.Import.Register",
                                       .unit = "Wh", .raw_value = raw, .has_value = true,
                                       .value = i, .norm_unit = "Wh"};
        assert_int_equal(store_meter_insert(st, &mv), 0);
    }
    char req[128];
    snprintf(req, sizeof req,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"transactions.get\","
             "\"params\":{\"id\":%lld}}", (long long)tx.id);
    json_t *a = rpc(x, req);
    json_t *mvs = json_object_get(json_object_get(a, "result"), "meterValues");
    json_t *e = json_object_get(mvs, "energyWh");
    assert_true(json_is_true(json_object_get(mvs, "thinned")));
    assert_int_equal(json_array_size(e), 2000);
    assert_int_equal(json_real_value(json_object_get(json_array_get(e, 0), "value")), 0);
    assert_int_equal(json_real_value(json_object_get(json_array_get(e, 1999), "value")), N - 1);
    json_decref(a);
}

static void dm_put(struct store *st, const char *comp, int evse, const char *var,
                   const char *type, const char *value)
{
    struct store_dm_var *v = calloc(1, sizeof *v);
    snprintf(v->charger_id, sizeof v->charger_id, "DM1");
    snprintf(v->component, sizeof v->component, "%s", comp);
    v->evse_id = evse;
    snprintf(v->variable, sizeof v->variable, "%s", var);
    snprintf(v->attr_type, sizeof v->attr_type, "%s", type);
    v->has_value = true;
    snprintf(v->value, sizeof v->value, "%s", value);
    snprintf(v->mutability, sizeof v->mutability, "ReadWrite");
    snprintf(v->unit, sizeof v->unit, "s");
    v->updated_ms = 1700000000000;
    assert_int_equal(store_dm_var_put(st, v), 0);
    free(v);
}

/* devicemodel.get groups a variable's attributes, filters by name, and chargers.get of a
 * 2.0.1 charger counts the same rows. */
static void test_admin__devicemodel_get(void **state)
{
    struct admin_fx *x = *state;
    struct store *st = x->f->srv.store;
    struct store_charger ch;
    memset(&ch, 0, sizeof ch);
    snprintf(ch.id, sizeof ch.id, "DM1");
    snprintf(ch.protocol, sizeof ch.protocol, "ocpp2.0.1");
    assert_int_equal(store_charger_put(st, &ch), 0);
    dm_put(st, "TxCtrlr", 0, "EVConnectionTimeOut", "Actual", "60");
    dm_put(st, "TxCtrlr", 0, "EVConnectionTimeOut", "MaxSet", "600");
    dm_put(st, "TxCtrlr", 0, "StopTxOnInvalidId", "Actual", "true");
    dm_put(st, "EVSE", 1, "AvailabilityState", "Actual", "Available");
    dm_put(st, "EVSE", 2, "AvailabilityState", "Actual", "Faulted");

    json_t *a = rpc(x, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"devicemodel.get\","
                       "\"params\":{\"chargerId\":\"DM1\"}}");
    json_t *vars = json_object_get(json_object_get(a, "result"), "variables");
    assert_int_equal(json_array_size(vars), 4);
    json_t *v0 = json_array_get(vars, 0); /* ordered by component: EVSE 1 first */
    assert_string_equal(json_string_value(json_object_get(json_object_get(v0, "component"),
                                                          "name")), "EVSE");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(v0, "component"), "evse"), "id")), 1);
    json_t *v2 = json_array_get(vars, 2);
    json_t *attrs = json_object_get(v2, "attributes");
    assert_int_equal(json_array_size(attrs), 2);
    json_t *a0 = json_array_get(attrs, 0);
    assert_string_equal(json_string_value(json_object_get(a0, "value")), "60");
    assert_string_equal(json_string_value(json_object_get(a0, "mutability")), "ReadWrite");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(a0, "characteristics"), "unit")), "s");
    json_decref(a);

    a = rpc(x, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"devicemodel.get\",\"params\":"
               "{\"chargerId\":\"DM1\",\"component\":\"TxCtrlr\","
               "\"variable\":\"StopTxOnInvalidId\"}}");
    vars = json_object_get(json_object_get(a, "result"), "variables");
    assert_int_equal(json_array_size(vars), 1);
    json_decref(a);

    a = rpc(x, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"chargers.get\","
               "\"params\":{\"chargerId\":\"DM1\"}}");
    json_t *sum = json_object_get(json_object_get(a, "result"), "deviceModel");
    assert_int_equal(json_integer_value(json_object_get(sum, "components")), 3);
    assert_int_equal(json_integer_value(json_object_get(sum, "variables")), 4);
    assert_int_equal(json_integer_value(json_object_get(sum, "attributes")), 5);
    assert_true(json_is_string(json_object_get(sum, "lastUpdatedAt")));
    json_decref(a);

    a = rpc(x, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"devicemodel.get\","
               "\"params\":{\"chargerId\":\"NOBODY\"}}");
    assert_int_equal(err_code(a), ADMIN_E_NOT_FOUND);
    json_decref(a);
    a = rpc(x, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"devicemodel.get\","
               "\"params\":{\"chargerId\":\"DM1\",\"component\":\"\"}}");
    assert_int_equal(err_code(a), ADMIN_E_PARAMS);
    assert_non_null(strstr(err_msg(a), "component"));
    json_decref(a);
}

static void test_admin__deleting_a_connected_charger_closes_its_session(void **state)
{
    struct admin_fx *x = *state;
    json_t *a = rpc(x, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"chargers.delete\","
                       "\"params\":{\"chargerId\":\"CP1\"}}");
    assert_true(json_is_true(json_object_get(json_object_get(a, "result"), "deleted")));
    json_decref(a);
    int code = 0;
    const char *reason = NULL;
    assert_true(conn_close_requested(x->f->c, &code, &reason));
    assert_int_equal(code, 1000);
    assert_non_null(strstr(reason, "deleted"));
    struct store_charger ch;
    assert_int_equal(store_charger_get(x->f->st, "CP1", &ch), OD_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admin__table_sorted_and_found),
        cmocka_unit_test(test_admin__every_method_has_a_schema),
        cmocka_unit_test(test_admin__password_hash),
        cmocka_unit_test_setup_teardown(test_admin__envelope_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin__params_name_the_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin__params_fit_the_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin__batch_and_notifications, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin__oversize_and_binary_messages, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_admin__slow_reader_is_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_admin__deleting_a_connected_charger_closes_its_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin__not_connected_and_not_found, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_admin__events_published_after_commit_only, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_admin__charger_basic_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin__meter_series_thinned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin__devicemodel_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin__replay_is_paced_and_joins_live, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
