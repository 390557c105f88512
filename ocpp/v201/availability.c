/*
 * availability.c — OCPP 2.0.1 functional block G (availability) as sent by charging stations:
 * Heartbeat and StatusNotification per EVSE and connector.
 */
#include "v201.h"

#include <string.h>

V201_HANDLER(v201_handle_heartbeat)
{
    (void)req;
    int rc = model_charger_seen(&ctx->m);
    if (rc) return ocpp_internal_error(ctx, rc, err);
    *resp = json_pack("{s:o}", "currentTime", ocpp_json_now(ctx->m.now_ms));
    return 0;
}

/* The unified status set is 1.6's (what operators and the admin API already know). 2.0.1's
 * Occupied says only that something is plugged in: with a transaction open on the connector it
 * is shown as Charging, otherwise as Preparing, until a TransactionEvent's chargingState says
 * more (transactions.c). The raw status is always kept beside it. */
static const char *v201_unified_status(struct ocpp_ctx *ctx, const char *raw, int evse_id,
                                       int connector_id)
{
    if (strcmp(raw, "Occupied") != 0) return raw; /* Available Reserved Unavailable Faulted */
    return model_connector_has_tx(&ctx->m, evse_id, connector_id) ? "Charging" : "Preparing";
}

V201_HANDLER(v201_handle_status_notification)
{
    int evse_id = (int)json_integer_value(json_object_get(req, "evseId"));
    int connector_id = (int)json_integer_value(json_object_get(req, "connectorId"));
    const char *raw = ocpp_json_str(req, "connectorStatus");
    struct model_status s = {
        .evse_id = evse_id,
        .connector_id = connector_id,
        .status = v201_unified_status(ctx, raw, evse_id, connector_id),
        .raw_status = raw,
        .timestamp_ms = ocpp_json_time(req, "timestamp", 0, NULL),
    };
    int rc = model_connector_status(&ctx->m, &s);
    if (rc) return ocpp_internal_error(ctx, rc, err);
    *resp = json_object();
    return 0;
}
