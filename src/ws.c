/*
 * ws.c — libwebsockets glue: the charge-point listener on ocppd's libuv loop.
 *
 * Upgrade checks happen in LWS_CALLBACK_HTTP_CONFIRM_UPGRADE, while the request headers are
 * still readable and an HTTP status can still be sent: the path must be /ocpp/<id> (id
 * percent-decoded, 1..48 printable characters), the charger must offer a subprotocol we speak,
 * the connection cap must not be reached, and a charger registered with a password must present
 * it (HTTP Basic, admin_charger_auth). Before all that, the source address must be within its
 * limits (peerlimit.h): handshake rate, open connections and, before a password is checked the
 * slow way, failed checks; credentials verified once are recognised from authcache.h after.
 * Everything after the upgrade is passed to conn.c.
 * The admin listener serves GET /healthz and, after a bearer-token check at the same point, the
 * /admin JSON-RPC WebSocket, whose sessions live in admin.c. This file owns no OCPP logic.
 */
#include "ws.h"

#include "admin.h"
#include "authcache.h"
#include "conn.h"
#include "log.h"
#include "mem.h"
#include "od.h"
#include "peerlimit.h"
#include "server.h"
#include "store.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

_Static_assert(LWS_PRE <= WS_HEADROOM, "WS_HEADROOM must cover LWS_PRE");

struct ws_server {
    struct lws_context *ctx; /* NULL once lws finished destroying it */
    struct lws_vhost *vh_cp;
    struct lws_vhost *vh_admin;
    struct server *srv;
    struct peerlimit *limits; /* owned; per source address */
    struct authcache *auth;   /* owned; credentials verified this process lifetime */
    /* handshakes refused by the per-address limits, and how passwords were checked */
    uint64_t refused_rate, refused_conns, refused_pending, refused_auth;
    uint64_t auth_cache_hits, auth_slow_checks;
};

/* Per-connection state of the admin listener: an HTTP request, or after the upgrade to /admin
 * a JSON-RPC session. */
struct ws_admin_session {
    char *body; /* owned: the response body waiting for WRITEABLE */
    size_t len;
    struct admin_session *as; /* the WebSocket session (owned by the server's list) */
    bool close_sent;
};

#define WS_ADMIN_PATH "/admin"

/* Per-connection user data that lws allocates for us. */
struct ws_session {
    struct conn *conn;
    bool close_sent;
    bool counted; /* holds one of addr's connections in the peer limits */
    struct peerlimit_addr addr;
};

#define WS_PATH_PREFIX "/ocpp/"

/* What the server offers. The charger's own order decides (the first one it lists that is
 * here), as lws does when it binds the connection to one of ws_cp_protocols[]. */
static const char *const ws_subprotocols[] = {"ocpp2.0.1", "ocpp1.6"};

/* Percent-decodes the last path segment after /ocpp/ into id. Returns 0 or OD_EINVAL. */
static int ws_parse_charger_id(const char *uri, char *id, size_t idlen)
{
    size_t plen = strlen(WS_PATH_PREFIX);
    if (strncmp(uri, WS_PATH_PREFIX, plen) != 0) return OD_EINVAL;
    const char *seg = uri + plen;
    /* The id is the last segment, so /ocpp/site/CP01 also works behind path-routing proxies. */
    const char *slash = strrchr(seg, '/');
    if (slash) seg = slash + 1;
    const char *end = strchr(seg, '?');
    size_t n = 0;
    for (const char *p = seg; *p && p != end; p++) {
        int ch = (unsigned char)*p;
        if (ch == '%') {
            int hi, lo;
            if (!p[1] || !p[2]) return OD_EINVAL;
            hi = p[1] <= '9' ? p[1] - '0' : (p[1] | 0x20) - 'a' + 10;
            lo = p[2] <= '9' ? p[2] - '0' : (p[2] | 0x20) - 'a' + 10;
            if (hi < 0 || hi > 15 || lo < 0 || lo > 15) return OD_EINVAL;
            ch = hi * 16 + lo;
            p += 2;
        }
        /* printable ASCII only: ids end up in logs, SQL parameters and JSON */
        if (ch < 0x20 || ch > 0x7e) return OD_EINVAL;
        if (n + 1 >= idlen || n >= 48) return OD_EINVAL;
        id[n++] = (char)ch;
    }
    id[n] = '\0';
    return n > 0 ? 0 : OD_EINVAL;
}

/* The first subprotocol in the client's list that we speak, or -1. */
static int ws_pick_subprotocol(const char *list)
{
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t') p++;
        const char *start = p;
        while (*p && *p != ',' && *p != ' ' && *p != '\t') p++;
        size_t n = (size_t)(p - start);
        for (size_t i = 0; i < sizeof ws_subprotocols / sizeof *ws_subprotocols; i++)
            if (n && strlen(ws_subprotocols[i]) == n && strncmp(start, ws_subprotocols[i], n) == 0)
                return (int)i;
    }
    return -1;
}

/* Answers the upgrade request with an HTTP error (hdr: one extra header line without CRLF, or
 * NULL) and hangs up. */
static int ws_refuse_raw(struct lws *wsi, unsigned int status, const char *why, const char *hdr)
{
    /* Written raw: at this stage lws would label its own status line HTTP/1.0, which strict
     * WebSocket clients reject instead of reporting the status. */
    const char *text = status == 400 ? "Bad Request" : status == 401 ? "Unauthorized"
                     : status == 404 ? "Not Found" : status == 429 ? "Too Many Requests"
                     : status == 503 ? "Service Unavailable" : "Error";
    unsigned char buf[LWS_PRE + 512];
    int n = snprintf((char *)buf + LWS_PRE, sizeof buf - LWS_PRE,
                     "HTTP/1.1 %u %s\r\ncontent-type: text/plain\r\ncontent-length: %zu\r\n"
                     "%s%sconnection: close\r\n\r\n%s\n",
                     status, text, strlen(why) + 1, hdr ? hdr : "", hdr ? "\r\n" : "", why);
    if (n > 0 && (size_t)n < sizeof buf - LWS_PRE)
        lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_HTTP);
    return -1; /* hang up once the answer is out */
}

static int ws_refuse_hdr(struct lws *wsi, struct server *srv, unsigned int status, const char *why,
                         const char *detail, const char *hdr)
{
    static struct log_ratelimit rl;
    char peer[64] = "";
    lws_get_peer_simple(wsi, peer, sizeof peer);
    srv->stats.connections_refused++;
    if (log_ratelimit_allow(&rl, 20))
        LOG_WARN("handshake refused status=%u reason=\"%s\" peer=%s detail=\"%s\"", status, why,
                 peer, detail);
    return ws_refuse_raw(wsi, status, why, hdr);
}

static int ws_refuse(struct lws *wsi, struct server *srv, unsigned int status, const char *why,
                     const char *detail)
{
    return ws_refuse_hdr(wsi, srv, status, why, detail, NULL);
}

/* Counts and logs a refusal by a per-address limit (status 0: hung up without an answer).
 * Logged at most once a second whatever the flood (log_ratelimit then reports how many lines
 * it held back), with the running totals; the counts are on /metrics. */
static void ws_note_limited(struct ws_server *ws, enum peerlimit_verdict v, unsigned int status,
                            const char *why, const struct peerlimit_addr *a, int retry_after_s)
{
    static struct log_ratelimit rl;
    uint64_t *count = v == PEERLIMIT_RATE      ? &ws->refused_rate
                    : v == PEERLIMIT_CONNS     ? &ws->refused_conns
                    : v == PEERLIMIT_PENDING   ? &ws->refused_pending : &ws->refused_auth;
    (*count)++;
    ws->srv->stats.connections_refused++;
    char addr[64];
    peerlimit_addr_format(a, addr, sizeof addr);
    if (log_ratelimit_allow(&rl, 1))
        LOG_WARN("handshake refused status=%u reason=\"%s\" addr=%s retry_after_s=%d "
                 "refused_rate=%llu refused_conns=%llu refused_pending=%llu refused_auth=%llu",
                 status, why, addr, retry_after_s, (unsigned long long)ws->refused_rate,
                 (unsigned long long)ws->refused_conns, (unsigned long long)ws->refused_pending,
                 (unsigned long long)ws->refused_auth);
}

/* Refuses a handshake that a per-address limit stopped, with Retry-After. */
static int ws_refuse_limited(struct lws *wsi, struct ws_server *ws, enum peerlimit_verdict v,
                             const struct peerlimit_addr *a, int retry_after_s)
{
    unsigned int status = v == PEERLIMIT_CONNS ? HTTP_STATUS_SERVICE_UNAVAILABLE : 429;
    const char *why = v == PEERLIMIT_RATE    ? "too many handshakes from this address"
                    : v == PEERLIMIT_CONNS   ? "too many connections from this address"
                                             : "too many failed logins from this address";
    ws_note_limited(ws, v, status, why, a, retry_after_s);
    char hdr[48];
    snprintf(hdr, sizeof hdr, "retry-after: %d", retry_after_s);
    return ws_refuse_raw(wsi, status, why, hdr);
}

/* Whether a peer at sa is subject to the per-address limits (filling out): not if it is exempt
 * (loopback, unless --limit-loopback) or not IP. */
static bool ws_limited_sockaddr(struct ws_server *ws, const struct sockaddr *sa, socklen_t len,
                                struct peerlimit_addr *out)
{
    if (peerlimit_addr_from_sockaddr(sa, len, out) != 0) return false;
    return ws->srv->cfg->limit_loopback || !peerlimit_addr_is_loopback(out);
}

/* The same for wsi's peer. */
static bool ws_limited_addr(struct lws *wsi, struct ws_server *ws, struct peerlimit_addr *out)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd = (int)lws_get_socket_fd(wsi);
    if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) != 0) return false;
    return ws_limited_sockaddr(ws, (struct sockaddr *)&ss, len, out);
}

/* A handshake in progress from a limited address, hung on its wsi (lws's opaque user data, which
 * nothing else here uses) from accept until the upgrade request is complete or the socket
 * closes, whichever is first. Owned by that wsi. */
struct ws_pending {
    struct peerlimit_addr addr;
};

static void ws_pending_begin(struct lws *wsi, struct ws_server *ws)
{
    struct peerlimit_addr a;
    if (!ws_limited_addr(wsi, ws, &a)) return;
    struct ws_pending *p = xmalloc(sizeof *p);
    p->addr = a;
    peerlimit_pending_add(ws->limits, &a, (int64_t)uv_now(ws->srv->loop));
    lws_set_opaque_user_data(wsi, p);
}

static void ws_pending_end(struct lws *wsi, struct ws_server *ws)
{
    struct ws_pending *p = lws_get_opaque_user_data(wsi);
    if (!p) return;
    lws_set_opaque_user_data(wsi, NULL);
    peerlimit_pending_done(ws->limits, &p->addr);
    free(p);
}

/* A TCP connection was accepted: an address with too many handshakes in progress is hung up on
 * at once (no header table is spent on it, so no HTTP answer either). */
static int ws_filter_accept(struct ws_server *ws, const struct lws_filter_network_conn_args *args)
{
    struct peerlimit_addr a;
    if (!args || !ws_limited_sockaddr(ws, (const struct sockaddr *)&args->cli_addr, args->clilen,
                                      &a))
        return 0;
    if (peerlimit_accept_check(ws->limits, &a) == PEERLIMIT_OK) return 0;
    ws_note_limited(ws, PEERLIMIT_PENDING, 0, "too many handshakes in progress from this address",
                    &a, 0);
    return -1;
}

/* Security profile 1: a charger with a stored password must present it as HTTP Basic. A value
 * verified before for the same stored hash is recognised from the cache; anything else costs a
 * PBKDF2 run (admin_charger_auth_hash), which an address that failed too often lately does not get.
 * Returns 0 to go on, or what ws_confirm_upgrade returns after a refusal. */
static int ws_check_credentials(struct lws *wsi, struct ws_server *ws, const char *id,
                                const struct peerlimit_addr *a, bool limited)
{
    struct server *srv = ws->srv;
    struct store_charger ch;
    int rc = store_charger_get(srv->store, id, &ch);
    if (rc == OD_ENOTFOUND || (rc == 0 && ch.password_hash[0] == '\0')) return 0;
    if (rc)
        return ws_refuse(wsi, srv, HTTP_STATUS_SERVICE_UNAVAILABLE, "cannot check credentials",
                         id);
    char authz[512];
    int alen = lws_hdr_copy(wsi, authz, sizeof authz, WSI_TOKEN_HTTP_AUTHORIZATION);
    const char *presented = alen > 0 ? authz : NULL;
    int ret = 0, retry_after_s;
    if (presented && authcache_match(ws->auth, id, ch.password_hash, presented)) {
        ws->auth_cache_hits++;
        goto out;
    }
    if (limited && peerlimit_auth_check(ws->limits, a, (int64_t)uv_now(srv->loop),
                                        &retry_after_s) != PEERLIMIT_OK) {
        ret = ws_refuse_limited(wsi, ws, PEERLIMIT_AUTH, a, retry_after_s);
        goto out;
    }
    ws->auth_slow_checks++;
    if (admin_charger_auth_hash(srv, id, ch.password_hash, presented) == 0) {
        authcache_put(ws->auth, id, ch.password_hash, presented); /* presented: a hash is set */
    } else {
        if (limited) peerlimit_auth_failed(ws->limits, a, (int64_t)uv_now(srv->loop));
        ret = ws_refuse_hdr(wsi, srv, HTTP_STATUS_UNAUTHORIZED, "authentication required", id,
                            "www-authenticate: Basic realm=\"ocpp\"");
    }
out:
    explicit_bzero(authz, sizeof authz);
    return ret;
}

static int ws_confirm_upgrade(struct lws *wsi, struct server *srv)
{
    struct ws_server *ws = srv->ws;
    struct peerlimit_addr addr;
    bool limited = ws_limited_addr(wsi, ws, &addr);
    int retry_after_s;
    enum peerlimit_verdict v = limited ? peerlimit_handshake(ws->limits, &addr,
                                                             (int64_t)uv_now(srv->loop),
                                                             &retry_after_s)
                                       : PEERLIMIT_OK;
    if (v != PEERLIMIT_OK) return ws_refuse_limited(wsi, ws, v, &addr, retry_after_s);
    char uri[512], protos[256], id[49];
    int ulen = lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
    if (ulen <= 0) return ws_refuse(wsi, srv, HTTP_STATUS_BAD_REQUEST, "bad request", "no GET uri");
    if (ws_parse_charger_id(uri, id, sizeof id))
        return ws_refuse(wsi, srv, HTTP_STATUS_BAD_REQUEST,
                         "path must be /ocpp/<chargePointId> (1..48 printable characters)", uri);
    int plen = lws_hdr_copy(wsi, protos, sizeof protos, WSI_TOKEN_PROTOCOL);
    if (plen <= 0 || ws_pick_subprotocol(protos) < 0)
        return ws_refuse(wsi, srv, HTTP_STATUS_BAD_REQUEST,
                         "no supported subprotocol (ocpp2.0.1, ocpp1.6) offered",
                         plen > 0 ? protos : "none");
    /* The cheap refusals first: no PBKDF2 for a handshake that would be refused anyway. */
    if (srv->nconns >= (size_t)srv->cfg->max_connections)
        return ws_refuse(wsi, srv, HTTP_STATUS_SERVICE_UNAVAILABLE, "connection limit reached",
                         id);
    if (srv->stopping)
        return ws_refuse(wsi, srv, HTTP_STATUS_SERVICE_UNAVAILABLE, "shutting down", id);
    return ws_check_credentials(wsi, ws, id, &addr, limited);
}

static int ws_established(struct lws *wsi, struct server *srv, struct ws_session *sess)
{
    char uri[512], id[49], peer[64] = "";
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 ||
        ws_parse_charger_id(uri, id, sizeof id))
        return -1; /* checked at upgrade; cannot differ now, but never trust it blindly */
    const struct lws_protocols *proto = lws_get_protocol(wsi);
    enum ocpp_version v;
    if (proto && strcmp(proto->name, "ocpp2.0.1") == 0)
        v = OCPP_V201;
    else if (proto && strcmp(proto->name, "ocpp1.6") == 0)
        v = OCPP_V16;
    else
        return -1;
    lws_get_peer_simple(wsi, peer, sizeof peer);
    sess->conn = conn_open(srv, wsi, id, v, peer);
    if (ws_limited_addr(wsi, srv->ws, &sess->addr)) {
        peerlimit_conn_opened(srv->ws->limits, &sess->addr, (int64_t)uv_now(srv->loop));
        sess->counted = true;
    }
    return 0;
}

/* Writes a close frame with code and reason (cut to the 123 bytes a control frame allows). */
static int ws_write_close(struct lws *wsi, int code, const char *reason)
{
    unsigned char buf[LWS_PRE + 2 + 123];
    size_t rlen = strlen(reason);
    if (rlen > 123) rlen = 123;
    buf[LWS_PRE] = (unsigned char)(code >> 8);
    buf[LWS_PRE + 1] = (unsigned char)(code & 0xff);
    memcpy(buf + LWS_PRE + 2, reason, rlen);
    /* 4 is the close opcode lws_write() maps internally (LWS_WRITE_CLOSE, not exported). */
    if (lws_write(wsi, buf + LWS_PRE, 2 + rlen, (enum lws_write_protocol)4) < 0) return -1;
    lws_set_timeout(wsi, (enum pending_timeout)(PENDING_TIMEOUT_USER_REASON_BASE + 1), 2);
    return 0;
}

static int ws_writeable(struct lws *wsi, struct ws_session *sess)
{
    struct conn *c = sess->conn;
    if (!c) return -1;
    int code;
    const char *reason;
    /* Pending frames go out before a requested close, so a last CALLERROR still arrives. */
    if (conn_take_ping(c)) {
        unsigned char buf[LWS_PRE + 4];
        if (lws_write(wsi, buf + LWS_PRE, 0, LWS_WRITE_PING) < 0) return -1;
        lws_callback_on_writable(wsi);
        return 0;
    }
    struct conn_frame *f = conn_next_frame(c);
    if (f) {
        int n = lws_write(wsi, (unsigned char *)f->block + WS_HEADROOM, f->len, LWS_WRITE_TEXT);
        conn_frame_free(f);
        if (n < 0) return -1;
        if (c->outq_head || conn_close_requested(c, &code, &reason)) lws_callback_on_writable(wsi);
        return 0;
    }
    if (conn_close_requested(c, &code, &reason) && !sess->close_sent) {
        /* The close frame is written here rather than via lws_close_reason() + return -1,
         * which this lws version turns into a bare TCP shutdown. The peer answers with its
         * own close; if it does not, the deadline set by conn_close() ends the socket. */
        sess->close_sent = true;
        return ws_write_close(wsi, code, reason);
    }
    return 0;
}

static int ws_cp_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len)
{
    struct ws_server *ws = lws_context_user(lws_get_context(wsi));
    struct server *srv = ws ? ws->srv : NULL;
    struct ws_session *sess = user;

    switch (reason) {
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        return ws ? ws_filter_accept(ws, user) : 0;
    case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
        if (ws) ws_pending_begin(wsi, ws);
        return 0;
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_WSI_DESTROY:
        if (ws) ws_pending_end(wsi, ws);
        return 0;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        if (!srv) return -1;
        ws_pending_end(wsi, ws);
        return ws_confirm_upgrade(wsi, srv);
    case LWS_CALLBACK_HTTP:
        if (ws) ws_pending_end(wsi, ws);
        /* Plain HTTP on the charge-point port: only WebSocket upgrades are served here. */
        if (lws_return_http_status(wsi, 426,
                                   "use a WebSocket upgrade to /ocpp/<chargePointId>"))
            return -1;
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_ESTABLISHED:
        if (!srv || !sess) return -1;
        return ws_established(wsi, srv, sess);
    case LWS_CALLBACK_RECEIVE:
        if (!sess || !sess->conn) return -1;
        conn_on_receive(sess->conn, in, len, lws_is_first_fragment(wsi) != 0,
                        lws_is_final_fragment(wsi) != 0, lws_frame_is_binary(wsi) != 0);
        return 0;
    case LWS_CALLBACK_RECEIVE_PONG:
        if (sess && sess->conn) conn_note_alive(sess->conn);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!sess) return -1;
        return ws_writeable(wsi, sess);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        return 0; /* lws answers the close frame itself */
    case LWS_CALLBACK_CLOSED:
        if (sess && sess->counted && ws) {
            sess->counted = false;
            peerlimit_conn_closed(ws->limits, &sess->addr);
        }
        if (sess && sess->conn) {
            struct conn *c = sess->conn;
            sess->conn = NULL;
            conn_on_closed(c);
        }
        return 0;
    default:
        return 0;
    }
}

/* Index 0 takes plain HTTP and the upgrade check; the others are the OCPP subprotocols. */
static const struct lws_protocols ws_cp_protocols[] = {
    {"ocpp-http", ws_cp_callback, sizeof(struct ws_session), 0, 0, NULL, 0},
    {"ocpp2.0.1", ws_cp_callback, sizeof(struct ws_session), 4096, 0, NULL, 0},
    {"ocpp1.6", ws_cp_callback, sizeof(struct ws_session), 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* The admin upgrade: path /admin and the admin token, as "Authorization: Bearer" or, for
 * browsers that cannot set headers on a WebSocket, "?token=". Refused before any upgrade. */
static int ws_admin_confirm_upgrade(struct lws *wsi, struct server *srv)
{
    char uri[512], authz[512], arg[256];
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0)
        return ws_refuse(wsi, srv, HTTP_STATUS_BAD_REQUEST, "bad request", "no GET uri");
    uri[strcspn(uri, "?")] = '\0';
    if (strcmp(uri, WS_ADMIN_PATH) != 0)
        return ws_refuse(wsi, srv, HTTP_STATUS_NOT_FOUND, "the admin WebSocket is /admin", uri);
    bool ok = false;
    int alen = lws_hdr_copy(wsi, authz, sizeof authz, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (alen > 7 && strncasecmp(authz, "Bearer ", 7) == 0) {
        const char *t = authz + 7;
        while (*t == ' ') t++;
        ok = admin_token_ok(srv, t);
    } else {
        const char *t = lws_get_urlarg_by_name(wsi, "token=", arg, sizeof arg);
        ok = t && admin_token_ok(srv, t);
    }
    memset(arg, 0, sizeof arg);
    memset(authz, 0, sizeof authz);
    if (!ok)
        return ws_refuse_hdr(wsi, srv, HTTP_STATUS_UNAUTHORIZED, "admin token required", "admin",
                             "www-authenticate: Bearer");
    if (srv->stopping)
        return ws_refuse(wsi, srv, HTTP_STATUS_SERVICE_UNAVAILABLE, "shutting down", "admin");
    /* Each session may hold up to ADMIN_OUTQ_MAX_BYTES: the count bounds the total. */
    if (srv->nadmin >= (size_t)srv->cfg->max_admin_sessions)
        return ws_refuse(wsi, srv, HTTP_STATUS_SERVICE_UNAVAILABLE, "too many admin sessions",
                         "admin");
    return 0;
}

#define WS_ADMIN_FRAMES_PER_WRITEABLE 64

static int ws_admin_writeable(struct lws *wsi, struct ws_admin_session *sess)
{
    struct admin_session *as = sess->as;
    int code;
    const char *reason;
    /* Several frames per callback while the socket takes them: one each would cap an event
     * subscriber at one frame per loop iteration, far below what fan-out needs. The bound keeps
     * one busy session from holding the loop. */
    int written = 0;
    struct admin_frame *f;
    while (written < WS_ADMIN_FRAMES_PER_WRITEABLE &&
           (written == 0 || !lws_send_pipe_choked(wsi)) && (f = admin_session_next_frame(as))) {
        int n = lws_write(wsi, (unsigned char *)f->block + WS_HEADROOM, f->len, LWS_WRITE_TEXT);
        admin_frame_free(f);
        if (n < 0) return -1;
        written++;
        admin_session_on_written(as); /* may queue more (a paced event replay) */
    }
    if (written) {
        if (as->outq_head || as->closing) lws_callback_on_writable(wsi);
        return 0;
    }
    if (admin_session_close_requested(as, &code, &reason) && !sess->close_sent) {
        sess->close_sent = true;
        return ws_write_close(wsi, code, reason);
    }
    return 0;
}

static int ws_admin_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                             void *in, size_t len)
{
    struct ws_server *ws = lws_context_user(lws_get_context(wsi));
    struct ws_admin_session *sess = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        if (!ws || !sess) return -1;
        char path[512];
        if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) <= 0) {
            if (lws_return_http_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, NULL)) return -1;
            return lws_http_transaction_completed(wsi) ? -1 : 0;
        }
        char query[256];
        if (lws_hdr_copy(wsi, query, sizeof query, WSI_TOKEN_HTTP_URI_ARGS) > 0) {
            size_t n = strlen(path);
            snprintf(path + n, sizeof path - n, "?%s", query);
        }
        struct admin_response resp = {0};
        admin_http_get(ws->srv, path, &resp);
        unsigned char hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *p = start,
                                          *end = hdr + sizeof hdr - 1;
        if (lws_add_http_common_headers(wsi, (unsigned int)resp.status, resp.content_type,
                                        resp.len, &p, end) ||
            lws_finalize_write_http_header(wsi, start, &p, end)) {
            free(resp.body);
            return -1;
        }
        free(sess->body);
        sess->body = resp.body;
        sess->len = resp.len;
        lws_callback_on_writable(wsi);
        return 0;
    }
    case LWS_CALLBACK_HTTP_WRITEABLE: {
        if (!sess || !sess->body) return 0;
        char *block = xmalloc(LWS_PRE + sess->len + 1);
        memcpy(block + LWS_PRE, sess->body, sess->len);
        int n = lws_write(wsi, (unsigned char *)block + LWS_PRE, sess->len, LWS_WRITE_HTTP_FINAL);
        free(block);
        free(sess->body);
        sess->body = NULL;
        if (n < 0) return -1;
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    }
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        if (!ws) return -1;
        return ws_admin_confirm_upgrade(wsi, ws->srv);
    case LWS_CALLBACK_ESTABLISHED: {
        if (!ws || !sess) return -1;
        char peer[64] = "";
        lws_get_peer_simple(wsi, peer, sizeof peer);
        sess->body = NULL;
        sess->close_sent = false;
        sess->as = admin_session_open(ws->srv, wsi, peer);
        return 0;
    }
    case LWS_CALLBACK_RECEIVE:
        if (!sess || !sess->as) return -1;
        admin_session_on_receive(sess->as, in, len, lws_is_first_fragment(wsi) != 0,
                                 lws_is_final_fragment(wsi) != 0, lws_frame_is_binary(wsi) != 0);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!sess || !sess->as) return -1;
        return ws_admin_writeable(wsi, sess);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        return 0;
    case LWS_CALLBACK_CLOSED:
        if (sess && sess->as) {
            struct admin_session *as = sess->as;
            sess->as = NULL;
            admin_session_on_closed(as);
        }
        return 0;
    case LWS_CALLBACK_CLOSED_HTTP:
        if (sess) {
            free(sess->body);
            sess->body = NULL;
        }
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols ws_admin_protocols[] = {
    {"admin-http", ws_admin_callback, sizeof(struct ws_admin_session), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void ws_lws_log(int level, const char *line)
{
    /* lws's own chatter goes to debug; its errors to warn (they are about peers, mostly). */
    char buf[256];
    size_t n = strlen(line);
    if (n >= sizeof buf) n = sizeof buf - 1;
    memcpy(buf, line, n);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
    buf[n] = '\0';
    if (level & LLL_ERR) LOG_WARN("lws: %s", buf);
    else LOG_DEBUG("lws: %s", buf);
}

int ws_start(struct server *srv, char *errbuf, size_t errlen)
{
    struct ws_server *ws = xcalloc(1, sizeof *ws);
    ws->srv = srv;
    srv->ws = ws;
    const struct config *cfg = srv->cfg;
    struct peerlimit_limits lim = {
        .max_conns = cfg->max_conns_per_ip,
        .max_pending = cfg->max_handshakes_per_ip,
        .hs_rate = cfg->handshake_rate_per_ip,
        .hs_burst = cfg->handshake_burst_per_ip,
        .auth_per_min = cfg->auth_failures_per_ip,
    };
    ws->limits = peerlimit_new(&lim);
    ws->auth = authcache_new(AUTHCACHE_MAX_ENTRIES);

    lws_set_log_level(LLL_ERR | (LOG_ENABLED(LOG_LEVEL_DEBUG) ? LLL_WARN | LLL_NOTICE : 0),
                      ws_lws_log);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    void *loops[1] = {srv->loop};
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
                   LWS_SERVER_OPTION_VALIDATE_UTF8 |
                   LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN;
    info.foreign_loops = loops;
    info.user = ws;
    info.pcontext = &ws->ctx;
    info.timeout_secs = (unsigned int)cfg->handshake_timeout_s;
    /* Every connection needs a header table until its upgrade request is complete, and one
     * waits for a free one when all are taken: slow handshakes from many addresses could
     * otherwise hold them all (10 s each) and keep well-behaved chargers out. Tables are
     * allocated on use, about 5 KiB each. */
    info.max_http_header_pool = 1024;
    info.fd_limit_per_thread = 0;
    ws->ctx = lws_create_context(&info);
    if (!ws->ctx) {
        snprintf(errbuf, errlen, "cannot create the WebSocket context (is libwebsockets-evlib-uv "
                                 "installed?)");
        return OD_EIO;
    }

    struct lws_context_creation_info vinfo;
    memset(&vinfo, 0, sizeof vinfo);
    vinfo.vhost_name = "chargers";
    vinfo.port = srv->cfg->listen_port;
    /* lws binds to all interfaces unless iface names one; 0.0.0.0 means all */
    vinfo.iface = strcmp(srv->cfg->listen_host, "0.0.0.0") ? srv->cfg->listen_host : NULL;
    vinfo.protocols = ws_cp_protocols;
    vinfo.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    /* lws 4.1 arms these once, when the connection is accepted and when it first holds a
     * header table, and does not re-arm them as bytes trickle in: a handshake still incomplete
     * after this long is dropped however slowly it keeps sending (slowloris). */
    vinfo.timeout_secs = (unsigned int)cfg->handshake_timeout_s;
    vinfo.timeout_secs_ah_idle = (unsigned int)cfg->handshake_timeout_s;
    ws->vh_cp = lws_create_vhost(ws->ctx, &vinfo);
    if (!ws->vh_cp || lws_get_vhost_listen_port(ws->vh_cp) <= 0) {
        snprintf(errbuf, errlen, "cannot listen on %s:%d for charge points (port busy or "
                 "address not available)", srv->cfg->listen_host, srv->cfg->listen_port);
        return OD_EIO;
    }

    memset(&vinfo, 0, sizeof vinfo);
    vinfo.vhost_name = "admin";
    vinfo.port = srv->cfg->admin_port;
    vinfo.iface = strcmp(srv->cfg->admin_host, "0.0.0.0") ? srv->cfg->admin_host : NULL;
    vinfo.protocols = ws_admin_protocols;
    vinfo.timeout_secs = 10;
    ws->vh_admin = lws_create_vhost(ws->ctx, &vinfo);
    if (!ws->vh_admin || lws_get_vhost_listen_port(ws->vh_admin) <= 0) {
        snprintf(errbuf, errlen, "cannot listen on %s:%d for the admin API (port busy or "
                 "address not available)", srv->cfg->admin_host, srv->cfg->admin_port);
        return OD_EIO;
    }
    return 0;
}

int ws_listen_port(struct server *srv)
{
    return srv->ws && srv->ws->vh_cp ? lws_get_vhost_listen_port(srv->ws->vh_cp) : -1;
}

int ws_admin_port(struct server *srv)
{
    return srv->ws && srv->ws->vh_admin ? lws_get_vhost_listen_port(srv->ws->vh_admin) : -1;
}

void ws_stop(struct server *srv)
{
    if (srv->ws && srv->ws->ctx) lws_context_destroy(srv->ws->ctx);
}

int ws_done(struct server *srv)
{
    return !srv->ws || !srv->ws->ctx;
}

void ws_free(struct server *srv)
{
    /* On a foreign loop lws finishes freeing its context only when destroy is called again
     * after its handles have closed (the loop has stopped by now). */
    if (srv->ws && srv->ws->ctx) lws_context_destroy(srv->ws->ctx);
    if (srv->ws) {
        peerlimit_free(srv->ws->limits);
        authcache_free(srv->ws->auth);
    }
    free(srv->ws);
    srv->ws = NULL;
}

void ws_metrics_write(struct server *srv, FILE *f)
{
    const struct ws_server *ws = srv->ws;
    if (!ws) return;
    fprintf(f, "# HELP ocppd_handshakes_limited_total Charger handshakes refused by a "
               "per-address limit.\n# TYPE ocppd_handshakes_limited_total counter\n"
               "ocppd_handshakes_limited_total{limit=\"rate\"} %llu\n"
               "ocppd_handshakes_limited_total{limit=\"connections\"} %llu\n"
               "ocppd_handshakes_limited_total{limit=\"in_progress\"} %llu\n"
               "ocppd_handshakes_limited_total{limit=\"auth_failures\"} %llu\n",
            (unsigned long long)ws->refused_rate, (unsigned long long)ws->refused_conns,
            (unsigned long long)ws->refused_pending, (unsigned long long)ws->refused_auth);
    fprintf(f, "# HELP ocppd_charger_auth_checks_total Charger password checks, by how they "
               "were done.\n# TYPE ocppd_charger_auth_checks_total counter\n"
               "ocppd_charger_auth_checks_total{how=\"cache\"} %llu\n"
               "ocppd_charger_auth_checks_total{how=\"pbkdf2\"} %llu\n",
            (unsigned long long)ws->auth_cache_hits, (unsigned long long)ws->auth_slow_checks);
    fprintf(f, "# HELP ocppd_peer_limit_entries Source addresses tracked by the per-address "
               "limits.\n# TYPE ocppd_peer_limit_entries gauge\nocppd_peer_limit_entries %zu\n"
               "# HELP ocppd_auth_cache_entries Chargers whose verified credentials are cached.\n"
               "# TYPE ocppd_auth_cache_entries gauge\nocppd_auth_cache_entries %zu\n",
            peerlimit_entries(ws->limits), authcache_size(ws->auth));
}

void ws_request_write(void *wsi)
{
    if (wsi) lws_callback_on_writable(wsi);
}

bool ws_write_now(void *wsi, const char *block, size_t len)
{
    /* Saves the round through the loop (and two epoll_ctl calls) that asking for WRITEABLE
     * costs per reply. lws_send_pipe_choked also says whether lws still holds part of an
     * earlier frame, which must go first. */
    if (!wsi || lws_send_pipe_choked(wsi)) return false;
    if (lws_write(wsi, (unsigned char *)block + WS_HEADROOM, len, LWS_WRITE_TEXT) < 0)
        lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
    return true;
}

void ws_close_deadline(void *wsi, int secs)
{
    if (wsi) lws_set_timeout(wsi, (enum pending_timeout)(PENDING_TIMEOUT_USER_REASON_BASE + 1), secs);
}
