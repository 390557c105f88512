/*
 * hist.c — log-linear histogram (load.h): values below HIST_LINEAR get one bucket each; above,
 * every power of two is split into 2^HIST_SUB_BITS buckets, so a percentile is off by at most
 * about 3 % and adding a sample is a few instructions.
 */
#include "load.h"

static unsigned hist_index(uint64_t v)
{
    if (v < HIST_LINEAR) return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= 6 */
    unsigned sub = (unsigned)(v >> (e - HIST_SUB_BITS)) & ((1u << HIST_SUB_BITS) - 1);
    unsigned i = HIST_LINEAR + (e - 6) * (1u << HIST_SUB_BITS) + sub;
    return i < HIST_BUCKETS ? i : HIST_BUCKETS - 1;
}

/* The largest value that lands in bucket i. */
static uint64_t hist_upper(unsigned i)
{
    if (i < HIST_LINEAR) return i;
    unsigned k = i - HIST_LINEAR;
    unsigned e = 6 + k / (1u << HIST_SUB_BITS);
    uint64_t sub = k % (1u << HIST_SUB_BITS);
    uint64_t lo = ((1ull << HIST_SUB_BITS) + sub) << (e - HIST_SUB_BITS);
    return lo + (1ull << (e - HIST_SUB_BITS)) - 1;
}

void hist_add(struct hist *h, uint64_t v)
{
    h->b[hist_index(v)]++;
    h->count++;
    h->sum += v;
    if (v > h->max) h->max = v;
}

void hist_merge(struct hist *into, const struct hist *from)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++) into->b[i] += from->b[i];
    into->count += from->count;
    into->sum += from->sum;
    if (from->max > into->max) into->max = from->max;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
    if (!h->count) return 0;
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if (rank >= h->count) rank = h->count - 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen > rank) {
            uint64_t u = hist_upper(i);
            return u < h->max ? u : h->max;
        }
    }
    return h->max;
}
