/*
 * schema.c — validation of JSON values against compiled schemas (schema.h): OCPP payloads,
 * and the definitions of files such as schemas/admin.json.
 *
 * tools/ocppgen.py turns schemas/<version>/ (and admin.json) into static descriptor tables (one
 * struct ocpp_schema per distinct node, see ocpp_schema_desc.h in the build dir); this file only
 * walks a jansson value alongside them. It stops at the first failure and reports it with the JSON
 * pointer of the offending value. It runs on every message, so it never allocates: the path is
 * kept as a stack of borrowed key pointers / indexes and only formatted when something fails.
 * It does not decide what to do about a failure (the dispatcher does) nor know any action's
 * meaning.
 */
#include "schema.h"

#include "ocpp16_schema.h"
#include "ocpp201_schema.h"
#include "od.h"
#include "timeutil.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Deepest path the validator can build: one segment per object/array level plus one for a
 * missing required property. The generator reports each set's depth (13 for 2.0.1); the check
 * in walk() keeps us safe should a future schema set go deeper than this.
 */
#define SCHEMA_MAX_PATH 40

/* The quotient x / multipleOf may miss an integer by rounding: 16.3 / 0.1 = 162.99999999999997.
 * Decimal inputs of up to ~15 significant digits stay far inside this relative slack. */
#define SCHEMA_MULTIPLE_EPSILON 1e-9

struct path_seg {
    const char *key; /* object member name (borrowed from the payload or schema), or NULL */
    size_t index;    /* array index when key is NULL */
};

/* Per-call validation state; lives on the caller's stack. */
struct vctx {
    struct ocpp_error *err;
    int depth;
    struct path_seg seg[SCHEMA_MAX_PATH];
};

/* ---- action tables ---------------------------------------------------------------------- */

static const struct ocpp_schema_set *schema_set(enum ocpp_version v)
{
    switch (v) {
    case OCPP_V16: return &ocpp16_schema_set;
    case OCPP_V201: return &ocpp201_schema_set;
    }
    return NULL;
}

static int action_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct ocpp_schema_action *)elem)->name);
}

static const struct ocpp_schema_action *find_action(enum ocpp_version v, const char *action)
{
    const struct ocpp_schema_set *set = schema_set(v);
    if (!set || !action) return NULL;
    return bsearch(action, set->actions, set->nactions, sizeof(set->actions[0]), action_cmp);
}

const struct ocpp_schema *ocpp_schema_find(enum ocpp_version v, const char *action, bool request)
{
    const struct ocpp_schema_action *a = find_action(v, action);
    if (!a) return NULL;
    return request ? a->request : a->response;
}

bool ocpp_action_known(enum ocpp_version v, const char *action)
{
    return find_action(v, action) != NULL;
}

static int entry_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct ocpp_schema_entry *)elem)->name);
}

const struct ocpp_schema *ocpp_schema_table_find(const struct ocpp_schema_table *t,
                                                 const char *name)
{
    if (!t || !name) return NULL;
    const struct ocpp_schema_entry *e =
        bsearch(name, t->entries, t->nentries, sizeof(t->entries[0]), entry_cmp);
    return e ? e->schema : NULL;
}

void ocpp_action_foreach(enum ocpp_version v, void (*fn)(const char *action, void *ctx), void *ctx)
{
    const struct ocpp_schema_set *set = schema_set(v);
    if (!set) return;
    for (size_t i = 0; i < set->nactions; i++) fn(set->actions[i].name, ctx);
}

/* ---- failure reporting ------------------------------------------------------------------ */

/* Appends "/" and s to buf as one JSON pointer reference token ('~' -> "~0", '/' -> "~1" per
 * RFC 6901). Returns false once buf is full. */
static bool path_append(char *buf, size_t cap, size_t *len, const char *s)
{
    if (*len + 1 >= cap) return false;
    buf[(*len)++] = '/';
    buf[*len] = '\0';
    for (; *s; s++) {
        const char *out = *s == '~' ? "~0" : *s == '/' ? "~1" : NULL;
        size_t n = out ? 2 : 1;
        if (*len + n >= cap) {
            buf[*len] = '\0'; /* a cut path is still a string */
            return false;
        }
        if (out)
            memcpy(buf + *len, out, 2);
        else
            buf[*len] = *s;
        *len += n;
    }
    buf[*len] = '\0';
    return true;
}

static void path_format(const struct vctx *c, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < c->depth; i++) {
        char num[24];
        const char *tok = c->seg[i].key;
        if (!tok) {
            snprintf(num, sizeof(num), "%zu", c->seg[i].index);
            tok = num;
        }
        if (!path_append(buf, cap, &len, tok)) return;
    }
}

/* Records the failure at the current path. Always returns false so callers can `return fail()`. */
__attribute__((format(printf, 3, 4))) static bool fail(struct vctx *c, enum ocpp_errcode code,
                                                       const char *fmt, ...)
{
    char path[sizeof(c->err->path)];
    char desc[sizeof(c->err->description)];
    va_list ap;
    path_format(c, path, sizeof(path));
    va_start(ap, fmt);
    vsnprintf(desc, sizeof(desc), fmt, ap);
    va_end(ap);
    ocpp_error_set(c->err, code, path, "%s", desc);
    return false;
}

static bool push_key(struct vctx *c, const char *key)
{
    if (c->depth >= SCHEMA_MAX_PATH) return false;
    c->seg[c->depth].key = key;
    c->seg[c->depth].index = 0;
    c->depth++;
    return true;
}

static bool push_index(struct vctx *c, size_t i)
{
    if (c->depth >= SCHEMA_MAX_PATH) return false;
    c->seg[c->depth].key = NULL;
    c->seg[c->depth].index = i;
    c->depth++;
    return true;
}

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

static bool type_fail(struct vctx *c, const char *want, const json_t *v)
{
    return fail(c, OCPP_ERR_TYPE_CONSTRAINT, "expected %s, got %s", want, json_type_name(v));
}

static const char *kind_name(enum ocpp_schema_kind k)
{
    switch (k) {
    case OCPP_SK_OBJECT: return "object";
    case OCPP_SK_ARRAY: return "array";
    case OCPP_SK_STRING: return "string";
    case OCPP_SK_INTEGER: return "integer";
    case OCPP_SK_NUMBER: return "number";
    case OCPP_SK_BOOLEAN: return "boolean";
    case OCPP_SK_ANY:
    case OCPP_SK_TYPES: break;
    }
    return "value";
}

/* True if v is of JSON type k. Like ajv, 5.0 is an integer and 5.5 is not. */
static bool is_kind(enum ocpp_schema_kind k, const json_t *v)
{
    switch (k) {
    case OCPP_SK_ANY: return true;
    case OCPP_SK_OBJECT: return json_is_object(v);
    case OCPP_SK_ARRAY: return json_is_array(v);
    case OCPP_SK_STRING: return json_is_string(v);
    case OCPP_SK_INTEGER:
        if (json_is_integer(v)) return true;
        if (!json_is_real(v)) return false;
        double x = json_real_value(v);
        return isfinite(x) && x == floor(x);
    case OCPP_SK_NUMBER: return json_is_number(v);
    case OCPP_SK_BOOLEAN: return json_is_boolean(v);
    case OCPP_SK_TYPES: break;
    }
    return false;
}

/* A "type" list: v must be one of s->types ("expected string or object, got integer"). */
static bool check_types(struct vctx *c, const struct ocpp_schema *s, const json_t *v)
{
    char want[80] = "";
    size_t len = 0;
    for (int k = OCPP_SK_OBJECT; k <= OCPP_SK_BOOLEAN; k++) {
        if (!(s->types & OCPP_SK_BIT(k))) continue;
        if (is_kind((enum ocpp_schema_kind)k, v)) return true;
        len += (size_t)snprintf(want + len, sizeof(want) - len, "%s%s", len ? " or " : "",
                                kind_name((enum ocpp_schema_kind)k));
        if (len >= sizeof(want)) len = sizeof(want) - 1;
    }
    return type_fail(c, want, v);
}

/* ---- keyword checks --------------------------------------------------------------------- */

static size_t utf8_codepoints(const char *s, size_t bytes)
{
    size_t n = 0;
    for (size_t i = 0; i < bytes; i++) n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

static int str_cmp(const void *key, const void *elem)
{
    return strcmp(key, *(const char *const *)elem);
}

static int prop_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct ocpp_schema_prop *)elem)->name);
}

static bool is_alpha(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_hex(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/*
 * A light RFC 3986 check: a scheme, ':', then only characters a URI may contain, with every '%'
 * starting an escape. The only "uri" fields are firmware/diagnostics locations the server itself
 * sends, so catching a missing scheme or stray spaces is what matters, not full grammar.
 */
static bool uri_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    if (!is_alpha(*p)) return false;
    for (p++; is_alpha(*p) || (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.'; p++)
        ;
    if (*p++ != ':') return false;
    for (; *p; p++) {
        if (*p <= 0x20 || *p >= 0x7f || strchr("\"<>\\^`{|}", *p)) return false;
        if (*p == '%' && !(is_hex(p[1]) && is_hex(p[2]))) return false;
    }
    return true;
}

static bool check_string(struct vctx *c, const struct ocpp_schema *s, const json_t *v)
{
    const char *str = json_string_value(v);
    size_t bytes = json_string_length(v);
    if (s->nenum &&
        !bsearch(str, s->enum_values, s->nenum, sizeof(s->enum_values[0]), str_cmp))
        return fail(c, OCPP_ERR_PROPERTY_CONSTRAINT, "\"%.40s\" is not an allowed value", str);
    /* code points never outnumber bytes, so most strings skip the count */
    if (s->max_length && bytes > s->max_length) {
        size_t n = utf8_codepoints(str, bytes);
        if (n > s->max_length)
            return fail(c, OCPP_ERR_PROPERTY_CONSTRAINT, "string of %zu characters, at most %u",
                        n, (unsigned)s->max_length);
    }
    /* nor are they fewer than a quarter of the bytes (UTF-8 takes at most 4 per code point) */
    if (s->min_length && bytes / 4 < s->min_length) {
        size_t n = utf8_codepoints(str, bytes);
        if (n < s->min_length)
            return fail(c, OCPP_ERR_PROPERTY_CONSTRAINT, "string of %zu characters, at least %u",
                        n, (unsigned)s->min_length);
    }
    if (s->prefix && strncmp(str, s->prefix, strlen(s->prefix)) != 0)
        return fail(c, OCPP_ERR_PROPERTY_CONSTRAINT, "does not start with \"%s\"", s->prefix);
    switch (s->format) {
    case OCPP_SF_DATE_TIME: {
        int64_t ms;
        /* od_time_parse() also takes a stamp without zone: chargers send those, and whether
         * that deserves a warning is decided where the field is used, not here. */
        if (od_time_parse(str, &ms, NULL) != 0)
            return fail(c, OCPP_ERR_PROPERTY_CONSTRAINT, "not a date-time");
        break;
    }
    case OCPP_SF_URI:
        if (!uri_ok(str)) return fail(c, OCPP_ERR_PROPERTY_CONSTRAINT, "not a URI");
        break;
    default: break;
    }
    return true;
}

static bool check_number(struct vctx *c, const struct ocpp_schema *s, double x)
{
    if (s->has_minimum && x < s->minimum)
        return fail(c, OCPP_ERR_PROPERTY_CONSTRAINT, "%g is less than the minimum %g", x,
                    s->minimum);
    if (s->has_minimum && s->exclusive_minimum && x == s->minimum)
        return fail(c, OCPP_ERR_PROPERTY_CONSTRAINT, "%g is not more than the exclusive minimum %g",
                    x, s->minimum);
    if (s->has_maximum && x > s->maximum)
        return fail(c, OCPP_ERR_PROPERTY_CONSTRAINT, "%g is more than the maximum %g", x,
                    s->maximum);
    if (s->has_maximum && s->exclusive_maximum && x == s->maximum)
        return fail(c, OCPP_ERR_PROPERTY_CONSTRAINT, "%g is not less than the exclusive maximum %g",
                    x, s->maximum);
    if (s->multiple_of > 0) {
        double q = x / s->multiple_of;
        /* beyond 2^53 every double is an integer, and an overflowing quotient is one too */
        if (isfinite(q) && fabs(q - rint(q)) > SCHEMA_MULTIPLE_EPSILON * fmax(1.0, fabs(q)))
            return fail(c, OCPP_ERR_PROPERTY_CONSTRAINT, "%g is not a multiple of %g", x,
                        s->multiple_of);
    }
    return true;
}

static bool walk(struct vctx *c, const struct ocpp_schema *s, const json_t *v);

static bool check_object(struct vctx *c, const struct ocpp_schema *s, const json_t *v)
{
    for (unsigned i = 0; i < s->nrequired; i++) {
        if (json_object_get(v, s->required[i])) continue;
        if (!push_key(c, s->required[i]))
            return fail(c, OCPP_ERR_INTERNAL, "schema nesting too deep");
        return fail(c, OCPP_ERR_OCCURRENCE_CONSTRAINT, "required property missing");
    }
    const char *key;
    json_t *val;
    /* jansson's iteration API takes a non-const object; it does not modify it */
    json_object_foreach((json_t *)v, key, val) {
        const struct ocpp_schema_prop *p =
            s->nprops ? bsearch(key, s->props, s->nprops, sizeof(s->props[0]), prop_cmp) : NULL;
        if (!p && s->additional_props) continue;
        if (!push_key(c, key)) return fail(c, OCPP_ERR_INTERNAL, "schema nesting too deep");
        if (!p) return fail(c, OCPP_ERR_FORMAT, "property not allowed");
        if (!walk(c, p->schema, val)) return false;
        c->depth--;
    }
    return true;
}

static bool check_array(struct vctx *c, const struct ocpp_schema *s, const json_t *v)
{
    size_t n = json_array_size(v);
    if (n < s->min_items)
        return fail(c, OCPP_ERR_OCCURRENCE_CONSTRAINT, "%zu items, at least %u required", n,
                    (unsigned)s->min_items);
    if (s->max_items && n > s->max_items)
        return fail(c, OCPP_ERR_OCCURRENCE_CONSTRAINT, "%zu items, at most %u allowed", n,
                    (unsigned)s->max_items);
    if (s->items->kind == OCPP_SK_ANY) return true;
    for (size_t i = 0; i < n; i++) {
        if (!push_index(c, i)) return fail(c, OCPP_ERR_INTERNAL, "schema nesting too deep");
        if (!walk(c, s->items, json_array_get(v, i))) return false;
        c->depth--;
    }
    return true;
}

/* Recursion depth is bounded by the schema's nesting, never by the payload's: an "any" node
 * (DataTransfer data) and a type list are not descended into. */
static bool walk(struct vctx *c, const struct ocpp_schema *s, const json_t *v)
{
    enum ocpp_schema_kind k = (enum ocpp_schema_kind)s->kind;
    switch (k) {
    case OCPP_SK_ANY: return true;
    case OCPP_SK_TYPES: return check_types(c, s, v);
    case OCPP_SK_OBJECT:
    case OCPP_SK_ARRAY:
    case OCPP_SK_STRING:
    case OCPP_SK_INTEGER:
    case OCPP_SK_NUMBER:
    case OCPP_SK_BOOLEAN:
        if (!is_kind(k, v)) return type_fail(c, kind_name(k), v);
        if (k == OCPP_SK_OBJECT) return check_object(c, s, v);
        if (k == OCPP_SK_ARRAY) return check_array(c, s, v);
        if (k == OCPP_SK_STRING) return check_string(c, s, v);
        if (k == OCPP_SK_BOOLEAN) return true;
        return check_number(c, s, json_number_value(v));
    }
    return fail(c, OCPP_ERR_INTERNAL, "corrupt schema table (kind %d)", s->kind);
}

int ocpp_schema_validate_names(const struct ocpp_schema *s, const json_t *obj,
                               struct ocpp_error *err)
{
    if (!s || s->kind != OCPP_SK_OBJECT || s->additional_props || !json_is_object(obj)) return 0;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        if (s->nprops && bsearch(key, s->props, s->nprops, sizeof(s->props[0]), prop_cmp))
            continue;
        struct vctx c;
        c.err = err;
        c.depth = 0;
        push_key(&c, key);
        fail(&c, OCPP_ERR_FORMAT, "property not allowed");
        return OD_EINVAL;
    }
    return 0;
}

int ocpp_schema_validate(const struct ocpp_schema *s, const json_t *payload, struct ocpp_error *err)
{
    struct vctx c;
    c.err = err;
    c.depth = 0;
    if (!s || !payload) {
        ocpp_error_set(err, OCPP_ERR_INTERNAL, "", "no schema or no payload");
        return OD_EINVAL;
    }
    return walk(&c, s, payload) ? 0 : OD_EINVAL;
}
