/* model_int.h — internals shared by charger.c and tx.c (not for other modules). */
#ifndef OD_MODEL_INT_H
#define OD_MODEL_INT_H

#include "model.h"
#include "store.h"

#include <stddef.h>

/* Copies src (NULL = "") into a fixed-size record field, truncating. */
void model__copy(char *dst, size_t len, const char *src);

/* A connector row the charger has not reported before: Operative, no status, no transaction. */
void model__connector_init(struct store_connector *c, const char *charger_id, int evse_id,
                           int connector_id);

/* Closes the charger's active transactions on (evse, connector) — every connector when
 * evse_id < 0 — as stuck ("zombie") sessions, recording why. */
int tx__close_zombies(const struct model_ctx *m, int evse_id, int connector_id, const char *why);

#endif
