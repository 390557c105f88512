/* metrics.c — bounded labelled counters and fixed-bucket histograms (metrics.h). Labels are
 * found by linear search: there are tens of them. */
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

void metrics_hist_init(struct metrics_hist *h, const double *bounds, size_t nbounds)
{
    memset(h, 0, sizeof *h);
    h->bounds = bounds;
    h->nbounds = nbounds < METRICS_HIST_BOUNDS_MAX ? nbounds : METRICS_HIST_BOUNDS_MAX;
}

void metrics_hist_add(struct metrics_hist *h, double seconds)
{
    size_t b = 0;
    while (b < h->nbounds && seconds > h->bounds[b]) b++;
    h->counts[b]++;
    h->count++;
    h->sum += seconds;
    if (seconds > h->max) h->max = seconds;
}

double metrics_hist_quantile(const struct metrics_hist *h, double q)
{
    if (!h->count) return 0;
    /* The rank of the q-quantile, counted from 1: the smallest count covering q. */
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if ((double)rank < q * (double)h->count || rank == 0) rank++;
    uint64_t cum = 0;
    for (size_t b = 0; b < h->nbounds; b++) {
        cum += h->counts[b];
        if (cum >= rank) return h->bounds[b] < h->max ? h->bounds[b] : h->max;
    }
    return h->max;
}

void metrics_hist_write(FILE *f, const char *name, const char *help, const struct metrics_hist *h)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (size_t b = 0; b < h->nbounds; b++) {
        cum += h->counts[b];
        fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[b], (unsigned long long)cum);
    }
    cum += h->counts[h->nbounds];
    fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
            (unsigned long long)cum, name, h->sum, name, (unsigned long long)h->count);
}
