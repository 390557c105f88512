/*
 * test_stations.c — unit tests for stations and discovery (src/stations.h over
 * db/store_station.h): geometry (haversine, boxes at the antimeridian and the poles), params
 * refused with a message naming the field (each call goes through the method's definition in
 * schemas/admin.json first, as in the server), upsert/get/delete round trips, and searches
 * (order, radius, limit, plug filters, connector counts, availableOnly).
 *
 * Each test opens a fresh :memory: store; connector statuses are written with the ordinary
 * store_connector_put, as the charger model would.
 */
#include "stations.h"

#include "admin_int.h"
#include "od.h"
#include "store.h"
#include "store_station.h"

#include <jansson.h>

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static int fx_setup(void **state)
{
    struct store *st = NULL;
    char err[256];
    if (store_open(":memory:", STORE_SYNC_NORMAL, &st, err, sizeof err) != 0) return -1;
    *state = st;
    return 0;
}

static int fx_teardown(void **state)
{
    store_close(*state);
    return 0;
}

/* Parses a JSON literal written with single quotes (test readability). */
static json_t *J(const char *text)
{
    char *s = strdup(text);
    for (char *p = s; *p; p++)
        if (*p == '\'') *p = '"';
    json_error_t e;
    json_t *v = json_loads(s, JSON_ALLOW_NUL, &e); /* to reach the stations' own NUL check */
    if (!v) fail_msg("bad test JSON: %s: %s", e.text, s);
    free(s);
    return v;
}

typedef int (*method_fn)(struct store *, const json_t *, json_t **, char *, size_t);

/* Calls fn as the server does: params checked against the admin method's schema, then fn. */
static int call(struct store *st, method_fn fn, const json_t *params, json_t **res, char *err,
                size_t errlen)
{
    static const struct {
        method_fn fn;
        const char *method;
    } methods[] = {{stations_upsert, "stations.upsert"}, {stations_get, "stations.get"},
                   {stations_delete, "stations.delete"}, {stations_search, "stations.search"}};
    const struct admin_method *m = NULL;
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
        if (methods[i].fn == fn) m = admin_method_find(methods[i].method);
    assert_non_null(m);
    int rc = admin_params_check(m, params, err, errlen);
    return rc ? rc : fn(st, params, res, err, errlen);
}

/* Calls a method that must succeed; returns its result (new reference). */
static json_t *ok(struct store *st, method_fn fn, const char *params)
{
    json_t *p = J(params), *res = NULL;
    char err[256] = "";
    int rc = call(st, fn, p, &res, err, sizeof err);
    json_decref(p);
    if (rc != 0) fail_msg("call failed: %s (%s) params=%s", od_strerror(rc), err, params);
    assert_non_null(res);
    return res;
}

/* Calls a method that must fail with rc, and checks the message mentions needle. */
static void bad(struct store *st, method_fn fn, const char *params, int want_rc,
                const char *needle)
{
    json_t *p = J(params), *res = NULL;
    char err[256] = "";
    int rc = call(st, fn, p, &res, err, sizeof err);
    json_decref(p);
    if (rc != want_rc)
        fail_msg("want %s, got %s (%s) params=%s", od_strerror(want_rc), od_strerror(rc), err,
                 params);
    assert_null(res);
    if (!strstr(err, needle)) fail_msg("message '%s' does not mention '%s'", err, needle);
}

static void put_station(struct store *st, const char *id, double lat, double lon,
                        const char *chargers, const char *plugs)
{
    char params[1024];
    snprintf(params, sizeof params,
             "{'id':'%s','name':'Station %s','address':'Street 1','lat':%.9f,'lon':%.9f,"
             "'chargerIds':%s,'connectors':%s}",
             id, id, lat, lon, chargers, plugs);
    json_decref(ok(st, stations_upsert, params));
}

static void set_status(struct store *st, const char *charger, int connector, const char *status)
{
    struct store_connector c;
    memset(&c, 0, sizeof c);
    snprintf(c.charger_id, sizeof c.charger_id, "%s", charger);
    c.evse_id = connector;
    c.connector_id = connector;
    snprintf(c.status, sizeof c.status, "%s", status);
    snprintf(c.raw_status, sizeof c.raw_status, "%s", status);
    assert_int_equal(store_connector_put(st, &c), 0);
}

/* Runs a search and returns the "stations" array (new reference). */
static json_t *search(struct store *st, const char *params)
{
    json_t *res = ok(st, stations_search, params);
    json_t *arr = json_object_get(res, "stations");
    assert_true(json_is_array(arr));
    json_incref(arr);
    json_decref(res);
    return arr;
}

/* The ids of a result array joined with ',' into buf. */
static const char *ids_of(json_t *arr, char *buf, size_t cap)
{
    size_t i, n = 0;
    json_t *e;
    buf[0] = '\0';
    json_array_foreach(arr, i, e)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? "," : "",
                              json_string_value(json_object_get(e, "id")));
    return buf;
}

static int count_of(json_t *station, const char *key)
{
    return (int)json_integer_value(json_object_get(json_object_get(station, "connectors"), key));
}

/* ---- geometry ------------------------------------------------------------------------------ */

static void test_stations__distance(void **state)
{
    (void)state;
    assert_float_equal(stations_distance_km(48.8566, 2.3522, 48.8566, 2.3522), 0, 1e-9);
    /* Paris - London about 343.5 km; a quarter meridian pi/2 * R; antipodes pi * R. */
    assert_float_equal(stations_distance_km(48.8566, 2.3522, 51.5074, -0.1278), 343.5, 0.5);
    assert_float_equal(stations_distance_km(0, 0, 90, 0), M_PI / 2 * STATIONS_EARTH_RADIUS_KM,
                       1e-6);
    assert_float_equal(stations_distance_km(0, 0, 0, 180), M_PI * STATIONS_EARTH_RADIUS_KM,
                       1e-6);
    /* Across the antimeridian the short way: 0.2 degrees of equator. */
    assert_float_equal(stations_distance_km(0, 179.9, 0, -179.9),
                       0.2 * M_PI / 180 * STATIONS_EARTH_RADIUS_KM, 1e-6);
}

static void test_stations__bbox(void **state)
{
    (void)state;
    struct store_station_box b[2];
    /* Ordinary: one box, about 0.09 degrees of latitude per 10 km, wider in longitude. */
    assert_int_equal(stations_bbox(52.0, 13.0, 10, b), 1);
    assert_float_equal(b[0].max_lat - 52.0, 10 / STATIONS_EARTH_RADIUS_KM * 180 / M_PI, 1e-6);
    assert_true(b[0].max_lon - 13.0 > b[0].max_lat - 52.0);
    assert_true(b[0].min_lon < 13.0 && b[0].max_lon > 13.0);

    /* East of the date line: [179.x, 180] and [-180, -179.x]. */
    assert_int_equal(stations_bbox(0, 179.9, 50, b), 2);
    assert_true(b[0].min_lon > 179 && b[0].min_lon < 179.9 && b[0].max_lon == 180);
    assert_true(b[1].min_lon == -180 && b[1].max_lon > -180 && b[1].max_lon < -179);
    /* West of it, mirrored. */
    assert_int_equal(stations_bbox(0, -179.9, 50, b), 2);
    assert_true(b[0].min_lon > 179 && b[0].max_lon == 180);
    assert_true(b[1].min_lon == -180 && b[1].max_lon < -179);

    /* Near either pole the circle reaches the pole: all longitudes. */
    assert_int_equal(stations_bbox(89.9, 10, 50, b), 1);
    assert_true(b[0].min_lon == -180 && b[0].max_lon == 180 && b[0].max_lat == 90);
    assert_int_equal(stations_bbox(-89.95, -170, 20, b), 1);
    assert_true(b[0].min_lon == -180 && b[0].max_lon == 180 && b[0].min_lat == -90);
    assert_int_equal(stations_bbox(90, 0, 1, b), 1);
    assert_true(b[0].min_lon == -180 && b[0].max_lon == 180);
    /* The whole globe. */
    assert_int_equal(stations_bbox(10, 20, STATIONS_RADIUS_MAX_KM, b), 1);
    assert_true(b[0].min_lat == -90 && b[0].max_lat == 90 && b[0].min_lon == -180);
}

/* ---- upsert / get / delete ---------------------------------------------------------------- */

static void test_stations__upsert_get_round_trip(void **state)
{
    struct store *st = *state;
    json_t *res = ok(st, stations_upsert,
                     "{'id':'ST1','name':'Depot','address':'Main St 1','lat':52.5,'lon':13.4,"
                     "'openingHours':'24/7','amenities':['wc','cafe'],"
                     "'chargerIds':['CP1','CP2'],"
                     "'connectors':[{'type':'CCS2','maxPowerKw':150},"
                     "{'type':'Type2','maxPowerKw':22}]}");
    assert_true(json_is_true(json_object_get(res, "created")));
    json_decref(res);

    res = ok(st, stations_get, "{'id':'ST1'}");
    json_t *s = json_object_get(res, "station");
    json_t *want = J("{'id':'ST1','name':'Depot','address':'Main St 1','lat':52.5,'lon':13.4,"
                     "'openingHours':'24/7','amenities':['wc','cafe'],"
                     "'chargerIds':['CP1','CP2'],"
                     "'connectorTypes':[{'type':'CCS2','maxPowerKw':150.0},"
                     "{'type':'Type2','maxPowerKw':22.0}],"
                     "'connectors':{'total':0,'available':0,'charging':0,'faulted':0,"
                     "'unavailable':0}}");
    assert_true(json_equal(s, want));
    json_decref(want);
    json_decref(res);

    /* A second upsert replaces everything, optional fields included. */
    res = ok(st, stations_upsert,
             "{'id':'ST1','name':'Depot 2','address':'','lat':-33.9,'lon':151.2,"
             "'openingHours':{'mo':'8-18'},'chargerIds':['CP3']}");
    assert_true(json_is_false(json_object_get(res, "created")));
    s = json_object_get(res, "station");
    assert_string_equal(json_string_value(json_object_get(s, "name")), "Depot 2");
    assert_null(json_object_get(s, "amenities"));
    json_t *oh = J("{'mo':'8-18'}");
    assert_true(json_equal(json_object_get(s, "openingHours"), oh));
    json_decref(oh);
    assert_int_equal(json_array_size(json_object_get(s, "chargerIds")), 1);
    assert_int_equal(json_array_size(json_object_get(s, "connectorTypes")), 0);
    json_decref(res);
    assert_int_equal(store_station_count(st), 1);

    /* CP1 was released by the replacement, so another station may take it. */
    put_station(st, "ST2", 1, 1, "['CP1']", "[]");

    res = ok(st, stations_delete, "{'id':'ST1'}");
    json_decref(res);
    bad(st, stations_get, "{'id':'ST1'}", OD_ENOTFOUND, "ST1");
    bad(st, stations_delete, "{'id':'ST1'}", OD_ENOTFOUND, "ST1");
    assert_int_equal(store_station_count(st), 1);
    /* CP3 went with ST1. */
    put_station(st, "ST3", 1, 1, "['CP3']", "[]");
}

static void test_stations__upsert_rejects_bad_params(void **state)
{
    struct store *st = *state;
#define BASE "'id':'S','name':'N','address':'A','chargerIds':[]"
    bad(st, stations_upsert, "[]", OD_EINVAL, "params");
    bad(st, stations_upsert, "{" BASE ",'lon':1}", OD_EINVAL, "'lat'");
    bad(st, stations_upsert, "{" BASE ",'lat':90.5,'lon':1}", OD_EINVAL, "'lat'");
    bad(st, stations_upsert, "{" BASE ",'lat':'1','lon':1}", OD_EINVAL, "'lat'");
    bad(st, stations_upsert, "{" BASE ",'lat':1,'lon':-180.01}", OD_EINVAL, "'lon'");
    bad(st, stations_upsert, "{" BASE ",'lat':1,'lon':1,'colour':'red'}", OD_EINVAL,
        "'colour'");
    bad(st, stations_upsert, "{'name':'N','address':'A','lat':1,'lon':1,'chargerIds':[]}",
        OD_EINVAL, "'id'");
    bad(st, stations_upsert, "{'id':'','name':'N','address':'A','lat':1,'lon':1,"
        "'chargerIds':[]}", OD_EINVAL, "'id'");
    bad(st, stations_upsert, "{'id':'S','name':'N','address':'A','lat':1,'lon':1}", OD_EINVAL,
        "'chargerIds'");
    bad(st, stations_upsert, "{'id':'S','name':'N','address':'A','lat':1,'lon':1,"
        "'chargerIds':['A','B','A']}", OD_EINVAL, "'chargerIds[2]'");
    bad(st, stations_upsert, "{'id':'S','name':'N','address':'A','lat':1,'lon':1,"
        "'chargerIds':['A',7]}", OD_EINVAL, "'chargerIds/1'");
    bad(st, stations_upsert, "{" BASE ",'lat':1,'lon':1,'amenities':'wc'}", OD_EINVAL,
        "'amenities'");
    bad(st, stations_upsert, "{" BASE ",'lat':1,'lon':1,'amenities':['wc','']}", OD_EINVAL,
        "'amenities/1'");
    bad(st, stations_upsert, "{" BASE ",'lat':1,'lon':1,'openingHours':7}", OD_EINVAL,
        "'openingHours'");
    bad(st, stations_upsert, "{" BASE ",'lat':1,'lon':1,'connectors':[{'type':'CCS2'}]}",
        OD_EINVAL, "'connectors/0/maxPowerKw'");
    bad(st, stations_upsert,
        "{" BASE ",'lat':1,'lon':1,'connectors':[{'type':'CCS2','maxPowerKw':0}]}", OD_EINVAL,
        "'connectors/0/maxPowerKw'");
    bad(st, stations_upsert,
        "{" BASE ",'lat':1,'lon':1,'connectors':[{'type':'','maxPowerKw':7}]}", OD_EINVAL,
        "'connectors/0/type'");
    bad(st, stations_upsert,
        "{" BASE ",'lat':1,'lon':1,'connectors':[{'type':'T2','maxPowerKw':7,'n':1}]}",
        OD_EINVAL, "'connectors/0/n'");
    /* what the schema cannot say: bytes that do not fit the store, a NUL inside a string */
    bad(st, stations_upsert,
        "{" BASE ",'lat':1,'lon':1,'connectors':[{'type':'\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
        "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
        "\\u00e9','maxPowerKw':7}]}", OD_EINVAL, "'connectors[0].type' is 34 bytes");
    bad(st, stations_upsert, "{'id':'S\\u0000T','name':'N','address':'A','lat':1,'lon':1,"
        "'chargerIds':[]}", OD_EINVAL, "'id' must not contain NUL");
    bad(st, stations_upsert, "{" BASE ",'lat':1,'lon':1,'chargerIds':['A\\u0000B']}", OD_EINVAL,
        "'chargerIds[0]' must not contain NUL");
#undef BASE
    assert_int_equal(store_station_count(st), 0);

    /* A charger belongs to one station: the second claim names the entry and the holder. */
    put_station(st, "HOLDER", 1, 1, "['CPX']", "[]");
    bad(st, stations_upsert, "{'id':'OTHER','name':'N','address':'A','lat':1,'lon':1,"
        "'chargerIds':['CPY','CPX']}", OD_EINVAL, "'chargerIds[1]' ('CPX') already belongs to "
        "station 'HOLDER'");
    bad(st, stations_get, "{'id':'OTHER'}", OD_ENOTFOUND, "OTHER");
    bad(st, stations_get, "{}", OD_EINVAL, "'id'");
    bad(st, stations_get, "{'id':'X','extra':1}", OD_EINVAL, "'extra'");

    assert_int_equal(stations_rpc_code(OD_EINVAL), -32602);
    assert_int_equal(stations_rpc_code(OD_ENOTFOUND), -32004);
    assert_int_equal(stations_rpc_code(OD_EDB), -32603);
}

/* ---- search -------------------------------------------------------------------------------- */

static void test_stations__search_rejects_bad_params(void **state)
{
    struct store *st = *state;
    bad(st, stations_search, "{'lon':1,'radiusKm':1}", OD_EINVAL, "'lat'");
    bad(st, stations_search, "{'lat':1,'lon':1}", OD_EINVAL, "'radiusKm'");
    bad(st, stations_search, "{'lat':1,'lon':1,'radiusKm':0}", OD_EINVAL, "'radiusKm'");
    bad(st, stations_search, "{'lat':1,'lon':1,'radiusKm':-5}", OD_EINVAL, "'radiusKm'");
    bad(st, stations_search, "{'lat':1,'lon':1,'radiusKm':30000}", OD_EINVAL, "'radiusKm'");
    bad(st, stations_search, "{'lat':1,'lon':1,'radiusKm':1,'limit':0}", OD_EINVAL, "'limit'");
    bad(st, stations_search, "{'lat':1,'lon':1,'radiusKm':1,'limit':2.5}", OD_EINVAL,
        "'limit'");
    bad(st, stations_search, "{'lat':1,'lon':1,'radiusKm':1,'limit':501}", OD_EINVAL,
        "'limit'");
    bad(st, stations_search, "{'lat':1,'lon':1,'radiusKm':1,'availableOnly':'yes'}", OD_EINVAL,
        "'availableOnly'");
    bad(st, stations_search, "{'lat':1,'lon':1,'radiusKm':1,'minPowerKw':-1}", OD_EINVAL,
        "'minPowerKw'");
    bad(st, stations_search, "{'lat':1,'lon':1,'radiusKm':1,'connectorType':''}", OD_EINVAL,
        "'connectorType'");
    bad(st, stations_search, "{'lat':1,'lon':1,'radiusKm':1,'radius':1}", OD_EINVAL,
        "'radius'");
}

static void test_stations__search_orders_by_distance_within_radius(void **state)
{
    struct store *st = *state;
    char buf[256];
    /* Along the equator from lon 0: 1 degree is about 111.2 km. */
    put_station(st, "E3", 0, 0.3, "[]", "[]");
    put_station(st, "E1", 0, 0.1, "[]", "[]");
    put_station(st, "W2", 0, -0.2, "[]", "[]");
    put_station(st, "FAR", 0, 2.0, "[]", "[]");
    /* Inside the search box (its corner) but about 14.1 km away: the exact test drops it. */
    put_station(st, "CORNER", 0.0899, 0.0899, "[]", "[]");
    put_station(st, "N1", 0.05, 0, "[]", "[]");

    json_t *r = search(st, "{'lat':0,'lon':0,'radiusKm':40}");
    assert_string_equal(ids_of(r, buf, sizeof buf), "N1,E1,CORNER,W2,E3");
    json_decref(r);
    r = search(st, "{'lat':0,'lon':0,'radiusKm':10.1}");
    assert_string_equal(ids_of(r, buf, sizeof buf), "N1");
    json_t *n1 = json_array_get(r, 0);
    assert_float_equal(json_real_value(json_object_get(n1, "distanceKm")), 5.56, 0.01);
    assert_float_equal(json_real_value(json_object_get(n1, "lat")), 0.05, 1e-12);
    json_decref(r);
    r = search(st, "{'lat':0,'lon':0,'radiusKm':40,'limit':2}");
    assert_string_equal(ids_of(r, buf, sizeof buf), "N1,E1");
    json_decref(r);
    r = search(st, "{'lat':10,'lon':10,'radiusKm':40}");
    assert_int_equal(json_array_size(r), 0);
    json_decref(r);
    /* Whole globe. */
    r = search(st, "{'lat':0,'lon':0,'radiusKm':20100}");
    assert_string_equal(ids_of(r, buf, sizeof buf), "N1,E1,CORNER,W2,E3,FAR");
    json_decref(r);
}

static void test_stations__search_across_antimeridian_and_poles(void **state)
{
    struct store *st = *state;
    char buf[256];
    put_station(st, "FIJI_E", -17.0, 179.95, "[]", "[]");
    put_station(st, "FIJI_W", -17.0, -179.97, "[]", "[]");
    put_station(st, "EDGE", -17.0, 180, "[]", "[]");
    put_station(st, "AWAY", -17.0, 178.0, "[]", "[]");
    json_t *r = search(st, "{'lat':-17.0,'lon':-179.99,'radiusKm':10}");
    assert_string_equal(ids_of(r, buf, sizeof buf), "EDGE,FIJI_W,FIJI_E");
    json_decref(r);
    r = search(st, "{'lat':-17.0,'lon':180,'radiusKm':10}");
    assert_string_equal(ids_of(r, buf, sizeof buf), "EDGE,FIJI_W,FIJI_E");
    json_decref(r);

    /* Around the north pole, on opposite meridians, both within 6 km of the centre. */
    put_station(st, "POLE_0", 89.95, 0, "[]", "[]");
    put_station(st, "POLE_180", 89.95, 180, "[]", "[]");
    put_station(st, "POLE_FAR", 89.0, 90, "[]", "[]");
    r = search(st, "{'lat':89.99,'lon':80,'radiusKm':10}");
    assert_string_equal(ids_of(r, buf, sizeof buf), "POLE_0,POLE_180");
    json_decref(r);
    /* Standing on the pole itself. */
    r = search(st, "{'lat':90,'lon':0,'radiusKm':6}");
    assert_string_equal(ids_of(r, buf, sizeof buf), "POLE_0,POLE_180");
    json_decref(r);
    put_station(st, "SOUTH", -89.99, -45, "[]", "[]");
    r = search(st, "{'lat':-89.99,'lon':135,'radiusKm':3}");
    assert_string_equal(ids_of(r, buf, sizeof buf), "SOUTH");
    json_decref(r);
}

static void test_stations__search_filters_plugs(void **state)
{
    struct store *st = *state;
    char buf[256];
    put_station(st, "FAST", 0, 0.01, "[]",
                "[{'type':'CCS2','maxPowerKw':150},{'type':'Type2','maxPowerKw':22}]");
    put_station(st, "SLOW", 0, 0.02, "[]", "[{'type':'CCS2','maxPowerKw':50}]");
    put_station(st, "AC", 0, 0.03, "[]", "[{'type':'Type2','maxPowerKw':11}]");
    put_station(st, "NONE", 0, 0.04, "[]", "[]");

    json_t *r = search(st, "{'lat':0,'lon':0,'radiusKm':10,'connectorType':'ccs2'}");
    assert_string_equal(ids_of(r, buf, sizeof buf), "FAST,SLOW");
    json_decref(r);
    r = search(st, "{'lat':0,'lon':0,'radiusKm':10,'minPowerKw':50}");
    assert_string_equal(ids_of(r, buf, sizeof buf), "FAST,SLOW");
    json_decref(r);
    r = search(st, "{'lat':0,'lon':0,'radiusKm':10,'minPowerKw':50.5}");
    assert_string_equal(ids_of(r, buf, sizeof buf), "FAST");
    json_decref(r);
    /* Both conditions on one plug: FAST's Type2 is only 22 kW. */
    r = search(st, "{'lat':0,'lon':0,'radiusKm':10,'connectorType':'Type2','minPowerKw':20}");
    assert_string_equal(ids_of(r, buf, sizeof buf), "FAST");
    json_decref(r);
    r = search(st, "{'lat':0,'lon':0,'radiusKm':10,'connectorType':'Type2','minPowerKw':30}");
    assert_int_equal(json_array_size(r), 0);
    json_decref(r);
    r = search(st, "{'lat':0,'lon':0,'radiusKm':10,'connectorType':'CHAdeMO'}");
    assert_int_equal(json_array_size(r), 0);
    json_decref(r);
}

static void test_stations__connector_counts_and_available_only(void **state)
{
    struct store *st = *state;
    char buf[256];
    put_station(st, "BUSY", 0, 0.01, "['B1','B2']", "[]");
    put_station(st, "DOWN", 0, 0.02, "['D1']", "[]");
    put_station(st, "FREE", 0, 0.03, "['F1']", "[]");
    put_station(st, "EMPTY", 0, 0.04, "['NEVER_SEEN']", "[]");
    put_station(st, "FREE2", 0, 0.05, "['F2']", "[]");

    /* Connector 0 is the charger: never counted. */
    set_status(st, "B1", 0, "Available");
    set_status(st, "B1", 1, "Charging");
    set_status(st, "B1", 2, "SuspendedEV");
    set_status(st, "B2", 1, "Faulted");
    set_status(st, "B2", 2, "Preparing");
    set_status(st, "B2", 3, "Unavailable");
    /* The whole charger is unavailable: its Available connector is not available. */
    set_status(st, "D1", 0, "Unavailable");
    set_status(st, "D1", 1, "Available");
    set_status(st, "F1", 0, "Available");
    set_status(st, "F1", 1, "Available");
    set_status(st, "F1", 2, "Charging");
    set_status(st, "F2", 1, "Available");
    /* A charger of no station does not count anywhere. */
    set_status(st, "STRAY", 1, "Available");

    json_t *r = search(st, "{'lat':0,'lon':0,'radiusKm':10}");
    assert_string_equal(ids_of(r, buf, sizeof buf), "BUSY,DOWN,FREE,EMPTY,FREE2");
    json_t *busy = json_array_get(r, 0), *down = json_array_get(r, 1);
    json_t *free1 = json_array_get(r, 2), *empty = json_array_get(r, 3);
    assert_int_equal(count_of(busy, "total"), 5);
    assert_int_equal(count_of(busy, "available"), 0);
    assert_int_equal(count_of(busy, "charging"), 2);
    assert_int_equal(count_of(busy, "faulted"), 1);
    assert_int_equal(count_of(busy, "unavailable"), 1);
    assert_int_equal(count_of(down, "total"), 1);
    assert_int_equal(count_of(down, "available"), 0);
    assert_int_equal(count_of(down, "unavailable"), 1);
    assert_int_equal(count_of(free1, "total"), 2);
    assert_int_equal(count_of(free1, "available"), 1);
    assert_int_equal(count_of(free1, "charging"), 1);
    assert_int_equal(count_of(empty, "total"), 0);
    json_decref(r);

    r = search(st, "{'lat':0,'lon':0,'radiusKm':10,'availableOnly':true}");
    assert_string_equal(ids_of(r, buf, sizeof buf), "FREE,FREE2");
    json_decref(r);
    r = search(st, "{'lat':0,'lon':0,'radiusKm':10,'availableOnly':true,'limit':1}");
    assert_string_equal(ids_of(r, buf, sizeof buf), "FREE");
    json_decref(r);

    /* Counts follow the latest status. */
    set_status(st, "F1", 1, "Charging");
    r = search(st, "{'lat':0,'lon':0,'radiusKm':10,'availableOnly':true}");
    assert_string_equal(ids_of(r, buf, sizeof buf), "FREE2");
    json_decref(r);
    json_t *g = ok(st, stations_get, "{'id':'FREE'}");
    assert_int_equal(count_of(json_object_get(g, "station"), "charging"), 2);
    json_decref(g);
}

/* availableOnly over many unavailable stations: the batches grow until enough are found. */
static void test_stations__available_only_skips_many(void **state)
{
    struct store *st = *state;
    char id[32], cp[32], chargers[64];
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof id, "S%03d", i);
        snprintf(cp, sizeof cp, "C%03d", i);
        snprintf(chargers, sizeof chargers, "['%s']", cp);
        put_station(st, id, 0, 0.0001 * (i + 1), chargers, "[]");
        set_status(st, cp, 1, i % 100 == 99 ? "Available" : "Charging");
    }
    char buf[256];
    json_t *r = search(st, "{'lat':0,'lon':0,'radiusKm':50,'availableOnly':true,'limit':2}");
    assert_string_equal(ids_of(r, buf, sizeof buf), "S099,S199");
    json_decref(r);
    r = search(st, "{'lat':0,'lon':0,'radiusKm':50,'limit':500}");
    assert_int_equal(json_array_size(r), 300);
    json_decref(r);
}

/* Moving or deleting a station moves it in the index too; writes inside a batch are seen. */
static void test_stations__index_follows_moves_and_deletes(void **state)
{
    struct store *st = *state;
    char buf[256];
    assert_int_equal(store_batch_begin(st), 0);
    put_station(st, "MOVER", 10, 10, "[]", "[]");
    put_station(st, "STAYER", 10, 10.01, "[]", "[]");
    json_t *r = search(st, "{'lat':10,'lon':10,'radiusKm':5}");
    assert_string_equal(ids_of(r, buf, sizeof buf), "MOVER,STAYER");
    json_decref(r);
    assert_int_equal(store_batch_commit(st), 0);

    put_station(st, "MOVER", -10, -10, "[]", "[]");
    r = search(st, "{'lat':10,'lon':10,'radiusKm':5}");
    assert_string_equal(ids_of(r, buf, sizeof buf), "STAYER");
    json_decref(r);
    r = search(st, "{'lat':-10,'lon':-10,'radiusKm':5}");
    assert_string_equal(ids_of(r, buf, sizeof buf), "MOVER");
    json_decref(r);

    json_decref(ok(st, stations_delete, "{'id':'MOVER'}"));
    r = search(st, "{'lat':-10,'lon':-10,'radiusKm':5}");
    assert_int_equal(json_array_size(r), 0);
    json_decref(r);
    assert_int_equal(store_station_count(st), 1);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stations__distance),
        cmocka_unit_test(test_stations__bbox),
        T(test_stations__upsert_get_round_trip),
        T(test_stations__upsert_rejects_bad_params),
        T(test_stations__search_rejects_bad_params),
        T(test_stations__search_orders_by_distance_within_radius),
        T(test_stations__search_across_antimeridian_and_poles),
        T(test_stations__search_filters_plugs),
        T(test_stations__connector_counts_and_available_only),
        T(test_stations__available_only_skips_many),
        T(test_stations__index_follows_moves_and_deletes),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
