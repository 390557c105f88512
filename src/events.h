/*
 * events.h — the durable event log that operators and backend apps follow.
 *
 * event_emit() appends to the events table inside the current store batch, so an event is
 * stored in the same transaction as the state change it reports. It is also kept in memory
 * until that transaction ends: server_commit() then publishes it to live admin subscribers
 * (event_publish_committed) or, if the commit failed, drops it (event_discard_pending), so a
 * subscriber never sees an event that is not on disk.
 */
#ifndef OD_EVENTS_H
#define OD_EVENTS_H

#include <jansson.h>
#include <stdint.h>

struct server;

/* An event stored in the open batch, waiting for its commit. Owned by srv's pending list. */
struct event_pending {
    struct event_pending *next;
    int64_t seq;
    int64_t time_ms;
    char type[48];
    char charger_id[49];
    char *data_json; /* owned */
};

/* Records an event of type about charger_id (may be NULL) with data (borrowed, may be NULL).
 * Returns its seq, or 0 if it could not be stored (logged). */
int64_t event_emit(struct server *srv, const char *type, const char *charger_id,
                   const json_t *data);

/* The batch committed: hands every pending event, in seq order, to the admin subscribers. */
void event_publish_committed(struct server *srv);
/* The batch was rolled back: its events never happened. */
void event_discard_pending(struct server *srv);

#endif
