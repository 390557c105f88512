/*
 * webhooks.c — event delivery to HTTP endpoints (webhooks.h): a minimal HTTP/1.1 POST client on
 * libuv TCP (http:// only, one request per connection), the per-hook state machine, and the
 * webhooks.* admin operations.
 *
 * A hook's life: IDLE -> (next event read from the store) RESOLVING -> CONNECTING -> WAITING
 * (request written, reading the status line) -> CLOSING -> IDLE on 2xx, or BACKOFF -> IDLE after
 * a failure. The hook struct is freed once every handle and request of it has finished.
 */
#include "webhooks.h"

#include "log.h"
#include "mem.h"
#include "od.h"
#include "server.h"
#include "store.h"
#include "store_webhook.h"
#include "timeutil.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <uv.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WH_SCAN_CHUNK 256
#define WH_TYPE_LEN 48

enum wh_state { WH_IDLE, WH_RESOLVING, WH_CONNECTING, WH_WAITING, WH_CLOSING, WH_BACKOFF };

struct webhook {
    struct webhook *next;
    struct server *srv;
    int64_t id;
    char url[STORE_WEBHOOK_URL_LEN];
    struct webhook_url u;
    char secret[STORE_WEBHOOK_SECRET_LEN];
    int ntypes;
    char types[WEBHOOK_MAX_TYPES][WH_TYPE_LEN];
    int64_t pos;        /* last seq delivered or skipped */
    int64_t stored_pos; /* last pos written to the store */
    int64_t cur_seq;    /* the event of the attempt in progress */
    char *req;          /* the request text of that attempt (owned) */
    size_t req_len;
    enum wh_state state;
    bool ok;            /* outcome of the attempt being closed */
    unsigned failures;  /* consecutive */
    char last_error[128];
    uv_timer_t timer;   /* request timeout and backoff */
    uv_tcp_t tcp;
    bool tcp_open;
    uv_getaddrinfo_t gai;
    bool gai_busy;
    uv_connect_t connect_req;
    uv_write_t write_req;
    char rbuf[1024];
    size_t rlen;
    int refs;           /* open handles and requests in flight */
    bool dead;
    bool draining;      /* shutting down: end after the attempt in flight */
};

/* ---- URL and signature ---------------------------------------------------------------------- */

int webhook_url_parse(const char *url, struct webhook_url *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    static const char scheme[] = "http://";
    if (!url || strncmp(url, scheme, sizeof scheme - 1) != 0) {
        snprintf(err, errlen, "parameter 'url' must start with http://");
        return OD_EINVAL;
    }
    const char *p = url + sizeof scheme - 1;
    for (const char *q = url; *q; q++)
        if ((unsigned char)*q <= 0x20 || *q == 0x7f) {
            snprintf(err, errlen, "parameter 'url' must not contain spaces or control characters");
            return OD_EINVAL;
        }
    const char *host = p, *host_end;
    if (*p == '[') {
        host = p + 1;
        host_end = strchr(host, ']');
        if (!host_end) {
            snprintf(err, errlen, "parameter 'url' has an unterminated IPv6 address");
            return OD_EINVAL;
        }
        p = host_end + 1;
    } else {
        p += strcspn(p, ":/?#");
        host_end = p;
    }
    size_t hlen = (size_t)(host_end - host);
    if (hlen == 0 || hlen >= sizeof out->host || memchr(host, '@', hlen)) {
        snprintf(err, errlen, "parameter 'url' has no valid host");
        return OD_EINVAL;
    }
    memcpy(out->host, host, hlen);
    snprintf(out->port, sizeof out->port, "80");
    if (*p == ':') {
        p++;
        size_t n = strspn(p, "0123456789");
        long port = n && n <= 5 ? strtol(p, NULL, 10) : 0;
        if (port < 1 || port > 65535) {
            snprintf(err, errlen, "parameter 'url' has an invalid port");
            return OD_EINVAL;
        }
        snprintf(out->port, sizeof out->port, "%ld", port);
        p += n;
    }
    if (*p && *p != '/' && *p != '?') {
        snprintf(err, errlen, "parameter 'url' is malformed after the host");
        return OD_EINVAL;
    }
    size_t plen = strcspn(p, "#");
    if (plen + 2 > sizeof out->path) {
        snprintf(err, errlen, "parameter 'url' has an over-long path");
        return OD_EINVAL;
    }
    snprintf(out->path, sizeof out->path, "%s%.*s", *p == '/' ? "" : "/", (int)plen, p);
    return 0;
}

char *webhook_sign(const char *secret, const char *body, size_t len, char *out, size_t outlen)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (outlen < 7 + 64 + 1) return NULL;
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, len, mac,
              &maclen) || maclen != 32)
        return NULL;
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "sha256=", 7);
    for (unsigned i = 0; i < maclen; i++) {
        out[7 + 2 * i] = hex[mac[i] >> 4];
        out[8 + 2 * i] = hex[mac[i] & 15];
    }
    out[7 + 2 * maclen] = '\0';
    return out;
}

/* ---- the hook -------------------------------------------------------------------------------- */

static void wh_next(struct webhook *h);
static void wh_unlink_destroy(struct webhook *h);

static void wh_release(struct webhook *h)
{
    if (--h->refs == 0 && h->dead) {
        free(h->req);
        free(h);
    }
}

static void wh_timer_closed_cb(uv_handle_t *t)
{
    wh_release(t->data);
}

static void wh_persist(struct webhook *h)
{
    if (h->pos <= h->stored_pos) return;
    /* Into the open batch: the group commit writes it with whatever else this iteration did. */
    if (server_batch(h->srv) == 0 && store_webhook_set_delivered(h->srv->store, h->id, h->pos) == 0)
        h->stored_pos = h->pos;
}

static void wh_backoff_cb(uv_timer_t *t);

/* The attempt is over and its connection closed: next event, or the same one after a pause. */
static void wh_after_attempt(struct webhook *h)
{
    free(h->req);
    h->req = NULL;
    if (h->ok) {
        h->failures = 0;
        h->last_error[0] = '\0';
        h->pos = h->cur_seq;
        wh_persist(h);
        h->state = WH_IDLE;
        if (h->draining) wh_unlink_destroy(h);
        else wh_next(h);
        return;
    }
    if (h->draining) {
        wh_unlink_destroy(h);
        return;
    }
    unsigned shift = h->failures > 0 ? h->failures - 1 : 0;
    if (shift > 20) shift = 20;
    uint64_t delay = (uint64_t)WEBHOOK_BACKOFF_MIN_MS << shift;
    if (delay > WEBHOOK_BACKOFF_MAX_MS) delay = WEBHOOK_BACKOFF_MAX_MS;
    h->state = WH_BACKOFF;
    uv_timer_start(&h->timer, wh_backoff_cb, delay, 0);
}

static void wh_tcp_closed_cb(uv_handle_t *t)
{
    struct webhook *h = t->data;
    h->tcp_open = false;
    if (!h->dead) wh_after_attempt(h);
    wh_release(h);
}

/* Ends the attempt (ok or not) by closing its connection, if it has one. */
static void wh_end(struct webhook *h, bool ok)
{
    h->ok = ok;
    uv_timer_stop(&h->timer);
    if (h->tcp_open) {
        h->state = WH_CLOSING;
        if (!uv_is_closing((uv_handle_t *)&h->tcp)) uv_close((uv_handle_t *)&h->tcp, wh_tcp_closed_cb);
        return;
    }
    wh_after_attempt(h);
}

static void wh_fail(struct webhook *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void wh_fail(struct webhook *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->last_error, sizeof h->last_error, fmt, ap);
    va_end(ap);
    h->failures++;
    LOG_WARN("webhook id=%lld seq=%lld delivery failed (%u in a row): %s", (long long)h->id,
             (long long)h->cur_seq, h->failures, h->last_error);
    wh_end(h, false);
}

static void wh_backoff_cb(uv_timer_t *t)
{
    struct webhook *h = t->data;
    if (h->state == WH_BACKOFF) {
        h->state = WH_IDLE;
        wh_next(h);
    } else if (h->state == WH_CONNECTING || h->state == WH_WAITING) {
        wh_fail(h, "timed out after %d ms", WEBHOOK_TIMEOUT_MS);
    }
}

static void wh_alloc_cb(uv_handle_t *t, size_t suggested, uv_buf_t *buf)
{
    struct webhook *h = t->data;
    static char scratch[1024]; /* past the status line we only drain */
    size_t room = sizeof h->rbuf - 1 - h->rlen;
    if (room == 0) *buf = uv_buf_init(scratch, sizeof scratch);
    else *buf = uv_buf_init(h->rbuf + h->rlen, (unsigned)room);
    (void)suggested;
}

static void wh_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct webhook *h = s->data;
    if (h->dead || h->state != WH_WAITING) return;
    if (nread < 0) {
        wh_fail(h, "connection closed before an HTTP status line (%s)", uv_strerror((int)nread));
        return;
    }
    if (nread == 0 || buf->base != h->rbuf + h->rlen) return;
    h->rlen += (size_t)nread;
    h->rbuf[h->rlen] = '\0';
    char *eol = strchr(h->rbuf, '\n');
    if (!eol) {
        if (h->rlen >= sizeof h->rbuf - 1) wh_fail(h, "no HTTP status line");
        return;
    }
    int minor = 0, status = 0;
    if (sscanf(h->rbuf, "HTTP/1.%d %3d", &minor, &status) != 2) {
        wh_fail(h, "malformed HTTP status line");
        return;
    }
    if (status < 200 || status > 299) {
        wh_fail(h, "HTTP status %d", status);
        return;
    }
    LOG_DEBUG("webhook id=%lld seq=%lld delivered status=%d", (long long)h->id,
              (long long)h->cur_seq, status);
    wh_end(h, true);
}

static void wh_write_cb(uv_write_t *w, int status)
{
    struct webhook *h = w->data;
    if (h->dead || h->state != WH_WAITING) return;
    if (status < 0) wh_fail(h, "write failed: %s", uv_strerror(status));
}

static void wh_connect_cb(uv_connect_t *c, int status)
{
    struct webhook *h = c->data;
    if (h->dead || h->state != WH_CONNECTING) return;
    if (status < 0) {
        wh_fail(h, "connect to %s:%s failed: %s", h->u.host, h->u.port, uv_strerror(status));
        return;
    }
    h->state = WH_WAITING;
    h->rlen = 0;
    uv_buf_t b = uv_buf_init(h->req, (unsigned)h->req_len);
    h->write_req.data = h;
    int rc = uv_write(&h->write_req, (uv_stream_t *)&h->tcp, &b, 1, wh_write_cb);
    if (rc == 0) rc = uv_read_start((uv_stream_t *)&h->tcp, wh_alloc_cb, wh_read_cb);
    if (rc) wh_fail(h, "cannot send: %s", uv_strerror(rc));
}

static void wh_gai_cb(uv_getaddrinfo_t *g, int status, struct addrinfo *res)
{
    struct webhook *h = g->data;
    h->gai_busy = false;
    if (!h->dead && h->state == WH_RESOLVING) {
        if (status < 0 || !res) {
            wh_fail(h, "cannot resolve %s: %s", h->u.host, uv_strerror(status));
        } else {
            uv_tcp_init(h->srv->loop, &h->tcp);
            h->tcp.data = h;
            h->tcp_open = true;
            h->refs++;
            h->state = WH_CONNECTING;
            h->connect_req.data = h;
            uv_timer_start(&h->timer, wh_backoff_cb, WEBHOOK_TIMEOUT_MS, 0);
            int rc = uv_tcp_connect(&h->connect_req, &h->tcp, res->ai_addr, wh_connect_cb);
            if (rc) wh_fail(h, "cannot connect to %s:%s: %s", h->u.host, h->u.port, uv_strerror(rc));
        }
    }
    uv_freeaddrinfo(res);
    wh_release(h);
}

static bool wh_wants(const struct webhook *h, const char *type)
{
    if (h->ntypes == 0) return true;
    for (int i = 0; i < h->ntypes; i++)
        if (strcmp(h->types[i], type) == 0) return true;
    return false;
}

/* Starts the POST of body (owned) for event h->cur_seq. */
static void wh_send(struct webhook *h, char *body)
{
    size_t blen = strlen(body);
    char sig[80];
    if (!webhook_sign(h->secret, body, blen, sig, sizeof sig)) {
        free(body);
        h->state = WH_RESOLVING; /* so wh_fail's bookkeeping applies */
        wh_fail(h, "cannot sign the body");
        return;
    }
    bool v6 = strchr(h->u.host, ':') != NULL;
    size_t cap = blen + strlen(h->u.path) + strlen(h->u.host) + 512;
    h->req = xmalloc(cap);
    int n = snprintf(h->req, cap,
                     "POST %s HTTP/1.1\r\nHost: %s%s%s%s%s\r\nUser-Agent: ocppd/" OD_VERSION "\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                     "X-Ocppd-Event-Seq: %lld\r\nX-Ocppd-Webhook-Id: %lld\r\n"
                     "X-Ocppd-Signature: %s\r\nConnection: close\r\n\r\n%s",
                     h->u.path, v6 ? "[" : "", h->u.host, v6 ? "]" : "",
                     strcmp(h->u.port, "80") ? ":" : "", strcmp(h->u.port, "80") ? h->u.port : "",
                     blen, (long long)h->cur_seq, (long long)h->id, sig, body);
    free(body);
    h->req_len = n > 0 && (size_t)n < cap ? (size_t)n : 0;
    h->state = WH_RESOLVING;
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    h->gai.data = h;
    int rc = h->req_len ? uv_getaddrinfo(h->srv->loop, &h->gai, wh_gai_cb, h->u.host, h->u.port,
                                         &hints)
                        : UV_ENOBUFS;
    if (rc) {
        wh_fail(h, "cannot resolve %s: %s", h->u.host, uv_strerror(rc));
        return;
    }
    h->gai_busy = true;
    h->refs++;
}

struct wh_scan {
    struct webhook *h;
    int64_t committed;
    int64_t last; /* last seq read and skipped */
    int rows;
    char *body;   /* the event to send, when found */
};

static int wh_scan_cb(const struct store_event *ev, void *ctx)
{
    struct wh_scan *sc = ctx;
    if (ev->seq > sc->committed) return 1; /* not committed yet: comes with its commit */
    sc->rows++;
    if (!wh_wants(sc->h, ev->type)) {
        sc->last = ev->seq;
        return 0;
    }
    char tbuf[40];
    json_t *data = json_loads(ev->data_json, JSON_DECODE_ANY, NULL);
    json_t *o = json_pack("{s:I, s:s, s:s, s:o, s:o}", "seq", (json_int_t)ev->seq, "time",
                          od_time_format(ev->time_ms, tbuf, sizeof tbuf), "type", ev->type,
                          "chargerId", ev->charger_id[0] ? json_string(ev->charger_id) : json_null(),
                          "data", data ? data : json_null());
    sc->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    sc->h->cur_seq = ev->seq;
    if (!sc->body) sc->last = ev->seq; /* cannot happen short of memory: skip, logged below */
    return 1;
}

/* Sends the next wanted committed event after h->pos, if any. */
static void wh_next(struct webhook *h)
{
    struct server *srv = h->srv;
    if (h->dead || h->state != WH_IDLE || srv->stopping) return;
    int64_t committed = srv->events_committed_seq;
    while (h->pos < committed) {
        struct wh_scan sc = {h, committed, h->pos, 0, NULL};
        int rc = store_event_foreach(srv->store, h->pos, WH_SCAN_CHUNK, wh_scan_cb, &sc);
        if (rc != 0 && rc != 1) {
            h->cur_seq = h->pos + 1;
            wh_persist(h);
            wh_fail(h, "cannot read the events table: %s", od_strerror(rc));
            return;
        }
        h->pos = sc.last;
        if (sc.body) {
            wh_persist(h);
            wh_send(h, sc.body);
            return;
        }
        if (sc.rows == 0) break; /* nothing readable up to committed */
    }
    wh_persist(h);
}

static struct webhook *wh_new(struct server *srv, const struct store_webhook *w)
{
    struct webhook *h = xcalloc(1, sizeof *h);
    char err[128];
    if (webhook_url_parse(w->url, &h->u, err, sizeof err) != 0) {
        LOG_ERROR("webhook id=%lld: stored url unusable: %s", (long long)w->id, err);
        free(h);
        return NULL;
    }
    h->srv = srv;
    h->id = w->id;
    snprintf(h->url, sizeof h->url, "%s", w->url);
    snprintf(h->secret, sizeof h->secret, "%s", w->secret);
    json_t *types = json_loads(w->types, 0, NULL);
    size_t i;
    json_t *t;
    json_array_foreach(types, i, t) {
        if (h->ntypes < WEBHOOK_MAX_TYPES && json_is_string(t))
            snprintf(h->types[h->ntypes++], WH_TYPE_LEN, "%s", json_string_value(t));
    }
    json_decref(types);
    h->pos = h->stored_pos = w->delivered_seq;
    uv_timer_init(srv->loop, &h->timer);
    h->timer.data = h;
    h->refs = 1; /* the timer */
    h->next = srv->webhooks;
    srv->webhooks = h;
    return h;
}

static void wh_destroy(struct webhook *h)
{
    h->dead = true;
    uv_timer_stop(&h->timer);
    uv_close((uv_handle_t *)&h->timer, wh_timer_closed_cb);
    if (h->tcp_open && !uv_is_closing((uv_handle_t *)&h->tcp))
        uv_close((uv_handle_t *)&h->tcp, wh_tcp_closed_cb);
    if (h->gai_busy) uv_cancel((uv_req_t *)&h->gai);
}

static void wh_unlink_destroy(struct webhook *h)
{
    for (struct webhook **pp = &h->srv->webhooks; *pp; pp = &(*pp)->next) {
        if (*pp == h) {
            *pp = h->next;
            break;
        }
    }
    wh_persist(h);
    wh_destroy(h);
}

/* ---- the server's side ------------------------------------------------------------------------ */

static int wh_load_cb(const struct store_webhook *w, void *ctx)
{
    wh_new(ctx, w);
    return 0;
}

int webhooks_start(struct server *srv)
{
    int64_t last = store_event_last_seq(srv->store);
    if (last > srv->events_committed_seq) srv->events_committed_seq = last;
    if (srv->events_emitted_seq < srv->events_committed_seq)
        srv->events_emitted_seq = srv->events_committed_seq;
    int rc = store_webhook_foreach(srv->store, wh_load_cb, srv);
    if (rc) LOG_ERROR("cannot load webhooks: %s", od_strerror(rc));
    webhooks_kick(srv);
    return rc;
}

void webhooks_kick(struct server *srv)
{
    for (struct webhook *h = srv->webhooks; h; h = h->next) wh_next(h);
}

void webhooks_shutdown(struct server *srv)
{
    struct webhook *h = srv->webhooks, *next;
    for (; h; h = next) {
        next = h->next;
        /* An attempt in flight may finish (its answer decides whether the event counts as
         * delivered): abandoning it after the receiver got it would send it again later. */
        if (h->state == WH_IDLE || h->state == WH_BACKOFF) wh_unlink_destroy(h);
        else h->draining = true;
    }
}

bool webhooks_drained(const struct server *srv)
{
    return srv->webhooks == NULL;
}

void webhooks_abort(struct server *srv)
{
    while (srv->webhooks) {
        LOG_WARN("webhook id=%lld seq=%lld: shutdown grace over, attempt abandoned",
                 (long long)srv->webhooks->id, (long long)srv->webhooks->cur_seq);
        wh_unlink_destroy(srv->webhooks);
    }
}

int webhooks_add(struct server *srv, const char *url, const json_t *types, const char *secret,
                 int64_t *out_id, char *err, size_t errlen)
{
    struct store_webhook w;
    memset(&w, 0, sizeof w);
    struct webhook_url u;
    if (webhook_url_parse(url, &u, err, errlen) != 0) return OD_EINVAL;
    if (strlen(url) >= sizeof w.url) {
        snprintf(err, errlen, "parameter 'url' is too long");
        return OD_EINVAL;
    }
    if (!secret || !*secret || strlen(secret) >= sizeof w.secret) {
        snprintf(err, errlen, "parameter 'secret' must be 1 to %zu bytes", sizeof w.secret - 1);
        return OD_EINVAL;
    }
    if (types && json_array_size(types) > WEBHOOK_MAX_TYPES) {
        snprintf(err, errlen, "parameter 'types' lists more than %d types", WEBHOOK_MAX_TYPES);
        return OD_EINVAL;
    }
    size_t i;
    json_t *t;
    json_array_foreach(types, i, t) {
        if (!json_is_string(t) || json_string_length(t) == 0 || json_string_length(t) >= WH_TYPE_LEN) {
            snprintf(err, errlen, "parameter 'types' has an empty or over-long type name");
            return OD_EINVAL;
        }
    }
    char *tt = types ? json_dumps(types, JSON_COMPACT) : NULL;
    snprintf(w.types, sizeof w.types, "%s", tt ? tt : "[]");
    free(tt);
    snprintf(w.url, sizeof w.url, "%s", url);
    snprintf(w.secret, sizeof w.secret, "%s", secret);
    w.created_ms = od_now_ms();
    /* A new hook starts after the last committed event: commit this iteration's events first. */
    server_commit(srv);
    w.delivered_seq = srv->events_committed_seq;
    uint64_t failures = srv->stats.commit_failures;
    int rc = server_batch(srv);
    if (rc == 0) rc = store_webhook_add(srv->store, &w);
    if (rc == 0) {
        server_commit(srv);
        if (srv->stats.commit_failures != failures) rc = OD_EDB;
    }
    if (rc) {
        snprintf(err, errlen, "could not store the webhook");
        return rc;
    }
    struct webhook *h = wh_new(srv, &w);
    if (h) wh_next(h);
    *out_id = w.id;
    LOG_INFO("webhook id=%lld added url=%s types=%s from_seq=%lld", (long long)w.id, w.url,
             w.types, (long long)w.delivered_seq);
    return 0;
}

int webhooks_delete(struct server *srv, int64_t id)
{
    uint64_t failures = srv->stats.commit_failures;
    int rc = server_batch(srv);
    if (rc == 0) rc = store_webhook_delete(srv->store, id);
    if (rc) return rc;
    server_commit(srv);
    if (srv->stats.commit_failures != failures) return OD_EDB;
    for (struct webhook **pp = &srv->webhooks; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            struct webhook *h = *pp;
            *pp = h->next;
            wh_destroy(h);
            break;
        }
    }
    LOG_INFO("webhook id=%lld deleted", (long long)id);
    return 0;
}

json_t *webhooks_list(struct server *srv)
{
    json_t *arr = json_array();
    for (struct webhook *h = srv->webhooks; h; h = h->next) {
        json_t *types = json_array();
        for (int i = 0; i < h->ntypes; i++) json_array_append_new(types, json_string(h->types[i]));
        json_array_append_new(arr, json_pack("{s:I, s:s, s:o, s:I, s:I, s:o}", "id",
                                             (json_int_t)h->id, "url", h->url, "types", types,
                                             "deliveredSeq", (json_int_t)h->pos, "failures",
                                             (json_int_t)h->failures, "lastError",
                                             h->last_error[0] ? json_string(h->last_error)
                                                              : json_null()));
    }
    /* Oldest first, like the store. */
    size_t n = json_array_size(arr);
    for (size_t i = 0; i < n / 2; i++) {
        json_t *a = json_incref(json_array_get(arr, i));
        json_array_set(arr, i, json_array_get(arr, n - 1 - i));
        json_array_set_new(arr, n - 1 - i, a);
    }
    return arr;
}
