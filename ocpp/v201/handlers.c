/*
 * handlers.c — the OCPP 2.0.1 charger-initiated actions ocppd answers, as one sorted table.
 * Actions of 2.0.1 that are not here are CSMS-initiated (answered NotSupported when a charger
 * sends them) or unknown (NotImplemented). The handlers live in one file per functional block.
 */
#include "v201.h"

#include <stdlib.h>
#include <string.h>

/* Sorted by action name (checked by a unit test) for bsearch. Only BootNotification may come
 * before the charger is Accepted (use cases B02/B03: anything else gets SecurityError). */
static const struct ocpp_handler v201_handlers[] = {
    {"Authorize", v201_handle_authorize, 0},
    {"BootNotification", v201_handle_boot_notification, OCPP_HANDLER_ANY_REGISTRATION},
    {"ClearedChargingLimit", v201_handle_cleared_charging_limit, 0},
    {"DataTransfer", v201_handle_data_transfer, 0},
    {"FirmwareStatusNotification", v201_handle_firmware_status_notification, 0},
    {"Get15118EVCertificate", v201_handle_get_15118ev_certificate, 0},
    {"GetCertificateStatus", v201_handle_get_certificate_status, 0},
    {"Heartbeat", v201_handle_heartbeat, 0},
    {"LogStatusNotification", v201_handle_log_status_notification, 0},
    {"MeterValues", v201_handle_meter_values, 0},
    {"NotifyChargingLimit", v201_handle_notify_charging_limit, 0},
    {"NotifyCustomerInformation", v201_handle_notify_customer_information, 0},
    {"NotifyDisplayMessages", v201_handle_notify_display_messages, 0},
    {"NotifyEVChargingNeeds", v201_handle_notify_ev_charging_needs, 0},
    {"NotifyEvent", v201_handle_notify_event, 0},
    {"NotifyMonitoringReport", v201_handle_notify_monitoring_report, 0},
    {"NotifyReport", v201_handle_notify_report, 0},
    {"PublishFirmwareStatusNotification", v201_handle_publish_firmware_status_notification, 0},
    {"ReportChargingProfiles", v201_handle_report_charging_profiles, 0},
    {"ReservationStatusUpdate", v201_handle_reservation_status_update, 0},
    {"SecurityEventNotification", v201_handle_security_event_notification, 0},
    {"SignCertificate", v201_handle_sign_certificate, 0},
    {"StatusNotification", v201_handle_status_notification, 0},
    {"TransactionEvent", v201_handle_transaction_event, 0},
};

static int v201_handler_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct ocpp_handler *)elem)->action);
}

const struct ocpp_handler *v201_handler_find(const char *action)
{
    return bsearch(action, v201_handlers, sizeof v201_handlers / sizeof *v201_handlers,
                   sizeof *v201_handlers, v201_handler_cmp);
}

size_t v201_handler_count(void)
{
    return sizeof v201_handlers / sizeof *v201_handlers;
}

const struct ocpp_handler *v201_handler_at(size_t i)
{
    return i < v201_handler_count() ? &v201_handlers[i] : NULL;
}
