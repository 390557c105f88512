/* events.c — appends events to the store inside the open batch, and publishes them once that
 * batch is durable (events.h). */
#include "events.h"

#include "admin.h"
#include "log.h"
#include "mem.h"
#include "od.h"
#include "server.h"
#include "store.h"
#include "timeutil.h"

#include <stdlib.h>

int64_t event_emit(struct server *srv, const char *type, const char *charger_id,
                   const json_t *data)
{
    if (server_batch(srv) != 0) return 0;
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    int64_t seq = 0;
    int64_t now = od_now_ms();
    int rc = store_event_append(srv->store, now, type, charger_id ? charger_id : "",
                                text ? text : "{}", &seq);
    if (rc) {
        free(text);
        CLOG_ERROR(charger_id, "event not stored type=%s err=%s", type, od_strerror(rc));
        return 0;
    }
    if (seq > srv->events_emitted_seq) srv->events_emitted_seq = seq;
    /* Kept only while someone could receive it: without subscribers there is nothing to do
     * at commit time. */
    if (srv->nsubscribers == 0) {
        free(text);
        return seq;
    }
    struct event_pending *ev = xcalloc(1, sizeof *ev);
    ev->seq = seq;
    ev->time_ms = now;
    snprintf(ev->type, sizeof ev->type, "%s", type);
    snprintf(ev->charger_id, sizeof ev->charger_id, "%s", charger_id ? charger_id : "");
    ev->data_json = text ? text : xstrdup("{}");
    *srv->events_tail = ev;
    srv->events_tail = &ev->next;
    return seq;
}

struct event_pending *event_take_pending(struct server *srv)
{
    struct event_pending *head = srv->events_head;
    srv->events_head = NULL;
    srv->events_tail = &srv->events_head;
    return head;
}

void event_publish(struct server *srv, struct event_pending *ev)
{
    while (ev) {
        struct event_pending *next = ev->next;
        if (ev->seq > srv->events_committed_seq) srv->events_committed_seq = ev->seq;
        admin_publish_event(srv, ev->seq, ev->time_ms, ev->type, ev->charger_id, ev->data_json);
        free(ev->data_json);
        free(ev);
        ev = next;
    }
}

void event_discard(struct event_pending *ev)
{
    while (ev) {
        struct event_pending *next = ev->next;
        free(ev->data_json);
        free(ev);
        ev = next;
    }
}

void event_discard_pending(struct server *srv)
{
    event_discard(event_take_pending(srv));
}
