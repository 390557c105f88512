#!/usr/bin/python3
"""10-admin-v201 — the version-neutral admin methods against an OCPP 2.0.1 station (a raw
ocpp2.0.1 client): ocpp.call validates against the 2.0.1 request schema (a 1.6-only value is
refused, nothing sent), charging.start sends RequestStartTransaction naming the EVSE and
returns the transaction the station then starts for that idToken, charging.stop sends
RequestStopTransaction with the station's own transaction id.
"""
import asyncio

import harness
from harness import check, iso_now

V201 = "ocpp2.0.1"
CP = "ADMIN-V201-01"
TAG = "APP-V201-TAG"


async def test(h):
    srv = await h.server(args=["--accept-unknown-tokens"])
    cp = await harness.Charger.connect(srv, CP, protocols=(V201,))
    ans = await cp.call_ok("BootNotification", {
        "reason": "PowerUp", "chargingStation": {"vendorName": "IT", "model": "V201"}})
    check(ans["status"] == "Accepted", f"boot {ans}")
    await cp.call_ok("StatusNotification", {"timestamp": iso_now(), "connectorStatus":
                                            "Available", "evseId": 1, "connectorId": 1})
    a = await harness.Admin.connect(srv)

    # ocpp.call uses the station's protocol: "Soft" is a 1.6 Reset type, not a 2.0.1 one.
    await a.error("ocpp.call", {"chargerId": CP, "action": "Reset",
                                "payload": {"type": "Soft"}}, -32602, "type")
    await a.error("ocpp.call", {"chargerId": CP, "action": "RemoteStartTransaction",
                                "payload": {"idTag": "X"}}, -32602, "action")
    check(not cp.server_calls, f"invalid calls reached the station: {cp.server_calls}")
    task = asyncio.ensure_future(a.call("ocpp.call", {"chargerId": CP, "action": "Reset",
                                                      "payload": {"type": "OnIdle"}}))
    await cp.answer_call("Reset", {"status": "Scheduled"})
    check(await task == {"result": {"status": "Scheduled"}}, "2.0.1 Reset")

    task = asyncio.ensure_future(a.call("ocpp.call", {
        "chargerId": CP, "action": "ChangeAvailability",
        "payload": {"operationalStatus": "Inoperative", "evse": {"id": 1}}}))
    await cp.answer_call("ChangeAvailability", {"status": "Accepted"})
    await task
    c = await a.call("chargers.get", {"chargerId": CP})
    check([x["availability"] for x in c["connectors"]] == ["Inoperative"], f"2.0.1 avail {c}")
    task = asyncio.ensure_future(a.call("ocpp.call", {
        "chargerId": CP, "action": "ChangeAvailability",
        "payload": {"operationalStatus": "Operative"}}))
    await cp.answer_call("ChangeAvailability", {"status": "Accepted"})
    await task

    # charging.start: RequestStartTransaction, then the TransactionEvent that starts it.
    task = asyncio.ensure_future(a.call("charging.start", {"chargerId": CP, "connectorId": 1,
                                                           "idTag": TAG, "waitMs": 10000},
                                        timeout=15))
    call = await cp.answer_call("RequestStartTransaction", {"status": "Accepted"})
    req = call[3]
    check(req["idToken"]["idToken"] == TAG and req["evseId"] == 1 and
          isinstance(req["remoteStartId"], int), f"RequestStartTransaction {req}")
    await cp.call_ok("TransactionEvent", {
        "eventType": "Started", "timestamp": iso_now(), "triggerReason": "RemoteStart",
        "seqNo": 0, "evse": {"id": 1, "connectorId": 1},
        "idToken": {"idToken": TAG, "type": "Central"},
        "transactionInfo": {"transactionId": "V201-TX-1", "remoteStartId": req["remoteStartId"],
                            "chargingState": "Charging"}})
    r = await task
    check(r["status"] == "Accepted" and isinstance(r["transactionId"], int), f"start {r}")
    tx = await a.call("transactions.get", {"id": r["transactionId"]})
    check((tx["chargerId"], tx["evseId"], tx["idTag"], tx["active"]) == (CP, 1, TAG, True),
          f"transaction {tx}")

    task = asyncio.ensure_future(a.call("charging.stop", {"transactionId": r["transactionId"]}))
    call = await cp.answer_call("RequestStopTransaction", {"status": "Accepted"})
    check(call[3] == {"transactionId": "V201-TX-1"}, f"RequestStopTransaction {call[3]}")
    check(await task == {"status": "Accepted"}, "stop result")

    # A start the station rejects returns no transaction.
    task = asyncio.ensure_future(a.call("charging.start", {"chargerId": CP, "idTag": TAG}))
    await cp.answer_call("RequestStartTransaction", {"status": "Rejected"})
    check(await task == {"status": "Rejected", "transactionId": None}, "rejected start")

    await a.close()
    await cp.close()
    await srv.stop()


harness.main(test)
