/* events.c — appends events to the store inside the open batch (events.h). */
#include "events.h"

#include "log.h"
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
    int rc = store_event_append(srv->store, od_now_ms(), type, charger_id ? charger_id : "",
                                text ? text : "{}", &seq);
    free(text);
    if (rc) {
        CLOG_ERROR(charger_id, "event not stored type=%s err=%s", type, od_strerror(rc));
        return 0;
    }
    return seq;
}
