/*
 * test_commit.c — group commit: a reply never acknowledges data that did not reach the
 * database. store_batch_commit is wrapped at link time (-Wl,--wrap) so the test can make a
 * commit fail the way a full disk or I/O error would.
 */
#include "dispatch.h"
#include "fixture.h"
#include "od.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

int __real_store_batch_commit(struct store *st);
int __wrap_store_batch_commit(struct store *st);

static bool fail_next_commit;

int __wrap_store_batch_commit(struct store *st)
{
    if (fail_next_commit) {
        fail_next_commit = false;
        return OD_EDB;
    }
    return __real_store_batch_commit(st);
}

static int count_cb(const struct store_tx *tx, void *ctx)
{
    (void)tx;
    ++*(int *)ctx;
    return 0;
}

static json_t *frame_roundtrip(struct fixture *f, const char *frame)
{
    dispatch_message(f->c, frame, strlen(frame));
    server_commit(&f->srv);
    return fixture_next_frame(f);
}

static void test_commit__failed_commit_turns_results_into_internal_error(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, true);
    json_t *r = frame_roundtrip(f, "[2,\"b\",\"BootNotification\",{\"chargePointVendor\":\"V\","
                        "\"chargePointModel\":\"M\"}]");
    assert_int_equal(json_integer_value(json_array_get(r, 0)), 3);
    json_decref(r);

    fail_next_commit = true;
    r = frame_roundtrip(f, "[2,\"st\",\"StartTransaction\",{\"connectorId\":1,\"idTag\":\"T\","
                "\"meterStart\":0,\"timestamp\":\"2024-01-01T00:00:00Z\"}]");
    assert_int_equal(json_integer_value(json_array_get(r, 0)), 4);
    assert_string_equal(json_string_value(json_array_get(r, 1)), "st");
    assert_string_equal(json_string_value(json_array_get(r, 2)), "InternalError");
    json_decref(r);
    /* nothing of the failed batch is stored: the charger's retry starts a fresh transaction */
    struct store_tx_query q = {.charger_id = "CP1", .active = -1, .limit = 10};
    int n = 0;
    assert_int_equal(store_tx_query(f->st, &q, count_cb, &n), 0);
    assert_int_equal(n, 0);

    r = frame_roundtrip(f, "[2,\"st2\",\"StartTransaction\",{\"connectorId\":1,\"idTag\":\"T\","
                "\"meterStart\":0,\"timestamp\":\"2024-01-01T00:00:00Z\"}]");
    assert_int_equal(json_integer_value(json_array_get(r, 0)), 3);
    json_decref(r);
    n = 0;
    assert_int_equal(store_tx_query(f->st, &q, count_cb, &n), 0);
    assert_int_equal(n, 1);
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit__failed_commit_turns_results_into_internal_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
