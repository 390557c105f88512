/*
 * handlers.c — the OCPP 1.6 charger-initiated actions ocppd answers, as one sorted table.
 * Actions of 1.6 that are not here are CSMS-initiated (answered NotSupported when a charger
 * sends them) or unknown (NotImplemented). The handlers live in one file per feature profile.
 */
#include "v16.h"

#include <stdlib.h>
#include <string.h>

/* Sorted by action name (checked by a unit test) for bsearch. */
static const struct ocpp_handler v16_handlers[] = {
    {"Authorize", v16_handle_authorize, 0},
    {"BootNotification", v16_handle_boot_notification, OCPP_HANDLER_ANY_REGISTRATION},
    {"DataTransfer", v16_handle_data_transfer, 0},
    {"DiagnosticsStatusNotification", v16_handle_diagnostics_status_notification, 0},
    {"FirmwareStatusNotification", v16_handle_firmware_status_notification, 0},
    {"Heartbeat", v16_handle_heartbeat, 0},
    {"LogStatusNotification", v16_handle_log_status_notification, 0},
    {"MeterValues", v16_handle_meter_values, 0},
    {"SecurityEventNotification", v16_handle_security_event_notification, 0},
    {"SignCertificate", v16_handle_sign_certificate, 0},
    {"SignedFirmwareStatusNotification", v16_handle_signed_firmware_status_notification, 0},
    {"StartTransaction", v16_handle_start_transaction, 0},
    {"StatusNotification", v16_handle_status_notification, 0},
    {"StopTransaction", v16_handle_stop_transaction, 0},
};

static int v16_handler_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct ocpp_handler *)elem)->action);
}

const struct ocpp_handler *v16_handler_find(const char *action)
{
    return bsearch(action, v16_handlers, sizeof v16_handlers / sizeof *v16_handlers,
                   sizeof *v16_handlers, v16_handler_cmp);
}

size_t v16_handler_count(void)
{
    return sizeof v16_handlers / sizeof *v16_handlers;
}

const struct ocpp_handler *v16_handler_at(size_t i)
{
    return i < v16_handler_count() ? &v16_handlers[i] : NULL;
}
