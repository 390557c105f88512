/*
 * fixture.h — a server with an in-memory store and one socket-less connection, for unit tests
 * of the modules above the transport (conn, call, dispatch). Replies are read from the
 * connection's outbound queue instead of a socket.
 */
#ifndef OD_TEST_FIXTURE_H
#define OD_TEST_FIXTURE_H

#include "conn.h"
#include "server.h"
#include "store.h"

#include <jansson.h>
#include <uv.h>

struct fixture {
    uv_loop_t loop;
    struct config cfg;
    struct store *st;
    struct server srv;
    struct conn *c;
};

struct fixture *fixture_new(bool auto_register, bool accept_unknown);
/* The same on a database file at path, with sync as --db-sync would set it. */
struct fixture *fixture_new_at(const char *path, enum store_sync sync, bool auto_register,
                               bool accept_unknown);
/* Closes the connection (if still open), every handle, and asserts the loop closes clean. */
void fixture_free(struct fixture *f);
/* Next queued frame parsed as JSON (new reference), or NULL if the queue is empty. */
json_t *fixture_next_frame(struct fixture *f);

#endif
