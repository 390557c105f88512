/*
 * test_rpc.c — unit tests for OCPP-J framing (ocpp/rpc.c): the envelope catalogue (every
 * malformed shape with the code it earns and whether the id survives), the size and depth
 * limits, the builders, and the per-version spelling of CALLERROR codes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "od.h"
#include "rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct rpc_limits limits = {.max_frame_bytes = 65536, .max_depth = 32};

/* ---- envelope catalogue ----------------------------------------------------------------- */

enum { ANY_TYPE = -1, NO_TYPE = 0 };

struct envelope_case {
    const char *text;
    int rc;                 /* 0, OD_EPARSE, OD_ETOOBIG */
    enum ocpp_errcode code; /* when rc != 0 */
    int type;               /* expected msg.type: RPC_*, NO_TYPE (0) or ANY_TYPE */
    const char *id;         /* expected recovered id, NULL for has_id == false */
};

#define OK(text, type, id) {text, 0, 0, type, id}
#define BAD(text, code, type, id) {text, OD_EPARSE, OCPP_ERR_##code, type, id}
#define ID36 "123456789012345678901234567890123456"

static const struct envelope_case envelope_cases[] = {
    /* valid frames */
    OK("[2,\"1\",\"Heartbeat\",{}]", RPC_CALL, "1"),
    OK(" \n[ 2 , \"a b\" , \"Heartbeat\" , { } ]\r\n", RPC_CALL, "a b"),
    OK("[2,\"" ID36 "\",\"Heartbeat\",{}]", RPC_CALL, ID36),
    OK("[3,\"19223201\",{\"currentTime\":\"2024-01-01T00:00:00Z\"}]", RPC_CALLRESULT, "19223201"),
    OK("[4,\"x\",\"NotImplemented\",\"\",{}]", RPC_CALLERROR, "x"),
    OK("[4,\"x\",\"SomeVendorCode\",\"text\",{\"a\":[1,2]}]", RPC_CALLERROR, "x"),
    OK("[2,\"\\u00e9\\\"\",\"A\",{\"k\":\"[[[{{{\"}]", RPC_CALL, "\xc3\xa9\""),

    /* not JSON, or not an array */
    BAD("", RPC_FRAMEWORK, NO_TYPE, NULL),
    BAD("hello", RPC_FRAMEWORK, NO_TYPE, NULL),
    BAD("{}", RPC_FRAMEWORK, NO_TYPE, NULL),
    BAD("{\"0\":2,\"1\":\"a\"}", RPC_FRAMEWORK, NO_TYPE, NULL),
    BAD("\"[2,\\\"1\\\"]\"", RPC_FRAMEWORK, NO_TYPE, NULL),
    BAD("2", RPC_FRAMEWORK, NO_TYPE, NULL),
    BAD("null", RPC_FRAMEWORK, NO_TYPE, NULL),
    /* broken JSON after a readable prefix: the id is still recovered */
    BAD("[2,\"abc\",\"Heartbeat\",{]", RPC_FRAMEWORK, RPC_CALL, "abc"),
    BAD("[2,\"abc\",\"Heartbeat\",{}", RPC_FRAMEWORK, RPC_CALL, "abc"),
    BAD("[2,\"abc\",\"Heartbeat\",{}] trailing", RPC_FRAMEWORK, RPC_CALL, "abc"),
    BAD("[2,\"abc\",\"Heartbeat\",{}][]", RPC_FRAMEWORK, RPC_CALL, "abc"),
    BAD("[2,\"abc\",\"Heartbeat\",{\"a\":1,\"a\":2}]", RPC_FRAMEWORK, RPC_CALL, "abc"),
    BAD("[2,\"abc\",\"Heartbeat\",{\"a\":\"\\u0000\"}]", RPC_FRAMEWORK, RPC_CALL, "abc"),
    BAD("[2,\"abc\",\"Heartbeat\",{\"a\":\"\xff\"}]", RPC_FRAMEWORK, RPC_CALL, "abc"),
    BAD("[2,\"abc\",\"Heartbeat\",{'a':1}]", RPC_FRAMEWORK, RPC_CALL, "abc"),
    BAD("[2,\"abc\",\"Heartbeat\",{\"a\":NaN}]", RPC_FRAMEWORK, RPC_CALL, "abc"),
    BAD("[3,\"r1\",{\"a\":01}]", RPC_FRAMEWORK, RPC_CALLRESULT, "r1"),
    /* ... but only a plain id: escapes, control bytes or an empty id are not guessed at */
    BAD("[2,\"a\\\"b\",\"Heartbeat\",{]", RPC_FRAMEWORK, RPC_CALL, NULL),
    BAD("[2,\"\",\"Heartbeat\",{]", RPC_FRAMEWORK, RPC_CALL, NULL),
    BAD("[2,\"a\tb\",\"Heartbeat\",{]", RPC_FRAMEWORK, RPC_CALL, NULL),
    BAD("[2 \"abc\",\"Heartbeat\",{}]", RPC_FRAMEWORK, NO_TYPE, NULL),
    BAD("[22,\"abc\",\"Heartbeat\",{]", RPC_FRAMEWORK, NO_TYPE, NULL),
    BAD("[99999999999999999999,\"abc\"]", RPC_FRAMEWORK, NO_TYPE, NULL),

    /* message type id */
    BAD("[]", RPC_FRAMEWORK, NO_TYPE, NULL),
    BAD("[\"2\",\"1\",\"Heartbeat\",{}]", RPC_FRAMEWORK, NO_TYPE, "1"),
    BAD("[2.0,\"1\",\"Heartbeat\",{}]", RPC_FRAMEWORK, NO_TYPE, "1"),
    BAD("[null,\"1\",\"Heartbeat\",{}]", RPC_FRAMEWORK, NO_TYPE, "1"),
    BAD("[true,\"1\"]", RPC_FRAMEWORK, NO_TYPE, "1"),
    BAD("[5,\"1\",{}]", MESSAGE_TYPE_NOT_SUPPORTED, NO_TYPE, "1"),
    BAD("[1,\"1\",\"Heartbeat\",{}]", MESSAGE_TYPE_NOT_SUPPORTED, NO_TYPE, "1"),
    BAD("[6,\"1\",\"Heartbeat\",{}]", MESSAGE_TYPE_NOT_SUPPORTED, NO_TYPE, "1"),
    BAD("[-1,\"1\"]", MESSAGE_TYPE_NOT_SUPPORTED, NO_TYPE, "1"),
    BAD("[0]", MESSAGE_TYPE_NOT_SUPPORTED, NO_TYPE, NULL),
    BAD("[7,3]", MESSAGE_TYPE_NOT_SUPPORTED, NO_TYPE, NULL),

    /* unique id */
    BAD("[2]", RPC_FRAMEWORK, RPC_CALL, NULL),
    BAD("[2,1,\"Heartbeat\",{}]", RPC_FRAMEWORK, RPC_CALL, NULL),
    BAD("[2,null,\"Heartbeat\",{}]", RPC_FRAMEWORK, RPC_CALL, NULL),
    BAD("[2,[\"1\"],\"Heartbeat\",{}]", RPC_FRAMEWORK, RPC_CALL, NULL),
    BAD("[2,\"\",\"Heartbeat\",{}]", RPC_FRAMEWORK, RPC_CALL, ""),
    BAD("[2,\"" ID36 "7\",\"Heartbeat\",{}]", RPC_FRAMEWORK, RPC_CALL, ID36 "7"),
    BAD("[3,\"" ID36 "789\",{}]", RPC_FRAMEWORK, RPC_CALLRESULT, ID36 "789"),
    /* too long to copy whole: kept truncated for the log, but not offered as answerable */
    BAD("[2,\"" ID36 "7890\",\"Heartbeat\",{}]", RPC_FRAMEWORK, RPC_CALL, NULL),

    /* CALL shape */
    BAD("[2,\"1\"]", RPC_FRAMEWORK, RPC_CALL, "1"),
    BAD("[2,\"1\",\"Heartbeat\"]", RPC_FRAMEWORK, RPC_CALL, "1"),
    BAD("[2,\"1\",\"Heartbeat\",{},{}]", RPC_FRAMEWORK, RPC_CALL, "1"),
    BAD("[2,\"1\",{},\"Heartbeat\"]", RPC_FRAMEWORK, RPC_CALL, "1"),
    BAD("[2,\"1\",5,{}]", RPC_FRAMEWORK, RPC_CALL, "1"),
    BAD("[2,\"1\",null,{}]", RPC_FRAMEWORK, RPC_CALL, "1"),
    BAD("[2,\"1\",\"\",{}]", RPC_FRAMEWORK, RPC_CALL, "1"),
    BAD("[2,\"1\",\"Heartbeat\",[]]", RPC_FRAMEWORK, RPC_CALL, "1"),
    BAD("[2,\"1\",\"Heartbeat\",null]", RPC_FRAMEWORK, RPC_CALL, "1"),
    BAD("[2,\"1\",\"Heartbeat\",\"{}\"]", RPC_FRAMEWORK, RPC_CALL, "1"),
    /* CALLRESULT shape */
    BAD("[3,\"1\"]", RPC_FRAMEWORK, RPC_CALLRESULT, "1"),
    BAD("[3,\"1\",[]]", RPC_FRAMEWORK, RPC_CALLRESULT, "1"),
    BAD("[3,\"1\",null]", RPC_FRAMEWORK, RPC_CALLRESULT, "1"),
    BAD("[3,\"1\",{},{}]", RPC_FRAMEWORK, RPC_CALLRESULT, "1"),
    BAD("[3,\"1\",\"Heartbeat\",{}]", RPC_FRAMEWORK, RPC_CALLRESULT, "1"),
    /* CALLERROR shape */
    BAD("[4,\"1\",\"GenericError\",\"\"]", RPC_FRAMEWORK, RPC_CALLERROR, "1"),
    BAD("[4,\"1\",\"GenericError\",\"\",{},{}]", RPC_FRAMEWORK, RPC_CALLERROR, "1"),
    BAD("[4,\"1\",7,\"\",{}]", RPC_FRAMEWORK, RPC_CALLERROR, "1"),
    BAD("[4,\"1\",\"GenericError\",null,{}]", RPC_FRAMEWORK, RPC_CALLERROR, "1"),
    BAD("[4,\"1\",\"GenericError\",\"\",null]", RPC_FRAMEWORK, RPC_CALLERROR, "1"),
    BAD("[4,\"1\",\"GenericError\",\"\",[]]", RPC_FRAMEWORK, RPC_CALLERROR, "1"),
};

static void test_rpc__envelope_table(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof(envelope_cases) / sizeof(envelope_cases[0]); i++) {
        const struct envelope_case *c = &envelope_cases[i];
        struct rpc_msg msg;
        struct ocpp_error err = {0};
        int rc = rpc_parse(c->text, strlen(c->text), &limits, &msg, &err);
        bool ok = rc == c->rc;
        if (ok && rc != 0) ok = err.code == c->code && err.description[0] != '\0';
        if (ok && rc != 0) ok = !msg.root && !msg.payload && !msg.action && !msg.error_code;
        if (ok && c->type != ANY_TYPE) ok = (int)msg.type == c->type;
        if (ok) ok = msg.has_id == (c->id != NULL) && (!c->id || strcmp(msg.id, c->id) == 0);
        if (ok && rc == 0) {
            ok = msg.root && msg.payload && json_is_object(msg.payload);
            if (msg.type == RPC_CALL) ok = ok && msg.action && msg.action[0];
            if (msg.type == RPC_CALLERROR) ok = ok && msg.error_code && msg.error_description;
        }
        if (!ok) {
            failures++;
            print_error("case %zu %s: rc=%d code=%s type=%d has_id=%d id='%s' (%s)\n", i, c->text,
                        rc, ocpp_errcode_name(err.code, OCPP_V201), (int)msg.type, msg.has_id,
                        msg.id, err.description);
        }
        rpc_msg_clear(&msg);
    }
    assert_int_equal(failures, 0);
}

static void test_rpc__parsed_fields(void **state)
{
    (void)state;
    struct rpc_msg msg;
    struct ocpp_error err;
    const char *call = "[2,\"id-7\",\"BootNotification\",{\"a\":1}]";
    assert_int_equal(rpc_parse(call, strlen(call), &limits, &msg, &err), 0);
    assert_int_equal(msg.type, RPC_CALL);
    assert_string_equal(msg.action, "BootNotification");
    assert_int_equal(json_integer_value(json_object_get(msg.payload, "a")), 1);
    assert_null(msg.error_code);
    rpc_msg_clear(&msg);
    assert_null(msg.root);

    const char *error = "[4,\"id-8\",\"NotSupported\",\"no such thing\",{\"x\":true}]";
    assert_int_equal(rpc_parse(error, strlen(error), &limits, &msg, &err), 0);
    assert_int_equal(msg.type, RPC_CALLERROR);
    assert_string_equal(msg.id, "id-8");
    assert_string_equal(msg.error_code, "NotSupported");
    assert_string_equal(msg.error_description, "no such thing");
    assert_true(json_is_true(json_object_get(msg.payload, "x")));
    assert_null(msg.action);
    rpc_msg_clear(&msg);
    rpc_msg_clear(NULL);
}

/* An id too long to copy is kept, cut and marked, for the log only. */
static void test_rpc__long_id_kept_for_logs(void **state)
{
    (void)state;
    struct rpc_msg msg;
    struct ocpp_error err;
    const char *frame = "[2,\"" ID36 "abcdefgh\",\"Heartbeat\",{}]";
    assert_int_equal(rpc_parse(frame, strlen(frame), &limits, &msg, &err), OD_EPARSE);
    assert_false(msg.has_id);
    assert_string_equal(msg.id, ID36 "...");
    rpc_msg_clear(&msg);
    /* never cut inside a character */
    frame = "[2,\"12345678901234567890123456789012345\xc3\xa9xxxxxxx\",\"Heartbeat\",{}]";
    assert_int_equal(rpc_parse(frame, strlen(frame), &limits, &msg, &err), OD_EPARSE);
    assert_string_equal(msg.id, "12345678901234567890123456789012345...");
    rpc_msg_clear(&msg);
}

/* The text need not be NUL-terminated: only len bytes are read. */
static void test_rpc__reads_only_len_bytes(void **state)
{
    (void)state;
    const char frame[] = "[3,\"1\",{}]garbage";
    struct rpc_msg msg;
    struct ocpp_error err;
    char *copy = malloc(10);
    memcpy(copy, frame, 10);
    assert_int_equal(rpc_parse(copy, 10, &limits, &msg, &err), 0);
    assert_int_equal(msg.type, RPC_CALLRESULT);
    rpc_msg_clear(&msg);
    free(copy);
}

/* ---- limits ----------------------------------------------------------------------------- */

static void test_rpc__oversize_refused_with_id(void **state)
{
    (void)state;
    struct rpc_limits lim = {.max_frame_bytes = 100, .max_depth = 32};
    char frame[200];
    int n = snprintf(frame, sizeof(frame), "[2,\"big-1\",\"DataTransfer\",{\"vendorId\":\"%0120d\"}]",
                     0);
    struct rpc_msg msg;
    struct ocpp_error err;
    assert_int_equal(rpc_parse(frame, (size_t)n, &lim, &msg, &err), OD_ETOOBIG);
    assert_int_equal(err.code, OCPP_ERR_FORMAT);
    assert_true(msg.has_id);
    assert_string_equal(msg.id, "big-1");
    assert_int_equal(msg.type, RPC_CALL);
    assert_null(msg.root);
    rpc_msg_clear(&msg);

    /* exactly at the limit is fine */
    lim.max_frame_bytes = (size_t)n;
    assert_int_equal(rpc_parse(frame, (size_t)n, &lim, &msg, &err), 0);
    rpc_msg_clear(&msg);
}

static void test_rpc__depth_bomb_refused_before_parsing(void **state)
{
    (void)state;
    size_t n = 100000;
    char *bomb = malloc(n + 8);
    memcpy(bomb, "[2,\"d\",", 7);
    memset(bomb + 7, '[', n);
    struct rpc_limits lim = {.max_frame_bytes = 2 * n, .max_depth = 32};
    struct rpc_msg msg;
    struct ocpp_error err;
    assert_int_equal(rpc_parse(bomb, n + 7, &lim, &msg, &err), OD_EPARSE);
    assert_int_equal(err.code, OCPP_ERR_FORMAT);
    assert_true(msg.has_id);
    assert_string_equal(msg.id, "d");
    rpc_msg_clear(&msg);

    memset(bomb, '{', n); /* objects count too */
    assert_int_equal(rpc_parse(bomb, n, &lim, &msg, &err), OD_EPARSE);
    assert_int_equal(err.code, OCPP_ERR_FORMAT);
    assert_false(msg.has_id);
    rpc_msg_clear(&msg);
    free(bomb);
}

/* Builds [3,"x",{"a":{"a":...{}...}}] with `depth` levels of nesting counting the array. */
static char *nested_frame(int depth)
{
    size_t cap = (size_t)depth * 8 + 32;
    char *s = malloc(cap);
    strcpy(s, "[3,\"x\",");
    for (int i = 1; i < depth - 1; i++) strcat(s, "{\"a\":");
    strcat(s, "{}");
    for (int i = 1; i < depth - 1; i++) strcat(s, "}");
    strcat(s, "]");
    return s;
}

static void test_rpc__depth_limit_is_exact(void **state)
{
    (void)state;
    struct rpc_msg msg;
    struct ocpp_error err;
    char *at = nested_frame(32), *over = nested_frame(33);
    assert_int_equal(rpc_parse(at, strlen(at), &limits, &msg, &err), 0);
    rpc_msg_clear(&msg);
    assert_int_equal(rpc_parse(over, strlen(over), &limits, &msg, &err), OD_EPARSE);
    assert_int_equal(err.code, OCPP_ERR_FORMAT);
    assert_string_equal(msg.id, "x");
    rpc_msg_clear(&msg);
    /* NULL and zeroed limits mean the defaults (65536 bytes, depth 32) */
    struct rpc_limits zero = {0};
    assert_int_equal(rpc_parse(at, strlen(at), NULL, &msg, &err), 0);
    rpc_msg_clear(&msg);
    assert_int_equal(rpc_parse(over, strlen(over), &zero, &msg, &err), OD_EPARSE);
    rpc_msg_clear(&msg);
    free(at);
    free(over);
}

/* Brackets inside strings, including after escaped quotes and backslashes, are not nesting. */
static void test_rpc__depth_scan_skips_strings(void **state)
{
    (void)state;
    struct rpc_limits lim = {.max_frame_bytes = 65536, .max_depth = 3};
    struct rpc_msg msg;
    struct ocpp_error err;
    const char *ok = "[2,\"[[[[\",\"DataTransfer\",{\"data\":\"\\\"[[[[{{{{\\\\\",\"k\":\"]]\"}]";
    assert_int_equal(rpc_parse(ok, strlen(ok), &lim, &msg, &err), 0);
    assert_string_equal(msg.id, "[[[[");
    rpc_msg_clear(&msg);
    const char *deep = "[2,\"x\",\"DataTransfer\",{\"data\":\"\\\\\",\"k\":[[1]]}]";
    assert_int_equal(rpc_parse(deep, strlen(deep), &lim, &msg, &err), OD_EPARSE);
    assert_int_equal(err.code, OCPP_ERR_FORMAT);
    rpc_msg_clear(&msg);
}

/* ---- builders --------------------------------------------------------------------------- */

static void test_rpc__build_exact_text_with_headroom(void **state)
{
    (void)state;
    json_t *p = json_pack("{s:s, s:i, s:f, s:[b,n]}", "status", "Accepted", "interval", 300,
                          "limit", 16.3, "list", 1);
    size_t len;
    char *b = rpc_build_result(16, "abc", p, &len);
    const char *want = "[3,\"abc\",{\"status\":\"Accepted\",\"interval\":300,\"limit\":16.3,"
                       "\"list\":[true,null]}]";
    assert_string_equal(b + 16, want);
    assert_int_equal(len, strlen(want));
    for (int i = 0; i < 16; i++) assert_int_equal(b[i], 0);
    free(b);

    b = rpc_build_call(0, "m-1", "Reset", NULL, &len);
    assert_string_equal(b, "[2,\"m-1\",\"Reset\",{}]");
    assert_int_equal(len, strlen(b));
    free(b);

    struct ocpp_error err;
    ocpp_error_set(&err, OCPP_ERR_OCCURRENCE_CONSTRAINT, "/idTag", "required property missing");
    b = rpc_build_error(4, OCPP_V16, "c1", &err, &len);
    assert_string_equal(b + 4, "[4,\"c1\",\"OccurenceConstraintViolation\","
                               "\"required property missing\",{\"path\":\"/idTag\"}]");
    free(b);
    ocpp_error_set(&err, OCPP_ERR_RPC_FRAMEWORK, NULL, "bad");
    b = rpc_build_error(0, OCPP_V201, NULL, &err, &len);
    assert_string_equal(b, "[4,\"-1\",\"RpcFrameworkError\",\"bad\",{}]");
    free(b);
    b = rpc_build_error(0, OCPP_V16, "z", &err, &len);
    assert_string_equal(b, "[4,\"z\",\"FormationViolation\",\"bad\",{}]");
    free(b);
    json_decref(p);
}

/* A payload that is not an object is a programming error: no frame is produced. */
static void test_rpc__build_refuses_non_object(void **state)
{
    (void)state;
    json_t *arr = json_array();
    size_t len = 99;
    assert_null(rpc_build_call(0, "1", "Reset", arr, &len));
    assert_null(rpc_build_result(8, "1", arr, &len));
    json_decref(arr);
}

static void test_rpc__build_parse_round_trip(void **state)
{
    (void)state;
    json_t *p = json_pack("{s:s, s:{s:[i,i,i], s:f}, s:s}", "vendorId", "X\"\\\x01/\xc3\xa9",
                          "nested", "a", 1, 2, 3, "r", 0.5, "u", "\xe2\x82\xac");
    struct ocpp_error err;
    ocpp_error_set(&err, OCPP_ERR_PROPERTY_CONSTRAINT, "/nested/a/1", "%s", "desc \"quoted\"");
    for (int round = 0; round < 3; round++) {
        size_t len;
        const char *id = "id \"\\ \x7f";
        char *b = round == 0   ? rpc_build_call(32, id, "DataTransfer", p, &len)
                  : round == 1 ? rpc_build_result(32, id, p, &len)
                               : rpc_build_error(32, OCPP_V201, id, &err, &len);
        assert_non_null(b);
        assert_int_equal(strlen(b + 32), len);
        struct rpc_msg msg;
        struct ocpp_error perr;
        assert_int_equal(rpc_parse(b + 32, len, &limits, &msg, &perr), 0);
        assert_string_equal(msg.id, id);
        if (round == 0) {
            assert_int_equal(msg.type, RPC_CALL);
            assert_string_equal(msg.action, "DataTransfer");
        }
        if (round < 2) {
            assert_true(json_equal(msg.payload, p));
        } else {
            assert_int_equal(msg.type, RPC_CALLERROR);
            enum ocpp_errcode code;
            assert_true(ocpp_errcode_parse(msg.error_code, &code));
            assert_int_equal(code, OCPP_ERR_PROPERTY_CONSTRAINT);
            assert_string_equal(msg.error_description, "desc \"quoted\"");
            assert_string_equal(json_string_value(json_object_get(msg.payload, "path")),
                                "/nested/a/1");
        }
        rpc_msg_clear(&msg);
        free(b);
    }
    json_decref(p);
}

/* Ids come from peers; whatever bytes they hold, the frame we build must be valid JSON. */
static void test_rpc__build_sanitises_invalid_utf8(void **state)
{
    (void)state;
    const char *bad[] = {"\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                         "\xe2\x82", "ok\xe2\x82\xac"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t len;
        char *b = rpc_build_result(0, bad[i], NULL, &len);
        json_error_t jerr;
        json_t *v = json_loadb(b, len, 0, &jerr);
        assert_non_null(v);
        json_decref(v);
        free(b);
    }
    size_t len;
    char *b = rpc_build_result(0, "a\xff" "b", NULL, &len);
    assert_string_equal(b, "[3,\"a\\ufffdb\",{}]");
    free(b);
}

/* ---- error codes ------------------------------------------------------------------------ */

static const char *const v16_names[] = {
    "NotImplemented", "NotSupported", "InternalError", "ProtocolError", "SecurityError",
    "FormationViolation", "PropertyConstraintViolation", "OccurenceConstraintViolation",
    "TypeConstraintViolation", "GenericError"};
static const char *const v201_names[] = {
    "FormatViolation", "GenericError", "InternalError", "MessageTypeNotSupported",
    "NotImplemented", "NotSupported", "OccurenceConstraintViolation",
    "PropertyConstraintViolation", "ProtocolError", "RpcFrameworkError", "SecurityError",
    "TypeConstraintViolation"};

static bool in_list(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0) return true;
    return false;
}

static void test_rpc__error_names_per_version(void **state)
{
    (void)state;
    for (int c = 0; c < OCPP_ERR__COUNT; c++) {
        const char *n16 = ocpp_errcode_name((enum ocpp_errcode)c, OCPP_V16);
        const char *n201 = ocpp_errcode_name((enum ocpp_errcode)c, OCPP_V201);
        if (!in_list(n16, v16_names, sizeof(v16_names) / sizeof(v16_names[0])))
            fail_msg("code %d: '%s' is not an OCPP 1.6 error code", c, n16);
        if (!in_list(n201, v201_names, sizeof(v201_names) / sizeof(v201_names[0])))
            fail_msg("code %d: '%s' is not an OCPP 2.0.1 error code", c, n201);
    }
    /* every 2.0.1 name is reachable */
    for (size_t i = 0; i < sizeof(v201_names) / sizeof(v201_names[0]); i++) {
        bool found = false;
        for (int c = 0; c < OCPP_ERR__COUNT; c++)
            found |= strcmp(ocpp_errcode_name((enum ocpp_errcode)c, OCPP_V201), v201_names[i]) == 0;
        if (!found) fail_msg("'%s' never produced", v201_names[i]);
    }
    assert_string_equal(ocpp_errcode_name(OCPP_ERR_FORMAT, OCPP_V16), "FormationViolation");
    assert_string_equal(ocpp_errcode_name(OCPP_ERR_FORMAT, OCPP_V201), "FormatViolation");
    assert_string_equal(ocpp_errcode_name(OCPP_ERR_RPC_FRAMEWORK, OCPP_V16), "FormationViolation");
    assert_string_equal(ocpp_errcode_name(OCPP_ERR_MESSAGE_TYPE_NOT_SUPPORTED, OCPP_V16),
                        "FormationViolation");
    /* 2.0.1 keeps the 1.6 misspelling; OCPP 2.1 is the first to write "Occurrence" */
    assert_string_equal(ocpp_errcode_name(OCPP_ERR_OCCURRENCE_CONSTRAINT, OCPP_V201),
                        "OccurenceConstraintViolation");
    assert_string_equal(ocpp_errcode_name((enum ocpp_errcode)999, OCPP_V16), "GenericError");
    assert_string_equal(ocpp_version_name(OCPP_V16), "ocpp1.6");
    assert_string_equal(ocpp_version_name(OCPP_V201), "ocpp2.0.1");
}

static void test_rpc__error_names_parse(void **state)
{
    (void)state;
    enum ocpp_errcode c;
    assert_true(ocpp_errcode_parse("FormationViolation", &c));
    assert_int_equal(c, OCPP_ERR_FORMAT);
    assert_true(ocpp_errcode_parse("FormatViolation", &c));
    assert_int_equal(c, OCPP_ERR_FORMAT);
    assert_true(ocpp_errcode_parse("RpcFrameworkError", &c));
    assert_int_equal(c, OCPP_ERR_RPC_FRAMEWORK);
    assert_true(ocpp_errcode_parse("MessageTypeNotSupported", &c));
    assert_int_equal(c, OCPP_ERR_MESSAGE_TYPE_NOT_SUPPORTED);
    assert_true(ocpp_errcode_parse("OccurenceConstraintViolation", &c));
    assert_int_equal(c, OCPP_ERR_OCCURRENCE_CONSTRAINT);
    assert_true(ocpp_errcode_parse("OccurrenceConstraintViolation", &c));
    assert_int_equal(c, OCPP_ERR_OCCURRENCE_CONSTRAINT);
    for (size_t i = 0; i < sizeof(v16_names) / sizeof(v16_names[0]); i++)
        assert_true(ocpp_errcode_parse(v16_names[i], &c));
    for (size_t i = 0; i < sizeof(v201_names) / sizeof(v201_names[0]); i++) {
        assert_true(ocpp_errcode_parse(v201_names[i], &c));
        assert_string_equal(ocpp_errcode_name(c, OCPP_V201), v201_names[i]);
    }
    assert_false(ocpp_errcode_parse("formatviolation", &c));
    assert_false(ocpp_errcode_parse("", &c));
    assert_false(ocpp_errcode_parse(NULL, &c));
}

static void test_rpc__error_set_truncates_cleanly(void **state)
{
    (void)state;
    struct ocpp_error err;
    char longdesc[400], longpath[200];
    /* 2-byte characters: the 159-byte limit lands inside the 80th */
    longdesc[0] = '\0';
    for (int i = 0; i < 150; i++) strcat(longdesc, "\xc3\xa9");
    strcpy(longpath, "/");
    for (int i = 0; i < 60; i++) strcat(longpath, "\xe2\x82\xac");
    assert_ptr_equal(ocpp_error_set(&err, OCPP_ERR_GENERIC, longpath, "%s", longdesc), &err);
    assert_int_equal(err.code, OCPP_ERR_GENERIC);
    assert_true(strlen(err.description) < sizeof(err.description));
    assert_true(strlen(err.path) < sizeof(err.path));
    json_t *d = json_string(err.description), *p = json_string(err.path);
    assert_non_null(d); /* json_string() refuses invalid UTF-8 */
    assert_non_null(p);
    assert_int_equal(strlen(err.description), sizeof(err.description) - 2);
    json_decref(d);
    json_decref(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rpc__envelope_table),
        cmocka_unit_test(test_rpc__parsed_fields),
        cmocka_unit_test(test_rpc__long_id_kept_for_logs),
        cmocka_unit_test(test_rpc__reads_only_len_bytes),
        cmocka_unit_test(test_rpc__oversize_refused_with_id),
        cmocka_unit_test(test_rpc__depth_bomb_refused_before_parsing),
        cmocka_unit_test(test_rpc__depth_limit_is_exact),
        cmocka_unit_test(test_rpc__depth_scan_skips_strings),
        cmocka_unit_test(test_rpc__build_exact_text_with_headroom),
        cmocka_unit_test(test_rpc__build_refuses_non_object),
        cmocka_unit_test(test_rpc__build_parse_round_trip),
        cmocka_unit_test(test_rpc__build_sanitises_invalid_utf8),
        cmocka_unit_test(test_rpc__error_names_per_version),
        cmocka_unit_test(test_rpc__error_names_parse),
        cmocka_unit_test(test_rpc__error_set_truncates_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
