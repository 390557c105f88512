/*
 * admin.c — the admin listener's plumbing (admin.h): GET /healthz and /metrics, credential
 * checks (admin token, charger passwords) and the lifetime and outbound queue of admin
 * WebSocket sessions.
 * JSON-RPC parsing and dispatch are in admin_rpc.c, the methods in admin_methods.c.
 *
 * Health and metrics are deliberately unauthenticated (load balancers and Prometheus probe
 * them) and reveal nothing but counts.
 */
#include "admin_int.h"

#include "conn.h"
#include "log.h"
#include "looplag.h"
#include "mem.h"
#include "od.h"
#include "server.h"
#include "store.h"
#include "timeutil.h"
#include "ws.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- HTTP ---------------------------------------------------------------------------------- */

static void admin_json(struct admin_response *out, int status, json_t *body)
{
    out->status = status;
    out->content_type = "application/json";
    out->body = json_dumps(body, JSON_COMPACT);
    out->len = out->body ? strlen(out->body) : 0;
    json_decref(body);
}

static int admin_count_tx_cb(const struct store_tx *tx, void *ctx)
{
    (void)tx;
    (*(uint64_t *)ctx)++;
    return 0;
}

/* GET /metrics: Prometheus text exposition (version 0.0.4). Counts only, like /healthz. */
static void admin_metrics(struct server *srv, struct admin_response *out)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        admin_json(out, 500, json_pack("{s:s}", "error", "out of memory"));
        return;
    }
    const struct server_stats *st = &srv->stats;
    uint64_t by_version[2] = {0, 0};
    for (const struct conn *c = srv->conn_all; c; c = c->all_next)
        if (c->state == CONN_OPEN && (unsigned)c->version < 2) by_version[c->version]++;
    fprintf(f, "# HELP ocppd_chargers_connected Open charge-point connections.\n"
               "# TYPE ocppd_chargers_connected gauge\n");
    for (int v = 0; v < 2; v++)
        fprintf(f, "ocppd_chargers_connected{protocol=\"%s\"} %llu\n",
                ocpp_version_name((enum ocpp_version)v), (unsigned long long)by_version[v]);
#define COUNTER(name, help, value)                                                            \
    fprintf(f, "# HELP " name " " help "\n# TYPE " name " counter\n" name " %llu\n",            \
            (unsigned long long)(value))
    COUNTER("ocppd_frames_in_total", "WebSocket messages received from chargers.", st->frames_in);
    COUNTER("ocppd_frames_out_total", "WebSocket messages sent to chargers.", st->frames_out);
    COUNTER("ocppd_calls_in_total", "CALLs received from chargers.", st->calls_in);
    COUNTER("ocppd_callerrors_out_total", "CALLERRORs sent to chargers.", st->callerrors_out);
    COUNTER("ocppd_connections_total", "Charger connections accepted.", st->connections_total);
    COUNTER("ocppd_handshakes_refused_total", "Handshakes refused (any reason).",
            st->connections_refused);
    COUNTER("ocppd_charger_auth_failures_total",
            "Charger handshakes refused for missing or wrong Basic credentials.",
            st->auth_failures);
    COUNTER("ocppd_admin_sessions_dropped_total", "Admin sessions closed for not reading.",
            st->admin_sessions_dropped);
    COUNTER("ocppd_commit_failures_total", "Store batches that failed to commit.",
            st->commit_failures);
    COUNTER("ocppd_db_wal_sync_failures_total", "WAL fsyncs that failed (commits not acknowledged).",
            st->wal_sync_failures);
    COUNTER("ocppd_db_checkpoints_total", "Background WAL checkpoints run.", st->checkpoints);
#undef COUNTER
    fprintf(f, "# HELP ocppd_calls_in_by_action_total CALLs received from chargers, by action.\n"
               "# TYPE ocppd_calls_in_by_action_total counter\n");
    metrics_write(f, "ocppd_calls_in_by_action_total", "action", &st->calls_in_by_action);
    fprintf(f, "# HELP ocppd_calls_out_by_action_total CALLs sent to chargers, by action.\n"
               "# TYPE ocppd_calls_out_by_action_total counter\n");
    metrics_write(f, "ocppd_calls_out_by_action_total", "action", &st->calls_out_by_action);
    fprintf(f, "# HELP ocppd_callerrors_out_by_code_total CALLERRORs sent to chargers, by cause "
               "(2.0.1 spelling).\n# TYPE ocppd_callerrors_out_by_code_total counter\n");
    for (int e = 0; e < OCPP_ERR__COUNT; e++)
        if (st->callerrors_by_code[e])
            fprintf(f, "ocppd_callerrors_out_by_code_total{code=\"%s\"} %llu\n",
                    ocpp_errcode_name((enum ocpp_errcode)e, OCPP_V201),
                    (unsigned long long)st->callerrors_by_code[e]);
    metrics_hist_write(f, "ocppd_call_seconds",
                       "Round trip of CSMS-initiated calls that were answered.", &st->call_latency);
    metrics_hist_write(f, "ocppd_db_commit_seconds", "Store batch commit latency.",
                       &st->commit_latency);
    metrics_hist_write(f, "ocppd_db_wal_sync_seconds",
                       "WAL fsync before acknowledging (off the loop thread; full sync only).",
                       &st->wal_sync_latency);
    uint64_t active = 0;
    struct store_tx_query q = {.active = 1};
    store_tx_query(srv->store, &q, admin_count_tx_cb, &active);
    fprintf(f, "# HELP ocppd_transactions_active Open transactions.\n"
               "# TYPE ocppd_transactions_active gauge\nocppd_transactions_active %llu\n",
            (unsigned long long)active);
    fprintf(f, "# HELP ocppd_events_seq Highest stored event seq.\n"
               "# TYPE ocppd_events_seq gauge\nocppd_events_seq %lld\n",
            (long long)store_event_last_seq(srv->store));
    if (srv->looplag) looplag_write_metrics(srv->looplag, f);
    fprintf(f, "# HELP ocppd_admin_sessions Open admin WebSocket sessions.\n"
               "# TYPE ocppd_admin_sessions gauge\nocppd_admin_sessions %zu\n"
               "# HELP ocppd_event_subscribers Admin sessions following events.\n"
               "# TYPE ocppd_event_subscribers gauge\nocppd_event_subscribers %zu\n",
            srv->nadmin, srv->nsubscribers - admin__waiters_listening(srv));
    ws_metrics_write(srv, f); /* handshake limits and the credential cache (ws.c) */
    fclose(f);
    out->status = 200;
    out->content_type = "text/plain; version=0.0.4";
    out->body = buf;
    out->len = len;
}

void admin_http_get(struct server *srv, const char *path, struct admin_response *out)
{
    size_t plen = strcspn(path, "?");
    if (plen == strlen("/healthz") && strncmp(path, "/healthz", plen) == 0) {
        bool db_ok = store_ping(srv->store);
        json_t *body = json_pack("{s:s, s:s, s:I, s:I, s:b}", "status", db_ok ? "ok" : "degraded",
                                 "version", OD_VERSION, "uptimeSeconds",
                                 (json_int_t)((od_now_ms() - srv->started_ms) / 1000),
                                 "chargersConnected", (json_int_t)srv->nconns, "dbOk", db_ok);
        admin_json(out, db_ok ? 200 : 503, body);
        return;
    }
    if (plen == strlen("/metrics") && strncmp(path, "/metrics", plen) == 0) {
        admin_metrics(srv, out);
        return;
    }
    admin_json(out, 404, json_pack("{s:s}", "error", "not found"));
}

/* ---- credentials --------------------------------------------------------------------------- */

bool admin_token_ok(const struct server *srv, const char *token)
{
    const char *want = srv->cfg->admin_token;
    size_t n = strlen(want);
    /* Length is not secret (the token format is documented); the bytes are. */
    if (!token || strlen(token) != n || n == 0) return false;
    return CRYPTO_memcmp(token, want, n) == 0;
}

#define ADMIN_SALT_LEN 16
#define ADMIN_KEY_LEN 32
/* Refuse absurd iteration counts read back from the store: verification runs on the loop. */
#define ADMIN_PBKDF2_MAX_ITERATIONS 200000

static void admin_hex(const unsigned char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int admin_unhex(const char *in, size_t inlen, unsigned char *out, size_t outlen)
{
    if (inlen != 2 * outlen) return OD_EINVAL;
    for (size_t i = 0; i < outlen; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char ch = in[2 * i + k];
            int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
            if (d < 0) return OD_EINVAL;
            v = v * 16 + d;
        }
        out[i] = (unsigned char)v;
    }
    return 0;
}

static int admin_pbkdf2(const char *password, const unsigned char *salt, int iter,
                        unsigned char *key)
{
    return PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, ADMIN_SALT_LEN, iter,
                             EVP_sha256(), ADMIN_KEY_LEN, key) == 1 ? 0 : OD_EINTERNAL;
}

int admin_password_hash(const char *password, char *out, size_t outlen)
{
    unsigned char salt[ADMIN_SALT_LEN], key[ADMIN_KEY_LEN];
    char salthex[2 * ADMIN_SALT_LEN + 1], keyhex[2 * ADMIN_KEY_LEN + 1];
    if (RAND_bytes(salt, sizeof salt) != 1) return OD_EINTERNAL;
    int rc = admin_pbkdf2(password, salt, ADMIN_PBKDF2_ITERATIONS, key);
    if (rc) return rc;
    admin_hex(salt, sizeof salt, salthex);
    admin_hex(key, sizeof key, keyhex);
    int n = snprintf(out, outlen, "pbkdf2-sha256$%d$%s$%s", ADMIN_PBKDF2_ITERATIONS, salthex,
                     keyhex);
    OPENSSL_cleanse(key, sizeof key);
    return n > 0 && (size_t)n < outlen ? 0 : OD_ETOOBIG;
}

bool admin_password_verify(const char *password, const char *encoded)
{
    const char *prefix = "pbkdf2-sha256$";
    if (strncmp(encoded, prefix, strlen(prefix)) != 0) return false;
    const char *p = encoded + strlen(prefix);
    char *end;
    long iter = strtol(p, &end, 10);
    if (end == p || *end != '$' || iter < 1 || iter > ADMIN_PBKDF2_MAX_ITERATIONS) return false;
    const char *salthex = end + 1;
    const char *keyhex = strchr(salthex, '$');
    if (!keyhex) return false;
    unsigned char salt[ADMIN_SALT_LEN], want[ADMIN_KEY_LEN], got[ADMIN_KEY_LEN];
    if (admin_unhex(salthex, (size_t)(keyhex - salthex), salt, sizeof salt) ||
        admin_unhex(keyhex + 1, strlen(keyhex + 1), want, sizeof want))
        return false;
    if (admin_pbkdf2(password, salt, (int)iter, got)) return false;
    bool ok = CRYPTO_memcmp(got, want, sizeof got) == 0;
    OPENSSL_cleanse(got, sizeof got);
    return ok;
}

int admin_charger_auth(struct server *srv, const char *id, const char *authz)
{
    struct store_charger ch;
    int rc = store_charger_get(srv->store, id, &ch);
    if (rc == OD_ENOTFOUND || (rc == 0 && ch.password_hash[0] == '\0')) return 0;
    if (rc) return OD_EDB;
    return admin_charger_auth_hash(srv, id, ch.password_hash, authz);
}

int admin_charger_auth_hash(struct server *srv, const char *id, const char *password_hash,
                            const char *authz)
{
    static struct log_ratelimit rl;
    const char *why = "no Basic credentials";
    bool ok = false;
    if (authz && strncasecmp(authz, "Basic ", 6) == 0) {
        const char *b64 = authz + 6;
        while (*b64 == ' ') b64++;
        size_t blen = strlen(b64);
        unsigned char dec[256];
        /* EVP_DecodeBlock writes 3 bytes per 4 input characters and keeps '=' padding bytes as
         * zeros, so count the padding to know the real length. */
        if (blen > 0 && blen % 4 == 0 && blen / 4 * 3 < sizeof dec) {
            int n = EVP_DecodeBlock(dec, (const unsigned char *)b64, (int)blen);
            if (n >= 0) {
                if (b64[blen - 1] == '=') n--;
                if (blen > 1 && b64[blen - 2] == '=') n--;
                dec[n] = '\0';
                char *colon = memchr(dec, ':', (size_t)n);
                if (!colon || (size_t)n != strlen((char *)dec)) {
                    why = "malformed Basic credentials";
                } else {
                    *colon = '\0';
                    if (strcmp((char *)dec, id) != 0) why = "user is not the charge point id";
                    else if (!admin_password_verify(colon + 1, password_hash))
                        why = "wrong password";
                    else ok = true;
                }
                OPENSSL_cleanse(dec, sizeof dec);
            }
        } else {
            why = "malformed Basic credentials";
        }
    }
    if (ok) return 0;
    srv->stats.auth_failures++;
    if (log_ratelimit_allow(&rl, 20))
        CLOG_WARN(id, "charger authentication failed why=\"%s\"", why);
    return OD_EINVAL;
}

/* ---- sessions ------------------------------------------------------------------------------ */

struct admin_session *admin_session_open(struct server *srv, void *wsi, const char *peer)
{
    struct admin_session *s = xcalloc(1, sizeof *s);
    s->srv = srv;
    s->wsi = wsi;
    s->refs = 1; /* the socket's */
    snprintf(s->peer, sizeof s->peer, "%s", peer ? peer : "");
    s->outq_tail = &s->outq_head;
    s->next = srv->admin_all;
    if (srv->admin_all) srv->admin_all->prev = s;
    srv->admin_all = s;
    srv->nadmin++;
    LOG_INFO("admin session opened peer=%s", s->peer);
    return s;
}

void admin_frame_free(struct admin_frame *f)
{
    if (!f) return;
    free(f->block);
    free(f);
}

static void admin_outq_clear(struct admin_session *s)
{
    struct admin_frame *f = s->outq_head;
    while (f) {
        struct admin_frame *next = f->next;
        admin_frame_free(f);
        f = next;
    }
    s->outq_head = NULL;
    s->outq_tail = &s->outq_head;
    s->outq_bytes = 0;
}

void admin_session_ref(struct admin_session *s)
{
    s->refs++;
}

void admin_session_unref(struct admin_session *s)
{
    if (--s->refs > 0) return;
    admin_outq_clear(s);
    free(s->rx);
    free(s);
}

void admin_session_close(struct admin_session *s, int code, const char *reason)
{
    if (s->closing || s->gone) return;
    s->closing = true;
    s->close_code = code;
    snprintf(s->close_reason, sizeof s->close_reason, "%s", reason);
    LOG_INFO("admin session closing peer=%s code=%d reason=\"%s\"", s->peer, code, reason);
    ws_request_write(s->wsi);
    /* A peer that does not read would never take the close frame either. */
    ws_close_deadline(s->wsi, 3);
}

void admin_session_on_closed(struct admin_session *s)
{
    struct server *srv = s->srv;
    s->gone = true;
    s->closing = true;
    s->wsi = NULL;
    if (s->prev) s->prev->next = s->next;
    else srv->admin_all = s->next;
    if (s->next) s->next->prev = s->prev;
    s->prev = s->next = NULL;
    srv->nadmin--;
    admin__sub_free(s);
    admin_outq_clear(s);
    LOG_INFO("admin session closed peer=%s", s->peer);
    admin_session_unref(s);
}

void admin_shutdown(struct server *srv)
{
    for (struct admin_session *s = srv->admin_all; s; s = s->next)
        admin_session_close(s, 1001, "server shutting down");
    admin__waiters_cancel(srv);
}

static int admin_session_queue(struct admin_session *s, const char *text, size_t len,
                               uint64_t gen)
{
    if (s->closing || s->gone) return OD_ECLOSED;
    /* The cap bounds a backlog, not one answer: a large chargers.list into an empty queue is
     * allowed (its size is the server's own doing), anything queued behind it counts. */
    if (s->outq_bytes > 0 && s->outq_bytes + len > ADMIN_OUTQ_MAX_BYTES) {
        /* Buffering without limit would let one idle dashboard tab eat the server's memory. */
        s->srv->stats.admin_sessions_dropped++;
        LOG_WARN("admin session too slow, dropping peer=%s queued_bytes=%zu", s->peer,
                 s->outq_bytes);
        admin_outq_clear(s);
        admin_session_close(s, 1008, "outbound queue limit reached (reader too slow)");
        return OD_ELIMIT;
    }
    struct admin_frame *f = xmalloc(sizeof *f);
    f->next = NULL;
    f->block = xmalloc(WS_HEADROOM + len + 1);
    memcpy(f->block + WS_HEADROOM, text, len);
    f->block[WS_HEADROOM + len] = '\0';
    f->len = len;
    f->gen = gen;
    *s->outq_tail = f;
    s->outq_tail = &f->next;
    s->outq_bytes += len;
    if (gen <= s->srv->durable_gen) ws_request_write(s->wsi);
    return 0;
}

int admin_session_send(struct admin_session *s, const char *text, size_t len)
{
    struct server *srv = s->srv;
    return admin_session_queue(s, text, len,
                               srv->commit_gen + (store_batch_active(srv->store) ? 1 : 0));
}

int admin_session_send_durable(struct admin_session *s, const char *text, size_t len)
{
    return admin_session_queue(s, text, len, 0);
}

void admin_on_sync_failed(struct server *srv, uint64_t gen)
{
    for (struct admin_session *s = srv->admin_all; s; s = s->next) {
        bool waiting = false;
        for (const struct admin_frame *f = s->outq_head; f && !waiting; f = f->next)
            waiting = f->gen > srv->durable_gen && f->gen <= gen;
        if (!waiting) continue;
        admin_outq_clear(s);
        admin_session_close(s, 1011, "the server could not store the change (disk error)");
    }
}

void admin_on_durable(struct server *srv)
{
    if (srv->ws_stopping) return; /* lws is being torn down: no more write requests */
    for (struct admin_session *s = srv->admin_all; s; s = s->next)
        if (s->outq_head && s->outq_head->gen <= srv->durable_gen) ws_request_write(s->wsi);
}

struct admin_frame *admin_session_next_frame(struct admin_session *s)
{
    struct admin_frame *f = s->outq_head;
    if (!f || f->gen > s->srv->durable_gen) return NULL;
    s->outq_head = f->next;
    if (!s->outq_head) s->outq_tail = &s->outq_head;
    s->outq_bytes -= f->len;
    f->next = NULL;
    return f;
}

void admin_session_on_written(struct admin_session *s)
{
    if (s->sub && !s->closing) admin__sub_replay(s);
}

bool admin_session_close_requested(const struct admin_session *s, int *code, const char **reason)
{
    if (!s->closing) return false;
    *code = s->close_code;
    *reason = s->close_reason;
    return true;
}

void admin_session_on_receive(struct admin_session *s, const void *data, size_t len, bool first,
                              bool final, bool binary)
{
    if (s->closing) return;
    if (first) {
        s->rx_len = 0;
        s->rx_skip = false;
    }
    if (binary) s->rx_skip = true;
    if (!s->rx_skip && s->rx_len + len > ADMIN_MAX_MESSAGE) {
        s->rx_skip = true;
        free(s->rx);
        s->rx = NULL;
        s->rx_len = 0;
    }
    if (!s->rx_skip && len) {
        /* Grown per fragment; the cap above bounds it before any allocation. */
        s->rx = xrealloc(s->rx, s->rx_len + len + 1);
        memcpy(s->rx + s->rx_len, data, len);
        s->rx_len += len;
    }
    if (!final) return;
    if (s->rx_skip) {
        static const char too_big[] =
            "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,"
            "\"message\":\"message too large or not text\"}}";
        admin_session_send(s, too_big, sizeof too_big - 1);
        s->rx_skip = false;
        return;
    }
    /* The session may close (slow reader) while answering: keep it alive until we return. */
    admin_session_ref(s);
    admin_rpc_handle(s, s->rx ? s->rx : "", s->rx_len);
    s->rx_len = 0;
    admin_session_unref(s);
}
