/*
 * ws.c — ocpp-sim's WebSocket client (sim.h): one libwebsockets client connection on lws's own
 * poll loop, a queue of outgoing text messages, reassembly of incoming ones, and one timer that
 * drives the charge point (cp_tick).
 *
 * The simulator has a single connection and no other I/O, so lws's built-in loop is enough; the
 * server uses libuv because it multiplexes thousands of chargers with SQLite and timers.
 */
#include "sim.h"

#include "log.h"
#include "mem.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A CSMS message larger than this is dropped unread: nothing the sim expects comes close. */
#define SIMWS_MAX_MESSAGE (4u << 20)

/* One queued outgoing message; buf holds LWS_PRE bytes of headroom before the text. */
struct simws_out {
    struct simws_out *next;
    size_t len;
    unsigned char *buf; /* owned */
};

/* Transport state. Owned by struct sim (s->ws); freed by simws_destroy(). */
struct simws {
    lws_sorted_usec_list_t tick; /* the cp_tick timer */
    struct sim *sim;             /* back pointer, borrowed */
    struct lws_context *ctx;
    struct lws *wsi;             /* NULL once lws reported the connection gone */
    char *url_copy;              /* lws_parse_uri() cuts it in place; address points into it */
    const char *address;
    char *path;                  /* owned: "/<base path>/<escaped id>" */
    char host_hdr[300];
    char *auth_value;            /* owned: "Basic <base64>" or NULL */
    struct simws_out *head, *tail;
    unsigned char *rx;           /* owned reassembly buffer */
    size_t rx_len, rx_cap;
    bool rx_started, rx_binary, rx_overflow;
    char subprotocol[32];        /* as the server chose it, "" if it chose none */
    bool established;            /* the handshake completed: writes may be requested */
    bool closing;
    bool gone;                   /* cp_on_closed() already called */
    int close_code;              /* from the peer's close frame, 0 if none */
    char close_reason[124];
};

static void simws_report_gone(struct simws *w, int http_status, const char *error)
{
    if (w->gone) return;
    w->gone = true;
    w->wsi = NULL;
    cp_on_closed(w->sim, w->close_code, w->close_reason, http_status, error);
}

/* Appends one chunk of a message; delivers it once the final fragment is complete. */
static void simws_rx(struct simws *w, struct lws *wsi, const void *in, size_t len)
{
    if (!w->rx_started) {
        w->rx_started = true;
        w->rx_binary = lws_frame_is_binary(wsi);
        w->rx_overflow = false;
        w->rx_len = 0;
    }
    if (!w->rx_overflow) {
        if (w->rx_len + len > SIMWS_MAX_MESSAGE) {
            w->rx_overflow = true;
        } else {
            if (w->rx_len + len + 1 > w->rx_cap) {
                size_t cap = w->rx_cap ? w->rx_cap : 4096;
                while (cap < w->rx_len + len + 1) cap *= 2;
                w->rx = xrealloc(w->rx, cap);
                w->rx_cap = cap;
            }
            if (len) memcpy(w->rx + w->rx_len, in, len);
            w->rx_len += len;
        }
    }
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) != 0) return;

    w->rx_started = false;
    if (w->rx_overflow) {
        CLOG_WARN(w->sim->cfg.id, "dropped oversize message from CSMS limit=%u", SIMWS_MAX_MESSAGE);
        cp_on_binary(w->sim, 0);
        return;
    }
    if (w->rx_binary) {
        cp_on_binary(w->sim, w->rx_len);
        return;
    }
    w->rx[w->rx_len] = '\0';
    cp_on_text(w->sim, (const char *)w->rx, w->rx_len);
}

static int simws_writeable(struct simws *w, struct lws *wsi)
{
    struct simws_out *o = w->head;
    if (o) {
        w->head = o->next;
        if (!w->head) w->tail = NULL;
        int n = lws_write(wsi, o->buf + LWS_PRE, o->len, LWS_WRITE_TEXT);
        bool short_write = n < (int)o->len;
        free(o->buf);
        free(o);
        if (short_write) {
            CLOG_ERROR(w->sim->cfg.id, "websocket write failed");
            return -1;
        }
        if (w->head || w->closing) lws_callback_on_writable(wsi);
        return 0;
    }
    if (w->closing) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"done", 4);
        return -1; /* lws sends the close frame and tears the connection down */
    }
    return 0;
}

static int simws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len)
{
    struct simws *w = lws_context_user(lws_get_context(wsi));
    if (!w) return 0;

    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        if (w->auth_value) {
            unsigned char **p = in, *end = *p + len;
            if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
                                             (const unsigned char *)w->auth_value,
                                             (int)strlen(w->auth_value), p, end))
                return -1;
        }
        break;

    case LWS_CALLBACK_CLIENT_FILTER_PRE_ESTABLISH:
        /* The response headers are gone by ESTABLISHED; keep the chosen subprotocol now. */
        if (lws_hdr_copy(wsi, w->subprotocol, sizeof w->subprotocol, WSI_TOKEN_PROTOCOL) < 0)
            w->subprotocol[0] = '\0';
        break;

    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        w->wsi = wsi;
        w->established = true;
        /* lws accepts a 101 without Sec-WebSocket-Protocol; cp decides whether that is fine. */
        cp_on_connected(w->sim, w->subprotocol);
        if (w->head || w->closing) lws_callback_on_writable(wsi);
        break;

    case LWS_CALLBACK_CLIENT_RECEIVE:
        simws_rx(w, wsi, in, len);
        break;

    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return simws_writeable(w, wsi);

    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (len >= 2) {
            const unsigned char *b = in;
            w->close_code = (b[0] << 8) | b[1];
            size_t rlen = len - 2;
            if (rlen > sizeof w->close_reason - 1) rlen = sizeof w->close_reason - 1;
            memcpy(w->close_reason, b + 2, rlen);
            w->close_reason[rlen] = '\0';
        } else {
            w->close_code = 1005; /* RFC 6455: close frame without a status code */
        }
        break;

    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
        int status = (int)lws_http_client_http_response(wsi);
        simws_report_gone(w, status, in ? (const char *)in : "connection error");
        break;
    }

    case LWS_CALLBACK_CLIENT_CLOSED:
        simws_report_gone(w, 0, NULL);
        break;

    default:
        break;
    }
    return 0;
}

static const struct lws_protocols simws_protocols[] = {
    {"ocpp-sim", simws_callback, 0, 8192, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* lws's own log lines go through ours, so stderr keeps one format. */
static void simws_lws_log(int level, const char *line)
{
    enum log_level l = level & LLL_ERR ? LOG_LEVEL_ERROR
                       : level & LLL_WARN ? LOG_LEVEL_WARN
                                          : LOG_LEVEL_DEBUG;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", line);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = '\0';
    if (LOG_ENABLED(l)) log_write(l, NULL, "lws: %s", buf);
}

static void simws_tick_cb(lws_sorted_usec_list_t *sul)
{
    struct simws *w = lws_container_of(sul, struct simws, tick);
    cp_tick(w->sim);
}

char *simws_path_escape(const char *id)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(id);
    char *out = xmalloc(n * 3 + 1), *o = out;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        /* RFC 3986 unreserved characters pass; everything else is escaped. */
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

int simws_start(struct sim *s)
{
    const struct sim_config *cfg = &s->cfg;
    struct simws *w = xcalloc(1, sizeof *w);
    w->sim = s;
    s->ws = w;

    int lws_levels = LLL_ERR | (LOG_ENABLED(LOG_LEVEL_WARN) ? LLL_WARN : 0) |
                     (LOG_ENABLED(LOG_LEVEL_DEBUG) ? LLL_NOTICE : 0);
    lws_set_log_level(lws_levels, simws_lws_log);

    w->url_copy = xstrdup(cfg->url);
    const char *scheme = NULL, *path = NULL;
    int port = 0;
    if (lws_parse_uri(w->url_copy, &scheme, &w->address, &port, &path) || !*w->address) {
        CLOG_ERROR(cfg->id, "bad --url '%s' (want ws://host:port/path)", cfg->url);
        return -1;
    }
    bool tls = strcmp(scheme, "wss") == 0;
    if (!tls && strcmp(scheme, "ws") != 0) {
        CLOG_ERROR(cfg->id, "bad --url scheme '%s' (ws or wss)", scheme);
        return -1;
    }
    /* lws_parse_uri() drops the leading '/'; a trailing one would double up before the id. */
    size_t plen = strlen(path);
    while (plen && path[plen - 1] == '/') plen--;
    char *esc = simws_path_escape(cfg->id);
    w->path = xasprintf("/%.*s%s%s", (int)plen, path, plen ? "/" : "", esc);
    free(esc);
    snprintf(w->host_hdr, sizeof w->host_hdr, "%s:%d", w->address, port);

    if (cfg->password) {
        char *cred = xasprintf("%s:%s", cfg->id, cfg->password);
        size_t clen = strlen(cred);
        size_t blen = (clen + 2) / 3 * 4 + 8; /* lws wants slack beyond the exact size */
        char *b64 = xmalloc(blen);
        if (lws_b64_encode_string(cred, (int)clen, b64, (int)blen) < 0) b64[0] = '\0';
        w->auth_value = xasprintf("Basic %s", b64);
        explicit_bzero(cred, clen);
        free(cred);
        free(b64);
    }

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = simws_protocols;
    info.gid = -1;
    info.uid = -1;
    info.user = w;
    /* lws sizes its fd table from the fd limit, which can be huge in containers. */
    info.fd_limit_per_thread = 16;
    if (tls) info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    w->ctx = lws_create_context(&info);
    if (!w->ctx) {
        CLOG_ERROR(cfg->id, "lws_create_context failed");
        return -1;
    }

    struct lws_client_connect_info cc;
    memset(&cc, 0, sizeof cc);
    cc.context = w->ctx;
    cc.address = w->address;
    cc.port = port;
    cc.path = w->path;
    cc.host = w->host_hdr;
    cc.origin = w->host_hdr;
    cc.protocol = cfg->protocol;
    cc.local_protocol_name = simws_protocols[0].name;
    if (tls) {
        cc.ssl_connection = LCCSCF_USE_SSL;
        if (cfg->insecure)
            cc.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
                                 LCCSCF_ALLOW_EXPIRED;
    }
    cc.pwsi = &w->wsi;
    CLOG_INFO(cfg->id, "connecting url=%s://%s%s subprotocol=%s", scheme, w->host_hdr, w->path,
              cfg->protocol);
    if (!lws_client_connect_via_info(&cc) && !w->gone) {
        /* lws may have reported the failure through CONNECTION_ERROR already. */
        simws_report_gone(w, 0, "connect failed");
    }
    return 0;
}

void simws_service(struct sim *s)
{
    if (s->ws && s->ws->ctx) lws_service(s->ws->ctx, 0);
}

void simws_send_text(struct sim *s, const char *text, size_t len)
{
    struct simws *w = s->ws;
    if (!w || w->gone || w->closing) return;
    struct simws_out *o = xcalloc(1, sizeof *o);
    o->buf = xmalloc(LWS_PRE + len + 1);
    memcpy(o->buf + LWS_PRE, text, len);
    o->len = len;
    if (w->tail)
        w->tail->next = o;
    else
        w->head = o;
    w->tail = o;
    if (w->established && w->wsi) lws_callback_on_writable(w->wsi);
}

void simws_close(struct sim *s)
{
    struct simws *w = s->ws;
    if (!w || w->closing) return;
    w->closing = true;
    if (w->established && w->wsi && !w->gone) lws_callback_on_writable(w->wsi);
}

void simws_tick_in(struct sim *s, int64_t ms)
{
    struct simws *w = s->ws;
    if (!w || !w->ctx) return;
    if (ms < 1) ms = 1;
    lws_sul_schedule(w->ctx, 0, &w->tick, simws_tick_cb, (lws_usec_t)ms * LWS_US_PER_MS);
}

void simws_destroy(struct sim *s)
{
    struct simws *w = s->ws;
    if (!w) return;
    if (w->ctx) {
        w->gone = true; /* the summary is out: callbacks from the teardown must not reach cp */
        lws_sul_cancel(&w->tick);
        lws_context_destroy(w->ctx);
    }
    while (w->head) {
        struct simws_out *o = w->head;
        w->head = o->next;
        free(o->buf);
        free(o);
    }
    free(w->rx);
    free(w->path);
    free(w->url_copy);
    if (w->auth_value) explicit_bzero(w->auth_value, strlen(w->auth_value));
    free(w->auth_value);
    free(w);
    s->ws = NULL;
}
