/*
 * rpc.h — OCPP-J message framing: the JSON array envelope shared by OCPP 1.6J and 2.0.1.
 *
 * Parses one text frame into a CALL / CALLRESULT / CALLERROR, enforcing the exact envelope shape
 * and the size and nesting limits *before* jansson allocates, and builds outgoing frames.
 * It knows nothing about actions or payload schemas (ocpp/schema.h) nor about connections.
 * Protocol failures are data (struct ocpp_error); which wire code name they get depends on the
 * charger's OCPP version (ocpp_errcode_name()).
 */
#ifndef OCPP_RPC_H
#define OCPP_RPC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum ocpp_version { OCPP_V16 = 0, OCPP_V201 = 1 };

/* Subprotocol name ("ocpp1.6", "ocpp2.0.1"). */
const char *ocpp_version_name(enum ocpp_version v);

enum rpc_type { RPC_CALL = 2, RPC_CALLRESULT = 3, RPC_CALLERROR = 4 };

/*
 * Version-neutral CALLERROR causes with their wire names in 1.6 and 2.0.1. A NULL 1.6 name means
 * the code has no 1.6 counterpart: ocpp_errcode_name() then returns the 1.6 fallback given here in
 * the comment, so 2.0.1-only names never reach a 1.6 charger.
 */
#define OCPP_ERRCODE_MAP(X)                                                                    \
    X(FORMAT, "FormationViolation", "FormatViolation")                                         \
    X(PROTOCOL, "ProtocolError", "ProtocolError")                                              \
    X(TYPE_CONSTRAINT, "TypeConstraintViolation", "TypeConstraintViolation")                   \
    X(PROPERTY_CONSTRAINT, "PropertyConstraintViolation", "PropertyConstraintViolation")       \
    X(OCCURRENCE_CONSTRAINT, "OccurenceConstraintViolation", "OccurenceConstraintViolation")   \
    X(NOT_IMPLEMENTED, "NotImplemented", "NotImplemented")                                     \
    X(NOT_SUPPORTED, "NotSupported", "NotSupported")                                           \
    X(INTERNAL, "InternalError", "InternalError")                                              \
    X(SECURITY, "SecurityError", "SecurityError")                                              \
    X(GENERIC, "GenericError", "GenericError")                                                 \
    /* envelope broken (wrong element types/count): 1.6 has no such code -> FormationViolation */ \
    X(RPC_FRAMEWORK, "FormationViolation", "RpcFrameworkError")                                \
    /* message type id not 2/3/4: 1.6 -> FormationViolation */                                 \
    X(MESSAGE_TYPE_NOT_SUPPORTED, "FormationViolation", "MessageTypeNotSupported")

enum ocpp_errcode {
#define OCPP_ERRCODE_ENUM(name, v16, v201) OCPP_ERR_##name,
    OCPP_ERRCODE_MAP(OCPP_ERRCODE_ENUM)
#undef OCPP_ERRCODE_ENUM
    OCPP_ERR__COUNT
};

/* The wire spelling of code for version v. Never NULL. */
const char *ocpp_errcode_name(enum ocpp_errcode code, enum ocpp_version v);
/* Reverse lookup of a received code name (either version's spelling); false if unknown. */
bool ocpp_errcode_parse(const char *name, enum ocpp_errcode *out);

/* A protocol failure to report to the peer. Plain data, no ownership. */
struct ocpp_error {
    enum ocpp_errcode code;
    char description[160]; /* human-readable, no secrets */
    char path[96];         /* JSON pointer of the offending field, "" if none */
};

/* Fills err (printf-style description). Returns err for chaining. */
struct ocpp_error *ocpp_error_set(struct ocpp_error *err, enum ocpp_errcode code, const char *path,
                                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define RPC_ID_MAX 36 /* OCPP-J unique id length limit */

struct rpc_limits {
    size_t max_frame_bytes; /* frames longer than this are refused unparsed (default 65536) */
    int max_depth;          /* maximum array/object nesting (default 32) */
};

/*
 * One parsed frame. `root` is a new reference owned by the struct (rpc_msg_clear() drops it);
 * every other pointer is borrowed from root and dies with it.
 */
struct rpc_msg {
    enum rpc_type type;
    bool has_id;            /* id holds the peer's exact unique id (at most RPC_ID_MAX + 3
                               bytes, so a slightly too long id can still be answered) */
    char id[RPC_ID_MAX + 1 + 3]; /* longer ids: first RPC_ID_MAX bytes + "...", has_id false */
    const char *action;     /* CALL only */
    json_t *payload;        /* CALL / CALLRESULT payload; CALLERROR details (NULL on failure) */
    const char *error_code; /* CALLERROR only */
    const char *error_description; /* CALLERROR only */
    json_t *root;
};

/*
 * Parses one text frame (len bytes, no NUL needed; lim NULL or 0 fields = the defaults). Returns 0
 * and fills msg on success. On failure returns OD_EPARSE or OD_ETOOBIG, fills err, and sets
 * msg->has_id/msg->id when the unique id could be recovered, so the caller can answer a CALL with
 * a CALLERROR (and must otherwise log and drop the frame). msg->type is set whenever the type id
 * was readable (2/3/4), else 0; root/payload/action are NULL after a failure. Codes: too big or
 * too deep -> FORMAT; not JSON, duplicate member names, wrong element count or types ->
 * RPC_FRAMEWORK; type id not 2/3/4 -> MESSAGE_TYPE_NOT_SUPPORTED. Always call rpc_msg_clear().
 */
int rpc_parse(const char *text, size_t len, const struct rpc_limits *lim, struct rpc_msg *msg,
              struct ocpp_error *err);
void rpc_msg_clear(struct rpc_msg *msg);

/*
 * Frame builders. Each returns a heap block (caller frees with free()) of headroom + len + 1
 * bytes whose text starts at block + headroom (the transport writes its own header there) and is
 * NUL-terminated; *len receives the text length. Payloads are borrowed; a NULL payload is sent
 * as {}. A payload that is not an object is a programming error: NULL is returned and logged.
 * rpc_build_error() puts err->path into the details ({"path": ...}) and sends a NULL id as "-1".
 */
char *rpc_build_call(size_t headroom, const char *id, const char *action, const json_t *payload,
                     size_t *len);
char *rpc_build_result(size_t headroom, const char *id, const json_t *payload, size_t *len);
char *rpc_build_error(size_t headroom, enum ocpp_version v, const char *id,
                      const struct ocpp_error *err, size_t *len);

#endif
