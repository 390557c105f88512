/*
 * transactions.c — OCPP 2.0.1 functional block E (transactions): TransactionEvent Started,
 * Updated and Ended, mapped onto the model's start/stop/meter values, with the charger's string
 * transactionId, its seqNo ledger (gaps and duplicates) and the reasons kept per event.
 *
 * Offline events (offline=true, sent after a reconnect) are accepted in whatever order they
 * come: an Ended before its Started is stored as an unknown stop that the Started completes
 * later, an Updated for an unseen transaction creates it.
 */
#include "v201.h"

#include "od.h"

#include <stdlib.h>
#include <string.h>

/* The unified (1.6) status a transaction message implies for a connector the station reported
 * as Occupied, or NULL if it implies nothing. */
static const char *v201_status_from_event(const char *event_type, const char *charging_state)
{
    if (strcmp(event_type, "Ended") == 0) return "Finishing"; /* still plugged in */
    if (!charging_state) return NULL;
    if (strcmp(charging_state, "Charging") == 0) return "Charging";
    if (strcmp(charging_state, "SuspendedEV") == 0) return "SuspendedEV";
    if (strcmp(charging_state, "SuspendedEVSE") == 0) return "SuspendedEVSE";
    return "Preparing"; /* EVConnected, Idle: plugged in, no energy flowing yet */
}

V201_HANDLER(v201_handle_transaction_event)
{
    const char *event_type = ocpp_json_str(req, "eventType");
    const json_t *info = json_object_get(req, "transactionInfo");
    const char *ext_id = ocpp_json_str(info, "transactionId");
    const json_t *tok = json_object_get(req, "idToken");
    const char *id_tag = ocpp_json_str(tok, "idToken");
    const char *tok_type = ocpp_json_str(tok, "type");
    const json_t *evse = json_object_get(req, "evse");
    /* An EVSE with one connector may leave connectorId out: that connector is number 1. */
    int evse_id = evse ? (int)json_integer_value(json_object_get(evse, "id")) : 0;
    int connector_id = 0;
    if (evse) {
        json_t *cj = json_object_get(evse, "connectorId");
        connector_id = cj ? (int)json_integer_value(cj) : 1;
    }
    bool zone = true;
    int64_t ts = ocpp_json_time(req, "timestamp", ctx->m.now_ms, &zone);
    json_t *rid = json_object_get(req, "reservationId");

    struct model_meter_value *mv = NULL;
    int nmv = 0;
    void *storage = NULL;
    json_t *mvj = json_object_get(req, "meterValue");
    if (mvj && v201_meter_values(mvj, ctx->m.now_ms, &mv, &nmv, &storage) != 0) {
        ocpp_error_set(err, OCPP_ERR_OCCURRENCE_CONSTRAINT, "/meterValue",
                       "too many sampled values in one message");
        return OD_ELIMIT;
    }

    int rc = 0;
    int64_t tx_id = 0;
    struct model_auth auth;
    bool have_auth = false, ended_repeat = false;
    if (strcmp(event_type, "Ended") == 0) {
        double wh = 0;
        bool has_stop = model_meter_energy_register(mv, nmv, "Transaction.End", &wh) ||
                        model_meter_energy_register(mv, nmv, NULL, &wh);
        const char *reason = ocpp_json_str(info, "stoppedReason");
        struct model_tx_stop s = {
            .ext_id = ext_id,
            .id_tag = id_tag,
            .has_meter_stop = has_stop,
            .meter_stop_wh = wh,
            .stop_ms = ts,
            .stop_had_zone = zone,
            .reason = reason ? reason : "Local", /* the schema's stated default */
        };
        rc = model_tx_stop(&ctx->m, &s, &tx_id, &ended_repeat);
    } else {
        rc = model_tx_find_ext(&ctx->m, ext_id, &tx_id);
        bool started = strcmp(event_type, "Started") == 0;
        if (rc == OD_ENOTFOUND || (rc == 0 && started)) {
            double wh = 0;
            bool has_start = model_meter_energy_register(mv, nmv, "Transaction.Begin", &wh) ||
                             (started && model_meter_energy_register(mv, nmv, NULL, &wh));
            struct model_tx_start s = {
                .evse_id = evse_id,
                .connector_id = connector_id,
                .id_tag = id_tag,
                .has_meter_start = has_start,
                .meter_start_wh = wh,
                .start_ms = ts,
                .start_had_zone = zone,
                .has_reservation = rid != NULL,
                .reservation_id = (int)json_integer_value(rid),
                .ext_id = ext_id,
                .id_token_type = tok_type,
                .first_seen_in = started ? NULL : event_type,
            };
            rc = model_tx_start(&ctx->m, &s, &tx_id, &auth);
            have_auth = rc == 0 && id_tag;
        } else if (rc == 0) {
            rc = model_tx_update(&ctx->m, tx_id, id_tag, evse_id, connector_id);
        }
    }
    bool duplicate = false;
    if (rc == 0) {
        struct model_tx_event ev = {
            .tx_id = tx_id,
            .seq_no = (int64_t)json_integer_value(json_object_get(req, "seqNo")),
            .event_type = event_type,
            .trigger_reason = ocpp_json_str(req, "triggerReason"),
            .charging_state = ocpp_json_str(info, "chargingState"),
            .stopped_reason = ocpp_json_str(info, "stoppedReason"),
            .id_token_type = tok_type,
            .offline = json_is_true(json_object_get(req, "offline")),
            .has_remote_start = json_object_get(info, "remoteStartId") != NULL,
            .remote_start_id = (int64_t)json_integer_value(json_object_get(info,
                                                                           "remoteStartId")),
            .timestamp_ms = ts,
        };
        rc = model_tx_event(&ctx->m, &ev, &duplicate);
    }
    /* A repeated message's readings are stored already. */
    if (rc == 0 && nmv > 0 && !duplicate && !ended_repeat)
        rc = model_meter_values(&ctx->m, -1, -1, tx_id, mv, nmv);
    const char *refined = v201_status_from_event(event_type, ocpp_json_str(info, "chargingState"));
    if (rc == 0 && refined && !duplicate && !ended_repeat)
        rc = model_connector_refine(&ctx->m, tx_id, "Occupied", refined);
    if (rc == 0 && id_tag && !have_auth)
        rc = model_authorize_typed(&ctx->m, id_tag, tok_type, &auth);
    free(storage);
    if (rc) return ocpp_internal_error(ctx, rc, err);
    *resp = json_object();
    /* idTokenInfo answers a token: sent exactly when the event carried one. */
    if (id_tag) json_object_set_new(*resp, "idTokenInfo", v201_id_token_info(&auth));
    return 0;
}
