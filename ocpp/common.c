/* common.c — small helpers shared by the per-version handlers (handler.h). */
#include "handler.h"

#include "log.h"
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
