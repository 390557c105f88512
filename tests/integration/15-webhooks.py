#!/usr/bin/python3
"""15-webhooks — webhooks.add/list/delete against a local HTTP receiver: every event after the
hook was added is POSTed in seq order with a valid X-Ocppd-Signature; a receiver that answers 500
twice gets the same event again after the backoff, with no gap; and across an ocppd restart on
the same database delivery resumes from the stored position with no duplicate and no gap. A
type-filtered hook gets only its types. Everything is compared with the events table.
"""
import asyncio
import hashlib
import hmac
import http.server
import json
import threading
import time

import harness
from harness import check

SECRET = "s3cret-key"


class Receiver:
    """A threaded http.server on a free loopback port; records every POST per path."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ok = {}         # path -> [(seq header, signature header, body bytes)] answered 200
        self.failed = {}     # path -> [seq] answered 500
        self.fail_next = {}  # path -> how many more POSTs get 500 (-1: all)
        self.delay = 0.0     # seconds between recording a POST and answering it
        self.recorded = 0
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                seq = int(self.headers.get("X-Ocppd-Event-Seq", "-1"))
                sig = self.headers.get("X-Ocppd-Signature", "")
                with rec.lock:
                    left = rec.fail_next.get(self.path, 0)
                    if left:
                        rec.fail_next[self.path] = left - 1 if left > 0 else left
                        rec.failed.setdefault(self.path, []).append(seq)
                        code = 500
                    else:
                        rec.ok.setdefault(self.path, []).append((seq, sig, body))
                        code = 200
                    rec.recorded += 1
                    delay = rec.delay
                if delay:
                    time.sleep(delay)
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def seqs(self, path):
        with self.lock:
            return [s for s, _, _ in self.ok.get(path, [])]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def db_events(srv, after):
    return harness.db_query(srv.db, lambda db: db.rows(
        "SELECT seq, type FROM events WHERE seq > ? ORDER BY seq", after))


def check_delivered(rec, path, srv, start, types=None):
    """The 200-answered POSTs on path are exactly the stored events after start (of types)."""
    want = [e["seq"] for e in db_events(srv, start) if types is None or e["type"] in types]
    with rec.lock:
        got = list(rec.ok.get(path, []))
    seqs = [s for s, _, _ in got]
    check(seqs == want, f"{path}: delivered seqs {seqs} != stored {want}")
    for seq, sig, body in got:
        mac = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        check(sig == "sha256=" + mac, f"{path}: bad signature {sig!r} for seq {seq}")
        ev = json.loads(body)
        check(ev["seq"] == seq and isinstance(ev["type"], str) and ev["time"]
              and "data" in ev and "chargerId" in ev, f"{path}: body {ev}")
        check(types is None or ev["type"] in types, f"{path}: unwanted type {ev['type']}")
    return seqs


async def wait_delivered(rec, path, srv, start, what, types=None, timeout=30.0):
    async def done():
        want = [e["seq"] for e in db_events(srv, start) if types is None or e["type"] in types]
        return want and rec.seqs(path) == want
    await harness.wait_until(done, what, timeout)


async def test(h):
    rec = Receiver()
    try:
        await run(h, rec)
    finally:
        rec.close()


async def run(h, rec):
    srv = await h.server(args=["--accept-unknown-tokens"])
    a = await harness.Admin.connect(srv)

    # ---- parameters and errors ----
    await a.error("webhooks.add", {"url": "https://127.0.0.1/x", "secret": "k"}, -32602, "url")
    await a.error("webhooks.add", {"url": "http://127.0.0.1:0/x", "secret": "k"}, -32602, "url")
    await a.error("webhooks.add", {"url": rec.url("/all")}, -32602, "secret")
    await a.error("webhooks.add", {"url": rec.url("/all"), "secret": "k", "types": [""]},
                  -32602, "types")
    await a.error("webhooks.delete", {"id": 999}, -32004)
    check((await a.call("webhooks.list")) == {"webhooks": []}, "webhooks.list when empty")

    start = harness.db_query(srv.db, lambda db: db.value("SELECT coalesce(max(seq), 0) FROM events"))
    r = await a.call("webhooks.add", {"url": rec.url("/all"), "secret": SECRET})
    hid = r["id"]
    check(isinstance(hid, int) and hid > 0, f"webhooks.add {r}")
    typed = ["charger.booted", "charger.disconnected"]
    tid = (await a.call("webhooks.add", {"url": rec.url("/typed"), "secret": SECRET,
                                         "types": typed}))["id"]
    gone = (await a.call("webhooks.add", {"url": rec.url("/gone"), "secret": SECRET}))["id"]
    lst = (await a.call("webhooks.list"))["webhooks"]
    check([w["id"] for w in lst] == [hid, tid, gone], f"webhooks.list ids {lst}")
    check(all("secret" not in w for w in lst), f"webhooks.list shows a secret: {lst}")
    check(lst[1]["types"] == typed and lst[0]["url"] == rec.url("/all"), f"list {lst}")
    check((await a.call("webhooks.delete", {"id": gone})) == {"deleted": True}, "delete")
    await a.error("webhooks.delete", {"id": gone}, -32004)

    # ---- live delivery in seq order with valid signatures ----
    await harness.run_sim(h, srv, "WH-1", "--script", "boot", "--connectors", "2")
    await wait_delivered(rec, "/all", srv, start, "delivery of the first charger's events")
    await wait_delivered(rec, "/typed", srv, start, "typed delivery", types=typed)
    s1 = check_delivered(rec, "/all", srv, start)
    check(len(s1) >= 4, f"too few events delivered: {s1}")
    check_delivered(rec, "/typed", srv, start, types=typed)
    check(not rec.ok.get("/gone"), "a deleted hook delivered")

    # ---- 500 twice, then 200: the same event again after the backoff, no gap ----
    with rec.lock:
        rec.fail_next["/all"] = 2
    await harness.run_sim(h, srv, "WH-2", "--script", "boot")
    await wait_delivered(rec, "/all", srv, start, "delivery after two 500s", timeout=40)
    check_delivered(rec, "/all", srv, start)
    with rec.lock:
        failed = list(rec.failed.get("/all", []))
    check(len(failed) == 2 and failed[0] == failed[1], f"500 answers went to {failed}")
    check(failed[0] in rec.seqs("/all"), "the retried event was not delivered")
    async def listed():  # ocppd reads the 200 just after the receiver recorded the event
        lst = (await a.call("webhooks.list"))["webhooks"]
        return lst[0]["deliveredSeq"] == rec.seqs("/all")[-1] and lst[0]["failures"] == 0
    await harness.wait_until(listed, "webhooks.list showing the retried delivery")

    # ---- behind at shutdown, resumed after the restart: no duplicate, no gap ----
    with rec.lock:
        rec.fail_next["/all"] = -1
    await harness.run_sim(h, srv, "WH-3", "--script", "boot")

    async def failing():
        with rec.lock:
            return len(rec.failed.get("/all", [])) >= 3
    await harness.wait_until(failing, "a failed attempt while the receiver is down")
    await a.close()
    await srv.stop()
    with rec.lock:
        rec.fail_next["/all"] = 0
    srv2 = await h.server(db=srv.db, args=["--accept-unknown-tokens"], name="ocppd2")
    await wait_delivered(rec, "/all", srv2, start, "delivery resumed after the restart")
    await wait_delivered(rec, "/typed", srv2, start, "typed delivery after restart", types=typed)
    # Live events after the restart follow on.
    await harness.run_sim(h, srv2, "WH-4", "--script", "boot")
    await wait_delivered(rec, "/all", srv2, start, "live delivery after the restart")
    s = check_delivered(rec, "/all", srv2, start)
    check(len(s) == len(set(s)), f"duplicates: {s}")
    check_delivered(rec, "/typed", srv2, start, types=typed)
    a = await harness.Admin.connect(srv2)
    lst = (await a.call("webhooks.list"))["webhooks"]
    check([w["id"] for w in lst] == [hid, tid], f"hooks after restart {lst}")
    await a.close()

    # ---- SIGTERM while a POST is in flight (received, not yet answered): it may finish, so
    # the next ocppd does not send it again ----
    with rec.lock:
        rec.delay = 0.4
        before = rec.recorded
    await harness.run_sim(h, srv2, "WH-5", "--script", "boot")

    async def in_flight():
        with rec.lock:
            return rec.recorded > before
    await harness.wait_until(in_flight, "a POST in flight")
    await srv2.stop()
    with rec.lock:
        rec.delay = 0.0
    srv3 = await h.server(db=srv.db, args=["--accept-unknown-tokens"], name="ocppd3")
    await wait_delivered(rec, "/all", srv3, start, "delivery after a stop mid-POST")
    await wait_delivered(rec, "/typed", srv3, start, "typed delivery after a stop mid-POST",
                         types=typed)
    s = check_delivered(rec, "/all", srv3, start)
    check_delivered(rec, "/typed", srv3, start, types=typed)
    await srv3.stop()
    # Shut down with nothing pending: the stored position is the last delivered seq.
    pos = harness.db_query(srv3.db, lambda db: db.value(
        "SELECT delivered_seq FROM webhooks WHERE id = ?", hid))
    check(pos == s[-1], f"stored position {pos}, last delivered {s[-1]}")


if __name__ == "__main__":
    harness.main(test, timeout=150)
