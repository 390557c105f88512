/*
 * notices.c — OCPP 2.0.1 charger reports that ocppd records but does not act on yet:
 * diagnostics and monitoring (N), security (A, M), firmware (L), reservation (H), smart
 * charging (K), display messages (O), customer information (N) and data transfer (P). Each is
 * kept in the charger's notice log and published as an event. Where the answer has a status,
 * it says honestly that nothing was done: certificates are not signed or checked (no CA or OCSP
 * responder is wired in), no charging schedule is offered, no vendor extension is known.
 */
#include "v201.h"

#include <stdlib.h>

int v201_record(struct ocpp_ctx *ctx, const char *kind, const json_t *req, json_t **resp,
                struct ocpp_error *err)
{
    char *text = json_dumps(req, JSON_COMPACT);
    int rc = model_notice(&ctx->m, kind, text ? text : "{}");
    free(text);
    if (rc) return ocpp_internal_error(ctx, rc, err);
    *resp = json_object();
    return 0;
}

/* Records the message and answers {status, statusInfo.reasonCode}. */
static int v201_record_status(struct ocpp_ctx *ctx, const char *kind, const json_t *req,
                              json_t **resp, struct ocpp_error *err, const char *status,
                              const char *reason)
{
    int rc = v201_record(ctx, kind, req, resp, err);
    if (rc) return rc;
    json_object_set_new(*resp, "status", json_string(status));
    json_object_set_new(*resp, "statusInfo", json_pack("{s:s}", "reasonCode", reason));
    return 0;
}

#define V201_NOTICE(fn, kind)                                                                  \
    V201_HANDLER(fn) { return v201_record(ctx, kind, req, resp, err); }

V201_NOTICE(v201_handle_cleared_charging_limit, "ClearedChargingLimit")
V201_NOTICE(v201_handle_firmware_status_notification, "FirmwareStatusNotification")
V201_NOTICE(v201_handle_log_status_notification, "LogStatusNotification")
V201_NOTICE(v201_handle_notify_charging_limit, "NotifyChargingLimit")
V201_NOTICE(v201_handle_notify_customer_information, "NotifyCustomerInformation")
V201_NOTICE(v201_handle_notify_display_messages, "NotifyDisplayMessages")
V201_NOTICE(v201_handle_notify_event, "NotifyEvent")
V201_NOTICE(v201_handle_notify_monitoring_report, "NotifyMonitoringReport")
V201_NOTICE(v201_handle_publish_firmware_status_notification, "PublishFirmwareStatusNotification")
V201_NOTICE(v201_handle_report_charging_profiles, "ReportChargingProfiles")
V201_NOTICE(v201_handle_reservation_status_update, "ReservationStatusUpdate")
V201_NOTICE(v201_handle_security_event_notification, "SecurityEventNotification")

/* Rejected: "no schedule will follow", so the EV does not wait for one. */
V201_HANDLER(v201_handle_notify_ev_charging_needs)
{
    return v201_record_status(ctx, "NotifyEVChargingNeeds", req, resp, err, "Rejected",
                              "NoSmartCharging");
}

V201_HANDLER(v201_handle_data_transfer)
{
    return v201_record_status(ctx, "DataTransfer", req, resp, err, "UnknownVendorId",
                              "UnknownVendor");
}

V201_HANDLER(v201_handle_sign_certificate)
{
    return v201_record_status(ctx, "SignCertificate", req, resp, err, "Rejected", "NoCA");
}

V201_HANDLER(v201_handle_get_certificate_status)
{
    return v201_record_status(ctx, "GetCertificateStatus", req, resp, err, "Failed",
                              "NoOCSPResponder");
}

/* exiResponse is required even when failing; an empty EXI stream is all we can give. */
V201_HANDLER(v201_handle_get_15118ev_certificate)
{
    int rc = v201_record_status(ctx, "Get15118EVCertificate", req, resp, err, "Failed",
                                "NoCertificatePool");
    if (rc) return rc;
    json_object_set_new(*resp, "exiResponse", json_string(""));
    return 0;
}
