/*
 * conn.c — charge-point connections: the id table, message assembly, outbound queue, close and
 * liveness (conn.h). Protocol handling lives in ocpp/dispatch.c; sockets in ws.c.
 */
#include "conn.h"

#include "call.h"
#include "dispatch.h"
#include "model.h"
#include "mem.h"
#include "od.h"
#include "server.h"
#include "timeutil.h"
#include "ws.h"

#include <string.h>

/* ---- id table ---------------------------------------------------------------------------- */

static size_t conn_hash(const char *id, size_t size)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    return (size_t)h & (size - 1);
}

struct conn *conn_find(struct server *srv, const char *id)
{
    for (struct conn *c = srv->conn_table[conn_hash(id, srv->conn_table_size)]; c; c = c->hnext)
        if (strcmp(c->id, id) == 0) return c;
    return NULL;
}

static void conn_table_insert(struct conn *c)
{
    struct conn **slot = &c->srv->conn_table[conn_hash(c->id, c->srv->conn_table_size)];
    c->hnext = *slot;
    *slot = c;
    c->registered = true;
}

static void conn_table_remove(struct conn *c)
{
    if (!c->registered) return;
    struct conn **pp = &c->srv->conn_table[conn_hash(c->id, c->srv->conn_table_size)];
    for (; *pp; pp = &(*pp)->hnext) {
        if (*pp == c) {
            *pp = c->hnext;
            break;
        }
    }
    c->hnext = NULL;
    c->registered = false;
}

/* ---- lifetime ---------------------------------------------------------------------------- */

void conn_ref(struct conn *c)
{
    c->refs++;
}

/* Process-wide, like the loop thread every connection lives on. */
static size_t conn_outq_total_bytes;

size_t conn_outq_total(void)
{
    return conn_outq_total_bytes;
}

static void conn_free(struct conn *c)
{
    struct conn_frame *f = c->outq_head;
    while (f) {
        struct conn_frame *next = f->next;
        conn_outq_total_bytes -= f->len;
        conn_frame_free(f);
        f = next;
    }
    free(c->rx);
    free(c);
}

void conn_unref(struct conn *c)
{
    if (--c->refs == 0) conn_free(c);
}

struct conn *conn_open(struct server *srv, void *wsi, const char *id, enum ocpp_version v,
                       const char *peer)
{
    struct conn *c = xcalloc(1, sizeof *c);
    c->srv = srv;
    c->wsi = wsi;
    c->refs = 1; /* the socket's reference, dropped in conn_on_closed */
    c->version = v;
    c->state = CONN_OPEN;
    snprintf(c->id, sizeof c->id, "%s", id);
    snprintf(c->peer, sizeof c->peer, "%s", peer ? peer : "");
    c->outq_tail = &c->outq_head;
    c->callq_tail = &c->callq_head;
    c->connected_ms = c->last_rx_ms = od_now_ms();

    c->all_next = srv->conn_all;
    if (srv->conn_all) srv->conn_all->all_prev = c;
    srv->conn_all = c;
    srv->nconns++;
    srv->stats.connections_total++;

    struct conn *old = conn_find(srv, id);
    if (old) {
        /* The newest connection wins: a charger that reconnects after a network fault must not
         * wait for its dead socket to time out. */
        CLOG_INFO(id, "connection replaced old_peer=%s new_peer=%s", old->peer, c->peer);
        conn_table_remove(old);
        conn_close(old, 1000, "replaced by a newer connection with the same id");
    }
    conn_table_insert(c);
    CLOG_INFO(id, "connected protocol=%s peer=%s", ocpp_version_name(v), c->peer);

    struct model_ctx m = {.srv = srv, .conn = c, .charger_id = c->id,
                          .protocol = ocpp_version_name(v), .now_ms = c->connected_ms};
    enum model_registration reg = REG_NEVER;
    if (model_charger_connected(&m, &reg, &c->provisioned) != 0)
        CLOG_ERROR(id, "could not record the connection in the store");
    c->registration = reg;
    return c;
}

void conn_on_closed(struct conn *c)
{
    struct server *srv = c->srv;
    bool was_current = c->registered;
    c->state = CONN_GONE;
    c->wsi = NULL;
    conn_table_remove(c);
    call_fail_all(c);

    if (c->all_prev) c->all_prev->all_next = c->all_next;
    else srv->conn_all = c->all_next;
    if (c->all_next) c->all_next->all_prev = c->all_prev;
    c->all_prev = c->all_next = NULL;
    srv->nconns--;

    CLOG_INFO(c->id, "disconnected peer=%s replaced=%s", c->peer, was_current ? "no" : "yes");
    if (was_current) {
        struct model_ctx m = {.srv = srv, .conn = c, .charger_id = c->id,
                              .protocol = ocpp_version_name(c->version), .now_ms = od_now_ms()};
        model_charger_disconnected(&m);
    }
    conn_unref(c);
}

void conn_close(struct conn *c, int code, const char *reason)
{
    if (c->state != CONN_OPEN) return;
    c->state = CONN_CLOSING;
    c->close_code = code;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason);
    CLOG_DEBUG(c->id, "closing code=%d reason=\"%s\"", code, reason);
    ws_request_write(c->wsi);
    ws_close_deadline(c->wsi, 5);
}

bool conn_close_requested(const struct conn *c, int *code, const char **reason)
{
    if (c->state != CONN_CLOSING) return false;
    *code = c->close_code;
    *reason = c->close_reason;
    return true;
}

/* ---- inbound ----------------------------------------------------------------------------- */

void conn_note_alive(struct conn *c)
{
    c->last_rx_ms = od_now_ms();
}

void conn_on_receive(struct conn *c, const void *data, size_t len, bool first, bool final,
                     bool binary)
{
    struct server *srv = c->srv;
    c->last_rx_ms = od_now_ms();
    if (c->state != CONN_OPEN) return;
    if (first) {
        c->rx_len = 0;
        c->rx_binary = binary;
        c->rx_oversize = false;
    }
    if (!c->rx_oversize) {
        size_t need = c->rx_len + len;
        if (need > srv->limits.max_frame_bytes) {
            /* Refuse before buffering more: the cap bounds memory per connection. */
            c->rx_oversize = true;
        } else {
            if (need + 1 > c->rx_cap) {
                size_t cap = c->rx_cap ? c->rx_cap : 1024;
                while (cap < need + 1) cap *= 2;
                if (cap > srv->limits.max_frame_bytes + 1) cap = srv->limits.max_frame_bytes + 1;
                c->rx = xrealloc(c->rx, cap);
                c->rx_cap = cap;
            }
            memcpy(c->rx + c->rx_len, data, len);
            c->rx_len += len;
        }
    }
    if (!final) return;

    srv->stats.frames_in++;
    if (c->rx_oversize) {
        CLOG_WARN(c->id, "message too big limit=%zu, closing", srv->limits.max_frame_bytes);
        conn_close(c, 1009, "message too big");
        return;
    }
    if (c->rx_binary) {
        CLOG_WARN(c->id, "binary frame refused (OCPP-J is text only), closing");
        conn_close(c, 1003, "OCPP-J messages are text frames");
        return;
    }
    c->rx[c->rx_len] = '\0';
    dispatch_message(c, c->rx, c->rx_len);
    /* Give a burst's buffer back: most messages are small, and idle chargers are many. */
    if (c->rx_cap > 8192) {
        free(c->rx);
        c->rx = NULL;
        c->rx_cap = 0;
    }
    c->rx_len = 0;
}

/* ---- outbound ---------------------------------------------------------------------------- */

void conn_frame_free(struct conn_frame *f)
{
    if (!f) return;
    free(f->block);
    free(f);
}

int conn_send_block(struct conn *c, char *block, size_t len)
{
    if (c->state == CONN_GONE || c->state == CONN_CLOSING) {
        free(block);
        return OD_ECLOSED;
    }
    bool over_budget = conn_outq_total_bytes + len > CONN_OUTQ_TOTAL_MAX_BYTES &&
                       c->outq_bytes + len > CONN_OUTQ_FAIR_BYTES;
    if (c->outq_bytes + len > CONN_OUTQ_MAX_BYTES || over_budget) {
        free(block);
        CLOG_WARN(c->id, "peer is not reading queued=%zu all_queued=%zu, closing", c->outq_bytes,
                  conn_outq_total_bytes);
        conn_close(c, 1008, "not reading");
        return OD_ELIMIT;
    }
    struct conn_frame *f = xmalloc(sizeof *f);
    f->next = NULL;
    f->block = block;
    f->len = len;
    *c->outq_tail = f;
    c->outq_tail = &f->next;
    c->outq_bytes += len;
    conn_outq_total_bytes += len;
    c->srv->stats.frames_out++;
    ws_request_write(c->wsi);
    return 0;
}

int conn_send_block_now(struct conn *c, char *block, size_t len)
{
    if (c->state == CONN_OPEN && !c->outq_head && !c->ping_pending &&
        ws_write_now(c->wsi, block, len)) {
        free(block);
        c->srv->stats.frames_out++;
        return 0;
    }
    return conn_send_block(c, block, len);
}

int conn_send_text(struct conn *c, const char *text, size_t len)
{
    char *block = xmalloc(WS_HEADROOM + len + 1);
    memcpy(block + WS_HEADROOM, text, len);
    block[WS_HEADROOM + len] = '\0';
    return conn_send_block(c, block, len);
}

struct conn_frame *conn_next_frame(struct conn *c)
{
    struct conn_frame *f = c->outq_head;
    if (!f) return NULL;
    c->outq_head = f->next;
    if (!c->outq_head) c->outq_tail = &c->outq_head;
    c->outq_bytes -= f->len;
    conn_outq_total_bytes -= f->len;
    f->next = NULL;
    return f;
}

bool conn_take_ping(struct conn *c)
{
    bool p = c->ping_pending;
    c->ping_pending = false;
    return p;
}

/* ---- liveness ---------------------------------------------------------------------------- */

void conn_tick(struct server *srv, int64_t now_ms)
{
    int64_t ping_ms = (int64_t)config_ping_interval_s(srv->cfg) * 1000;
    int64_t idle_ms = (int64_t)config_idle_timeout_s(srv->cfg) * 1000;
    for (struct conn *c = srv->conn_all; c; c = c->all_next) {
        if (c->state != CONN_OPEN) continue;
        int64_t quiet = now_ms - c->last_rx_ms;
        if (quiet >= idle_ms) {
            CLOG_INFO(c->id, "idle timeout silent_s=%lld, closing", (long long)(quiet / 1000));
            conn_close(c, 1001, "idle timeout");
        } else if (quiet >= ping_ms && now_ms - c->last_ping_ms >= ping_ms) {
            c->last_ping_ms = now_ms;
            c->ping_pending = true;
            ws_request_write(c->wsi);
        }
    }
}
