/*
 * bench-stations.c — fills a store with stations (100,000 by default) through stations.upsert,
 * gives their chargers connector statuses, then times stations.search over random centres and
 * reports p50/p99/max per scenario.
 *
 * Stations are spread uniformly over a Germany-sized box (lat 47.3..55.0, lon 5.9..15.0, about
 * 360,000 km2: roughly the density of Germany's public charge points), each with 1..3 chargers
 * of 2 connectors in random statuses and 1..3 plugs. The timed call is the whole
 * stations_search() (params check, R*Tree prefilter, distance filter, ordering, loading,
 * connector counts, result JSON), i.e. what an admin method handler runs, minus the socket.
 * Single-threaded, deterministic for a given --seed. Not a test: no cmocka, exit 1 on errors.
 *
 * usage: bench-stations [--stations N] [--searches M] [--db PATH] [--seed S]
 */
#include "log.h"
#include "od.h"
#include "stations.h"
#include "store.h"
#include "store_station.h"

#include <jansson.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LAT0 47.3
#define LAT1 55.0
#define LON0 5.9
#define LON1 15.0

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng_next(void) /* xorshift64* */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static double rng_unit(void) { return (double)(rng_next() >> 11) / 9007199254740992.0; }
static int rng_int(int n) { return (int)(rng_next() % (uint64_t)n); }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc, const char *err)
{
    fprintf(stderr, "bench-stations: %s: %s%s%s\n", what, od_strerror(rc), err ? ": " : "",
            err ? err : "");
    exit(1);
}

static const char *const plug_types[] = {"CCS2", "Type2", "CHAdeMO", "Type2"};
static const double plug_powers[] = {11, 22, 50, 150, 300};
static const char *const statuses[] = {"Available", "Available", "Available", "Charging",
                                       "Charging", "SuspendedEV", "Preparing", "Faulted",
                                       "Unavailable", "Finishing"};

static void fill(struct store *st, int n)
{
    char err[256];
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (i % 1000 == 0 && (rc = store_batch_begin(st)) != 0) die("batch begin", rc, NULL);
        char id[32];
        snprintf(id, sizeof id, "ST%06d", i);
        json_t *chargers = json_array();
        int nch = 1 + rng_int(3);
        for (int c = 0; c < nch; c++) {
            char cid[32];
            snprintf(cid, sizeof cid, "CP%06d-%d", i, c);
            json_array_append_new(chargers, json_string(cid));
            for (int k = 1; k <= 2; k++) {
                struct store_connector con;
                memset(&con, 0, sizeof con);
                snprintf(con.charger_id, sizeof con.charger_id, "%s", cid);
                con.evse_id = con.connector_id = k;
                snprintf(con.status, sizeof con.status, "%s",
                         statuses[rng_int((int)(sizeof statuses / sizeof *statuses))]);
                if ((rc = store_connector_put(st, &con)) != 0) die("connector put", rc, NULL);
            }
        }
        json_t *plugs = json_array();
        int np = 1 + rng_int(3);
        for (int p = 0; p < np; p++)
            json_array_append_new(plugs, json_pack("{s:s, s:f}", "type", plug_types[rng_int(4)],
                                                   "maxPowerKw", plug_powers[rng_int(5)]));
        json_t *params = json_pack("{s:s, s:s, s:s, s:f, s:f, s:o, s:o, s:[s,s]}", "id", id,
                                   "name", id, "address", "Benchstrasse 1", "lat",
                                   LAT0 + (LAT1 - LAT0) * rng_unit(), "lon",
                                   LON0 + (LON1 - LON0) * rng_unit(), "chargerIds", chargers,
                                   "connectors", plugs, "amenities", "wc", "cafe");
        json_t *res = NULL;
        if ((rc = stations_upsert(st, params, &res, err, sizeof err)) != 0)
            die("stations.upsert", rc, err);
        json_decref(res);
        json_decref(params);
        if (i % 1000 == 999 || i == n - 1) {
            if ((rc = store_batch_commit(st)) != 0) die("batch commit", rc, NULL);
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct scenario {
    const char *name;
    double radius_km;
    const char *type;   /* NULL = any */
    double min_kw;      /* 0 = any */
    int available_only;
    int limit;
};

static void run(struct store *st, const struct scenario *sc, int m)
{
    double *t = malloc(sizeof *t * (size_t)m);
    long hits = 0;
    char err[256];
    for (int i = 0; i < m; i++) {
        json_t *params = json_pack("{s:f, s:f, s:f, s:i, s:b}", "lat",
                                   LAT0 + (LAT1 - LAT0) * rng_unit(), "lon",
                                   LON0 + (LON1 - LON0) * rng_unit(), "radiusKm", sc->radius_km,
                                   "limit", sc->limit, "availableOnly", sc->available_only);
        if (sc->type) json_object_set_new(params, "connectorType", json_string(sc->type));
        if (sc->min_kw > 0) json_object_set_new(params, "minPowerKw", json_real(sc->min_kw));
        json_t *res = NULL;
        double t0 = now_s();
        int rc = stations_search(st, params, &res, err, sizeof err);
        t[i] = (now_s() - t0) * 1e3;
        if (rc) die("stations.search", rc, err);
        hits += (long)json_array_size(json_object_get(res, "stations"));
        json_decref(res);
        json_decref(params);
    }
    qsort(t, (size_t)m, sizeof *t, cmp_double);
    double sum = 0;
    for (int i = 0; i < m; i++) sum += t[i];
    printf("%-44s %8.3f %8.3f %8.3f %8.3f %8.1f\n", sc->name, t[m / 2], t[(m * 99) / 100],
           t[m - 1], sum / m, (double)hits / m);
    free(t);
}

int main(int argc, char **argv)
{
    int n = 100000, m = 1000;
    const char *db = ":memory:";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--stations") && i + 1 < argc) n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--searches") && i + 1 < argc) m = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--db") && i + 1 < argc) db = argv[++i];
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            rng_state = strtoull(argv[++i], NULL, 0) | 1;
        else {
            fprintf(stderr, "usage: %s [--stations N] [--searches M] [--db PATH] [--seed S]\n",
                    argv[0]);
            return 2;
        }
    }
    if (n < 1 || m < 1) {
        fprintf(stderr, "bench-stations: --stations and --searches must be positive\n");
        return 2;
    }
    log_set_level(LOG_LEVEL_WARN);
    struct store *st = NULL;
    char err[256];
    int rc = store_open(db, STORE_SYNC_NORMAL, &st, err, sizeof err);
    if (rc) die("store_open", rc, err);

    int64_t have = store_station_count(st);
    double t0 = now_s();
    if (have == 0) fill(st, n);
    double fill_s = now_s() - t0;
    printf("bench-stations: db=%s stations=%lld (%s in %.2f s) searches=%d per scenario\n", db,
           (long long)store_station_count(st), have ? "reused" : "filled", fill_s, m);
    printf("area lat %.1f..%.1f lon %.1f..%.1f, random centres; times in ms\n", LAT0, LAT1, LON0,
           LON1);
    printf("%-44s %8s %8s %8s %8s %8s\n", "scenario", "p50", "p99", "max", "mean", "hits");
    static const struct scenario scenarios[] = {
        {"radius 5 km, limit 20", 5, NULL, 0, 0, 20},
        {"radius 25 km, limit 20", 25, NULL, 0, 0, 20},
        {"radius 25 km, CCS2 >= 150 kW, limit 20", 25, "CCS2", 150, 0, 20},
        {"radius 25 km, availableOnly, limit 20", 25, NULL, 0, 1, 20},
        {"radius 100 km, limit 50", 100, NULL, 0, 0, 50},
        {"radius 100 km, CCS2 >= 300 kW, availOnly, 50", 100, "CCS2", 300, 1, 50},
    };
    for (size_t i = 0; i < sizeof scenarios / sizeof *scenarios; i++) run(st, &scenarios[i], m);
    store_close(st);
    return 0;
}
