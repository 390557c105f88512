#!/usr/bin/python3
"""10-admin-slow-subscriber — an events subscriber that stops reading never slows chargers:
while it sits on a full socket, a charger's messages keep being answered promptly; once its
queue passes the cap the server closes it (counted in /metrics), and a new subscription resumes
from the last seq it received with nothing missing.
"""
import asyncio
import json
import socket
import time
import urllib.request

import websockets

import harness
from harness import check

CP = "SLOW-SUB-" + "X" * 20  # a long id makes every event bigger (unique ids stay <= 36)


async def test(h):
    srv = await h.server(args=["--accept-unknown-tokens"])
    cp = await harness.Charger.connect(srv, CP)
    await cp.boot()

    # The slow subscriber: a tiny receive buffer, and a client that stops reading after its
    # subscription answer (websockets stops draining the socket once max_queue is full).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", srv.admin_port))
    slow = await websockets.connect(f"ws://127.0.0.1:{srv.admin_port}/admin", sock=sock,
                                    extra_headers={"Authorization": f"Bearer {harness.ADMIN_TOKEN}"},
                                    max_queue=1, read_limit=1024, ping_interval=None,
                                    close_timeout=2)
    await slow.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "events.subscribe"}))
    first = json.loads(await slow.recv())
    check(first["result"]["subscribed"], f"subscribe answered {first}")

    def dropped():
        with urllib.request.urlopen(f"http://127.0.0.1:{srv.admin_port}/metrics", timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("ocppd_admin_sessions_dropped_total "):
                    return int(line.split()[1])
        return 0

    # Many statuses, pipelined in bursts; every reply must keep coming quickly.
    statuses = ["Available", "Preparing", "Charging", "SuspendedEV", "Finishing"]
    worst = 0.0
    sent = 0
    deadline = time.monotonic() + 60
    while True:
        t0 = time.monotonic()
        ids = []
        for k in range(200):
            uid = cp.next_id()
            ids.append(uid)
            await cp.send_frame([2, uid, "StatusNotification",
                                 {"connectorId": 1, "errorCode": "NoError",
                                  "status": statuses[(sent + k) % len(statuses)],
                                  "info": "i" * 50, "vendorErrorCode": "v" * 50}])
        for uid in ids:
            frame = await cp.reply_to(uid, timeout=10)
            check(frame[0] == 3, f"status answered {frame}")
        worst = max(worst, time.monotonic() - t0)
        sent += 200
        if sent % 2000 == 0:
            n = await asyncio.get_running_loop().run_in_executor(None, dropped)
            if n:
                break
        check(time.monotonic() < deadline, f"slow subscriber not dropped after {sent} events")
    check(worst < 5, f"a burst of 200 statuses took {worst:.1f} s with a stalled subscriber")
    h.note(f"slow subscriber dropped after {sent} statuses; worst burst {worst:.2f} s")

    # It was closed: reading what it had, the socket ends (1008, or cut if the close frame
    # could not be delivered through the full buffer).
    got = []
    try:
        while True:
            got.append(json.loads(await asyncio.wait_for(slow.recv(), 10)))
    except websockets.exceptions.ConnectionClosed:
        pass
    seqs = [n["params"]["seq"] for n in got if n.get("method") == "event"]
    check(seqs and seqs == list(range(seqs[0], seqs[0] + len(seqs))), "gap before the drop")

    # Resume from the last seq it got: the rest arrives, contiguous, through the live end.
    a = await harness.Admin.connect(srv)
    r = await a.call("events.subscribe", {"fromSeq": seqs[-1]})
    last = r["lastSeq"]

    async def caught_up():
        s = [n["params"]["seq"] for n in a.notifications]
        return s and s[-1] >= last
    await harness.wait_until(caught_up, "the resumed subscription to catch up", timeout=30)
    s = [n["params"]["seq"] for n in a.notifications]
    check(s == list(range(seqs[-1] + 1, last + 1)), "resumed replay not contiguous")
    await cp.heartbeat()
    await a.close()
    await cp.close()
    await srv.stop()


harness.main(test, timeout=150)
