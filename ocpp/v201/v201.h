/* v201.h — OCPP 2.0.1 handler declarations, one per charger-initiated action (handler.h),
 * grouped by the spec's functional blocks, and the translation helpers they share. */
#ifndef OCPP_V201_H
#define OCPP_V201_H

#include "handler.h"

#include <stddef.h>

#define V201_HANDLER(name)                                                                     \
    int name(struct ocpp_ctx *ctx, const json_t *req, json_t **resp, struct ocpp_error *err)

/* B provisioning (provisioning.c) */
V201_HANDLER(v201_handle_boot_notification);
V201_HANDLER(v201_handle_notify_report);
/* G availability (availability.c) */
V201_HANDLER(v201_handle_heartbeat);
V201_HANDLER(v201_handle_status_notification);
/* C authorization (authorization.c) */
V201_HANDLER(v201_handle_authorize);
/* E transactions (transactions.c) */
V201_HANDLER(v201_handle_transaction_event);
/* J meter values (metervalues.c) */
V201_HANDLER(v201_handle_meter_values);
/* N diagnostics, M/A security, L firmware, H reservation, K smart charging, O display, P data
 * transfer: recorded, answered, not acted on (notices.c) */
V201_HANDLER(v201_handle_cleared_charging_limit);
V201_HANDLER(v201_handle_data_transfer);
V201_HANDLER(v201_handle_firmware_status_notification);
V201_HANDLER(v201_handle_get_15118ev_certificate);
V201_HANDLER(v201_handle_get_certificate_status);
V201_HANDLER(v201_handle_log_status_notification);
V201_HANDLER(v201_handle_notify_charging_limit);
V201_HANDLER(v201_handle_notify_customer_information);
V201_HANDLER(v201_handle_notify_display_messages);
V201_HANDLER(v201_handle_notify_ev_charging_needs);
V201_HANDLER(v201_handle_notify_event);
V201_HANDLER(v201_handle_notify_monitoring_report);
V201_HANDLER(v201_handle_publish_firmware_status_notification);
V201_HANDLER(v201_handle_report_charging_profiles);
V201_HANDLER(v201_handle_reservation_status_update);
V201_HANDLER(v201_handle_security_event_notification);
V201_HANDLER(v201_handle_sign_certificate);

/* 2.0.1 idTokenInfo for an authorization answer (new reference). */
json_t *v201_id_token_info(const struct model_auth *auth);

/* Converts a 2.0.1 meterValue array into model records. The records live in one allocation
 * returned in *storage (caller frees) and borrow strings from arr. OD_ELIMIT if too many. */
int v201_meter_values(const json_t *arr, int64_t now_ms, struct model_meter_value **out,
                      int *nout, void **storage);

/* Records a message as a charger notice and answers {} (the common "noted" reply). */
int v201_record(struct ocpp_ctx *ctx, const char *kind, const json_t *req, json_t **resp,
                struct ocpp_error *err);

/* The charger-initiated 2.0.1 actions ocppd handles, or NULL; table introspection for tests. */
const struct ocpp_handler *v201_handler_find(const char *action);
size_t v201_handler_count(void);
const struct ocpp_handler *v201_handler_at(size_t i);

#endif
