/*
 * stations.c — stations.* logic (stations.h): params checks, great-circle geometry, the search
 * pipeline and the JSON the admin API returns.
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
#define STATIONS_POWER_MAX_KW 10000.0
#define STATIONS_AMENITY_LEN 64

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

/* ---- params -------------------------------------------------------------------------------- */

/* Rejects keys of obj outside the NULL-terminated list (typos must not pass silently). */
static int check_keys(const json_t *obj, const char *const *allowed, const char *prefix,
                      char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++) ok = strcmp(key, *a) == 0;
        if (!ok) {
            seterr(err, errlen, "unknown field '%s%s'", prefix, key);
            return OD_EINVAL;
        }
    }
    return 0;
}

static int params_object(const json_t *params, char *err, size_t errlen)
{
    if (json_is_object(params)) return 0;
    seterr(err, errlen, "params must be an object");
    return OD_EINVAL;
}

/* A string field of 1..max bytes (min_len 0 allows ""). Absent: *out NULL, OD_EINVAL if
 * required. */
static int get_str(const json_t *obj, const char *name, bool required, size_t min_len,
                   size_t max_len, const char **out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, name);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (!required) return 0;
        seterr(err, errlen, "'%s' is required", name);
        return OD_EINVAL;
    }
    size_t n = json_string_length(v);
    if (!json_is_string(v) || n < min_len || n > max_len) {
        seterr(err, errlen, "'%s' must be a string of %zu to %zu bytes", name, min_len,
               max_len);
        return OD_EINVAL;
    }
    if (strlen(json_string_value(v)) != n) {
        seterr(err, errlen, "'%s' must not contain NUL characters", name);
        return OD_EINVAL;
    }
    *out = json_string_value(v);
    return 0;
}

/* Checks v (NULL when absent) as a number in [lo, hi] (open at lo when lo_open), reported
 * as name. *has = false when absent or null. */
static int check_num(const json_t *v, const char *name, bool required, double lo, bool lo_open,
                     double hi, bool *has, double *out, char *err, size_t errlen)
{
    *has = false;
    if (!v || json_is_null(v)) {
        if (!required) return 0;
        seterr(err, errlen, "'%s' is required", name);
        return OD_EINVAL;
    }
    double d = json_is_number(v) ? json_number_value(v) : NAN;
    if (!json_is_number(v) || !isfinite(d) || d < lo || (lo_open && d == lo) || d > hi) {
        seterr(err, errlen, "'%s' must be a number %s %g to %g", name,
               lo_open ? "above" : "from", lo, hi);
        return OD_EINVAL;
    }
    *has = true;
    *out = d;
    return 0;
}

static int get_num(const json_t *obj, const char *name, bool required, double lo, bool lo_open,
                   double hi, bool *has, double *out, char *err, size_t errlen)
{
    return check_num(json_object_get(obj, name), name, required, lo, lo_open, hi, has, out, err,
                     errlen);
}

/* Copies a bounded, already checked string into a record field. */
static void copy_field(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* openingHours: a string (e.g. OSM "Mo-Fr 08:00-20:00") or an object; kept as JSON text. */
static int parse_json_field(const json_t *params, const char *name, bool want_array, char *dst,
                            size_t cap, char *err, size_t errlen)
{
    json_t *v = json_object_get(params, name);
    dst[0] = '\0';
    if (!v || json_is_null(v)) return 0;
    if (want_array) {
        size_t i;
        json_t *e;
        if (!json_is_array(v)) {
            seterr(err, errlen, "'%s' must be an array of strings", name);
            return OD_EINVAL;
        }
        json_array_foreach(v, i, e) {
            size_t n = json_string_length(e);
            if (!json_is_string(e) || n == 0 || n > STATIONS_AMENITY_LEN) {
                seterr(err, errlen, "'%s[%zu]' must be a string of 1 to %d bytes", name, i,
                       STATIONS_AMENITY_LEN);
                return OD_EINVAL;
            }
        }
    } else if (!json_is_string(v) && !json_is_object(v)) {
        seterr(err, errlen, "'%s' must be a string or an object", name);
        return OD_EINVAL;
    }
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
    json_t *v = json_object_get(params, "chargerIds");
    if (!v) {
        seterr(err, errlen, "'chargerIds' is required");
        return OD_EINVAL;
    }
    if (!json_is_array(v) || json_array_size(v) > STORE_STATION_MAX_CHARGERS) {
        seterr(err, errlen, "'chargerIds' must be an array of at most %d charger ids",
               STORE_STATION_MAX_CHARGERS);
        return OD_EINVAL;
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        size_t n = json_string_length(e);
        if (!json_is_string(e) || n == 0 || n >= STORE_ID_LEN ||
            strlen(json_string_value(e)) != n) {
            seterr(err, errlen, "'chargerIds[%zu]' must be a charger id of 1 to %d bytes", i,
                   STORE_ID_LEN - 1);
            return OD_EINVAL;
        }
        for (int j = 0; j < s->ncharger; j++) {
            if (strcmp(s->charger_ids[j], json_string_value(e)) == 0) {
                seterr(err, errlen, "'chargerIds[%zu]' repeats '%s'", i, s->charger_ids[j]);
                return OD_EINVAL;
            }
        }
        copy_field(s->charger_ids[s->ncharger++], STORE_ID_LEN, json_string_value(e));
    }
    return 0;
}

static int parse_plugs(const json_t *params, struct store_station *s, char *err, size_t errlen)
{
    static const char *const keys[] = {"type", "maxPowerKw", NULL};
    json_t *v = json_object_get(params, "connectors");
    if (!v || json_is_null(v)) return 0;
    if (!json_is_array(v) || json_array_size(v) > STORE_STATION_MAX_PLUGS) {
        seterr(err, errlen, "'connectors' must be an array of at most %d {type, maxPowerKw}",
               STORE_STATION_MAX_PLUGS);
        return OD_EINVAL;
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        char name[48];
        if (!json_is_object(e)) {
            seterr(err, errlen, "'connectors[%zu]' must be an object {type, maxPowerKw}", i);
            return OD_EINVAL;
        }
        snprintf(name, sizeof name, "connectors[%zu].", i);
        int rc = check_keys(e, keys, name, err, errlen);
        if (rc) return rc;
        const char *type;
        bool has;
        double kw;
        snprintf(name, sizeof name, "connectors[%zu].type", i);
        json_t *t = json_object_get(e, "type");
        size_t n = json_string_length(t);
        if (!json_is_string(t) || n == 0 || n >= STORE_STATION_PLUG_TYPE_LEN ||
            strlen(json_string_value(t)) != n) {
            seterr(err, errlen, "'%s' must be a string of 1 to %d bytes", name,
                   STORE_STATION_PLUG_TYPE_LEN - 1);
            return OD_EINVAL;
        }
        type = json_string_value(t);
        snprintf(name, sizeof name, "connectors[%zu].maxPowerKw", i);
        rc = check_num(json_object_get(e, "maxPowerKw"), name, true, 0, true,
                       STATIONS_POWER_MAX_KW, &has, &kw, err, errlen);
        if (rc) return rc;
        struct store_station_plug *p = &s->plugs[s->nplug++];
        copy_field(p->type, sizeof p->type, type);
        p->max_power_kw = kw;
    }
    return 0;
}

static int parse_id(const json_t *params, const char **id, char *err, size_t errlen)
{
    return get_str(params, "id", true, 1, STORE_STATION_ID_LEN - 1, id, err, errlen);
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
    static const char *const keys[] = {"id", "name", "address", "lat", "lon", "openingHours",
                                       "amenities", "chargerIds", "connectors", NULL};
    *result = NULL;
    struct store_station *s = xcalloc(1, sizeof *s);
    const char *id, *name, *address;
    bool has;
    int rc = params_object(params, err, errlen);
    if (!rc) rc = check_keys(params, keys, "", err, errlen);
    if (!rc) rc = parse_id(params, &id, err, errlen);
    if (!rc) rc = get_str(params, "name", true, 1, STORE_STATION_NAME_LEN - 1, &name, err,
                          errlen);
    if (!rc) rc = get_str(params, "address", true, 0, STORE_STATION_ADDRESS_LEN - 1, &address,
                          err, errlen);
    if (!rc) rc = get_num(params, "lat", true, -90, false, 90, &has, &s->lat, err, errlen);
    if (!rc) rc = get_num(params, "lon", true, -180, false, 180, &has, &s->lon, err, errlen);
    if (!rc) rc = parse_json_field(params, "openingHours", false, s->opening_hours,
                                   sizeof s->opening_hours, err, errlen);
    if (!rc) rc = parse_json_field(params, "amenities", true, s->amenities, sizeof s->amenities,
                                   err, errlen);
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
    static const char *const keys[] = {"id", NULL};
    const char *id;
    *result = NULL;
    int rc = params_object(params, err, errlen);
    if (!rc) rc = check_keys(params, keys, "", err, errlen);
    if (!rc) rc = parse_id(params, &id, err, errlen);
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
    static const char *const keys[] = {"id", NULL};
    const char *id;
    *result = NULL;
    int rc = params_object(params, err, errlen);
    if (!rc) rc = check_keys(params, keys, "", err, errlen);
    if (!rc) rc = parse_id(params, &id, err, errlen);
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
    static const char *const keys[] = {"lat", "lon", "radiusKm", "connectorType", "minPowerKw",
                                       "availableOnly", "limit", NULL};
    *result = NULL;
    struct search_ctx sc = {0};
    struct store_station_filter filter = {0};
    bool has;
    const char *type = NULL;
    bool available_only = false;
    int limit = STATIONS_LIMIT_DEFAULT;
    int rc = params_object(params, err, errlen);
    if (!rc) rc = check_keys(params, keys, "", err, errlen);
    if (!rc) rc = get_num(params, "lat", true, -90, false, 90, &has, &sc.lat, err, errlen);
    if (!rc) rc = get_num(params, "lon", true, -180, false, 180, &has, &sc.lon, err, errlen);
    if (!rc) rc = get_num(params, "radiusKm", true, 0, true, STATIONS_RADIUS_MAX_KM, &has,
                          &sc.radius_km, err, errlen);
    if (!rc) rc = get_str(params, "connectorType", false, 1, STORE_STATION_PLUG_TYPE_LEN - 1,
                          &type, err, errlen);
    if (!rc) rc = get_num(params, "minPowerKw", false, 0, false, STATIONS_POWER_MAX_KW,
                          &filter.has_min_power, &filter.min_power_kw, err, errlen);
    if (rc) return rc;
    filter.plug_type = type;
    json_t *v = json_object_get(params, "availableOnly");
    if (v && !json_is_null(v)) {
        if (!json_is_boolean(v)) {
            seterr(err, errlen, "'availableOnly' must be true or false");
            return OD_EINVAL;
        }
        available_only = json_is_true(v);
    }
    v = json_object_get(params, "limit");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > STATIONS_LIMIT_MAX) {
            seterr(err, errlen, "'limit' must be an integer from 1 to %d", STATIONS_LIMIT_MAX);
            return OD_EINVAL;
        }
        limit = (int)json_integer_value(v);
    }

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
