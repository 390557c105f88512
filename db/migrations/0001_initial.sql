-- 0001_initial.sql — ocppd's first schema: chargers, connectors, id tokens, transactions,
-- meter values, charger notices and the event log.
--
-- Applied once, in its own transaction, by db/store.c (which then sets PRAGMA user_version = 1).
-- Never edit a migration that has shipped: add NNNN_<what>.sql instead. Later ones are expected
-- to add stations (with an R*Tree keyed by an integer station rowid; chargers.station_id is
-- the text key until then), webhooks, charger configuration keys and the 2.0.1 device model.
--
-- Conventions: times are INTEGER milliseconds since the epoch (0 = unset); strings the API
-- treats as "" are stored NOT NULL DEFAULT ''; optional numbers are NULL when absent. No foreign
-- keys: transactions and meter values outlive their charger on purpose, and a connector row must
-- be writable whatever order the server learns things in.

-- One row per charge point ever seen or registered. Looked up by id on every message, hence a
-- WITHOUT ROWID table clustered on id (one b-tree probe instead of two).
CREATE TABLE chargers (
    id                TEXT    NOT NULL PRIMARY KEY,
    protocol          TEXT    NOT NULL DEFAULT '',
    registration      TEXT    NOT NULL DEFAULT '',
    provisioned       INTEGER NOT NULL DEFAULT 0,
    password_hash     TEXT    NOT NULL DEFAULT '',
    station_id        TEXT    NOT NULL DEFAULT '',
    vendor            TEXT    NOT NULL DEFAULT '',
    model             TEXT    NOT NULL DEFAULT '',
    serial            TEXT    NOT NULL DEFAULT '',
    charge_box_serial TEXT    NOT NULL DEFAULT '',
    firmware          TEXT    NOT NULL DEFAULT '',
    iccid             TEXT    NOT NULL DEFAULT '',
    imsi              TEXT    NOT NULL DEFAULT '',
    meter_type        TEXT    NOT NULL DEFAULT '',
    meter_serial      TEXT    NOT NULL DEFAULT '',
    boot_reason       TEXT    NOT NULL DEFAULT '',
    created_ms        INTEGER NOT NULL,
    last_seen_ms      INTEGER NOT NULL DEFAULT 0,
    last_boot_ms      INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Connector (1.6) / EVSE+connector (2.0.1) state. The primary key order is the listing order.
CREATE TABLE connectors (
    charger_id        TEXT    NOT NULL,
    evse_id           INTEGER NOT NULL,
    connector_id      INTEGER NOT NULL,
    status            TEXT    NOT NULL DEFAULT '',
    raw_status        TEXT    NOT NULL DEFAULT '',
    error_code        TEXT    NOT NULL DEFAULT '',
    info              TEXT    NOT NULL DEFAULT '',
    vendor_id         TEXT    NOT NULL DEFAULT '',
    vendor_error_code TEXT    NOT NULL DEFAULT '',
    status_ms         INTEGER NOT NULL DEFAULT 0,
    availability      TEXT    NOT NULL DEFAULT '',
    tx_id             INTEGER NOT NULL DEFAULT 0,
    last_meter_wh     REAL,
    last_meter_ms     INTEGER NOT NULL DEFAULT 0,
    updated_ms        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (charger_id, evse_id, connector_id)
) WITHOUT ROWID;

-- Local authorization list (1.6 idTag / 2.0.1 idToken).
CREATE TABLE id_tags (
    id_tag            TEXT    NOT NULL PRIMARY KEY,
    status            TEXT    NOT NULL DEFAULT '',
    expiry_ms         INTEGER NOT NULL DEFAULT 0,
    parent_id_tag     TEXT    NOT NULL DEFAULT '',
    type              TEXT    NOT NULL DEFAULT '',
    updated_ms        INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Charging sessions. id is the rowid and the 1.6 transactionId, which is a 32-bit integer on
-- the wire: the CHECK backs up the allocator in store_tx.c. ext_id is NULL for 1.6 so the
-- partial unique index only constrains 2.0.1 ids, and only within one charger.
CREATE TABLE transactions (
    id                INTEGER PRIMARY KEY CHECK (id > 0 AND id <= 2147483647),
    ext_id            TEXT,
    charger_id        TEXT    NOT NULL,
    evse_id           INTEGER NOT NULL DEFAULT 0,
    connector_id      INTEGER NOT NULL DEFAULT 0,
    id_tag            TEXT    NOT NULL DEFAULT '',
    start_ms          INTEGER NOT NULL DEFAULT 0,
    stop_ms           INTEGER NOT NULL DEFAULT 0,
    active            INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    meter_start_wh    REAL,
    meter_stop_wh     REAL,
    reservation_id    INTEGER,
    stop_reason       TEXT    NOT NULL DEFAULT '',
    stop_id_tag       TEXT    NOT NULL DEFAULT '',
    flags             INTEGER NOT NULL DEFAULT 0,
    note              TEXT    NOT NULL DEFAULT '',
    last_energy_wh    REAL,
    last_power_w      REAL,
    last_soc          REAL,
    last_meter_ms     INTEGER NOT NULL DEFAULT 0,
    created_ms        INTEGER NOT NULL DEFAULT 0,
    updated_ms        INTEGER NOT NULL DEFAULT 0
);
-- store_tx_get_ext; "ext_id = ?" implies NOT NULL, so lookups can use the partial index.
CREATE UNIQUE INDEX transactions_ext ON transactions (charger_id, ext_id)
    WHERE ext_id IS NOT NULL;
-- store_tx_query by charger, newest first with an id cursor: every index ends with the rowid,
-- so this is (charger_id, id) and serves "charger_id = ? AND id < ? ORDER BY id DESC".
CREATE INDEX transactions_charger ON transactions (charger_id);
-- store_tx_find_start (a repeated StartTransaction).
CREATE INDEX transactions_start ON transactions (charger_id, connector_id, start_ms);
-- store_tx_foreach_active: only the few open sessions are in this index, in the order the
-- per-connector listing pages through them (start_ms, then the implicit rowid).
CREATE INDEX transactions_active ON transactions (charger_id, evse_id, connector_id, start_ms)
    WHERE active = 1;
-- store_tx_query for open sessions across all chargers (an operator's live view), newest first:
-- (active, rowid) over the open rows only, so paging never walks the closed history.
CREATE INDEX transactions_open ON transactions (active) WHERE active = 1;

-- Sampled values, the busiest table. tx_id is NULL when not linked to a transaction (charger
-- or connector level readings), which also keeps those rows out of the per-transaction index.
CREATE TABLE meter_values (
    id                INTEGER PRIMARY KEY,
    tx_id             INTEGER,
    charger_id        TEXT    NOT NULL,
    evse_id           INTEGER NOT NULL DEFAULT 0,
    connector_id      INTEGER NOT NULL DEFAULT 0,
    ts_ms             INTEGER NOT NULL,
    measurand         TEXT    NOT NULL,
    phase             TEXT,
    unit              TEXT,
    context           TEXT,
    location          TEXT,
    format            TEXT,
    raw_value         TEXT    NOT NULL DEFAULT '',
    value             REAL,
    norm_unit         TEXT
);
CREATE INDEX meter_values_tx ON meter_values (tx_id, ts_ms) WHERE tx_id IS NOT NULL;

-- Charger reports kept as received (firmware/diagnostics status, security events, data
-- transfers), listed per charger newest first (the index ends with the rowid, as above).
CREATE TABLE notices (
    id                INTEGER PRIMARY KEY,
    charger_id        TEXT    NOT NULL,
    kind              TEXT    NOT NULL,
    time_ms           INTEGER NOT NULL,
    payload           TEXT    NOT NULL DEFAULT 'null'
);
CREATE INDEX notices_charger ON notices (charger_id);

-- The durable event log behind admin subscriptions. AUTOINCREMENT so a seq is never handed out
-- twice, even after the newest rows are pruned: subscribers resume "after seq N".
CREATE TABLE events (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms           INTEGER NOT NULL,
    type              TEXT    NOT NULL,
    charger_id        TEXT,
    data              TEXT    NOT NULL DEFAULT 'null'
);
