/*
 * conn.h — one charge-point WebSocket connection: its identity, inbound message assembly,
 * outbound queue, CSMS-initiated call queue and liveness.
 *
 * Lifetime: ws.c creates a conn when the upgrade completes (conn_open) and reports the socket's
 * end (conn_on_closed). conn_close() only marks the connection and asks lws to close it; it is
 * safe anywhere and idempotent. The struct is freed when the socket is gone and no reference
 * (held reply waiting for a commit, pending call) remains: conn_ref()/conn_unref().
 */
#ifndef OD_CONN_H
#define OD_CONN_H

#include "log.h"
#include "rpc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct server;
struct call;

/* One outgoing text frame; block holds WS_HEADROOM bytes then the text. Owned by the queue. */
struct conn_frame {
    struct conn_frame *next;
    char *block;
    size_t len;
};

enum conn_state { CONN_OPEN, CONN_CLOSING, CONN_GONE };

struct conn {
    struct server *srv; /* borrowed */
    void *wsi;          /* lws handle; NULL once the socket is gone */
    char id[49];        /* charge point id, percent-decoded */
    char peer[64];      /* remote address, for logs */
    enum ocpp_version version;
    enum conn_state state;
    int refs;
    bool registered;    /* holds the id's slot in the connection table */
    int registration;   /* enum model_registration, from the store, updated at boot */
    bool provisioned;   /* pre-registered by an operator */

    /* inbound message being reassembled from WebSocket fragments (owned) */
    char *rx;
    size_t rx_len, rx_cap;
    bool rx_binary;
    bool rx_oversize;

    /* outbound frames (owned), in send order */
    struct conn_frame *outq_head, **outq_tail;
    size_t outq_bytes;
    bool ping_pending;

    /* close request, applied on the next WRITEABLE */
    int close_code;
    char close_reason[64];

    /* CSMS-initiated calls: at most one in flight, the rest queued (owned) */
    size_t replies_waiting;          /* replies held by the group commit (commit.c) */
    struct call *call_inflight;
    struct call *callq_head, **callq_tail;
    size_t callq_len;

    /* liveness */
    int64_t connected_ms;
    int64_t last_rx_ms;
    int64_t last_ping_ms;

    /* abuse accounting */
    int bad_frames;
    struct log_ratelimit warn_rl;
    struct log_ratelimit callerror_event_rl; /* ocpp.callerror events for CALLERRORs we send */

    /* server-wide lists */
    struct conn *hnext;               /* hash chain of the id table */
    struct conn *all_prev, *all_next; /* every live conn */
};

/* Upgrade completed: creates the conn, takes over an older connection with the same id,
 * records the charger as connected. Returns the new conn (owned by the server). */
struct conn *conn_open(struct server *srv, void *wsi, const char *id, enum ocpp_version v,
                       const char *peer);
/* A (possibly partial) WebSocket message arrived. */
void conn_on_receive(struct conn *c, const void *data, size_t len, bool first, bool final,
                     bool binary);
/* Pops the next frame to write (caller frees it with conn_frame_free), or NULL. */
struct conn_frame *conn_next_frame(struct conn *c);
void conn_frame_free(struct conn_frame *f);
/* Whether a ping should be written now (clears the flag). */
bool conn_take_ping(struct conn *c);
/* Close requested? Fills code/reason for the close frame. */
bool conn_close_requested(const struct conn *c, int *code, const char **reason);
/* The socket is gone: fail pending calls, unregister, drop the lws reference. */
void conn_on_closed(struct conn *c);
/* A pong or any frame proves the peer alive. */
void conn_note_alive(struct conn *c);

/* Queues text (copied) for sending. Returns 0, or OD_ELIMIT if the peer is not reading and the
 * queue cap is reached (the connection is then closed). */
int conn_send_text(struct conn *c, const char *text, size_t len);
/* Queues an already-built frame block (ownership passes to the queue). */
int conn_send_block(struct conn *c, char *block, size_t len);
/* conn_send_block for a reply released by the group commit (outside lws callbacks): written at
 * once when nothing is queued ahead of it and the socket takes it. */
int conn_send_block_now(struct conn *c, char *block, size_t len);
/* Requests a clean close with a WebSocket close code and reason. Idempotent. */
void conn_close(struct conn *c, int code, const char *reason);

void conn_ref(struct conn *c);
void conn_unref(struct conn *c);

/* The live connection of charger id, or NULL. */
struct conn *conn_find(struct server *srv, const char *id);
/* Called once a second: pings and idle timeouts. */
void conn_tick(struct server *srv, int64_t now_ms);

#define CONN_OUTQ_MAX_BYTES (1024 * 1024)
/* All connections' queues together. Past it, a connection holding more than
 * CONN_OUTQ_FAIR_BYTES is closed as a non-reader when it queues more, so many connections that
 * each stay just under CONN_OUTQ_MAX_BYTES cannot add up to gigabytes; one with less (a reader
 * whose socket buffer is momentarily full) is still served. Worst case: the budget plus
 * CONN_OUTQ_FAIR_BYTES per connection. */
#define CONN_OUTQ_TOTAL_MAX_BYTES (64 * 1024 * 1024)
#define CONN_OUTQ_FAIR_BYTES (64 * 1024)
/* Bytes queued on all connections of the process now. */
size_t conn_outq_total(void);
#define CONN_MAX_BAD_FRAMES 20

#endif
