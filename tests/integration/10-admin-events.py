#!/usr/bin/python3
"""10-admin-events — events.subscribe: live delivery after commit, replay from fromSeq that
continues live with no gap and no duplicate (while chargers are busy), type and charger
filters, and replay across an ocppd restart. Every delivered event is compared with the
events table.
"""
import asyncio

import harness
from harness import check


def seqs(a, types=None, charger=None):
    return [n["params"]["seq"] for n in a.notifications
            if n["method"] == "event" and (types is None or n["params"]["type"] in types)
            and (charger is None or n["params"]["chargerId"] == charger)]


async def test(h):
    srv = await h.server(args=["--accept-unknown-tokens"])
    live = await harness.Admin.connect(srv)
    r = await live.call("events.subscribe")
    check(r["subscribed"] is True and isinstance(r["lastSeq"], int), f"subscribe {r}")
    start = r["lastSeq"]
    await live.error("events.subscribe", {"fromSeq": -1}, -32602, "fromSeq")
    await live.error("events.subscribe", {"types": "connector.status"}, -32602, "types")

    await harness.run_sim(h, srv, "EV-SIM-1", "--script", "boot", "--connectors", "2")

    async def got_disconnect():
        return any(n["params"]["type"] == "charger.disconnected" for n in live.notifications)
    await harness.wait_until(got_disconnect, "charger.disconnected on the live subscription")
    s = seqs(live)
    check(s == list(range(start + 1, start + 1 + len(s))), f"live seqs not contiguous: {s}")
    types = [n["params"]["type"] for n in live.notifications]
    for t in ("charger.connected", "charger.booted", "connector.status",
              "charger.disconnected"):
        check(t in types, f"no {t} event among {types}")
    ev = live.notifications[types.index("connector.status")]["params"]
    check(ev["chargerId"] == "EV-SIM-1" and isinstance(ev["data"], dict) and ev["time"],
          f"event shape {ev}")

    # Replay from 0 with a filter while a session runs: replay and live must join exactly.
    sim = await harness.start_sim(h, srv, "EV-SIM-2", "--script", "session",
                                  "--meter-values", "6", "--meter-interval", "50")
    await asyncio.sleep(0.15)
    filt = await harness.Admin.connect(srv)
    await filt.call("events.subscribe", {"fromSeq": 0, "types": ["connector.status",
                                                                 "transaction.started"]})
    full = await harness.Admin.connect(srv)
    await full.call("events.subscribe", {"fromSeq": 0})
    one = await harness.Admin.connect(srv)
    await one.call("events.subscribe", {"fromSeq": 0, "chargerId": "EV-SIM-1"})
    await sim.finish()

    async def settled():
        return seqs(full) and seqs(full)[-1] == seqs(live)[-1]

    async def done2():
        return sum(1 for n in live.notifications if n["params"]["type"] ==
                   "charger.disconnected") == 2
    await harness.wait_until(done2, "the second sim's disconnect")
    await harness.wait_until(settled, "the replaying subscriber to catch up")

    def verify(db):
        rows = db.rows("SELECT seq, type, charger_id FROM events ORDER BY seq")
        all_seqs = [r["seq"] for r in rows]
        check(seqs(full) == all_seqs, f"replay+live {seqs(full)} != stored {all_seqs}")
        want = [r["seq"] for r in rows if r["type"] in ("connector.status",
                                                          "transaction.started")]
        check(seqs(filt) == want, f"filtered {seqs(filt)} != {want}")
        want = [r["seq"] for r in rows if r["charger_id"] == "EV-SIM-1"]
        check(seqs(one) == want, f"charger filter {seqs(one)} != {want}")
        return all_seqs[-1]
    last = harness.db_query(srv.db, verify)
    for a in (live, filt, full, one):
        await a.close()
    await srv.stop()

    # Replay across a restart: the same database, resumed from a seq in the middle.
    srv2 = await h.server(db=srv.db, args=["--accept-unknown-tokens"], name="ocppd2")
    a = await harness.Admin.connect(srv2)
    mid = last // 2
    r = await a.call("events.subscribe", {"fromSeq": mid})
    check(r["lastSeq"] >= last, f"lastSeq after restart {r}")

    async def replayed():
        return len(seqs(a)) >= last - mid
    await harness.wait_until(replayed, "replay after restart")
    check(seqs(a)[:last - mid] == list(range(mid + 1, last + 1)), f"replay {seqs(a)}")
    await a.close()
    await srv2.stop()


harness.main(test)
