/* test_timeutil.c — OCPP date-time parsing and formatting. */
#include "od.h"
#include "timeutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

static void test_timeutil__parses_utc_offsets_and_fractions(void **state)
{
    (void)state;
    int64_t t;
    bool zone;
    assert_int_equal(od_time_parse("2023-03-28T04:47:37.000Z", &t, &zone), 0);
    assert_true(zone);
    assert_int_equal(t, 1679978857000LL);
    assert_int_equal(od_time_parse("2023-03-28T06:47:37+02:00", &t, NULL), 0);
    assert_int_equal(t, 1679978857000LL);
    assert_int_equal(od_time_parse("2025-04-23T16:58:52.901Z", &t, NULL), 0);
    assert_int_equal(t % 1000, 901);
    /* microseconds are truncated to milliseconds */
    assert_int_equal(od_time_parse("2023-03-28T04:47:37.123456Z", &t, NULL), 0);
    assert_int_equal(t, 1679978857123LL);
}

static void test_timeutil__reads_missing_zone_as_utc_and_says_so(void **state)
{
    (void)state;
    int64_t t;
    bool zone = true;
    assert_int_equal(od_time_parse("2023-10-19T15:28:07", &t, &zone), 0);
    assert_false(zone);
    assert_int_equal(t, 1697729287000LL);
}

static void test_timeutil__rejects_malformed(void **state)
{
    (void)state;
    int64_t t;
    const char *bad[] = {"", "2023-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "2023-01-01",
                         "2023-01-01T25:00:00Z", "2023-01-01T00:00:00Zjunk", "yesterday",
                         "2023-01-01T00:00:00.Z", "2023-01-01T00:00:00+1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(od_time_parse(bad[i], &t, NULL), OD_EPARSE);
    assert_int_equal(od_time_parse("2024-02-29T00:00:00Z", &t, NULL), 0);
}

static void test_timeutil__format_round_trips(void **state)
{
    (void)state;
    char buf[OD_TIME_BUFSZ];
    int64_t t;
    assert_string_equal(od_time_format(1679978857123LL, buf, sizeof buf),
                        "2023-03-28T04:47:37.123Z");
    assert_int_equal(od_time_parse(buf, &t, NULL), 0);
    assert_int_equal(t, 1679978857123LL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeutil__parses_utc_offsets_and_fractions),
        cmocka_unit_test(test_timeutil__reads_missing_zone_as_utc_and_says_so),
        cmocka_unit_test(test_timeutil__rejects_malformed),
        cmocka_unit_test(test_timeutil__format_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
