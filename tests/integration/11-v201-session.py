#!/usr/bin/python3
"""11-v201-session — OCPP 2.0.1 stations over real ocpp2.0.1 WebSockets, next to a 1.6 charger:
a full TransactionEvent session with meter values, the same session's end replayed offline
after a reconnect (out of order, with a seqNo gap that the replay fills), an Ended for a
transaction the server never saw, a two-part NotifyReport, and the 2.0.1 error-code table
(FormatViolation, never 1.6's FormationViolation). Every CALLRESULT is checked against the
official 2.0.1 response schema.
"""
import asyncio

import harness
from harness import TX, check, iso_now

V201 = "ocpp2.0.1"


async def connect201(srv, cp_id, boot=True):
    cp = await harness.Charger.connect(srv, cp_id, protocols=(V201,))
    check(cp.ws.subprotocol == V201, f"{cp_id}: got {cp.ws.subprotocol!r}")
    if boot:
        ans = await ok(cp, "BootNotification", {
            "reason": "PowerUp", "chargingStation": {"vendorName": "IT", "model": "V201"}})
        check(ans["status"] == "Accepted", f"{cp_id}: boot answered {ans!r}")
    return cp


async def ok(cp, action, payload):
    ans = await cp.call_ok(action, payload)
    harness.check_conf(action, ans, V201)
    return ans


def event(kind, txid, seq, trigger, offset_s=0.0, **extra):
    info = {"transactionId": txid}
    info.update(extra.pop("info", {}))
    return {"eventType": kind, "timestamp": iso_now(offset_s), "triggerReason": trigger,
            "seqNo": seq, "transactionInfo": info, **extra}


def energy(wh, context=None, offset_s=0.0):
    sv = {"value": wh, "measurand": "Energy.Active.Import.Register"}
    if context:
        sv["context"] = context
    return [{"timestamp": iso_now(offset_s), "sampledValue": [sv]}]


def tx_row(srv, cp_id, txid):
    return harness.db_query(srv.db, lambda db: db.one(
        "SELECT * FROM transactions WHERE charger_id = ? AND ext_id = ?", cp_id, txid))


async def session_16(srv):
    """A 1.6 charger running a transaction at the same time (mixed fleet)."""
    cp = await harness.Charger.connect(srv, "MIX-16")
    await cp.boot()
    await cp.status(1, "Preparing")
    ans = await cp.call_ok("StartTransaction", {"connectorId": 1, "idTag": "TAG16",
                                                "meterStart": 100, "timestamp": iso_now()})
    txid = ans["transactionId"]
    await asyncio.sleep(0.05)
    await cp.call_ok("StopTransaction", {"transactionId": txid, "meterStop": 600,
                                         "timestamp": iso_now()})
    await cp.close()
    return txid


async def session_201(srv):
    cp = await connect201(srv, "MIX-201")
    await ok(cp, "StatusNotification", {"timestamp": iso_now(), "connectorStatus": "Available",
                                        "evseId": 1, "connectorId": 1})
    ans = await ok(cp, "Authorize", {"idToken": {"idToken": "TAG201", "type": "ISO14443"}})
    check(ans["idTokenInfo"]["status"] == "Accepted", f"authorize: {ans!r}")
    ans = await ok(cp, "TransactionEvent", event(
        "Started", "S-1", 0, "Authorized", offset_s=-60,
        idToken={"idToken": "TAG201", "type": "ISO14443"}, evse={"id": 1, "connectorId": 1},
        meterValue=energy(1000, "Transaction.Begin", -60)))
    check(ans.get("idTokenInfo", {}).get("status") == "Accepted", f"Started answered {ans!r}")
    await ok(cp, "StatusNotification", {"timestamp": iso_now(), "connectorStatus": "Occupied",
                                        "evseId": 1, "connectorId": 1})
    ans = await ok(cp, "TransactionEvent", event("Updated", "S-1", 1, "MeterValuePeriodic",
                                                 offset_s=-50, meterValue=energy(2500, None, -50)))
    check("idTokenInfo" not in ans, f"Updated without idToken answered {ans!r}")
    return cp


async def test(h):
    srv = await h.server(args=["--accept-unknown-tokens"])

    # -- mixed fleet: a 1.6 and a 2.0.1 session at once, one table, one id space
    tx16, cp = await asyncio.gather(session_16(srv), session_201(srv))
    row16 = harness.db_query(srv.db, lambda db: db.one(
        "SELECT * FROM transactions WHERE id = ?", tx16))
    check(row16["ext_id"] is None and row16["meter_stop_wh"] == 600, f"1.6 row {row16}")
    row = tx_row(srv, "MIX-201", "S-1")
    check(row["active"] == 1 and row["meter_start_wh"] == 1000 and row["last_energy_wh"] == 2500,
          f"2.0.1 row after Updated: {row}")
    conn = harness.db_query(srv.db, lambda db: db.one(
        "SELECT status, raw_status, tx_id FROM connectors WHERE charger_id = 'MIX-201' "
        "AND evse_id = 1 AND connector_id = 1"))
    check(conn == {"status": "Charging", "raw_status": "Occupied", "tx_id": row["id"]},
          f"2.0.1 connector: {conn}")

    # -- the connection drops; the station queued seqNo 3 and 4 offline, and sends 4 first
    await cp.close()
    cp = await connect201(srv, "MIX-201", boot=False)  # reconnect without reboot: still Accepted
    await ok(cp, "TransactionEvent", event(
        "Ended", "S-1", 4, "EVDeparted", offset_s=-5, offline=True,
        info={"stoppedReason": "EVDisconnected"}, meterValue=energy(4200, "Transaction.End", -5)))
    row = tx_row(srv, "MIX-201", "S-1")
    check(row["active"] == 0 and row["meter_stop_wh"] == 4200, f"after Ended: {row}")
    check(row["stop_reason"] == "EVDisconnected", f"stoppedReason: {row}")
    check(row["flags"] & TX["SEQ_GAP"], f"seqNo 2..3 missing, no gap flag: {row}")
    for seq in (2, 3):
        at = -50 + 10 * seq
        await ok(cp, "TransactionEvent", event("Updated", "S-1", seq, "MeterValuePeriodic",
                                               offset_s=at, offline=True,
                                               meterValue=energy(3000 + seq, None, at)))
    row = tx_row(srv, "MIX-201", "S-1")
    check(not row["flags"] & TX["SEQ_GAP"], f"offline replay filled the gap, flag kept: {row}")
    # Late readings are stored but are not the latest, nor a meter running backwards.
    check(not row["flags"] & TX["METER_BACKWARDS"], f"late readings flagged backwards: {row}")
    check(row["last_energy_wh"] == 4200, f"late readings replaced the latest: {row}")
    check(row["active"] == 0, f"a late Updated reopened the transaction: {row}")
    n = harness.db_query(srv.db, lambda db: db.one(
        "SELECT count(*) AS n FROM tx_events WHERE tx_id = ?", row["id"]))["n"]
    check(n == 5, f"{n} events in the ledger, expected 5")

    # -- an Ended for a transaction nobody started: stored, flagged and answered
    ans = await ok(cp, "TransactionEvent", event(
        "Ended", "GHOST-9", 3, "StopAuthorized", idToken={"idToken": "X", "type": "Central"}))
    check("idTokenInfo" in ans, f"Ended with idToken answered {ans!r}")
    ghost = tx_row(srv, "MIX-201", "GHOST-9")
    check(ghost["flags"] & TX["UNKNOWN_STOP"], f"unknown Ended not flagged: {ghost}")

    # -- a two-part NotifyReport, applied once complete
    part = {"requestId": 7, "generatedAt": iso_now(), "seqNo": 0, "tbc": True, "reportData": [
        {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"},
         "variableAttribute": [{"value": "300"}]}]}
    await ok(cp, "NotifyReport", part)
    part = {"requestId": 7, "generatedAt": iso_now(), "seqNo": 1, "reportData": [
        {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"},
         "variableAttribute": [{"value": "22000", "mutability": "ReadOnly"}]}]}
    await ok(cp, "NotifyReport", part)
    dm = harness.db_query(srv.db, lambda db: db.rows(
        "SELECT component, variable, value FROM device_model WHERE charger_id = 'MIX-201' "
        "ORDER BY component"))
    check(dm == [{"component": "EVSE", "variable": "Power", "value": "22000"},
                 {"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval", "value": "300"}],
          f"device model: {dm}")

    # -- 2.0.1 error codes
    table = [
        ([2, "e1", "Heartbeat", {"bogus": 1}], "FormatViolation"),
        ([2, "e2", "StatusNotification", {"timestamp": iso_now(), "connectorStatus": "Available",
                                          "evseId": "1", "connectorId": 1}],
         "TypeConstraintViolation"),
        ([2, "e3", "StatusNotification", {"timestamp": iso_now(), "connectorStatus": "Charging",
                                          "evseId": 1, "connectorId": 1}],
         "PropertyConstraintViolation"),
        ([2, "e4", "StatusNotification", {"evseId": 1}], "OccurenceConstraintViolation"),
        ([7, "e5", "Heartbeat", {}], "MessageTypeNotSupported"),
        ([2, "e6", 7, {}], "RpcFrameworkError"),
        ([2, "e7", "StartTransaction", {}], "NotImplemented"),
        ([2, "e8", "RequestStartTransaction", {}], "NotSupported"),
    ]
    for frame, code in table:
        await cp.send_frame(frame)
        reply = await cp.reply_to(frame[1])
        check(reply[0] == 4 and reply[2] == code, f"{frame!r}: answered {reply!r}, want {code}")
        await cp.heartbeat()

    # -- nothing but BootNotification before a 2.0.1 station is Accepted
    fresh = await connect201(srv, "NEW-201", boot=False)
    await fresh.call_error("Heartbeat", {}, "SecurityError")
    again = await connect201(srv, "NEW-201")  # takes over, boots, is served
    await fresh.expect_close()
    await again.heartbeat()
    await again.close()

    await cp.close()
    check(srv.alive(), "ocppd died")
    await srv.stop()


harness.main(test)
