/*
 * od.h — ocppd-wide error codes.
 *
 * Every function that can fail returns int: 0 on success or a negative OD_E* code from the list
 * below. od_strerror() gives the fixed, human-readable text. Protocol failures toward a charger
 * are not errors of this kind: they travel as struct ocpp_error (ocpp/rpc.h).
 */
#ifndef OD_H
#define OD_H

#define OD_ERRNO_MAP(X)                                                   \
    X(NOMEM, "out of memory")                                             \
    X(INVAL, "invalid argument")                                          \
    X(NOTFOUND, "not found")                                              \
    X(EXISTS, "already exists")                                           \
    X(TOOBIG, "too large")                                                \
    X(DB, "database error")                                               \
    X(DBVERSION, "database schema is newer than this ocppd")             \
    X(IO, "input/output error")                                           \
    X(PARSE, "parse error")                                               \
    X(BUSY, "resource busy")                                              \
    X(LIMIT, "limit reached")                                             \
    X(STATE, "not allowed in the current state")                          \
    X(TIMEOUT, "timed out")                                               \
    X(CLOSED, "connection closed")                                        \
    X(INTERNAL, "internal error")

enum od_errno {
    OD_OK = 0,
#define OD_ERRNO_ENUM(name, text) OD_E##name,
    OD__ERRNO_FIRST = -1000,
    OD_ERRNO_MAP(OD_ERRNO_ENUM)
#undef OD_ERRNO_ENUM
};

/* Fixed text for an OD_E* code (or "success" for 0, "unknown error" otherwise). */
const char *od_strerror(int err);

#endif
