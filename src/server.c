/*
 * server.c — process-wide state and orderly shutdown (server.h); the group commit is commit.c.
 */
#include "server.h"

#include "admin.h"
#include "conn.h"
#include "events.h"
#include "log.h"
#include "mem.h"
#include "od.h"
#include "store.h"
#include "timeutil.h"
#include "webhooks.h"
#include "ws.h"

#include <signal.h>
#include <string.h>

#define SERVER_CONN_TABLE_SIZE (1u << 16)

const double server_latency_bounds_s[12] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                            0.01,   0.025,   0.05,   0.1,   0.25,   1.0};
#define SERVER_SHUTDOWN_GRACE_MS 3000

static void server_commit_check_cb(uv_check_t *h)
{
    server_commit_iteration(h->data);
}

static void server_tick_cb(uv_timer_t *t)
{
    struct server *srv = t->data;
    conn_tick(srv, od_now_ms());
    /* Fold the WAL back when the load pauses, so it stays small. */
    server_commit_idle(srv);
}

static void server_signal_cb(uv_signal_t *h, int signum)
{
    struct server *srv = h->data;
    LOG_INFO("signal=%s, shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    server_shutdown(srv);
}

int server_init(struct server *srv, uv_loop_t *loop, const struct config *cfg, struct store *st)
{
    memset(srv, 0, sizeof *srv);
    srv->loop = loop;
    srv->cfg = cfg;
    srv->store = st;
    srv->limits.max_frame_bytes = cfg->max_frame_bytes;
    srv->limits.max_depth = cfg->max_json_depth;
    srv->conn_table_size = SERVER_CONN_TABLE_SIZE;
    srv->conn_table = xcalloc(srv->conn_table_size, sizeof *srv->conn_table);
    srv->held_tail = &srv->held_head;
    srv->waiting_tail = &srv->waiting_head;
    srv->events_tail = &srv->events_head;
    srv->started_ms = od_now_ms();
    const size_t nb = sizeof server_latency_bounds_s / sizeof *server_latency_bounds_s;
    metrics_hist_init(&srv->stats.commit_latency, server_latency_bounds_s, nb);
    metrics_hist_init(&srv->stats.wal_sync_latency, server_latency_bounds_s, nb);
    metrics_hist_init(&srv->stats.call_latency, server_latency_bounds_s, nb);

    uv_check_init(loop, &srv->commit_check);
    srv->commit_check.data = srv;
    uv_timer_init(loop, &srv->tick_timer);
    srv->tick_timer.data = srv;
    uv_timer_init(loop, &srv->shutdown_timer);
    srv->shutdown_timer.data = srv;
    uv_signal_init(loop, &srv->sig_int);
    srv->sig_int.data = srv;
    uv_signal_init(loop, &srv->sig_term);
    srv->sig_term.data = srv;
    return 0;
}

int server_start(struct server *srv, char *errbuf, size_t errlen)
{
    int rc = ws_start(srv, errbuf, errlen);
    if (rc) return rc;
    webhooks_start(srv);
    uv_check_start(&srv->commit_check, server_commit_check_cb);
    uv_timer_start(&srv->tick_timer, server_tick_cb, 1000, 1000);
    uv_signal_start(&srv->sig_int, server_signal_cb, SIGINT);
    uv_signal_start(&srv->sig_term, server_signal_cb, SIGTERM);
    LOG_INFO("ocppd ready charge_points=%s:%d admin=%s:%d db=%s heartbeat_s=%d ping_s=%d "
             "idle_timeout_s=%d",
             srv->cfg->listen_host, ws_listen_port(srv), srv->cfg->admin_host, ws_admin_port(srv),
             srv->cfg->db_path, srv->cfg->heartbeat_interval_s, config_ping_interval_s(srv->cfg),
             config_idle_timeout_s(srv->cfg));
    return 0;
}

/* ---- shutdown ---------------------------------------------------------------------------- */

static void server_handle_closed_cb(uv_handle_t *h)
{
    (void)h;
}

struct foreign_count {
    struct server *srv;
    int n;
};

static void server_count_foreign_cb(uv_handle_t *h, void *arg)
{
    struct foreign_count *fc = arg;
    struct server *srv = fc->srv;
    if (h == (uv_handle_t *)&srv->commit_check || h == (uv_handle_t *)&srv->tick_timer ||
        h == (uv_handle_t *)&srv->sig_int || h == (uv_handle_t *)&srv->sig_term ||
        h == (uv_handle_t *)&srv->shutdown_timer || uv_is_closing(h))
        return;
    fc->n++;
}

/* lws on a foreign loop does not always report the end of its teardown; what counts is that
 * none of its handles is left on our loop. */
static bool server_lws_gone(struct server *srv)
{
    if (ws_done(srv)) return true;
    struct foreign_count fc = {.srv = srv};
    uv_walk(srv->loop, server_count_foreign_cb, &fc);
    return fc.n == 0;
}

static void server_shutdown_cb(uv_timer_t *t)
{
    struct server *srv = t->data;
    int64_t now = od_now_ms();
    if (!srv->shutdown_deadline_ms) srv->shutdown_deadline_ms = now + SERVER_SHUTDOWN_GRACE_MS;
    int64_t deadline = srv->shutdown_deadline_ms;
    bool ws_stopping = srv->ws_stopping;
    if (!ws_stopping && ((srv->nconns == 0 && srv->nadmin == 0) || now >= deadline)) {
        if (srv->nconns) LOG_WARN("shutdown grace over, dropping connections=%zu", srv->nconns);
        ws_stopping = srv->ws_stopping = true;
        ws_stop(srv);
    }
    /* A webhook POST in flight may finish within the grace (webhooks.h). */
    if (ws_stopping && ((server_lws_gone(srv) && webhooks_drained(srv)) ||
                        now >= deadline + 2000)) {
        if (!server_lws_gone(srv)) LOG_WARN("lws teardown incomplete; closing our handles");
        webhooks_abort(srv);
        server_commit(srv);
        uv_timer_stop(t);
        uv_close((uv_handle_t *)&srv->commit_check, server_handle_closed_cb);
        uv_close((uv_handle_t *)&srv->tick_timer, server_handle_closed_cb);
        uv_close((uv_handle_t *)&srv->sig_int, server_handle_closed_cb);
        uv_close((uv_handle_t *)&srv->sig_term, server_handle_closed_cb);
        uv_close((uv_handle_t *)&srv->shutdown_timer, server_handle_closed_cb);
        LOG_INFO("shutdown complete");
    }
}

void server_shutdown(struct server *srv)
{
    if (srv->stopping) return;
    srv->stopping = true;
    for (struct conn *c = srv->conn_all; c; c = c->all_next)
        conn_close(c, 1001, "server shutting down");
    admin_shutdown(srv);
    webhooks_shutdown(srv);
    uv_timer_start(&srv->shutdown_timer, server_shutdown_cb, 0, 50);
}

void server_close(struct server *srv)
{
    event_discard_pending(srv);
    ws_free(srv);
    free(srv->conn_table);
    srv->conn_table = NULL;
}
