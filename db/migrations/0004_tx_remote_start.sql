-- 0004_tx_remote_start.sql — the remoteStartId a 2.0.1 TransactionEvent carries when the
-- transaction answers a RequestStartTransaction, so the CSMS request can be matched to the
-- transaction that followed (db/store_devmodel.c, store_tx_find_remote_start).

ALTER TABLE tx_events ADD COLUMN remote_start_id INTEGER; -- NULL when the event carried none

-- Only the few events that carry one are indexed.
CREATE INDEX tx_events_remote ON tx_events (remote_start_id) WHERE remote_start_id IS NOT NULL;
