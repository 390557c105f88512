/* tx_int.h — transaction internals shared by charger.c and tx.c (not for other modules). */
#ifndef OD_TX_INT_H
#define OD_TX_INT_H

#include "model.h"

/* Closes the charger's active transactions on (evse, connector) — every connector when
 * evse_id < 0 — as stuck ("zombie") sessions, recording why. */
int tx__close_zombies(const struct model_ctx *m, int evse_id, int connector_id, const char *why);

#endif
