"""harness.py — shared pieces of the ocppd integration tests (tests/integration/NN-*.py).

Run by Debian's /usr/bin/python3 with python3-websockets 10.4 (the legacy asyncio client). Each
test is a script that calls harness.main(test) with an `async def test(h)`; the harness parses
the paths meson passes (--ocppd, --sim), starts servers on free loopback ports, and on any
failure prints the traceback and every server's captured stderr, then exits 1.

Everything waits with a timeout: a hung server fails the test instead of hanging meson.
Run one test: `meson test -C build 03-bad-input --print-errorlogs`, or by hand
`/usr/bin/python3 tests/integration/03-bad-input.py --ocppd build/ocppd
--sim build/tools/ocpp-sim`.
"""

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback

import websockets
import websockets.exceptions

SRC_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ADMIN_TOKEN = "integration-test-token"
READY_LINE = "ocppd ready"
# OCPP-J 1.6 CALLERROR codes that mean "the payload failed validation".
V16_VALIDATION_CODES = {
    "FormationViolation",
    "PropertyConstraintViolation",
    "TypeConstraintViolation",
    "OccurenceConstraintViolation",
}
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


class TestFailure(AssertionError):
    pass


def check(cond, msg):
    """assert that survives python -O and says what was expected."""
    if not cond:
        raise TestFailure(msg)


def free_ports(n):
    """n distinct loopback ports nobody listens on right now (the kernel picks each for a bind
    to port 0; the sockets stay open until all are picked, so no port comes back twice)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port():
    """One loopback port nobody listens on right now."""
    return free_ports(1)[0]


def take_path_arg(flag, what):
    """Removes `flag PATH` (an argument of the test itself, e.g. --load for ocpp-load) from
    sys.argv before main() parses the rest, and returns PATH made absolute."""
    argv = sys.argv
    check(flag in argv[:-1], f"{os.path.basename(argv[0])} needs {flag} PATH ({what})")
    i = argv.index(flag)
    path = os.path.abspath(argv[i + 1])
    del argv[i:i + 2]
    return path


def iso_now(offset_s=0.0):
    """The current UTC time (plus offset_s) as OCPP's date-time with milliseconds and Z."""
    t = time.time() + offset_s
    ms = int(round(t * 1000)) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(t))) + f".{ms:03d}Z"


def tx_flags():
    """The transaction flag bits, read from db/store.h so the tests cannot drift from it."""
    with open(os.path.join(SRC_ROOT, "db", "store.h")) as f:
        text = f.read()
    flags = {m.group(1): 1 << int(m.group(2))
             for m in re.finditer(r"STORE_TX_(\w+)\s*=\s*1u\s*<<\s*(\d+)", text)}
    check(flags, "no STORE_TX_* flags found in db/store.h")
    return flags


TX = tx_flags()


# ---- ocppd ---------------------------------------------------------------------------------

class Server:
    """One ocppd process on free loopback ports, its stderr captured to a file."""

    def __init__(self, h, db=None, args=(), name="ocppd", command=None):
        self.h = h
        self.command_fn = command  # optional: server -> argv, for tests of the flags themselves
        self.name = name
        self.db = db if db is not None else os.path.join(h.tmpdir, f"{name}.db")
        self.args = list(args)
        self.proc = None
        self.port = self.admin_port = None
        self.log_path = os.path.join(h.tmpdir, f"{name}-{len(h.servers)}.log")
        h.servers.append(self)

    def command(self):
        if self.command_fn:
            return self.command_fn(self)
        return [self.h.ocppd,
                "--listen", f"127.0.0.1:{self.port}",
                "--admin-listen", f"127.0.0.1:{self.admin_port}",
                "--db", self.db,
                "--admin-token", ADMIN_TOKEN,
                "--log-level", "debug"] + self.args

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    async def start(self, timeout=20.0):
        # A port picked free can be taken before ocppd binds it (parallel tests): retry then.
        for attempt in range(3):
            self.port, self.admin_port = free_ports(2)
            with open(self.log_path, "a") as log:
                log.write(f"---- start attempt {attempt + 1}: {' '.join(self.command())}\n")
                log.flush()
                self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                             stdout=log, stderr=log)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if READY_LINE in self.log():
                    return self
                if self.proc.poll() is not None:
                    break
                await asyncio.sleep(0.02)
            else:
                raise TestFailure(f"{self.name}: no '{READY_LINE}' within {timeout} s")
            if not re.search(r"in use|EADDRINUSE|busy", self.log(), re.I):
                raise TestFailure(f"{self.name} exited with {self.proc.returncode} before ready")
        raise TestFailure(f"{self.name}: could not get free ports")

    def url(self, cp_id=""):
        return f"ws://127.0.0.1:{self.port}/ocpp/{cp_id}"

    async def stop(self, sig=signal.SIGTERM, expect_rc=0, timeout=15.0):
        """Signals ocppd and checks it exits with expect_rc (None: any) and no sanitizer report."""
        if self.proc is None or self.proc.poll() is not None:
            rc = None if self.proc is None else self.proc.returncode
            raise TestFailure(f"{self.name} was not running at stop (exit status {rc})")
        self.proc.send_signal(sig)
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise TestFailure(f"{self.name} did not exit within {timeout} s of {sig.name}")
            await asyncio.sleep(0.02)
        rc = self.proc.returncode
        self.check_sanitizers()
        if expect_rc is not None:
            check(rc == expect_rc, f"{self.name} exited with {rc} after {sig.name}, "
                                   f"expected {expect_rc}")
        return rc

    def check_sanitizers(self):
        text = self.log()
        for marker in SANITIZER_MARKERS:
            check(marker not in text, f"{self.name}: sanitizer report in its log ({marker})")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()


# ---- raw OCPP connections -----------------------------------------------------------------------

class Charger:
    """A raw OCPP-J client: send anything, await replies by unique id, see the close."""

    def __init__(self, ws, cp_id):
        self.ws = ws
        self.id = cp_id
        self.inbox = asyncio.Queue()   # CALLRESULT / CALLERROR / unparseable, in arrival order
        self.server_calls = []         # CALLs the CSMS sent us (not answered)
        self.closed = asyncio.Event()
        self.seq = 0
        self.reader = asyncio.ensure_future(self._read())

    @classmethod
    async def connect(cls, server, cp_id, protocols=("ocpp1.6",), timeout=10.0, headers=None):
        ws = await asyncio.wait_for(
            websockets.connect(server.url(cp_id), subprotocols=list(protocols),
                               open_timeout=timeout, close_timeout=2, ping_interval=None,
                               max_size=None, extra_headers=headers or {}),
            timeout + 1)
        check(ws.subprotocol in protocols,
              f"{cp_id}: server chose subprotocol {ws.subprotocol!r}, offered {protocols}")
        return cls(ws, cp_id)

    async def _read(self):
        try:
            async for msg in self.ws:
                try:
                    frame = json.loads(msg)
                except (ValueError, TypeError):
                    await self.inbox.put(("raw", msg))
                    continue
                if isinstance(frame, list) and frame and frame[0] == 2:
                    self.server_calls.append(frame)
                else:
                    await self.inbox.put(("frame", frame))
        except websockets.exceptions.ConnectionClosed:
            pass
        finally:
            self.closed.set()

    def next_id(self):
        self.seq += 1
        return f"{self.id}-{self.seq}"

    async def send_text(self, text):
        await self.ws.send(text)

    async def send_frame(self, frame):
        await self.ws.send(json.dumps(frame))

    async def answer_call(self, action, payload, timeout=10.0):
        """Waits for the server's CALL of action, answers it with payload, returns the CALL."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for i, call in enumerate(self.server_calls):
                if call[2] == action:
                    del self.server_calls[i]
                    await self.send_frame([3, call[1], payload])
                    return call
            check(asyncio.get_running_loop().time() < deadline, f"no {action} from the server")
            await asyncio.sleep(0.02)

    async def next_frame(self, timeout=10.0):
        """The next reply frame (list) or ("raw", text). Fails on timeout or close."""
        get = asyncio.ensure_future(self.inbox.get())
        closed = asyncio.ensure_future(self.closed.wait())
        done, _ = await asyncio.wait({get, closed}, timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        closed.cancel()
        if get in done:
            kind, value = get.result()
            return value if kind == "frame" else ("raw", value)
        get.cancel()
        if closed in done:
            raise TestFailure(f"{self.id}: connection closed while waiting for a reply "
                              f"(code {self.ws.close_code} {self.ws.close_reason!r})")
        raise TestFailure(f"{self.id}: no reply within {timeout} s")

    async def reply_to(self, uid, timeout=10.0):
        """The reply whose unique id is uid; any other frame first is a failure."""
        frame = await self.next_frame(timeout)
        check(isinstance(frame, list) and len(frame) >= 2 and frame[1] == uid,
              f"{self.id}: expected the reply to {uid!r}, got {frame!r}")
        return frame

    async def call(self, action, payload, uid=None, timeout=10.0):
        """Sends a CALL and returns its reply frame ([3,...] or [4,...])."""
        uid = uid or self.next_id()
        await self.send_frame([2, uid, action, payload])
        return await self.reply_to(uid, timeout)

    async def call_ok(self, action, payload, timeout=10.0):
        """Sends a CALL, checks the answer is a CALLRESULT, returns its payload."""
        frame = await self.call(action, payload, timeout=timeout)
        check(frame[0] == 3 and len(frame) == 3 and isinstance(frame[2], dict),
              f"{self.id}: {action} answered {frame!r}, expected a CALLRESULT")
        return frame[2]

    async def call_error(self, action, payload, code, timeout=10.0):
        """Sends a CALL and checks it gets CALLERROR code (a str, or a set of allowed codes)."""
        uid = self.next_id()
        await self.send_frame([2, uid, action, payload])
        return await self.expect_error(uid, code, timeout)

    async def expect_error(self, uid, code, timeout=10.0):
        frame = await self.reply_to(uid, timeout)
        codes = {code} if isinstance(code, str) else set(code)
        check(frame[0] == 4 and len(frame) == 5, f"{self.id}: expected CALLERROR, got {frame!r}")
        check(frame[2] in codes, f"{self.id}: CALLERROR code {frame[2]!r}, expected {codes}")
        check(isinstance(frame[3], str) and isinstance(frame[4], dict),
              f"{self.id}: malformed CALLERROR {frame!r}")
        return frame

    async def heartbeat(self, timeout=10.0):
        payload = await self.call_ok("Heartbeat", {}, timeout=timeout)
        check(isinstance(payload.get("currentTime"), str),
              f"{self.id}: Heartbeat answer without currentTime: {payload!r}")
        return payload

    async def boot(self, vendor="IntegrationTest", model="HarnessCP", **extra):
        payload = {"chargePointVendor": vendor, "chargePointModel": model, **extra}
        answer = await self.call_ok("BootNotification", payload)
        check(answer.get("status") == "Accepted", f"{self.id}: boot answered {answer!r}")
        return answer

    async def status(self, connector, status, error_code="NoError", **extra):
        payload = {"connectorId": connector, "errorCode": error_code, "status": status, **extra}
        return await self.call_ok("StatusNotification", payload)

    async def expect_close(self, timeout=10.0):
        """Waits for the server to close; returns (code, reason). 1006 means no close frame."""
        try:
            await asyncio.wait_for(self.closed.wait(), timeout)
        except asyncio.TimeoutError:
            raise TestFailure(f"{self.id}: connection still open after {timeout} s")
        return self.ws.close_code, self.ws.close_reason

    def is_closed(self):
        return self.closed.is_set()

    async def close(self):
        try:
            await asyncio.wait_for(self.ws.close(), 5)
        except (asyncio.TimeoutError, websockets.exceptions.WebSocketException, OSError):
            pass
        self.reader.cancel()


async def try_handshake(server, path, protocols=("ocpp1.6",), headers=None, timeout=10.0):
    """Attempts a WebSocket handshake on path. Returns ("open", subprotocol) after closing the
    connection again, ("http", status) when the server answered with a non-101 status, or
    ("dropped", detail) when it closed the socket without a usable answer."""
    uri = f"ws://127.0.0.1:{server.port}{path}"
    try:
        ws = await asyncio.wait_for(
            websockets.connect(uri, subprotocols=list(protocols) or None, open_timeout=timeout,
                               close_timeout=2, ping_interval=None, extra_headers=headers or {}),
            timeout + 1)
    except websockets.exceptions.InvalidStatusCode as e:
        return ("http", e.status_code)
    except (websockets.exceptions.InvalidHandshake, websockets.exceptions.ConnectionClosed,
            EOFError, ConnectionError, asyncio.TimeoutError) as e:
        return ("dropped", repr(e))
    sub = ws.subprotocol
    await ws.close()
    return ("open", sub)


def check_refused(result, what, status=None):
    """A refused handshake: an HTTP error status (exactly `status` if given) or a dropped socket
    when no status is required."""
    kind, detail = result
    if status is not None:
        check(result == ("http", status), f"{what}: expected HTTP {status}, got {result!r}")
        return
    check(kind == "dropped" or (kind == "http" and 400 <= detail < 600),
          f"{what}: expected the handshake to be refused, got {result!r}")


# ---- ocpp-sim -----------------------------------------------------------------------------

class SimResult:
    def __init__(self, rc, stdout, stderr):
        self.rc = rc
        self.stderr = stderr
        self.frames = []
        self.summary = None
        for line in stdout.splitlines():
            line = line.strip()
            if not line:
                continue
            obj = json.loads(line)
            if "summary" in obj:
                self.summary = obj["summary"]
            else:
                self.frames.append(obj)

    def sent(self, action=None):
        """CALL frames the sim sent (of one action if given)."""
        return [f["frame"] for f in self.frames
                if f["dir"] == "out" and f.get("frame", [None])[0] == 2
                and (action is None or f["frame"][2] == action)]

    def answer_to(self, uid):
        for f in self.frames:
            fr = f.get("frame")
            if f["dir"] == "in" and isinstance(fr, list) and fr[0] in (3, 4) and fr[1] == uid:
                return fr
        return None


class SimProcess:
    """A running ocpp-sim whose stdout is read as it comes, so a test can act mid-script."""

    def __init__(self, h, cmd, cp_id, timeout):
        self.h, self.cmd, self.cp_id, self.timeout = h, cmd, cp_id, timeout
        self.lines = []
        self.changed = asyncio.Event()

    async def start(self):
        self.proc = await asyncio.create_subprocess_exec(
            *self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out_task = asyncio.ensure_future(self._read_stdout())
        self.err_task = asyncio.ensure_future(self.proc.stderr.read())
        return self

    async def _read_stdout(self):
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line.decode(errors="replace"))
            self.changed.set()

    def frames(self):
        out = []
        for line in self.lines:
            obj = json.loads(line)
            if "frame" in obj:
                out.append(obj)
        return out

    async def wait_for(self, pred, what, timeout=20.0):
        """Waits until pred(list of {"dir","frame"} so far) is true."""
        deadline = time.monotonic() + timeout
        while not pred(self.frames()):
            left = deadline - time.monotonic()
            check(left > 0 and self.proc.returncode is None,
                  f"ocpp-sim {self.cp_id}: {what} did not happen (rc={self.proc.returncode})")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), min(left, 0.2))
            except asyncio.TimeoutError:
                pass

    async def wait_answered(self, action, timeout=20.0):
        """Waits until the sim got a CALLRESULT for its last CALL of action."""
        def answered(frames):
            ids = [f["frame"][1] for f in frames
                   if f["dir"] == "out" and f["frame"][0] == 2 and f["frame"][2] == action]
            return ids and any(f["dir"] == "in" and f["frame"][0] == 3 and f["frame"][1] == ids[-1]
                               for f in frames)
        await self.wait_for(answered, f"an answered {action}", timeout)

    def signal(self, sig):
        if self.proc.returncode is None:
            self.proc.send_signal(sig)

    async def finish(self, expect_ok=True):
        """Waits for the sim to exit; returns its SimResult (checked ok unless told not to)."""
        try:
            await asyncio.wait_for(self.proc.wait(), self.timeout + 15)
        except asyncio.TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise TestFailure(f"ocpp-sim {self.cp_id} did not exit within {self.timeout + 15} s")
        await self.out_task
        err = (await self.err_task).decode(errors="replace")
        res = SimResult(self.proc.returncode, "".join(self.lines), err)
        self.h.note(f"ocpp-sim {' '.join(self.cmd[1:])}\n  rc={res.rc} "
                    f"summary={json.dumps(res.summary)}\n"
                    + "".join(f"  | {line}\n" for line in res.stderr.splitlines()[-30:]))
        for marker in SANITIZER_MARKERS:
            check(marker not in res.stderr, f"ocpp-sim: sanitizer report ({marker})")
        check(res.summary is not None, f"ocpp-sim {self.cp_id}: no summary line (rc={res.rc})")
        if expect_ok:
            check(res.rc == 0 and res.summary["ok"],
                  f"ocpp-sim {self.cp_id} failed: rc={res.rc} {res.summary.get('failure')}")
        return res


async def start_sim(h, server, cp_id, *args, timeout=60.0):
    """Starts ocpp-sim against server (bounded by --duration-limit timeout)."""
    check(h.sim, "no --sim path given to the test")
    cmd = [h.sim, "--url", server.url().rstrip("/"), "--id", cp_id,
           "--duration-limit", str(int(timeout)), "--call-timeout", "10",
           "--connect-timeout", "10"] + [str(a) for a in args]
    return await SimProcess(h, cmd, cp_id, timeout).start()


async def run_sim(h, server, cp_id, *args, timeout=60.0, expect_ok=True):
    """Runs ocpp-sim to the end; returns its SimResult (checked ok unless expect_ok False)."""
    sim = await start_sim(h, server, cp_id, *args, timeout=timeout)
    return await sim.finish(expect_ok)


# ---- the admin JSON-RPC WebSocket ----------------------------------------------------------

class Admin:
    """A JSON-RPC 2.0 client of ocppd's /admin WebSocket. Answers are matched by id; frames
    that are not answers (event notifications) collect in self.notifications."""

    def __init__(self, ws):
        self.ws = ws
        self.seq = 0
        self.answers = {}
        self.batches = asyncio.Queue()   # array answers and id-less answers, in arrival order
        self.notifications = []
        self.changed = asyncio.Event()
        self.reader = asyncio.ensure_future(self._read())

    @classmethod
    async def connect(cls, server, token=ADMIN_TOKEN, timeout=10.0):
        ws = await asyncio.wait_for(
            websockets.connect(f"ws://127.0.0.1:{server.admin_port}/admin", open_timeout=timeout,
                               close_timeout=2, ping_interval=None, max_size=None,
                               extra_headers={"Authorization": f"Bearer {token}"}),
            timeout + 1)
        return cls(ws)

    async def _read(self):
        try:
            async for msg in self.ws:
                obj = json.loads(msg)
                if isinstance(obj, dict) and obj.get("id") is not None:
                    self.answers[obj["id"]] = obj
                elif isinstance(obj, dict) and "method" in obj:
                    self.notifications.append(obj)
                else:
                    if isinstance(obj, list):  # a batch answer: its members are filed by id too
                        for m in obj:
                            if isinstance(m, dict) and m.get("id") is not None:
                                self.answers[m["id"]] = m
                    await self.batches.put(obj)
                self.changed.set()
        except websockets.exceptions.ConnectionClosed:
            pass

    async def send_text(self, text):
        await self.ws.send(text)

    async def next_other(self, timeout=10.0):
        """The next answer that has no id of its own (batch arrays, id null errors)."""
        return await asyncio.wait_for(self.batches.get(), timeout)

    async def request(self, method, params=None, timeout=10.0):
        """Sends one request and returns the whole response object."""
        self.seq += 1
        rid = self.seq
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        await self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + timeout
        while rid not in self.answers:
            left = deadline - time.monotonic()
            check(left > 0, f"admin: no answer to {method} within {timeout} s")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except asyncio.TimeoutError:
                pass
        return self.answers.pop(rid)

    async def call(self, method, params=None, timeout=10.0):
        """A request that must succeed; returns its result."""
        r = await self.request(method, params, timeout)
        check("result" in r, f"admin {method} {params!r} failed: {r!r}")
        return r["result"]

    async def error(self, method, params, code, field=None, timeout=10.0):
        """A request that must fail with code (and a message naming field); returns the error."""
        r = await self.request(method, params, timeout)
        err = r.get("error")
        check(isinstance(err, dict) and err.get("code") == code,
              f"admin {method} {params!r}: expected error {code}, got {r!r}")
        if field:
            check(field in err.get("message", ""), f"admin {method}: message {err!r} does not "
                                                   f"name {field!r}")
        return err

    async def close(self):
        try:
            await asyncio.wait_for(self.ws.close(), 5)
        except (asyncio.TimeoutError, websockets.exceptions.WebSocketException, OSError):
            pass
        self.reader.cancel()


async def admin_handshake(server, path, headers=None, timeout=10.0):
    """Attempts a WebSocket handshake on the admin port; same answers as try_handshake()."""
    uri = f"ws://127.0.0.1:{server.admin_port}{path}"
    try:
        ws = await asyncio.wait_for(
            websockets.connect(uri, open_timeout=timeout, close_timeout=2, ping_interval=None,
                               extra_headers=headers or {}),
            timeout + 1)
    except websockets.exceptions.InvalidStatusCode as e:
        return ("http", e.status_code)
    except (websockets.exceptions.InvalidHandshake, websockets.exceptions.ConnectionClosed,
            EOFError, ConnectionError, asyncio.TimeoutError) as e:
        return ("dropped", repr(e))
    await ws.close()
    return ("open", None)


async def wait_until(pred, what, timeout=10.0):
    """Polls the async predicate pred() until it returns a true value, which is returned."""
    deadline = time.monotonic() + timeout
    while True:
        v = await pred()
        if v:
            return v
        check(time.monotonic() < deadline, f"{what} did not happen within {timeout} s")
        await asyncio.sleep(0.05)


# ---- the database -------------------------------------------------------------------------

class Db:
    """Read-only queries on a server's SQLite file (WAL readers see committed data)."""

    def __init__(self, path):
        check(os.path.exists(path), f"database {path} does not exist")
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        self.conn.row_factory = sqlite3.Row

    def rows(self, sql, *params):
        return [dict(r) for r in self.conn.execute(sql, params).fetchall()]

    def one(self, sql, *params):
        rows = self.rows(sql, *params)
        check(len(rows) == 1, f"expected exactly one row for {sql} {params}, got {rows!r}")
        return rows[0]

    def value(self, sql, *params):
        return next(iter(self.one(sql, *params).values()))

    def close(self):
        self.conn.close()


def db_query(path, fn):
    """Opens path read-only, runs fn(db), closes it; a short-lived reader never pins the WAL."""
    db = Db(path)
    try:
        return fn(db)
    finally:
        db.close()


# ---- schemas ------------------------------------------------------------------------------

def load_schema(version, action, kind):
    """The official schema of action (kind "req" or "conf") from schemas/<version>/. Files may be
    named <Action>.<kind>.json or <Action>[Response].json; the $id decides when in doubt."""
    d = os.path.join(SRC_ROOT, "schemas", version)
    check(os.path.isdir(d), f"no schema directory {d}")
    names = [f"{action}.{kind}.json",
             f"{action}Response.json" if kind == "conf" else f"{action}.json",
             f"{action}Request.json" if kind == "req" else f"{action}Response.json"]
    for n in names:
        p = os.path.join(d, n)
        if os.path.exists(p):
            with open(p) as f:
                return json.load(f)
    want = {f"urn:{action}.{kind}"}
    for n in sorted(os.listdir(d)):
        if n.endswith(".json"):
            with open(os.path.join(d, n)) as f:
                s = json.load(f)
            if s.get("$id") in want or s.get("id") in want:
                return s
    raise TestFailure(f"no {kind} schema for {action} in {d}")


_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def schema_errors(schema, value, root=None, path=""):
    """A minimal JSON-schema (draft 7 subset used by the OCPP files) validator: returns a list
    of "path: problem" strings, empty when value is valid. Strict on date-time (RFC 3339 with a
    zone), which is what a CSMS must send."""
    root = root or schema
    if "$ref" in schema:
        ref = schema["$ref"]
        check(ref.startswith("#/"), f"unsupported $ref {ref}")
        target = root
        for part in ref[2:].split("/"):
            target = target[part]
        return schema_errors(target, value, root, path)
    errs = []
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        ok = any({
            "object": isinstance(value, dict),
            "array": isinstance(value, list),
            "string": isinstance(value, str),
            "boolean": isinstance(value, bool),
            "null": value is None,
            "integer": isinstance(value, int) and not isinstance(value, bool)
            or isinstance(value, float) and value.is_integer(),
            "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        }[t] for t in types)
        if not ok:
            return [f"{path or '/'}: type is not {types}"]
    if "enum" in schema and value not in schema["enum"]:
        errs.append(f"{path}: {value!r} not in enum")
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errs.append(f"{path}: longer than {schema['maxLength']}")
        if "minLength" in schema and len(value) < schema["minLength"]:
            errs.append(f"{path}: shorter than {schema['minLength']}")
        if schema.get("format") == "date-time" and not _DATE_TIME.match(value):
            errs.append(f"{path}: {value!r} is not an RFC 3339 date-time")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errs.append(f"{path}: below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errs.append(f"{path}: above {schema['maximum']}")
        if "multipleOf" in schema and (value / schema["multipleOf"]) % 1 > 1e-9:
            errs.append(f"{path}: not a multiple of {schema['multipleOf']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for req in schema.get("required", []):
            if req not in value:
                errs.append(f"{path}/{req}: required")
        for k, v in value.items():
            if k in props:
                errs += schema_errors(props[k], v, root, f"{path}/{k}")
            elif schema.get("additionalProperties") is False:
                errs.append(f"{path}/{k}: not allowed")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errs.append(f"{path}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errs.append(f"{path}: more than {schema['maxItems']} items")
        if isinstance(schema.get("items"), dict):
            for i, v in enumerate(value):
                errs += schema_errors(schema["items"], v, root, f"{path}/{i}")
    return errs


def check_conf(action, payload, version="ocpp1.6"):
    """Checks a CALLRESULT payload against the action's official response schema."""
    errs = schema_errors(load_schema(version, action, "conf"), payload)
    check(not errs, f"{action} CALLRESULT {payload!r} violates its schema: {errs}")


# ---- running a test -----------------------------------------------------------------------

class Harness:
    """What a test gets: paths, a temp dir, servers it started, notes to show on failure."""

    def __init__(self, args):
        self.ocppd = os.path.abspath(args.ocppd)
        self.sim = os.path.abspath(args.sim) if args.sim else None
        self.tmp = tempfile.TemporaryDirectory(prefix="ocppd-it-")
        self.tmpdir = self.tmp.name
        self.servers = []
        self.notes = []

    def note(self, text):
        self.notes.append(text)

    async def server(self, db=None, args=(), name="ocppd", command=None):
        """Starts an ocppd (file database in the temp dir unless db is given) and waits for it.
        command(server) may build the whole argv instead (server.port etc. are set by then)."""
        return await Server(self, db=db, args=args, name=name, command=command).start()

    def dump(self):
        for n in self.notes:
            sys.stderr.write(n if n.endswith("\n") else n + "\n")
        for s in self.servers:
            sys.stderr.write(f"===== {s.name} stderr ({s.log_path}) =====\n")
            text = s.log()
            # Keep the end, where the failure is, when the log is huge.
            if len(text) > 200_000:
                text = "...\n" + text[-200_000:]
            sys.stderr.write(text)
            sys.stderr.write(f"===== end of {s.name} stderr =====\n")

    def cleanup(self):
        for s in self.servers:
            s.kill()
        self.tmp.cleanup()


def main(test, timeout=120):
    """Entry point of a test script: runs `async def test(h)` within timeout seconds."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--ocppd", required=True)
    ap.add_argument("--sim")
    args = ap.parse_args()
    h = Harness(args)
    name = os.path.basename(sys.argv[0])
    ok = False
    try:
        asyncio.run(asyncio.wait_for(test(h), timeout))
        for s in h.servers:
            s.check_sanitizers()
            check(not s.alive(), f"{s.name} still running at the end of the test (not stopped)")
        ok = True
    except asyncio.TimeoutError:
        sys.stderr.write(f"{name}: FAILED: the test did not finish within {timeout} s\n")
    except Exception:  # report anything, then the logs
        sys.stderr.write(f"{name}: FAILED\n{traceback.format_exc()}")
    if not ok:
        h.dump()
    h.cleanup()
    if ok:
        print(f"{name}: passed")
    sys.exit(0 if ok else 1)
