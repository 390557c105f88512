/*
 * test_v201.c — the OCPP 2.0.1 pipeline without sockets: a connection opened as ocpp2.0.1,
 * frames through envelope -> dispatch -> 2.0.1 schema -> v201 handler -> version-neutral model
 * -> store (:memory:) -> group commit -> queued reply. Every reply is also checked against the
 * official response schema here, independently of the dispatcher's own check.
 */
#include "conn.h"
#include "dispatch.h"
#include "fixture.h"
#include "od.h"
#include "schema.h"
#include "server.h"
#include "store.h"
#include "store_devmodel.h"
#include "v201.h"
#include "ws.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define CS "CS201"

/* A fixture whose connection speaks 2.0.1 (the shared fixture opens a 1.6 one). */
static struct fixture *v201_fixture(bool auto_register, bool accept_unknown)
{
    struct fixture *f = fixture_new(auto_register, accept_unknown);
    conn_on_closed(f->c);
    server_commit(&f->srv);
    f->c = conn_open(&f->srv, NULL, CS, OCPP_V201, "unit-test");
    assert_non_null(f->c);
    server_commit(&f->srv);
    return f;
}

static json_t *roundtrip(struct fixture *f, const char *frame)
{
    dispatch_message(f->c, frame, strlen(frame));
    server_commit(&f->srv);
    json_t *reply = fixture_next_frame(f);
    assert_null(conn_next_frame(f->c)); /* at most one reply per message */
    return reply;
}

/* Sends a CALL and expects a schema-valid CALLRESULT; returns its payload (new reference). */
static json_t *call_ok(struct fixture *f, const char *action, const char *payload)
{
    static int n;
    char id[16], frame[8192];
    snprintf(id, sizeof id, "m%d", ++n);
    snprintf(frame, sizeof frame, "[2,\"%s\",\"%s\",%s]", id, action, payload);
    json_t *r = roundtrip(f, frame);
    assert_non_null(r);
    if (json_integer_value(json_array_get(r, 0)) != 3) {
        char *t = json_dumps(r, 0);
        fail_msg("%s: expected CALLRESULT, got %s", action, t);
    }
    assert_string_equal(json_string_value(json_array_get(r, 1)), id);
    json_t *p = json_incref(json_array_get(r, 2));
    json_decref(r);
    struct ocpp_error verr;
    const struct ocpp_schema *sch = ocpp_schema_find(OCPP_V201, action, false);
    assert_non_null(sch);
    if (ocpp_schema_validate(sch, p, &verr) != 0)
        fail_msg("%s response fails its schema at %s: %s", action, verr.path, verr.description);
    return p;
}

static void expect_error(json_t *r, const char *code)
{
    assert_non_null(r);
    if (json_integer_value(json_array_get(r, 0)) != 4) {
        char *t = json_dumps(r, 0);
        fail_msg("expected CALLERROR %s, got %s", code, t);
    }
    assert_string_equal(json_string_value(json_array_get(r, 2)), code);
    json_decref(r);
}

#define BOOT                                                                                   \
    "{\"reason\":\"PowerUp\",\"chargingStation\":{\"model\":\"M2\",\"vendorName\":\"V2\","      \
    "\"firmwareVersion\":\"2.0\",\"serialNumber\":\"S-1\"}}"

static void boot(struct fixture *f)
{
    json_t *p = call_ok(f, "BootNotification", BOOT);
    assert_string_equal(json_string_value(json_object_get(p, "status")), "Accepted");
    json_decref(p);
}

/* A TransactionEvent payload; extra is spliced in after seqNo (may be ""). */
static json_t *tx_event(struct fixture *f, const char *type, const char *txid, int seq,
                        const char *trigger, const char *extra)
{
    char p[4096];
    snprintf(p, sizeof p,
             "{\"eventType\":\"%s\",\"timestamp\":\"2026-01-01T10:%02d:00Z\","
             "\"triggerReason\":\"%s\",\"seqNo\":%d,\"transactionInfo\":{\"transactionId\":"
             "\"%s\"%s}%s}",
             type, seq % 60, trigger, seq, txid,
             strcmp(type, "Ended") == 0 ? ",\"stoppedReason\":\"EVDisconnected\"" : "", extra);
    return call_ok(f, "TransactionEvent", p);
}

static void get_tx(struct fixture *f, const char *txid, struct store_tx *tx)
{
    assert_int_equal(store_tx_get_ext(f->st, CS, txid, tx), 0);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_v201__handler_table_is_sorted_and_charger_initiated(void **state)
{
    (void)state;
    for (size_t i = 0; i < v201_handler_count(); i++) {
        const struct ocpp_handler *h = v201_handler_at(i);
        if (i > 0) assert_true(strcmp(v201_handler_at(i - 1)->action, h->action) < 0);
        assert_true(ocpp_action_known(OCPP_V201, h->action));
        assert_ptr_equal(v201_handler_find(h->action), h);
    }
    assert_int_equal(v201_handler_count(), 24);
    assert_null(v201_handler_find("StartTransaction")); /* 1.6 only */
}

static void test_v201__boot_stores_station_and_heartbeat_answers(void **state)
{
    (void)state;
    struct fixture *f = v201_fixture(true, false);
    json_t *p = call_ok(f, "BootNotification", BOOT);
    assert_string_equal(json_string_value(json_object_get(p, "status")), "Accepted");
    assert_int_equal(json_integer_value(json_object_get(p, "interval")), 300);
    json_decref(p);
    struct store_charger ch;
    assert_int_equal(store_charger_get(f->st, CS, &ch), 0);
    assert_string_equal(ch.protocol, "ocpp2.0.1");
    assert_string_equal(ch.vendor, "V2");
    assert_string_equal(ch.model, "M2");
    assert_string_equal(ch.serial, "S-1");
    assert_string_equal(ch.boot_reason, "PowerUp");
    p = call_ok(f, "Heartbeat", "{}");
    assert_non_null(json_object_get(p, "currentTime"));
    json_decref(p);
    fixture_free(f);
}

static void test_v201__not_accepted_gets_security_error(void **state)
{
    (void)state;
    /* auto_register on: 1.6 would allow this before boot; 2.0.1 must not. */
    struct fixture *f = v201_fixture(true, false);
    expect_error(roundtrip(f, "[2,\"h\",\"Heartbeat\",{}]"), "SecurityError");
    fixture_free(f);

    f = v201_fixture(false, false); /* unknown station: Rejected, with a reason */
    json_t *p = call_ok(f, "BootNotification", BOOT);
    assert_string_equal(json_string_value(json_object_get(p, "status")), "Rejected");
    json_decref(p);
    expect_error(roundtrip(f, "[2,\"h\",\"Heartbeat\",{}]"), "SecurityError");
    fixture_free(f);
}

static void test_v201__status_maps_to_unified_and_keeps_raw(void **state)
{
    (void)state;
    struct fixture *f = v201_fixture(true, false);
    boot(f);
    static const char *const cases[][2] = {
        {"Available", "Available"}, {"Occupied", "Preparing"}, {"Reserved", "Reserved"},
        {"Unavailable", "Unavailable"}, {"Faulted", "Faulted"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char p[256];
        snprintf(p, sizeof p, "{\"timestamp\":\"2026-01-01T10:00:00Z\",\"connectorStatus\":"
                 "\"%s\",\"evseId\":2,\"connectorId\":1}", cases[i][0]);
        json_decref(call_ok(f, "StatusNotification", p));
        struct store_connector c;
        assert_int_equal(store_connector_get(f->st, CS, 2, 1, &c), 0);
        assert_string_equal(c.status, cases[i][1]);
        assert_string_equal(c.raw_status, cases[i][0]);
    }
    fixture_free(f);
}

static void test_v201__authorize_uses_token_type(void **state)
{
    (void)state;
    struct fixture *f = v201_fixture(true, false);
    boot(f);
    struct store_token t = {.id_tag = "RFID1", .status = "Accepted", .type = "ISO14443",
                            .parent_id_tag = "FLEET"};
    assert_int_equal(store_token_put(f->st, &t), 0);
    json_t *p = call_ok(f, "Authorize",
                        "{\"idToken\":{\"idToken\":\"RFID1\",\"type\":\"ISO14443\"}}");
    json_t *info = json_object_get(p, "idTokenInfo");
    assert_string_equal(json_string_value(json_object_get(info, "status")), "Accepted");
    assert_string_equal(json_string_value(json_object_get(json_object_get(info, "groupIdToken"),
                                                          "idToken")), "FLEET");
    json_decref(p);
    /* Same digits, other type: a different token, which nobody knows. */
    p = call_ok(f, "Authorize", "{\"idToken\":{\"idToken\":\"RFID1\",\"type\":\"eMAID\"}}");
    assert_string_equal(json_string_value(json_object_get(json_object_get(p, "idTokenInfo"),
                                                          "status")), "Unknown");
    json_decref(p);
    p = call_ok(f, "Authorize", "{\"idToken\":{\"idToken\":\"\",\"type\":\"NoAuthorization\"}}");
    assert_string_equal(json_string_value(json_object_get(json_object_get(p, "idTokenInfo"),
                                                          "status")), "Accepted");
    json_decref(p);
    fixture_free(f);
}

static int count_meter_cb(const struct store_meter_value *mv, void *ctx)
{
    (void)mv;
    (*(int *)ctx)++;
    return 0;
}

static void test_v201__full_transaction_session(void **state)
{
    (void)state;
    struct fixture *f = v201_fixture(true, false);
    boot(f);
    struct store_token t = {.id_tag = "TOK", .status = "Accepted", .type = "ISO14443"};
    assert_int_equal(store_token_put(f->st, &t), 0);
    json_t *p = tx_event(f, "Started", "TX-A", 0, "Authorized",
        ",\"idToken\":{\"idToken\":\"TOK\",\"type\":\"ISO14443\"},\"evse\":{\"id\":1,"
        "\"connectorId\":1},\"meterValue\":[{\"timestamp\":\"2026-01-01T10:00:00Z\","
        "\"sampledValue\":[{\"value\":1.5,\"context\":\"Transaction.Begin\","
        "\"unitOfMeasure\":{\"unit\":\"kWh\"}}]}]");
    assert_string_equal(json_string_value(json_object_get(json_object_get(p, "idTokenInfo"),
                                                          "status")), "Accepted");
    json_decref(p);
    struct store_tx tx;
    get_tx(f, "TX-A", &tx);
    assert_true(tx.active);
    assert_int_equal(tx.evse_id, 1);
    assert_string_equal(tx.id_tag, "TOK");
    assert_true(tx.has_meter_start);
    assert_true(tx.meter_start_wh > 1499.9 && tx.meter_start_wh < 1500.1);

    /* Occupied with the transaction open is shown as Charging. */
    json_decref(call_ok(f, "StatusNotification", "{\"timestamp\":\"2026-01-01T10:00:01Z\","
                        "\"connectorStatus\":\"Occupied\",\"evseId\":1,\"connectorId\":1}"));
    struct store_connector c;
    assert_int_equal(store_connector_get(f->st, CS, 1, 1, &c), 0);
    assert_string_equal(c.status, "Charging");
    assert_int_equal(c.tx_id, tx.id);

    p = tx_event(f, "Updated", "TX-A", 1, "MeterValuePeriodic",
        ",\"meterValue\":[{\"timestamp\":\"2026-01-01T10:15:00Z\",\"sampledValue\":["
        "{\"value\":4000,\"measurand\":\"Energy.Active.Import.Register\"},"
        "{\"value\":7.2,\"measurand\":\"Power.Active.Import\",\"unitOfMeasure\":{\"unit\":\"W\","
        "\"multiplier\":3}}]}]");
    assert_null(json_object_get(p, "idTokenInfo")); /* no idToken in the event, none back */
    json_decref(p);
    get_tx(f, "TX-A", &tx);
    assert_true(tx.has_energy && tx.last_energy_wh > 3999.9 && tx.last_energy_wh < 4000.1);
    assert_true(tx.has_power && tx.last_power_w > 7199.9 && tx.last_power_w < 7200.1);

    /* The EV pauses: chargingState refines the coarse Occupied. */
    json_decref(call_ok(f, "TransactionEvent",
        "{\"eventType\":\"Updated\",\"timestamp\":\"2026-01-01T10:20:00Z\",\"triggerReason\":"
        "\"ChargingStateChanged\",\"seqNo\":3,\"transactionInfo\":{\"transactionId\":\"TX-A\","
        "\"chargingState\":\"SuspendedEV\"}}"));
    assert_int_equal(store_connector_get(f->st, CS, 1, 1, &c), 0);
    assert_string_equal(c.status, "SuspendedEV");
    assert_string_equal(c.raw_status, "Occupied");

    json_decref(tx_event(f, "Ended", "TX-A", 2, "EVDeparted",
        ",\"meterValue\":[{\"timestamp\":\"2026-01-01T10:30:00Z\",\"sampledValue\":["
        "{\"value\":9500,\"context\":\"Transaction.End\"}]}]"));
    get_tx(f, "TX-A", &tx);
    assert_false(tx.active);
    assert_string_equal(tx.stop_reason, "EVDisconnected");
    assert_true(tx.has_meter_stop && tx.meter_stop_wh > 9499.9 && tx.meter_stop_wh < 9500.1);
    assert_int_equal(tx.flags & STORE_TX_SEQ_GAP, 0);
    assert_int_equal(store_connector_get(f->st, CS, 1, 1, &c), 0);
    assert_int_equal(c.tx_id, 0);
    assert_string_equal(c.status, "Finishing"); /* ended, cable still in */
    int n = 0;
    assert_int_equal(store_meter_foreach_tx(f->st, tx.id, count_meter_cb, &n), 0);
    assert_int_equal(n, 4);
    int64_t count, lo, hi;
    assert_int_equal(store_tx_event_count(f->st, tx.id, &count, &lo, &hi), 0);
    assert_int_equal(count, 4);
    assert_int_equal(hi, 3);

    /* The same Ended again (lost answer): answered, nothing stored twice. */
    json_decref(tx_event(f, "Ended", "TX-A", 2, "EVDeparted",
        ",\"meterValue\":[{\"timestamp\":\"2026-01-01T10:30:00Z\",\"sampledValue\":["
        "{\"value\":9500,\"context\":\"Transaction.End\"}]}]"));
    n = 0;
    assert_int_equal(store_meter_foreach_tx(f->st, tx.id, count_meter_cb, &n), 0);
    assert_int_equal(n, 4);
    get_tx(f, "TX-A", &tx);
    assert_true(tx.flags & STORE_TX_REPEATED_STOP);
    assert_non_null(strstr(tx.note, "duplicate seqNo 2"));
    fixture_free(f);
}

static void test_v201__ended_for_unknown_transaction_is_stored(void **state)
{
    (void)state;
    struct fixture *f = v201_fixture(true, false);
    boot(f);
    json_t *p = tx_event(f, "Ended", "GHOST", 7, "StopAuthorized",
                         ",\"offline\":true,\"idToken\":{\"idToken\":\"X\",\"type\":\"Central\"}");
    /* An idToken in the event: idTokenInfo in the answer, even for an unknown transaction. */
    assert_string_equal(json_string_value(json_object_get(json_object_get(p, "idTokenInfo"),
                                                          "status")), "Unknown");
    json_decref(p);
    struct store_tx tx;
    get_tx(f, "GHOST", &tx);
    assert_false(tx.active);
    assert_true(tx.flags & STORE_TX_UNKNOWN_STOP);
    assert_string_equal(tx.stop_reason, "EVDisconnected");

    /* Its Started, replayed late from the offline queue, completes the same row. */
    json_decref(tx_event(f, "Started", "GHOST", 6, "CablePluggedIn",
                         ",\"offline\":true,\"evse\":{\"id\":3}"));
    struct store_tx again;
    get_tx(f, "GHOST", &again);
    assert_int_equal(again.id, tx.id);
    assert_int_equal(again.evse_id, 3);
    assert_int_equal(again.connector_id, 1);
    assert_false(again.active);
    fixture_free(f);
}

static void test_v201__seqno_gap_is_flagged_and_filled(void **state)
{
    (void)state;
    struct fixture *f = v201_fixture(true, false);
    boot(f);
    json_decref(tx_event(f, "Started", "TX-G", 0, "CablePluggedIn", ",\"evse\":{\"id\":1}"));
    json_decref(tx_event(f, "Updated", "TX-G", 2, "ChargingStateChanged", ""));
    struct store_tx tx;
    get_tx(f, "TX-G", &tx);
    assert_true(tx.flags & STORE_TX_SEQ_GAP);
    assert_non_null(strstr(tx.note, "seqNo gap"));
    /* seqNo 1 arrives late, from the offline queue: the sequence is whole again. */
    json_decref(tx_event(f, "Updated", "TX-G", 1, "Authorized",
                         ",\"offline\":true,\"idToken\":{\"idToken\":\"LATE\","
                         "\"type\":\"ISO14443\"}"));
    get_tx(f, "TX-G", &tx);
    assert_int_equal(tx.flags & STORE_TX_SEQ_GAP, 0);
    assert_string_equal(tx.id_tag, "LATE"); /* authorized after the start */
    /* seqNo is any JSON integer: extremes must neither wrap nor overflow the span. */
    json_decref(tx_event(f, "Started", "TX-X", 0, "CablePluggedIn", ",\"evse\":{\"id\":4}"));
    json_decref(tx_event(f, "Updated", "TX-X", 1, "MeterValuePeriodic", ""));
    get_tx(f, "TX-X", &tx);
    assert_int_equal(tx.flags & STORE_TX_SEQ_GAP, 0);
    json_t *big = call_ok(f, "TransactionEvent",
        "{\"eventType\":\"Updated\",\"timestamp\":\"2026-01-01T10:00:00Z\",\"triggerReason\":"
        "\"MeterValuePeriodic\",\"seqNo\":9223372036854775807,\"transactionInfo\":"
        "{\"transactionId\":\"TX-X\"}}");
    json_decref(big);
    get_tx(f, "TX-X", &tx);
    assert_true(tx.flags & STORE_TX_SEQ_GAP);
    /* An Updated for a transaction never started creates it, noted. */
    json_decref(tx_event(f, "Updated", "TX-U", 4, "MeterValuePeriodic", ""));
    get_tx(f, "TX-U", &tx);
    assert_true(tx.active);
    assert_non_null(strstr(tx.note, "first seen in a TransactionEvent Updated"));
    fixture_free(f);
}

static void test_v201__transaction_started_before_plugin_gets_its_evse(void **state)
{
    (void)state;
    struct fixture *f = v201_fixture(true, true);
    boot(f);
    /* Authorized first, no EVSE yet (E02: the token before the cable). */
    json_t *p = tx_event(f, "Started", "TX-P", 0, "Authorized",
                         ",\"idToken\":{\"idToken\":\"T\",\"type\":\"Central\"}");
    assert_string_equal(json_string_value(json_object_get(json_object_get(p, "idTokenInfo"),
                                                          "status")), "Accepted");
    json_decref(p);
    struct store_tx tx;
    get_tx(f, "TX-P", &tx);
    assert_int_equal(tx.evse_id, 0);
    json_decref(tx_event(f, "Updated", "TX-P", 1, "CablePluggedIn",
                         ",\"evse\":{\"id\":2,\"connectorId\":1}"));
    get_tx(f, "TX-P", &tx);
    assert_int_equal(tx.evse_id, 2);
    assert_int_equal(tx.connector_id, 1);
    assert_string_equal(tx.id_tag, "T");
    struct store_connector c;
    assert_int_equal(store_connector_get(f->st, CS, 2, 1, &c), 0);
    assert_int_equal(c.tx_id, tx.id);
    /* An Ended without readings: the last reading of the session stands in, noted. */
    json_decref(tx_event(f, "Updated", "TX-P", 2, "MeterValuePeriodic",
                         ",\"meterValue\":[{\"timestamp\":\"2026-01-01T10:02:00Z\","
                         "\"sampledValue\":[{\"value\":5000}]}]"));
    json_decref(tx_event(f, "Ended", "TX-P", 3, "EVDeparted", ""));
    get_tx(f, "TX-P", &tx);
    assert_false(tx.active);
    assert_true(tx.has_meter_stop && tx.meter_stop_wh > 4999.9 && tx.meter_stop_wh < 5000.1);
    assert_non_null(strstr(tx.note, "meter stop is the last reading"));
    fixture_free(f);
}

static int count_remote_started_cb(const struct store_event *ev, void *ctx)
{
    if (strcmp(ev->type, "transaction.remoteStarted") == 0) {
        assert_non_null(strstr(ev->data_json, "\"remoteStartId\":77"));
        (*(int *)ctx)++;
    }
    return 0;
}

static void test_v201__remote_start_id_is_matched_to_its_transaction(void **state)
{
    (void)state;
    struct fixture *f = v201_fixture(true, true);
    boot(f);
    json_decref(call_ok(f, "TransactionEvent",
        "{\"eventType\":\"Started\",\"timestamp\":\"2026-01-01T10:00:00Z\",\"triggerReason\":"
        "\"RemoteStart\",\"seqNo\":0,\"transactionInfo\":{\"transactionId\":\"TX-R\","
        "\"remoteStartId\":77},\"evse\":{\"id\":1}}"));
    /* Later events repeat the id: still one match, one event. */
    json_decref(call_ok(f, "TransactionEvent",
        "{\"eventType\":\"Updated\",\"timestamp\":\"2026-01-01T10:01:00Z\",\"triggerReason\":"
        "\"CablePluggedIn\",\"seqNo\":1,\"transactionInfo\":{\"transactionId\":\"TX-R\","
        "\"remoteStartId\":77}}"));
    json_decref(tx_event(f, "Updated", "TX-R", 2, "ChargingStateChanged", ""));
    struct store_tx tx;
    get_tx(f, "TX-R", &tx);
    int64_t found = 0;
    assert_int_equal(store_tx_find_remote_start(f->st, CS, 77, &found), 0);
    assert_int_equal(found, tx.id);
    assert_int_equal(store_tx_find_remote_start(f->st, CS, 78, &found), OD_ENOTFOUND);
    assert_int_equal(store_tx_find_remote_start(f->st, "OTHER", 77, &found), OD_ENOTFOUND);
    int n = 0;
    assert_int_equal(store_event_foreach(f->st, 0, 0, count_remote_started_cb, &n), 0);
    assert_int_equal(n, 1);
    fixture_free(f);
}

static int count_var_cb(const struct store_dm_var *v, void *ctx)
{
    (void)v;
    (*(int *)ctx)++;
    return 0;
}

static void test_v201__two_part_notify_report_is_assembled(void **state)
{
    (void)state;
    struct fixture *f = v201_fixture(true, false);
    boot(f);
    json_decref(call_ok(f, "NotifyReport",
        "{\"requestId\":42,\"generatedAt\":\"2026-01-01T10:00:00Z\",\"seqNo\":0,\"tbc\":true,"
        "\"reportData\":[{\"component\":{\"name\":\"OCPPCommCtrlr\"},\"variable\":{\"name\":"
        "\"HeartbeatInterval\"},\"variableAttribute\":[{\"value\":\"300\",\"persistent\":true}],"
        "\"variableCharacteristics\":{\"dataType\":\"integer\",\"unit\":\"s\","
        "\"supportsMonitoring\":false}}]}"));
    int64_t n = -1;
    assert_int_equal(store_dm_var_count(f->st, CS, &n), 0);
    assert_int_equal(n, 0); /* not applied until the report is complete */
    json_decref(call_ok(f, "NotifyReport",
        "{\"requestId\":42,\"generatedAt\":\"2026-01-01T10:00:01Z\",\"seqNo\":1,"
        "\"reportData\":[{\"component\":{\"name\":\"EVSE\",\"evse\":{\"id\":1}},\"variable\":"
        "{\"name\":\"Power\"},\"variableAttribute\":[{\"value\":\"22000\",\"mutability\":"
        "\"ReadOnly\"},{\"type\":\"MaxSet\",\"value\":\"11000\"}]}]}"));
    assert_int_equal(store_dm_var_count(f->st, CS, &n), 0);
    assert_int_equal(n, 3);
    int count, max_seq;
    assert_int_equal(store_dm_part_count(f->st, CS, 42, &count, &max_seq), 0);
    assert_int_equal(count, 1); /* parts forgotten once applied, but the final one */
    int64_t seq_before = store_event_last_seq(f->st);
    /* Our answer to the last part got lost and the charger sends it again: a repeat, answered,
     * no second assembly (which would report part 0 as missing). */
    json_decref(call_ok(f, "NotifyReport",
        "{\"requestId\":42,\"generatedAt\":\"2026-01-01T10:00:01Z\",\"seqNo\":1,"
        "\"reportData\":[{\"component\":{\"name\":\"EVSE\",\"evse\":{\"id\":1}},\"variable\":"
        "{\"name\":\"Power\"},\"variableAttribute\":[{\"value\":\"22000\"}]}]}"));
    assert_int_equal(store_event_last_seq(f->st), seq_before);
    /* A later single-part report under the same requestId is a new report. */
    json_decref(call_ok(f, "NotifyReport",
        "{\"requestId\":42,\"generatedAt\":\"2026-01-02T10:00:00Z\",\"seqNo\":0,"
        "\"reportData\":[{\"component\":{\"name\":\"ClockCtrlr\"},\"variable\":"
        "{\"name\":\"TimeSource\"},\"variableAttribute\":[{\"value\":\"NTP\"}]}]}"));
    assert_int_equal(store_dm_var_count(f->st, CS, &n), 0);
    assert_int_equal(n, 4);
    int k = 0;
    assert_int_equal(store_dm_var_foreach(f->st, CS, "EVSE", "Power", count_var_cb, &k), 0);
    assert_int_equal(k, 2);
    k = 0;
    assert_int_equal(store_dm_var_foreach(f->st, CS, "OCPPCommCtrlr", NULL, count_var_cb, &k), 0);
    assert_int_equal(k, 1);
    fixture_free(f);
}

static void test_v201__notices_get_spec_answers(void **state)
{
    (void)state;
    struct fixture *f = v201_fixture(true, false);
    boot(f);
    static const char *const calls[][2] = {
        {"SecurityEventNotification", "{\"type\":\"SettingSystemTime\",\"timestamp\":"
                                      "\"2026-01-01T10:00:00Z\"}"},
        {"FirmwareStatusNotification", "{\"status\":\"Downloading\",\"requestId\":1}"},
        {"LogStatusNotification", "{\"status\":\"Uploaded\",\"requestId\":2}"},
        {"ReservationStatusUpdate", "{\"reservationId\":5,\"reservationUpdateStatus\":"
                                    "\"Expired\"}"},
        {"NotifyEvent", "{\"generatedAt\":\"2026-01-01T10:00:00Z\",\"seqNo\":0,\"eventData\":"
                        "[{\"eventId\":1,\"timestamp\":\"2026-01-01T10:00:00Z\",\"trigger\":"
                        "\"Alerting\",\"actualValue\":\"1\",\"eventNotificationType\":"
                        "\"HardWiredNotification\",\"component\":{\"name\":\"Door\"},"
                        "\"variable\":{\"name\":\"Open\"}}]}"},
        {"ClearedChargingLimit", "{\"chargingLimitSource\":\"EMS\"}"},
        {"NotifyDisplayMessages", "{\"requestId\":3}"},
        {"NotifyMonitoringReport", "{\"requestId\":4,\"seqNo\":0,\"generatedAt\":"
                                   "\"2026-01-01T10:00:00Z\"}"},
        {"NotifyCustomerInformation", "{\"data\":\"x\",\"seqNo\":0,\"generatedAt\":"
                                      "\"2026-01-01T10:00:00Z\",\"requestId\":6}"},
        {"PublishFirmwareStatusNotification", "{\"status\":\"Idle\"}"},
        {"MeterValues", "{\"evseId\":0,\"meterValue\":[{\"timestamp\":\"2026-01-01T10:00:00Z\","
                        "\"sampledValue\":[{\"value\":230.1,\"measurand\":\"Voltage\"}]}]}"},
    };
    for (size_t i = 0; i < sizeof calls / sizeof *calls; i++) {
        json_t *p = call_ok(f, calls[i][0], calls[i][1]);
        assert_int_equal(json_object_size(p), 0);
        json_decref(p);
    }
    static const char *const status_calls[][3] = {
        {"DataTransfer", "{\"vendorId\":\"acme\"}", "UnknownVendorId"},
        {"SignCertificate", "{\"csr\":\"-----BEGIN CERTIFICATE REQUEST-----\"}", "Rejected"},
        {"GetCertificateStatus", "{\"ocspRequestData\":{\"hashAlgorithm\":\"SHA256\","
                                 "\"issuerNameHash\":\"a\",\"issuerKeyHash\":\"b\","
                                 "\"serialNumber\":\"c\",\"responderURL\":\"http://x\"}}",
         "Failed"},
        {"Get15118EVCertificate", "{\"iso15118SchemaVersion\":\"urn:iso:15118:2:2013:MsgDef\","
                                  "\"action\":\"Install\",\"exiRequest\":\"AAAA\"}", "Failed"},
        {"NotifyEVChargingNeeds", "{\"evseId\":1,\"chargingNeeds\":{\"requestedEnergyTransfer\":"
                                  "\"AC_three_phase\"}}", "Rejected"},
    };
    for (size_t i = 0; i < sizeof status_calls / sizeof *status_calls; i++) {
        json_t *p = call_ok(f, status_calls[i][0], status_calls[i][1]);
        assert_string_equal(json_string_value(json_object_get(p, "status")), status_calls[i][2]);
        json_decref(p);
    }
    fixture_free(f);
}

static void test_v201__error_names_are_201s(void **state)
{
    (void)state;
    struct fixture *f = v201_fixture(true, false);
    boot(f);
    /* A member the schema does not allow: FormatViolation (1.6 would say FormationViolation). */
    expect_error(roundtrip(f, "[2,\"a\",\"Heartbeat\",{\"bogus\":1}]"), "FormatViolation");
    expect_error(roundtrip(f, "[7,\"b\",\"Heartbeat\",{}]"), "MessageTypeNotSupported");
    expect_error(roundtrip(f, "[2,\"c\",\"StatusNotification\",{\"evseId\":1}]"),
                 "OccurenceConstraintViolation");
    expect_error(roundtrip(f, "[2,\"d\",\"StartTransaction\",{}]"), "NotImplemented");
    expect_error(roundtrip(f, "[2,\"e\",\"RequestStartTransaction\",{}]"), "NotSupported");
    expect_error(roundtrip(f, "[2,\"f\",7,{}]"), "RpcFrameworkError");
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v201__handler_table_is_sorted_and_charger_initiated),
        cmocka_unit_test(test_v201__boot_stores_station_and_heartbeat_answers),
        cmocka_unit_test(test_v201__not_accepted_gets_security_error),
        cmocka_unit_test(test_v201__status_maps_to_unified_and_keeps_raw),
        cmocka_unit_test(test_v201__authorize_uses_token_type),
        cmocka_unit_test(test_v201__full_transaction_session),
        cmocka_unit_test(test_v201__ended_for_unknown_transaction_is_stored),
        cmocka_unit_test(test_v201__seqno_gap_is_flagged_and_filled),
        cmocka_unit_test(test_v201__transaction_started_before_plugin_gets_its_evse),
        cmocka_unit_test(test_v201__remote_start_id_is_matched_to_its_transaction),
        cmocka_unit_test(test_v201__two_part_notify_report_is_assembled),
        cmocka_unit_test(test_v201__notices_get_spec_answers),
        cmocka_unit_test(test_v201__error_names_are_201s),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
