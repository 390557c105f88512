#!/usr/bin/python3
"""04-reboot-mid-transaction — a charger loses its connection during a transaction and comes
back. A disconnect alone closes nothing; a new BootNotification (case A) or a
StatusNotification Available for the connector (case B) makes the server close the open
transaction itself, with a reason and a flag; the charger's own late StopTransaction for it is
still answered and recorded on the same row, and a repeat of it is flagged.
"""
import harness
from harness import TX, check, iso_now

TAG = "TAG-REBOOT"


async def start_session(srv, cp_id, meter_start):
    cp = await harness.Charger.connect(srv, cp_id)
    await cp.boot()
    for c in (0, 1):
        await cp.status(c, "Available")
    await cp.status(1, "Preparing")
    ans = await cp.call_ok("StartTransaction", {"connectorId": 1, "idTag": TAG,
                                                "meterStart": meter_start,
                                                "timestamp": iso_now()})
    harness.check_conf("StartTransaction", ans)
    txid = ans["transactionId"]
    await cp.status(1, "Charging")
    ans = await cp.call_ok("MeterValues", {"connectorId": 1, "transactionId": txid, "meterValue": [
        {"timestamp": iso_now(), "sampledValue": [
            {"value": str(meter_start + 500), "measurand": "Energy.Active.Import.Register",
             "unit": "Wh"}]}]})
    return cp, txid


def tx_row(srv, txid):
    return harness.db_query(srv.db, lambda db: db.one("SELECT * FROM transactions WHERE id = ?",
                                                      txid))


def check_closed_by_server(srv, txid, what):
    tx = tx_row(srv, txid)
    check(tx["active"] == 0, f"{what}: transaction {txid} still active")
    check(tx["flags"] & TX["CLOSED_BY_SERVER"], f"{what}: no CLOSED_BY_SERVER flag: {tx}")
    check(tx["stop_reason"] != "" and tx["note"] != "",
          f"{what}: closed without a recorded reason/note: {tx}")
    check(tx["stop_ms"] >= tx["start_ms"] > 0, f"{what}: stop time {tx}")
    conn = harness.db_query(srv.db, lambda db: db.one(
        "SELECT tx_id FROM connectors WHERE charger_id = ? AND connector_id = 1", tx["charger_id"]))
    check(conn["tx_id"] == 0, f"{what}: connector still points at a transaction: {conn}")
    return tx


async def late_stop(srv, cp, txid, meter_stop, what):
    """The charger's own Stop after the server closed the transaction: answered, its reading
    replaces the server's estimate, the server-close flag stays and the note says what
    happened; the same Stop once more is answered and flagged as repeated. One row throughout."""
    before = tx_row(srv, txid)
    stop = {"transactionId": txid, "meterStop": meter_stop, "timestamp": iso_now(),
            "idTag": TAG, "reason": "PowerLoss"}
    ans = await cp.call_ok("StopTransaction", stop)
    harness.check_conf("StopTransaction", ans)
    after = tx_row(srv, txid)
    check(after["active"] == 0, f"{what}: late Stop reopened the transaction")
    check(after["meter_stop_wh"] == meter_stop,
          f"{what}: the charger's meterStop {meter_stop} was not stored: {after}")
    check(after["flags"] & TX["CLOSED_BY_SERVER"], f"{what}: late Stop dropped the flag: {after}")
    check(after["note"] != before["note"], f"{what}: the late Stop left no note: {after}")

    ans = await cp.call_ok("StopTransaction", stop)
    harness.check_conf("StopTransaction", ans)
    again = tx_row(srv, txid)
    check(again["flags"] & TX["REPEATED_STOP"], f"{what}: repeated Stop not flagged: {again}")
    check(again["meter_stop_wh"] == meter_stop, f"{what}: repeated Stop changed it: {again}")
    rows = harness.db_query(srv.db, lambda db: db.rows(
        "SELECT id FROM transactions WHERE charger_id = ?", after["charger_id"]))
    check(rows == [{"id": txid}], f"{what}: the late Stops created rows {rows}")
    return again


async def test(h):
    srv = await h.server(args=["--accept-unknown-tokens"])

    # A: the charger reboots: connection lost, then a new BootNotification.
    cp, txid = await start_session(srv, "REBOOT-A", 1000)
    await cp.close()
    cp = await harness.Charger.connect(srv, "REBOOT-A")
    await cp.heartbeat()
    check(tx_row(srv, txid)["active"] == 1, "A: a mere disconnect closed the transaction")
    await cp.boot()
    check_closed_by_server(srv, txid, "A after Boot")
    await cp.status(1, "Available")
    check_closed_by_server(srv, txid, "A after Available")
    await late_stop(srv, cp, txid, 1800, "A")
    await cp.close()

    # B: the charger went away without rebooting and reports the connector Available.
    cp, txid = await start_session(srv, "REBOOT-B", 5000)
    await cp.close()
    cp = await harness.Charger.connect(srv, "REBOOT-B")
    await cp.heartbeat()
    check(tx_row(srv, txid)["active"] == 1, "B: a mere disconnect closed the transaction")
    await cp.status(1, "Available")
    check_closed_by_server(srv, txid, "B after Available")
    await late_stop(srv, cp, txid, 5900, "B")
    # The connector is usable again: a new transaction gets a new id.
    ans = await cp.call_ok("StartTransaction", {"connectorId": 1, "idTag": TAG,
                                                "meterStart": 5900, "timestamp": iso_now()})
    check(ans["transactionId"] != txid, "B: the new transaction reused the old id")
    await cp.close()
    await srv.stop()


harness.main(test)
