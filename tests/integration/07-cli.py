#!/usr/bin/python3
"""07-cli — the command line: a bad flag, a bad value, an unusable database path or a busy port
each end ocppd with a non-zero status and a short explanation on stderr (never "ocppd ready");
--config FILE alone is enough to run; without --admin-token one is generated and printed once;
SIGINT and SIGTERM stop a running ocppd with status 0 after closing its chargers' connections
cleanly.
"""
import asyncio
import os
import signal
import socket
import subprocess

import harness
from harness import check


async def run_ocppd(h, args, timeout=15.0):
    """Runs ocppd to completion; returns (status, stderr lines)."""
    proc = await asyncio.create_subprocess_exec(
        h.ocppd, *args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise harness.TestFailure(f"ocppd {args} still running after {timeout} s")
    text = err.decode(errors="replace")
    h.note(f"ocppd {' '.join(args)} -> {proc.returncode}\n" +
           "".join(f"  | {line}\n" for line in text.splitlines()))
    for marker in harness.SANITIZER_MARKERS:
        check(marker not in text, f"sanitizer report running ocppd {args}")
    return proc.returncode, [line for line in text.splitlines() if line.strip()]


def base_args(h, db=":memory:", port=None, admin_port=None):
    ports = harness.free_ports(2)
    return ["--listen", f"127.0.0.1:{port or ports[0]}",
            "--admin-listen", f"127.0.0.1:{admin_port or ports[1]}",
            "--db", db, "--admin-token", harness.ADMIN_TOKEN]


async def expect_failure(h, what, args, one_line=False, mention=None):
    rc, lines = await run_ocppd(h, args)
    check(rc != 0, f"{what}: exit status 0")
    check(lines, f"{what}: nothing on stderr")
    check(not any(harness.READY_LINE in line for line in lines), f"{what}: said it was ready")
    if one_line:
        check(len(lines) == 1, f"{what}: {len(lines)} stderr lines, wanted one: {lines}")
    if mention:
        check(any(mention in line for line in lines), f"{what}: no line mentions {mention!r}")


async def test(h):
    # Bad command lines: refused before anything starts, with exactly one line.
    await expect_failure(h, "unknown flag", base_args(h) + ["--no-such-flag"], True,
                         "--no-such-flag")
    await expect_failure(h, "flag without its value", base_args(h) + ["--heartbeat-interval"],
                         True, "--heartbeat-interval")
    await expect_failure(h, "bad log level", base_args(h) + ["--log-level", "loud"], True)
    await expect_failure(h, "bad listen address", base_args(h) + ["--listen", "nowhere"], True)
    await expect_failure(h, "bad heartbeat interval",
                         base_args(h) + ["--heartbeat-interval", "soon"], True)

    # Unusable database paths.
    missing_dir = os.path.join(h.tmpdir, "no-such-dir", "x.db")
    await expect_failure(h, "db in a missing directory", base_args(h, db=missing_dir),
                         mention=missing_dir)
    await expect_failure(h, "db path is a directory", base_args(h, db=h.tmpdir))
    junk = os.path.join(h.tmpdir, "junk.db")
    with open(junk, "wb") as f:
        f.write(b"this is not an SQLite database, just text\n" * 200)
    await expect_failure(h, "db file is not a database", base_args(h, db=junk))

    # Busy ports: the charger port, then the admin port.
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        await expect_failure(h, "charger port in use", base_args(h, port=port))
        await expect_failure(h, "admin port in use", base_args(h, admin_port=port))

    # --config FILE alone: the same settings, plus idTags seeded from it.
    def from_config(s):
        path = os.path.join(h.tmpdir, "ocppd.conf")
        with open(path, "w") as f:
            f.write("# written by 07-cli\n"
                    f"listen = 127.0.0.1:{s.port}\n"
                    f"admin-listen = 127.0.0.1:{s.admin_port}   # trailing comment\n"
                    f"db = {s.db}\n"
                    f"admin-token = {harness.ADMIN_TOKEN}\n"
                    "heartbeat-interval = 77\n"
                    "token = CFG-OK Accepted\n"
                    "token = CFG-BLOCKED Blocked\n")
        return [h.ocppd, "--config", path]
    srv = await h.server(name="ocppd-config", command=from_config)
    cp = await harness.Charger.connect(srv, "CLI-CONFIG")
    check((await cp.boot())["interval"] == 77, "heartbeat-interval from the file not used")
    for tag, status in (("CFG-OK", "Accepted"), ("CFG-BLOCKED", "Blocked"),
                        ("CFG-UNKNOWN", "Invalid")):
        ans = await cp.call_ok("Authorize", {"idTag": tag})
        check(ans["idTagInfo"]["status"] == status, f"Authorize {tag}: {ans}")
    await cp.close()
    await srv.stop()

    # Without --admin-token a token is generated and printed exactly once.
    srv = await h.server(name="ocppd-no-token", command=lambda s: [
        h.ocppd, "--listen", f"127.0.0.1:{s.port}", "--admin-listen", f"127.0.0.1:{s.admin_port}",
        "--db", ":memory:"])
    await srv.stop()
    printed = [line for line in srv.log().splitlines() if "admin token" in line.lower()]
    check(len(printed) == 1, f"generated admin token printed {len(printed)} times: {printed}")

    # Signals: exit 0, and connected chargers see a close frame rather than a dropped socket.
    for sig in (signal.SIGINT, signal.SIGTERM):
        srv = await h.server(name=f"ocppd-{sig.name}")
        cp = await harness.Charger.connect(srv, f"CLI-{sig.name}")
        await cp.boot()
        await srv.stop(sig=sig, expect_rc=0)
        code, _ = await cp.expect_close(timeout=5)
        check(code != 1006, f"{sig.name}: the charger's socket was dropped, not closed")


harness.main(test)
