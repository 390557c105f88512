/*
 * commit.c — group commit: one store transaction per loop iteration, and replies released only
 * once what they acknowledge is durable (server.h).
 *
 * A committed batch joins a queue with its replies and events. A threadpool job fsyncs the WAL
 * (store_wal_fsync); when it ends, every batch committed before it began is durable and is
 * released in commit order, so replies on one connection keep their order. While the job runs the
 * loop goes on handling messages and committing the next batches, which the next job covers:
 * the loop thread never waits for the disk, and the fsync rate adapts to the load. With
 * --db-sync normal (or a database that is not a WAL file) a commit counts as durable at once.
 * The same job runs the WAL checkpoints, which fsync as well.
 */
#include "server.h"

#include "admin.h"
#include "conn.h"
#include "events.h"
#include "log.h"
#include "mem.h"
#include "od.h"
#include "store.h"
#include "webhooks.h"
#include "ws.h"

#include <string.h>

struct commit_batch {
    struct commit_batch *next;
    uint64_t gen;                  /* durable once durable_gen reaches it */
    bool failed;                   /* not stored: CALLRESULTs become InternalError */
    struct held_reply *replies;
    struct event_pending *events;
    int64_t last_event_seq;        /* events stored up to here (kept even without subscribers) */
};

int server_batch(struct server *srv)
{
    int rc = store_batch_begin(srv->store);
    if (rc) CLOG_ERROR(NULL, "cannot open a store batch err=%s", od_strerror(rc));
    return rc;
}

void server_reply_after_commit(struct server *srv, struct conn *c, char *block, size_t len,
                               const char *id, bool is_result)
{
    struct held_reply *h = xmalloc(sizeof *h);
    h->next = NULL;
    h->conn = c;
    conn_ref(c);
    h->block = block;
    h->len = len;
    h->version = c->version;
    snprintf(h->id, sizeof h->id, "%s", id);
    h->is_result = is_result;
    c->replies_waiting++;
    *srv->held_tail = h;
    srv->held_tail = &h->next;
    srv->nheld++;
}

/* Commits the open batch, if any, and queues it with this iteration's replies and events. */
static void commit_close_batch(struct server *srv)
{
    bool failed = false;
    if (store_batch_active(srv->store)) {
        uint64_t t0 = uv_hrtime();
        int rc = store_batch_commit(srv->store);
        metrics_hist_add(&srv->stats.commit_latency, (double)(uv_hrtime() - t0) / 1e9);
        srv->stats.commits++;
        if (rc) {
            /* Nothing of this batch is stored, so nothing of it may be acknowledged. */
            store_batch_rollback(srv->store);
            srv->stats.commit_failures++;
            failed = true;
            LOG_ERROR("commit failed err=%s replies_failed=%zu", od_strerror(rc), srv->nheld);
        }
        /* A failed batch counts too: admin frames queued during it wait for this gen. */
        srv->commit_gen++;
    }
    int64_t queued_seq = srv->events_committed_seq;
    for (struct commit_batch *w = srv->waiting_head; w; w = w->next)
        if (w->last_event_seq > queued_seq) queued_seq = w->last_event_seq;
    if (!srv->held_head && !srv->events_head && !failed && srv->events_emitted_seq <= queued_seq)
        return;
    struct commit_batch *b = xcalloc(1, sizeof *b);
    b->gen = srv->commit_gen;
    b->failed = failed;
    b->replies = srv->held_head;
    srv->held_head = NULL;
    srv->held_tail = &srv->held_head;
    srv->nheld = 0;
    b->events = event_take_pending(srv);
    if (failed) {
        event_discard(b->events);
        b->events = NULL;
        srv->events_emitted_seq = queued_seq; /* those seqs were given back with the rollback */
    }
    b->last_event_seq = srv->events_emitted_seq;
    *srv->waiting_tail = b;
    srv->waiting_tail = &b->next;
}

/* direct: called from a libuv callback of our own, never from inside an lws callback, so a
 * reply may be written to its socket at once (conn_send_block_now). */
static void commit_release(struct server *srv, struct commit_batch *b, bool direct)
{
    event_publish(srv, b->events);
    if (b->last_event_seq > srv->events_committed_seq)
        srv->events_committed_seq = b->last_event_seq;
    struct held_reply *h = b->replies;
    while (h) {
        struct held_reply *next = h->next;
        h->conn->replies_waiting--;
        if (b->failed && h->is_result) {
            free(h->block);
            struct ocpp_error err;
            ocpp_error_set(&err, OCPP_ERR_INTERNAL, "", "the server could not store the message");
            h->block = rpc_build_error(WS_HEADROOM, h->version, h->id, &err, &h->len);
        }
        if (direct)
            conn_send_block_now(h->conn, h->block, h->len);
        else
            conn_send_block(h->conn, h->block, h->len);
        conn_unref(h->conn);
        free(h);
        h = next;
    }
    free(b);
}

/* Releases, in commit order, every queued batch that is durable by now. */
static void commit_release_durable(struct server *srv, bool direct)
{
    int64_t committed_before = srv->events_committed_seq;
    while (srv->waiting_head && srv->waiting_head->gen <= srv->durable_gen) {
        struct commit_batch *b = srv->waiting_head;
        srv->waiting_head = b->next;
        if (!srv->waiting_head) srv->waiting_tail = &srv->waiting_head;
        commit_release(srv, b, direct);
    }
    /* Webhooks read what is durable from the store, one event at a time. */
    if (srv->events_committed_seq > committed_before) webhooks_kick(srv);
    admin_on_durable(srv);
}

static void commit_disk_work_cb(uv_work_t *w)
{
    /* Threadpool thread: only the two store calls made for this (store.h), no logging. */
    struct server *srv = w->data;
    if (srv->disk.gen) {
        uint64_t t0 = uv_hrtime();
        srv->disk.sync_rc = store_wal_fsync(srv->store, STORE_FSYNC_WORKER);
        srv->disk.sync_ns = uv_hrtime() - t0;
    }
    if (srv->disk.checkpoint)
        srv->disk.ckpt_rc = store_checkpoint_bg(srv->store, &srv->disk.ckpt_frames,
                                                &srv->disk.ckpt_copied);
}

static void commit_disk_kick(struct server *srv, bool idle);

static void commit_disk_after_cb(uv_work_t *w, int status)
{
    struct server *srv = w->data;
    srv->disk_busy = false;
    (void)status; /* never cancelled: shutdown waits for the job */
    if (srv->disk.gen) {
        srv->stats.wal_syncs++;
        metrics_hist_add(&srv->stats.wal_sync_latency, (double)srv->disk.sync_ns / 1e9);
        if (srv->disk.sync_rc) {
            /* The kernel may have dropped the pages it could not write, so these commits are
             * in the database but not safely on disk: they are not acknowledged (a charger
             * retries; the handlers are idempotent) but their events stay, as the store has
             * them. */
            if (srv->stats.wal_sync_failures++ == 0)
                LOG_ERROR("WAL fsync failed err=%s: nothing is acknowledged from now on and "
                          "/healthz reports the store down; restart ocppd once the disk is fixed",
                          od_strerror(srv->disk.sync_rc));
            for (struct commit_batch *b = srv->waiting_head; b && b->gen <= srv->disk.gen;
                 b = b->next)
                b->failed = true;
            admin_on_sync_failed(srv, srv->disk.gen);
        }
        if (srv->disk.gen > srv->durable_gen) srv->durable_gen = srv->disk.gen;
    }
    if (srv->disk.checkpoint) {
        srv->stats.checkpoints++;
        if (srv->disk.ckpt_rc)
            LOG_WARN("background checkpoint failed err=%s", od_strerror(srv->disk.ckpt_rc));
        else
            LOG_DEBUG("background checkpoint wal_frames=%d copied=%d", srv->disk.ckpt_frames,
                      srv->disk.ckpt_copied);
    }
    commit_release_durable(srv, true);
    commit_disk_kick(srv, false);
}

/* Starts a disk job if one is due and none runs. */
static void commit_disk_kick(struct server *srv, bool idle)
{
    if (srv->disk_busy) return;
    bool sync = store_sync_deferred(srv->store) && srv->durable_gen < srv->commit_gen;
    bool ckpt = store_checkpoint_due(srv->store, idle);
    if (!sync && !ckpt) return;
    memset(&srv->disk, 0, sizeof srv->disk);
    srv->disk.gen = sync ? srv->commit_gen : 0;
    srv->disk.checkpoint = ckpt;
    srv->disk_work.data = srv;
    int rc = uv_queue_work(srv->loop, &srv->disk_work, commit_disk_work_cb, commit_disk_after_cb);
    if (rc) {
        /* Cannot happen with a valid loop and callbacks; fsync here rather than stall. */
        LOG_ERROR("cannot queue the disk job err=%s; syncing inline", uv_strerror(rc));
        commit_disk_work_cb(&srv->disk_work);
        srv->disk_busy = true;
        commit_disk_after_cb(&srv->disk_work, 0);
        return;
    }
    srv->disk_busy = true;
}

static void commit_async(struct server *srv, bool direct)
{
    commit_close_batch(srv);
    if (!store_sync_deferred(srv->store)) srv->durable_gen = srv->commit_gen;
    commit_release_durable(srv, direct);
    commit_disk_kick(srv, false);
}

void server_commit_async(struct server *srv)
{
    commit_async(srv, false);
}

void server_commit_iteration(struct server *srv)
{
    commit_async(srv, true);
}

void server_commit(struct server *srv)
{
    commit_close_batch(srv);
    if (srv->durable_gen < srv->commit_gen) {
        /* A job in flight may be fsyncing too; both calls are safe together, and this one
         * covers everything committed so far. */
        uint64_t t0 = uv_hrtime();
        int rc = store_wal_fsync(srv->store, STORE_FSYNC_LOOP);
        if (store_sync_deferred(srv->store)) {
            srv->stats.wal_syncs++;
            metrics_hist_add(&srv->stats.wal_sync_latency, (double)(uv_hrtime() - t0) / 1e9);
        }
        if (rc) {
            if (srv->stats.wal_sync_failures++ == 0)
                LOG_ERROR("WAL fsync failed err=%s: nothing is acknowledged from now on and "
                          "/healthz reports the store down; restart ocppd once the disk is fixed",
                          od_strerror(rc));
            for (struct commit_batch *b = srv->waiting_head; b; b = b->next) b->failed = true;
            admin_on_sync_failed(srv, srv->commit_gen);
        }
        srv->durable_gen = srv->commit_gen;
    }
    commit_release_durable(srv, false);
}

void server_commit_idle(struct server *srv)
{
    if (!store_batch_active(srv->store)) commit_disk_kick(srv, true);
}

bool server_disk_busy(const struct server *srv)
{
    return srv->disk_busy;
}

bool server_commit_pending(const struct server *srv)
{
    return srv->held_head || srv->waiting_head || srv->disk_busy;
}
