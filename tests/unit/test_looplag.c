/* test_looplag.c — the loop lag timer: it sees a stall of known length, it never keeps the loop
 * alive, it leaves when asked, and /metrics text adds up. */
#include "looplag.h"
#include "metrics.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define STALL_MS 120

static void busy_wait_ms(uint64_t ms)
{
    uint64_t end = uv_hrtime() + ms * 1000000u;
    while (uv_hrtime() < end) {
    }
}

static void end_cb(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, NULL);
}

static void stall_now_cb(uv_timer_t *t)
{
    busy_wait_ms(STALL_MS);
    uv_close((uv_handle_t *)t, NULL);
}

static void test_looplag__catches_a_stall_of_known_length(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct looplag lag;
    looplag_init(&lag, &loop, 10);
    looplag_start(&lag, NULL, NULL);
    uv_timer_t stall, end;
    uv_timer_init(&loop, &stall);
    uv_timer_init(&loop, &end);
    uv_timer_start(&stall, stall_now_cb, 35, 0);
    uv_timer_start(&end, end_cb, 400, 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    looplag_close(&lag);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&loop), 0);
    /* The stall holds a due tick for STALL_MS minus at most one interval (and clock slop). */
    assert_true(lag.lag.max >= (STALL_MS - 10 - 2) / 1e3);
    assert_true(lag.lag.max < 5.0);
    assert_true(lag.lag.sum >= (STALL_MS - 12) / 1e3);
    /* A 400 ms run has room for at least 10 ticks of 10 ms besides the stall. */
    assert_true(lag.lag.count >= 10);
    assert_true(metrics_hist_quantile(&lag.lag, 1.0) >= (STALL_MS - 12) / 1e3);
    /* One late tick, not a burst of catch-up ticks that would each look on time: the ticks
     * over 50 ms are few (one, unless the machine itself stalled us too). */
    uint64_t over_50ms = 0;
    for (size_t b = 0; b <= lag.lag.nbounds; b++)
        if (b == lag.lag.nbounds || lag.lag.bounds[b] > 0.05) over_50ms += lag.lag.counts[b];
    assert_true(over_50ms >= 1 && over_50ms <= 3);
}

static void test_looplag__never_keeps_the_loop_alive(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct looplag lag;
    looplag_init(&lag, &loop, 1);
    looplag_start(&lag, NULL, NULL);
    uint64_t t0 = uv_hrtime();
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_true(uv_hrtime() - t0 < 50 * 1000000u);
    assert_int_equal(lag.lag.count, 0);
    assert_int_equal(uv_loop_close(&loop), UV_EBUSY); /* still open until closed */
    looplag_close(&lag);
    looplag_close(&lag); /* idempotent */
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static bool after_five_ticks(void *arg)
{
    struct looplag *lag = arg;
    return lag->lag.count >= 5;
}

static void keepalive_cb(uv_timer_t *t)
{
    struct looplag *lag = t->data;
    if (lag->closing) uv_close((uv_handle_t *)t, NULL);
}

static void test_looplag__closes_itself_when_told(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct looplag lag;
    looplag_init(&lag, &loop, 2);
    looplag_start(&lag, after_five_ticks, &lag);
    uv_timer_t keep; /* a referenced handle so the loop runs until the lag timer has left */
    uv_timer_init(&loop, &keep);
    keep.data = &lag;
    uv_timer_start(&keep, keepalive_cb, 1, 1);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(lag.lag.count, 5);
    assert_true(lag.closing);
    assert_int_equal(uv_loop_close(&loop), 0); /* nothing left to close */
}

static void test_looplag__prometheus_text_is_cumulative(void **state)
{
    (void)state;
    static const double bounds[] = {0.001, 0.01, 0.1};
    struct metrics_hist h;
    metrics_hist_init(&h, bounds, 3);
    metrics_hist_add(&h, 0.0005);
    metrics_hist_add(&h, 0.005);
    metrics_hist_add(&h, 0.005);
    metrics_hist_add(&h, 0.5);
    assert_true(metrics_hist_quantile(&h, 0.5) == 0.01);
    assert_true(metrics_hist_quantile(&h, 0.25) == 0.001);
    assert_true(metrics_hist_quantile(&h, 0.99) == 0.5); /* +Inf bucket: the max */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    metrics_hist_write(f, "x_seconds", "help", &h);
    fclose(f);
    assert_non_null(strstr(buf, "# TYPE x_seconds histogram\n"));
    assert_non_null(strstr(buf, "x_seconds_bucket{le=\"0.001\"} 1\n"));
    assert_non_null(strstr(buf, "x_seconds_bucket{le=\"0.01\"} 3\n"));
    assert_non_null(strstr(buf, "x_seconds_bucket{le=\"0.1\"} 3\n"));
    assert_non_null(strstr(buf, "x_seconds_bucket{le=\"+Inf\"} 4\n"));
    assert_non_null(strstr(buf, "x_seconds_count 4\n"));
    free(buf);

    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct looplag lag;
    looplag_init(&lag, &loop, 10);
    metrics_hist_add(&lag.lag, 0.25);
    f = open_memstream(&buf, &len);
    assert_non_null(f);
    looplag_write_metrics(&lag, f);
    fclose(f);
    assert_non_null(strstr(buf, "# TYPE ocppd_loop_lag_seconds histogram\n"));
    assert_non_null(strstr(buf, "ocppd_loop_lag_seconds_bucket{le=\"0.2\"} 0\n"));
    assert_non_null(strstr(buf, "ocppd_loop_lag_seconds_bucket{le=\"0.3\"} 1\n"));
    assert_non_null(strstr(buf, "ocppd_loop_lag_seconds_count 1\n"));
    assert_non_null(strstr(buf, "ocppd_loop_lag_max_seconds 0.250000\n"));
    free(buf);
    looplag_close(&lag);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_looplag__catches_a_stall_of_known_length),
        cmocka_unit_test(test_looplag__never_keeps_the_loop_alive),
        cmocka_unit_test(test_looplag__closes_itself_when_told),
        cmocka_unit_test(test_looplag__prometheus_text_is_cumulative),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
