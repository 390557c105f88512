/*
 * ws.h — the WebSocket transport: libwebsockets running on ocppd's libuv loop.
 *
 * The only module that includes <libwebsockets.h>. It terminates the charge-point listener
 * (upgrade checks: path /ocpp/<id>, subprotocol; then frames in and out) and hands everything
 * else to conn.c through conn_* calls. Handles are opaque here (void *wsi).
 */
#ifndef OD_WS_H
#define OD_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct server;

/* Bytes every outgoing frame buffer reserves in front of its text for the WebSocket header
 * (libwebsockets' LWS_PRE; ws.c asserts they agree). */
#define WS_HEADROOM 16

/* Creates the lws context on srv->loop and the listeners. Returns 0 or a negative OD_E* code
 * with one line in errbuf (e.g. the port is busy). */
int ws_start(struct server *srv, char *errbuf, size_t errlen);
/* Starts tearing the context down; srv->loop must keep running until ws_done() is true. */
void ws_stop(struct server *srv);
/* True once lws has released everything it had on the loop. */
int ws_done(struct server *srv);
/* Frees what ws_start allocated; only after ws_done(). */
void ws_free(struct server *srv);
/* The port actually bound by the charge-point / admin listener (useful with port 0). */
int ws_listen_port(struct server *srv);
int ws_admin_port(struct server *srv);

/* Hard-closes the socket after secs unless it closed cleanly before (a peer that does not
 * read would otherwise never see our close frame). */
void ws_close_deadline(void *wsi, int secs);

/* Writes the transport's /metrics lines (Prometheus text, with HELP/TYPE): handshakes refused
 * by each per-address limit, how charger passwords were checked, and the sizes of the
 * per-address table and the credential cache. For admin.c's /metrics handler. */
void ws_metrics_write(struct server *srv, FILE *f);

/* Asks for a WRITEABLE callback on this connection (safe to call repeatedly). */
void ws_request_write(void *wsi);
/* Writes one text frame (block with WS_HEADROOM, still the caller's) at once if the socket
 * takes it; false when it would block (queue it for WRITEABLE instead). Only from outside lws
 * callbacks, and only when nothing else is queued on the connection. A socket error kills the
 * connection asynchronously and counts as written. */
bool ws_write_now(void *wsi, const char *block, size_t len);

#endif
