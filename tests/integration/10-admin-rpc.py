#!/usr/bin/python3
"""10-admin-rpc — the admin JSON-RPC WebSocket itself: token checks at the upgrade (401, no
upgrade), the JSON-RPC error codes and batches, and the store-backed methods (tokens.*,
chargers.*), including security profile 1: a charger registered with a password is refused
(401) without the right HTTP Basic credentials and admitted with them.
"""
import asyncio
import base64
import json
import os
import re
import urllib.request

import harness
from harness import check

CP = "ADMIN-RPC-01"


async def test(h):
    # ---- the admin session cap: each session may queue megabytes, so their number is bounded --
    capped = await h.server(args=["--max-admin-sessions", "2"], name="ocppd-capped")
    held = [await harness.Admin.connect(capped) for _ in range(2)]
    got = await harness.admin_handshake(capped, "/admin",
                                        {"Authorization": f"Bearer {harness.ADMIN_TOKEN}"})
    check(got == ("http", 503), f"admin session over --max-admin-sessions 2: {got!r}")
    for a in held:
        await a.close()
    await capped.stop()

    srv = await h.server(args=["--accept-unknown-tokens"])

    # ---- the upgrade: path and token --------------------------------------------------------
    tok = harness.ADMIN_TOKEN
    for path, headers, want in [
            ("/admin", None, ("http", 401)),
            ("/admin", {"Authorization": "Bearer wrong-token-xx"}, ("http", 401)),
            ("/admin", {"Authorization": f"Bearer {tok}x"}, ("http", 401)),
            ("/admin", {"Authorization": f"Basic {tok}"}, ("http", 401)),
            ("/admin?token=nope", None, ("http", 401)),
            ("/other", {"Authorization": f"Bearer {tok}"}, ("http", 404)),
            ("/admin", {"Authorization": f"Bearer {tok}"}, ("open", None)),
            (f"/admin?token={tok}", None, ("open", None))]:
        got = await harness.admin_handshake(srv, path, headers)
        check(got == want, f"admin handshake {path} {headers}: {got!r}, expected {want!r}")

    a = await harness.Admin.connect(srv)

    # ---- JSON-RPC envelope errors -----------------------------------------------------------
    await a.send_text("{not json")
    r = await a.next_other()
    check(r["error"]["code"] == -32700 and r["id"] is None, f"parse error answer {r!r}")
    await a.send_text("[]")
    r = await a.next_other()
    check(r["error"]["code"] == -32600, f"empty batch answer {r!r}")
    await a.send_text(json.dumps({"jsonrpc": "1.0", "id": 7, "method": "tokens.list"}))
    await harness.wait_until(lambda: _has(a, 7), "answer to a 1.0 request")
    check(a.answers.pop(7)["error"]["code"] == -32600, "jsonrpc 1.0 accepted")
    await a.error("no.such.method", {}, -32601)
    await a.error("tokens.list", {"bogus": 1}, -32602, "bogus")
    await a.error("tokens.upsert", {"idTag": "T"}, -32602, "status")
    await a.error("tokens.upsert", {"idTag": "T", "status": "Maybe"}, -32602, "status")
    await a.error("tokens.upsert", {"idTag": 5, "status": "Accepted"}, -32602, "idTag")
    await a.error("tokens.upsert", {"idTag": "T", "status": "Accepted", "expiryDate": "soon"},
                  -32602, "expiryDate")
    await a.error("transactions.list", {"limit": 0}, -32602, "limit")
    r = await a.request("chargers.list", [1, 2])
    check(r["error"]["code"] == -32602, f"array params accepted: {r!r}")

    # A batch: answers for requests only (the notification gets none), errors in place.
    await a.send_text(json.dumps([
        {"jsonrpc": "2.0", "id": "b1", "method": "tokens.upsert",
         "params": {"idTag": "BATCH1", "status": "Blocked"}},
        {"jsonrpc": "2.0", "method": "tokens.list"},
        {"jsonrpc": "2.0", "id": "b2", "method": "nope"},
        42]))
    batch = await a.next_other()
    check(isinstance(batch, list) and len(batch) == 3, f"batch answer {batch!r}")
    check(batch[2] == {"jsonrpc": "2.0", "id": None,
                       "error": {"code": -32600, "message": "a request must be an object"}},
          f"batch member 42 answered {batch[2]!r}")
    check(a.answers.pop("b1")["result"]["status"] == "Blocked", "batch upsert")
    check(a.answers.pop("b2")["error"]["code"] == -32601, "batch unknown method")

    # ---- schemas/admin.json is what the server enforces ---------------------------------------
    # Every method has a definition and every definition a method; then, for each definition,
    # params that break one of its constraints at a time are refused with -32602 naming the field.
    with open(os.path.join(harness.SRC_ROOT, "schemas", "admin.json")) as f:
        defs = json.load(f)["definitions"]
    with open(os.path.join(harness.SRC_ROOT, "src", "admin_methods.def")) as f:
        methods = set(re.findall(r'^ADMIN_METHOD\("([^"]+)"', f.read(), re.M))
    check(methods == set(defs), f"methods without a definition: {sorted(methods - set(defs))}, "
                                f"definitions without a method: {sorted(set(defs) - methods)}")
    checked = 0
    for method, d in sorted(defs.items()):
        props, req = d["properties"], d.get("required", [])
        base = {k: _sample(props[k]) for k in req}
        cases = [({**base, "zzUnknown": 1}, "zzUnknown")]
        cases += [({x: v for x, v in base.items() if x != k}, k) for k in req]
        for k, prop in props.items():
            cases += [({**base, k: bad}, field) for bad, field in _breaking(prop, k)]
        for params, field in cases:
            await a.error(method, params, -32602, field)
            checked += 1
    check(checked > 150, f"only {checked} bad params tried")

    # ---- hostile input on the admin socket: answered or closed, and the server goes on -------
    await a.ws.send(b"\x00\x01binary")
    r = await a.next_other()
    check(r["error"]["code"] == -32600 and "not text" in r["error"]["message"], f"binary {r}")
    await a.ws.send("[" + " " * (1024 * 1024 + 10) + "]")
    r = await a.next_other()
    check(r["error"]["code"] == -32600 and "too large" in r["error"]["message"], f"huge {r}")

    async def fragments():
        text = json.dumps({"jsonrpc": "2.0", "id": "frag", "method": "tokens.list"})
        for i in range(0, len(text), 7):
            yield text[i:i + 7]
    await a.ws.send(fragments())
    await harness.wait_until(lambda: _has(a, "frag"), "the answer to a fragmented request")
    check("result" in a.answers.pop("frag"), "fragmented request failed")
    await a.send_text(json.dumps({"jsonrpc": "2.0", "id": 99, "method": "tokens.list",
                                  "params": {"deep": [[[[[[[[[[[[1]]]]]]]]]]]]}}))
    await harness.wait_until(lambda: _has(a, 99), "answer to deep params")
    check(a.answers.pop(99)["error"]["code"] == -32602, "deep unknown param")
    bad = await harness.Admin.connect(srv)
    await bad.ws.ensure_open()
    bad.ws.transport.write(b"\x81\x82\x00\x00\x00\x00\xc3\x28")  # masked text, bad UTF-8
    await asyncio.wait_for(bad.reader, 10)
    check(bad.ws.close_code in (1007, 1006), f"invalid UTF-8 closed with {bad.ws.close_code}")
    await a.call("tokens.list")

    # ---- tokens -----------------------------------------------------------------------------
    t = await a.call("tokens.upsert", {"idTag": "TAG-ADMIN-1", "status": "Accepted",
                                       "expiryDate": "2099-01-01T00:00:00Z",
                                       "parentIdTag": "PARENT-1"})
    check(t == {"idTag": "TAG-ADMIN-1", "status": "Accepted",
                "expiryDate": "2099-01-01T00:00:00.000Z", "parentIdTag": "PARENT-1"},
          f"upsert result {t}")
    toks = (await a.call("tokens.list"))["tokens"]
    check({x["idTag"] for x in toks} >= {"TAG-ADMIN-1", "BATCH1"}, f"tokens.list {toks}")
    check(await a.call("tokens.delete", {"idTag": "TAG-ADMIN-1"}) == {"deleted": True},
          "tokens.delete")
    await a.error("tokens.delete", {"idTag": "TAG-ADMIN-1"}, -32004)

    # ---- chargers and security profile 1 ----------------------------------------------------
    await a.error("chargers.get", {"chargerId": "NOPE"}, -32004)
    await a.error("chargers.delete", {"chargerId": "NOPE"}, -32004)
    await a.error("chargers.register", {}, -32602, "chargerId")
    c = await a.call("chargers.register", {"chargerId": CP, "password": "s3cret-pass-123",
                                           "stationId": "ST-1"})
    check(c["id"] == CP and c["provisioned"] and c["hasPassword"] and c["stationId"] == "ST-1"
          and not c["connected"], f"register result {c}")

    def basic(user, pw):
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()}
    for headers in [None, basic(CP, "wrong"), basic("SOMEONE", "s3cret-pass-123"),
                    {"Authorization": "Basic !!!"}, {"Authorization": "Bearer s3cret-pass-123"}]:
        got = await harness.try_handshake(srv, f"/ocpp/{CP}", headers=headers)
        check(got == ("http", 401), f"charger handshake with {headers}: {got!r}")
    got = await harness.try_handshake(srv, f"/ocpp/{CP}", headers=basic(CP, "s3cret-pass-123"))
    check(got == ("open", "ocpp1.6"), f"charger handshake with its password: {got!r}")
    # No password registered: no credentials needed.
    got = await harness.try_handshake(srv, "/ocpp/ADMIN-RPC-FREE")
    check(got == ("open", "ocpp1.6"), f"charger without password: {got!r}")

    res = await harness.run_sim(h, srv, CP, "--script", "boot", "--password", "s3cret-pass-123")
    check(res.summary["registration"] == "Accepted", f"sim with password: {res.summary}")
    c = await a.call("chargers.get", {"chargerId": CP})
    check(c["vendor"] == "ocpp-sim" and c["protocol"] == "ocpp1.6" and c["lastSeen"],
          f"chargers.get after boot {c}")
    check([x["connectorId"] for x in c["connectors"]] == [1], f"connectors {c['connectors']}")
    lst = (await a.call("chargers.list"))["chargers"]
    check(CP in [x["id"] for x in lst], f"chargers.list {lst}")
    check(await a.call("chargers.delete", {"chargerId": CP}) == {"deleted": True}, "delete")
    await a.error("chargers.get", {"chargerId": CP}, -32004)

    # ---- stations (logic in src/stations.c, reached through the same table) -----------------
    st = await a.call("stations.upsert", {"id": "ST-1", "name": "Depot", "address": "Main St 1",
                                          "lat": 52.52, "lon": 13.405,
                                          "chargerIds": ["ADMIN-RPC-FREE"],
                                          "connectors": [{"type": "CCS2", "maxPowerKw": 150}]})
    check(st["created"] is True and st["station"]["id"] == "ST-1", f"stations.upsert {st}")
    got = await a.call("stations.get", {"id": "ST-1"})
    check(got["station"]["chargerIds"] == ["ADMIN-RPC-FREE"], f"stations.get {got}")
    found = await a.call("stations.search", {"lat": 52.5, "lon": 13.4, "radiusKm": 10})
    check([x["id"] for x in found["stations"]] == ["ST-1"] and
          0 < found["stations"][0]["distanceKm"] < 10, f"stations.search {found}")
    await a.error("stations.search", {"lat": 52.5, "lon": 13.4, "radiusKm": 0}, -32602,
                  "radiusKm")
    check(await a.call("stations.delete", {"id": "ST-1"}) == {"deleted": True}, "delete")
    await a.error("stations.get", {"id": "ST-1"}, -32004)

    # /metrics counts the refused charger handshakes (5 wrong or missing credentials above).
    def metrics():
        with urllib.request.urlopen(f"http://127.0.0.1:{srv.admin_port}/metrics", timeout=5) as r:
            check(r.status == 200 and r.headers["content-type"].startswith("text/plain"),
                  f"/metrics answered {r.status} {r.headers['content-type']}")
            return {l.split(" ")[0]: float(l.split(" ")[1]) for l in r.read().decode().splitlines()
                    if l and not l.startswith("#")}
    m = await asyncio.get_running_loop().run_in_executor(None, metrics)
    check(m.get("ocppd_charger_auth_failures_total") == 5, f"auth failures in /metrics: {m}")
    check(m.get("ocppd_admin_sessions") == 1 and m.get('ocppd_db_commit_seconds_bucket{le="+Inf"}')
          == m.get("ocppd_db_commit_seconds_count") > 0, f"/metrics {m}")

    # The server still answers after all of this.
    await a.call("chargers.list")
    await a.close()
    await srv.stop()

    # --no-auto-register: only chargers an operator registered are Accepted at boot.
    srv2 = await h.server(args=["--no-auto-register"], name="ocppd-closed")
    a2 = await harness.Admin.connect(srv2)
    res = await harness.run_sim(h, srv2, "ADMIN-RPC-NEW", "--script", "boot", expect_ok=False)
    check(res.summary["registration"] == "Rejected", f"unregistered boot: {res.summary}")
    await a2.call("chargers.register", {"chargerId": "ADMIN-RPC-NEW"})
    res = await harness.run_sim(h, srv2, "ADMIN-RPC-NEW", "--script", "boot")
    check(res.summary["registration"] == "Accepted", f"registered boot: {res.summary}")
    await a2.close()
    await srv2.stop()


def _sample(prop):
    """A value valid for the admin.json property schema prop."""
    if "enum" in prop:
        return prop["enum"][0]
    t = prop["type"][0] if isinstance(prop["type"], list) else prop["type"]
    if t == "string":
        if prop.get("format") == "date-time":
            return "2030-01-01T00:00:00Z"
        prefix = prop.get("pattern", "^").lstrip("^").replace("\\", "")
        return prefix + "X" * max(1, prop.get("minLength", 1))
    if t in ("integer", "number"):
        if "minimum" in prop:
            return prop["minimum"]
        return prop.get("exclusiveMinimum", 0) + 1
    return {"boolean": True, "object": {}, "array": []}[t]


def _breaking(prop, path):
    """(value, field named in the refusal) pairs, each breaking one constraint of prop."""
    types = prop.get("type", "string")  # an enum without a type admits strings only
    types = types if isinstance(types, list) else [types]
    numeric = {"integer", "number"} & set(types)
    out = [(5 if not numeric else "5", path)]
    if "integer" in types:
        out.append((1.5, path))
    if "enum" in prop:
        out.append(("zzNotAllowed", path))
    if "maximum" in prop:
        out.append((prop["maximum"] + 1, path))
    if "exclusiveMinimum" in prop:
        out.append((prop["exclusiveMinimum"], path))
    if "minimum" in prop:
        out.append((prop["minimum"] - 1, path))
    if "maxLength" in prop:
        out.append(("x" * (prop["maxLength"] + 1), path))
    if prop.get("minLength", 0) >= 1:
        out.append(("x" * (prop["minLength"] - 1), path))
    if "pattern" in prop:
        out.append(("zz" + _sample(prop), path))
    if prop.get("format") == "date-time":
        out.append(("soon", path))
    if "items" in prop:
        item = prop["items"]
        if "maxItems" in prop:
            out.append(([_sample(item)] * (prop["maxItems"] + 1), path))
        if item.get("type") == "object":
            full = {k: _sample(v) for k, v in item["properties"].items()}
            out.append(([{**full, "zzUnknown": 1}], f"{path}/0/zzUnknown"))
            for k in item.get("required", []):
                out.append(([{x: v for x, v in full.items() if x != k}], f"{path}/0/{k}"))
            for k, v in item["properties"].items():
                out += [([{**full, k: bad}], f"{path}/0/{k}") for bad, _ in _breaking(v, k)]
        else:
            out += [([_sample(item), bad], f"{path}/1") for bad, _ in _breaking(item, path)]
    return out


def _has(a, rid):
    async def f():
        return rid in a.answers
    return f()


harness.main(test)
