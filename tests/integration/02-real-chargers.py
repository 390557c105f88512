#!/usr/bin/python3
"""02-real-chargers — every frame of tests/data/real-chargers.json (CALLs real charge points
sent, see its README in shared testdata) is sent on one registered connection; the answer must
match the frame's `conformant` verdict, and the connection and a bystander charger must keep
being served after each one.
"""
import json
import os

import harness
from harness import check

DATA = os.path.join(harness.SRC_ROOT, "tests", "data", "real-chargers.json")
# 1.6 security-whitepaper messages: valid against the schema set we ship, but a server that does
# not implement the extension may answer NotImplemented (the data's own note on q020 says so).
SECURITY_EXTENSION = {"SecurityEventNotification", "SignCertificate",
                      "SignedFirmwareStatusNotification", "LogStatusNotification"}


async def test(h):
    with open(DATA) as f:
        entries = json.load(f)
    check(len(entries) >= 40, f"only {len(entries)} frames in {DATA}")
    srv = await h.server()
    bystander = await harness.Charger.connect(srv, "REAL-BYSTANDER")
    await bystander.boot()
    cp = await harness.Charger.connect(srv, "REAL-01")
    await cp.boot()
    await cp.status(0, "Available")

    # 2.0.1 frames go over a real ocpp2.0.1 connection of their own, after a 2.0.1 boot (a 2.0.1
    # station may send nothing else before it is Accepted).
    cp201 = await harness.Charger.connect(srv, "REAL-201", protocols=("ocpp2.0.1",))
    check(cp201.ws.subprotocol == "ocpp2.0.1", f"REAL-201 got {cp201.ws.subprotocol!r}")
    boot201 = await cp201.call_ok("BootNotification", {
        "reason": "PowerUp", "chargingStation": {"vendorName": "IntegrationTest",
                                                 "model": "Harness201"}})
    harness.check_conf("BootNotification", boot201, "ocpp2.0.1")
    check(boot201.get("status") == "Accepted", f"REAL-201 boot answered {boot201!r}")

    outcomes = {}
    for e in entries:
        if e["protocol"] == "ocpp2.0.1":
            _, uid, action, _payload = e["frame"]
            await cp201.send_frame(e["frame"])
            reply = await cp201.reply_to(uid)
            what = f"{e['id']} {action} (2.0.1, conformant={e['conformant']})"
            if e["conformant"] is True:
                check(reply[0] == 3 and len(reply) == 3, f"{what}: answered {reply!r}")
                harness.check_conf(action, reply[2], "ocpp2.0.1")
                outcomes[e["id"]] = "result"
            else:
                check(reply[0] in (3, 4), f"{what}: answered {reply!r}")
                outcomes[e["id"]] = "result" if reply[0] == 3 else reply[2]
            await cp201.heartbeat()
            await bystander.heartbeat()
            continue
        check(e["protocol"] == "ocpp1.6", f"{e['id']}: unknown protocol {e['protocol']!r}")
        _, uid, action, _payload = e["frame"]
        await cp.send_frame(e["frame"])
        reply = await cp.reply_to(uid)
        what = f"{e['id']} {action} (conformant={e['conformant']})"
        if reply[0] == 3:
            # Accepting a non-conformant frame with a warning is allowed; the answer itself must
            # always be valid.
            check(len(reply) == 3, f"{what}: malformed CALLRESULT {reply!r}")
            harness.check_conf(action, reply[2])
            outcomes[e["id"]] = "result"
        else:
            check(reply[0] == 4 and len(reply) == 5, f"{what}: answered {reply!r}")
            if e["conformant"] is True:
                check(action in SECURITY_EXTENSION and reply[2] == "NotImplemented",
                      f"{what}: a conformant frame got CALLERROR {reply[2]} ({reply[3]!r})")
            else:
                check(reply[2] in harness.V16_VALIDATION_CODES,
                      f"{what}: CALLERROR {reply[2]} is not a 1.6 validation code")
            outcomes[e["id"]] = reply[2]
        # The connection stays usable and other chargers are not stalled.
        await cp.heartbeat()
        await bystander.heartbeat()
    h.note(f"outcomes: {outcomes}")

    # Odd but legal values were stored, raw and normalised (the issue: Wh/W, raw kept).
    def verify(db):
        kw = db.one("SELECT value, norm_unit FROM meter_values WHERE charger_id = 'REAL-01' "
                    "AND measurand = 'Power.Active.Import' AND raw_value = '3.4' AND unit = 'kW'")
        check(kw == {"value": 3400, "norm_unit": "W"}, f"q012 3.4 kW stored as {kw}")
        padded = db.one("SELECT value FROM meter_values WHERE charger_id = 'REAL-01' "
                        "AND measurand = 'Voltage' AND raw_value = ' 1.7'")
        check(padded["value"] == 1.7, f"q035 ' 1.7' stored as {padded}")
        boots = db.one("SELECT vendor, model FROM chargers WHERE id = 'REAL-01'")
        check(boots == {"vendor": "Etrel", "model": "G-HB1V5CY20-A14"},
              f"the last BootNotification (q043) is not the stored one: {boots}")
        # q022: the 2.0.1 status is stored per EVSE and connector, raw and unified.
        st = db.one("SELECT status, raw_status FROM connectors WHERE charger_id = 'REAL-201' "
                    "AND evse_id = 2 AND connector_id = 1")
        check(st == {"status": "Available", "raw_status": "Available"},
              f"q022 stored as {st}")
    harness.db_query(srv.db, verify)

    await cp.close()
    await cp201.close()
    await bystander.close()
    await srv.stop()


harness.main(test)
