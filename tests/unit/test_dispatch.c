/*
 * test_dispatch.c — the whole inbound pipeline without sockets: envelope -> dispatch ->
 * schema -> 1.6 handler -> model -> store (:memory:) -> group commit -> queued reply.
 * A conn with no lws handle stands in for the socket; replies are read from its queue.
 */
#include "conn.h"
#include "fixture.h"
#include "dispatch.h"
#include "od.h"
#include "server.h"
#include "store.h"
#include "timeutil.h"
#include "ws.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Sends one frame and returns the parsed reply (new reference), or NULL if none was queued. */
static json_t *roundtrip(struct fixture *f, const char *frame)
{
    dispatch_message(f->c, frame, strlen(frame));
    server_commit(&f->srv);
    json_t *reply = fixture_next_frame(f);
    assert_null(conn_next_frame(f->c)); /* at most one reply per message */
    return reply;
}

static json_t *call(struct fixture *f, const char *id, const char *action, const char *payload)
{
    char frame[8192];
    snprintf(frame, sizeof frame, "[2,\"%s\",\"%s\",%s]", id, action, payload);
    return roundtrip(f, frame);
}

static void assert_result(json_t *reply, const char *id)
{
    assert_non_null(reply);
    if (json_integer_value(json_array_get(reply, 0)) != 3) {
        char *t = json_dumps(reply, 0);
        fail_msg("expected CALLRESULT, got %s", t);
    }
    assert_string_equal(json_string_value(json_array_get(reply, 1)), id);
}

static void assert_error(json_t *reply, const char *id, const char *code)
{
    assert_non_null(reply);
    if (json_integer_value(json_array_get(reply, 0)) != 4) {
        char *t = json_dumps(reply, 0);
        fail_msg("expected CALLERROR %s, got %s", code, t);
    }
    assert_int_equal(json_array_size(reply), 5);
    assert_string_equal(json_string_value(json_array_get(reply, 1)), id);
    assert_string_equal(json_string_value(json_array_get(reply, 2)), code);
    assert_true(json_is_object(json_array_get(reply, 4)));
}

static const char *result_str(json_t *reply, const char *k1, const char *k2)
{
    json_t *o = json_object_get(json_array_get(reply, 2), k1);
    return json_string_value(k2 ? json_object_get(o, k2) : o);
}

static int64_t result_int(json_t *reply, const char *key)
{
    return json_integer_value(json_object_get(json_array_get(reply, 2), key));
}

#define BOOT "{\"chargePointVendor\":\"V\",\"chargePointModel\":\"M\",\"firmwareVersion\":\"1.0\"}"

static void boot(struct fixture *f)
{
    json_t *r = call(f, "boot", "BootNotification", BOOT);
    assert_result(r, "boot");
    assert_string_equal(result_str(r, "status", NULL), "Accepted");
    json_decref(r);
}

static int64_t start_tx(struct fixture *f, const char *id, int connector, const char *tag,
                        int meter, const char *ts)
{
    char p[256];
    snprintf(p, sizeof p,
             "{\"connectorId\":%d,\"idTag\":\"%s\",\"meterStart\":%d,\"timestamp\":\"%s\"}",
             connector, tag, meter, ts);
    json_t *r = call(f, id, "StartTransaction", p);
    assert_result(r, id);
    int64_t tx = result_int(r, "transactionId");
    json_decref(r);
    return tx;
}

static void stop_tx(struct fixture *f, const char *id, int64_t tx, int meter, const char *ts)
{
    char p[256];
    snprintf(p, sizeof p, "{\"transactionId\":%lld,\"meterStop\":%d,\"timestamp\":\"%s\"}",
             (long long)tx, meter, ts);
    json_t *r = call(f, id, "StopTransaction", p);
    assert_result(r, id);
    json_decref(r);
}

static void test_dispatch__boot_and_heartbeat_are_answered_with_time(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, false);
    json_t *r = call(f, "1", "BootNotification", BOOT);
    assert_result(r, "1");
    assert_string_equal(result_str(r, "status", NULL), "Accepted");
    assert_int_equal(result_int(r, "interval"), 300);
    int64_t t;
    assert_int_equal(od_time_parse(result_str(r, "currentTime", NULL), &t, NULL), 0);
    json_decref(r);
    r = call(f, "2", "Heartbeat", "{}");
    assert_result(r, "2");
    assert_non_null(result_str(r, "currentTime", NULL));
    json_decref(r);
    struct store_charger ch;
    assert_int_equal(store_charger_get(f->st, "CP1", &ch), 0);
    assert_string_equal(ch.vendor, "V");
    assert_string_equal(ch.firmware, "1.0");
    assert_string_equal(ch.registration, "Accepted");
    fixture_free(f);
}

static void test_dispatch__unknown_and_csms_only_actions(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, false);
    json_t *r = call(f, "a", "FlyToTheMoon", "{}");
    assert_error(r, "a", "NotImplemented");
    json_decref(r);
    r = call(f, "b", "Reset", "{\"type\":\"Soft\"}");
    assert_error(r, "b", "NotSupported");
    json_decref(r);
    /* /metrics: made-up action names share one label, so a charger cannot grow the table */
    r = call(f, "c", "AnotherInvention", "{}");
    json_decref(r);
    const struct metrics_labelled *in = &f->srv.stats.calls_in_by_action;
    assert_int_equal(in->n, 2);
    assert_string_equal(in->labels[0], "unknown");
    assert_int_equal(in->counts[0], 2);
    assert_string_equal(in->labels[1], "Reset");
    assert_int_equal(f->srv.stats.callerrors_by_code[OCPP_ERR_NOT_IMPLEMENTED], 2);
    assert_int_equal(f->srv.stats.callerrors_by_code[OCPP_ERR_NOT_SUPPORTED], 1);
    fixture_free(f);
}

static void test_dispatch__schema_violations_map_to_16_codes(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, false);
    boot(f);
    struct {
        const char *action, *payload, *code;
    } cases[] = {
        {"StatusNotification", "{\"connectorId\":1,\"status\":\"Available\"}",
         "OccurenceConstraintViolation"},
        {"StatusNotification", "{\"connectorId\":\"1\",\"errorCode\":\"NoError\",\"status\":"
                               "\"Available\"}", "TypeConstraintViolation"},
        {"StatusNotification", "{\"connectorId\":1,\"errorCode\":\"Error\",\"status\":"
                               "\"Faulted\"}", "PropertyConstraintViolation"},
        {"Heartbeat", "{\"extra\":1}", "FormationViolation"},
        {"Authorize", "{\"idTag\":\"123456789012345678901\"}", "PropertyConstraintViolation"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char id[8];
        snprintf(id, sizeof id, "s%zu", i);
        json_t *r = call(f, id, cases[i].action, cases[i].payload);
        assert_error(r, id, cases[i].code);
        json_decref(r);
    }
    fixture_free(f);
}

static void test_dispatch__envelope_errors_answer_only_calls_with_an_id(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, false);
    assert_null(roundtrip(f, "not json"));
    assert_null(roundtrip(f, "{\"a\":1}"));
    assert_null(roundtrip(f, "[]"));
    assert_null(roundtrip(f, "[3,\"nobody-asked\",{}]")); /* no pending call: logged only */
    json_t *r = roundtrip(f, "[2,\"e1\",5,{}]");
    assert_error(r, "e1", "FormationViolation"); /* 1.6 has no RpcFrameworkError */
    json_decref(r);
    r = roundtrip(f, "[2,\"e2\",\"Heartbeat\"]");
    assert_non_null(r);
    assert_int_equal(json_integer_value(json_array_get(r, 0)), 4);
    json_decref(r);
    r = roundtrip(f, "[7,\"e3\",\"Heartbeat\",{}]");
    assert_non_null(r);
    assert_int_equal(json_integer_value(json_array_get(r, 0)), 4);
    assert_string_not_equal(json_string_value(json_array_get(r, 2)), "MessageTypeNotSupported");
    json_decref(r);
    /* still serving afterwards */
    r = call(f, "ok", "Heartbeat", "{}");
    assert_result(r, "ok");
    json_decref(r);
    fixture_free(f);
}

static void test_dispatch__unregistered_charger_is_refused_until_accepted(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(false, false);
    json_t *r = call(f, "h", "Heartbeat", "{}");
    assert_error(r, "h", "SecurityError");
    json_decref(r);
    r = call(f, "b", "BootNotification", BOOT);
    assert_result(r, "b");
    assert_string_equal(result_str(r, "status", NULL), "Rejected");
    json_decref(r);
    r = call(f, "h2", "Heartbeat", "{}");
    assert_error(r, "h2", "SecurityError");
    json_decref(r);
    fixture_free(f);
}

static void test_dispatch__authorize_answers_from_the_token_table(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, false);
    boot(f);
    struct store_token t = {.id_tag = "GOOD", .status = "Accepted", .parent_id_tag = "GROUP"};
    assert_int_equal(store_token_put(f->st, &t), 0);
    struct store_token old = {.id_tag = "OLD", .status = "Accepted", .expiry_ms = 1000};
    assert_int_equal(store_token_put(f->st, &old), 0);
    struct store_token blk = {.id_tag = "BAD", .status = "Blocked"};
    assert_int_equal(store_token_put(f->st, &blk), 0);
    const char *tags[][2] = {{"GOOD", "Accepted"}, {"OLD", "Expired"}, {"BAD", "Blocked"},
                             {"WHO", "Invalid"}};
    for (size_t i = 0; i < 4; i++) {
        char p[64];
        snprintf(p, sizeof p, "{\"idTag\":\"%s\"}", tags[i][0]);
        json_t *r = call(f, "au", "Authorize", p);
        assert_result(r, "au");
        assert_string_equal(result_str(r, "idTagInfo", "status"), tags[i][1]);
        if (i == 0) assert_string_equal(result_str(r, "idTagInfo", "parentIdTag"), "GROUP");
        json_decref(r);
    }
    fixture_free(f);
}

static void test_dispatch__session_is_stored_with_normalised_meter_values(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, true);
    boot(f);
    json_t *r = call(f, "s1", "StatusNotification",
                     "{\"connectorId\":1,\"errorCode\":\"NoError\",\"status\":\"Charging\"}");
    assert_result(r, "s1");
    json_decref(r);
    int64_t tx = start_tx(f, "st", 1, "TAG", 1000, "2030-01-01T10:00:00Z");
    assert_true(tx > 0 && tx < 2147483648LL);
    char mv[512];
    snprintf(mv, sizeof mv,
             "{\"connectorId\":1,\"transactionId\":%lld,\"meterValue\":[{\"timestamp\":"
             "\"2030-01-01T10:05:00Z\",\"sampledValue\":[{\"value\":\" 2.5\",\"unit\":\"kWh\","
             "\"measurand\":\"Energy.Active.Import.Register\"},{\"value\":\"3.4\",\"unit\":"
             "\"kW\",\"measurand\":\"Power.Active.Import\"},{\"value\":\"55\",\"measurand\":"
             "\"SoC\",\"unit\":\"Percent\"}]}]}",
             (long long)tx);
    r = call(f, "mv", "MeterValues", mv);
    assert_result(r, "mv");
    json_decref(r);
    struct store_tx row;
    assert_int_equal(store_tx_get(f->st, tx, &row), 0);
    assert_true(row.active);
    assert_true(row.has_energy);
    assert_float_equal(row.last_energy_wh, 2500.0, 0.001);
    assert_float_equal(row.last_power_w, 3400.0, 0.001);
    assert_float_equal(row.last_soc, 55.0, 0.001);
    struct store_connector c;
    assert_int_equal(store_connector_get(f->st, "CP1", 1, 1, &c), 0);
    assert_int_equal(c.tx_id, tx);
    stop_tx(f, "sp", tx, 4000, "2030-01-01T11:00:00Z");
    assert_int_equal(store_tx_get(f->st, tx, &row), 0);
    assert_false(row.active);
    assert_float_equal(row.meter_stop_wh - row.meter_start_wh, 3000.0, 0.001);
    assert_string_equal(row.stop_reason, "Local");
    assert_int_equal(row.flags & ~(uint32_t)STORE_TX_FUTURE_TIME, 0);
    assert_int_equal(store_connector_get(f->st, "CP1", 1, 1, &c), 0);
    assert_int_equal(c.tx_id, 0);
    assert_int_equal(store_meter_count(f->st), 3);
    fixture_free(f);
}

static void test_dispatch__repeated_start_gets_the_same_transaction(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, true);
    boot(f);
    int64_t a = start_tx(f, "x1", 2, "TAG", 500, "2024-01-01T00:00:00Z");
    int64_t b = start_tx(f, "x2", 2, "TAG", 500, "2024-01-01T00:00:00Z");
    assert_int_equal(a, b);
    struct store_tx row;
    assert_int_equal(store_tx_get(f->st, a, &row), 0);
    assert_true(row.flags & STORE_TX_REPEATED_START);
    fixture_free(f);
}

static int count_unknown_stops_cb(const struct store_tx *tx, void *ctx)
{
    if (tx->flags & STORE_TX_UNKNOWN_STOP) {
        ++*(int *)ctx;
        assert_true(tx->flags & STORE_TX_REPEATED_STOP);
    }
    return 0;
}

static void test_dispatch__unknown_and_repeated_stops_are_answered_and_flagged(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, true);
    boot(f);
    stop_tx(f, "u1", -1, 100, "2024-01-01T00:00:00Z");
    stop_tx(f, "u2", -1, 100, "2024-01-01T00:00:00Z"); /* the charger's retry */
    struct store_tx_query q = {.charger_id = "CP1", .active = -1, .limit = 10};
    int unknown = 0;
    assert_int_equal(store_tx_query(f->st, &q, count_unknown_stops_cb, &unknown), 0);
    assert_int_equal(unknown, 1); /* stored once, however often the charger retries */
    int64_t tx = start_tx(f, "s", 1, "TAG", 100, "2024-01-01T00:00:00Z");
    stop_tx(f, "p1", tx, 50, "2024-01-01T01:00:00Z");
    stop_tx(f, "p2", tx, 999, "2024-01-01T02:00:00Z");
    struct store_tx row;
    assert_int_equal(store_tx_get(f->st, tx, &row), 0);
    assert_true(row.flags & STORE_TX_STOP_BELOW_START);
    assert_true(row.flags & STORE_TX_REPEATED_STOP);
    assert_float_equal(row.meter_stop_wh, 50, 0.001); /* the first Stop is kept */
    fixture_free(f);
}

static void test_dispatch__reboot_and_available_close_abandoned_transactions(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, true);
    boot(f);
    int64_t t1 = start_tx(f, "a", 1, "TAG", 100, "2024-01-01T00:00:00Z");
    boot(f); /* the charger rebooted */
    struct store_tx row;
    assert_int_equal(store_tx_get(f->st, t1, &row), 0);
    assert_false(row.active);
    assert_true(row.flags & STORE_TX_CLOSED_BY_SERVER);
    assert_true(strlen(row.note) > 0);
    /* its real Stop arrives later from the charger's queue: values applied */
    stop_tx(f, "late", t1, 900, "2024-01-01T00:30:00Z");
    assert_int_equal(store_tx_get(f->st, t1, &row), 0);
    assert_float_equal(row.meter_stop_wh, 900, 0.001);
    assert_true(row.flags & STORE_TX_CLOSED_BY_SERVER);

    int64_t t2 = start_tx(f, "b", 2, "TAG", 100, "2024-01-01T01:00:00Z");
    json_t *r = call(f, "av", "StatusNotification",
                     "{\"connectorId\":2,\"errorCode\":\"NoError\",\"status\":\"Available\"}");
    assert_result(r, "av");
    json_decref(r);
    assert_int_equal(store_tx_get(f->st, t2, &row), 0);
    assert_false(row.active);
    assert_true(row.flags & STORE_TX_CLOSED_BY_SERVER);
    fixture_free(f);
}

static void test_dispatch__meter_running_backwards_is_flagged(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, true);
    boot(f);
    int64_t tx = start_tx(f, "a", 1, "TAG", 5000, "2024-01-01T00:00:00Z");
    char mv[320];
    snprintf(mv, sizeof mv,
             "{\"connectorId\":1,\"transactionId\":%lld,\"meterValue\":[{\"timestamp\":"
             "\"2024-01-01T00:01:00Z\",\"sampledValue\":[{\"value\":\"4000\"}]}]}",
             (long long)tx);
    json_t *r = call(f, "m", "MeterValues", mv);
    assert_result(r, "m");
    json_decref(r);
    struct store_tx row;
    assert_int_equal(store_tx_get(f->st, tx, &row), 0);
    assert_true(row.flags & STORE_TX_METER_BACKWARDS);
    fixture_free(f);
}

/* Every 1.6 frame real chargers sent gets the answer tests/data/README.md asks for. */
static void test_dispatch__real_charger_frames_get_the_right_answer(void **state)
{
    (void)state;
    const char *path = getenv("OD_REAL_CHARGERS");
    if (!path) path = "tests/data/real-chargers.json";
    json_error_t jerr;
    json_t *all = json_load_file(path, 0, &jerr);
    if (!all) fail_msg("cannot read %s: %s", path, jerr.text);
    struct fixture *f = fixture_new(true, true);
    boot(f);
    size_t i;
    json_t *item;
    int checked = 0;
    json_array_foreach(all, i, item) {
        if (strcmp(json_string_value(json_object_get(item, "protocol")), "ocpp1.6") != 0)
            continue;
        json_t *frame = json_object_get(item, "frame");
        char *text = json_dumps(frame, JSON_COMPACT);
        json_t *r = roundtrip(f, text);
        free(text);
        const char *id = json_string_value(json_array_get(frame, 1));
        json_t *conf = json_object_get(item, "conformant");
        assert_non_null(r);
        assert_string_equal(json_string_value(json_array_get(r, 1)), id);
        int type = (int)json_integer_value(json_array_get(r, 0));
        if (json_is_true(conf) && type != 3) {
            char *t = json_dumps(r, 0);
            fail_msg("%s: expected CALLRESULT, got %s",
                     json_string_value(json_object_get(item, "id")), t);
        }
        if (json_is_false(conf)) {
            assert_int_equal(type, 4);
            const char *code = json_string_value(json_array_get(r, 2));
            assert_true(strcmp(code, "FormationViolation") == 0 ||
                        strcmp(code, "TypeConstraintViolation") == 0 ||
                        strcmp(code, "PropertyConstraintViolation") == 0 ||
                        strcmp(code, "OccurenceConstraintViolation") == 0);
        }
        json_decref(r);
        json_t *hb = call(f, "hb", "Heartbeat", "{}");
        assert_result(hb, "hb");
        json_decref(hb);
        checked++;
    }
    assert_true(checked >= 40);
    json_decref(all);
    fixture_free(f);
}

struct callerror_events {
    int n;
    char last[512];
};

static int callerror_event_cb(const struct store_event *ev, void *ctx)
{
    struct callerror_events *ce = ctx;
    if (strcmp(ev->type, "ocpp.callerror") != 0) return 0;
    ce->n++;
    snprintf(ce->last, sizeof ce->last, "%s", ev->data_json);
    return 0;
}

static void test_dispatch__callerrors_we_send_become_bounded_events(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, false);
    boot(f);
    json_t *r = call(f, "bad", "StatusNotification", "{\"connectorId\":1,\"status\":\"Available\"}");
    assert_error(r, "bad", "OccurenceConstraintViolation");
    json_decref(r);
    struct callerror_events ce = {0};
    assert_int_equal(store_event_foreach(f->st, 0, 0, callerror_event_cb, &ce), 0);
    assert_int_equal(ce.n, 1);
    json_t *d = json_loads(ce.last, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(d, "direction")), "toCharger");
    assert_string_equal(json_string_value(json_object_get(d, "action")), "StatusNotification");
    assert_string_equal(json_string_value(json_object_get(d, "errorCode")),
                        "OccurenceConstraintViolation");
    json_decref(d);

    /* A burst of the same mistake is answered every time but recorded a few times only. */
    for (int i = 0; i < 50; i++) {
        r = call(f, "again", "Heartbeat", "{\"extra\":1}");
        assert_error(r, "again", "FormationViolation");
        json_decref(r);
    }
    ce.n = 0;
    assert_int_equal(store_event_foreach(f->st, 0, 0, callerror_event_cb, &ce), 0);
    assert_in_range(ce.n, 2, 5); /* 2 per second per connection; the loop may span a second */
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dispatch__boot_and_heartbeat_are_answered_with_time),
        cmocka_unit_test(test_dispatch__unknown_and_csms_only_actions),
        cmocka_unit_test(test_dispatch__schema_violations_map_to_16_codes),
        cmocka_unit_test(test_dispatch__callerrors_we_send_become_bounded_events),
        cmocka_unit_test(test_dispatch__envelope_errors_answer_only_calls_with_an_id),
        cmocka_unit_test(test_dispatch__unregistered_charger_is_refused_until_accepted),
        cmocka_unit_test(test_dispatch__authorize_answers_from_the_token_table),
        cmocka_unit_test(test_dispatch__session_is_stored_with_normalised_meter_values),
        cmocka_unit_test(test_dispatch__repeated_start_gets_the_same_transaction),
        cmocka_unit_test(test_dispatch__unknown_and_repeated_stops_are_answered_and_flagged),
        cmocka_unit_test(test_dispatch__reboot_and_available_close_abandoned_transactions),
        cmocka_unit_test(test_dispatch__meter_running_backwards_is_flagged),
        cmocka_unit_test(test_dispatch__real_charger_frames_get_the_right_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
