/* test_authcache.c — the verified-credentials cache: exact match only, a changed stored hash
 * misses, bounded with least-recently-used eviction. */
#include "authcache.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#define HASH_A "pbkdf2-sha256$20000$00112233445566778899aabbccddeeff$aa"
#define HASH_B "pbkdf2-sha256$20000$ffeeddccbbaa99887766554433221100$bb"

static void test_authcache__matches_only_what_was_verified(void **state)
{
    (void)state;
    struct authcache *ac = authcache_new(16);
    assert_false(authcache_match(ac, "CP1", HASH_A, "Basic Q1AxOnB3"));
    authcache_put(ac, "CP1", HASH_A, "Basic Q1AxOnB3");
    assert_true(authcache_match(ac, "CP1", HASH_A, "Basic Q1AxOnB3"));
    assert_false(authcache_match(ac, "CP1", HASH_A, "Basic Q1AxOnB4"));  /* other password */
    assert_false(authcache_match(ac, "CP2", HASH_A, "Basic Q1AxOnB3"));  /* other charger */
    assert_false(authcache_match(ac, "CP1", HASH_B, "Basic Q1AxOnB3"));  /* password changed */
    /* the new password, once verified, replaces the entry */
    authcache_put(ac, "CP1", HASH_B, "Basic Q1AxOm5ldw==");
    assert_int_equal(authcache_size(ac), 1);
    assert_true(authcache_match(ac, "CP1", HASH_B, "Basic Q1AxOm5ldw=="));
    assert_false(authcache_match(ac, "CP1", HASH_A, "Basic Q1AxOnB3"));
    authcache_forget(ac, "CP1");
    assert_false(authcache_match(ac, "CP1", HASH_B, "Basic Q1AxOm5ldw=="));
    assert_int_equal(authcache_size(ac), 0);
    authcache_free(ac);
}

static void test_authcache__bounded_least_recently_used_goes_first(void **state)
{
    (void)state;
    struct authcache *ac = authcache_new(100);
    char id[16];
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "CP%d", i);
        authcache_put(ac, id, HASH_A, "Basic x");
    }
    assert_true(authcache_match(ac, "CP0", HASH_A, "Basic x")); /* CP0 is now the freshest */
    for (int i = 100; i < 250; i++) {
        snprintf(id, sizeof id, "CP%d", i);
        authcache_put(ac, id, HASH_A, "Basic x");
        assert_true(authcache_size(ac) <= 100);
        if (i < 199) assert_true(authcache_match(ac, "CP0", HASH_A, "Basic x"));
    }
    assert_int_equal(authcache_size(ac), 100);
    assert_false(authcache_match(ac, "CP1", HASH_A, "Basic x"));
    assert_true(authcache_match(ac, "CP249", HASH_A, "Basic x"));
    authcache_free(ac);
    authcache_free(NULL); /* a no-op */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_authcache__matches_only_what_was_verified),
        cmocka_unit_test(test_authcache__bounded_least_recently_used_goes_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
