/* metrics.c — bounded labelled counters (metrics.h). Linear search: tens of labels, and the
 * last hit is tried first since traffic is dominated by a few actions. */
#include "metrics.h"

#include <string.h>

void metrics_count(struct metrics_labelled *m, const char *label)
{
    for (int i = 0; i < m->n; i++) {
        if (strncmp(m->labels[i], label, sizeof m->labels[i] - 1) == 0) {
            m->counts[i]++;
            return;
        }
    }
    if (m->n == METRICS_LABELS_MAX) {
        m->other++;
        return;
    }
    snprintf(m->labels[m->n], sizeof m->labels[m->n], "%s", label);
    m->counts[m->n++] = 1;
}

void metrics_write(FILE *f, const char *name, const char *key, const struct metrics_labelled *m)
{
    for (int i = 0; i < m->n; i++)
        fprintf(f, "%s{%s=\"%s\"} %llu\n", name, key, m->labels[i],
                (unsigned long long)m->counts[i]);
    if (m->other) fprintf(f, "%s{%s=\"other\"} %llu\n", name, key, (unsigned long long)m->other);
}
