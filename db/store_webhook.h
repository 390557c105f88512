/*
 * store_webhook.h — webhooks in the store (migration 0005_webhooks.sql): the hook record and
 * its delivery position (the last event seq delivered, or skipped by its type filter).
 *
 * Kept apart from store.h like store_station.h: these calls prepare their statements per call.
 * Loop thread only, like the rest of the store.
 */
#ifndef OD_STORE_WEBHOOK_H
#define OD_STORE_WEBHOOK_H

#include "store.h"

#include <stdint.h>

#define STORE_WEBHOOK_URL_LEN 512    /* up to 511 bytes */
#define STORE_WEBHOOK_TYPES_LEN 2048 /* JSON array text */
#define STORE_WEBHOOK_SECRET_LEN 257 /* up to 256 bytes */

struct store_webhook {
    int64_t id; /* set by store_webhook_add */
    char url[STORE_WEBHOOK_URL_LEN];
    char types[STORE_WEBHOOK_TYPES_LEN]; /* "[]" = every type */
    char secret[STORE_WEBHOOK_SECRET_LEN];
    int64_t delivered_seq;
    int64_t created_ms;
};

/* Inserts w (id ignored) and sets w->id. */
int store_webhook_add(struct store *st, struct store_webhook *w);
/* OD_ENOTFOUND if there is no hook id. */
int store_webhook_delete(struct store *st, int64_t id);
/* Records that hook id has delivered (or skipped) every event up to seq. */
int store_webhook_set_delivered(struct store *st, int64_t id, int64_t seq);
/* Every hook in id order; fn must not call the store; a non-zero answer from fn stops and is
 * returned. */
int store_webhook_foreach(struct store *st, int (*fn)(const struct store_webhook *w, void *ctx),
                          void *ctx);

#endif
