/*
 * events.h — the durable event log that operators and backend apps follow.
 *
 * event_emit() appends to the events table inside the current store batch, so an event is
 * stored in the same transaction as the state change it reports. It is also kept in memory
 * until that transaction is durable: the group commit (commit.c) takes the batch's events
 * (event_take_pending) and publishes them to live admin subscribers (event_publish) once the
 * batch is on disk, or drops them (event_discard) if the commit failed, so a subscriber never
 * sees an event that is not on disk.
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

/* Takes the open batch's events (in seq order) off srv; the caller publishes or discards them. */
struct event_pending *event_take_pending(struct server *srv);
/* The batch is durable: hands each event, in order, to the admin subscribers; frees the list. */
void event_publish(struct server *srv, struct event_pending *list);
/* The batch was rolled back: its events never happened. Frees the list. */
void event_discard(struct event_pending *list);
/* event_discard of the open batch's events (at teardown). */
void event_discard_pending(struct server *srv);

#endif
