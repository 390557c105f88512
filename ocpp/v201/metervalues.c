/*
 * metervalues.c — OCPP 2.0.1 functional block J (meter values): MeterValues, and the
 * meterValue conversion TransactionEvent shares. Values are numbers with a unitOfMeasure
 * (unit, power-of-ten multiplier); the model normalises them exactly as 1.6's strings.
 */
#include "v201.h"

#include "mem.h"
#include "od.h"

#include <stdlib.h>

#define V201_MAX_SAMPLES 512 /* per message; the frame cap bounds it anyway */

int v201_meter_values(const json_t *arr, int64_t now_ms, struct model_meter_value **out,
                      int *nout, void **storage)
{
    size_t nmv = json_array_size(arr), nsmp = 0, i, j;
    json_t *mvj;
    json_array_foreach(arr, i, mvj) nsmp += json_array_size(json_object_get(mvj, "sampledValue"));
    if (nsmp > V201_MAX_SAMPLES) return OD_ELIMIT;
    char *mem = xmalloc(nmv * sizeof(struct model_meter_value) +
                        nsmp * sizeof(struct model_sample) + 1);
    struct model_meter_value *mv = (struct model_meter_value *)mem;
    struct model_sample *smp = (struct model_sample *)(mem + nmv * sizeof *mv);
    size_t k = 0;
    json_array_foreach(arr, i, mvj) {
        json_t *svs = json_object_get(mvj, "sampledValue"), *sv;
        mv[i].timestamp_ms = ocpp_json_time(mvj, "timestamp", now_ms, &mv[i].had_zone);
        mv[i].samples = &smp[k];
        mv[i].nsamples = (int)json_array_size(svs);
        json_array_foreach(svs, j, sv) {
            const json_t *uom = json_object_get(sv, "unitOfMeasure");
            const char *unit = ocpp_json_str(uom, "unit");
            /* Signed readings carry the same number plus a signature: stored as the number,
             * the format saying it was signed. */
            smp[k++] = (struct model_sample){
                .number = json_number_value(json_object_get(sv, "value")),
                .multiplier = (int)json_integer_value(json_object_get(uom, "multiplier")),
                .measurand = ocpp_json_str(sv, "measurand"),
                .phase = ocpp_json_str(sv, "phase"),
                .unit = unit,
                .context = ocpp_json_str(sv, "context"),
                .location = ocpp_json_str(sv, "location"),
                .format = json_object_get(sv, "signedMeterValue") ? "Signed" : NULL,
            };
        }
    }
    *out = mv;
    *nout = (int)nmv;
    *storage = mem;
    return 0;
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
                       "more than %d sampled values in one message", V201_MAX_SAMPLES);
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
