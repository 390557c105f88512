/*
 * notices.c — OCPP 1.6 status reports that ocppd records but does not act on: diagnostics and
 * firmware status (Firmware Management profile) and the security extension's notifications.
 * Each is kept in the charger's notice log and published as an event; the answer is empty
 * (or, for SignCertificate, Rejected until certificate handling exists).
 */
#include "v16.h"

#include <stdlib.h>

static int v16_record(struct ocpp_ctx *ctx, const char *kind, const json_t *req, json_t **resp,
                      struct ocpp_error *err)
{
    char *text = json_dumps(req, JSON_COMPACT);
    int rc = model_notice(&ctx->m, kind, text ? text : "{}");
    free(text);
    if (rc) return ocpp_internal_error(ctx, rc, err);
    *resp = json_object();
    return 0;
}

V16_HANDLER(v16_handle_diagnostics_status_notification)
{
    return v16_record(ctx, "DiagnosticsStatusNotification", req, resp, err);
}

V16_HANDLER(v16_handle_firmware_status_notification)
{
    return v16_record(ctx, "FirmwareStatusNotification", req, resp, err);
}

V16_HANDLER(v16_handle_log_status_notification)
{
    return v16_record(ctx, "LogStatusNotification", req, resp, err);
}

V16_HANDLER(v16_handle_security_event_notification)
{
    return v16_record(ctx, "SecurityEventNotification", req, resp, err);
}

V16_HANDLER(v16_handle_signed_firmware_status_notification)
{
    return v16_record(ctx, "SignedFirmwareStatusNotification", req, resp, err);
}

/* No certificate authority is wired in yet: say so instead of pretending to sign. */
V16_HANDLER(v16_handle_sign_certificate)
{
    int rc = v16_record(ctx, "SignCertificate", req, resp, err);
    if (rc) return rc;
    json_object_set_new(*resp, "status", json_string("Rejected"));
    return 0;
}
