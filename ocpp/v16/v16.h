/* v16.h — OCPP 1.6 handler declarations, one per charger-initiated action (handler.h). */
#ifndef OCPP_V16_H
#define OCPP_V16_H

#include "handler.h"

#include <stddef.h>

#define V16_HANDLER(name)                                                                      \
    int name(struct ocpp_ctx *ctx, const json_t *req, json_t **resp, struct ocpp_error *err)

/* core profile (core.c) */
V16_HANDLER(v16_handle_authorize);
V16_HANDLER(v16_handle_boot_notification);
V16_HANDLER(v16_handle_data_transfer);
V16_HANDLER(v16_handle_heartbeat);
V16_HANDLER(v16_handle_meter_values);
V16_HANDLER(v16_handle_start_transaction);
V16_HANDLER(v16_handle_status_notification);
V16_HANDLER(v16_handle_stop_transaction);
/* firmware management profile (firmware.c) */
V16_HANDLER(v16_handle_diagnostics_status_notification);
V16_HANDLER(v16_handle_firmware_status_notification);
/* security extension (security.c) */
V16_HANDLER(v16_handle_log_status_notification);
V16_HANDLER(v16_handle_security_event_notification);
V16_HANDLER(v16_handle_sign_certificate);
V16_HANDLER(v16_handle_signed_firmware_status_notification);

/* 1.6 idTagInfo object for an authorization answer (new reference). */
json_t *v16_id_tag_info(const struct model_auth *auth);

/* Table introspection for tests. */
size_t v16_handler_count(void);
const struct ocpp_handler *v16_handler_at(size_t i);

#endif
