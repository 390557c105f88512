#!/usr/bin/python3
"""03-bad-input — the hostile-input catalogue. Each entry is sent by a registered charger; the
server must answer with exactly the expected CALLERROR (OCPP-J 1.6 spellings), stay silent where
no unique id can be recovered, or close cleanly, and afterwards the same connection (or a fresh
one after a close) answers a Heartbeat while a second charger on another connection is served
throughout. Then the handshake refusals: bad path, bad ids, missing or unknown subprotocols.
"""
import json

import websockets
import websockets.exceptions
from websockets.frames import Opcode

import harness
from harness import check

BAD = "HOSTILE-01"
GOOD = "BYSTANDER-01"
FV = "FormationViolation"
TS = "2024-05-01T10:00:00Z"

# Outcomes a case may allow:
#   ("error", code_or_codes)  CALLERROR echoing the case's unique id
#   ("error_prefix", code)    CALLERROR whose id is the case's id or a prefix of it (id too long)
#   ("result",)               CALLRESULT for the case's id
#   ("silence",)              nothing: the next frame is the Heartbeat's answer
#   ("close",)                the server closes with a close frame (not a dropped socket)


def text(s):
    return ("text", s)


def frame(f):
    return ("text", json.dumps(f))


def call(uid, action, payload):
    return ("text", json.dumps([2, uid, action, payload]))


CASES = [
    # -- not an OCPP-J envelope: no unique id to echo, so log and ignore
    ("not JSON", text("this is not json"), None, [("silence",)]),
    ("empty message", text(""), None, [("silence",)]),
    ("whitespace only", text("  \n\t "), None, [("silence",)]),
    ("JSON object", text('{"a": 1}'), None, [("silence",)]),
    ("JSON string", text('"hello"'), None, [("silence",)]),
    ("JSON null", text("null"), None, [("silence",)]),
    ("empty array", text("[]"), None, [("silence",)]),
    ("type only", text("[2]"), None, [("silence",)]),
    ("CALLRESULT for no call", frame([3, "no-such-call", {}]), None, [("silence",)]),
    ("CALLERROR for no call", frame([4, "no-such-call-2", "GenericError", "", {}]), None,
     [("silence",)]),
    ("short CALLRESULT", text("[3]"), None, [("silence",)]),
    ("truncated JSON", text('[2,"t-trunc","Heartbeat",{'), "t-trunc",
     [("silence",), ("error", FV)]),
    ("numeric unique id", text('[2,123,"Heartbeat",{}]'), None, [("silence",), ("error", FV)]),
    ("deep nesting at top", text("[" * 30000 + "]" * 30000), None, [("silence",)]),

    # -- broken envelopes with a recoverable id (rpc.h: 1.6 has no RpcFrameworkError)
    ("id without action", frame([2, "e-noaction"]), "e-noaction", [("error", FV)]),
    ("missing payload", frame([2, "e-nopayload", "Heartbeat"]), "e-nopayload", [("error", FV)]),
    ("extra element", frame([2, "e-extra", "Heartbeat", {}, "extra"]), "e-extra",
     [("error", FV)]),
    ("type id as string", frame(["2", "e-strtype", "Heartbeat", {}]), "e-strtype",
     [("error", FV)]),
    ("type id as float", text('[2.0,"e-floattype","Heartbeat",{}]'), "e-floattype",
     [("error", FV)]),
    ("unknown message type", frame([5, "e-type5", "Heartbeat", {}]), "e-type5", [("error", FV)]),
    ("action not a string", frame([2, "e-numaction", 42, {}]), "e-numaction", [("error", FV)]),
    ("payload is an array", frame([2, "e-arrpayload", "Heartbeat", []]), "e-arrpayload",
     [("error", {FV, "TypeConstraintViolation"})]),
    ("payload is a string", frame([2, "e-strpayload", "Heartbeat", "x"]), "e-strpayload",
     [("error", {FV, "TypeConstraintViolation"})]),
    ("payload is null", frame([2, "e-nullpayload", "Heartbeat", None]), "e-nullpayload",
     [("error", {FV, "TypeConstraintViolation"})]),
    # Too long to echo within the limit: an answer with the id (or its first 36 characters)
    # or none at all are both defensible.
    ("id of 37 characters", frame([2, "x" * 37, "Heartbeat", {}]), "x" * 37,
     [("error_prefix", FV), ("silence",)]),
    ("id of 36 characters (limit)", frame([2, "y" * 36, "Heartbeat", {}]), "y" * 36,
     [("result",)]),
    ("deep nesting in payload",
     text('[2,"e-deep","DataTransfer",{"vendorId":"x","data":' + "[" * 10000 + "]" * 10000
          + "}]"), "e-deep", [("silence",), ("error", FV)]),
    ("NUL escape in a string", text('[2,"e-nul","Authorize",{"idTag":"A\\u0000B"}]'), "e-nul",
     [("silence",), ("error", {FV, "PropertyConstraintViolation"})]),

    # -- actions
    ("unknown action", call("a-unknown", "FooBar", {}), "a-unknown",
     [("error", "NotImplemented")]),
    ("5000-character action", call("a-long", "A" * 5000, {}), "a-long",
     [("error", {"NotImplemented", FV})]),
    ("2.0.1-only action on 1.6", call("a-201", "TransactionEvent", {}), "a-201",
     [("error", "NotImplemented")]),
    ("CSMS-only action Reset", call("a-reset", "Reset", {"type": "Hard"}), "a-reset",
     [("error", "NotSupported")]),
    ("CSMS-only action RemoteStartTransaction",
     call("a-rst", "RemoteStartTransaction", {"idTag": "X"}), "a-rst",
     [("error", "NotSupported")]),

    # -- payload schema violations, one per class (schema.h maps them)
    ("missing required field",
     call("s-occ", "StatusNotification", {"connectorId": 1, "errorCode": "NoError"}), "s-occ",
     [("error", "OccurenceConstraintViolation")]),
    ("missing required nested field",
     call("s-occ2", "MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": TS}]}),
     "s-occ2", [("error", "OccurenceConstraintViolation")]),
    ("wrong type", call("s-type", "StatusNotification",
                        {"connectorId": "1", "errorCode": "NoError", "status": "Available"}),
     "s-type", [("error", "TypeConstraintViolation")]),
    ("wrong nested type", call("s-type2", "MeterValues", {
        "connectorId": 1, "meterValue": [{"timestamp": TS, "sampledValue": [{"value": 5}]}]}),
     "s-type2", [("error", "TypeConstraintViolation")]),
    ("fraction for an integer", call("s-int", "StartTransaction", {
        "connectorId": 1, "idTag": "T1", "meterStart": 1.5, "timestamp": TS}),
     "s-int", [("error", "TypeConstraintViolation")]),
    ("value outside the enum", call("s-enum", "StatusNotification",
                                    {"connectorId": 1, "errorCode": "NoError",
                                     "status": "Sleeping"}),
     "s-enum", [("error", "PropertyConstraintViolation")]),
    ("string too long", call("s-len", "Authorize", {"idTag": "T" * 21}), "s-len",
     [("error", "PropertyConstraintViolation")]),
    ("bad date-time", call("s-date", "StatusNotification",
                           {"connectorId": 1, "errorCode": "NoError", "status": "Available",
                            "timestamp": "yesterday"}),
     "s-date", [("error", "PropertyConstraintViolation")]),
    ("property not allowed", call("s-extra", "Heartbeat", {"foo": 1}), "s-extra",
     [("error", FV)]),

    # -- transport-level abuse
    ("fragmented valid Heartbeat",
     ("fragments", ['[2,"f-frag",', '"Heartbeat"', ",{}]"]), "f-frag", [("result",)]),
    ("binary frame", ("binary", json.dumps([2, "b-bin", "Heartbeat", {}]).encode()), "b-bin",
     [("silence",), ("close",)]),
    ("invalid UTF-8 text frame",
     ("raw_text", b'[2,"u-utf8","Authorize",{"idTag":"\xff\xfe"}]'), "u-utf8",
     [("silence",), ("close",), ("error", {FV, "PropertyConstraintViolation"})]),
    ("burst of 200 garbage messages", ("burst", 200), None, [("silence",), ("close",)]),
    ("oversize frame (70 KiB)",
     call("o-big", "DataTransfer", {"vendorId": "x", "data": "A" * (70 * 1024)}), "o-big",
     [("close",)]),
    ("oversize fragmented message (80 KiB)",
     ("fragments", ['[2,"o-frag","DataTransfer",{"vendorId":"x","data":"'] +
      ["B" * 4096] * 20 + ['"}]']), "o-frag", [("close",)]),
]


async def send_case(cp, how):
    kind, data = how
    if kind == "text":
        await cp.ws.send(data)
    elif kind == "binary":
        await cp.ws.send(data)
    elif kind == "fragments":
        await cp.ws.send(iter(data))
    elif kind == "raw_text":
        # websockets refuses to encode invalid UTF-8 itself; write the frame directly.
        await cp.ws.write_frame(True, Opcode.TEXT, data)
    elif kind == "burst":
        for i in range(data):
            await cp.ws.send(f"garbage {i} ]]]")
    else:
        raise ValueError(kind)


async def probe(cp, how):
    """Sends one hostile input, then a Heartbeat. Returns (replies before the Heartbeat's
    answer, close code or None)."""
    try:
        await send_case(cp, how)
        hb = cp.next_id()
        await cp.send_frame([2, hb, "Heartbeat", {}])
    except websockets.exceptions.ConnectionClosed:
        hb = None
    replies = []
    while True:
        try:
            f = await cp.next_frame(timeout=10)
        except harness.TestFailure:
            if cp.is_closed():
                return replies, cp.ws.close_code
            raise
        if isinstance(f, list) and len(f) >= 2 and f[1] == hb:
            check(f[0] == 3, f"the Heartbeat after the input got {f!r}")
            return replies, None
        replies.append(f)


def matches(outcome, uid, replies, close_code):
    kind = outcome[0]
    if kind == "close":
        # A close frame was received (1006 would mean the socket was just dropped).
        return close_code is not None and close_code != 1006
    if close_code is not None:
        return False
    if kind == "silence":
        return replies == []
    if len(replies) != 1 or not isinstance(replies[0], list):
        return False
    r = replies[0]
    if kind == "result":
        return len(r) == 3 and r[0] == 3 and r[1] == uid and isinstance(r[2], dict)
    codes = {outcome[1]} if isinstance(outcome[1], str) else outcome[1]
    if not (len(r) == 5 and r[0] == 4 and r[2] in codes and isinstance(r[3], str)
            and isinstance(r[4], dict) and isinstance(r[1], str)):
        return False
    if kind == "error_prefix":
        return len(r[1]) > 0 and uid.startswith(r[1])
    return r[1] == uid


async def test(h):
    srv = await h.server()
    good = await harness.Charger.connect(srv, GOOD)
    await good.boot()
    bad = await harness.Charger.connect(srv, BAD)
    await bad.boot()
    await bad.status(0, "Available")

    await bad.close()

    # Each case gets a fresh connection (the charger reconnects without rebooting, as real ones
    # do), so a server that closes after repeated abuse, as the issue allows, cannot hide one
    # case's outcome behind the previous ones. Every case runs even after a mismatch, so one run
    # lists all of them.
    mismatches = []
    for name, how, uid, allowed in CASES:
        bad = await harness.Charger.connect(srv, BAD)
        replies, close_code = await probe(bad, how)
        got = (f"close code {close_code} {bad.ws.close_reason!r}" if close_code is not None
               else f"replies {json.dumps(replies)[:300]}")
        if not any(matches(o, uid, replies, close_code) for o in allowed):
            mismatches.append(f"case {name!r}: {got}; allowed {allowed}")
        h.note(f"case {name!r}: {got}")
        await bad.close()
        if close_code is not None:
            # Closed for this input only: the next connection is served.
            bad = await harness.Charger.connect(srv, BAD)
            await bad.heartbeat()
            await bad.close()
        await good.heartbeat()
    check(srv.alive(), "ocppd died")
    check(not mismatches, "\n".join(mismatches))

    # -- handshakes
    x48, x49 = "X" * 48, "X" * 49
    refusals = [
        ("bad path", "/foo/HS-1", ["ocpp1.6"], None),
        ("no id", "/ocpp/", ["ocpp1.6"], None),
        ("id of 49 characters", f"/ocpp/{x49}", ["ocpp1.6"], 400),
        ("id with a control character", "/ocpp/HS%01X", ["ocpp1.6"], 400),
        ("no subprotocol", "/ocpp/HS-2", [], None),
        ("only an unknown subprotocol", "/ocpp/HS-3", ["ocpp1.5"], None),
    ]
    for name, path, protocols, status in refusals:
        result = await harness.try_handshake(srv, path, protocols)
        harness.check_refused(result, f"handshake {name}", status)
        h.note(f"handshake {name!r}: {result}")
        await good.heartbeat()
    accepted = [
        ("id of 48 characters", f"/ocpp/{x48}", ["ocpp1.6"]),
        ("unknown subprotocol offered first", "/ocpp/HS-5", ["foo", "ocpp1.6"]),
        ("percent-encoded id", "/ocpp/HS%2D6", ["ocpp1.6"]),
        ("1.6 listed before 2.0.1", "/ocpp/HS-7", ["ocpp1.6", "ocpp2.0.1"]),
    ]
    for name, path, protocols in accepted:
        result = await harness.try_handshake(srv, path, protocols)
        check(result == ("open", "ocpp1.6"), f"handshake {name}: {result}")
        await good.heartbeat()
    # The charger's order decides: the first subprotocol it lists that ocppd speaks.
    accepted201 = [
        ("only ocpp2.0.1", "/ocpp/HS-4", ["ocpp2.0.1"]),
        ("2.0.1 listed before 1.6", "/ocpp/HS-8", ["ocpp2.0.1", "ocpp1.6"]),
        ("unknown first, then 2.0.1", "/ocpp/HS-9", ["ocpp2.1", "ocpp2.0.1", "ocpp1.6"]),
    ]
    for name, path, protocols in accepted201:
        result = await harness.try_handshake(srv, path, protocols)
        check(result == ("open", "ocpp2.0.1"), f"handshake {name}: {result}")
        await good.heartbeat()

    await good.close()
    await srv.stop()


harness.main(test, timeout=170)
