/*
 * peerlimit.c — per-source-address connection counts and token buckets (peerlimit.h).
 *
 * One chained hash table of entries; the bucket array doubles when entries outnumber it. The
 * hash is seeded per process so that nobody can pick addresses that all land in one chain
 * without first learning the seed.
 */
#include "peerlimit.h"

#include "mem.h"
#include "od.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct peerlimit_entry {
    struct peerlimit_entry *hnext;                /* hash chain */
    struct peerlimit_entry *idle_prev, *idle_next; /* idle list, only while not held */
    struct peerlimit_addr addr;
    int conns;
    int pending;
    double hs_tokens;
    int64_t hs_ms; /* when hs_tokens was last brought up to date */
    double auth_tokens;
    int64_t auth_ms;
};

struct peerlimit {
    struct peerlimit_limits lim;
    struct peerlimit_entry **table; /* owns the entries */
    size_t table_size;              /* power of two */
    size_t nentries, nidle;
    struct peerlimit_entry *idle_head, *idle_tail; /* head: most recently used */
    uint64_t seed[2];
    uint64_t jitter_state;
};

#define PEERLIMIT_TABLE_MIN 256

static const uint8_t peerlimit_v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int peerlimit_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len,
                                 struct peerlimit_addr *out)
{
    memset(out, 0, sizeof *out);
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;
        memcpy(out->b, peerlimit_v4_prefix, 12);
        memcpy(out->b + 12, &v4->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;
        memcpy(out->b, &v6->sin6_addr, 16);
        /* An IPv4 client of a dual-stack listener is that IPv4 address, not a /64. */
        if (memcmp(out->b, peerlimit_v4_prefix, 12) != 0) memset(out->b + 8, 0, 8);
        return 0;
    }
    return OD_EINVAL;
}

static bool peerlimit_addr_is_v4(const struct peerlimit_addr *a)
{
    return memcmp(a->b, peerlimit_v4_prefix, 12) == 0;
}

bool peerlimit_addr_is_loopback(const struct peerlimit_addr *a)
{
    if (peerlimit_addr_is_v4(a)) return a->b[12] == 127;
    /* ::1 was cut to its /64, ::/64, which holds nothing else a peer could come from. */
    static const uint8_t zero[16];
    return memcmp(a->b, zero, 16) == 0;
}

void peerlimit_addr_format(const struct peerlimit_addr *a, char *buf, size_t len)
{
    char text[INET6_ADDRSTRLEN] = "?";
    if (peerlimit_addr_is_v4(a)) {
        inet_ntop(AF_INET, a->b + 12, text, sizeof text);
        snprintf(buf, len, "%s", text);
    } else if (peerlimit_addr_is_loopback(a)) {
        snprintf(buf, len, "::1");
    } else {
        inet_ntop(AF_INET6, a->b, text, sizeof text);
        snprintf(buf, len, "%s/64", text);
    }
}

static size_t peerlimit_hash(const struct peerlimit *pl, const struct peerlimit_addr *a)
{
    uint64_t hi, lo;
    memcpy(&hi, a->b, 8);
    memcpy(&lo, a->b + 8, 8);
    uint64_t h = (hi ^ pl->seed[0]) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 31;
    h = (h ^ lo ^ pl->seed[1]) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
    return (size_t)h & (pl->table_size - 1);
}

struct peerlimit *peerlimit_new(const struct peerlimit_limits *lim)
{
    struct peerlimit *pl = xcalloc(1, sizeof *pl);
    pl->lim = *lim;
    pl->table_size = PEERLIMIT_TABLE_MIN;
    pl->table = xcalloc(pl->table_size, sizeof *pl->table);
    if (RAND_bytes((unsigned char *)pl->seed, sizeof pl->seed) != 1) abort(); /* no entropy */
    pl->jitter_state = pl->seed[0] | 1;
    return pl;
}

void peerlimit_free(struct peerlimit *pl)
{
    if (!pl) return;
    for (size_t i = 0; i < pl->table_size; i++) {
        struct peerlimit_entry *e = pl->table[i];
        while (e) {
            struct peerlimit_entry *next = e->hnext;
            free(e);
            e = next;
        }
    }
    free(pl->table);
    free(pl);
}

static void peerlimit_idle_unlink(struct peerlimit *pl, struct peerlimit_entry *e)
{
    if (e->idle_prev) e->idle_prev->idle_next = e->idle_next;
    else pl->idle_head = e->idle_next;
    if (e->idle_next) e->idle_next->idle_prev = e->idle_prev;
    else pl->idle_tail = e->idle_prev;
    e->idle_prev = e->idle_next = NULL;
    pl->nidle--;
}

static void peerlimit_idle_push(struct peerlimit *pl, struct peerlimit_entry *e)
{
    e->idle_prev = NULL;
    e->idle_next = pl->idle_head;
    if (pl->idle_head) pl->idle_head->idle_prev = e;
    else pl->idle_tail = e;
    pl->idle_head = e;
    pl->nidle++;
}

static void peerlimit_remove(struct peerlimit *pl, struct peerlimit_entry *e)
{
    struct peerlimit_entry **pp = &pl->table[peerlimit_hash(pl, &e->addr)];
    while (*pp && *pp != e) pp = &(*pp)->hnext;
    if (*pp) *pp = e->hnext;
    if (e->conns == 0 && e->pending == 0) peerlimit_idle_unlink(pl, e);
    pl->nentries--;
    free(e);
}

static void peerlimit_grow(struct peerlimit *pl)
{
    size_t old_size = pl->table_size;
    struct peerlimit_entry **old = pl->table;
    pl->table_size = old_size * 2;
    pl->table = xcalloc(pl->table_size, sizeof *pl->table);
    for (size_t i = 0; i < old_size; i++) {
        struct peerlimit_entry *e = old[i];
        while (e) {
            struct peerlimit_entry *next = e->hnext;
            size_t h = peerlimit_hash(pl, &e->addr);
            e->hnext = pl->table[h];
            pl->table[h] = e;
            e = next;
        }
    }
    free(old);
}

static struct peerlimit_entry *peerlimit_find(const struct peerlimit *pl,
                                              const struct peerlimit_addr *a)
{
    for (struct peerlimit_entry *e = pl->table[peerlimit_hash(pl, a)]; e; e = e->hnext)
        if (memcmp(e->addr.b, a->b, 16) == 0) return e;
    return NULL;
}

/* The entry of a, created with full buckets if needed; an idle one moves to the fresh end. */
static struct peerlimit_entry *peerlimit_get(struct peerlimit *pl, const struct peerlimit_addr *a,
                                             int64_t now_ms)
{
    struct peerlimit_entry *e = peerlimit_find(pl, a);
    if (e) {
        if (e->conns == 0 && e->pending == 0 && pl->idle_head != e) {
            peerlimit_idle_unlink(pl, e);
            peerlimit_idle_push(pl, e);
        }
        return e;
    }
    if (pl->nidle >= PEERLIMIT_IDLE_MAX) peerlimit_remove(pl, pl->idle_tail);
    if (pl->nentries + 1 > pl->table_size) peerlimit_grow(pl);
    e = xcalloc(1, sizeof *e);
    e->addr = *a;
    e->hs_tokens = pl->lim.hs_burst;
    e->hs_ms = now_ms;
    e->auth_tokens = pl->lim.auth_per_min;
    e->auth_ms = now_ms;
    size_t h = peerlimit_hash(pl, a);
    e->hnext = pl->table[h];
    pl->table[h] = e;
    pl->nentries++;
    peerlimit_idle_push(pl, e);
    return e;
}

/* Brings a bucket up to now_ms: rate_per_s tokens a second, never above cap. */
static void peerlimit_refill(double *tokens, int64_t *at_ms, double rate_per_s, double cap,
                             int64_t now_ms)
{
    if (now_ms > *at_ms) {
        *tokens += (double)(now_ms - *at_ms) / 1000.0 * rate_per_s;
        if (*tokens > cap) *tokens = cap;
    }
    *at_ms = now_ms;
}

/* Seconds until one token is back, doubled at most by jitter so that the clients refused in one
 * burst (a site behind NAT after an outage) do not all come back in the same second. */
static int peerlimit_retry_after(struct peerlimit *pl, double tokens, double rate_per_s)
{
    double wait = rate_per_s > 0 ? (1.0 - tokens) / rate_per_s : 60.0;
    int base = (int)ceil(wait < 1.0 ? 1.0 : wait);
    uint64_t x = pl->jitter_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    pl->jitter_state = x;
    return base + (int)(x % (uint64_t)(base + 1));
}

enum peerlimit_verdict peerlimit_handshake(struct peerlimit *pl, const struct peerlimit_addr *a,
                                           int64_t now_ms, int *retry_after_s)
{
    struct peerlimit_entry *e = peerlimit_get(pl, a, now_ms);
    if (pl->lim.hs_rate > 0) {
        peerlimit_refill(&e->hs_tokens, &e->hs_ms, pl->lim.hs_rate, pl->lim.hs_burst, now_ms);
        if (e->hs_tokens < 1.0) {
            *retry_after_s = peerlimit_retry_after(pl, e->hs_tokens, pl->lim.hs_rate);
            return PEERLIMIT_RATE;
        }
        e->hs_tokens -= 1.0;
    }
    if (pl->lim.max_conns > 0 && e->conns >= pl->lim.max_conns) {
        /* Nothing says when a connection will end; a minute is short for a charger. */
        *retry_after_s = peerlimit_retry_after(pl, 0.0, 1.0 / 30.0);
        return PEERLIMIT_CONNS;
    }
    return PEERLIMIT_OK;
}

enum peerlimit_verdict peerlimit_auth_check(struct peerlimit *pl, const struct peerlimit_addr *a,
                                            int64_t now_ms, int *retry_after_s)
{
    if (pl->lim.auth_per_min <= 0) return PEERLIMIT_OK;
    struct peerlimit_entry *e = peerlimit_get(pl, a, now_ms);
    double rate = pl->lim.auth_per_min / 60.0;
    peerlimit_refill(&e->auth_tokens, &e->auth_ms, rate, pl->lim.auth_per_min, now_ms);
    if (e->auth_tokens >= 1.0) return PEERLIMIT_OK;
    *retry_after_s = peerlimit_retry_after(pl, e->auth_tokens, rate);
    return PEERLIMIT_AUTH;
}

void peerlimit_auth_failed(struct peerlimit *pl, const struct peerlimit_addr *a, int64_t now_ms)
{
    if (pl->lim.auth_per_min <= 0) return;
    struct peerlimit_entry *e = peerlimit_get(pl, a, now_ms);
    peerlimit_refill(&e->auth_tokens, &e->auth_ms, pl->lim.auth_per_min / 60.0,
                     pl->lim.auth_per_min, now_ms);
    e->auth_tokens = e->auth_tokens >= 1.0 ? e->auth_tokens - 1.0 : 0.0;
}

/* count is e->conns or e->pending: an entry with either above zero is held, never evicted. */
static void peerlimit_hold(struct peerlimit *pl, struct peerlimit_entry *e, int *count)
{
    if (e->conns == 0 && e->pending == 0) peerlimit_idle_unlink(pl, e);
    (*count)++;
}

static void peerlimit_release(struct peerlimit *pl, struct peerlimit_entry *e, int *count)
{
    if (*count == 0) return; /* unmatched: nothing to undo */
    (*count)--;
    if (e->conns == 0 && e->pending == 0) {
        if (pl->nidle >= PEERLIMIT_IDLE_MAX) peerlimit_remove(pl, pl->idle_tail);
        peerlimit_idle_push(pl, e);
    }
}

enum peerlimit_verdict peerlimit_accept_check(struct peerlimit *pl, const struct peerlimit_addr *a)
{
    if (pl->lim.max_pending <= 0) return PEERLIMIT_OK;
    const struct peerlimit_entry *e = peerlimit_find(pl, a);
    return e && e->pending >= pl->lim.max_pending ? PEERLIMIT_PENDING : PEERLIMIT_OK;
}

void peerlimit_pending_add(struct peerlimit *pl, const struct peerlimit_addr *a, int64_t now_ms)
{
    struct peerlimit_entry *e = peerlimit_get(pl, a, now_ms);
    peerlimit_hold(pl, e, &e->pending);
}

void peerlimit_pending_done(struct peerlimit *pl, const struct peerlimit_addr *a)
{
    struct peerlimit_entry *e = peerlimit_find(pl, a);
    if (e) peerlimit_release(pl, e, &e->pending);
}

int peerlimit_pending(const struct peerlimit *pl, const struct peerlimit_addr *a)
{
    const struct peerlimit_entry *e = peerlimit_find(pl, a);
    return e ? e->pending : 0;
}

void peerlimit_conn_opened(struct peerlimit *pl, const struct peerlimit_addr *a, int64_t now_ms)
{
    struct peerlimit_entry *e = peerlimit_get(pl, a, now_ms);
    peerlimit_hold(pl, e, &e->conns);
}

void peerlimit_conn_closed(struct peerlimit *pl, const struct peerlimit_addr *a)
{
    struct peerlimit_entry *e = peerlimit_find(pl, a);
    if (e) peerlimit_release(pl, e, &e->conns);
}

int peerlimit_conns(const struct peerlimit *pl, const struct peerlimit_addr *a)
{
    const struct peerlimit_entry *e = peerlimit_find(pl, a);
    return e ? e->conns : 0;
}

size_t peerlimit_entries(const struct peerlimit *pl)
{
    return pl->nentries;
}

size_t peerlimit_idle_entries(const struct peerlimit *pl)
{
    return pl->nidle;
}
