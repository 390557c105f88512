#!/usr/bin/python3
"""01-session-full — one ocpp-sim charging session end to end: every CALL gets a schema-valid
CALLRESULT, and the database then holds exactly that session: the transaction with its meter
readings, its meter values linked to it, and the connectors back to Available with nothing open.
"""
import harness
from harness import check

CP = "SIM-SESSION-01"
METER_START = 12000
STEP = 300
N = 4


async def test(h):
    srv = await h.server(args=["--accept-unknown-tokens", "--heartbeat-interval", "45"])
    res = await harness.run_sim(h, srv, CP, "--script", "session", "--connectors", "2",
                                "--connector", "2", "--id-tag", "TAG-SESSION-01",
                                "--meter-values", N, "--meter-interval", 50,
                                "--meter-start", METER_START, "--energy-step", STEP)
    s = res.summary
    check(s["registration"] == "Accepted", f"registration {s['registration']}")
    check(s["heartbeat_interval"] == 45, f"Boot interval {s['heartbeat_interval']}, wanted 45")
    check(s["subprotocol"] == "ocpp1.6", f"subprotocol {s['subprotocol']}")
    meter_stop = METER_START + N * STEP
    check((s["meter_start"], s["meter_stop"]) == (METER_START, meter_stop), f"summary {s}")
    txid = s["transaction_id"]
    check(isinstance(txid, int) and 0 < txid < 2**31, f"transactionId {txid}")

    # Boot, 3 statuses, Authorize, Preparing, Start, Charging, N meter values, Stop, Finishing,
    # Available: each answered by a CALLRESULT that is valid against the official .conf schema.
    calls = res.sent()
    check(len(calls) == 11 + N, f"sim sent {len(calls)} CALLs, expected {11 + N}")
    for call in calls:
        answer = res.answer_to(call[1])
        check(answer is not None and answer[0] == 3, f"{call[2]} answered {answer!r}")
        harness.check_conf(call[2], answer[2])
    by_action = {c[2]: res.answer_to(c[1])[2] for c in calls}
    check(by_action["Authorize"]["idTagInfo"]["status"] == "Accepted", "Authorize not Accepted")
    check(by_action["StartTransaction"]["idTagInfo"]["status"] == "Accepted",
          "StartTransaction idTagInfo not Accepted")

    def verify(db):
        tx = db.one("SELECT * FROM transactions WHERE id = ?", txid)
        expect = {"charger_id": CP, "connector_id": 2, "evse_id": 2, "id_tag": "TAG-SESSION-01",
                  "active": 0, "meter_start_wh": METER_START, "meter_stop_wh": meter_stop,
                  "stop_reason": "Local", "flags": 0, "last_energy_wh": meter_stop}
        got = {k: tx[k] for k in expect}
        check(got == expect, f"transaction row {got} != {expect}")
        check(0 < tx["start_ms"] <= tx["stop_ms"], f"start/stop times {tx}")
        check(db.rows("SELECT id FROM transactions WHERE charger_id = ?", CP) == [{"id": txid}],
              "the session left more than one transaction")

        mv = db.rows("SELECT * FROM meter_values WHERE tx_id = ? ORDER BY ts_ms, id", txid)
        check(all(r["charger_id"] == CP and r["connector_id"] == 2 for r in mv),
              f"meter values on the wrong charger/connector: {mv}")

        def series(measurand):
            return [(r["raw_value"], r["value"], r["unit"], r["norm_unit"], r["context"])
                    for r in mv if r["measurand"] == measurand]
        check(series("Energy.Active.Import.Register") ==
              [(str(METER_START + k * STEP), METER_START + k * STEP, "Wh", "Wh",
                "Sample.Periodic") for k in range(1, N + 1)],
              f"energy values {series('Energy.Active.Import.Register')}")
        check(series("Power.Active.Import") == [("7400", 7400, "W", "W", "Sample.Periodic")] * N,
              f"power values {series('Power.Active.Import')}")
        check([r[1] for r in series("SoC")] == [20 + 5 * k for k in range(1, N + 1)],
              f"SoC values {series('SoC')}")
        check(len(mv) == 3 * N, f"{len(mv)} meter values stored, expected {3 * N}")

        conns = db.rows("SELECT connector_id, raw_status, tx_id FROM connectors "
                        "WHERE charger_id = ? ORDER BY connector_id", CP)
        check(conns == [{"connector_id": c, "raw_status": "Available", "tx_id": 0}
                        for c in (0, 1, 2)], f"connectors {conns}")
        check(db.rows("SELECT id FROM transactions WHERE charger_id = ? AND active = 1", CP) == [],
              "an open transaction is left")

        cp = db.one("SELECT * FROM chargers WHERE id = ?", CP)
        got = {k: cp[k] for k in ("protocol", "registration", "vendor", "model", "serial")}
        check(got == {"protocol": "ocpp1.6", "registration": "Accepted", "vendor": "ocpp-sim",
                      "model": "SIM-1", "serial": CP}, f"charger row {got}")
        check(cp["firmware"].startswith("ocpp-sim "), f"firmware {cp['firmware']!r}")

    harness.db_query(srv.db, verify)
    await srv.stop()


harness.main(test)
