/*
 * timeutil.h — wall-clock time as int64 milliseconds since the Unix epoch (UTC), and its
 * conversion to and from the ISO 8601 / RFC 3339 strings OCPP uses.
 */
#ifndef OD_TIMEUTIL_H
#define OD_TIMEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Current wall-clock time in ms since the epoch. */
int64_t od_now_ms(void);

/*
 * Parses "YYYY-MM-DDTHH:MM:SS[.fraction][Z|+HH:MM|-HH:MM]" (also 't'/' ' separator, lower-case
 * 'z', and no zone at all, which real chargers send and which is read as UTC). On success stores
 * the instant in *out_ms, sets *had_zone (may be NULL) and returns 0; otherwise OD_EPARSE.
 */
int od_time_parse(const char *s, int64_t *out_ms, bool *had_zone);

/* Formats ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (at least OD_TIME_BUFSZ bytes).
 * Returns buf. */
#define OD_TIME_BUFSZ 32
char *od_time_format(int64_t ms, char *buf, size_t len);

#endif
