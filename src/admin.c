/*
 * admin.c — GET /healthz on the admin listener: is the process serving, and can it store?
 * Health is deliberately unauthenticated (load balancers probe it) and reveals nothing but
 * counts.
 */
#include "admin.h"

#include "mem.h"
#include "server.h"
#include "store.h"
#include "timeutil.h"

#include <jansson.h>
#include <string.h>

static void admin_json(struct admin_response *out, int status, json_t *body)
{
    out->status = status;
    out->content_type = "application/json";
    out->body = json_dumps(body, JSON_COMPACT);
    out->len = out->body ? strlen(out->body) : 0;
    json_decref(body);
}

void admin_http_get(struct server *srv, const char *path, struct admin_response *out)
{
    size_t plen = strcspn(path, "?");
    if (plen == strlen("/healthz") && strncmp(path, "/healthz", plen) == 0) {
        bool db_ok = store_ping(srv->store);
        json_t *body = json_pack("{s:s, s:s, s:I, s:I, s:b}", "status", db_ok ? "ok" : "degraded",
                                 "version", OD_VERSION, "uptimeSeconds",
                                 (json_int_t)((od_now_ms() - srv->started_ms) / 1000),
                                 "chargersConnected", (json_int_t)srv->nconns, "dbOk", db_ok);
        admin_json(out, db_ok ? 200 : 503, body);
        return;
    }
    admin_json(out, 404, json_pack("{s:s}", "error", "not found"));
}
