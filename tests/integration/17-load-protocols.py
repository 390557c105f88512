#!/usr/bin/python3
"""17-load-protocols — ocpp-load speaks what it claims: 1.6, 2.0.1 and a mix of both.

For each --protocol (ocpp1.6, ocpp2.0.1, mix) ocpp-load runs 20 chargers through transactions
against ocppd for 2 s. Every CALL must be answered with a CALLRESULT (no CALLERROR, timeout or
rejected boot on the loader's side, ocppd_callerrors_out_total unchanged on the server's), the
messages must be the version's own (StartTransaction for 1.6, TransactionEvent for 2.0.1, both in
the mix), and the 2.0.1 transactions must be stored and ended. A bad --protocol exits 2.

Extra argument (besides the harness's): --load PATH to the ocpp-load binary.
"""
import asyncio
import json
import subprocess
import urllib.request

import harness
from harness import check


LOAD = harness.take_path_arg("--load", "ocpp-load")


def callerrors_sent(srv):
    url = f"http://127.0.0.1:{srv.admin_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("ocppd_callerrors_out_total "):
                return int(line.split()[1])
    raise AssertionError("no ocppd_callerrors_out_total in /metrics")


async def run_load(srv, protocol, prefix):
    proc = await asyncio.create_subprocess_exec(
        LOAD, "--url", srv.url(), "--protocol", protocol, "--id-prefix", prefix,
        "--chargers", "20", "--ramp", "0", "--rate", "200", "--duration", "2", "--drain", "2",
        "--connect-timeout", "5", "--transactions", "--meter-count", "2", "--json",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    check(proc.returncode == 0, f"ocpp-load --protocol {protocol} exited {proc.returncode}: "
                                f"{err.decode()}")
    return json.loads(out)


async def test(h):
    srv = await h.server(args=["--accept-unknown-tokens"])
    expect = {  # action -> must it appear (True) or must it not (False)
        "ocpp1.6": {"StartTransaction": True, "StopTransaction": True, "TransactionEvent": False},
        "ocpp2.0.1": {"StartTransaction": False, "MeterValues": False, "TransactionEvent": True},
        "mix": {"StartTransaction": True, "TransactionEvent": True},
    }
    for protocol, actions in expect.items():
        before = callerrors_sent(srv)
        prefix = "L" + protocol.replace(".", "").replace("ocpp", "") + "-"
        r = await run_load(srv, protocol, prefix)
        h.note(f"{protocol}: {json.dumps(r)}")
        errors = {k: v for k, v in r["errors"].items() if v}
        check(not errors, f"{protocol}: loader errors {errors}")
        check(r["booted"] == 20, f"{protocol}: booted {r['booted']} of 20")
        check(r["sent"] > 200 and r["results"] == r["sent"],
              f"{protocol}: sent {r['sent']}, answered {r['results']}")
        for action, present in actions.items():
            check((r["by_action"][action] > 0) == present,
                  f"{protocol}: {action} sent {r['by_action'][action]} times")
        check(callerrors_sent(srv) == before, f"{protocol}: the server sent CALLERRORs")
        print(f"{protocol}: {r['results']} CALLRESULTs, 0 CALLERRORs, by action "
              f"{ {k: v for k, v in r['by_action'].items() if v} }")

    def v201_transactions(db):
        return db.rows("SELECT count(*) AS n, sum(stop_reason = 'Local') AS ended, "
                       "sum(meter_stop_wh > meter_start_wh) AS metered FROM transactions "
                       "WHERE charger_id LIKE 'L201-%' AND ext_id IS NOT NULL")[0]
    t = harness.db_query(srv.db, v201_transactions)
    check(t["n"] >= 20 and t["ended"] >= 10 and t["metered"] >= 10,
          f"2.0.1 transactions stored/ended/metered: {t}")

    bad = await asyncio.create_subprocess_exec(LOAD, "--protocol", "ocpp2.1",
                                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    await bad.communicate()
    check(bad.returncode == 2, f"--protocol ocpp2.1 exited {bad.returncode}, not 2")
    await srv.stop()


harness.main(test, timeout=90)
