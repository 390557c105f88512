/*
 * scrape.c — reads the server's event loop lag from its Prometheus /metrics (load.h), so a run
 * can report how long the server's loop was held during exactly the measured window.
 *
 * A blocking HTTP/1.0 GET over a plain socket: only the parent process calls it, between
 * sleeps, and it only ever talks to a server on loopback. Anything unexpected (no answer, no
 * loop lag lines) leaves the sample marked not ok; the run still completes.
 */
#include "load.h"

#include <arpa/inet.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define SCRAPE_MAX_BYTES (1 << 20)

/* Splits http://host:port/path; returns 0 or -1. */
static int scrape_parse_url(const char *url, char *host, size_t hostlen, char *port,
                            size_t portlen, const char **path)
{
    const char *p = strncmp(url, "http://", 7) == 0 ? url + 7 : NULL;
    if (!p) return -1;
    const char *slash = strchr(p, '/');
    const char *colon = memchr(p, ':', slash ? (size_t)(slash - p) : strlen(p));
    const char *hend = colon ? colon : slash ? slash : p + strlen(p);
    if (hend == p || (size_t)(hend - p) >= hostlen) return -1;
    snprintf(host, hostlen, "%.*s", (int)(hend - p), p);
    if (colon) {
        const char *pend = slash ? slash : colon + strlen(colon);
        snprintf(port, portlen, "%.*s", (int)(pend - colon - 1), colon + 1);
    } else {
        snprintf(port, portlen, "80");
    }
    *path = slash ? slash : "/";
    return 0;
}

/* The whole response (headers included) as a NUL-terminated heap string, or NULL. */
static char *scrape_get(const char *url)
{
    char host[256], port[16];
    const char *path;
    if (scrape_parse_url(url, host, sizeof host, port, sizeof port, &path)) return NULL;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, port, &hints, &ai) || !ai) return NULL;
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    char *buf = NULL;
    if (fd < 0) goto out;
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen)) goto out;
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s:%s\r\n\r\n", path, host, port);
    if (n <= 0 || write(fd, req, (size_t)n) != n) goto out;
    size_t len = 0, cap = 65536;
    buf = malloc(cap);
    if (!buf) goto out;
    for (;;) {
        if (len + 1 == cap) {
            if (cap >= SCRAPE_MAX_BYTES) break;
            char *nb = realloc(buf, cap * 2);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r <= 0) break;
        len += (size_t)r;
    }
    buf[len] = '\0';
out:
    if (fd >= 0) close(fd);
    freeaddrinfo(ai);
    return buf;
}

struct load_lag_sample load_scrape_lag(const char *url)
{
    struct load_lag_sample s;
    memset(&s, 0, sizeof s);
    if (!url) return s;
    char *body = scrape_get(url);
    if (!body) return s;
    bool have_max = false;
    for (char *line = strtok(body, "\n"); line; line = strtok(NULL, "\n")) {
        double le;
        unsigned long long v;
        if (sscanf(line, "ocppd_loop_lag_seconds_bucket{le=\"%lf\"} %llu", &le, &v) == 2) {
            if (s.nbuckets < LOAD_LAG_BUCKETS) {
                s.le[s.nbuckets] = le;
                s.cum[s.nbuckets++] = v;
            }
        } else if (sscanf(line, "ocppd_loop_lag_seconds_count %llu", &v) == 1) {
            s.count = v;
        } else if (sscanf(line, "ocppd_loop_lag_max_seconds %lf", &le) == 1) {
            s.max_s = le;
            have_max = true;
        }
    }
    free(body);
    s.ok = s.nbuckets > 0 && have_max;
    return s;
}

/* The upper bound of the bucket holding quantile q of the ticks between a and b (the +Inf
 * bucket reads as b's max since start). */
static double lag_quantile(const struct load_lag_sample *a, const struct load_lag_sample *b,
                           double q, uint64_t total)
{
    uint64_t rank = (uint64_t)(q * (double)total);
    if ((double)rank < q * (double)total || rank == 0) rank++;
    for (int i = 0; i < b->nbuckets; i++) {
        uint64_t in = b->cum[i] - (i < a->nbuckets ? a->cum[i] : 0);
        if (in >= rank) return isinf(b->le[i]) || b->le[i] > b->max_s ? b->max_s : b->le[i];
    }
    return b->max_s;
}

struct load_lag load_lag_window(const struct load_lag_sample *a, const struct load_lag_sample *b)
{
    struct load_lag w;
    memset(&w, 0, sizeof w);
    if (!a->ok || !b->ok || a->nbuckets != b->nbuckets || b->count < a->count) return w;
    w.ok = true;
    w.ticks = b->count - a->count;
    w.max_since_start_s = b->max_s;
    if (!w.ticks) return w;
    w.p50_s = lag_quantile(a, b, 0.5, w.ticks);
    w.p99_s = lag_quantile(a, b, 0.99, w.ticks);
    /* The window's max: exact when it raised the since-start max, else the upper bound of the
     * highest bucket the window's ticks reached. */
    if (b->max_s > a->max_s) {
        w.max_s = b->max_s;
        w.max_exact = true;
    } else {
        w.max_s = b->max_s;
        for (int i = 0; i < b->nbuckets; i++)
            if (b->cum[i] - a->cum[i] == w.ticks) {
                w.max_s = b->le[i] < b->max_s ? b->le[i] : b->max_s;
                break;
            }
    }
    return w;
}
