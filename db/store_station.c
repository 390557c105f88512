/*
 * store_station.c — charging stations (store_station.h): put/delete/find, the R*Tree box
 * search and bulk loads with connector statuses. Tables: db/migrations/0002_stations.sql.
 *
 * store.c prepares its statements once at open from a table this file does not own, so these
 * calls prepare what they need per call (a few microseconds each) and the bulk calls
 * (search, load) prepare once for all their rows. Writes run in a savepoint like the rest of
 * the store, so a put is atomic inside or outside a batch.
 */
#include "store_station.h"
#include "store_int.h"

#include "log.h"
#include "mem.h"
#include "od.h"

#include <sqlite3.h>

#include <stdlib.h>
#include <string.h>

/* ---- statements --------------------------------------------------------------------------- */

enum station_q {
    SQ_FIND,
    SQ_OWNER,
    SQ_UPSERT,
    SQ_GEO_PUT,
    SQ_CHARGERS_DEL,
    SQ_CHARGER_INS,
    SQ_PLUGS_DEL,
    SQ_PLUG_INS,
    SQ_DELETE,
    SQ_GEO_DEL,
    SQ_COUNT,
    SQ_SEARCH,
    SQ_LOAD,
    SQ_LOAD_CHARGERS,
    SQ_LOAD_PLUGS,
    SQ_LOAD_CONNECTORS,
    SQ__N
};

static const struct store_sql station_sql[SQ__N] = {
    [SQ_FIND] = {"station_find", "SELECT rid FROM stations WHERE id = ?1"},
    [SQ_OWNER] = {"station_owner",
        "SELECT sc.station_rid, s.id FROM station_chargers AS sc "
        "JOIN stations AS s ON s.rid = sc.station_rid WHERE sc.charger_id = ?1"},
    /* created_ms (?8) is only written by the insert; an update keeps the stored one. */
    [SQ_UPSERT] = {"station_upsert",
        "INSERT INTO stations (id, name, address, lat, lon, opening_hours, amenities, "
        "created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) "
        "ON CONFLICT (id) DO UPDATE SET name = excluded.name, address = excluded.address, "
        "lat = excluded.lat, lon = excluded.lon, opening_hours = excluded.opening_hours, "
        "amenities = excluded.amenities, updated_ms = excluded.updated_ms "
        "RETURNING rid"},
    [SQ_GEO_PUT] = {"station_geo_put",
        "INSERT OR REPLACE INTO stations_geo (rid, min_lat, max_lat, min_lon, max_lon) "
        "VALUES (?1, ?2, ?2, ?3, ?3)"},
    [SQ_CHARGERS_DEL] = {"station_chargers_del",
        "DELETE FROM station_chargers WHERE station_rid = ?1"},
    [SQ_CHARGER_INS] = {"station_charger_ins",
        "INSERT INTO station_chargers (charger_id, station_rid, pos) VALUES (?1, ?2, ?3)"},
    [SQ_PLUGS_DEL] = {"station_plugs_del", "DELETE FROM station_plugs WHERE station_rid = ?1"},
    [SQ_PLUG_INS] = {"station_plug_ins",
        "INSERT INTO station_plugs (station_rid, pos, type, max_power_kw) "
        "VALUES (?1, ?2, ?3, ?4)"},
    /* Chargers and plugs go by ON DELETE CASCADE (store.c turns foreign keys on). */
    [SQ_DELETE] = {"station_delete", "DELETE FROM stations WHERE rid = ?1"},
    [SQ_GEO_DEL] = {"station_geo_del", "DELETE FROM stations_geo WHERE rid = ?1"},
    [SQ_COUNT] = {"station_count", "SELECT count(*) FROM stations"},
    /* The R*Tree drives (its box constraints), the join reads the exact coordinates. The plug
     * test is skipped outright when there is no condition. ?1..?4 box, ?5 type, ?6 power. */
    [SQ_SEARCH] = {"station_search",
        "SELECT s.rid, s.lat, s.lon FROM stations_geo AS g JOIN stations AS s ON s.rid = g.rid "
        "WHERE g.min_lat <= ?2 AND g.max_lat >= ?1 AND g.min_lon <= ?4 AND g.max_lon >= ?3 "
        "AND ((?5 IS NULL AND ?6 IS NULL) OR EXISTS (SELECT 1 FROM station_plugs AS p "
        "WHERE p.station_rid = s.rid AND (?5 IS NULL OR p.type = ?5) "
        "AND (?6 IS NULL OR p.max_power_kw >= ?6)))"},
    [SQ_LOAD] = {"station_load",
        "SELECT rid, id, name, address, lat, lon, opening_hours, amenities, created_ms, "
        "updated_ms FROM stations WHERE rid = ?1"},
    [SQ_LOAD_CHARGERS] = {"station_load_chargers",
        "SELECT charger_id FROM station_chargers WHERE station_rid = ?1 ORDER BY pos"},
    [SQ_LOAD_PLUGS] = {"station_load_plugs",
        "SELECT type, max_power_kw FROM station_plugs WHERE station_rid = ?1 ORDER BY pos"},
    /* Real connectors only (1.6 connector 0 and 2.0.1 EVSE 0 are the charger), each with the
     * charger's own connector-0 status, which 1.6 uses for "the whole charger is down". */
    [SQ_LOAD_CONNECTORS] = {"station_load_connectors",
        "SELECT c.charger_id, c.evse_id, c.connector_id, c.status, coalesce(z.status, '') "
        "FROM station_chargers AS sc JOIN connectors AS c ON c.charger_id = sc.charger_id "
        "LEFT JOIN connectors AS z ON z.charger_id = sc.charger_id AND z.evse_id = 0 "
        "AND z.connector_id = 0 "
        "WHERE sc.station_rid = ?1 AND c.evse_id > 0 AND c.connector_id > 0 "
        "ORDER BY sc.pos, c.evse_id, c.connector_id"},
};

/* Statements of one call, prepared on first use, finalized by sq_done. */
struct sq_set {
    struct store *st;
    sqlite3_stmt *s[SQ__N];
};

static sqlite3_stmt *sq_get(struct sq_set *set, enum station_q q)
{
    if (set->s[q]) {
        sqlite3_reset(set->s[q]);
        sqlite3_clear_bindings(set->s[q]);
        return set->s[q];
    }
    if (sqlite3_prepare_v2(set->st->db, station_sql[q].sql, -1, &set->s[q], NULL) != SQLITE_OK) {
        LOG_ERROR("store: prepare failed stmt=%s err=\"%s\"", station_sql[q].name,
                  sqlite3_errmsg(set->st->db));
        sqlite3_finalize(set->s[q]);
        set->s[q] = NULL;
    }
    return set->s[q];
}

static void sq_done(struct sq_set *set)
{
    for (int q = 0; q < SQ__N; q++) sqlite3_finalize(set->s[q]);
}

/* store__step for these statements: 1 row, 0 done, OD_EEXISTS on a key clash, else OD_EDB. */
static int sq_step(struct sq_set *set, enum station_q q)
{
    struct store *st = set->st;
    if (store__batch_dropped(st, set->s[q], station_sql[q].name)) return OD_EDB;
    int rc = sqlite3_step(set->s[q]);
    if (rc == SQLITE_ROW) return 1;
    if (rc == SQLITE_DONE) return 0;
    int ext = sqlite3_extended_errcode(st->db);
    if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY) {
        LOG_WARN("store: duplicate key stmt=%s err=\"%s\"", station_sql[q].name,
                 sqlite3_errmsg(st->db));
        return OD_EEXISTS;
    }
    LOG_ERROR("store: step failed stmt=%s rc=%d err=\"%s\"", station_sql[q].name, ext,
              sqlite3_errmsg(st->db));
    /* As store__step: an error that rolled the whole batch back must fail its commit. */
    if (st->in_batch && sqlite3_get_autocommit(st->db)) st->batch_lost = true;
    return OD_EDB;
}

static int sq_bind_check(struct sq_set *set, enum station_q q, int brc)
{
    if (brc == SQLITE_OK) return 0;
    LOG_ERROR("store: bind failed stmt=%s rc=%d err=\"%s\"", station_sql[q].name, brc,
              sqlite3_errmsg(set->st->db));
    return OD_EDB;
}

/* Runs a write that takes one rowid parameter. */
static int sq_exec_rid(struct sq_set *set, enum station_q q, int64_t rid)
{
    sqlite3_stmt *s = sq_get(set, q);
    if (!s) return OD_EDB;
    int rc = sq_bind_check(set, q, sqlite3_bind_int64(s, 1, rid));
    if (rc == 0) rc = sq_step(set, q);
    return rc < 0 ? rc : 0;
}

/* Looks up id's rid: 0 found, OD_ENOTFOUND, OD_EDB. */
static int sq_find(struct sq_set *set, const char *id, int64_t *rid)
{
    sqlite3_stmt *s = sq_get(set, SQ_FIND);
    if (!s) return OD_EDB;
    int rc = sq_bind_check(set, SQ_FIND, store__bind_str(s, 1, id));
    if (rc == 0) rc = sq_step(set, SQ_FIND);
    if (rc == 1) {
        *rid = sqlite3_column_int64(s, 0);
        return 0;
    }
    return rc < 0 ? rc : OD_ENOTFOUND;
}

/* ---- put / delete / find ---------------------------------------------------------------- */

static bool station_valid(const struct store_station *s)
{
    return s->id[0] && s->lat >= -90 && s->lat <= 90 && s->lon >= -180 && s->lon <= 180 &&
           s->ncharger >= 0 && s->ncharger <= STORE_STATION_MAX_CHARGERS && s->nplug >= 0 &&
           s->nplug <= STORE_STATION_MAX_PLUGS;
}

/* Finds a charger of s held by another station, or repeated within s: OD_EEXISTS. */
static int station_check_chargers(struct sq_set *set, const struct store_station *s,
                                  int64_t rid, struct store_station_conflict *conflict)
{
    for (int i = 0; i < s->ncharger; i++) {
        const char *cid = s->charger_ids[i];
        for (int j = 0; j < i; j++) {
            if (strncmp(cid, s->charger_ids[j], STORE_ID_LEN) == 0) {
                if (conflict) {
                    conflict->index = i;
                    store__copy_utf8(conflict->station_id, sizeof conflict->station_id, s->id,
                                     strnlen(s->id, sizeof s->id));
                }
                return OD_EEXISTS;
            }
        }
        sqlite3_stmt *q = sq_get(set, SQ_OWNER);
        if (!q) return OD_EDB;
        int rc = sq_bind_check(set, SQ_OWNER, store__bind_field(q, 1, cid, STORE_ID_LEN));
        if (rc == 0) rc = sq_step(set, SQ_OWNER);
        if (rc < 0) return rc;
        if (rc == 1 && sqlite3_column_int64(q, 0) != rid) {
            if (conflict) {
                conflict->index = i;
                store__col_field(q, 1, conflict->station_id, sizeof conflict->station_id);
            }
            return OD_EEXISTS;
        }
    }
    return 0;
}

static int station_put_rows(struct sq_set *set, const struct store_station *s, int64_t now_ms,
                            bool *created, struct store_station_conflict *conflict)
{
    int64_t rid = 0;
    int rc = sq_find(set, s->id, &rid);
    if (rc != 0 && rc != OD_ENOTFOUND) return rc;
    if (created) *created = rc == OD_ENOTFOUND;
    /* A new station has no rid yet: 0 never matches a stored one. */
    rc = station_check_chargers(set, s, rc == 0 ? rid : 0, conflict);
    if (rc) return rc;

    sqlite3_stmt *u = sq_get(set, SQ_UPSERT);
    if (!u) return OD_EDB;
    int brc = store__bind_field(u, 1, s->id, sizeof s->id);
    brc |= store__bind_field(u, 2, s->name, sizeof s->name);
    brc |= store__bind_field(u, 3, s->address, sizeof s->address);
    brc |= sqlite3_bind_double(u, 4, s->lat);
    brc |= sqlite3_bind_double(u, 5, s->lon);
    brc |= store__bind_field(u, 6, s->opening_hours, sizeof s->opening_hours);
    brc |= store__bind_field(u, 7, s->amenities, sizeof s->amenities);
    brc |= sqlite3_bind_int64(u, 8, now_ms);
    rc = sq_bind_check(set, SQ_UPSERT, brc);
    if (rc == 0) rc = sq_step(set, SQ_UPSERT);
    if (rc < 0) return rc;
    if (rc != 1) return OD_EINTERNAL; /* RETURNING always yields the row */
    rid = sqlite3_column_int64(u, 0);
    /* Finish the statement now: RETURNING rows are computed up front, but the write is only
     * complete once the statement has run to the end. */
    if ((rc = sq_step(set, SQ_UPSERT)) < 0) return rc;

    sqlite3_stmt *g = sq_get(set, SQ_GEO_PUT);
    if (!g) return OD_EDB;
    brc = sqlite3_bind_int64(g, 1, rid);
    brc |= sqlite3_bind_double(g, 2, s->lat);
    brc |= sqlite3_bind_double(g, 3, s->lon);
    rc = sq_bind_check(set, SQ_GEO_PUT, brc);
    if (rc == 0) rc = sq_step(set, SQ_GEO_PUT);
    if (rc < 0) return rc;

    if ((rc = sq_exec_rid(set, SQ_CHARGERS_DEL, rid)) != 0) return rc;
    for (int i = 0; i < s->ncharger; i++) {
        sqlite3_stmt *c = sq_get(set, SQ_CHARGER_INS);
        if (!c) return OD_EDB;
        brc = store__bind_field(c, 1, s->charger_ids[i], STORE_ID_LEN);
        brc |= sqlite3_bind_int64(c, 2, rid);
        brc |= sqlite3_bind_int(c, 3, i);
        rc = sq_bind_check(set, SQ_CHARGER_INS, brc);
        if (rc == 0) rc = sq_step(set, SQ_CHARGER_INS);
        if (rc < 0) return rc;
    }
    if ((rc = sq_exec_rid(set, SQ_PLUGS_DEL, rid)) != 0) return rc;
    for (int i = 0; i < s->nplug; i++) {
        sqlite3_stmt *p = sq_get(set, SQ_PLUG_INS);
        if (!p) return OD_EDB;
        brc = sqlite3_bind_int64(p, 1, rid);
        brc |= sqlite3_bind_int(p, 2, i);
        brc |= store__bind_field(p, 3, s->plugs[i].type, sizeof s->plugs[i].type);
        brc |= sqlite3_bind_double(p, 4, s->plugs[i].max_power_kw);
        rc = sq_bind_check(set, SQ_PLUG_INS, brc);
        if (rc == 0) rc = sq_step(set, SQ_PLUG_INS);
        if (rc < 0) return rc;
    }
    return 0;
}

int store_station_put(struct store *st, const struct store_station *s, int64_t now_ms,
                      bool *created, struct store_station_conflict *conflict)
{
    if (!s || !station_valid(s)) return OD_EINVAL;
    struct sq_set set = {.st = st};
    int rc = store__sp_begin(st);
    if (rc == 0) {
        rc = station_put_rows(&set, s, now_ms, created, conflict);
        /* Statements done before the savepoint ends: a pending one would keep it open. */
        sq_done(&set);
        rc = store__sp_end(st, rc);
    } else {
        sq_done(&set);
    }
    return rc;
}

int store_station_delete(struct store *st, const char *id)
{
    if (!id || !*id) return OD_EINVAL;
    struct sq_set set = {.st = st};
    int64_t rid = 0;
    int rc = store__sp_begin(st);
    if (rc == 0) {
        rc = sq_find(&set, id, &rid);
        if (rc == 0) rc = sq_exec_rid(&set, SQ_DELETE, rid);
        if (rc == 0) rc = sq_exec_rid(&set, SQ_GEO_DEL, rid);
        sq_done(&set);
        rc = store__sp_end(st, rc);
    } else {
        sq_done(&set);
    }
    return rc;
}

int store_station_find(struct store *st, const char *id, int64_t *rid)
{
    if (!id || !*id || !rid) return OD_EINVAL;
    struct sq_set set = {.st = st};
    int rc = sq_find(&set, id, rid);
    sq_done(&set);
    return rc;
}

int64_t store_station_count(struct store *st)
{
    struct sq_set set = {.st = st};
    int64_t n = OD_EDB;
    if (sq_get(&set, SQ_COUNT)) {
        int rc = sq_step(&set, SQ_COUNT);
        n = rc == 1 ? sqlite3_column_int64(set.s[SQ_COUNT], 0) : (rc < 0 ? rc : OD_EDB);
    }
    sq_done(&set);
    return n;
}

/* ---- search -------------------------------------------------------------------------------- */

int store_station_search(struct store *st, const struct store_station_box *boxes, int nbox,
                         const struct store_station_filter *filter,
                         int (*fn)(int64_t rid, double lat, double lon, void *ctx), void *ctx)
{
    if (nbox < 0 || (nbox > 0 && !boxes) || !fn) return OD_EINVAL;
    struct sq_set set = {.st = st};
    int rc = 0;
    for (int b = 0; b < nbox && rc == 0; b++) {
        const struct store_station_box *x = &boxes[b];
        sqlite3_stmt *s = sq_get(&set, SQ_SEARCH);
        if (!s) {
            rc = OD_EDB;
            break;
        }
        int brc = sqlite3_bind_double(s, 1, x->min_lat);
        brc |= sqlite3_bind_double(s, 2, x->max_lat);
        brc |= sqlite3_bind_double(s, 3, x->min_lon);
        brc |= sqlite3_bind_double(s, 4, x->max_lon);
        if (filter && filter->plug_type) brc |= store__bind_str(s, 5, filter->plug_type);
        if (filter && filter->has_min_power)
            brc |= sqlite3_bind_double(s, 6, filter->min_power_kw);
        rc = sq_bind_check(&set, SQ_SEARCH, brc);
        while (rc == 0 && (rc = sq_step(&set, SQ_SEARCH)) == 1)
            rc = fn(sqlite3_column_int64(s, 0), sqlite3_column_double(s, 1),
                    sqlite3_column_double(s, 2), ctx);
    }
    sq_done(&set);
    return rc;
}

/* ---- loading ------------------------------------------------------------------------------- */

/* Reads station rid with its chargers and plugs: 1 found, 0 gone, OD_EDB. */
static int station_load_one(struct sq_set *set, int64_t rid, struct store_station *out)
{
    sqlite3_stmt *s = sq_get(set, SQ_LOAD);
    if (!s) return OD_EDB;
    int rc = sq_bind_check(set, SQ_LOAD, sqlite3_bind_int64(s, 1, rid));
    if (rc == 0) rc = sq_step(set, SQ_LOAD);
    if (rc <= 0) return rc;
    memset(out, 0, sizeof *out);
    int i = 0;
    out->rid = sqlite3_column_int64(s, i++);
    store__col_field(s, i++, out->id, sizeof out->id);
    store__col_field(s, i++, out->name, sizeof out->name);
    store__col_field(s, i++, out->address, sizeof out->address);
    out->lat = sqlite3_column_double(s, i++);
    out->lon = sqlite3_column_double(s, i++);
    store__col_field(s, i++, out->opening_hours, sizeof out->opening_hours);
    store__col_field(s, i++, out->amenities, sizeof out->amenities);
    out->created_ms = sqlite3_column_int64(s, i++);
    out->updated_ms = sqlite3_column_int64(s, i++);

    sqlite3_stmt *c = sq_get(set, SQ_LOAD_CHARGERS);
    if (!c) return OD_EDB;
    rc = sq_bind_check(set, SQ_LOAD_CHARGERS, sqlite3_bind_int64(c, 1, rid));
    while (rc == 0 && (rc = sq_step(set, SQ_LOAD_CHARGERS)) == 1) {
        rc = 0;
        if (out->ncharger < STORE_STATION_MAX_CHARGERS)
            store__col_field(c, 0, out->charger_ids[out->ncharger++], STORE_ID_LEN);
    }
    if (rc < 0) return rc;

    sqlite3_stmt *p = sq_get(set, SQ_LOAD_PLUGS);
    if (!p) return OD_EDB;
    rc = sq_bind_check(set, SQ_LOAD_PLUGS, sqlite3_bind_int64(p, 1, rid));
    while (rc == 0 && (rc = sq_step(set, SQ_LOAD_PLUGS)) == 1) {
        rc = 0;
        if (out->nplug < STORE_STATION_MAX_PLUGS) {
            struct store_station_plug *pl = &out->plugs[out->nplug++];
            store__col_field(p, 0, pl->type, sizeof pl->type);
            pl->max_power_kw = sqlite3_column_double(p, 1);
        }
    }
    return rc < 0 ? rc : 1;
}

/* Reads the connector statuses of station rid into *conn (grown as needed). */
static int station_load_connectors(struct sq_set *set, int64_t rid,
                                   struct store_station_status **conn, int *cap, int *n)
{
    *n = 0;
    sqlite3_stmt *s = sq_get(set, SQ_LOAD_CONNECTORS);
    if (!s) return OD_EDB;
    int rc = sq_bind_check(set, SQ_LOAD_CONNECTORS, sqlite3_bind_int64(s, 1, rid));
    while (rc == 0 && (rc = sq_step(set, SQ_LOAD_CONNECTORS)) == 1) {
        rc = 0;
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            *conn = xrealloc(*conn, (size_t)*cap * sizeof **conn);
        }
        struct store_station_status *c = &(*conn)[(*n)++];
        store__col_field(s, 0, c->charger_id, sizeof c->charger_id);
        c->evse_id = sqlite3_column_int(s, 1);
        c->connector_id = sqlite3_column_int(s, 2);
        store__col_field(s, 3, c->status, sizeof c->status);
        store__col_field(s, 4, c->charger_status, sizeof c->charger_status);
    }
    return rc < 0 ? rc : 0;
}

int store_station_load(struct store *st, const int64_t *rids, int n,
                       int (*fn)(const struct store_station_view *v, void *ctx), void *ctx)
{
    if (n < 0 || (n > 0 && !rids) || !fn) return OD_EINVAL;
    struct sq_set set = {.st = st};
    struct store_station *station = xmalloc(sizeof *station);
    struct store_station_status *conn = NULL;
    int cap = 0, nconn = 0, rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        rc = station_load_one(&set, rids[i], station);
        if (rc <= 0) continue; /* 0: deleted since the search (rc stays 0), or an error */
        rc = station_load_connectors(&set, rids[i], &conn, &cap, &nconn);
        if (rc) break;
        struct store_station_view v = {station, conn, nconn};
        rc = fn(&v, ctx);
    }
    sq_done(&set);
    free(conn);
    free(station);
    return rc;
}
