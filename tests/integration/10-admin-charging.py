#!/usr/bin/python3
"""10-admin-charging — the admin methods that talk to a live charger (ocpp-sim, script idle):
ocpp.call (result, remembered ChangeAvailability, schema-invalid payloads refused with nothing
sent, unknown action, CALLERROR, timeout, not connected), and the remote start/stop flow:
charging.start becomes a transaction whose id it returns, transactions.list/get see it with
its meter values, charging.stop ends it; a start the charger rejects returns no transaction.
"""
import signal

import harness
from harness import check

CP = "ADMIN-CHG-01"
TAG = "APP-TAG-1"


async def test(h):
    srv = await h.server(args=["--accept-unknown-tokens"])
    sim = await harness.start_sim(h, srv, CP, "--script", "idle", "--connectors", "2",
                                  "--meter-values", "1000", "--meter-interval", "100",
                                  "--reply", "ClearCache=error:NotSupported",
                                  "--reply", "GetLocalListVersion=none", timeout=60)
    a = await harness.Admin.connect(srv)
    await a.call("events.subscribe", {"types": ["ocpp.callerror"]})

    async def ready():
        r = await a.request("chargers.get", {"chargerId": CP})
        c = r.get("result")
        return c if c and c["connected"] and len(c["connectors"]) == 2 else None
    c = await harness.wait_until(ready, "the sim connected with 2 connectors")
    check([(x["connectorId"], x["status"], x["availability"]) for x in c["connectors"]] ==
          [(1, "Available", "Operative"), (2, "Available", "Operative")], f"connectors {c}")

    # ---- ocpp.call ------------------------------------------------------------------------
    r = await a.call("ocpp.call", {"chargerId": CP, "action": "ChangeAvailability",
                                   "payload": {"connectorId": 1, "type": "Inoperative"}})
    check(r == {"result": {"status": "Accepted"}}, f"ChangeAvailability answered {r}")
    c = await a.call("chargers.get", {"chargerId": CP})
    check(c["connectors"][0]["availability"] == "Inoperative", f"availability not kept: {c}")
    await a.call("ocpp.call", {"chargerId": CP, "action": "ChangeAvailability",
                               "payload": {"connectorId": 0, "type": "Operative"}})
    c = await a.call("chargers.get", {"chargerId": CP})
    check({x["availability"] for x in c["connectors"]} == {"Operative"}, f"connector 0: {c}")

    # Remembered on acceptance: configuration keys and the local list version.
    r = await a.call("ocpp.call", {"chargerId": CP, "action": "GetConfiguration",
                                   "payload": {}})
    keys = {k["key"]: k.get("value") for k in r["result"].get("configurationKey", [])}
    c = await a.call("chargers.get", {"chargerId": CP})
    check(c["configuration"] == keys and c["localListVersion"] is None,
          f"configuration {c['configuration']} != {keys}")
    await a.call("ocpp.call", {"chargerId": CP, "action": "ChangeConfiguration",
                               "payload": {"key": "MeterValueSampleInterval", "value": "15"}})
    await a.call("ocpp.call", {"chargerId": CP, "action": "SendLocalList",
                               "payload": {"listVersion": 7, "updateType": "Full"}})
    c = await a.call("chargers.get", {"chargerId": CP})
    check(c["configuration"].get("MeterValueSampleInterval") == "15" and
          c["localListVersion"] == 7, f"after Change/SendLocalList {c}")

    for payload, field in [({"connectorId": "1", "type": "Inoperative"}, "connectorId"),
                           ({"connectorId": 1, "type": "Sometimes"}, "type"),
                           ({"connectorId": 1}, "payload"),
                           ({"connectorId": 1, "type": "Operative", "extra": 1}, "payload")]:
        await a.error("ocpp.call", {"chargerId": CP, "action": "ChangeAvailability",
                                    "payload": payload}, -32602, field)
    await a.error("ocpp.call", {"chargerId": CP, "action": "FlyToTheMoon", "payload": {}},
                  -32602, "action")
    await a.error("ocpp.call", {"chargerId": CP, "action": "Reset"}, -32602, "payload")
    await a.error("ocpp.call", {"chargerId": "GHOST", "action": "Reset",
                                "payload": {"type": "Soft"}}, -32011)
    err = await a.error("ocpp.call", {"chargerId": CP, "action": "ClearCache", "payload": {}},
                        -32010)
    async def callerror_event():
        return [n["params"] for n in a.notifications if n["params"]["type"] == "ocpp.callerror"]
    ev = (await harness.wait_until(callerror_event, "an ocpp.callerror event"))[0]
    check(ev["chargerId"] == CP and ev["data"]["action"] == "ClearCache" and
          ev["data"]["errorCode"] == "NotSupported", f"ocpp.callerror event {ev}")
    check(err["data"]["ocppErrorCode"] == "NotSupported" and "errorDescription" in err["data"]
          and isinstance(err["data"]["errorDetails"], dict), f"CALLERROR data {err}")
    await a.error("ocpp.call", {"chargerId": CP, "action": "GetLocalListVersion", "payload": {},
                                "timeoutMs": 500}, -32012)
    # Only the two valid ChangeAvailability calls reached the charger.
    got = [f["frame"] for f in sim.frames()
           if f["dir"] == "in" and f["frame"][0] == 2 and f["frame"][2] == "ChangeAvailability"]
    check(len(got) == 2, f"the sim received {len(got)} ChangeAvailability calls: {got}")

    # ---- charging.start / charging.stop ---------------------------------------------------------
    await a.error("charging.start", {"chargerId": "GHOST", "idTag": TAG}, -32011)
    await a.error("charging.start", {"chargerId": CP, "idTag": TAG, "connectorId": 0}, -32602,
                  "connectorId")
    r = await a.call("charging.start", {"chargerId": CP, "connectorId": 2, "idTag": TAG,
                                        "waitMs": 10000}, timeout=15)
    check(r["status"] == "Accepted" and isinstance(r["transactionId"], int), f"start {r}")
    txid = r["transactionId"]
    # The sim runs one session at a time: a second start is rejected, with no transaction.
    r2 = await a.call("charging.start", {"chargerId": CP, "idTag": "OTHER", "waitMs": 1000})
    check(r2 == {"status": "Rejected", "transactionId": None}, f"second start {r2}")

    lst = await a.call("transactions.list", {"chargerId": CP, "active": True})
    check([t["id"] for t in lst["transactions"]] == [txid] and lst["nextCursor"] is None,
          f"active transactions {lst}")
    t = lst["transactions"][0]
    check((t["chargerId"], t["connectorId"], t["evseId"], t["idTag"], t["stopTime"]) ==
          (CP, 2, 2, TAG, None), f"transaction {t}")

    async def has_meter():
        tx = await a.call("transactions.get", {"id": txid})
        return tx if tx["meterValues"]["energyWh"] else None
    tx = await harness.wait_until(has_meter, "meter values on the remote session")
    check(set(tx["meterValues"]) == {"energyWh", "powerW", "socPercent", "thinned"} and
          tx["meterValues"]["thinned"] is False, f"series {tx}")

    r = await a.call("charging.stop", {"transactionId": txid}, timeout=15)
    check(r == {"status": "Accepted"}, f"stop {r}")

    async def stopped():
        tx = await a.call("transactions.get", {"id": txid})
        return tx if not tx["active"] else None
    tx = await harness.wait_until(stopped, "the transaction to end")
    check(tx["stopReason"] == "Remote" and tx["stopTime"] and tx["energyWh"] is not None,
          f"stopped transaction {tx}")
    await a.error("charging.stop", {"transactionId": txid}, -32004)
    await a.error("transactions.get", {"id": 999999}, -32004)

    # A second session, then paging newest first.
    async def idle():
        c = await a.call("chargers.get", {"chargerId": CP})
        return all(x["transactionId"] is None for x in c["connectors"])
    await harness.wait_until(idle, "the connectors to be free again")
    r = await a.call("charging.start", {"chargerId": CP, "connectorId": 1, "idTag": TAG},
                     timeout=20)
    check(r["status"] == "Accepted" and r["transactionId"] not in (None, txid), f"start 2 {r}")
    page1 = await a.call("transactions.list", {"chargerId": CP, "limit": 1})
    check([t["id"] for t in page1["transactions"]] == [r["transactionId"]] and
          page1["nextCursor"], f"page 1 {page1}")
    page2 = await a.call("transactions.list", {"chargerId": CP, "limit": 1,
                                               "cursor": page1["nextCursor"]})
    check([t["id"] for t in page2["transactions"]] == [txid] and page2["nextCursor"] is None,
          f"page 2 {page2}")
    await a.error("transactions.list", {"cursor": "abc"}, -32602, "cursor")
    check((await a.call("charging.stop", {"transactionId": r["transactionId"]}))["status"]
          == "Accepted", "stop 2")

    sim.signal(signal.SIGTERM)
    await sim.finish(expect_ok=False)
    await a.close()
    await srv.stop()


harness.main(test)
