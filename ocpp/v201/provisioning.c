/*
 * provisioning.c — OCPP 2.0.1 functional block B (provisioning) as sent by charging stations:
 * BootNotification and NotifyReport (the device model). Translation only: registration and
 * storage are decided by the model (src/model.h).
 */
#include "v201.h"

#include "config.h"
#include "mem.h"
#include "od.h"
#include "server.h"
#include "store_devmodel.h"

#include <stdlib.h>
#include <string.h>

V201_HANDLER(v201_handle_boot_notification)
{
    const json_t *cs = json_object_get(req, "chargingStation");
    const json_t *modem = json_object_get(cs, "modem");
    struct model_boot b = {
        .vendor = ocpp_json_str(cs, "vendorName"),
        .model = ocpp_json_str(cs, "model"),
        .serial = ocpp_json_str(cs, "serialNumber"),
        .firmware = ocpp_json_str(cs, "firmwareVersion"),
        .iccid = ocpp_json_str(modem, "iccid"),
        .imsi = ocpp_json_str(modem, "imsi"),
        .reason = ocpp_json_str(req, "reason"),
    };
    enum model_registration reg;
    int rc = model_charger_boot(&ctx->m, &b, &reg);
    if (rc) return ocpp_internal_error(ctx, rc, err);
    *resp = json_pack("{s:o, s:i, s:s}", "currentTime", ocpp_json_now(ctx->m.now_ms), "interval",
                      ctx->m.srv->cfg->heartbeat_interval_s, "status",
                      model_registration_name(reg));
    if (reg == REG_REJECTED)
        json_object_set_new(*resp, "statusInfo",
                            json_pack("{s:s}", "reasonCode", "UnknownStation"));
    return 0;
}

/* ---- NotifyReport ------------------------------------------------------------------------ */

#define V201_REPORT_MAX_ITEMS 4096 /* attributes per report part; the frame cap bounds it too */

static void dm_copy(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

/* Stores every attribute of one part's reportData. */
static int report_apply_part(int seq_no, const char *payload_json, void *arg)
{
    struct ocpp_ctx *ctx = arg;
    (void)seq_no;
    json_error_t jerr;
    json_t *items = json_loads(payload_json, 0, &jerr);
    if (!json_is_array(items)) {
        /* We wrote it ourselves from a validated message: a broken part is a store fault. */
        json_decref(items);
        return OD_EINTERNAL;
    }
    size_t i, j;
    json_t *item, *attr;
    int rc = 0;
    struct store_dm_var *v = xmalloc(sizeof *v); /* ~4 KiB: not on the stack */
    json_array_foreach(items, i, item) {
        const json_t *comp = json_object_get(item, "component");
        const json_t *var = json_object_get(item, "variable");
        const json_t *evse = json_object_get(comp, "evse");
        const json_t *chr = json_object_get(item, "variableCharacteristics");
        json_array_foreach(json_object_get(item, "variableAttribute"), j, attr) {
            memset(v, 0, sizeof *v);
            dm_copy(v->component, sizeof v->component, ocpp_json_str(comp, "name"));
            dm_copy(v->component_instance, sizeof v->component_instance,
                    ocpp_json_str(comp, "instance"));
            v->evse_id = (int)json_integer_value(json_object_get(evse, "id"));
            v->connector_id = (int)json_integer_value(json_object_get(evse, "connectorId"));
            dm_copy(v->variable, sizeof v->variable, ocpp_json_str(var, "name"));
            dm_copy(v->variable_instance, sizeof v->variable_instance,
                    ocpp_json_str(var, "instance"));
            /* Schema defaults: type Actual, mutability ReadWrite, persistent/constant false. */
            const char *type = ocpp_json_str(attr, "type");
            dm_copy(v->attr_type, sizeof v->attr_type, type ? type : "Actual");
            const char *value = ocpp_json_str(attr, "value");
            v->has_value = value != NULL;
            dm_copy(v->value, sizeof v->value, value);
            const char *mut = ocpp_json_str(attr, "mutability");
            dm_copy(v->mutability, sizeof v->mutability, mut ? mut : "ReadWrite");
            v->persistent = json_is_true(json_object_get(attr, "persistent"));
            v->constant = json_is_true(json_object_get(attr, "constant"));
            if (chr) {
                dm_copy(v->data_type, sizeof v->data_type, ocpp_json_str(chr, "dataType"));
                dm_copy(v->unit, sizeof v->unit, ocpp_json_str(chr, "unit"));
                dm_copy(v->values_list, sizeof v->values_list, ocpp_json_str(chr, "valuesList"));
                json_t *mn = json_object_get(chr, "minLimit");
                json_t *mx = json_object_get(chr, "maxLimit");
                v->has_min = json_is_number(mn);
                v->min_limit = json_number_value(mn);
                v->has_max = json_is_number(mx);
                v->max_limit = json_number_value(mx);
                v->supports_monitoring = json_is_true(json_object_get(chr, "supportsMonitoring"));
            }
            if ((rc = model_devmodel_set(&ctx->m, v))) goto out;
        }
    }
out:
    free(v);
    json_decref(items);
    return rc;
}

V201_HANDLER(v201_handle_notify_report)
{
    int request_id = (int)json_integer_value(json_object_get(req, "requestId"));
    int seq_no = (int)json_integer_value(json_object_get(req, "seqNo"));
    bool tbc = json_is_true(json_object_get(req, "tbc"));
    json_t *data = json_object_get(req, "reportData");
    size_t nitems = 0, i;
    json_t *item;
    json_array_foreach(data, i, item)
        nitems += json_array_size(json_object_get(item, "variableAttribute"));
    if (nitems > V201_REPORT_MAX_ITEMS) {
        ocpp_error_set(err, OCPP_ERR_OCCURRENCE_CONSTRAINT, "/reportData",
                       "more than %d attributes in one report part", V201_REPORT_MAX_ITEMS);
        return OD_ELIMIT;
    }
    /* Parts are kept as received and applied together once the last one is in, so a report
     * that never completes leaves the stored device model as it was. */
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    bool complete;
    int missing;
    int rc = model_report_part(&ctx->m, request_id, seq_no, tbc, text ? text : "[]", &complete,
                               &missing);
    free(text);
    if (rc == 0 && complete)
        rc = model_report_assemble(&ctx->m, request_id, missing, report_apply_part, ctx);
    if (rc) return ocpp_internal_error(ctx, rc, err);
    *resp = json_object();
    return 0;
}
