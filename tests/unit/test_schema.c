/*
 * test_schema.c — unit tests for payload validation (ocpp/schema.c) against the compiled
 * official schemas.
 *
 * Three sources of cases: the hand-written tables in tests/data/<version>/{valid,invalid}/ (one
 * file per case, each keyword and error class); frames real chargers sent
 * (tests/data/real-chargers.json); and examples generated here from the compiled tables, so
 * every request and response schema of both versions is exercised. The keywords only our own
 * schema files use (schemas/admin.json) are tested on tests/data/schema-keywords.json, compiled
 * by the same generator. Usage: test_schema DATADIR.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ocpp16_schema.h"
#include "ocpp201_schema.h"
#include "od.h"
#include "rpc.h"
#include "schema.h"
#include "schematest_schema.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *data_dir = "tests/data";

static enum ocpp_version version_of(const char *name)
{
    return strcmp(name, "ocpp2.0.1") == 0 ? OCPP_V201 : OCPP_V16;
}

static bool code_by_name(const char *name, enum ocpp_errcode *out)
{
    static const char *const names[] = {
#define ERRCODE_NAME(name, v16, v201) #name,
        OCPP_ERRCODE_MAP(ERRCODE_NAME)
#undef ERRCODE_NAME
    };
    for (int i = 0; i < OCPP_ERR__COUNT; i++) {
        if (strcmp(names[i], name) == 0) {
            *out = (enum ocpp_errcode)i;
            return true;
        }
    }
    return false;
}

static bool is_validation_code(enum ocpp_errcode c)
{
    return c == OCPP_ERR_FORMAT || c == OCPP_ERR_TYPE_CONSTRAINT ||
           c == OCPP_ERR_PROPERTY_CONSTRAINT || c == OCPP_ERR_OCCURRENCE_CONSTRAINT;
}

/* ---- lookups ---------------------------------------------------------------------------- */

static void test_schema__find_per_version(void **state)
{
    (void)state;
    const struct ocpp_schema *req = ocpp_schema_find(OCPP_V16, "BootNotification", true);
    const struct ocpp_schema *conf = ocpp_schema_find(OCPP_V16, "BootNotification", false);
    assert_non_null(req);
    assert_non_null(conf);
    assert_ptr_not_equal(req, conf);
    assert_ptr_not_equal(req, ocpp_schema_find(OCPP_V201, "BootNotification", true));
    /* 1.6-only, 2.0.1-only, 1.6 security whitepaper */
    assert_true(ocpp_action_known(OCPP_V16, "StartTransaction"));
    assert_false(ocpp_action_known(OCPP_V201, "StartTransaction"));
    assert_true(ocpp_action_known(OCPP_V201, "TransactionEvent"));
    assert_false(ocpp_action_known(OCPP_V16, "TransactionEvent"));
    assert_true(ocpp_action_known(OCPP_V16, "SecurityEventNotification"));
    assert_true(ocpp_action_known(OCPP_V16, "SignedUpdateFirmware"));
    /* exact, case-sensitive names */
    assert_false(ocpp_action_known(OCPP_V16, "bootnotification"));
    assert_false(ocpp_action_known(OCPP_V16, "BootNotification "));
    assert_false(ocpp_action_known(OCPP_V16, ""));
    assert_false(ocpp_action_known(OCPP_V16, NULL));
    assert_null(ocpp_schema_find(OCPP_V201, "Nope", true));
    assert_null(ocpp_schema_find((enum ocpp_version)7, "BootNotification", true));
}

struct foreach_acc {
    int n;
    char last[64];
    bool sorted;
};

static void foreach_cb(const char *action, void *ctx)
{
    struct foreach_acc *a = ctx;
    if (a->n && strcmp(a->last, action) >= 0) a->sorted = false;
    snprintf(a->last, sizeof(a->last), "%s", action);
    a->n++;
}

static void test_schema__foreach_sorted_and_complete(void **state)
{
    (void)state;
    struct foreach_acc a = {.sorted = true};
    ocpp_action_foreach(OCPP_V16, foreach_cb, &a);
    /* 28 core actions + 11 from the 1.6 security whitepaper */
    assert_int_equal(a.n, 39);
    assert_true(a.sorted);
    struct foreach_acc b = {.sorted = true};
    ocpp_action_foreach(OCPP_V201, foreach_cb, &b);
    assert_int_equal(b.n, 64);
    assert_true(b.sorted);
}

/* ---- tests/data tables ------------------------------------------------------------------ */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Runs every case file (*.json) in tests/data/<version>/<kind>/. Each file is
 * {"action": ..., "request": bool, "payload": ..., "expect": "ok" | "<OCPP_ERR_* suffix>",
 *  "path": "<JSON pointer>" (optional, checked when present)}.
 */
static void run_data_dir(const char *version, const char *kind, int min_cases)
{
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/%s/%s", data_dir, version, kind);
    DIR *d = opendir(dir);
    if (!d) fail_msg("cannot open %s", dir);
    char *files[512];
    int nfiles = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nfiles < 512) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0) files[nfiles++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(files, (size_t)nfiles, sizeof(files[0]), name_cmp);

    int failures = 0;
    for (int i = 0; i < nfiles; i++) {
        char path[1400];
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        json_error_t jerr;
        json_t *c = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
        const char *action = json_string_value(json_object_get(c, "action"));
        const char *expect = json_string_value(json_object_get(c, "expect"));
        const char *want_path = json_string_value(json_object_get(c, "path"));
        json_t *req = json_object_get(c, "request");
        json_t *payload = json_object_get(c, "payload");
        if (!c || !action || !expect || !json_is_boolean(req) || !payload) {
            print_error("%s: malformed case file (%s)\n", path, c ? "fields" : jerr.text);
            failures++;
            json_decref(c);
            continue;
        }
        const struct ocpp_schema *s =
            ocpp_schema_find(version_of(version), action, json_is_true(req));
        enum ocpp_errcode want = 0;
        bool want_ok = strcmp(expect, "ok") == 0;
        if (!s || (!want_ok && !code_by_name(expect, &want))) {
            print_error("%s: unknown action or expect value\n", path);
            failures++;
            json_decref(c);
            continue;
        }
        /* the kind directory must agree with the file's expectation */
        if (want_ok != (strcmp(kind, "valid") == 0)) {
            print_error("%s: expect '%s' in the %s directory\n", path, expect, kind);
            failures++;
        }
        struct ocpp_error err = {0};
        int rc = ocpp_schema_validate(s, payload, &err);
        if (want_ok && rc != 0) {
            print_error("%s: expected ok, got %s at '%s': %s\n", path,
                        ocpp_errcode_name(err.code, OCPP_V201), err.path, err.description);
            failures++;
        } else if (!want_ok && (rc != OD_EINVAL || err.code != want)) {
            print_error("%s: expected %s, got %s (%s)\n", path, expect,
                        rc ? ocpp_errcode_name(err.code, OCPP_V201) : "ok", err.description);
            failures++;
        } else if (!want_ok && want_path && strcmp(want_path, err.path) != 0) {
            print_error("%s: expected path '%s', got '%s'\n", path, want_path, err.path);
            failures++;
        }
        json_decref(c);
    }
    for (int i = 0; i < nfiles; i++) free(files[i]);
    if (nfiles < min_cases) fail_msg("%s: only %d cases, expected at least %d", dir, nfiles,
                                     min_cases);
    assert_int_equal(failures, 0);
}

static void test_schema__data_v16_valid(void **state)
{
    (void)state;
    run_data_dir("ocpp1.6", "valid", 15);
}

static void test_schema__data_v16_invalid(void **state)
{
    (void)state;
    run_data_dir("ocpp1.6", "invalid", 15);
}

static void test_schema__data_v201_valid(void **state)
{
    (void)state;
    run_data_dir("ocpp2.0.1", "valid", 10);
}

static void test_schema__data_v201_invalid(void **state)
{
    (void)state;
    run_data_dir("ocpp2.0.1", "invalid", 10);
}

/* ---- real chargers ---------------------------------------------------------------------- */

/*
 * Every frame from tests/data/real-chargers.json goes through rpc_parse() and the request
 * schema of its action: conformant:true must validate, conformant:false must fail with a
 * validation code, "unsure" may do either.
 */
static void test_schema__real_chargers(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof(path), "%s/real-chargers.json", data_dir);
    json_error_t jerr;
    json_t *all = json_load_file(path, 0, &jerr);
    if (!json_is_array(all)) fail_msg("%s: %s", path, jerr.text);
    int failures = 0, conformant = 0, nonconformant = 0;
    size_t i;
    json_t *c;
    json_array_foreach(all, i, c) {
        const char *id = json_string_value(json_object_get(c, "id"));
        const char *proto = json_string_value(json_object_get(c, "protocol"));
        json_t *conf = json_object_get(c, "conformant");
        char *text = json_dumps(json_object_get(c, "frame"), JSON_COMPACT);
        struct rpc_msg msg;
        struct ocpp_error err = {0};
        if (!text || !proto || rpc_parse(text, strlen(text), NULL, &msg, &err) != 0 ||
            msg.type != RPC_CALL) {
            print_error("%s: frame does not parse: %s\n", id, err.description);
            failures++;
            free(text);
            rpc_msg_clear(&msg);
            continue;
        }
        const struct ocpp_schema *s = ocpp_schema_find(version_of(proto), msg.action, true);
        int rc = s ? ocpp_schema_validate(s, msg.payload, &err) : -1;
        if (!s) {
            print_error("%s: unknown action %s\n", id, msg.action);
            failures++;
        } else if (json_is_true(conf)) {
            conformant++;
            if (rc != 0) {
                print_error("%s: conformant frame refused: %s at '%s': %s\n", id,
                            ocpp_errcode_name(err.code, OCPP_V201), err.path, err.description);
                failures++;
            }
        } else if (json_is_false(conf)) {
            nonconformant++;
            if (rc == 0 || !is_validation_code(err.code)) {
                print_error("%s: non-conformant frame accepted\n", id);
                failures++;
            }
        } else if (rc != 0 && !is_validation_code(err.code)) {
            print_error("%s: unsure frame failed with a non-validation code\n", id);
            failures++;
        }
        rpc_msg_clear(&msg);
        free(text);
    }
    json_decref(all);
    assert_true(conformant >= 40);
    assert_true(nonconformant >= 2);
    assert_int_equal(failures, 0);
}

/* ---- focused behaviours ----------------------------------------------------------------- */

static int validate_text(enum ocpp_version v, const char *action, bool request, const char *json,
                         struct ocpp_error *err)
{
    json_error_t jerr;
    json_t *p = json_loads(json, JSON_DECODE_ANY, &jerr);
    assert_non_null(p);
    int rc = ocpp_schema_validate(ocpp_schema_find(v, action, request), p, err);
    json_decref(p);
    return rc;
}

static void test_schema__path_is_escaped_json_pointer(void **state)
{
    (void)state;
    struct ocpp_error err;
    assert_int_equal(validate_text(OCPP_V16, "Heartbeat", true, "{\"a/b~c\":1}", &err), OD_EINVAL);
    assert_int_equal(err.code, OCPP_ERR_FORMAT);
    assert_string_equal(err.path, "/a~1b~0c");
    /* array indexes, through a $ref'd definition in 2.0.1 */
    assert_int_equal(
        validate_text(OCPP_V201, "SetVariables", true,
                      "{\"setVariableData\":[{\"attributeValue\":\"1\",\"component\":{\"name\":"
                      "\"A\"},\"variable\":{\"name\":\"B\"}},{\"attributeValue\":\"1\","
                      "\"component\":{\"name\":\"A\",\"evse\":{}},\"variable\":{\"name\":\"B\"}}]}",
                      &err),
        OD_EINVAL);
    assert_int_equal(err.code, OCPP_ERR_OCCURRENCE_CONSTRAINT);
    assert_string_equal(err.path, "/setVariableData/1/component/evse/id");
    /* a pointer longer than the error's buffer is cut, but stays a terminated prefix */
    char longkey[300], buf[400];
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    snprintf(buf, sizeof(buf), "{\"%s\":1}", longkey);
    assert_int_equal(validate_text(OCPP_V16, "Heartbeat", true, buf, &err), OD_EINVAL);
    assert_int_equal(strlen(err.path), sizeof(err.path) - 1);
    assert_memory_equal(err.path, "/kkkk", 5);
    /* the root itself */
    assert_int_equal(validate_text(OCPP_V16, "Heartbeat", true, "[]", &err), OD_EINVAL);
    assert_int_equal(err.code, OCPP_ERR_TYPE_CONSTRAINT);
    assert_string_equal(err.path, "");
}

static void test_schema__integer_and_number_types(void **state)
{
    (void)state;
    struct ocpp_error err;
    const struct {
        const char *value;
        int rc;
    } cases[] = {{"1", 0},        {"1.0", 0},         {"1e2", 0},          {"-0.0", 0},
                 {"1.5", OD_EINVAL}, {"\"1\"", OD_EINVAL}, {"true", OD_EINVAL}, {"null", OD_EINVAL},
                 {"1e-3", OD_EINVAL}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[200];
        snprintf(buf, sizeof(buf),
                 "{\"connectorId\":%s,\"errorCode\":\"NoError\",\"status\":\"Available\"}",
                 cases[i].value);
        int rc = validate_text(OCPP_V16, "StatusNotification", true, buf, &err);
        if (rc != cases[i].rc) fail_msg("connectorId %s: rc %d", cases[i].value, rc);
        if (rc) assert_int_equal(err.code, OCPP_ERR_TYPE_CONSTRAINT);
    }
    /* an integer is a valid "number"; multipleOf 0.1 tolerates binary rounding */
    const char *limits[] = {"16", "16.3", "0.3", "1234567.8", "0", "-7.1"};
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        char buf[200];
        snprintf(buf, sizeof(buf), "{\"status\":\"Accepted\",\"chargingSchedule\":{"
                 "\"chargingRateUnit\":\"A\",\"chargingSchedulePeriod\":[{\"startPeriod\":0,"
                 "\"limit\":%s}]}}", limits[i]);
        if (validate_text(OCPP_V16, "GetCompositeSchedule", false, buf, &err) != 0)
            fail_msg("limit %s refused: %s", limits[i], err.description);
    }
    assert_int_equal(validate_text(OCPP_V16, "GetCompositeSchedule", false,
                                   "{\"status\":\"Accepted\",\"chargingSchedule\":{"
                                   "\"chargingRateUnit\":\"A\",\"chargingSchedulePeriod\":[{"
                                   "\"startPeriod\":0,\"limit\":16.35}]}}",
                                   &err),
                     OD_EINVAL);
    assert_int_equal(err.code, OCPP_ERR_PROPERTY_CONSTRAINT);
    assert_string_equal(err.path, "/chargingSchedule/chargingSchedulePeriod/0/limit");
}

static void test_schema__max_length_counts_code_points(void **state)
{
    (void)state;
    struct ocpp_error err;
    char buf[256], vendor[128] = "";
    for (int i = 0; i < 20; i++) strcat(vendor, "\xc3\xa9"); /* 20 characters, 40 bytes */
    snprintf(buf, sizeof(buf), "{\"chargePointVendor\":\"%s\",\"chargePointModel\":\"M\"}", vendor);
    assert_int_equal(validate_text(OCPP_V16, "BootNotification", true, buf, &err), 0);
    strcat(vendor, "a");
    snprintf(buf, sizeof(buf), "{\"chargePointVendor\":\"%s\",\"chargePointModel\":\"M\"}", vendor);
    assert_int_equal(validate_text(OCPP_V16, "BootNotification", true, buf, &err), OD_EINVAL);
    assert_int_equal(err.code, OCPP_ERR_PROPERTY_CONSTRAINT);
    assert_string_equal(err.path, "/chargePointVendor");
    /* a 4-byte character is one code point too */
    vendor[0] = '\0';
    for (int i = 0; i < 20; i++) strcat(vendor, "\xf0\x9f\x94\x8c");
    snprintf(buf, sizeof(buf), "{\"chargePointVendor\":\"%s\",\"chargePointModel\":\"M\"}", vendor);
    assert_int_equal(validate_text(OCPP_V16, "BootNotification", true, buf, &err), 0);
}

static void test_schema__date_time_and_uri_formats(void **state)
{
    (void)state;
    struct ocpp_error err;
    const struct {
        const char *ts;
        int rc;
    } ts[] = {{"2024-01-31T23:59:59Z", 0},
              {"2024-01-31T23:59:59.123456+05:30", 0},
              {"2023-10-19T15:28:07", 0}, /* no zone: accepted here, flagged by the server */
              {"2024-02-29T00:00:00Z", 0},
              {"2023-02-29T00:00:00Z", OD_EINVAL},
              {"2024-13-01T00:00:00Z", OD_EINVAL},
              {"2024-01-01", OD_EINVAL},
              {"yesterday", OD_EINVAL},
              {"", OD_EINVAL},
              {"2024-01-01T00:00:00Zjunk", OD_EINVAL}};
    for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
        char buf[200];
        snprintf(buf, sizeof(buf), "{\"connectorId\":1,\"errorCode\":\"NoError\","
                 "\"status\":\"Available\",\"timestamp\":\"%s\"}", ts[i].ts);
        int rc = validate_text(OCPP_V16, "StatusNotification", true, buf, &err);
        if (rc != ts[i].rc) fail_msg("timestamp '%s': rc %d", ts[i].ts, rc);
        if (rc) assert_int_equal(err.code, OCPP_ERR_PROPERTY_CONSTRAINT);
    }
    const struct {
        const char *uri;
        int rc;
    } uris[] = {{"https://example.com/fw.bin", 0},
                {"ftp://user:pw@10.0.0.1:21/diag/", 0},
                {"urn:isbn:0451450523", 0},
                {"http://[::1]/x?a=b&c=%20#frag", 0},
                {"example.com/fw.bin", OD_EINVAL},
                {"http://exa mple.com", OD_EINVAL},
                {"http://example.com/%zz", OD_EINVAL},
                {"1http://x", OD_EINVAL},
                {"", OD_EINVAL}};
    for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
        char buf[200];
        snprintf(buf, sizeof(buf), "{\"location\":\"%s\",\"retrieveDate\":\"2024-01-01T00:00:00Z\"}",
                 uris[i].uri);
        int rc = validate_text(OCPP_V16, "UpdateFirmware", true, buf, &err);
        if (rc != uris[i].rc) fail_msg("uri '%s': rc %d", uris[i].uri, rc);
        if (rc) assert_int_equal(err.code, OCPP_ERR_PROPERTY_CONSTRAINT);
    }
}

static void test_schema__null_arguments(void **state)
{
    (void)state;
    struct ocpp_error err;
    json_t *p = json_object();
    assert_int_equal(ocpp_schema_validate(NULL, p, &err), OD_EINVAL);
    assert_int_equal(err.code, OCPP_ERR_INTERNAL);
    assert_int_equal(
        ocpp_schema_validate(ocpp_schema_find(OCPP_V16, "Heartbeat", true), NULL, &err),
        OD_EINVAL);
    json_decref(p);
}

/* ---- keywords of our own schema files (tests/data/schema-keywords.json) ------------------ */

/* Validates json against the test file's definition def: 0 or OD_EINVAL with err filled. */
static int validate_def(const char *def, const char *json, struct ocpp_error *err)
{
    json_t *p = json_loads(json, JSON_DECODE_ANY, NULL);
    assert_non_null(p);
    const struct ocpp_schema *s = ocpp_schema_table_find(&schematest_schema_table, def);
    assert_non_null(s);
    int rc = ocpp_schema_validate(s, p, err);
    json_decref(p);
    return rc;
}

/* The expected code of a value that must validate. */
#define VALID OCPP_ERR__COUNT

struct def_case {
    const char *json;
    enum ocpp_errcode code; /* VALID, or the failure's code */
    const char *path;       /* of the failure */
};

static void check_def_cases(const char *def, const struct def_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct ocpp_error err;
        memset(&err, 0, sizeof(err));
        int rc = validate_def(def, cases[i].json, &err);
        bool want_ok = cases[i].code == VALID;
        if (want_ok ? rc != 0 : rc != OD_EINVAL)
            fail_msg("%s %s: rc %d (%s at '%s')", def, cases[i].json, rc, err.description,
                     err.path);
        if (!want_ok && (err.code != cases[i].code || strcmp(err.path, cases[i].path) != 0))
            fail_msg("%s %s: code %d at '%s' (%s), want code %d at '%s'", def, cases[i].json,
                     err.code, err.path, err.description, cases[i].code, cases[i].path);
    }
}

#define CHECK_DEF(def, cases) check_def_cases(def, cases, sizeof(cases) / sizeof(cases[0]))

static void test_schema__table_find(void **state)
{
    (void)state;
    const struct ocpp_schema_table *t = &schematest_schema_table;
    assert_string_equal(t->id, "urn:ocppd:test:schema-keywords");
    assert_int_equal(t->nentries, 7);
    for (size_t i = 0; i < t->nentries; i++) {
        if (i) assert_true(strcmp(t->entries[i - 1].name, t->entries[i].name) < 0);
        assert_ptr_equal(ocpp_schema_table_find(t, t->entries[i].name), t->entries[i].schema);
    }
    assert_null(ocpp_schema_table_find(t, "prefi"));
    assert_null(ocpp_schema_table_find(t, ""));
    assert_null(ocpp_schema_table_find(t, NULL));
    assert_null(ocpp_schema_table_find(NULL, "prefix"));
}

static void test_schema__min_length_counts_code_points(void **state)
{
    (void)state;
    static const struct def_case cases[] = {
        {"\"ab\"", VALID, NULL},
        {"\"abc\"", VALID, NULL},
        {"\"\xc3\xa9\xc3\xa9\"", VALID, NULL},            /* 2 characters, 4 bytes */
        {"\"\xf0\x9f\x94\x8c\xf0\x9f\x94\x8c\"", VALID, NULL}, /* 2, 8 bytes */
        {"\"a\"", OCPP_ERR_PROPERTY_CONSTRAINT, ""},
        {"\"\"", OCPP_ERR_PROPERTY_CONSTRAINT, ""},
        {"\"\xf0\x9f\x94\x8c\"", OCPP_ERR_PROPERTY_CONSTRAINT, ""}, /* 1 character, 4 bytes */
        {"\"abcd\"", OCPP_ERR_PROPERTY_CONSTRAINT, ""},
        {"12", OCPP_ERR_TYPE_CONSTRAINT, ""},
    };
    CHECK_DEF("minLength", cases);
}

static void test_schema__exclusive_bounds(void **state)
{
    (void)state;
    static const struct def_case cases[] = {
        {"0.001", VALID, NULL}, {"5", VALID, NULL},
        {"9.999", VALID, NULL}, {"0", OCPP_ERR_PROPERTY_CONSTRAINT, ""},
        {"0.0", OCPP_ERR_PROPERTY_CONSTRAINT, ""}, {"-1", OCPP_ERR_PROPERTY_CONSTRAINT, ""},
        {"10", OCPP_ERR_PROPERTY_CONSTRAINT, ""}, {"10.5", OCPP_ERR_PROPERTY_CONSTRAINT, ""},
    };
    CHECK_DEF("exclusiveRange", cases);
    struct ocpp_error err;
    assert_int_equal(validate_def("exclusiveRange", "0", &err), OD_EINVAL);
    assert_non_null(strstr(err.description, "exclusive minimum"));
}

static void test_schema__integer_range(void **state)
{
    (void)state;
    static const struct def_case cases[] = {
        {"-5", VALID, NULL},
        {"2147483647", VALID, NULL},
        {"7.0", VALID, NULL},
        {"-6", OCPP_ERR_PROPERTY_CONSTRAINT, ""},
        {"2147483648", OCPP_ERR_PROPERTY_CONSTRAINT, ""},
        {"9223372036854775807", OCPP_ERR_PROPERTY_CONSTRAINT, ""},
        {"1e300", OCPP_ERR_PROPERTY_CONSTRAINT, ""},
        {"7.5", OCPP_ERR_TYPE_CONSTRAINT, ""},
        {"\"7\"", OCPP_ERR_TYPE_CONSTRAINT, ""},
    };
    CHECK_DEF("integerRange", cases);
}

static void test_schema__pattern_is_a_literal_prefix(void **state)
{
    (void)state;
    /* "^http://a\\.b": the escaped dot is a dot, not "any character" */
    static const struct def_case cases[] = {
        {"\"http://a.b\"", VALID, NULL},
        {"\"http://a.b.example/x\"", VALID, NULL},
        {"\"http://aXb\"", OCPP_ERR_PROPERTY_CONSTRAINT, ""},
        {"\"https://a.b\"", OCPP_ERR_PROPERTY_CONSTRAINT, ""},
        {"\"http://a.\"", OCPP_ERR_PROPERTY_CONSTRAINT, ""},
        {"\" http://a.b\"", OCPP_ERR_PROPERTY_CONSTRAINT, ""},
        {"\"HTTP://a.b\"", OCPP_ERR_PROPERTY_CONSTRAINT, ""},
        {"\"\"", OCPP_ERR_PROPERTY_CONSTRAINT, ""},
    };
    CHECK_DEF("prefix", cases);
}

static void test_schema__type_list(void **state)
{
    (void)state;
    static const struct def_case cases[] = {
        {"\"Mo-Fr 08:00-20:00\"", VALID, NULL},
        {"{\"mo\":[1,2]}", VALID, NULL},
        {"7", OCPP_ERR_TYPE_CONSTRAINT, ""},
        {"[]", OCPP_ERR_TYPE_CONSTRAINT, ""},
        {"null", OCPP_ERR_TYPE_CONSTRAINT, ""},
        {"true", OCPP_ERR_TYPE_CONSTRAINT, ""},
    };
    CHECK_DEF("typeList", cases);
    struct ocpp_error err;
    assert_int_equal(validate_def("typeList", "7", &err), OD_EINVAL);
    assert_string_equal(err.description, "expected object or string, got integer");
}

static void test_schema__enum_without_type(void **state)
{
    (void)state;
    static const struct def_case cases[] = {
        {"\"Accepted\"", VALID, NULL},
        {"\"Blocked\"", VALID, NULL},
        {"\"accepted\"", OCPP_ERR_PROPERTY_CONSTRAINT, ""},
        {"1", OCPP_ERR_TYPE_CONSTRAINT, ""},
        {"null", OCPP_ERR_TYPE_CONSTRAINT, ""},
    };
    CHECK_DEF("enumWithoutType", cases);
}

static void test_schema__nested_closed_objects(void **state)
{
    (void)state;
    static const struct def_case cases[] = {
        {"{\"list\":[]}", VALID, NULL},
        {"{\"list\":[{\"name\":\"a\"},{\"name\":\"b\"}],\"ref\":\"xy\"}", VALID, NULL},
        {"{}", OCPP_ERR_OCCURRENCE_CONSTRAINT, "/list"},
        {"{\"list\":[],\"other\":1}", OCPP_ERR_FORMAT, "/other"},
        {"{\"list\":[{\"name\":\"a\"},{\"name\":\"\"}]}", OCPP_ERR_PROPERTY_CONSTRAINT,
         "/list/1/name"},
        {"{\"list\":[{\"name\":\"a\",\"x\":1}]}", OCPP_ERR_FORMAT, "/list/0/x"},
        {"{\"list\":[{}]}", OCPP_ERR_OCCURRENCE_CONSTRAINT, "/list/0/name"},
        {"{\"list\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"c\"}]}",
         OCPP_ERR_OCCURRENCE_CONSTRAINT, "/list"},
        {"{\"list\":[],\"ref\":\"x\"}", OCPP_ERR_PROPERTY_CONSTRAINT, "/ref"},
        {"{\"list\":{}}", OCPP_ERR_TYPE_CONSTRAINT, "/list"},
    };
    CHECK_DEF("nested", cases);
}

static void test_schema__validate_names_only(void **state)
{
    (void)state;
    struct ocpp_error err;
    const struct ocpp_schema *s = ocpp_schema_table_find(&schematest_schema_table, "nested");
    json_t *p = json_loads("{\"lisst\":[]}", 0, NULL);
    /* the full check reports the missing member first, the names check the misspelt one */
    assert_int_equal(ocpp_schema_validate(s, p, &err), OD_EINVAL);
    assert_int_equal(err.code, OCPP_ERR_OCCURRENCE_CONSTRAINT);
    assert_int_equal(ocpp_schema_validate_names(s, p, &err), OD_EINVAL);
    assert_int_equal(err.code, OCPP_ERR_FORMAT);
    assert_string_equal(err.path, "/lisst");
    json_decref(p);
    /* names only, and only at the top: nothing else is looked at */
    p = json_loads("{\"list\":[{\"x\":1}],\"ref\":5}", 0, NULL);
    assert_int_equal(ocpp_schema_validate_names(s, p, &err), 0);
    json_decref(p);
    /* a schema that is not a closed object allows every name */
    p = json_loads("{\"a\":1}", 0, NULL);
    assert_int_equal(
        ocpp_schema_validate_names(ocpp_schema_table_find(&schematest_schema_table, "typeList"),
                                   p, &err),
        0);
    json_decref(p);
}

/* ---- generated examples for every schema ------------------------------------------------ */

/* A value valid for s: only required members when !full, every member when full (strings
 * then at their maximum length, in 2-byte characters, to probe code-point counting). */
static json_t *example(const struct ocpp_schema *s, bool full)
{
    switch ((enum ocpp_schema_kind)s->kind) {
    case OCPP_SK_ANY: return json_pack("{s:[i,s]}", "any", 1, "thing");
    case OCPP_SK_TYPES: return json_object(); /* the OCPP sets have none; an object is typical */
    case OCPP_SK_OBJECT: {
        json_t *o = json_object();
        for (unsigned i = 0; i < s->nprops; i++) {
            bool req = full;
            for (unsigned j = 0; j < s->nrequired && !req; j++)
                req = strcmp(s->required[j], s->props[i].name) == 0;
            if (req) json_object_set_new(o, s->props[i].name, example(s->props[i].schema, full));
        }
        return o;
    }
    case OCPP_SK_ARRAY: {
        json_t *a = json_array();
        unsigned n = s->min_items ? s->min_items : full;
        if (full && s->max_items > n) n = s->max_items < 3 ? s->max_items : 3;
        for (unsigned i = 0; i < n; i++) json_array_append_new(a, example(s->items, full));
        return a;
    }
    case OCPP_SK_STRING:
        if (s->nenum) return json_string(s->enum_values[full ? s->nenum - 1 : 0]);
        if (s->format == OCPP_SF_DATE_TIME) return json_string("2024-02-29T12:34:56.789+01:00");
        if (s->format == OCPP_SF_URI) return json_string("https://example.com/a/b?c=d");
        if (full && s->max_length && s->max_length <= 100000) {
            char *buf = malloc(2 * (size_t)s->max_length + 1);
            for (uint32_t i = 0; i < s->max_length; i++) memcpy(buf + 2 * i, "\xc3\xa9", 2);
            buf[2 * (size_t)s->max_length] = '\0';
            json_t *v = json_string(buf);
            free(buf);
            return v;
        }
        return json_string(full ? "" : "x");
    case OCPP_SK_INTEGER:
        if (full && s->has_maximum) return json_integer((json_int_t)s->maximum);
        return json_integer(s->has_minimum ? (json_int_t)s->minimum : 3);
    case OCPP_SK_NUMBER:
        if (s->multiple_of > 0) return json_real(s->multiple_of * 163);
        if (full && s->has_maximum) return json_real(s->maximum);
        return json_real(s->has_minimum ? s->minimum : 2.5);
    case OCPP_SK_BOOLEAN: return json_boolean(full);
    }
    return json_null();
}

/* A value of the wrong JSON type for s, or NULL when every type is allowed. */
static json_t *wrong_type(const struct ocpp_schema *s)
{
    switch ((enum ocpp_schema_kind)s->kind) {
    case OCPP_SK_ANY:
    case OCPP_SK_TYPES: return NULL;
    case OCPP_SK_STRING: return json_integer(1);
    case OCPP_SK_INTEGER: return json_real(0.5);
    case OCPP_SK_NUMBER:
    case OCPP_SK_BOOLEAN:
    case OCPP_SK_OBJECT: return json_string("x");
    case OCPP_SK_ARRAY: return json_object();
    }
    return NULL;
}

static int check_examples(const struct ocpp_schema_set *set, const char *which, bool request,
                          int *checks)
{
    int failures = 0;
    enum ocpp_version v = strcmp(set->version, "1.6") == 0 ? OCPP_V16 : OCPP_V201;
    for (size_t i = 0; i < set->nactions; i++) {
        const struct ocpp_schema_action *a = &set->actions[i];
        const struct ocpp_schema *s = request ? a->request : a->response;
        assert_ptr_equal(s, ocpp_schema_find(v, a->name, request));
        struct ocpp_error err;
        for (int full = 0; full < 2; full++) {
            json_t *p = example(s, full);
            (*checks)++;
            if (ocpp_schema_validate(s, p, &err) != 0) {
                print_error("%s %s.%s (%s example): %s at '%s'\n", which, a->name,
                            request ? "req" : "conf", full ? "full" : "minimal", err.description,
                            err.path);
                failures++;
            }
            json_decref(p);
        }
        /* each required member removed, and each member given the wrong type */
        json_t *base = example(s, true);
        for (unsigned r = 0; r < s->nrequired; r++) {
            json_t *p = json_deep_copy(base);
            json_object_del(p, s->required[r]);
            (*checks)++;
            if (ocpp_schema_validate(s, p, &err) != OD_EINVAL ||
                err.code != OCPP_ERR_OCCURRENCE_CONSTRAINT || err.path[0] != '/' ||
                strcmp(err.path + 1, s->required[r]) != 0) {
                print_error("%s %s: missing '%s' not reported\n", which, a->name, s->required[r]);
                failures++;
            }
            json_decref(p);
        }
        for (unsigned k = 0; k < s->nprops; k++) {
            json_t *bad = wrong_type(s->props[k].schema);
            if (!bad) continue;
            json_t *p = json_deep_copy(base);
            json_object_set_new(p, s->props[k].name, bad);
            (*checks)++;
            if (ocpp_schema_validate(s, p, &err) != OD_EINVAL ||
                err.code != OCPP_ERR_TYPE_CONSTRAINT) {
                print_error("%s %s: wrong type for '%s' not reported\n", which, a->name,
                            s->props[k].name);
                failures++;
            }
            json_decref(p);
        }
        /* an unknown member is refused wherever the schema closes the object */
        json_t *p = json_deep_copy(base);
        json_object_set_new(p, "zzUnknown", json_true());
        (*checks)++;
        int rc = ocpp_schema_validate(s, p, &err);
        if (s->additional_props ? rc != 0 : (rc != OD_EINVAL || err.code != OCPP_ERR_FORMAT)) {
            print_error("%s %s: unknown member handled wrongly\n", which, a->name);
            failures++;
        }
        json_decref(p);
        json_decref(base);
    }
    return failures;
}

static void test_schema__every_schema_accepts_generated_examples(void **state)
{
    (void)state;
    int checks = 0, failures = 0;
    failures += check_examples(&ocpp16_schema_set, "1.6", true, &checks);
    failures += check_examples(&ocpp16_schema_set, "1.6", false, &checks);
    failures += check_examples(&ocpp201_schema_set, "2.0.1", true, &checks);
    failures += check_examples(&ocpp201_schema_set, "2.0.1", false, &checks);
    assert_true(checks > 1000);
    assert_int_equal(failures, 0);
}

int main(int argc, char **argv)
{
    if (argc > 1) data_dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema__find_per_version),
        cmocka_unit_test(test_schema__foreach_sorted_and_complete),
        cmocka_unit_test(test_schema__data_v16_valid),
        cmocka_unit_test(test_schema__data_v16_invalid),
        cmocka_unit_test(test_schema__data_v201_valid),
        cmocka_unit_test(test_schema__data_v201_invalid),
        cmocka_unit_test(test_schema__real_chargers),
        cmocka_unit_test(test_schema__path_is_escaped_json_pointer),
        cmocka_unit_test(test_schema__integer_and_number_types),
        cmocka_unit_test(test_schema__max_length_counts_code_points),
        cmocka_unit_test(test_schema__date_time_and_uri_formats),
        cmocka_unit_test(test_schema__null_arguments),
        cmocka_unit_test(test_schema__table_find),
        cmocka_unit_test(test_schema__min_length_counts_code_points),
        cmocka_unit_test(test_schema__exclusive_bounds),
        cmocka_unit_test(test_schema__integer_range),
        cmocka_unit_test(test_schema__pattern_is_a_literal_prefix),
        cmocka_unit_test(test_schema__type_list),
        cmocka_unit_test(test_schema__enum_without_type),
        cmocka_unit_test(test_schema__nested_closed_objects),
        cmocka_unit_test(test_schema__validate_names_only),
        cmocka_unit_test(test_schema__every_schema_accepts_generated_examples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
