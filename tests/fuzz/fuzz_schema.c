/*
 * fuzz_schema.c — libFuzzer target for framing plus schema validation, both OCPP versions.
 *
 * A CALL is validated against its action's request schema in 1.6 and in 2.0.1. A CALLRESULT
 * carries no action, so for fuzzing its unique id names the action whose response schema to
 * use: [3,"BootNotification",{...}] checks BootNotification.conf. Whatever the verdict, a failure
 * must come with a validation code and a terminated description and path.
 */
#include "rpc.h"
#include "schema.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(enum ocpp_version v, const char *action, bool request, const json_t *payload)
{
    const struct ocpp_schema *s = ocpp_schema_find(v, action, request);
    struct ocpp_error err;
    if (!s) return;
    if (ocpp_schema_validate(s, payload, &err) == 0) return;
    if (err.code != OCPP_ERR_FORMAT && err.code != OCPP_ERR_TYPE_CONSTRAINT &&
        err.code != OCPP_ERR_PROPERTY_CONSTRAINT && err.code != OCPP_ERR_OCCURRENCE_CONSTRAINT)
        abort();
    if (!memchr(err.description, '\0', sizeof(err.description))) abort();
    if (!memchr(err.path, '\0', sizeof(err.path))) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rpc_msg msg;
    struct ocpp_error err;
    if (rpc_parse((const char *)data, size, NULL, &msg, &err) == 0) {
        for (int v = OCPP_V16; v <= OCPP_V201; v++) {
            if (msg.type == RPC_CALL) check((enum ocpp_version)v, msg.action, true, msg.payload);
            if (msg.type == RPC_CALLRESULT)
                check((enum ocpp_version)v, msg.id, false, msg.payload);
        }
    }
    rpc_msg_clear(&msg);
    return 0;
}
