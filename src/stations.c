/*
 * stations.c — stations.* logic (stations.h): reading the (schema-checked) params into store
 * records, great-circle geometry, the search pipeline and the JSON the admin API returns.
 *
 * Search: the circle's bounding box (split at the antimeridian, widened to all longitudes at a
 * pole) prefilters through the store's R*Tree; the exact haversine distance then drops the
 * box's corners; a heap orders the survivors by distance so only as many as the answer needs
 * are loaded (with their connector statuses), batch by batch while availableOnly discards some.
 */
#include "stations.h"

#include "log.h"
#include "mem.h"
#include "od.h"
#include "store_station.h"
#include "timeutil.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEG2RAD (M_PI / 180.0)
#define RAD2DEG (180.0 / M_PI)

/* Widening of the prefilter box (degrees, about 1 cm), so rounding in the trigonometry never
 * cuts off a point lying exactly on the circle. The exact distance test follows anyway. */
#define STATIONS_BOX_MARGIN_DEG 1e-7

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- geometry ------------------------------------------------------------------------------ */

double stations_distance_km(double lat1, double lon1, double lat2, double lon2)
{
    double p1 = lat1 * DEG2RAD, p2 = lat2 * DEG2RAD;
    double dp = (lat2 - lat1) * DEG2RAD, dl = (lon2 - lon1) * DEG2RAD;
    double a = sin(dp / 2) * sin(dp / 2) + cos(p1) * cos(p2) * sin(dl / 2) * sin(dl / 2);
    if (a > 1) a = 1; /* rounding near antipodes */
    if (a < 0) a = 0;
    return 2 * STATIONS_EARTH_RADIUS_KM * asin(sqrt(a));
}

int stations_bbox(double lat, double lon, double radius_km, struct store_station_box out[2])
{
    double r = radius_km / STATIONS_EARTH_RADIUS_KM; /* angular radius */
    double phi = lat * DEG2RAD;
    double min_lat = phi - r, max_lat = phi + r;
    if (min_lat <= -M_PI_2 || max_lat >= M_PI_2) {
        /* The circle holds a pole: every longitude is within reach near it. */
        out[0] = (struct store_station_box){
            .min_lat = fmax(min_lat * RAD2DEG - STATIONS_BOX_MARGIN_DEG, -90),
            .max_lat = fmin(max_lat * RAD2DEG + STATIONS_BOX_MARGIN_DEG, 90),
            .min_lon = -180,
            .max_lon = 180,
        };
        return 1;
    }
    /* Widest longitude offset of the circle (at the latitude where its edge touches a
     * meridian tangentially). Here r < pi/2 - |phi|, so the argument stays below 1. */
    double dlon = asin(fmin(1.0, sin(r) / cos(phi))) * RAD2DEG + STATIONS_BOX_MARGIN_DEG;
    double lo = lon - dlon, hi = lon + dlon;
    double la0 = min_lat * RAD2DEG - STATIONS_BOX_MARGIN_DEG;
    double la1 = max_lat * RAD2DEG + STATIONS_BOX_MARGIN_DEG;
    if (lo >= -180 && hi <= 180) {
        out[0] = (struct store_station_box){la0, la1, lo, hi};
        return 1;
    }
    if (hi - lo >= 360) { /* cannot happen with dlon <= 90, kept for safety */
        out[0] = (struct store_station_box){la0, la1, -180, 180};
        return 1;
    }
    /* Crosses the antimeridian: [lo, 180] and [-180, hi] with the overflowing side wrapped. */
    if (lo < -180) lo += 360;
    else hi -= 360;
    out[0] = (struct store_station_box){la0, la1, lo, 180};
    out[1] = (struct store_station_box){la0, la1, -180, hi};
    return 2;
}

/* ---- params ------------------------------------------------------------------------------- */

/*
 * The params passed their method's definition in schemas/admin.json (types, required and unknown
 * names, ranges, lengths in characters), so only what the schema cannot say is checked here:
 * that a string fits its store field in bytes and holds no NUL (which would cut it short).
 */

/* The string at v (NULL: absent) as *out, if it fits a field of cap bytes; else OD_EINVAL with
 * err naming it as name. */
static int check_str(const json_t *v, const char *name, size_t cap, const char **out, char *err,
                     size_t errlen)
{
    *out = json_string_value(v);
    if (!*out) return 0;
    size_t n = json_string_length(v);
    if (n >= cap) {
        seterr(err, errlen, "'%s' is %zu bytes of UTF-8, at most %zu fit", name, n, cap - 1);
        return OD_EINVAL;
    }
    if (strlen(*out) != n) {
        seterr(err, errlen, "'%s' must not contain NUL characters", name);
        return OD_EINVAL;
    }
    return 0;
}

static int get_str(const json_t *obj, const char *name, size_t cap, const char **out, char *err,
                   size_t errlen)
{
    return check_str(json_object_get(obj, name), name, cap, out, err, errlen);
}

/* Copies a bounded, already checked string into a record field. */
static void copy_field(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* openingHours (a string or an object) and amenities (strings) are kept as JSON text, which
 * must fit its field. */
static int parse_json_field(const json_t *params, const char *name, char *dst, size_t cap,
                            char *err, size_t errlen)
{
    json_t *v = json_object_get(params, name);
    dst[0] = '\0';
    if (!v) return 0;
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text) {
        seterr(err, errlen, "'%s' cannot be encoded", name);
        return OD_EINVAL;
    }
    size_t n = strlen(text);
    if (n >= cap) {
        seterr(err, errlen, "'%s' is too large (%zu bytes of JSON, at most %zu)", name, n,
               cap - 1);
        free(text);
        return OD_EINVAL;
    }
    memcpy(dst, text, n + 1);
    free(text);
    return 0;
}

static int parse_chargers(const json_t *params, struct store_station *s, char *err,
                          size_t errlen)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(params, "chargerIds"), i, e) {
        char name[48];
        const char *id;
        snprintf(name, sizeof name, "chargerIds[%zu]", i);
        int rc = check_str(e, name, STORE_ID_LEN, &id, err, errlen);
        if (rc) return rc;
        /* the schema caps the array at STORE_STATION_MAX_CHARGERS; the table must hold it */
        if (s->ncharger == STORE_STATION_MAX_CHARGERS) {
            seterr(err, errlen, "'chargerIds' has more than %d entries",
                   STORE_STATION_MAX_CHARGERS);
            return OD_EINVAL;
        }
        for (int j = 0; j < s->ncharger; j++) {
            if (strcmp(s->charger_ids[j], id) == 0) {
                seterr(err, errlen, "'chargerIds[%zu]' repeats '%s'", i, s->charger_ids[j]);
                return OD_EINVAL;
            }
        }
        copy_field(s->charger_ids[s->ncharger++], STORE_ID_LEN, id);
    }
    return 0;
}

static int parse_plugs(const json_t *params, struct store_station *s, char *err, size_t errlen)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(params, "connectors"), i, e) {
        char name[48];
        const char *type;
        snprintf(name, sizeof name, "connectors[%zu].type", i);
        int rc = check_str(json_object_get(e, "type"), name, STORE_STATION_PLUG_TYPE_LEN, &type,
                           err, errlen);
        if (rc) return rc;
        /* the schema caps the array at STORE_STATION_MAX_PLUGS; the table must hold it */
        if (s->nplug == STORE_STATION_MAX_PLUGS) {
            seterr(err, errlen, "'connectors' has more than %d entries", STORE_STATION_MAX_PLUGS);
            return OD_EINVAL;
        }
        struct store_station_plug *p = &s->plugs[s->nplug++];
        copy_field(p->type, sizeof p->type, type);
        p->max_power_kw = json_number_value(json_object_get(e, "maxPowerKw"));
    }
    return 0;
}

static int parse_id(const json_t *params, const char **id, char *err, size_t errlen)
{
    return get_str(params, "id", STORE_STATION_ID_LEN, id, err, errlen);
}

static double get_num(const json_t *params, const char *name)
{
    return json_number_value(json_object_get(params, name));
}

/* ---- station JSON ------------------------------------------------------------------------- */

enum stations_bucket { BUCKET_OTHER, BUCKET_AVAILABLE, BUCKET_CHARGING, BUCKET_FAULTED,
                       BUCKET_UNAVAILABLE };

static const struct {
    const char *status;
    enum stations_bucket bucket;
} stations_buckets[] = {
    {"Available", BUCKET_AVAILABLE},   {"Charging", BUCKET_CHARGING},
    {"SuspendedEV", BUCKET_CHARGING},  {"SuspendedEVSE", BUCKET_CHARGING},
    {"Faulted", BUCKET_FAULTED},       {"Unavailable", BUCKET_UNAVAILABLE},
};

static enum stations_bucket bucket_of(const char *status)
{
    for (size_t i = 0; i < sizeof stations_buckets / sizeof *stations_buckets; i++)
        if (strcmp(status, stations_buckets[i].status) == 0) return stations_buckets[i].bucket;
    return BUCKET_OTHER;
}

struct stations_counts {
    int total, available, charging, faulted, unavailable;
};

static void count_connectors(const struct store_station_view *v, struct stations_counts *c)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < v->nconnector; i++) {
        const struct store_station_status *s = &v->connectors[i];
        /* 1.6: connector 0 down means the whole charger is down, whatever each connector
         * last said. */
        enum stations_bucket whole = bucket_of(s->charger_status);
        enum stations_bucket b =
            whole == BUCKET_FAULTED || whole == BUCKET_UNAVAILABLE ? whole : bucket_of(s->status);
        c->total++;
        switch (b) {
        case BUCKET_AVAILABLE: c->available++; break;
        case BUCKET_CHARGING: c->charging++; break;
        case BUCKET_FAULTED: c->faulted++; break;
        case BUCKET_UNAVAILABLE: c->unavailable++; break;
        case BUCKET_OTHER: break;
        }
    }
}

/* Stored JSON text back to a value (new reference); NULL for "" or unreadable text. */
static json_t *json_from_text(const char *text)
{
    if (!text[0]) return NULL;
    return json_loads(text, JSON_DECODE_ANY, NULL);
}

/* The station object (new reference). */
static json_t *station_json(const struct store_station_view *v, const struct stations_counts *c)
{
    const struct store_station *s = v->station;
    json_t *o = json_pack("{s:s, s:s, s:s, s:f, s:f}", "id", s->id, "name", s->name, "address",
                          s->address, "lat", s->lat, "lon", s->lon);
    if (!o) abort(); /* only fails on allocation (strings come from the store as UTF-8) */
    json_t *oh = json_from_text(s->opening_hours);
    if (oh) json_object_set_new(o, "openingHours", oh);
    json_t *am = json_from_text(s->amenities);
    if (am) json_object_set_new(o, "amenities", am);
    json_t *ids = json_array();
    for (int i = 0; i < s->ncharger; i++)
        json_array_append_new(ids, json_string(s->charger_ids[i]));
    json_object_set_new(o, "chargerIds", ids);
    json_t *plugs = json_array();
    for (int i = 0; i < s->nplug; i++)
        json_array_append_new(plugs, json_pack("{s:s, s:f}", "type", s->plugs[i].type,
                                               "maxPowerKw", s->plugs[i].max_power_kw));
    json_object_set_new(o, "connectorTypes", plugs);
    json_object_set_new(o, "connectors",
                        json_pack("{s:i, s:i, s:i, s:i, s:i}", "total", c->total, "available",
                                  c->available, "charging", c->charging, "faulted", c->faulted,
                                  "unavailable", c->unavailable));
    return o;
}

struct one_ctx {
    json_t *station;
};

static int load_one_cb(const struct store_station_view *v, void *ctx)
{
    struct one_ctx *o = ctx;
    struct stations_counts c;
    count_connectors(v, &c);
    o->station = station_json(v, &c);
    return 0;
}

/* Loads station id as JSON: 0, OD_ENOTFOUND or OD_EDB. */
static int load_station_json(struct store *st, const char *id, json_t **out)
{
    int64_t rid = 0;
    int rc = store_station_find(st, id, &rid);
    if (rc) return rc;
    struct one_ctx o = {NULL};
    rc = store_station_load(st, &rid, 1, load_one_cb, &o);
    if (rc == 0 && !o.station) rc = OD_ENOTFOUND;
    if (rc) {
        json_decref(o.station);
        return rc;
    }
    *out = o.station;
    return 0;
}

static int store_failed(int rc, char *err, size_t errlen)
{
    seterr(err, errlen, "store error: %s", od_strerror(rc));
    return rc == OD_ENOTFOUND || rc == OD_EINVAL ? OD_EDB : rc;
}

/* ---- methods ------------------------------------------------------------------------------- */

int stations_upsert(struct store *st, const json_t *params, json_t **result, char *err,
                    size_t errlen)
{
    *result = NULL;
    struct store_station *s = xcalloc(1, sizeof *s);
    const char *id, *name, *address;
    s->lat = get_num(params, "lat");
    s->lon = get_num(params, "lon");
    int rc = parse_id(params, &id, err, errlen);
    if (!rc) rc = get_str(params, "name", STORE_STATION_NAME_LEN, &name, err, errlen);
    if (!rc) rc = get_str(params, "address", STORE_STATION_ADDRESS_LEN, &address, err, errlen);
    if (!rc) rc = parse_json_field(params, "openingHours", s->opening_hours,
                                   sizeof s->opening_hours, err, errlen);
    if (!rc) rc = parse_json_field(params, "amenities", s->amenities, sizeof s->amenities, err,
                                   errlen);
    if (!rc) rc = parse_chargers(params, s, err, errlen);
    if (!rc) rc = parse_plugs(params, s, err, errlen);
    if (rc) goto out;
    copy_field(s->id, sizeof s->id, id);
    copy_field(s->name, sizeof s->name, name);
    copy_field(s->address, sizeof s->address, address);
    /* -0.0 and 180 / -180 are stored as given: both spellings of the antimeridian match the
     * same searches because distances, not longitudes, decide. */

    bool created = false;
    struct store_station_conflict conflict = {0};
    rc = store_station_put(st, s, od_now_ms(), &created, &conflict);
    if (rc == OD_EEXISTS) {
        seterr(err, errlen, "'chargerIds[%d]' ('%s') already belongs to station '%s'",
               conflict.index, s->charger_ids[conflict.index], conflict.station_id);
        rc = OD_EINVAL;
        goto out;
    }
    if (rc) {
        rc = store_failed(rc, err, errlen);
        goto out;
    }
    json_t *station = NULL;
    rc = load_station_json(st, s->id, &station);
    if (rc) {
        rc = store_failed(rc, err, errlen);
        goto out;
    }
    *result = json_pack("{s:o, s:b}", "station", station, "created", created);
    LOG_INFO("stations: upsert id=%s created=%d chargers=%d plugs=%d", s->id, created,
             s->ncharger, s->nplug);
out:
    free(s);
    return rc;
}

int stations_get(struct store *st, const json_t *params, json_t **result, char *err,
                 size_t errlen)
{
    const char *id;
    *result = NULL;
    int rc = parse_id(params, &id, err, errlen);
    if (rc) return rc;
    json_t *station = NULL;
    rc = load_station_json(st, id, &station);
    if (rc == OD_ENOTFOUND) {
        seterr(err, errlen, "station '%s' not found", id);
        return rc;
    }
    if (rc) return store_failed(rc, err, errlen);
    *result = json_pack("{s:o}", "station", station);
    return 0;
}

int stations_delete(struct store *st, const json_t *params, json_t **result, char *err,
                    size_t errlen)
{
    const char *id;
    *result = NULL;
    int rc = parse_id(params, &id, err, errlen);
    if (rc) return rc;
    rc = store_station_delete(st, id);
    if (rc == OD_ENOTFOUND) {
        seterr(err, errlen, "station '%s' not found", id);
        return rc;
    }
    if (rc) return store_failed(rc, err, errlen);
    LOG_INFO("stations: delete id=%s", id);
    *result = json_pack("{s:b}", "deleted", 1);
    return 0;
}

/* ---- search -------------------------------------------------------------------------------- */

struct cand {
    int64_t rid;
    double dist_km;
};

/* Owns cands; filled by the store's search callback. */
struct search_ctx {
    double lat, lon, radius_km;
    struct cand *cands;
    size_t n, cap;
};

static int search_cb(int64_t rid, double lat, double lon, void *ctx)
{
    struct search_ctx *sc = ctx;
    double d = stations_distance_km(sc->lat, sc->lon, lat, lon);
    if (d > sc->radius_km) return 0; /* in the box, outside the circle */
    if (sc->n == sc->cap) {
        sc->cap = sc->cap ? sc->cap * 2 : 256;
        sc->cands = xrealloc(sc->cands, sc->cap * sizeof *sc->cands);
    }
    sc->cands[sc->n++] = (struct cand){rid, d};
    return 0;
}

static bool cand_less(const struct cand *a, const struct cand *b)
{
    return a->dist_km < b->dist_km || (a->dist_km == b->dist_km && a->rid < b->rid);
}

/* Min-heap on (distance, rid): heapify is O(n), and each result costs one O(log n) pop, so a
 * wide search that answers 50 stations never sorts all of its candidates. */
static void heap_down(struct cand *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && cand_less(&h[l], &h[m])) m = l;
        if (r < n && cand_less(&h[r], &h[m])) m = r;
        if (m == i) return;
        struct cand t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static struct cand heap_pop(struct cand *h, size_t *n)
{
    struct cand top = h[0];
    h[0] = h[--*n];
    heap_down(h, *n, 0);
    return top;
}

/* Collects the hits of one load batch. */
struct emit_ctx {
    json_t *stations; /* borrowed: the result array */
    const struct cand *batch;
    int nbatch;
    int next;         /* position in batch of the next expected station */
    bool available_only;
    int limit;
};

static int emit_cb(const struct store_station_view *v, void *ctx)
{
    struct emit_ctx *e = ctx;
    /* Stations come back in batch order, minus any deleted meanwhile. */
    while (e->next < e->nbatch && e->batch[e->next].rid != v->station->rid) e->next++;
    if (e->next >= e->nbatch) return 0;
    double d = e->batch[e->next++].dist_km;
    struct stations_counts c;
    count_connectors(v, &c);
    if (e->available_only && c.available == 0) return 0;
    if ((int)json_array_size(e->stations) >= e->limit) return 0;
    json_t *o = station_json(v, &c);
    json_object_set_new(o, "distanceKm", json_real(round(d * 1000) / 1000));
    json_array_append_new(e->stations, o);
    return 0;
}

int stations_search(struct store *st, const json_t *params, json_t **result, char *err,
                    size_t errlen)
{
    *result = NULL;
    struct search_ctx sc = {0};
    struct store_station_filter filter = {0};
    const char *type = NULL;
    sc.lat = get_num(params, "lat");
    sc.lon = get_num(params, "lon");
    sc.radius_km = get_num(params, "radiusKm");
    filter.has_min_power = json_object_get(params, "minPowerKw") != NULL;
    filter.min_power_kw = get_num(params, "minPowerKw");
    bool available_only = json_is_true(json_object_get(params, "availableOnly"));
    /* an integer param may be written 5.0 (JSON Schema), so read it as a number */
    json_t *v = json_object_get(params, "limit");
    int limit = v ? (int)json_number_value(v) : STATIONS_LIMIT_DEFAULT;
    int rc = get_str(params, "connectorType", STORE_STATION_PLUG_TYPE_LEN, &type, err, errlen);
    if (rc) return rc;
    filter.plug_type = type;

    struct store_station_box boxes[2];
    int nbox = stations_bbox(sc.lat, sc.lon, sc.radius_km, boxes);
    rc = store_station_search(st, boxes, nbox, &filter, search_cb, &sc);
    if (rc) {
        free(sc.cands);
        return store_failed(rc, err, errlen);
    }

    json_t *stations = json_array();
    for (size_t i = sc.n / 2; i-- > 0;) heap_down(sc.cands, sc.n, i);
    /* Load the nearest in batches: as many as still missing, doubling while availableOnly
     * throws stations away, so a sparse answer costs few store round trips. */
    int want = limit;
    struct cand *batch = xmalloc(sizeof *batch * (size_t)(limit > 16 ? limit : 16));
    int batch_cap = limit > 16 ? limit : 16;
    int64_t *rids = xmalloc(sizeof *rids * (size_t)batch_cap);
    while (sc.n > 0 && (int)json_array_size(stations) < limit) {
        int missing = limit - (int)json_array_size(stations);
        int nb = want < missing ? missing : want;
        if (nb > batch_cap) {
            batch_cap = nb;
            batch = xrealloc(batch, sizeof *batch * (size_t)batch_cap);
            rids = xrealloc(rids, sizeof *rids * (size_t)batch_cap);
        }
        int k = 0;
        while (k < nb && sc.n > 0) {
            batch[k] = heap_pop(sc.cands, &sc.n);
            rids[k] = batch[k].rid;
            k++;
        }
        struct emit_ctx e = {stations, batch, k, 0, available_only, limit};
        rc = store_station_load(st, rids, k, emit_cb, &e);
        if (rc) break;
        want = nb * 2;
    }
    free(rids);
    free(batch);
    free(sc.cands);
    if (rc) {
        json_decref(stations);
        return store_failed(rc, err, errlen);
    }
    *result = json_pack("{s:o}", "stations", stations);
    return 0;
}

int stations_rpc_code(int rc)
{
    switch (rc) {
    case OD_EINVAL: return -32602;
    case OD_ENOTFOUND: return -32004;
    default: return -32603;
    }
}
