/*
 * webhooks.h — POSTs every committed event to the operator's HTTP endpoints (webhooks.add).
 *
 * Each hook delivers strictly in seq order with one request in flight: it reads its next event
 * from the events table (never from a memory buffer, so memory stays bounded however far it is
 * behind), POSTs it over plain HTTP/1.1 on a libuv TCP connection, and on a connect error, a
 * non-2xx answer or a timeout retries the same event after an exponential backoff (1 s doubling
 * up to 5 min). Its position (the last seq delivered or skipped by its type filter) is stored
 * per hook, so after a restart delivery resumes where it stopped: at least once, in order, no
 * gap (an event delivered just before a crash, whose position was not yet committed, is sent
 * again).
 *
 * Each request carries X-Ocppd-Event-Seq and X-Ocppd-Signature: sha256=<hex HMAC-SHA256 of the
 * body keyed with the hook's secret>.
 */
#ifndef OD_WEBHOOKS_H
#define OD_WEBHOOKS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct server;

#define WEBHOOK_BACKOFF_MIN_MS 1000
#define WEBHOOK_BACKOFF_MAX_MS 300000
#define WEBHOOK_TIMEOUT_MS 10000
#define WEBHOOK_MAX_TYPES 32

/* Loads the stored hooks and starts delivering (server_start). 0 or an OD_E* code. */
int webhooks_start(struct server *srv);
/* New events were committed up to srv->events_committed_seq: idle hooks go on. */
void webhooks_kick(struct server *srv);
/* Server shutdown: idle hooks close their handles now; a hook with an attempt in flight closes
 * when that attempt ends (webhooks_drained), or at webhooks_abort. Hooks are freed once their
 * handles are closed. */
void webhooks_shutdown(struct server *srv);
bool webhooks_drained(const struct server *srv);
void webhooks_abort(struct server *srv);

/* Admin methods. Each returns 0 or an OD_E* code with err filled for the caller. */
int webhooks_add(struct server *srv, const char *url, const json_t *types, const char *secret,
                 int64_t *out_id, char *err, size_t errlen);
int webhooks_delete(struct server *srv, int64_t id);
/* New reference: [{id, url, types, deliveredSeq, failures, lastError}] (no secrets), or NULL. */
json_t *webhooks_list(struct server *srv);

/* ---- exposed for the unit test ---- */

struct webhook_url {
    char host[256]; /* without the brackets of an IPv6 literal */
    char port[6];   /* "80" unless given */
    char path[512]; /* "/" unless given; includes any query */
};

/* Parses http://host[:port][/path]; 0, or OD_EINVAL with err filled. */
int webhook_url_parse(const char *url, struct webhook_url *out, char *err, size_t errlen);
/* Writes "sha256=" and the lowercase hex HMAC-SHA256 of body keyed with secret into out, which
 * needs at least 72 bytes. Returns out, or NULL on failure. */
char *webhook_sign(const char *secret, const char *body, size_t len, char *out, size_t outlen);

#endif
