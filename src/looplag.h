/*
 * looplag.h — event loop lag: how late the loop runs a timer that is due every few
 * milliseconds.
 *
 * Everything in ocppd shares one loop thread, so anything that holds it (a slow fsync or WAL
 * checkpoint, a PBKDF2 check, a large admin answer) delays every charger at once. This module
 * measures that delay directly: a repeating timer records, at each tick, the time between the
 * moment it was due (loop clock) and the moment its callback ran, into a fixed-bucket histogram
 * plus the largest value seen. Resolution is about a millisecond (the loop clock's and the poll
 * timeout's), so a few milliseconds are noise. It is not a profiler: it says that the loop was
 * held, not by what.
 *
 * The timer is unreferenced: it never keeps the loop alive on its own. Loop thread only.
 */
#ifndef OD_LOOPLAG_H
#define OD_LOOPLAG_H

#include "metrics.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#define LOOPLAG_INTERVAL_MS 10

/* Asked at each tick; true makes the timer close itself (see looplag_start). */
typedef bool (*looplag_stop_when_cb)(void *arg);

/* One measurement; its owner keeps it alive until looplag_close()'s callback has run (in
 * practice: until the loop has been run after closing, or closed). */
struct looplag {
    uv_timer_t timer;
    uint64_t interval_ms;
    uint64_t due_ms;                /* loop time the pending tick is due at */
    looplag_stop_when_cb stop_when; /* may be NULL */
    void *stop_arg;
    bool started, closing;
    struct metrics_hist lag;        /* seconds late, one sample per tick */
};

/* Prepares lag on loop (interval_ms >= 1) without starting it. */
void looplag_init(struct looplag *lag, uv_loop_t *loop, unsigned interval_ms);
/* Starts ticking. stop_when (may be NULL) is asked at each tick; once it answers true the timer
 * closes itself, so a shutdown that waits for every other handle on the loop to go is not held
 * up by this one. */
void looplag_start(struct looplag *lag, looplag_stop_when_cb stop_when, void *arg);
/* Stops and closes the timer; idempotent; safe before start. The close completes when the loop
 * next runs. The figures stay readable. */
void looplag_close(struct looplag *lag);
/* Writes ocppd_loop_lag_seconds (histogram) and ocppd_loop_lag_max_seconds (gauge, the largest
 * lag since start) in Prometheus text format. */
void looplag_write_metrics(const struct looplag *lag, FILE *f);

#endif
