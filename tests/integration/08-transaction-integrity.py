#!/usr/bin/python3
"""08-transaction-integrity — what operators of other CSMSs complain about: a repeated
StartTransaction gets the same transactionId back; StopTransaction for an unknown id or for -1
(after an offline period) is answered, stored and flagged; meterStop below meterStart is
flagged; a repeated StopTransaction is answered but stored once.
"""
import harness
from harness import TX, check, iso_now

CP = "INTEGRITY-01"
TAG = "TAG-INTEG"


async def test(h):
    srv = await h.server(args=["--accept-unknown-tokens"])
    cp = await harness.Charger.connect(srv, CP)
    await cp.boot()
    for c in (0, 1, 2):
        await cp.status(c, "Available")

    def q(fn):
        return harness.db_query(srv.db, fn)

    # 1. The same StartTransaction twice (a charger retrying after a lost answer).
    start = {"connectorId": 1, "idTag": TAG, "meterStart": 500, "timestamp": iso_now(-5)}
    first = await cp.call_ok("StartTransaction", start)
    again = await cp.call_ok("StartTransaction", start)
    harness.check_conf("StartTransaction", again)
    tx1 = first["transactionId"]
    check(again["transactionId"] == tx1,
          f"repeated StartTransaction got {again['transactionId']}, first {tx1}")
    rows = q(lambda db: db.rows("SELECT id, flags FROM transactions WHERE charger_id = ?", CP))
    check([r["id"] for r in rows] == [tx1], f"transactions after a repeated Start: {rows}")
    check(rows[0]["flags"] & TX["REPEATED_START"], f"repeated Start not flagged: {rows}")

    # 2. A Stop for a transaction the server never started, and for -1.
    for bogus, meter_stop in ((987654, 7777), (-1, 8888)):
        ans = await cp.call_ok("StopTransaction", {"transactionId": bogus, "meterStop": meter_stop,
                                                   "timestamp": iso_now(), "idTag": TAG})
        harness.check_conf("StopTransaction", ans)
        row = q(lambda db: db.one("SELECT * FROM transactions WHERE charger_id = ? "
                                  "AND meter_stop_wh = ?", CP, meter_stop))
        check(row["flags"] & TX["UNKNOWN_STOP"], f"Stop for {bogus} not flagged: {row}")
        check(row["active"] == 0, f"Stop for {bogus} stored as active: {row}")
    check(q(lambda db: db.value("SELECT active FROM transactions WHERE id = ?", tx1)) == 1,
          "an unknown Stop closed an unrelated transaction")

    # 3. meterStop below meterStart, then the same Stop again (with its transactionData).
    await cp.call_ok("StopTransaction", {"transactionId": tx1, "meterStop": 900,
                                         "timestamp": iso_now(), "idTag": TAG})
    start2 = {"connectorId": 2, "idTag": TAG, "meterStart": 5000, "timestamp": iso_now()}
    tx2 = (await cp.call_ok("StartTransaction", start2))["transactionId"]
    check(tx2 != tx1, "a different start got the same transactionId")
    stop2 = {"transactionId": tx2, "meterStop": 4000, "timestamp": iso_now(), "idTag": TAG,
             "reason": "Local", "transactionData": [
                 {"timestamp": iso_now(), "sampledValue": [
                     {"value": "4000", "measurand": "Energy.Active.Import.Register",
                      "unit": "Wh", "context": "Transaction.End"}]}]}
    ans = await cp.call_ok("StopTransaction", stop2)
    harness.check_conf("StopTransaction", ans)
    row = q(lambda db: db.one("SELECT * FROM transactions WHERE id = ?", tx2))
    check(row["active"] == 0 and row["meter_stop_wh"] == 4000, f"Stop not stored: {row}")
    check(row["flags"] & TX["STOP_BELOW_START"], f"meterStop < meterStart not flagged: {row}")
    values_before = q(lambda db: db.value("SELECT COUNT(*) FROM meter_values WHERE tx_id = ?", tx2))
    check(values_before == 1, f"{values_before} transactionData values stored, expected 1")

    ans = await cp.call_ok("StopTransaction", stop2)
    harness.check_conf("StopTransaction", ans)
    again = q(lambda db: db.one("SELECT * FROM transactions WHERE id = ?", tx2))
    check(again["flags"] & TX["REPEATED_STOP"], f"repeated Stop not flagged: {again}")
    same = {k: again[k] for k in ("active", "meter_stop_wh", "stop_ms", "stop_reason")}
    check(same == {k: row[k] for k in same}, f"repeated Stop changed the row: {row} -> {again}")
    values_after = q(lambda db: db.value("SELECT COUNT(*) FROM meter_values WHERE tx_id = ?", tx2))
    check(values_after == 1, f"repeated Stop stored its transactionData again ({values_after})")

    # Everything is still consistent: nothing open, each flagged case is one row.
    open_rows = q(lambda db: db.rows("SELECT id FROM transactions WHERE charger_id = ? "
                                     "AND active = 1", CP))
    check(open_rows == [], f"open transactions left: {open_rows}")
    count = q(lambda db: db.value("SELECT COUNT(*) FROM transactions WHERE charger_id = ?", CP))
    check(count == 4, f"{count} transaction rows, expected 4 (tx1, tx2, two unknown Stops)")
    await cp.heartbeat()
    await cp.close()
    await srv.stop()


harness.main(test)
