/*
 * store_sql.c — every statement the store runs, in one table indexed by enum store_q.
 *
 * store_open prepares each entry once; the functions in store_*.c only bind, step and reset.
 * Parameter numbers (?N) follow the STORE_*_COLS order in store_int.h so that one binder per
 * record serves both its INSERT and its UPDATE. Writes of whole records are upserts rather than
 * INSERT OR REPLACE: REPLACE deletes the old row first, which would fire ON DELETE actions once
 * a later migration adds foreign keys or triggers, and rewrites every index entry.
 */
#include "store_int.h"

/* SET list of an upsert: every column but the key and created_ms, from the new row. */
#define CHARGER_UPSERT_SET                                                                   \
    "protocol = excluded.protocol, registration = excluded.registration, "                    \
    "provisioned = excluded.provisioned, password_hash = excluded.password_hash, "            \
    "station_id = excluded.station_id, vendor = excluded.vendor, model = excluded.model, "    \
    "serial = excluded.serial, charge_box_serial = excluded.charge_box_serial, "              \
    "firmware = excluded.firmware, iccid = excluded.iccid, imsi = excluded.imsi, "            \
    "meter_type = excluded.meter_type, meter_serial = excluded.meter_serial, "                \
    "boot_reason = excluded.boot_reason, last_seen_ms = excluded.last_seen_ms, "              \
    "last_boot_ms = excluded.last_boot_ms"

#define CONNECTOR_UPSERT_SET                                                                 \
    "status = excluded.status, raw_status = excluded.raw_status, "                            \
    "error_code = excluded.error_code, info = excluded.info, vendor_id = excluded.vendor_id, " \
    "vendor_error_code = excluded.vendor_error_code, status_ms = excluded.status_ms, "        \
    "availability = excluded.availability, tx_id = excluded.tx_id, "                          \
    "last_meter_wh = excluded.last_meter_wh, last_meter_ms = excluded.last_meter_ms, "        \
    "updated_ms = excluded.updated_ms"

#define TX_SELECT "SELECT " STORE_TX_COLS " FROM transactions "

const struct store_sql store__sql[STORE_Q__COUNT] = {
    [STORE_Q_BEGIN] = {"begin", "BEGIN IMMEDIATE"},
    [STORE_Q_COMMIT] = {"commit", "COMMIT"},
    [STORE_Q_ROLLBACK] = {"rollback", "ROLLBACK"},
    [STORE_Q_SP_BEGIN] = {"savepoint", "SAVEPOINT store_write"},
    [STORE_Q_SP_RELEASE] = {"release", "RELEASE store_write"},
    [STORE_Q_SP_ROLLBACK] = {"rollback_to", "ROLLBACK TO store_write"},
    [STORE_Q_USER_VERSION] = {"user_version", "PRAGMA user_version"},
    /* Touches the schema page, so it proves the file (and the WAL index) can be read. */
    [STORE_Q_PING] = {"ping", "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"},

    /* ---- chargers ---- */
    [STORE_Q_CHARGER_GET] = {"charger_get",
        "SELECT " STORE_CHARGER_COLS " FROM chargers WHERE id = ?1"},
    [STORE_Q_CHARGER_PUT] = {"charger_put",
        "INSERT INTO chargers (" STORE_CHARGER_COLS ") VALUES "
        "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19) "
        "ON CONFLICT (id) DO UPDATE SET " CHARGER_UPSERT_SET},
    /* A NULL or "" protocol leaves the stored one alone. */
    [STORE_Q_CHARGER_TOUCH] = {"charger_touch",
        "INSERT INTO chargers (id, protocol, created_ms, last_seen_ms) "
        "VALUES (?1, coalesce(?2, ''), ?3, ?3) "
        "ON CONFLICT (id) DO UPDATE SET last_seen_ms = excluded.last_seen_ms, "
        "protocol = coalesce(nullif(?2, ''), protocol)"},
    [STORE_Q_CHARGER_DELETE] = {"charger_delete", "DELETE FROM chargers WHERE id = ?1"},
    /* The foreach statements are keyset pages (see store__scan): "after this key, N rows". */
    [STORE_Q_CHARGER_FOREACH] = {"charger_foreach",
        "SELECT " STORE_CHARGER_COLS " FROM chargers WHERE id > ?1 ORDER BY id LIMIT ?2"},

    /* ---- connectors ---- */
    [STORE_Q_CONNECTOR_GET] = {"connector_get",
        "SELECT " STORE_CONNECTOR_COLS " FROM connectors "
        "WHERE charger_id = ?1 AND evse_id = ?2 AND connector_id = ?3"},
    [STORE_Q_CONNECTOR_PUT] = {"connector_put",
        "INSERT INTO connectors (" STORE_CONNECTOR_COLS ") VALUES "
        "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) "
        "ON CONFLICT (charger_id, evse_id, connector_id) DO UPDATE SET " CONNECTOR_UPSERT_SET},
    [STORE_Q_CONNECTOR_DELETE_CHARGER] = {"connector_delete_charger",
        "DELETE FROM connectors WHERE charger_id = ?1"},
    [STORE_Q_CONNECTOR_FOREACH] = {"connector_foreach",
        "SELECT " STORE_CONNECTOR_COLS " FROM connectors WHERE charger_id = ?1 "
        "AND (evse_id, connector_id) > (?2, ?3) ORDER BY evse_id, connector_id LIMIT ?4"},

    /* ---- id tokens ---- */
    [STORE_Q_TOKEN_GET] = {"token_get",
        "SELECT " STORE_TOKEN_COLS " FROM id_tags WHERE id_tag = ?1"},
    [STORE_Q_TOKEN_PUT] = {"token_put",
        "INSERT INTO id_tags (" STORE_TOKEN_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
        "ON CONFLICT (id_tag) DO UPDATE SET status = excluded.status, "
        "expiry_ms = excluded.expiry_ms, parent_id_tag = excluded.parent_id_tag, "
        "type = excluded.type, updated_ms = excluded.updated_ms"},
    [STORE_Q_TOKEN_DELETE] = {"token_delete", "DELETE FROM id_tags WHERE id_tag = ?1"},
    [STORE_Q_TOKEN_FOREACH] = {"token_foreach",
        "SELECT " STORE_TOKEN_COLS " FROM id_tags WHERE id_tag > ?1 ORDER BY id_tag LIMIT ?2"},

    /* ---- transactions ---- */
    /* max(rowid) is one probe at the right edge of the table b-tree. */
    [STORE_Q_TX_NEXT_ID] = {"tx_next_id", "SELECT coalesce(max(id), 0) + 1 FROM transactions"},
    /* Only when the ids ran up to 2^31 - 1: the lowest free id (a full scan, so rare by design). */
    [STORE_Q_TX_FREE_ID] = {"tx_free_id",
        "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM transactions WHERE id = 1) "
        "UNION ALL "
        "SELECT * FROM (SELECT t.id + 1 FROM transactions AS t "
        "WHERE t.id < 2147483647 "
        "AND NOT EXISTS (SELECT 1 FROM transactions AS u WHERE u.id = t.id + 1) "
        "ORDER BY t.id LIMIT 1) "
        "LIMIT 1"},
    [STORE_Q_TX_INSERT] = {"tx_insert",
        "INSERT INTO transactions (" STORE_TX_COLS ") VALUES "
        "(?1, nullif(?2, ''), ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
        "?17, ?18, ?19, ?20, ?21, ?22)"},
    /* Same parameters as tx_insert; created_ms (?21) is kept from the row. */
    [STORE_Q_TX_UPDATE] = {"tx_update",
        "UPDATE transactions SET ext_id = nullif(?2, ''), charger_id = ?3, evse_id = ?4, "
        "connector_id = ?5, id_tag = ?6, start_ms = ?7, stop_ms = ?8, active = ?9, "
        "meter_start_wh = ?10, meter_stop_wh = ?11, reservation_id = ?12, stop_reason = ?13, "
        "stop_id_tag = ?14, flags = ?15, note = ?16, last_energy_wh = ?17, last_power_w = ?18, "
        "last_soc = ?19, last_meter_ms = ?20, updated_ms = ?22 "
        "WHERE id = ?1"},
    [STORE_Q_TX_GET] = {"tx_get", TX_SELECT "WHERE id = ?1"},
    [STORE_Q_TX_GET_EXT] = {"tx_get_ext", TX_SELECT "WHERE charger_id = ?1 AND ext_id = ?2"},
    [STORE_Q_TX_FIND_START] = {"tx_find_start",
        TX_SELECT "WHERE charger_id = ?1 AND connector_id = ?2 AND start_ms = ?5 "
        "AND id_tag = ?3 AND meter_start_wh = ?4 ORDER BY id DESC LIMIT 1"},
    /* "active = 1" literally, so the planner may use the partial index transactions_active. */
    [STORE_Q_TX_ACTIVE_CHARGER] = {"tx_active_charger",
        TX_SELECT "WHERE active = 1 AND charger_id = ?1 AND (start_ms, id) > (?4, ?5) "
        "ORDER BY start_ms, id LIMIT ?6"},
    [STORE_Q_TX_ACTIVE_CONNECTOR] = {"tx_active_connector",
        TX_SELECT "WHERE active = 1 AND charger_id = ?1 AND evse_id = ?2 AND connector_id = ?3 "
        "AND (start_ms, id) > (?4, ?5) ORDER BY start_ms, id LIMIT ?6"},
    /* One shape per plan: the rowid range for all chargers, the (charger_id, rowid) index for
     * one, the open-sessions index for all open ones. ?1 cursor, ?2 active (-1 any), ?3 since, ?4 limit,
     * ?5 charger. Newest first, so the keyset page continues with "id < last id". */
    [STORE_Q_TX_QUERY_ALL] = {"tx_query_all",
        TX_SELECT "WHERE id < ?1 AND (?2 < 0 OR active = ?2) AND (?3 = 0 OR start_ms >= ?3) "
        "ORDER BY id DESC LIMIT ?4"},
    /* Open sessions of all chargers: the literal "active = 1" selects transactions_open. */
    [STORE_Q_TX_QUERY_OPEN] = {"tx_query_open",
        TX_SELECT "WHERE active = 1 AND id < ?1 AND (?3 = 0 OR start_ms >= ?3) "
        "ORDER BY id DESC LIMIT ?4"},
    [STORE_Q_TX_QUERY_CHARGER] = {"tx_query_charger",
        TX_SELECT "WHERE charger_id = ?5 AND id < ?1 AND (?2 < 0 OR active = ?2) "
        "AND (?3 = 0 OR start_ms >= ?3) ORDER BY id DESC LIMIT ?4"},

    /* ---- meter values ---- */
    [STORE_Q_METER_INSERT] = {"meter_insert",
        "INSERT INTO meter_values (" STORE_METER_COLS ") VALUES "
        "(nullif(?1, 0), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, coalesce(?12, ''), ?13, ?14)"},
    [STORE_Q_METER_FOREACH_TX] = {"meter_foreach_tx",
        "SELECT " STORE_METER_COLS " FROM meter_values WHERE tx_id = ?1 ORDER BY ts_ms, id"},
    [STORE_Q_METER_COUNT] = {"meter_count", "SELECT count(*) FROM meter_values"},

    /* ---- notices and events ---- */
    [STORE_Q_NOTICE_INSERT] = {"notice_insert",
        "INSERT INTO notices (charger_id, kind, time_ms, payload) "
        "VALUES (?1, ?2, ?3, coalesce(?4, 'null'))"},
    [STORE_Q_EVENT_APPEND] = {"event_append",
        "INSERT INTO events (time_ms, type, charger_id, data) "
        "VALUES (?1, ?2, nullif(?3, ''), coalesce(?4, 'null'))"},
    [STORE_Q_EVENT_FOREACH] = {"event_foreach",
        "SELECT " STORE_EVENT_COLS " FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2"},
    /* The AUTOINCREMENT high-water mark: right even after the newest rows were pruned. */
    [STORE_Q_EVENT_LAST_SEQ] = {"event_last_seq",
        "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)"},
};
