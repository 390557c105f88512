#!/usr/bin/python3
"""16-connection-abuse — the per-address limits, slow handshakes, a charger that never reads and
a wrong-password flood, against an ocppd with small limits applied to loopback.

First the limits one by one from 127.0.0.3: the open-connection cap answers 503 with
Retry-After, the handshake rate 429 with Retry-After, and /metrics counts exactly the refusals
the clients saw. Then tools/ocpp-abuse runs a short version of every mode from 127.0.0.10 and up while
its well-behaved charger on 127.0.0.1 heartbeats: slow handshakes are cut within the timeout
(those over the in-progress cap at once) and a fresh handshake still gets through, the non-reader
is closed with 1008, only the failed-check budget of wrong passwords reaches PBKDF2, the good
charger's worst RTT stays under a generous bound and the server's RSS grows by a bounded amount.
"""
import asyncio
import importlib.machinery
import json
import os
import subprocess
import sys
import time
import urllib.request

import harness
from harness import check

TIMEOUT_S = 3            # --handshake-timeout
MAX_CONNS = 5            # --max-conns-per-ip
MAX_PENDING = 10         # --max-handshakes-per-ip
BURST, RATE = 30, 5      # --handshake-burst-per-ip, --handshake-rate-per-ip
AUTH_PER_MIN = 3         # --auth-failures-per-ip
GOOD_RTT_BOUND_MS = 2000  # generous: a loaded 2-core box under ASan
RSS_GROWTH_BOUND_KB = 64 * 1024

ABUSE = os.path.join(harness.SRC_ROOT, "tools", "ocpp-abuse")
# The tool's raw WebSocket pieces, so the direct checks below speak exactly as it does.
tool = importlib.machinery.SourceFileLoader("ocpp_abuse", ABUSE).load_module()


def metrics(srv):
    with urllib.request.urlopen(f"http://127.0.0.1:{srv.admin_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


async def get_metrics(srv):
    return await asyncio.get_running_loop().run_in_executor(None, metrics, srv)


async def handshake(port, src, cp_id, keep=False):
    """(status, headers bytes, writer or None): one raw upgrade request from src."""
    try:
        reader, writer = await tool.open_raw("127.0.0.1", port, src)
    except OSError as e:
        return f"connect-error:{e!r}", b"", None
    writer.write(tool.handshake_request(f"127.0.0.1:{port}", f"/ocpp/{cp_id}"))
    status, head = await tool.read_head(reader, 10)
    if keep and status == "101":
        return status, head, writer
    writer.close()
    return status, head, None


async def check_limits(h, srv):
    src = "127.0.0.3"
    before = await get_metrics(srv)
    refused = 0
    # Open-connection cap: five held, the sixth refused 503 with Retry-After.
    held = []
    for i in range(MAX_CONNS):
        status, _, w = await handshake(srv.port, src, f"HOLD-{i}", keep=True)
        check(status == "101", f"connection {i} under the cap answered {status}")
        held.append(w)
    status, head, _ = await handshake(srv.port, src, "HOLD-X")
    check(status == "503", f"connection over --max-conns-per-ip answered {status}, expected 503")
    check(b"retry-after: " in head.lower(), f"503 without Retry-After: {head!r}")
    refused += 1
    for w in held:
        w.close()
    await asyncio.sleep(0.3)  # the server sees the closes
    # Handshake rate: the burst is spent within a second, the rest are refused 429.
    statuses = []
    for i in range(BURST + 20):
        statuses.append((await handshake(srv.port, src, f"RATE-{i}"))[:2])
    n429 = [hd for st, hd in statuses if st == "429"]
    check(len(n429) >= 5, f"handshake flood: {len(n429)} refused 429 of {len(statuses)}, "
                           f"statuses {[st for st, _ in statuses]}")
    check(all(b"retry-after: " in hd.lower() for hd in n429), "a 429 without Retry-After")
    check(all(st in ("101", "429") for st, _ in statuses),
          f"unexpected statuses {[st for st, _ in statuses]}")
    refused += len(n429)
    after = await get_metrics(srv)
    delta = after["ocppd_handshakes_refused_total"] - before["ocppd_handshakes_refused_total"]
    check(delta == refused, f"/metrics counts {delta} refused handshakes, clients saw {refused}")
    key = 'ocppd_handshakes_limited_total{limit="rate"}'
    by_rate = after.get(key, 0) - before.get(key, 0)
    check(by_rate == len(n429), f"/metrics limit=rate counts {by_rate}, clients saw {len(n429)} 429s")
    h.note(f"limits: 503 at connection {MAX_CONNS + 1}, {len(n429)} of {len(statuses)} "
           f"handshakes refused 429")


async def run_abuse(h, srv):
    cmd = [sys.executable, ABUSE, "--url", f"ws://127.0.0.1:{srv.port}/ocpp",
           "--pid", str(srv.proc.pid), "--admin-url", f"ws://127.0.0.1:{srv.admin_port}/admin",
           "--admin-token", harness.ADMIN_TOKEN, "--json",
           "--attack-src", "127.0.0.10",
           "--flood-count", "300", "--flood-concurrency", str(MAX_PENDING // 2),
           "--slow-conns", str(3 * MAX_PENDING), "--slow-max-s", str(TIMEOUT_S + 6),
           "--nonreader-calls", "80000", "--wrongpw-count", "20", "--pwstorm-count", "5",
           "--good-interval-ms", "50", "--settle-s", "0.5"]
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=subprocess.PIPE,
                                                stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    h.note(f"ocpp-abuse exit {proc.returncode}\nstdout: {out.decode()}\nstderr: {err.decode()}")
    check(proc.returncode == 0, f"ocpp-abuse failed with {proc.returncode}")
    return json.loads(out)


async def test(h):
    # A small ASan quarantine, so that RSS shows what the server holds rather than what the
    # sanitizer keeps of freed memory (256 MiB by default).
    opts = os.environ.get("ASAN_OPTIONS", "")
    os.environ["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "quarantine_size_mb=4"
    srv = await h.server(db=":memory:", args=[
        "--limit-loopback", "--log-level", "info",
        "--handshake-timeout", str(TIMEOUT_S), "--max-conns-per-ip", str(MAX_CONNS),
        "--max-handshakes-per-ip", str(MAX_PENDING), "--handshake-rate-per-ip", str(RATE),
        "--handshake-burst-per-ip", str(BURST), "--auth-failures-per-ip", str(AUTH_PER_MIN)])
    await check_limits(h, srv)

    before = await get_metrics(srv)
    t0 = time.monotonic()
    r = await run_abuse(h, srv)
    h.note(f"ocpp-abuse took {time.monotonic() - t0:.1f} s")
    after = await get_metrics(srv)
    # Every refusal a client saw, and nothing else, is on /metrics: the flood's, the slow
    # connections hung up on at accept, and every wrong password (401 or 429).
    refused = after["ocppd_handshakes_refused_total"] - before["ocppd_handshakes_refused_total"]
    seen = (sum(n for st, n in r["flood"]["status"].items() if st != "101")
            + r["slowloris"]["cut_at_once"] + r["wrongpw"]["attempts"])
    check(refused == seen, f"/metrics counted {refused} refused handshakes, clients saw {seen}")

    flood = r["flood"]["status"]
    # 503 is possible too: the flood closes each connection at once, but the server may not
    # have seen the close of one when the next arrives.
    check(flood.get("429", 0) > 0 and set(flood) <= {"101", "429", "503"},
          f"flood statuses {flood}: expected 101s then 429s")

    slow = r["slowloris"]
    check(slow["cut"] == slow["conns"], f"slowloris: {slow['cut']} of {slow['conns']} cut")
    check(slow["max_cut_s"] <= TIMEOUT_S + 2,
          f"slowloris: a slow handshake lived {slow['max_cut_s']} s, bound {TIMEOUT_S} s")
    check(slow["min_cut_s"] < 1, f"slowloris: none hung up at once over the in-progress cap "
                                 f"(fastest cut {slow['min_cut_s']} s)")
    fresh = slow["fresh_handshake"]
    check(fresh["status"] == "101" and fresh["ms"] < 2000,
          f"a well-behaved handshake during the slowloris: {fresh}")
    check(slow["cut_at_once"] == slow["conns"] - MAX_PENDING,
          f"slowloris: {slow['cut_at_once']} hung up on at once, expected all but "
          f"{MAX_PENDING} (--max-handshakes-per-ip)")

    nr = r["nonreader"]
    check(nr["close_code"] == 1008 and nr["close_reason"] == "not reading",
          f"non-reader: {nr}")

    pw = r["wrongpw"]
    checked = after["ocppd_charger_auth_failures_total"] - before["ocppd_charger_auth_failures_total"]
    check(pw["status"].get("401", 0) == AUTH_PER_MIN and checked == AUTH_PER_MIN,
          f"wrong passwords: {pw['status']}, {checked} checked with PBKDF2; expected "
          f"{AUTH_PER_MIN} (the per-minute budget), the rest 429 unchecked")
    check(pw["status"].get("429", 0) == pw["attempts"] - AUTH_PER_MIN,
          f"wrong passwords over the budget: {pw['status']}")
    check(pw["right_password"]["status"] == {"101": 5},
          f"the right password after the flood: {pw['right_password']}")

    good = r["good"]
    check(not good["failures"], f"the good charger failed: {good['failures']}")
    check(good["calls"] >= 20, f"the good charger made only {good['calls']} calls")
    check(good["worst_rtt_ms"] < GOOD_RTT_BOUND_MS,
          f"good charger worst RTT {good['worst_rtt_ms']} ms, bound {GOOD_RTT_BOUND_MS} ms")
    growth = r["rss_kb_after"] - r["rss_kb_before"]
    check(growth < RSS_GROWTH_BOUND_KB,
          f"RSS grew {growth} KiB ({r['rss_kb_before']} -> {r['rss_kb_after']}), "
          f"bound {RSS_GROWTH_BOUND_KB} KiB")
    print(f"abuse figures: {json.dumps(r)}")  # in the meson log, for the README and regressions

    # Still serving: a new charger from an untouched address boots.
    status, _, w = await handshake(srv.port, "127.0.0.4", "AFTER-ABUSE", keep=True)
    check(status == "101", f"a charger after the abuse run got {status}")
    w.close()
    await srv.stop()


if __name__ == "__main__":
    harness.main(test, timeout=50)
