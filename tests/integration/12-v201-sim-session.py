#!/usr/bin/python3
"""12-v201-sim-session — ocpp-sim speaking OCPP 2.0.1 against ocppd: the session script end to
end (BootNotification, per-EVSE StatusNotification, Authorize, TransactionEvent Started /
Updated with meter values / Ended) with every CALLRESULT checked against the official 2.0.1
response schema, and the database then holding exactly that session: the transaction under the
sim's own string id, its meter values linked to it, its events with consecutive seqNos, the
connectors back to Available. Then an idle 2.0.1 sim answers CSMS calls: GetBaseReport followed
by a NotifyReport that lands in the device model, Get/SetVariables per item, Reset,
ChangeAvailability, and charging.start / charging.stop as RequestStart/StopTransaction with the
remoteStartId carried by the Started event.
"""
import signal

import harness
from harness import check

V201 = "ocpp2.0.1"
CP = "SIM-V201-01"
CP_IDLE = "SIM-V201-02"
TAG = "TAG-V201-SIM-01"
METER_START = 15000
STEP = 400
N = 3


async def session(h, srv):
    res = await harness.run_sim(h, srv, CP, "--protocol", V201, "--script", "session",
                                "--connectors", "2", "--connector", "2", "--id-tag", TAG,
                                "--meter-values", N, "--meter-interval", 50,
                                "--meter-start", METER_START, "--energy-step", STEP)
    s = res.summary
    check(s["subprotocol"] == V201 and s["registration"] == "Accepted", f"summary {s}")
    meter_stop = METER_START + N * STEP
    check((s["meter_start"], s["meter_stop"]) == (METER_START, meter_stop), f"summary {s}")
    ext = s["transaction_id"]
    check(isinstance(ext, str) and 0 < len(ext) <= 36, f"transactionId {ext!r}")

    # Boot, Available for EVSEs 1 and 2, Authorize, Occupied, Started, N Updated, Ended,
    # Available: each answered by a CALLRESULT valid against the 2.0.1 response schema.
    calls = res.sent()
    actions = [c[2] for c in calls]
    check(actions == ["BootNotification"] + ["StatusNotification"] * 2 +
          ["Authorize", "StatusNotification"] + ["TransactionEvent"] * (N + 2) +
          ["StatusNotification"], f"sim sent {actions}")
    for call in calls:
        answer = res.answer_to(call[1])
        check(answer is not None and answer[0] == 3, f"{call[2]} answered {answer!r}")
        harness.check_conf(call[2], answer[2], V201)
    boot = calls[0][3]
    check(boot["reason"] == "PowerUp" and boot["chargingStation"]["model"] == "SIM-1" and
          boot["chargingStation"]["vendorName"] == "ocpp-sim", f"boot {boot}")
    check([(c[3]["evseId"], c[3]["connectorId"], c[3]["connectorStatus"])
           for c in calls if c[2] == "StatusNotification"] ==
          [(1, 1, "Available"), (2, 1, "Available"), (2, 1, "Occupied"), (2, 1, "Available")],
          f"statuses {calls}")
    check(calls[3][3] == {"idToken": {"idToken": TAG, "type": "ISO14443"}}, f"{calls[3]}")
    check(res.answer_to(calls[3][1])[2]["idTokenInfo"]["status"] == "Accepted", "Authorize")
    events = [c[3] for c in calls if c[2] == "TransactionEvent"]
    check([e["eventType"] for e in events] == ["Started"] + ["Updated"] * N + ["Ended"],
          f"event types {events}")
    check([e["seqNo"] for e in events] == list(range(N + 2)), f"seqNos {events}")
    check({e["transactionInfo"]["transactionId"] for e in events} == {ext}, f"ids {events}")
    check(events[0]["idToken"] == {"idToken": TAG, "type": "ISO14443"} and
          events[0]["evse"] == {"id": 2, "connectorId": 1}, f"Started {events[0]}")
    check(events[-1]["transactionInfo"]["stoppedReason"] == "Local", f"Ended {events[-1]}")

    def verify(db):
        tx = db.one("SELECT * FROM transactions WHERE charger_id = ?", CP)
        expect = {"ext_id": ext, "evse_id": 2, "connector_id": 1, "id_tag": TAG, "active": 0,
                  "meter_start_wh": METER_START, "meter_stop_wh": meter_stop,
                  "stop_reason": "Local", "last_energy_wh": meter_stop}
        got = {k: tx[k] for k in expect}
        check(got == expect, f"transaction row {got} != {expect}")
        check(0 < tx["start_ms"] <= tx["stop_ms"], f"start/stop times {tx}")

        mv = db.rows("SELECT * FROM meter_values WHERE charger_id = ? ORDER BY ts_ms, id", CP)
        check(mv and all(r["tx_id"] == tx["id"] and r["evse_id"] == 2 for r in mv),
              f"meter values not linked to transaction {tx['id']}: {mv}")
        periodic = [r for r in mv if r["context"] == "Sample.Periodic"]

        def series(measurand):
            return [(r["value"], r["unit"]) for r in periodic if r["measurand"] == measurand]
        check(series("Energy.Active.Import.Register") ==
              [(METER_START + k * STEP, "Wh") for k in range(1, N + 1)],
              f"energy {series('Energy.Active.Import.Register')}")
        check(series("Power.Active.Import") == [(7400, "W")] * N,
              f"power {series('Power.Active.Import')}")
        check([v for v, _ in series("SoC")] == [20 + 5 * k for k in range(1, N + 1)],
              f"SoC {series('SoC')}")
        check(len(periodic) == 3 * N, f"{len(periodic)} periodic values, expected {3 * N}")

        ev = db.rows("SELECT seq_no, event_type, stopped_reason, id_token_type FROM tx_events "
                     "WHERE tx_id = ? ORDER BY seq_no", tx["id"])
        check([(e["seq_no"], e["event_type"]) for e in ev] ==
              [(0, "Started")] + [(k, "Updated") for k in range(1, N + 1)] + [(N + 1, "Ended")],
              f"tx_events {ev}")
        check(ev[-1]["stopped_reason"] == "Local" and ev[0]["id_token_type"] == "ISO14443",
              f"tx_events {ev}")

        conns = db.rows("SELECT evse_id, connector_id, raw_status, tx_id FROM connectors "
                        "WHERE charger_id = ? ORDER BY evse_id, connector_id", CP)
        check(conns == [{"evse_id": e, "connector_id": 1, "raw_status": "Available", "tx_id": 0}
                        for e in (1, 2)], f"connectors {conns}")
        cp = db.one("SELECT * FROM chargers WHERE id = ?", CP)
        got = {k: cp[k] for k in ("protocol", "registration", "vendor", "model", "serial")}
        check(got == {"protocol": V201, "registration": "Accepted", "vendor": "ocpp-sim",
                      "model": "SIM-1", "serial": CP}, f"charger row {got}")

    harness.db_query(srv.db, verify)


async def csms_calls(h, srv):
    sim = await harness.start_sim(h, srv, CP_IDLE, "--protocol", V201, "--script", "idle",
                                  "--connectors", "2", "--meter-values", "1000",
                                  "--meter-interval", "100", timeout=60)
    a = await harness.Admin.connect(srv)

    async def ready():
        r = await a.request("chargers.get", {"chargerId": CP_IDLE})
        c = r.get("result")
        return c if c and c["connected"] and len(c["connectors"]) == 2 else None
    await harness.wait_until(ready, "the 2.0.1 sim connected with 2 EVSEs")

    async def call(action, payload):
        r = await a.call("ocpp.call", {"chargerId": CP_IDLE, "action": action,
                                       "payload": payload})
        check("result" in r, f"{action} answered {r}")
        harness.check_conf(action, r["result"], V201)
        return r["result"]

    # GetBaseReport: accepted, then one NotifyReport (seqNo 0, tbc false) into the device model.
    r = await call("GetBaseReport", {"requestId": 77, "reportBase": "FullInventory"})
    check(r["status"] == "Accepted", f"GetBaseReport {r}")
    await sim.wait_answered("NotifyReport")
    report = [f["frame"][3] for f in sim.frames()
              if f["dir"] == "out" and f["frame"][0] == 2 and f["frame"][2] == "NotifyReport"]
    check(len(report) == 1 and report[0]["requestId"] == 77 and report[0]["seqNo"] == 0 and
          report[0]["tbc"] is False and len(report[0]["reportData"]) >= 3, f"report {report}")

    def device_model(db):
        return {(r["component"], r["variable"]): r["value"] for r in db.rows(
            "SELECT component, variable, value FROM device_model WHERE charger_id = ? AND "
            "attr_type = 'Actual'", CP_IDLE)}
    dm = harness.db_query(srv.db, device_model)
    check(dm.get(("ChargingStation", "Model")) == "SIM-1" and
          ("OCPPCommCtrlr", "HeartbeatInterval") in dm, f"device model {dm}")

    # Get/SetVariables: one result per item, in order.
    hb = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    model = {"component": {"name": "ChargingStation"}, "variable": {"name": "Model"}}
    ghost = {"component": {"name": "NoSuchCtrlr"}, "variable": {"name": "X"}}
    r = await call("SetVariables", {"setVariableData": [
        dict(hb, attributeValue="120"), dict(model, attributeValue="X"),
        dict(ghost, attributeValue="1")]})
    check([x["attributeStatus"] for x in r["setVariableResult"]] ==
          ["Accepted", "Rejected", "UnknownComponent"], f"SetVariables {r}")
    r = await call("GetVariables", {"getVariableData": [
        hb, model, {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "Nope"}}]})
    got = [(x["attributeStatus"], x.get("attributeValue")) for x in r["getVariableResult"]]
    check(got == [("Accepted", "120"), ("Accepted", "SIM-1"), ("UnknownVariable", None)],
          f"GetVariables {r}")

    r = await call("ChangeAvailability", {"operationalStatus": "Inoperative",
                                          "evse": {"id": 1}})
    check(r["status"] == "Accepted", f"ChangeAvailability {r}")
    r = await call("ChangeAvailability", {"operationalStatus": "Operative", "evse": {"id": 1}})
    check(r["status"] == "Accepted", f"ChangeAvailability {r}")

    # charging.start -> RequestStartTransaction; the Started event carries the remoteStartId.
    r = await a.call("charging.start", {"chargerId": CP_IDLE, "connectorId": 2, "idTag": TAG,
                                        "waitMs": 10000}, timeout=15)
    check(r["status"] == "Accepted" and isinstance(r["transactionId"], int), f"start {r}")
    txid = r["transactionId"]
    req = [f["frame"][3] for f in sim.frames() if f["dir"] == "in" and f["frame"][0] == 2
           and f["frame"][2] == "RequestStartTransaction"]
    check(len(req) == 1 and req[0]["idToken"]["idToken"] == TAG, f"request {req}")
    await sim.wait_for(lambda fs: any(
        f["dir"] == "out" and f["frame"][0] == 2 and f["frame"][2] == "TransactionEvent" and
        f["frame"][3]["eventType"] == "Updated" for f in fs), "an Updated event")
    started = [f["frame"][3] for f in sim.frames() if f["dir"] == "out" and f["frame"][0] == 2
               and f["frame"][2] == "TransactionEvent" and f["frame"][3]["eventType"] == "Started"]
    check(len(started) == 1 and started[0]["triggerReason"] == "RemoteStart" and
          started[0]["transactionInfo"].get("remoteStartId") == req[0]["remoteStartId"],
          f"Started {started} for {req}")
    ext = started[0]["transactionInfo"]["transactionId"]

    r = await a.call("charging.stop", {"transactionId": txid}, timeout=15)
    check(r == {"status": "Accepted"}, f"stop {r}")

    async def stopped():
        tx = await a.call("transactions.get", {"id": txid})
        return tx if not tx["active"] else None
    tx = await harness.wait_until(stopped, "the remote transaction to end")
    check(tx["stopReason"] == "Remote", f"stopped transaction {tx}")

    r = await call("Reset", {"type": "OnIdle"})
    check(r["status"] == "Accepted", f"Reset {r}")

    def verify(db):
        row = db.one("SELECT * FROM transactions WHERE id = ?", txid)
        check((row["ext_id"], row["evse_id"], row["active"], row["stop_reason"]) ==
              (ext, 2, 0, "Remote"), f"remote transaction {row}")
        ev = db.rows("SELECT seq_no, remote_start_id FROM tx_events WHERE tx_id = ? "
                     "ORDER BY seq_no", txid)
        check(ev and ev[0] == {"seq_no": 0, "remote_start_id": req[0]["remoteStartId"]},
              f"tx_events {ev}")
        check(db.rows("SELECT id FROM meter_values WHERE charger_id = ? AND tx_id IS NULL",
                      CP_IDLE) == [], "meter values not linked to the transaction")

    async def idle():
        c = await a.call("chargers.get", {"chargerId": CP_IDLE})
        return all(x["transactionId"] is None and x["status"] == "Available"
                   for x in c["connectors"])
    await harness.wait_until(idle, "the EVSEs to be Available again")
    harness.db_query(srv.db, verify)

    sim.signal(signal.SIGTERM)
    res = await sim.finish()
    check(res.summary["errors"] == 0 and res.summary["incoming_calls"] >= 8, f"{res.summary}")
    await a.close()


async def test(h):
    srv = await h.server(args=["--accept-unknown-tokens", "--heartbeat-interval", "45"])
    await session(h, srv)
    await csms_calls(h, srv)
    await srv.stop()


harness.main(test)
