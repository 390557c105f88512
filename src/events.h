/*
 * events.h — the durable event log that operators and backend apps follow.
 *
 * event_emit() appends to the events table inside the current store batch, so an event is
 * stored in the same transaction as the state change it reports; it is published to live
 * subscribers only after that transaction commits (event_publish_committed()).
 */
#ifndef OD_EVENTS_H
#define OD_EVENTS_H

#include <jansson.h>
#include <stdint.h>

struct server;

/* Records an event of type about charger_id (may be NULL) with data (borrowed, may be NULL).
 * Returns its seq, or 0 if it could not be stored (logged). */
int64_t event_emit(struct server *srv, const char *type, const char *charger_id,
                   const json_t *data);

#endif
