/*
 * test_call.c — CSMS-initiated calls: one in flight per charger, the rest queued, validation
 * before sending, and exactly one completion per call (result, error, timeout, disconnect).
 */
#include "call.h"
#include "dispatch.h"
#include "fixture.h"
#include "od.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

struct outcome {
    int calls;
    enum call_status status;
    char code[48];
    char payload[256];
};

static void record_cb(void *ctx, const struct call_outcome *out)
{
    struct outcome *o = ctx;
    o->calls++;
    o->status = out->status;
    snprintf(o->code, sizeof o->code, "%s", out->error_code ? out->error_code : "");
    char *t = out->payload ? json_dumps(out->payload, JSON_COMPACT) : NULL;
    snprintf(o->payload, sizeof o->payload, "%s", t ? t : "");
    free(t);
}

/* Reads the CALL the charger would receive and returns its unique id (static buffer). */
static const char *sent_call(struct fixture *f, const char *action)
{
    static char id[64];
    json_t *frame = fixture_next_frame(f);
    assert_non_null(frame);
    assert_int_equal(json_integer_value(json_array_get(frame, 0)), 2);
    assert_string_equal(json_string_value(json_array_get(frame, 2)), action);
    snprintf(id, sizeof id, "%s", json_string_value(json_array_get(frame, 1)));
    json_decref(frame);
    return id;
}

static void reply(struct fixture *f, const char *text)
{
    dispatch_message(f->c, text, strlen(text));
    server_commit(&f->srv);
}

static void test_call__one_in_flight_and_results_routed_back(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, false);
    struct outcome a = {0}, b = {0};
    struct ocpp_error err;
    json_t *p = json_pack("{s:s}", "type", "Soft");
    assert_int_equal(call_send(f->c, "Reset", p, 1000, record_cb, &a, &err), 0);
    assert_int_equal(call_send(f->c, "Reset", p, 1000, record_cb, &b, &err), 0);
    json_decref(p);
    char id[64];
    snprintf(id, sizeof id, "%s", sent_call(f, "Reset"));
    assert_null(fixture_next_frame(f)); /* the second waits for the first */
    char frame[160];
    snprintf(frame, sizeof frame, "[3,\"%s\",{\"status\":\"Accepted\"}]", id);
    reply(f, frame);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.status, CALL_RESULT);
    assert_string_equal(a.payload, "{\"status\":\"Accepted\"}");
    snprintf(id, sizeof id, "%s", sent_call(f, "Reset")); /* now the second goes out */
    snprintf(frame, sizeof frame, "[4,\"%s\",\"NotSupported\",\"no\",{}]", id);
    reply(f, frame);
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.status, CALL_ERROR);
    assert_string_equal(b.code, "NotSupported");
    /* both round trips and both sends are counted for /metrics */
    assert_int_equal(f->srv.stats.call_latency.count, 2);
    assert_int_equal(f->srv.stats.calls_out_by_action.n, 1);
    assert_string_equal(f->srv.stats.calls_out_by_action.labels[0], "Reset");
    assert_int_equal(f->srv.stats.calls_out_by_action.counts[0], 2);
    fixture_free(f);
    assert_int_equal(a.calls, 1); /* completed exactly once, even through teardown */
}

static void test_call__invalid_payload_is_refused_before_sending(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, false);
    struct outcome a = {0};
    struct ocpp_error err;
    json_t *p = json_pack("{s:s}", "type", "Sideways");
    assert_int_equal(call_send(f->c, "Reset", p, 1000, record_cb, &a, &err), OD_EINVAL);
    assert_int_equal(err.code, OCPP_ERR_PROPERTY_CONSTRAINT);
    assert_int_equal(call_send(f->c, "MakeCoffee", p, 1000, record_cb, &a, &err), OD_EINVAL);
    json_decref(p);
    assert_null(fixture_next_frame(f));
    assert_int_equal(a.calls, 0);
    fixture_free(f);
}

static void test_call__result_failing_its_schema_is_reported_as_error(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, false);
    struct outcome a = {0};
    struct ocpp_error err;
    json_t *p = json_pack("{s:s}", "type", "Hard");
    assert_int_equal(call_send(f->c, "Reset", p, 1000, record_cb, &a, &err), 0);
    json_decref(p);
    char frame[160];
    snprintf(frame, sizeof frame, "[3,\"%s\",{\"status\":\"Maybe\"}]", sent_call(f, "Reset"));
    reply(f, frame);
    assert_int_equal(a.status, CALL_ERROR);
    assert_string_equal(a.code, "PropertyConstraintViolation");
    fixture_free(f);
}

static void test_call__timeout_completes_once_and_frees_the_slot(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, false);
    struct outcome a = {0}, b = {0};
    struct ocpp_error err;
    json_t *p = json_object();
    assert_int_equal(call_send(f->c, "ClearCache", p, 20, record_cb, &a, &err), 0);
    assert_int_equal(call_send(f->c, "ClearCache", p, 5000, record_cb, &b, &err), 0);
    json_decref(p);
    char late[64];
    snprintf(late, sizeof late, "%s", sent_call(f, "ClearCache"));
    while (a.calls == 0) uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(a.status, CALL_TIMEOUT);
    sent_call(f, "ClearCache"); /* the queued one was sent when the first timed out */
    char frame[160];
    snprintf(frame, sizeof frame, "[3,\"%s\",{\"status\":\"Accepted\"}]", late);
    reply(f, frame); /* a late answer to the timed-out call is ignored */
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 0);
    fixture_free(f);
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.status, CALL_DISCONNECTED);
}

static void test_call__disconnect_completes_every_pending_call(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, false);
    struct outcome o[3] = {{0}};
    struct ocpp_error err;
    json_t *p = json_object();
    for (int i = 0; i < 3; i++)
        assert_int_equal(call_send(f->c, "ClearCache", p, 5000, record_cb, &o[i], &err), 0);
    json_decref(p);
    conn_on_closed(f->c);
    f->c = NULL;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(o[i].calls, 1);
        assert_int_equal(o[i].status, CALL_DISCONNECTED);
    }
    fixture_free(f);
}

static void test_call__queue_is_bounded(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, false);
    struct outcome o = {0};
    struct ocpp_error err;
    json_t *p = json_object();
    int accepted = 0, rc = 0;
    for (int i = 0; i < CALL_QUEUE_MAX + 5 && rc == 0; i++) {
        rc = call_send(f->c, "ClearCache", p, 5000, record_cb, &o, &err);
        if (rc == 0) accepted++;
    }
    json_decref(p);
    assert_int_equal(rc, OD_ELIMIT);
    assert_int_equal(accepted, CALL_QUEUE_MAX + 1); /* one in flight + a full queue */
    fixture_free(f);
    assert_int_equal(o.calls, accepted);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call__one_in_flight_and_results_routed_back),
        cmocka_unit_test(test_call__invalid_payload_is_refused_before_sending),
        cmocka_unit_test(test_call__result_failing_its_schema_is_reported_as_error),
        cmocka_unit_test(test_call__timeout_completes_once_and_frees_the_slot),
        cmocka_unit_test(test_call__disconnect_completes_every_pending_call),
        cmocka_unit_test(test_call__queue_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
