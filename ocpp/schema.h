/*
 * schema.h — validation of JSON values against schemas compiled into C: the official OCPP JSON
 * schemas (payloads), and files of named definitions such as schemas/admin.json (admin params).
 *
 * The schemas are compiled at build time (tools/ocppgen.py) into static descriptor tables;
 * this module interprets them. Nothing is read from disk at run time.
 * Failures map to version-neutral codes (ocpp/rpc.h):
 *   missing required field, too few/many items            -> OCCURRENCE_CONSTRAINT
 *   wrong JSON type                                       -> TYPE_CONSTRAINT
 *   enum, min/maxLength, pattern, format, (exclusive) min/max, multipleOf -> PROPERTY_CONSTRAINT
 *   property not allowed (additionalProperties)           -> FORMAT
 */
#ifndef OCPP_SCHEMA_H
#define OCPP_SCHEMA_H

#include "rpc.h"

#include <jansson.h>
#include <stdbool.h>

struct ocpp_schema; /* generated, static, opaque */

/* The schema of action's request (request=true, "urn:<action>.req") or response
 * ("urn:<action>.conf", in both versions); NULL if the version has no such action. */
const struct ocpp_schema *ocpp_schema_find(enum ocpp_version v, const char *action, bool request);

/* True if v defines action (has a request schema). */
bool ocpp_action_known(enum ocpp_version v, const char *action);

/* Validates payload (borrowed). Returns 0 if valid, else OD_EINVAL with err filled (first
 * failure found, with its JSON pointer path). */
int ocpp_schema_validate(const struct ocpp_schema *s, const json_t *payload, struct ocpp_error *err);

/* Checks only the member names of obj (borrowed) against the object schema s: 0 if every name
 * is allowed, else OD_EINVAL with err (FORMAT) at the first name that is not. For a caller that
 * names a misspelt member before the required one it was meant to be; the full check is still
 * ocpp_schema_validate(). */
int ocpp_schema_validate_names(const struct ocpp_schema *s, const json_t *obj,
                               struct ocpp_error *err);

/* The definition called name in t (a generated <prefix>_schema_table), or NULL. */
struct ocpp_schema_table;
const struct ocpp_schema *ocpp_schema_table_find(const struct ocpp_schema_table *t,
                                                 const char *name);

/* Calls fn for every action v defines, in sorted order. */
void ocpp_action_foreach(enum ocpp_version v, void (*fn)(const char *action, void *ctx), void *ctx);

#endif
