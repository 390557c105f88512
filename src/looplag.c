/*
 * looplag.c — event loop lag (looplag.h).
 *
 * The timer is one-shot and re-armed from its own callback rather than a libuv repeat, so the
 * due time is exactly what we armed (loop time now + interval) and a long stall yields one late
 * tick, not a burst of catch-up ticks that would each look on time.
 */
#include "looplag.h"

#include <stdio.h>
#include <string.h>

/* Upper bounds in seconds: dense below 50 ms where a healthy loop lives, then up to the 2 s a
 * store busy timeout can hold it. */
static const double looplag_bounds_s[] = {
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05,
    0.075,  0.1,   0.15,  0.2,   0.3,   0.5,    0.75, 1.0,   2.0,  5.0,
};

static void looplag_closed_cb(uv_handle_t *h)
{
    (void)h;
}

static void looplag_tick_cb(uv_timer_t *t)
{
    struct looplag *lag = t->data;
    /* uv_now() is the loop clock in ms; the timer could not fire before it reached due_ms, so
     * hrtime minus due is how long the loop kept a due callback waiting. */
    uint64_t now_ns = uv_hrtime();
    uint64_t due_ns = lag->due_ms * 1000000u;
    metrics_hist_add(&lag->lag, now_ns > due_ns ? (double)(now_ns - due_ns) / 1e9 : 0.0);
    if (lag->stop_when && lag->stop_when(lag->stop_arg)) {
        looplag_close(lag);
        return;
    }
    lag->due_ms = uv_now(t->loop) + lag->interval_ms;
    uv_timer_start(t, looplag_tick_cb, lag->interval_ms, 0);
}

void looplag_init(struct looplag *lag, uv_loop_t *loop, unsigned interval_ms)
{
    memset(lag, 0, sizeof *lag);
    lag->interval_ms = interval_ms ? interval_ms : 1;
    metrics_hist_init(&lag->lag, looplag_bounds_s,
                      sizeof looplag_bounds_s / sizeof *looplag_bounds_s);
    uv_timer_init(loop, &lag->timer);
    lag->timer.data = lag;
    uv_unref((uv_handle_t *)&lag->timer);
}

void looplag_start(struct looplag *lag, looplag_stop_when_cb stop_when, void *arg)
{
    if (lag->started || lag->closing) return;
    lag->started = true;
    lag->stop_when = stop_when;
    lag->stop_arg = arg;
    lag->due_ms = uv_now(lag->timer.loop) + lag->interval_ms;
    uv_timer_start(&lag->timer, looplag_tick_cb, lag->interval_ms, 0);
}

void looplag_close(struct looplag *lag)
{
    if (lag->closing) return;
    lag->closing = true;
    uv_timer_stop(&lag->timer);
    uv_close((uv_handle_t *)&lag->timer, looplag_closed_cb);
}

void looplag_write_metrics(const struct looplag *lag, FILE *f)
{
    char help[96];
    snprintf(help, sizeof help, "How late the event loop ran a timer due every %llu ms.",
             (unsigned long long)lag->interval_ms);
    metrics_hist_write(f, "ocppd_loop_lag_seconds", help, &lag->lag);
    fprintf(f, "# HELP ocppd_loop_lag_max_seconds Largest event loop lag since start.\n"
               "# TYPE ocppd_loop_lag_max_seconds gauge\nocppd_loop_lag_max_seconds %.6f\n",
            lag->lag.max);
}
