/*
 * metervalues.c — OCPP 2.0.1 functional block J (meter values): MeterValues, and the
 * meterValue conversion TransactionEvent shares. Values are numbers with a unitOfMeasure
 * (unit, power-of-ten multiplier); the model normalises them exactly as 1.6's strings.
 */
#include "v201.h"

#include "mem.h"
#include "od.h"

#include <stdlib.h>


/* One 2.0.1 sampledValue: a number with a unitOfMeasure (unit, power-of-ten multiplier). */
static void v201_read_sample(const json_t *sv, struct model_sample *out)
{
    const json_t *uom = json_object_get(sv, "unitOfMeasure");
    /* Signed readings carry the same number plus a signature: stored as the number, the
     * format saying it was signed. */
    *out = (struct model_sample){
        .number = json_number_value(json_object_get(sv, "value")),
        .multiplier = (int)json_integer_value(json_object_get(uom, "multiplier")),
        .measurand = ocpp_json_str(sv, "measurand"),
        .phase = ocpp_json_str(sv, "phase"),
        .unit = ocpp_json_str(uom, "unit"),
        .context = ocpp_json_str(sv, "context"),
        .location = ocpp_json_str(sv, "location"),
        .format = json_object_get(sv, "signedMeterValue") ? "Signed" : NULL,
    };
}

int v201_meter_values(const json_t *arr, int64_t now_ms, struct model_meter_value **out,
                      int *nout, void **storage)
{
    return ocpp_meter_values(arr, now_ms, v201_read_sample, out, nout, storage);
}

V201_HANDLER(v201_handle_meter_values)
{
    int evse_id = (int)json_integer_value(json_object_get(req, "evseId"));
    struct model_meter_value *mv;
    int nmv;
    void *storage;
    if (v201_meter_values(json_object_get(req, "meterValue"), ctx->m.now_ms, &mv, &nmv,
                          &storage) != 0) {
        ocpp_error_set(err, OCPP_ERR_OCCURRENCE_CONSTRAINT, "/meterValue",
                       "more than %d sampled values in one message", OCPP_MAX_SAMPLES);
        return OD_ELIMIT;
    }
    /* 2.0.1 MeterValues name an EVSE, not a connector or transaction (transaction readings
     * travel in TransactionEvent): stored at EVSE level, connector 0. */
    int rc = model_meter_values(&ctx->m, evse_id, 0, 0, mv, nmv);
    free(storage);
    if (rc) return ocpp_internal_error(ctx, rc, err);
    *resp = json_object();
    return 0;
}
