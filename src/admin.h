/*
 * admin.h — the operator surface on the admin listener: GET /healthz, the JSON-RPC 2.0
 * WebSocket on /admin, and the credentials checks that guard it and the charge-point handshake.
 *
 * ws.c owns the sockets. For HTTP it calls admin_http_get(); for the /admin WebSocket it checks
 * the bearer token (admin_token_ok) before the upgrade, then drives one struct admin_session per
 * socket: admin_session_open / _on_receive / _next_frame / _on_closed. An admin session is not a
 * charge-point connection (struct conn): it has no OCPP state, only a bounded outbound queue and
 * the JSON-RPC requests still being answered. Method handlers live in admin_methods.c.
 */
#ifndef OD_ADMIN_H
#define OD_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct server;
struct admin_sub;

struct admin_response {
    int status;               /* HTTP status */
    const char *content_type; /* static string */
    char *body;               /* heap, owned by the caller after the call */
    size_t len;
};

/* Answers GET path (query string included). Never fails: unknown paths get 404. */
void admin_http_get(struct server *srv, const char *path, struct admin_response *out);

/* ---- credentials -------------------------------------------------------------------------- */

/* True if token equals the configured admin token (constant time in the token's length). */
bool admin_token_ok(const struct server *srv, const char *token);

/* PBKDF2-HMAC-SHA256 iterations for new charger password hashes. Verification runs on the loop
 * thread once per handshake of a charger that has a password; see README (admin) for its cost. */
#define ADMIN_PBKDF2_ITERATIONS 20000
/* Longest encoded hash ("pbkdf2-sha256$ITER$SALTHEX$HASHHEX"), NUL included. */
#define ADMIN_PASSWORD_HASH_LEN 160

/* Encodes a fresh salted hash of password into out (ADMIN_PASSWORD_HASH_LEN bytes). 0 or OD_E*. */
int admin_password_hash(const char *password, char *out, size_t outlen);
/* True if password matches encoded (constant-time compare of the derived keys). */
bool admin_password_verify(const char *password, const char *encoded);

/*
 * Security profile 1 at the charge-point handshake: if charger id has a stored password, the
 * Authorization header (authz, NULL if absent) must be HTTP Basic with user == id and that
 * password. Returns 0 when the charger may connect, OD_EINVAL when it must get 401 (counted in
 * srv->stats.auth_failures), OD_EDB if the store could not be read.
 */
int admin_charger_auth(struct server *srv, const char *id, const char *authz);
/* The same check against a stored hash the caller has already read (never ""): 0 or OD_EINVAL. */
int admin_charger_auth_hash(struct server *srv, const char *id, const char *password_hash,
                            const char *authz);

/* ---- admin WebSocket sessions ------------------------------------------------------------- */

#define ADMIN_MAX_MESSAGE (1024 * 1024)     /* inbound message cap, checked before buffering */
#define ADMIN_OUTQ_MAX_BYTES (4 * 1024 * 1024) /* a reader this far behind is dropped */
#define ADMIN_MAX_BATCH 100

struct admin_frame {
    struct admin_frame *next;
    char *block; /* WS_HEADROOM bytes, then the text (owned) */
    size_t len;
    uint64_t gen; /* goes out once srv->durable_gen reaches this (commit.c) */
};

struct admin_session {
    struct server *srv;  /* borrowed */
    void *wsi;           /* lws handle; NULL once the socket is gone (and in unit tests) */
    int refs;            /* the socket's, plus one per batch still being answered */
    bool closing;        /* close requested: nothing more is queued */
    bool gone;           /* socket gone */
    int close_code;
    char close_reason[64];
    char peer[64];

    char *rx;            /* message being reassembled from fragments (owned) */
    size_t rx_len;
    bool rx_skip;        /* the current message is oversize or binary: drop until final */

    struct admin_frame *outq_head, **outq_tail; /* owned, in send order */
    size_t outq_bytes;

    struct admin_sub *sub; /* events.subscribe filter and position (owned), or NULL */
    struct admin_session *prev, *next; /* srv->admin_all */
};

/* Upgrade done: a new session (owned by the server until admin_session_on_closed). wsi may be
 * NULL in unit tests; frames then stay queued for admin_session_next_frame(). */
struct admin_session *admin_session_open(struct server *srv, void *wsi, const char *peer);
/* A (possibly partial) WebSocket message arrived; complete messages are answered. */
void admin_session_on_receive(struct admin_session *s, const void *data, size_t len, bool first,
                              bool final, bool binary);
/* Pops the next frame to write (caller frees it with admin_frame_free), or NULL. */
struct admin_frame *admin_session_next_frame(struct admin_session *s);
void admin_frame_free(struct admin_frame *f);
/* Close requested? Fills code/reason for the close frame. */
bool admin_session_close_requested(const struct admin_session *s, int *code,
                                   const char **reason);
/* Marks the session closing and asks for a close frame. Idempotent, safe anywhere. */
void admin_session_close(struct admin_session *s, int code, const char *reason);
/* The socket is gone: drops the socket's reference; answers still pending are discarded. */
void admin_session_on_closed(struct admin_session *s);
/* A frame of s was written to the socket (ws.c): a paced replay may continue. */
void admin_session_on_written(struct admin_session *s);
/* Queues text (copied). OD_ELIMIT if the queue cap is reached: the session is then closed.
 * The frame waits until what the server has committed or is about to commit is durable, so an
 * operator never reads state that a charger has not been (or could not be) acknowledged for. */
int admin_session_send(struct admin_session *s, const char *text, size_t len);
/* admin_session_send for text that only reports durable state (published events): no wait
 * beyond the frames queued before it. */
int admin_session_send_durable(struct admin_session *s, const char *text, size_t len);
/* srv->durable_gen advanced: sessions whose next frame may go out now ask to write. */
void admin_on_durable(struct server *srv);
/* The WAL fsync covering commits up to gen failed: sessions holding answers that waited for
 * it are closed (1011) instead of being told their change was stored. */
void admin_on_sync_failed(struct server *srv, uint64_t gen);
void admin_session_ref(struct admin_session *s);
void admin_session_unref(struct admin_session *s);
/* Server shutdown: closes every admin session with 1001. */
void admin_shutdown(struct server *srv);

/* Answers one complete JSON-RPC text message (a request, a notification or a batch). */
void admin_rpc_handle(struct admin_session *s, const char *text, size_t len);

/* A committed event (events.c, after the commit): sent to every subscriber whose filter takes it.
 * data_json is the stored JSON text. */
void admin_publish_event(struct server *srv, int64_t seq, int64_t time_ms, const char *type,
                         const char *charger_id, const char *data_json);

/* A transaction was started (called by tx.c after storing it): wakes the 1.6 charging.start
 * waiter for that charger, idTag and connector. id_tag may be NULL: it then matches no waiter.
 * A 2.0.1 waiter is matched by its remoteStartId instead, from the committed
 * transaction.remoteStarted event (admin_publish_event). */
void admin_on_tx_started(struct server *srv, const char *charger_id, int evse_id,
                         const char *id_tag, int64_t tx_id);

#endif
