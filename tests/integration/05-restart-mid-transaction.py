#!/usr/bin/python3
"""05-restart-mid-transaction — ocppd is stopped (SIGTERM, exit 0) during a transaction and
started again on the same database file. The charger reconnects without rebooting and finishes
the transaction: the MeterValues and StopTransaction for the old transactionId are accepted and
stored, and the energy adds up across the restart.
"""
import harness
from harness import check, iso_now

CP = "RESTART-01"
TAG = "TAG-RESTART"


def meter(txid, wh):
    return {"connectorId": 1, "transactionId": txid, "meterValue": [
        {"timestamp": iso_now(), "sampledValue": [
            {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh",
             "context": "Sample.Periodic"}]}]}


async def test(h):
    srv = await h.server(args=["--accept-unknown-tokens"])
    cp = await harness.Charger.connect(srv, CP)
    await cp.boot()
    await cp.status(0, "Available")
    await cp.status(1, "Preparing")
    ans = await cp.call_ok("StartTransaction", {"connectorId": 1, "idTag": TAG,
                                                "meterStart": 1000, "timestamp": iso_now()})
    txid = ans["transactionId"]
    await cp.status(1, "Charging")
    await cp.call_ok("MeterValues", meter(txid, 1500))

    await srv.stop()  # SIGTERM: exit 0 with the charger still connected
    code, _ = await cp.expect_close()
    check(code != 1006, f"the charger's socket was dropped, not closed (code {code})")

    # Restart on the same file: the open transaction and connector state survived.
    srv2 = await h.server(db=srv.db, args=["--accept-unknown-tokens"], name="ocppd-restarted")

    def state(db):
        tx = db.one("SELECT active, meter_start_wh FROM transactions WHERE id = ?", txid)
        conn = db.one("SELECT raw_status, tx_id FROM connectors WHERE charger_id = ? "
                      "AND connector_id = 1", CP)
        return tx, conn
    tx, conn = harness.db_query(srv2.db, state)
    check(tx == {"active": 1, "meter_start_wh": 1000}, f"transaction after restart: {tx}")
    check(conn == {"raw_status": "Charging", "tx_id": txid}, f"connector after restart: {conn}")

    cp = await harness.Charger.connect(srv2, CP)
    await cp.call_ok("MeterValues", meter(txid, 2000))
    ans = await cp.call_ok("StopTransaction", {"transactionId": txid, "meterStop": 2500,
                                               "timestamp": iso_now(), "idTag": TAG,
                                               "reason": "Local"})
    harness.check_conf("StopTransaction", ans)
    await cp.status(1, "Finishing")
    await cp.status(1, "Available")

    def verify(db):
        tx = db.one("SELECT * FROM transactions WHERE id = ?", txid)
        got = {k: tx[k] for k in ("active", "meter_start_wh", "meter_stop_wh", "stop_reason",
                                  "flags", "last_energy_wh")}
        want = {"active": 0, "meter_start_wh": 1000, "meter_stop_wh": 2500,
                "stop_reason": "Local", "flags": 0, "last_energy_wh": 2500}
        check(got == want, f"transaction {got} != {want}")
        check(tx["meter_stop_wh"] - tx["meter_start_wh"] == 1500, "energy across the restart")
        values = [r["value"] for r in db.rows(
            "SELECT value FROM meter_values WHERE tx_id = ? ORDER BY ts_ms, id", txid)]
        check(values == [1500, 2000], f"meter values {values}")
        conn = db.one("SELECT raw_status, tx_id FROM connectors WHERE charger_id = ? "
                      "AND connector_id = 1", CP)
        check(conn == {"raw_status": "Available", "tx_id": 0}, f"connector {conn}")
        check(db.rows("SELECT id FROM transactions WHERE charger_id = ?", CP) == [{"id": txid}],
              "the restart duplicated the transaction")
    harness.db_query(srv2.db, verify)
    await cp.close()
    await srv2.stop()


harness.main(test)
