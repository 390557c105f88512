-- 0003_device_model.sql — what OCPP 2.0.1 adds to the store: the device model each charger
-- reports (NotifyReport), the parts of multi-part reports while they are being assembled, and
-- the per-transaction ledger of TransactionEvent messages (seqNo bookkeeping).
--
-- Managed by db/store_devmodel.c. 1.6 chargers never write these tables.

-- One row per (component, variable, attribute type) of a charger. Component and variable
-- instances are '' when absent and evse_id/connector_id are 0 when the component names no EVSE,
-- so the key never holds NULLs (NULLs are distinct in a primary key's uniqueness check).
CREATE TABLE device_model (
    charger_id          TEXT    NOT NULL,
    component           TEXT    NOT NULL,
    component_instance  TEXT    NOT NULL DEFAULT '',
    evse_id             INTEGER NOT NULL DEFAULT 0,
    connector_id        INTEGER NOT NULL DEFAULT 0,
    variable            TEXT    NOT NULL,
    variable_instance   TEXT    NOT NULL DEFAULT '',
    attr_type           TEXT    NOT NULL DEFAULT 'Actual',
    value               TEXT,                          -- NULL: the charger sent no value
    mutability          TEXT    NOT NULL DEFAULT '',
    persistent          INTEGER NOT NULL DEFAULT 0,
    constant            INTEGER NOT NULL DEFAULT 0,
    data_type           TEXT    NOT NULL DEFAULT '',
    unit                TEXT    NOT NULL DEFAULT '',
    min_limit           REAL,
    max_limit           REAL,
    values_list         TEXT    NOT NULL DEFAULT '',
    supports_monitoring INTEGER NOT NULL DEFAULT 0,
    updated_ms          INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (charger_id, component, component_instance, evse_id, connector_id, variable,
                 variable_instance, attr_type)
) WITHOUT ROWID;

-- Parts of a report (NotifyReport with tbc) kept until the last part arrives, then applied to
-- device_model in seqNo order and deleted. payload is the part's reportData as JSON text.
CREATE TABLE device_model_parts (
    charger_id          TEXT    NOT NULL,
    request_id          INTEGER NOT NULL,
    seq_no              INTEGER NOT NULL,
    tbc                 INTEGER NOT NULL DEFAULT 0,
    payload             TEXT    NOT NULL DEFAULT '[]',
    received_ms         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (charger_id, request_id, seq_no)
) WITHOUT ROWID;

-- Every TransactionEvent accepted for a transaction, keyed by its seqNo: a second message with
-- the same seqNo is a duplicate, missing numbers below the highest are a gap. The reasons and
-- the token type are kept per event as the charger sent them.
CREATE TABLE tx_events (
    tx_id               INTEGER NOT NULL,
    seq_no              INTEGER NOT NULL,
    event_type          TEXT    NOT NULL,              -- Started | Updated | Ended
    trigger_reason      TEXT    NOT NULL DEFAULT '',
    charging_state      TEXT    NOT NULL DEFAULT '',
    stopped_reason      TEXT    NOT NULL DEFAULT '',
    id_token_type       TEXT    NOT NULL DEFAULT '',
    offline             INTEGER NOT NULL DEFAULT 0,
    ts_ms               INTEGER NOT NULL DEFAULT 0,
    received_ms         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tx_id, seq_no)
) WITHOUT ROWID;
