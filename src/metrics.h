/*
 * metrics.h — bounded counters labelled by OCPP action, for /metrics.
 *
 * Labels come from a fixed set (the actions the schemas define), so a charger sending made-up
 * action names cannot grow the table: anything unknown is counted under "unknown", and a full
 * table counts under "other".
 */
#ifndef OD_METRICS_H
#define OD_METRICS_H

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

#endif
