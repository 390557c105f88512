#!/usr/bin/python3
"""06-takeover — a second connection with a charger's id replaces the first: the old socket
gets a close frame with a reason, the new one is served, an open transaction survives the
switch, and other chargers are not affected. ocpp-sim sees the same close as a raw client.
"""
import harness
from harness import check, iso_now

CP = "TAKEOVER-01"


async def test(h):
    srv = await h.server(args=["--accept-unknown-tokens"])
    other = await harness.Charger.connect(srv, "TAKEOVER-OTHER")
    await other.boot()

    first = await harness.Charger.connect(srv, CP)
    await first.boot()
    await first.status(1, "Charging")
    ans = await first.call_ok("StartTransaction", {"connectorId": 1, "idTag": "TAG-TK",
                                                   "meterStart": 100, "timestamp": iso_now()})
    txid = ans["transactionId"]

    second = await harness.Charger.connect(srv, CP)
    code, reason = await first.expect_close()
    check(code != 1006 and 1000 <= code <= 4999,
          f"the replaced connection was not closed with a close frame (code {code})")
    check(reason != "", "the replaced connection's close frame carries no reason")
    h.note(f"replaced connection closed code={code} reason={reason!r}")

    await second.heartbeat()
    await other.heartbeat()
    active = harness.db_query(srv.db, lambda db: db.value(
        "SELECT active FROM transactions WHERE id = ?", txid))
    check(active == 1, "the takeover closed the open transaction")
    await second.call_ok("StopTransaction", {"transactionId": txid, "meterStop": 900,
                                             "timestamp": iso_now(), "reason": "Local"})
    tx = harness.db_query(srv.db, lambda db: db.one(
        "SELECT active, flags, meter_stop_wh FROM transactions WHERE id = ?", txid))
    check(tx == {"active": 0, "flags": 0, "meter_stop_wh": 900}, f"transaction {tx}")

    # The same through ocpp-sim: an idle sim is replaced and reports the close it saw.
    sim = await harness.start_sim(h, srv, "TAKEOVER-SIM", "--script", "idle", "--connectors", 1,
                                  timeout=30)
    await sim.wait_for(lambda frames: sum(1 for f in frames if f["dir"] == "in") >= 3,
                       "boot and the StatusNotification round")
    third = await harness.Charger.connect(srv, "TAKEOVER-SIM")
    res = await sim.finish(expect_ok=False)
    check(res.rc == 1 and res.summary["completed"], f"sim summary {res.summary}")
    check(res.summary["close_code"] not in (0, 1006) and res.summary["close_reason"] != "",
          f"the sim did not see a clean close: {res.summary}")
    await third.heartbeat()

    await second.close()
    await third.close()
    await other.close()
    await srv.stop()


harness.main(test)
