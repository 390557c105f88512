/*
 * server.h — the process-wide state of ocppd and the group-commit machinery.
 *
 * Threads: everything runs on one libuv loop thread. Handlers write their effects into the open
 * store batch and queue their replies with server_reply_after_commit(); a uv_check handle, which
 * runs right after each round of I/O callbacks, commits the batch once. The replies (and events)
 * of a committed batch wait until it is durable: a threadpool job fsyncs the WAL while the loop
 * goes on, and one fsync covers every batch committed before it began (commit.c). If the commit
 * failed they are answered InternalError instead. So no CALLRESULT ever acknowledges data that
 * is not on disk, and the loop thread never waits for the disk to flush.
 */
#ifndef OD_SERVER_H
#define OD_SERVER_H

#include "config.h"
#include "metrics.h"
#include "rpc.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct store;
struct conn;
struct ws_server;
struct admin_session;
struct admin_waiter;
struct event_pending;
struct commit_batch;

/* A reply waiting for the batch it acknowledges to commit. */
struct held_reply {
    struct held_reply *next;
    struct conn *conn;          /* referenced */
    char *block;                /* frame with WS_HEADROOM (owned) */
    size_t len;
    enum ocpp_version version;
    char id[RPC_ID_MAX + 4];    /* the CALL's unique id, to answer InternalError instead */
    bool is_result;             /* CALLRESULT (acknowledges data) rather than CALLERROR */
};

/* Upper bounds (seconds) of the latency histograms exported on /metrics (commit, WAL fsync,
 * CSMS-initiated call round trip). */
extern const double server_latency_bounds_s[12];

struct server_stats {
    uint64_t frames_in, frames_out;
    uint64_t calls_in, callerrors_out;
    uint64_t commits, commit_failures;
    uint64_t connections_total, connections_refused;
    uint64_t auth_failures;      /* charger handshakes refused 401 (security profile 1) */
    uint64_t admin_sessions_dropped; /* admin readers too slow for their queue cap */
    /* latency histograms over server_latency_bounds_s (server_init sets them up) */
    struct metrics_hist commit_latency;   /* store batch commit */
    struct metrics_hist wal_sync_latency; /* WAL fsync before acknowledging (off the loop) */
    struct metrics_hist call_latency;     /* CSMS-initiated call round trip, answered ones */
    uint64_t wal_syncs, wal_sync_failures;
    uint64_t checkpoints;        /* background checkpoints run */
    struct metrics_labelled calls_in_by_action;   /* CALLs from chargers ("unknown" if none) */
    struct metrics_labelled calls_out_by_action;  /* CSMS-initiated CALLs sent */
    uint64_t callerrors_by_code[OCPP_ERR__COUNT]; /* CALLERRORs we sent, by cause */
};

struct server {
    uv_loop_t *loop;
    const struct config *cfg;       /* borrowed from main */
    struct store *store;            /* owned by main */
    struct ws_server *ws;           /* owned (ws.c) */
    struct rpc_limits limits;

    /* connections: table by charge point id, and a list of all of them */
    struct conn **conn_table;
    size_t conn_table_size;         /* power of two */
    struct conn *conn_all;
    size_t nconns;

    /* admin WebSocket sessions (admin.c) and charging.start waiters (admin_methods.c) */
    struct admin_session *admin_all;
    size_t nadmin;
    struct admin_waiter *admin_waiters;
    size_t nsubscribers;            /* admin sessions with events.subscribe */

    /* events stored in the open batch, published after it commits (events.c) */
    struct event_pending *events_head, **events_tail;
    int64_t events_committed_seq;   /* highest seq known committed (kept while subscribed) */
    int64_t events_emitted_seq;     /* highest seq stored, committed or in the open batch */

    /* webhooks (webhooks.c): they follow events_committed_seq */
    struct webhook *webhooks;

    /* group commit (commit.c) */
    uv_check_t commit_check;
    struct held_reply *held_head, **held_tail; /* replies for the open batch */
    size_t nheld;
    struct commit_batch *waiting_head, **waiting_tail; /* committed, not yet durable */
    uint64_t commit_gen;            /* commits made */
    uint64_t durable_gen;           /* commits known to be on disk */
    uv_work_t disk_work;            /* WAL fsync and/or checkpoint on the threadpool */
    bool disk_busy;                 /* disk_work in flight (one at a time) */
    struct disk_job {
        uint64_t gen;               /* fsync: commit_gen when the job began; 0 = no fsync */
        bool checkpoint;
        int sync_rc, ckpt_rc, ckpt_frames, ckpt_copied;
        uint64_t sync_ns;
    } disk;

    uv_timer_t tick_timer;          /* 1 Hz: liveness, call timeouts are per call */
    uv_signal_t sig_int, sig_term;
    uv_timer_t shutdown_timer;
    bool stopping;
    bool ws_stopping;
    int64_t shutdown_deadline_ms;
    int exit_code;
    int64_t started_ms;
    struct server_stats stats;
    struct looplag *looplag;        /* borrowed from main; NULL when not measured */
};

/* Sets up handles on loop (does not start listening). */
int server_init(struct server *srv, uv_loop_t *loop, const struct config *cfg, struct store *st);
/* Starts the listeners and signal handlers; logs "ocppd ready". */
int server_start(struct server *srv, char *errbuf, size_t errlen);
/* Stops accepting, closes chargers with 1001, flushes, then tears down; idempotent. */
void server_shutdown(struct server *srv);
/* Closes every handle after the loop has drained. */
void server_close(struct server *srv);

/* Opens the store batch for this loop iteration (idempotent). Every handler that writes calls
 * it first. Returns 0 or OD_EDB. */
int server_batch(struct server *srv);
/* Queues a frame for conn that must not go out before the current batch commits. Takes
 * ownership of block. id/version let the committer answer InternalError if the commit fails. */
void server_reply_after_commit(struct server *srv, struct conn *c, char *block, size_t len,
                               const char *id, bool is_result);
/* Commits the open batch and makes it and every earlier one durable before returning, fsyncing
 * on this thread if need be: for admin methods that answer at once, shutdown and tests. */
void server_commit(struct server *srv);
/* Commits the open batch; its replies go out when a background fsync has covered it. Safe
 * anywhere, lws callbacks included. */
void server_commit_async(struct server *srv);
/* server_commit_async for the check handle at the end of each loop iteration: outside any lws
 * callback, so released replies may be written to their sockets at once. */
void server_commit_iteration(struct server *srv);
/* Once a second: a checkpoint if the WAL grew since the last one (server.c's tick). */
void server_commit_idle(struct server *srv);
/* Whether replies are still waiting for a commit or an fsync, or a disk job runs. */
bool server_commit_pending(const struct server *srv);
/* Whether a disk job (fsync or checkpoint) runs. */
bool server_disk_busy(const struct server *srv);

#endif
