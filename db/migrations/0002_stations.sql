-- 0002_stations.sql — charging stations (sites) for discovery: the station record, its
-- location in an R*Tree, the chargers it groups and the plug metadata searches filter on.
--
-- A station is what a driver looks for on a map; it groups chargers (charge points) whose live
-- connector rows (table connectors) give its availability. Plugs (type, maxPowerKw) are kept in
-- the station record because OCPP 1.6 never reports a connector's plug type or power: an
-- operator states them in stations.upsert. Managed by db/store_station.c.

-- rid is the integer key the R*Tree needs; id is the operator's text key.
CREATE TABLE stations (
    rid               INTEGER PRIMARY KEY,
    id                TEXT    NOT NULL UNIQUE,
    name              TEXT    NOT NULL DEFAULT '',
    address           TEXT    NOT NULL DEFAULT '',
    lat               REAL    NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon               REAL    NOT NULL CHECK (lon BETWEEN -180 AND 180),
    opening_hours     TEXT    NOT NULL DEFAULT '',  -- JSON text; '' = not given
    amenities         TEXT    NOT NULL DEFAULT '',  -- JSON text; '' = not given
    created_ms        INTEGER NOT NULL DEFAULT 0,
    updated_ms        INTEGER NOT NULL DEFAULT 0
);

-- One degenerate box (a point) per station, keyed by stations.rid. The R*Tree keeps 32-bit
-- floats rounded outwards, so it only prefilters: searches then compute the exact distance
-- from stations.lat/lon.
CREATE VIRTUAL TABLE stations_geo USING rtree(rid, min_lat, max_lat, min_lon, max_lon);

-- Chargers of a station, in the order given. A charger belongs to at most one station (the
-- primary key), so counting connectors never counts one twice.
CREATE TABLE station_chargers (
    charger_id        TEXT    NOT NULL PRIMARY KEY,
    station_rid       INTEGER NOT NULL REFERENCES stations (rid) ON DELETE CASCADE,
    pos               INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX station_chargers_station ON station_chargers (station_rid, pos);

-- Plug metadata: "this station has a <type> plug of up to <max_power_kw> kW". Types compare
-- case-insensitively (CCS2 = ccs2).
CREATE TABLE station_plugs (
    station_rid       INTEGER NOT NULL REFERENCES stations (rid) ON DELETE CASCADE,
    pos               INTEGER NOT NULL,
    type              TEXT    NOT NULL COLLATE NOCASE,
    max_power_kw      REAL    NOT NULL,
    PRIMARY KEY (station_rid, pos)
) WITHOUT ROWID;
