/*
 * core.c — OCPP 1.6 Core profile messages sent by charge points: translation between the 1.6
 * payloads (already schema-valid) and the version-neutral model.
 */
#include "v16.h"

#include "config.h"
#include "mem.h"
#include "od.h"
#include "server.h"
#include "timeutil.h"

#include <stdlib.h>
#include <string.h>


json_t *v16_id_tag_info(const struct model_auth *auth)
{
    json_t *info = json_pack("{s:s}", "status", auth->status);
    if (auth->expiry_ms) {
        char buf[OD_TIME_BUFSZ];
        json_object_set_new(info, "expiryDate",
                            json_string(od_time_format(auth->expiry_ms, buf, sizeof buf)));
    }
    if (auth->parent_id_tag[0])
        json_object_set_new(info, "parentIdTag", json_string(auth->parent_id_tag));
    return info;
}

V16_HANDLER(v16_handle_boot_notification)
{
    struct model_boot b = {
        .vendor = ocpp_json_str(req, "chargePointVendor"),
        .model = ocpp_json_str(req, "chargePointModel"),
        .serial = ocpp_json_str(req, "chargePointSerialNumber"),
        .charge_box_serial = ocpp_json_str(req, "chargeBoxSerialNumber"),
        .firmware = ocpp_json_str(req, "firmwareVersion"),
        .iccid = ocpp_json_str(req, "iccid"),
        .imsi = ocpp_json_str(req, "imsi"),
        .meter_type = ocpp_json_str(req, "meterType"),
        .meter_serial = ocpp_json_str(req, "meterSerialNumber"),
    };
    enum model_registration reg;
    int rc = model_charger_boot(&ctx->m, &b, &reg);
    if (rc) return ocpp_internal_error(ctx, rc, err);
    /* A rejected charger retries after interval; don't invite it back every second. */
    int interval = ctx->m.srv->cfg->heartbeat_interval_s;
    *resp = json_pack("{s:s, s:o, s:i}", "status", model_registration_name(reg), "currentTime",
                      ocpp_json_now(ctx->m.now_ms), "interval", interval);
    return 0;
}

V16_HANDLER(v16_handle_heartbeat)
{
    int rc = model_charger_seen(&ctx->m);
    if (rc) return ocpp_internal_error(ctx, rc, err);
    *resp = json_pack("{s:o}", "currentTime", ocpp_json_now(ctx->m.now_ms));
    return 0;
}

V16_HANDLER(v16_handle_status_notification)
{
    int connector = (int)json_integer_value(json_object_get(req, "connectorId"));
    const char *status = ocpp_json_str(req, "status");
    struct model_status s = {
        .evse_id = connector,
        .connector_id = connector,
        .status = status, /* the 1.6 statuses are the unified set */
        .raw_status = status,
        .error_code = ocpp_json_str(req, "errorCode"),
        .info = ocpp_json_str(req, "info"),
        .vendor_id = ocpp_json_str(req, "vendorId"),
        .vendor_error_code = ocpp_json_str(req, "vendorErrorCode"),
        .timestamp_ms = ocpp_json_time(req, "timestamp", 0, NULL),
    };
    if (connector < 0) {
        ocpp_error_set(err, OCPP_ERR_PROPERTY_CONSTRAINT, "/connectorId",
                       "connectorId must be 0 or greater");
        return OD_EINVAL;
    }
    int rc = model_connector_status(&ctx->m, &s);
    if (rc) return ocpp_internal_error(ctx, rc, err);
    *resp = json_object();
    return 0;
}

V16_HANDLER(v16_handle_authorize)
{
    struct model_auth auth;
    int rc = model_authorize(&ctx->m, ocpp_json_str(req, "idTag"), &auth);
    if (rc) return ocpp_internal_error(ctx, rc, err);
    rc = model_charger_seen(&ctx->m);
    if (rc) return ocpp_internal_error(ctx, rc, err);
    *resp = json_pack("{s:o}", "idTagInfo", v16_id_tag_info(&auth));
    return 0;
}

V16_HANDLER(v16_handle_start_transaction)
{
    int connector = (int)json_integer_value(json_object_get(req, "connectorId"));
    if (connector <= 0) {
        ocpp_error_set(err, OCPP_ERR_PROPERTY_CONSTRAINT, "/connectorId",
                       "a transaction needs a connectorId greater than 0");
        return OD_EINVAL;
    }
    json_t *rid = json_object_get(req, "reservationId");
    bool zone = true;
    struct model_tx_start s = {
        .evse_id = connector,
        .connector_id = connector,
        .id_tag = ocpp_json_str(req, "idTag"),
        .has_meter_start = true,
        .meter_start_wh = (double)json_integer_value(json_object_get(req, "meterStart")),
        .start_ms = ocpp_json_time(req, "timestamp", ctx->m.now_ms, &zone),
        .has_reservation = rid != NULL,
        .reservation_id = (int)json_integer_value(rid),
    };
    s.start_had_zone = zone;
    int64_t tx_id = 0;
    struct model_auth auth;
    int rc = model_tx_start(&ctx->m, &s, &tx_id, &auth);
    if (rc) return ocpp_internal_error(ctx, rc, err);
    *resp = json_pack("{s:o, s:I}", "idTagInfo", v16_id_tag_info(&auth), "transactionId",
                      (json_int_t)tx_id);
    return 0;
}

/* One 1.6 sampledValue: the value is a string, normalised by the model. */
static void v16_read_sample(const json_t *sv, struct model_sample *out)
{
    *out = (struct model_sample){
        .raw_value = ocpp_json_str(sv, "value"),
        .measurand = ocpp_json_str(sv, "measurand"),
        .phase = ocpp_json_str(sv, "phase"),
        .unit = ocpp_json_str(sv, "unit"),
        .context = ocpp_json_str(sv, "context"),
        .location = ocpp_json_str(sv, "location"),
        .format = ocpp_json_str(sv, "format"),
    };
}

V16_HANDLER(v16_handle_meter_values)
{
    int connector = (int)json_integer_value(json_object_get(req, "connectorId"));
    if (connector < 0) {
        ocpp_error_set(err, OCPP_ERR_PROPERTY_CONSTRAINT, "/connectorId",
                       "connectorId must be 0 or greater");
        return OD_EINVAL;
    }
    json_t *txj = json_object_get(req, "transactionId");
    struct model_meter_value *mv;
    int nmv;
    void *storage;
    if (ocpp_meter_values(json_object_get(req, "meterValue"), ctx->m.now_ms, v16_read_sample, &mv, &nmv,
                         &storage) != 0) {
        ocpp_error_set(err, OCPP_ERR_OCCURRENCE_CONSTRAINT, "/meterValue",
                       "more than %d sampled values in one message", OCPP_MAX_SAMPLES);
        return OD_ELIMIT;
    }
    int rc = model_meter_values(&ctx->m, connector, connector,
                                txj ? (int64_t)json_integer_value(txj) : 0, mv, nmv);
    free(storage);
    if (rc) return ocpp_internal_error(ctx, rc, err);
    *resp = json_object();
    return 0;
}

V16_HANDLER(v16_handle_stop_transaction)
{
    bool zone = true;
    const char *id_tag = ocpp_json_str(req, "idTag");
    struct model_tx_stop s = {
        .tx_id = (int64_t)json_integer_value(json_object_get(req, "transactionId")),
        .id_tag = id_tag,
        .has_meter_stop = true,
        .meter_stop_wh = (double)json_integer_value(json_object_get(req, "meterStop")),
        .stop_ms = ocpp_json_time(req, "timestamp", ctx->m.now_ms, &zone),
        .reason = ocpp_json_str(req, "reason"),
    };
    s.stop_had_zone = zone;
    struct model_meter_value *mv = NULL;
    int nmv = 0;
    void *storage = NULL;
    json_t *data = json_object_get(req, "transactionData");
    if (data && ocpp_meter_values(data, ctx->m.now_ms, v16_read_sample, &mv, &nmv, &storage) != 0) {
        ocpp_error_set(err, OCPP_ERR_OCCURRENCE_CONSTRAINT, "/transactionData",
                       "more than %d sampled values in one message", OCPP_MAX_SAMPLES);
        return OD_ELIMIT;
    }
    int64_t resolved = 0;
    bool repeated = false;
    int rc = model_tx_stop(&ctx->m, &s, &resolved, &repeated);
    if (rc == 0 && nmv > 0 && !repeated) rc = model_meter_values(&ctx->m, -1, -1, resolved, mv, nmv);
    free(storage);
    if (rc) return ocpp_internal_error(ctx, rc, err);
    *resp = json_object();
    if (id_tag) {
        struct model_auth auth;
        if ((rc = model_authorize(&ctx->m, id_tag, &auth))) {
            json_decref(*resp);
            *resp = NULL;
            return ocpp_internal_error(ctx, rc, err);
        }
        json_object_set_new(*resp, "idTagInfo", v16_id_tag_info(&auth));
    }
    return 0;
}

/* Vendor extensions would register here; until one does, every vendor is unknown. */
V16_HANDLER(v16_handle_data_transfer)
{
    char *text = json_dumps(req, JSON_COMPACT);
    int rc = model_notice(&ctx->m, "DataTransfer", text ? text : "{}");
    free(text);
    if (rc) return ocpp_internal_error(ctx, rc, err);
    *resp = json_pack("{s:s}", "status", "UnknownVendorId");
    return 0;
}
