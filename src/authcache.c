/*
 * authcache.c — recently verified charger credentials as keyed digests (authcache.h).
 *
 * A chained hash table by charger id, grown by doubling, and a least-recently-used list.
 */
#include "authcache.h"

#include "mem.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define AUTHCACHE_MAC_LEN 32
#define AUTHCACHE_ID_LEN 49 /* charge point ids are 1..48 characters */

struct authcache_entry {
    struct authcache_entry *hnext;
    struct authcache_entry *lru_prev, *lru_next;
    char id[AUTHCACHE_ID_LEN];
    unsigned char mac[AUTHCACHE_MAC_LEN];
};

struct authcache {
    size_t max_entries, n;
    struct authcache_entry **table; /* owns the entries */
    size_t table_size;              /* power of two */
    struct authcache_entry *lru_head, *lru_tail; /* head: most recently used */
    unsigned char key[32];
};

struct authcache *authcache_new(size_t max_entries)
{
    struct authcache *ac = xcalloc(1, sizeof *ac);
    ac->max_entries = max_entries ? max_entries : 1;
    ac->table_size = 64;
    ac->table = xcalloc(ac->table_size, sizeof *ac->table);
    if (RAND_bytes(ac->key, sizeof ac->key) != 1) abort(); /* no entropy: nothing safe to do */
    return ac;
}

void authcache_free(struct authcache *ac)
{
    if (!ac) return;
    for (struct authcache_entry *e = ac->lru_head, *next; e; e = next) {
        next = e->lru_next;
        OPENSSL_cleanse(e->mac, sizeof e->mac);
        free(e);
    }
    OPENSSL_cleanse(ac->key, sizeof ac->key);
    free(ac->table);
    free(ac);
}

static size_t authcache_hash(const struct authcache *ac, const char *id)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) h = (h ^ *p) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29)) & (ac->table_size - 1);
}

/* HMAC(key, stored_hash NUL authz): binds the presented value to the hash it was checked with. */
static void authcache_mac(const struct authcache *ac, const char *stored_hash, const char *authz,
                          unsigned char out[AUTHCACHE_MAC_LEN])
{
    size_t hl = strlen(stored_hash), al = strlen(authz);
    unsigned char small[1024];
    unsigned char *buf = hl + 1 + al <= sizeof small ? small : xmalloc(hl + 1 + al);
    memcpy(buf, stored_hash, hl);
    buf[hl] = '\0';
    memcpy(buf + hl + 1, authz, al);
    unsigned int len = AUTHCACHE_MAC_LEN;
    if (!HMAC(EVP_sha256(), ac->key, (int)sizeof ac->key, buf, hl + 1 + al, out, &len))
        abort(); /* SHA-256 HMAC cannot fail short of memory exhaustion */
    OPENSSL_cleanse(buf, hl + 1 + al);
    if (buf != small) free(buf);
}

static struct authcache_entry *authcache_find(const struct authcache *ac, const char *id)
{
    for (struct authcache_entry *e = ac->table[authcache_hash(ac, id)]; e; e = e->hnext)
        if (strcmp(e->id, id) == 0) return e;
    return NULL;
}

static void authcache_lru_unlink(struct authcache *ac, struct authcache_entry *e)
{
    if (e->lru_prev) e->lru_prev->lru_next = e->lru_next;
    else ac->lru_head = e->lru_next;
    if (e->lru_next) e->lru_next->lru_prev = e->lru_prev;
    else ac->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void authcache_lru_push(struct authcache *ac, struct authcache_entry *e)
{
    e->lru_next = ac->lru_head;
    e->lru_prev = NULL;
    if (ac->lru_head) ac->lru_head->lru_prev = e;
    else ac->lru_tail = e;
    ac->lru_head = e;
}

static void authcache_remove(struct authcache *ac, struct authcache_entry *e)
{
    struct authcache_entry **pp = &ac->table[authcache_hash(ac, e->id)];
    while (*pp && *pp != e) pp = &(*pp)->hnext;
    if (*pp) *pp = e->hnext;
    authcache_lru_unlink(ac, e);
    OPENSSL_cleanse(e->mac, sizeof e->mac);
    free(e);
    ac->n--;
}

static void authcache_grow(struct authcache *ac)
{
    free(ac->table);
    ac->table_size *= 2;
    ac->table = xcalloc(ac->table_size, sizeof *ac->table);
    for (struct authcache_entry *e = ac->lru_head; e; e = e->lru_next) {
        size_t h = authcache_hash(ac, e->id);
        e->hnext = ac->table[h];
        ac->table[h] = e;
    }
}

bool authcache_match(struct authcache *ac, const char *id, const char *stored_hash,
                     const char *authz)
{
    struct authcache_entry *e = authcache_find(ac, id);
    if (!e) return false;
    unsigned char mac[AUTHCACHE_MAC_LEN];
    authcache_mac(ac, stored_hash, authz, mac);
    bool ok = CRYPTO_memcmp(mac, e->mac, sizeof mac) == 0;
    if (ok && ac->lru_head != e) {
        authcache_lru_unlink(ac, e);
        authcache_lru_push(ac, e);
    }
    return ok;
}

void authcache_put(struct authcache *ac, const char *id, const char *stored_hash,
                   const char *authz)
{
    if (strlen(id) >= AUTHCACHE_ID_LEN) return; /* not a charge point id: not worth keeping */
    struct authcache_entry *e = authcache_find(ac, id);
    if (e) {
        authcache_lru_unlink(ac, e);
    } else {
        if (ac->n >= ac->max_entries) authcache_remove(ac, ac->lru_tail);
        e = xcalloc(1, sizeof *e);
        memcpy(e->id, id, strlen(id) + 1);
        ac->n++;
        if (ac->n > ac->table_size) {
            authcache_lru_push(ac, e); /* so that the rebuild from the list includes it */
            authcache_grow(ac);
            authcache_lru_unlink(ac, e);
        } else {
            size_t h = authcache_hash(ac, id);
            e->hnext = ac->table[h];
            ac->table[h] = e;
        }
    }
    authcache_mac(ac, stored_hash, authz, e->mac);
    authcache_lru_push(ac, e);
}

void authcache_forget(struct authcache *ac, const char *id)
{
    struct authcache_entry *e = authcache_find(ac, id);
    if (e) authcache_remove(ac, e);
}

size_t authcache_size(const struct authcache *ac)
{
    return ac->n;
}
