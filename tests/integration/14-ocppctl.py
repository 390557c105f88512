#!/usr/bin/python3
"""14-ocppctl — tools/ocppctl against a real ocppd with an ocpp-sim charger (script idle):
the chargers table lists it with aligned columns, `call Reset` prints the charger's answer,
start/stop drive a remote session, `transactions --json` parses and shows it, events are
replayed and followed (stopped by --timeout and by SIGINT), and the exit codes: 1 with
"ocppctl: <message> (code N)" for JSON-RPC errors, 2 for a bad token (HTTP 401) or no server.

Run by hand: /usr/bin/python3 tests/integration/14-ocppctl.py --ocppd build/ocppd
--sim build/tools/ocpp-sim --ctl build/tools/ocppctl
"""
import asyncio
import json
import os
import signal

import harness
from harness import check

CP = "CTL-CP-01"
TAG = "CTL-TAG-1"


CTL = harness.take_path_arg("--ctl", "ocppctl")


async def ctl(h, srv, *args, token=harness.ADMIN_TOKEN, url=None, timeout=30.0, env_token=False,
              interrupt_after=None):
    """Runs ocppctl; returns (rc, stdout, stderr). interrupt_after: send SIGINT after N s."""
    url = url or f"ws://127.0.0.1:{srv.admin_port}/admin"
    env = dict(os.environ)
    env.pop("OCPPD_TOKEN", None)
    cmd = [CTL, "--url", url]
    if env_token:
        env["OCPPD_TOKEN"] = token
    elif token is not None:
        cmd += ["--token", token]
    cmd += [str(a) for a in args]
    proc = await asyncio.create_subprocess_exec(*cmd, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE, env=env)
    if interrupt_after is not None:
        await asyncio.sleep(interrupt_after)
        proc.send_signal(signal.SIGINT)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise harness.TestFailure(f"ocppctl {args} did not exit within {timeout} s")
    out, err = out.decode(errors="replace"), err.decode(errors="replace")
    h.note(f"ocppctl {' '.join(cmd[1:])}\n  rc={proc.returncode}\n"
           + "".join(f"  out| {line}\n" for line in out.splitlines()[-20:])
           + "".join(f"  err| {line}\n" for line in err.splitlines()[-20:]))
    return proc.returncode, out, err


async def ok_json(h, srv, *args, **kw):
    rc, out, err = await ctl(h, srv, "--json", *args, **kw)
    check(rc == 0, f"ocppctl --json {args}: rc={rc} stderr={err!r}")
    lines = out.strip().splitlines()
    check(len(lines) == 1, f"ocppctl --json {args}: want one line, got {out!r}")
    return json.loads(lines[0])


async def test(h):
    srv = await h.server(args=["--accept-unknown-tokens"])
    sim = await harness.start_sim(h, srv, CP, "--script", "idle", "--stay", "60",
                                  "--meter-values", "1000", "--meter-interval", "200", timeout=60)

    async def connected():
        r = await ok_json(h, srv, "chargers")
        cs = [c for c in r["chargers"] if c["id"] == CP and c["connected"] and c["connectors"]]
        return cs[0] if cs else None
    await harness.wait_until(connected, "the sim to show up in ocppctl chargers", timeout=20)

    # ---- chargers: an aligned table, the token from the environment ---------------------------
    rc, out, err = await ctl(h, srv, "chargers", env_token=True)
    check(rc == 0 and err == "", f"chargers rc={rc} err={err!r}")
    lines = out.splitlines()
    check(lines[0].split()[:3] == ["ID", "PROTOCOL", "CONNECTED"], f"header {lines[0]!r}")
    rows = [ln for ln in lines[1:] if ln.startswith(CP + " ")]
    check(len(rows) == 1, f"no row for {CP} in {out!r}")
    row = rows[0]
    for col, value in [("PROTOCOL", "ocpp1.6"), ("CONNECTED", "yes"), ("CONNECTORS", "1:Available")]:
        pos = lines[0].index(col)
        check(row[pos:].startswith(value), f"column {col} not aligned/{value!r}: {lines[0]!r} / {row!r}")

    # ---- call: the charger's CALLRESULT payload --------------------------------------------------
    rc, out, err = await ctl(h, srv, "call", CP, "Reset", '{"type":"Soft"}')
    check(rc == 0 and json.loads(out) == {"status": "Accepted"}, f"call Reset: {rc} {out!r} {err!r}")
    r = await ok_json(h, srv, "call", CP, "Reset", '{"type":"Hard"}')
    check(r == {"result": {"status": "Accepted"}}, f"call Reset --json: {r}")
    # A payload that fails the schema: a JSON-RPC error, exit 1 with message and code.
    rc, out, err = await ctl(h, srv, "call", CP, "Reset", '{"type":"Gentle"}')
    check(rc == 1 and err.startswith("ocppctl: ") and "(code -32602)" in err and out == "",
          f"invalid Reset: rc={rc} out={out!r} err={err!r}")
    rc, out, err = await ctl(h, srv, "call", "GHOST", "Reset", '{"type":"Soft"}')
    check(rc == 1 and "(code -32011)" in err, f"call to GHOST: rc={rc} err={err!r}")

    # ---- start / transactions / stop ------------------------------------------------------------
    rc, out, err = await ctl(h, srv, "start", CP, "1", TAG)
    check(rc == 0, f"start rc={rc} err={err!r}")
    fields = dict(ln.split(":", 1) for ln in out.splitlines())
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    check(fields.get("status") == "Accepted" and fields.get("transactionId", "-").isdigit(),
          f"start output {out!r}")
    txid = int(fields["transactionId"])

    r = await ok_json(h, srv, "transactions", "--active")
    check([t["id"] for t in r["transactions"]] == [txid] and r["transactions"][0]["idTag"] == TAG
          and r["transactions"][0]["chargerId"] == CP, f"transactions --active --json {r}")
    rc, out, err = await ctl(h, srv, "transactions", "--active")
    lines = out.splitlines()
    check(rc == 0 and lines[0].split()[:2] == ["ID", "CHARGER"] and
          any(ln.split()[:2] == [str(txid), CP] for ln in lines[1:]), f"transactions table {out!r}")

    r = await ok_json(h, srv, "stop", txid)
    check(r == {"status": "Accepted"}, f"stop {r}")

    async def ended():
        r = await ok_json(h, srv, "transactions", "--charger", CP)
        t = [t for t in r["transactions"] if t["id"] == txid]
        return t[0] if t and not t[0]["active"] else None
    t = await harness.wait_until(ended, "the remote transaction to end", timeout=20)
    check(t["stopReason"] == "Remote", f"ended transaction {t}")
    r = await ok_json(h, srv, "transactions", "--active")
    check(r["transactions"] == [], f"still active {r}")
    rc, out, err = await ctl(h, srv, "stop", txid)
    check(rc == 1 and "(code -32004)" in err, f"second stop rc={rc} err={err!r}")

    # ---- rpc: any method; unknown method exits 1 ------------------------------------------------
    r = await ok_json(h, srv, "rpc", "chargers.get", json.dumps({"chargerId": CP}))
    check(r["id"] == CP, f"rpc chargers.get {r}")
    rc, out, err = await ctl(h, srv, "rpc", "no.such.method", "{}")
    check(rc == 1 and err.startswith("ocppctl: ") and "(code -32601)" in err,
          f"unknown method rc={rc} err={err!r}")

    # ---- events: replay, follow until --timeout, follow until SIGINT ----------------------------
    rc, out, err = await ctl(h, srv, "--json", "events", "--from", "0")
    check(rc == 0, f"events --from 0 rc={rc} err={err!r}")
    evs = [json.loads(ln) for ln in out.splitlines()]
    types = [e["type"] for e in evs]
    check("charger.connected" in types and "transaction.started" in types and
          "transaction.ended" in types, f"replayed types {types}")
    seqs = [e["seq"] for e in evs]
    check(seqs == sorted(set(seqs)), f"replayed seqs {seqs}")
    last = (await ok_json(h, srv, "rpc", "events.subscribe", "{}"))["lastSeq"]
    check(seqs[-1] == last, f"replay ended at {seqs[-1]}, lastSeq {last}")

    rc, out, err = await ctl(h, srv, "--timeout", "1.5", "events", "--follow", "--from", "0")
    lines = out.splitlines()
    check(rc == 0 and len(lines) == len(seqs) and lines[0].split()[0] == str(seqs[0]),
          f"events --follow --timeout: rc={rc} {len(lines)} lines {err!r}")

    # Live events: a second remote session while following; SIGINT ends it with exit 0.
    follow = asyncio.ensure_future(ctl(h, srv, "events", "--follow", "--type",
                                       "transaction.started", interrupt_after=6.0))
    await asyncio.sleep(1.0)
    r = await ok_json(h, srv, "start", CP, TAG)
    check(r["status"] == "Accepted" and isinstance(r["transactionId"], int), f"start 2 {r}")
    rc, out, err = await follow
    lines = out.splitlines()
    check(rc == 0 and len(lines) == 1 and lines[0].split()[2:4] == ["transaction.started", CP],
          f"events --follow then SIGINT: rc={rc} out={out!r} err={err!r}")
    check((await ok_json(h, srv, "stop", r["transactionId"]))["status"] == "Accepted", "stop 2")

    # ---- connection and auth failures: exit 2 with one clear line -------------------------------
    rc, out, err = await ctl(h, srv, "chargers", token="wrong-token")
    check(rc == 2 and "401" in err and out == "", f"bad token rc={rc} err={err!r}")
    rc, out, err = await ctl(h, srv, "chargers", token=None)
    check(rc == 2 and "401" in err, f"no token rc={rc} err={err!r}")
    rc, out, err = await ctl(h, srv, "chargers", url=f"ws://127.0.0.1:{harness.free_port()}/admin")
    check(rc == 2 and "cannot connect" in err, f"no server rc={rc} err={err!r}")
    rc, out, err = await ctl(h, srv, "frobnicate")
    check(rc == 64 and "unknown command" in err, f"usage rc={rc} err={err!r}")

    sim.signal(signal.SIGTERM)
    await sim.finish(expect_ok=False)
    await srv.stop()


harness.main(test, timeout=100)
