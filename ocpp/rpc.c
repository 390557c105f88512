/*
 * rpc.c — OCPP-J framing (rpc.h): the [type, id, ...] envelope, its limits, and frame builders.
 *
 * Parsing runs in three steps, cheapest first: the byte-length cap, a raw scan of the nesting
 * depth (jansson recurses once per level, so a frame of 100000 '[' must never reach it), then
 * jansson and the exact envelope checks. Whenever element 1 is a string its id is copied out
 * first, so even a broken CALL can be answered. Payloads are not looked at here (schema.c).
 */
#include "rpc.h"

#include "log.h"
#include "mem.h"
#include "od.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define RPC_DEFAULT_MAX_FRAME 65536
#define RPC_DEFAULT_MAX_DEPTH 32

/*
 * Duplicate member names are refused: with them the value jansson keeps (the last) may differ
 * from what another reader of the same frame (a log, a proxy, the charger's own tooling) takes
 * as the field, and the schema's additionalProperties reasoning assumes one value per name.
 * No charger we know of sends them, and refusing costs nothing. NUL inside strings stays
 * refused too (jansson's default), so every string we hand on is a valid C string.
 */
#define RPC_LOAD_FLAGS JSON_REJECT_DUPLICATES

/*
 * Compact output, and at most 15 significant digits for reals: jansson's default of 17 turns
 * 16.3 into 16.300000000000001, which chargers then compare against a multipleOf of 0.1.
 * 15 digits print every value our handlers produce from decimal input exactly as written.
 */
#define RPC_DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15) | JSON_ENCODE_ANY)

/* ---- versions and error codes ----------------------------------------------------------- */

const char *ocpp_version_name(enum ocpp_version v)
{
    switch (v) {
    case OCPP_V16: return "ocpp1.6";
    case OCPP_V201: return "ocpp2.0.1";
    }
    return "unknown";
}

static const struct {
    const char *v16, *v201;
} errcode_names[OCPP_ERR__COUNT] = {
#define OCPP_ERRCODE_ROW(name, v16, v201) [OCPP_ERR_##name] = {v16, v201},
    OCPP_ERRCODE_MAP(OCPP_ERRCODE_ROW)
#undef OCPP_ERRCODE_ROW
};

const char *ocpp_errcode_name(enum ocpp_errcode code, enum ocpp_version v)
{
    if ((unsigned)code >= OCPP_ERR__COUNT) code = OCPP_ERR_GENERIC;
    return v == OCPP_V16 ? errcode_names[code].v16 : errcode_names[code].v201;
}

bool ocpp_errcode_parse(const char *name, enum ocpp_errcode *out)
{
    if (!name) return false;
    /* Table order matters: "FormationViolation" is the 1.6 name of three codes and must come
     * back as FORMAT, the first of them. */
    for (int i = 0; i < OCPP_ERR__COUNT; i++) {
        if (strcmp(name, errcode_names[i].v16) == 0 || strcmp(name, errcode_names[i].v201) == 0) {
            *out = (enum ocpp_errcode)i;
            return true;
        }
    }
    /* OCPP 2.1 corrected the spelling and some stacks already send it to 1.6/2.0.1 peers */
    if (strcmp(name, "OccurrenceConstraintViolation") == 0) {
        *out = OCPP_ERR_OCCURRENCE_CONSTRAINT;
        return true;
    }
    return false;
}

/* ---- UTF-8 helpers ---------------------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at p (1..4), or 0 if it is not one (stray
 * continuation byte, overlong form, surrogate, beyond U+10FFFF, or cut short by avail). */
static size_t utf8_seq_len(const unsigned char *p, size_t avail)
{
    unsigned char c = p[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (avail < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* Cuts s (NUL-terminated, len bytes) back so it does not end in a partial UTF-8 sequence;
 * used after snprintf truncation, which counts bytes. */
static void utf8_trim(char *s, size_t len)
{
    size_t i = len;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80 && len - i < 3) i--;
    if (i == 0) return;
    i--; /* the lead byte (or an ASCII byte) */
    if (utf8_seq_len((const unsigned char *)s + i, len - i) != len - i &&
        (unsigned char)s[i] >= 0x80)
        s[i] = '\0';
}

/* ---- struct ocpp_error ------------------------------------------------------------------ */

struct ocpp_error *ocpp_error_set(struct ocpp_error *err, enum ocpp_errcode code, const char *path,
                                  const char *fmt, ...)
{
    va_list ap;
    err->code = code;
    va_start(ap, fmt);
    int n = vsnprintf(err->description, sizeof(err->description), fmt, ap);
    va_end(ap);
    if (n < 0) err->description[0] = '\0';
    if (n >= (int)sizeof(err->description))
        utf8_trim(err->description, sizeof(err->description) - 1);
    size_t plen = path ? strlen(path) : 0;
    if (plen >= sizeof(err->path)) plen = sizeof(err->path) - 1;
    if (plen) memmove(err->path, path, plen); /* path may be err->path itself */
    err->path[plen] = '\0';
    utf8_trim(err->path, plen);
    return err;
}

/* ---- parsing ---------------------------------------------------------------------------- */

/*
 * True if no array/object nesting in text goes deeper than max_depth. Brackets inside strings
 * (with their escapes) do not count. Text that is not JSON may pass; jansson rejects it next,
 * and it can no longer recurse deeper than max_depth while doing so.
 */
static bool depth_within(const char *text, size_t len, int max_depth)
{
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (in_string) {
            if (ch == '\\')
                i++; /* the escaped byte cannot end the string */
            else if (ch == '"')
                in_string = false;
            continue;
        }
        switch (ch) {
        case '"': in_string = true; break;
        case '[':
        case '{':
            if (++depth > max_depth) return false;
            break;
        case ']':
        case '}':
            depth--;
            break;
        default: break;
        }
    }
    return true;
}

/* Copies the peer's id. has_id only when the copy is exact; a longer id is kept for the log as
 * its first RPC_ID_MAX bytes plus "...". */
static void copy_id(struct rpc_msg *msg, const char *id, size_t len)
{
    if (len < sizeof(msg->id)) {
        memcpy(msg->id, id, len);
        msg->id[len] = '\0';
        msg->has_id = true;
    } else {
        memcpy(msg->id, id, RPC_ID_MAX);
        msg->id[RPC_ID_MAX] = '\0';
        utf8_trim(msg->id, RPC_ID_MAX);
        strcat(msg->id, "...");
        msg->has_id = false;
    }
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

/*
 * Best effort for frames jansson will never see (too big, too deep) or cannot parse: reads
 * `[ <2|3|4> , "<id>"` from the front of the raw text so a CALL can still be answered. Only
 * plain printable-ASCII ids are taken (what every charger sends); anything unusual is left
 * unrecovered rather than guessed.
 */
static void recover_raw(const char *text, size_t len, struct rpc_msg *msg)
{
    const char *p = text, *end = text + len;
    p = skip_ws(p, end);
    if (p == end || *p++ != '[') return;
    p = skip_ws(p, end);
    if (end - p < 2 || *p < '2' || *p > '4') return;
    int type = *p++ - '0';
    p = skip_ws(p, end);
    if (p == end || *p++ != ',') return;
    msg->type = (enum rpc_type)type;
    p = skip_ws(p, end);
    if (p == end || *p++ != '"') return;
    const char *id = p;
    while (p < end && *p != '"') {
        if (*p < 0x20 || *p > 0x7e || *p == '\\') return;
        p++;
    }
    if (p == end || p == id) return;
    copy_id(msg, id, (size_t)(p - id));
}

static int parse_fail(struct rpc_msg *msg, int rc)
{
    json_decref(msg->root);
    msg->root = NULL;
    msg->action = NULL;
    msg->payload = NULL;
    msg->error_code = NULL;
    msg->error_description = NULL;
    return rc;
}

/* The payload-ish element at index i must be an object; returns it or NULL after filling err. */
static json_t *envelope_object(json_t *root, size_t i, const char *what, struct ocpp_error *err)
{
    json_t *v = json_array_get(root, i);
    if (json_is_object(v)) return v;
    ocpp_error_set(err, OCPP_ERR_RPC_FRAMEWORK, "", "%s is not a JSON object", what);
    return NULL;
}

static const char *envelope_string(json_t *root, size_t i, const char *what,
                                   struct ocpp_error *err)
{
    json_t *v = json_array_get(root, i);
    if (json_is_string(v)) return json_string_value(v);
    ocpp_error_set(err, OCPP_ERR_RPC_FRAMEWORK, "", "%s is not a string", what);
    return NULL;
}

int rpc_parse(const char *text, size_t len, const struct rpc_limits *lim, struct rpc_msg *msg,
              struct ocpp_error *err)
{
    memset(msg, 0, sizeof(*msg));
    size_t max_bytes = lim && lim->max_frame_bytes ? lim->max_frame_bytes : RPC_DEFAULT_MAX_FRAME;
    int max_depth = lim && lim->max_depth > 0 ? lim->max_depth : RPC_DEFAULT_MAX_DEPTH;

    if (len > max_bytes) {
        recover_raw(text, len, msg);
        ocpp_error_set(err, OCPP_ERR_FORMAT, "", "frame of %zu bytes exceeds the limit of %zu",
                       len, max_bytes);
        return OD_ETOOBIG;
    }
    if (!depth_within(text, len, max_depth)) {
        recover_raw(text, len, msg);
        ocpp_error_set(err, OCPP_ERR_FORMAT, "", "JSON nested deeper than %d levels", max_depth);
        return OD_EPARSE;
    }
    json_error_t jerr;
    msg->root = json_loadb(text, len, RPC_LOAD_FLAGS, &jerr);
    if (!msg->root) {
        recover_raw(text, len, msg);
        ocpp_error_set(err, OCPP_ERR_RPC_FRAMEWORK, "", "invalid JSON at %d: %.80s",
                       jerr.position, jerr.text);
        return OD_EPARSE;
    }

    json_t *root = msg->root;
    if (!json_is_array(root)) {
        ocpp_error_set(err, OCPP_ERR_RPC_FRAMEWORK, "", "frame is not a JSON array");
        return parse_fail(msg, OD_EPARSE);
    }
    size_t n = json_array_size(root);
    json_t *idv = json_array_get(root, 1);
    if (json_is_string(idv)) copy_id(msg, json_string_value(idv), json_string_length(idv));

    json_t *tv = json_array_get(root, 0);
    if (!json_is_integer(tv)) {
        ocpp_error_set(err, OCPP_ERR_RPC_FRAMEWORK, "", "message type id is not an integer");
        return parse_fail(msg, OD_EPARSE);
    }
    json_int_t type = json_integer_value(tv);
    if (type != RPC_CALL && type != RPC_CALLRESULT && type != RPC_CALLERROR) {
        ocpp_error_set(err, OCPP_ERR_MESSAGE_TYPE_NOT_SUPPORTED, "",
                       "message type %" JSON_INTEGER_FORMAT " is not supported", type);
        return parse_fail(msg, OD_EPARSE);
    }
    msg->type = (enum rpc_type)type;

    if (!json_is_string(idv)) {
        ocpp_error_set(err, OCPP_ERR_RPC_FRAMEWORK, "", "unique id is missing or not a string");
        return parse_fail(msg, OD_EPARSE);
    }
    size_t idlen = json_string_length(idv);
    if (idlen == 0 || idlen > RPC_ID_MAX) {
        ocpp_error_set(err, OCPP_ERR_RPC_FRAMEWORK, "", "unique id of %zu bytes, must be 1..%d",
                       idlen, RPC_ID_MAX);
        return parse_fail(msg, OD_EPARSE);
    }

    static const size_t want[] = {[RPC_CALL] = 4, [RPC_CALLRESULT] = 3, [RPC_CALLERROR] = 5};
    static const char *const names[] = {
        [RPC_CALL] = "CALL", [RPC_CALLRESULT] = "CALLRESULT", [RPC_CALLERROR] = "CALLERROR"};
    if (n != want[msg->type]) {
        ocpp_error_set(err, OCPP_ERR_RPC_FRAMEWORK, "", "%s has %zu elements, must have %zu",
                       names[msg->type], n, want[msg->type]);
        return parse_fail(msg, OD_EPARSE);
    }

    switch (msg->type) {
    case RPC_CALL:
        msg->action = envelope_string(root, 2, "action", err);
        if (!msg->action) return parse_fail(msg, OD_EPARSE);
        if (!msg->action[0]) {
            ocpp_error_set(err, OCPP_ERR_RPC_FRAMEWORK, "", "action is empty");
            return parse_fail(msg, OD_EPARSE);
        }
        msg->payload = envelope_object(root, 3, "payload", err);
        break;
    case RPC_CALLRESULT: msg->payload = envelope_object(root, 2, "payload", err); break;
    case RPC_CALLERROR:
        msg->error_code = envelope_string(root, 2, "error code", err);
        if (!msg->error_code) return parse_fail(msg, OD_EPARSE);
        msg->error_description = envelope_string(root, 3, "error description", err);
        if (!msg->error_description) return parse_fail(msg, OD_EPARSE);
        msg->payload = envelope_object(root, 4, "error details", err);
        break;
    }
    if (!msg->payload) return parse_fail(msg, OD_EPARSE);
    return 0;
}

void rpc_msg_clear(struct rpc_msg *msg)
{
    if (!msg) return;
    json_decref(msg->root);
    memset(msg, 0, sizeof(*msg));
}

/* ---- building --------------------------------------------------------------------------- */

/* A growing output block; the final frame is this one allocation. */
struct obuf {
    char *buf;
    size_t len, cap;
};

static void ob_init(struct obuf *b, size_t headroom)
{
    b->cap = headroom + 256;
    b->buf = xmalloc(b->cap);
    memset(b->buf, 0, headroom); /* the transport overwrites it; zero keeps it deterministic */
    b->len = headroom;
}

static void ob_put(struct obuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap * 2;
        if (cap < b->len + n + 1) cap = b->len + n + 1;
        b->buf = xrealloc(b->buf, cap);
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
}

/* Writes s as a JSON string. Bytes that are not well-formed UTF-8 become U+FFFD so the frame is
 * always valid JSON whatever the caller passes (ids are copied from peers). */
static void ob_put_string(struct obuf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t avail = strlen((const char *)p);
    ob_put(b, "\"", 1);
    while (*p) {
        const unsigned char *run = p;
        /* copy runs needing no escape in one go */
        while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') p++;
        if (p > run) ob_put(b, (const char *)run, (size_t)(p - run));
        avail -= (size_t)(p - run);
        if (!*p) break;
        char esc[7];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            ob_put(b, esc, 2);
            p++;
            avail--;
        } else if (*p < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[*p >> 4];
            esc[5] = hex[*p & 0xF];
            ob_put(b, esc, 6);
            p++;
            avail--;
        } else {
            size_t n = utf8_seq_len(p, avail);
            if (n) {
                ob_put(b, (const char *)p, n);
            } else {
                ob_put(b, "\\ufffd", 6);
                n = 1;
            }
            p += n;
            avail -= n;
        }
    }
    ob_put(b, "\"", 1);
}

static int ob_dump_cb(const char *buffer, size_t size, void *data)
{
    ob_put(data, buffer, size);
    return 0;
}

static bool ob_put_json(struct obuf *b, const json_t *v)
{
    if (!v) {
        ob_put(b, "{}", 2);
        return true;
    }
    if (!json_is_object(v)) return false;
    return json_dump_callback(v, ob_dump_cb, b, RPC_DUMP_FLAGS) == 0;
}

static char *ob_finish(struct obuf *b, size_t headroom, size_t *len)
{
    b->buf[b->len] = '\0';
    if (len) *len = b->len - headroom;
    return b->buf;
}

static char *ob_abandon(struct obuf *b, const char *what)
{
    LOG_ERROR("rpc: cannot encode %s payload (not an object, or a reference cycle)", what);
    free(b->buf);
    return NULL;
}

char *rpc_build_call(size_t headroom, const char *id, const char *action, const json_t *payload,
                     size_t *len)
{
    struct obuf b;
    ob_init(&b, headroom);
    ob_put(&b, "[2,", 3);
    ob_put_string(&b, id);
    ob_put(&b, ",", 1);
    ob_put_string(&b, action);
    ob_put(&b, ",", 1);
    if (!ob_put_json(&b, payload)) return ob_abandon(&b, "CALL");
    ob_put(&b, "]", 1);
    return ob_finish(&b, headroom, len);
}

char *rpc_build_result(size_t headroom, const char *id, const json_t *payload, size_t *len)
{
    struct obuf b;
    ob_init(&b, headroom);
    ob_put(&b, "[3,", 3);
    ob_put_string(&b, id);
    ob_put(&b, ",", 1);
    if (!ob_put_json(&b, payload)) return ob_abandon(&b, "CALLRESULT");
    ob_put(&b, "]", 1);
    return ob_finish(&b, headroom, len);
}

char *rpc_build_error(size_t headroom, enum ocpp_version v, const char *id,
                      const struct ocpp_error *err, size_t *len)
{
    struct obuf b;
    ob_init(&b, headroom);
    ob_put(&b, "[4,", 3);
    /* an unreadable id is answered as "-1", the id OCPP-J reserves for that case */
    ob_put_string(&b, id ? id : "-1");
    ob_put(&b, ",", 1);
    ob_put_string(&b, ocpp_errcode_name(err->code, v));
    ob_put(&b, ",", 1);
    ob_put_string(&b, err->description);
    /* errorDetails is free-form; the failing field's JSON pointer is what a charger's developer
     * needs to find the problem */
    if (err->path[0]) {
        ob_put(&b, ",{\"path\":", 9);
        ob_put_string(&b, err->path);
        ob_put(&b, "}]", 2);
    } else {
        ob_put(&b, ",{}]", 4);
    }
    return ob_finish(&b, headroom, len);
}
