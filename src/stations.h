/*
 * stations.h — charging stations and discovery: the logic behind the admin API's stations.*
 * methods, version-neutral and free of transport.
 *
 * Each stations_<method>() takes the JSON-RPC params, already checked against the method's
 * definition in schemas/admin.json (src/admin_rpc.c does, before any method runs), checks what
 * the schema cannot say (a string fits its store field in bytes and holds no NUL, no charger id
 * repeats; a failure names the field), talks to the store (db/store_station.h) and builds the
 * JSON-RPC result. The admin API's method handlers call these and map the return code with
 * stations_rpc_code(). This module is
 * not the admin transport, holds no state and never sees SQL.
 *
 * Station object (stations.get, stations.upsert, each stations.search hit):
 *   {id, name, address, lat, lon, openingHours?, amenities?, chargerIds: [..],
 *    connectorTypes: [{type, maxPowerKw}], connectors: {total, available, charging, faulted,
 *    unavailable}, distanceKm (search only)}
 * Plug metadata goes in as upsert's "connectors" array and comes out as "connectorTypes",
 * because "connectors" in the output is the live count object the issue defines. OCPP 1.6
 * never reports plug types or powers, so the operator states them per station.
 *
 * Connector counts come from the stored connector rows of the station's chargers (connector 0
 * / EVSE 0 is the charger, not a connector): total counts every connector; available =
 * Available; charging = Charging, SuspendedEV, SuspendedEVSE; faulted = Faulted; unavailable
 * = Unavailable. A charger whose connector 0 reports Faulted or Unavailable counts all its
 * connectors that way. Preparing, Finishing, Reserved, Occupied and connectors without a status
 * yet count in total only. Counts reflect the last status each charger sent.
 */
#ifndef OD_STATIONS_H
#define OD_STATIONS_H

#include "store_station.h"

#include <jansson.h>

#include <stddef.h>
#include <stdint.h>

struct store;

#define STATIONS_EARTH_RADIUS_KM 6371.0088 /* IUGG mean radius */
/* stations.search: the largest radiusKm schemas/admin.json admits, and the default limit. */
#define STATIONS_RADIUS_MAX_KM 20100.0     /* beyond pi * R (20015 km) covers the whole globe */
#define STATIONS_LIMIT_DEFAULT 50

/* ---- JSON-RPC methods ------------------------------------------------------------------------ */

/*
 * Each returns 0 and sets *result (new reference) to the JSON-RPC result, or an OD_E* code
 * with *result NULL and err (one line, errlen bytes, may be 0) saying why:
 *   OD_EINVAL    bad params: err names the field ("'name' is 300 bytes of UTF-8, at most 128 fit")
 *   OD_ENOTFOUND no such station (stations.get)
 *   OD_EDB       the store failed (logged)
 * params is borrowed and must have passed the schema. Loop thread only (the store's).
 */

/* stations.upsert {id, name, address, lat, lon, openingHours?, amenities?, chargerIds,
 * connectors?: [{type, maxPowerKw}]} -> {"station": {...}, "created": bool}. Replaces the
 * whole station. A charger belongs to one station at most: naming one that another station
 * holds is OD_EINVAL (err names the chargerIds entry and the station holding it). */
int stations_upsert(struct store *st, const json_t *params, json_t **result, char *err,
                    size_t errlen);

/* stations.get {id} -> {"station": {...}}. */
int stations_get(struct store *st, const json_t *params, json_t **result, char *err,
                 size_t errlen);

/* stations.delete {id} -> {"deleted": true}; OD_ENOTFOUND. */
int stations_delete(struct store *st, const json_t *params, json_t **result, char *err,
                    size_t errlen);

/*
 * stations.search {lat, lon, radiusKm, connectorType?, minPowerKw?, availableOnly?, limit?}
 * -> {"stations": [...]} nearest first (ties by store order), each with distanceKm (great
 * circle, rounded to metres) <= radiusKm. connectorType and minPowerKw select stations with one
 * plug meeting both; availableOnly keeps stations with at least one available connector;
 * limit 1..500, default 50. radiusKm is in (0, 20100].
 */
int stations_search(struct store *st, const json_t *params, json_t **result, char *err,
                    size_t errlen);

/* The JSON-RPC error code for a non-zero return of the calls above: -32602, -32004, -32603. */
int stations_rpc_code(int rc);

/* ---- geometry (exposed for tests and tools) ------------------------------------------------ */

/* Great-circle distance in km between two points in degrees (haversine, mean earth radius). */
double stations_distance_km(double lat1, double lon1, double lat2, double lon2);

/*
 * The boxes (degrees) holding every point within radius_km of (lat, lon): one box, or two when
 * the circle crosses the antimeridian (one on each side, disjoint). A circle that reaches a
 * pole spans all longitudes. Returns the number of boxes written to out (1 or 2).
 */
int stations_bbox(double lat, double lon, double radius_km, struct store_station_box out[2]);

#endif
