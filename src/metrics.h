/*
 * metrics.h — building blocks for /metrics: bounded counters labelled by OCPP action, and
 * fixed-bucket histograms of seconds.
 *
 * Labels come from a fixed set (the actions the schemas define), so a charger sending made-up
 * action names cannot grow the table: anything unknown is counted under "unknown", and a full
 * table counts under "other". Histograms have their bucket bounds fixed at init, so recording
 * never allocates and a scrape can be subtracted from a later one.
 */
#ifndef OD_METRICS_H
#define OD_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define METRICS_LABELS_MAX 160 /* 1.6 and 2.0.1 define 103 actions together */

struct metrics_labelled {
    char labels[METRICS_LABELS_MAX][48];
    uint64_t counts[METRICS_LABELS_MAX];
    int n;
    uint64_t other;
};

/* Adds one to label's counter (label copied; truncated to 47 characters). */
void metrics_count(struct metrics_labelled *m, const char *label);
/* Writes "name{key="label"} count" lines (no HELP/TYPE header). */
void metrics_write(FILE *f, const char *name, const char *key, const struct metrics_labelled *m);

/* ---- histograms ---------------------------------------------------------------------------- */

#define METRICS_HIST_BOUNDS_MAX 32

/* Counts per bucket; bounds is a static ascending array of upper bounds in seconds (borrowed),
 * and the last count is the +Inf bucket. */
struct metrics_hist {
    const double *bounds;
    size_t nbounds;
    uint64_t counts[METRICS_HIST_BOUNDS_MAX + 1];
    uint64_t count;
    double sum;
    double max;
};

/* Empties h and sets its bounds (nbounds <= METRICS_HIST_BOUNDS_MAX; more are ignored). */
void metrics_hist_init(struct metrics_hist *h, const double *bounds, size_t nbounds);
/* Records one value in seconds. */
void metrics_hist_add(struct metrics_hist *h, double seconds);
/* The upper bound of the bucket holding quantile q (0..1); the max when that is the +Inf
 * bucket; 0 when empty. */
double metrics_hist_quantile(const struct metrics_hist *h, double q);
/* Writes HELP, TYPE histogram, cumulative name_bucket{le=...} lines, name_sum and name_count. */
void metrics_hist_write(FILE *f, const char *name, const char *help, const struct metrics_hist *h);

#endif
