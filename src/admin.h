/*
 * admin.h — the admin listener's HTTP endpoints (the JSON-RPC WebSocket comes with its issue).
 *
 * ws.c owns the socket and calls admin_http_get() for each GET on the admin port; this module
 * builds the response body from the server's state.
 */
#ifndef OD_ADMIN_H
#define OD_ADMIN_H

#include <stddef.h>

struct server;

struct admin_response {
    int status;               /* HTTP status */
    const char *content_type; /* static string */
    char *body;               /* heap, owned by the caller after the call */
    size_t len;
};

/* Answers GET path (query string included). Never fails: unknown paths get 404. */
void admin_http_get(struct server *srv, const char *path, struct admin_response *out);

#endif
