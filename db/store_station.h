/*
 * store_station.h — charging stations in the store (migration 0002_stations.sql): the station
 * record, its chargers and plug metadata, a bounding-box search over the R*Tree, and bulk
 * loads of stations with their connectors' statuses.
 *
 * Kept apart from store.h so the stations feature does not collide with other store work. It
 * only stores and fetches: validation, distances, sorting and what a status counts as live in
 * src/stations.c. Loop thread only, like the rest of the store. These calls prepare their
 * statements per call (store.c's statement table is not theirs to extend), and the bulk calls
 * prepare once per call, not per row.
 */
#ifndef OD_STORE_STATION_H
#define OD_STORE_STATION_H

#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the record --------------------------------------------------------------------------- */

#define STORE_STATION_ID_LEN 64       /* 1..63 bytes: fits chargers.station_id */
#define STORE_STATION_NAME_LEN 129    /* up to 128 bytes */
#define STORE_STATION_ADDRESS_LEN 257 /* up to 256 bytes */
#define STORE_STATION_JSON_LEN 2049   /* openingHours / amenities as JSON text */
#define STORE_STATION_MAX_CHARGERS 64
#define STORE_STATION_MAX_PLUGS 32
#define STORE_STATION_PLUG_TYPE_LEN 33 /* up to 32 bytes */

struct store_station_plug {
    char type[STORE_STATION_PLUG_TYPE_LEN];
    double max_power_kw;
};

/* A plain value (about 8 KiB: keep one at a time on the stack, not arrays of them). */
struct store_station {
    int64_t rid; /* the store's row key (search results refer to it); 0 before the first put */
    char id[STORE_STATION_ID_LEN];
    char name[STORE_STATION_NAME_LEN];
    char address[STORE_STATION_ADDRESS_LEN];
    double lat, lon; /* degrees, WGS84; lat -90..90, lon -180..180 */
    char opening_hours[STORE_STATION_JSON_LEN]; /* JSON text, "" = not given */
    char amenities[STORE_STATION_JSON_LEN];     /* JSON text, "" = not given */
    int ncharger;
    char charger_ids[STORE_STATION_MAX_CHARGERS][STORE_ID_LEN];
    int nplug;
    struct store_station_plug plugs[STORE_STATION_MAX_PLUGS];
    int64_t created_ms;
    int64_t updated_ms;
};

/* Who holds a charger that a put wanted (OD_EEXISTS). */
struct store_station_conflict {
    int index; /* into charger_ids */
    char station_id[STORE_STATION_ID_LEN];
};

/*
 * Inserts or replaces the station s->id with everything in s (chargers and plugs replace the
 * old lists; created_ms is kept from an existing row, s->rid and s->created_ms are ignored).
 * One savepoint: all or nothing, inside a batch or as its own transaction. *created (may be
 * NULL) says whether the station is new. OD_EEXISTS when a charger already belongs to another
 * station (*conflict, may be NULL, names it); OD_EINVAL for an empty id, coordinates out of
 * range or counts above the caps.
 */
int store_station_put(struct store *st, const struct store_station *s, int64_t now_ms,
                      bool *created, struct store_station_conflict *conflict);
/* Deletes a station (its chargers keep their connectors). OD_ENOTFOUND. */
int store_station_delete(struct store *st, const char *id);
/* The station's row key. OD_ENOTFOUND. */
int store_station_find(struct store *st, const char *id, int64_t *rid);
int64_t store_station_count(struct store *st); /* negative OD_E* on error */

/* ---- search --------------------------------------------------------------------------------- */

/* An inclusive box in degrees; min_lon <= max_lon (callers split boxes at the antimeridian). */
struct store_station_box {
    double min_lat, max_lat, min_lon, max_lon;
};

/* Only stations having one plug that matches both (NULL / false = no condition). */
struct store_station_filter {
    const char *plug_type; /* case-insensitive */
    bool has_min_power;
    double min_power_kw;
};

/*
 * Calls fn(rid, lat, lon, ctx) for each station whose point lies in one of the boxes (and
 * matching filter, may be NULL), in no particular order; a station inside two boxes comes
 * twice, so give disjoint boxes. fn returns non-zero to stop (that value is returned). fn must
 * not call the store: the query is still running.
 */
int store_station_search(struct store *st, const struct store_station_box *boxes, int nbox,
                         const struct store_station_filter *filter,
                         int (*fn)(int64_t rid, double lat, double lon, void *ctx), void *ctx);

/* ---- loading ------------------------------------------------------------------------------- */

/* The status of one connector of the station (connector 0 / EVSE 0 rows, the charger itself,
 * are not connectors), with its charger's own connector-0 status ("" if none stored). */
struct store_station_status {
    char charger_id[STORE_ID_LEN];
    int evse_id, connector_id;
    char status[24];
    char charger_status[24];
};

/* What store_station_load hands out per station; everything borrowed for the callback. */
struct store_station_view {
    const struct store_station *station;
    const struct store_station_status *connectors;
    int nconnector;
};

/*
 * Loads the stations with these row keys, in this order, each with its connectors' statuses,
 * and calls fn for each (keys no longer stored are skipped). fn returns non-zero to stop (that
 * value is returned) and must not call the store.
 */
int store_station_load(struct store *st, const int64_t *rids, int n,
                       int (*fn)(const struct store_station_view *v, void *ctx), void *ctx);

#endif
