/* common.c — small helpers shared by the per-version handlers (handler.h). */
#include "handler.h"

#include "log.h"
#include "mem.h"
#include "od.h"
#include "timeutil.h"

const char *ocpp_json_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

int64_t ocpp_json_time(const json_t *obj, const char *key, int64_t fallback_ms, bool *had_zone)
{
    const char *s = ocpp_json_str(obj, key);
    int64_t t;
    bool zone = true;
    if (s && od_time_parse(s, &t, &zone) == 0) {
        if (had_zone) *had_zone = zone;
        return t;
    }
    if (had_zone) *had_zone = true;
    return fallback_ms;
}

json_t *ocpp_json_now(int64_t now_ms)
{
    char buf[OD_TIME_BUFSZ];
    return json_string(od_time_format(now_ms, buf, sizeof buf));
}

int ocpp_internal_error(struct ocpp_ctx *ctx, int rc, struct ocpp_error *err)
{
    CLOG_ERROR(ctx->m.charger_id, "request failed id=%s err=%s", ctx->msg_id, od_strerror(rc));
    ocpp_error_set(err, OCPP_ERR_INTERNAL, "", "the server could not store the message");
    return rc ? rc : OD_EINTERNAL;
}

int ocpp_meter_values(const json_t *arr, int64_t now_ms, ocpp_sample_fn read_sample,
                      struct model_meter_value **out, int *nout, void **storage)
{
    size_t nmv = json_array_size(arr), nsmp = 0, i, j;
    json_t *mvj;
    json_array_foreach(arr, i, mvj) nsmp += json_array_size(json_object_get(mvj, "sampledValue"));
    if (nsmp > OCPP_MAX_SAMPLES) return OD_ELIMIT;
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
        json_array_foreach(svs, j, sv) read_sample(sv, &smp[k++]);
    }
    *out = mv;
    *nout = (int)nmv;
    *storage = mem;
    return 0;
}
