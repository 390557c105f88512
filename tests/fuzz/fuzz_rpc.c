/*
 * fuzz_rpc.c — libFuzzer target for OCPP-J framing: rpc_parse() on arbitrary bytes, then the
 * builders on whatever parsed. Checks what must hold for every input: a parsed frame re-encodes
 * to a frame that parses to the same type and id; a failure leaves a terminated description and
 * an id that, when recovered, can be answered with a CALLERROR that itself parses.
 *
 * Run: CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined, then
 * ninja -C build-fuzz ocpp/fuzz_rpc, copy tests/fuzz/corpus/fuzz_rpc to a scratch directory D
 * (libFuzzer adds to it) and run build-fuzz/ocpp/fuzz_rpc -dict=tests/fuzz/corpus/ocpp.dict
 * -max_total_time=300 D. Once a crash is fixed, add its input to the corpus (same for
 * fuzz_schema).
 */
#include "od.h"
#include "rpc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void reparse(char *block, size_t headroom, size_t len, enum rpc_type type, const char *id)
{
    struct rpc_limits lim = {.max_frame_bytes = len + 1, .max_depth = 33};
    struct rpc_msg msg;
    struct ocpp_error err;
    if (!block) abort();
    if (block[headroom + len] != '\0') abort();
    /* an id we refuse (empty, too long) still comes back, but the frame then fails to parse */
    size_t idlen = strlen(id);
    int want = idlen >= 1 && idlen <= RPC_ID_MAX ? 0 : OD_EPARSE;
    if (rpc_parse(block + headroom, len, &lim, &msg, &err) != want) abort();
    if (msg.type != type || !msg.has_id || strcmp(msg.id, id) != 0) abort();
    rpc_msg_clear(&msg);
    free(block);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rpc_limits lim = {.max_frame_bytes = 4096, .max_depth = 16};
    struct rpc_msg msg;
    struct ocpp_error err;
    size_t len;
    int rc = rpc_parse((const char *)data, size, &lim, &msg, &err);
    char *block;
    if (rc == 0) {
        switch (msg.type) {
        case RPC_CALL:
            block = rpc_build_call(8, msg.id, msg.action, msg.payload, &len);
            reparse(block, 8, len, RPC_CALL, msg.id);
            break;
        case RPC_CALLRESULT:
            block = rpc_build_result(0, msg.id, msg.payload, &len);
            reparse(block, 0, len, RPC_CALLRESULT, msg.id);
            break;
        case RPC_CALLERROR: {
            enum ocpp_errcode code;
            if (!ocpp_errcode_parse(msg.error_code, &code)) code = OCPP_ERR_GENERIC;
            ocpp_error_set(&err, code, "", "%s", msg.error_description);
            block = rpc_build_error(4, OCPP_V201, msg.id, &err, &len);
            reparse(block, 4, len, RPC_CALLERROR, msg.id);
            break;
        }
        }
    } else {
        if (memchr(err.description, '\0', sizeof(err.description)) == NULL) abort();
        if ((unsigned)err.code >= OCPP_ERR__COUNT) abort();
        if (msg.root || msg.payload || msg.action) abort();
        if (msg.has_id) {
            block = rpc_build_error(0, OCPP_V16, msg.id, &err, &len);
            reparse(block, 0, len, RPC_CALLERROR, msg.id);
        }
    }
    rpc_msg_clear(&msg);
    return 0;
}
