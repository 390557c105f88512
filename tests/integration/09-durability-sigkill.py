#!/usr/bin/python3
"""09-durability-sigkill — acknowledged means stored, even through SIGKILL.

ocpp-load runs 20 chargers through transactions (StartTransaction, MeterValues, StopTransaction)
against ocppd on a database file and logs every CALLRESULT it received for those messages. Mid-run
ocppd is killed with SIGKILL (no shutdown code runs), then started again on the same file. Every
acknowledged message must be in the database: the transaction row with its meterStart, each
acknowledged meter reading, and each acknowledged stop with its meterStop. Zero loss.

Extra argument (besides the harness's): --load PATH to the ocpp-load binary.
"""
import asyncio
import json
import os
import time

import harness
from harness import check


LOAD = harness.take_path_arg("--load", "ocpp-load")


def read_acks(path):
    acks = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if line.endswith("\n"):  # a line is written with one write(); never partial
                    acks.append(json.loads(line))
    return acks


async def test(h):
    srv = await h.server(args=["--accept-unknown-tokens"])
    ack_path = os.path.join(h.tmpdir, "acks.jsonl")
    load_log = os.path.join(h.tmpdir, "ocpp-load.out")
    with open(load_log, "w") as out:
        load = await asyncio.create_subprocess_exec(
            LOAD, "--url", srv.url(), "--chargers", "20", "--ramp", "0", "--rate", "400",
            "--duration", "6", "--drain", "1", "--connect-timeout", "5", "--transactions",
            "--meter-count", "3", "--ack-log", ack_path, "--json",
            stdout=out, stderr=asyncio.subprocess.STDOUT)

    # Kill once a good number of transaction messages has been acknowledged (and the load is
    # still running, so more are in flight at the moment of the kill).
    deadline = time.monotonic() + 10
    while len(read_acks(ack_path)) < 150:
        check(time.monotonic() < deadline, f"ocpp-load acknowledged only "
              f"{len(read_acks(ack_path))} transaction messages in 10 s")
        check(load.returncode is None, "ocpp-load ended before the kill")
        await asyncio.sleep(0.05)
    srv.proc.kill()  # SIGKILL: no commit, no shutdown, nothing flushed by us
    srv.proc.wait()
    h.note(f"ocppd killed with {len(read_acks(ack_path))} acknowledgements logged")

    rc = await asyncio.wait_for(load.wait(), 20)
    with open(load_log) as f:
        summary = f.read()
    check(rc == 0, f"ocpp-load exited with {rc}: {summary}")
    acks = read_acks(ack_path)
    kinds = {a["action"] for a in acks}
    check(kinds == {"StartTransaction", "MeterValues", "StopTransaction"},
          f"the run did not acknowledge every kind of transaction message: {sorted(kinds)}")

    srv2 = await h.server(db=srv.db, args=["--accept-unknown-tokens"], name="ocppd-restarted")

    def missing(db):
        lost = []
        for a in acks:
            tx = db.rows("SELECT charger_id, meter_start_wh, meter_stop_wh FROM transactions "
                         "WHERE id = ?", a["transactionId"])
            if a["action"] == "StartTransaction":
                ok = tx == [{"charger_id": a["charger"], "meter_start_wh": a["meterStart"],
                             "meter_stop_wh": tx[0]["meter_stop_wh"] if tx else None}]
            elif a["action"] == "StopTransaction":
                ok = len(tx) == 1 and tx[0]["meter_stop_wh"] == a["meterStop"]
            else:
                ok = db.value("SELECT count(*) FROM meter_values WHERE tx_id = ? AND value = ? "
                              "AND measurand = 'Energy.Active.Import.Register'",
                              a["transactionId"], a["value"]) >= 1
            if not ok:
                lost.append(a)
        return lost
    lost = harness.db_query(srv2.db, missing)
    # The check itself must be able to fail: a reading that was never sent is reported missing.
    acks.append({"charger": "NOBODY", "action": "MeterValues", "transactionId": 1,
                 "value": -12345})
    check(harness.db_query(srv2.db, missing)[-1:] == acks[-1:],
          "the durability check did not notice a fabricated acknowledgement")
    acks.pop()
    counts = {k: sum(1 for a in acks if a["action"] == k) for k in sorted(kinds)}
    h.note(f"acknowledged before the kill: {counts}")
    print(f"acknowledged: {counts}; missing after SIGKILL and restart: {len(lost)}")
    check(not lost, f"{len(lost)} of {len(acks)} acknowledged messages are not in the database "
                    f"after SIGKILL and restart, e.g. {lost[:5]}")
    await srv2.stop()


harness.main(test, timeout=60)
