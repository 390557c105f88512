#!/usr/bin/python3
"""13-admin-devicemodel — the 2.0.1 device model through the admin API, with a raw ocpp2.0.1
client answering the server's calls: a NotifyReport is visible in devicemodel.get (filters,
attributes, characteristics) and in chargers.get's deviceModel summary; an accepted
SetVariables result stores the value that was asked for (a rejected one does not); an accepted
GetVariables result stores the value the station reported; charging.start is matched to the
TransactionEvent carrying its remoteStartId even when that event has no idToken; parameter
errors and an unknown charger.
"""
import asyncio

import harness
from harness import check, iso_now

V201 = "ocpp2.0.1"
CP = "DM-V201-01"
TAG = "DM-TAG-1"


def find(dm, component, variable, evse=None):
    for v in dm["variables"]:
        if (v["component"]["name"] == component and v["variable"]["name"] == variable and
                v["component"].get("evse", {}).get("id") == evse):
            return v
    return None


def attr(v, typ="Actual"):
    for a in v["attributes"]:
        if a["type"] == typ:
            return a
    return None


async def test(h):
    srv = await h.server(args=["--accept-unknown-tokens"])
    cp = await harness.Charger.connect(srv, CP, protocols=(V201,))
    ans = await cp.call_ok("BootNotification", {
        "reason": "PowerUp", "chargingStation": {"vendorName": "IT", "model": "DM"}})
    check(ans["status"] == "Accepted", f"boot {ans}")
    await cp.call_ok("StatusNotification", {"timestamp": iso_now(), "connectorStatus":
                                            "Available", "evseId": 1, "connectorId": 1})
    a = await harness.Admin.connect(srv)

    # Parameters and unknown chargers.
    await a.error("devicemodel.get", {}, -32602, "chargerId")
    await a.error("devicemodel.get", {"chargerId": CP, "component": 5}, -32602, "component")
    await a.error("devicemodel.get", {"chargerId": CP, "variable": ""}, -32602, "variable")
    await a.error("devicemodel.get", {"chargerId": CP, "x": 1}, -32602)
    await a.error("devicemodel.get", {"chargerId": "NO-SUCH-CP"}, -32004)
    dm = await a.call("devicemodel.get", {"chargerId": CP})
    check(dm["variables"] == [] and dm["protocol"] == V201, f"empty device model {dm}")
    c = await a.call("chargers.get", {"chargerId": CP})
    check(c["deviceModel"]["variables"] == 0 and c["deviceModel"]["lastUpdatedAt"] is None,
          f"empty summary {c.get('deviceModel')}")

    # A report (two parts, assembled by requestId) the station sends after GetBaseReport.
    task = asyncio.ensure_future(a.call("ocpp.call", {
        "chargerId": CP, "action": "GetBaseReport",
        "payload": {"requestId": 7, "reportBase": "FullInventory"}}))
    await cp.answer_call("GetBaseReport", {"status": "Accepted"})
    check(await task == {"result": {"status": "Accepted"}}, "GetBaseReport")
    await cp.call_ok("NotifyReport", {
        "requestId": 7, "generatedAt": iso_now(), "seqNo": 0, "tbc": True, "reportData": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"},
             "variableAttribute": [{"type": "Actual", "value": "300", "mutability": "ReadWrite",
                                    "persistent": True}],
             "variableCharacteristics": {"dataType": "integer", "unit": "s", "minLimit": 10,
                                         "supportsMonitoring": False}},
            {"component": {"name": "EVSE", "evse": {"id": 1}},
             "variable": {"name": "AvailabilityState"},
             "variableAttribute": [{"value": "Available", "mutability": "ReadOnly"}]}]})
    dm = await a.call("devicemodel.get", {"chargerId": CP})
    check(dm["variables"] == [], f"a report is applied only once complete: {dm}")
    await cp.call_ok("NotifyReport", {
        "requestId": 7, "generatedAt": iso_now(), "seqNo": 1, "reportData": [
            {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "Identity"},
             "variableAttribute": [{"value": CP, "mutability": "ReadOnly"}]},
            {"component": {"name": "TxCtrlr"}, "variable": {"name": "EVConnectionTimeOut"},
             "variableAttribute": [{"value": "60"}, {"type": "MaxSet", "value": "600"}]}]})
    dm = await a.call("devicemodel.get", {"chargerId": CP})
    check(len(dm["variables"]) == 4, f"reported variables {dm}")
    hb = find(dm, "OCPPCommCtrlr", "HeartbeatInterval")
    check(hb and attr(hb)["value"] == "300" and attr(hb)["mutability"] == "ReadWrite" and
          attr(hb)["persistent"] is True and attr(hb)["characteristics"]["unit"] == "s" and
          attr(hb)["characteristics"]["dataType"] == "integer", f"HeartbeatInterval {hb}")
    ev = find(dm, "EVSE", "AvailabilityState", evse=1)
    check(ev and attr(ev)["value"] == "Available" and attr(ev)["mutability"] == "ReadOnly",
          f"EVSE 1 AvailabilityState {ev}")
    to = find(dm, "TxCtrlr", "EVConnectionTimeOut")
    check(to and attr(to)["value"] == "60" and attr(to, "MaxSet")["value"] == "600",
          f"two attributes of one variable {to}")
    c = await a.call("chargers.get", {"chargerId": CP})
    s = c["deviceModel"]
    check((s["components"], s["variables"], s["attributes"]) == (4, 4, 5) and
          s["lastUpdatedAt"], f"summary {s}")

    # Filters.
    f = await a.call("devicemodel.get", {"chargerId": CP, "component": "TxCtrlr"})
    check([v["variable"]["name"] for v in f["variables"]] == ["EVConnectionTimeOut"], f"{f}")
    f = await a.call("devicemodel.get", {"chargerId": CP, "variable": "HeartbeatInterval"})
    check([v["component"]["name"] for v in f["variables"]] == ["OCPPCommCtrlr"], f"{f}")
    f = await a.call("devicemodel.get", {"chargerId": CP, "component": "Nope"})
    check(f["variables"] == [], f"{f}")

    # SetVariables: the accepted value is stored (keeping what the report said), the rejected
    # one is not.
    task = asyncio.ensure_future(a.call("ocpp.call", {
        "chargerId": CP, "action": "SetVariables", "payload": {"setVariableData": [
            {"attributeValue": "120", "component": {"name": "OCPPCommCtrlr"},
             "variable": {"name": "HeartbeatInterval"}},
            {"attributeValue": "90", "component": {"name": "TxCtrlr"},
             "variable": {"name": "EVConnectionTimeOut"}},
            {"attributeValue": "x", "attributeType": "Target",
             "component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"}}]}}))
    call = await cp.answer_call("SetVariables", {"setVariableResult": [
        {"attributeStatus": "Accepted", "component": {"name": "OCPPCommCtrlr"},
         "variable": {"name": "HeartbeatInterval"}},
        {"attributeStatus": "Rejected", "component": {"name": "TxCtrlr"},
         "variable": {"name": "EVConnectionTimeOut"}},
        {"attributeStatus": "Accepted", "attributeType": "Target",
         "component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"}}]})
    check(len(call[3]["setVariableData"]) == 3, f"SetVariables sent {call[3]}")
    r = await task
    check(r["result"]["setVariableResult"][1]["attributeStatus"] == "Rejected", f"{r}")
    dm = await a.call("devicemodel.get", {"chargerId": CP})
    hb = find(dm, "OCPPCommCtrlr", "HeartbeatInterval")
    check(attr(hb)["value"] == "120" and attr(hb)["mutability"] == "ReadWrite" and
          attr(hb)["characteristics"]["unit"] == "s", f"set HeartbeatInterval {hb}")
    to = find(dm, "TxCtrlr", "EVConnectionTimeOut")
    check(attr(to)["value"] == "60", f"a rejected set changes nothing: {to}")
    su = find(dm, "SampledDataCtrlr", "TxUpdatedInterval")
    check(su and attr(su, "Target")["value"] == "x" and attr(su) is None,
          f"a new variable by its attribute type {su}")

    # GetVariables: accepted values are stored, others not.
    task = asyncio.ensure_future(a.call("ocpp.call", {
        "chargerId": CP, "action": "GetVariables", "payload": {"getVariableData": [
            {"component": {"name": "EVSE", "evse": {"id": 1}},
             "variable": {"name": "AvailabilityState"}},
            {"component": {"name": "ClockCtrlr"}, "variable": {"name": "TimeSource"}},
            {"component": {"name": "Foo"}, "variable": {"name": "Bar"}}]}}))
    await cp.answer_call("GetVariables", {"getVariableResult": [
        {"attributeStatus": "Accepted", "attributeValue": "Unavailable",
         "component": {"name": "EVSE", "evse": {"id": 1}},
         "variable": {"name": "AvailabilityState"}},
        {"attributeStatus": "Accepted", "attributeValue": "NTP,Heartbeat",
         "component": {"name": "ClockCtrlr"}, "variable": {"name": "TimeSource"}},
        {"attributeStatus": "UnknownComponent", "component": {"name": "Foo"},
         "variable": {"name": "Bar"}}]})
    await task
    dm = await a.call("devicemodel.get", {"chargerId": CP})
    ev = find(dm, "EVSE", "AvailabilityState", evse=1)
    check(attr(ev)["value"] == "Unavailable" and attr(ev)["mutability"] == "ReadOnly",
          f"got AvailabilityState {ev}")
    ts = find(dm, "ClockCtrlr", "TimeSource")
    check(ts and attr(ts)["value"] == "NTP,Heartbeat", f"got TimeSource {ts}")
    check(find(dm, "Foo", "Bar") is None, "an unknown component is not stored")
    c = await a.call("chargers.get", {"chargerId": CP})
    check(c["deviceModel"]["variables"] == 6, f"summary after set/get {c['deviceModel']}")

    # charging.start: matched by remoteStartId; the Started event carries no idToken (the
    # station authorizes later), and another session of the same token must not match.
    task = asyncio.ensure_future(a.call("charging.start", {"chargerId": CP, "connectorId": 1,
                                                           "idTag": TAG, "waitMs": 10000},
                                        timeout=15))
    call = await cp.answer_call("RequestStartTransaction", {"status": "Accepted"})
    rsid = call[3]["remoteStartId"]
    check(isinstance(rsid, int) and rsid > 0, f"remoteStartId {call[3]}")
    await cp.call_ok("TransactionEvent", {
        "eventType": "Started", "timestamp": iso_now(), "triggerReason": "Authorized",
        "seqNo": 0, "evse": {"id": 1, "connectorId": 1},
        "idToken": {"idToken": TAG, "type": "Central"},
        "transactionInfo": {"transactionId": "DM-OTHER-TX"}})
    await asyncio.sleep(0.3)
    check(not task.done(), f"a session without the remoteStartId matched: {task}")
    await cp.call_ok("TransactionEvent", {
        "eventType": "Started", "timestamp": iso_now(), "triggerReason": "RemoteStart",
        "seqNo": 0, "evse": {"id": 1, "connectorId": 1},
        "transactionInfo": {"transactionId": "DM-TX-1", "remoteStartId": rsid}})
    r = await task
    check(r["status"] == "Accepted" and isinstance(r["transactionId"], int) and
          r["remoteStartId"] == rsid, f"start {r}")
    tx = await a.call("transactions.get", {"id": r["transactionId"]})
    check(tx["chargerId"] == CP and tx["active"], f"transaction {tx}")

    # The next start gets a new id.
    task = asyncio.ensure_future(a.call("charging.start", {"chargerId": CP, "idTag": TAG,
                                                           "waitMs": 0}))
    call = await cp.answer_call("RequestStartTransaction", {"status": "Accepted"})
    check(call[3]["remoteStartId"] != rsid, f"remoteStartId reused {call[3]}")
    r = await task
    check(r["status"] == "Accepted" and r["transactionId"] is None, f"start without wait {r}")

    task = asyncio.ensure_future(a.call("charging.stop", {"transactionId": tx["id"]}))
    call = await cp.answer_call("RequestStopTransaction", {"status": "Accepted"})
    check(call[3] == {"transactionId": "DM-TX-1"}, f"RequestStopTransaction {call[3]}")
    check(await task == {"status": "Accepted"}, "stop result")

    await a.close()
    await cp.close()
    await srv.stop()


harness.main(test)
