/*
 * authcache.h — chargers whose Basic credentials were verified recently, so that a reconnect
 * does not pay for PBKDF2 again.
 *
 * Checking a charger password costs a PBKDF2 run (5–11 ms) on the loop thread, which stalls
 * every other charger meanwhile; a reconnect storm of password-protected chargers would stall
 * the loop for seconds. After one successful check, a charger's entry holds an HMAC-SHA256,
 * under a key drawn at random when the cache is made (never stored), of its stored password
 * hash and the exact Authorization value it presented: never the password. A later handshake
 * presenting the same value against the same stored hash matches in microseconds. Changing the
 * password (chargers.register) changes the stored hash, so the old entry no longer matches and
 * the next handshake is checked the slow way: no invalidation call is needed.
 *
 * One entry per charger id, at most max_entries (least recently used evicted). Not thread-safe.
 */
#ifndef OD_AUTHCACHE_H
#define OD_AUTHCACHE_H

#include <stdbool.h>
#include <stddef.h>

/* Default capacity: about 120 bytes an entry, so 7.5 MiB when full. */
#define AUTHCACHE_MAX_ENTRIES 65536

struct authcache;

/* A cache of at most max_entries (>= 1). Free with authcache_free (NULL is a no-op). */
struct authcache *authcache_new(size_t max_entries);
void authcache_free(struct authcache *ac);

/* True if authz was verified for charger id while its stored hash was stored_hash (compared
 * in constant time). */
bool authcache_match(struct authcache *ac, const char *id, const char *stored_hash,
                     const char *authz);
/* Records that authz has just been verified for id against stored_hash (replacing its entry). */
void authcache_put(struct authcache *ac, const char *id, const char *stored_hash,
                   const char *authz);
/* Drops id's entry, if any. */
void authcache_forget(struct authcache *ac, const char *id);
size_t authcache_size(const struct authcache *ac);

#endif
