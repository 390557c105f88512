/* test_peerlimit.c — per-source-address limits: buckets, connection counts, /64 grouping,
 * loopback, and the bound on idle entries. */
#include "peerlimit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static struct peerlimit_addr v4(const char *text)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, text, &sa.sin_addr), 1);
    struct peerlimit_addr a;
    assert_int_equal(peerlimit_addr_from_sockaddr((struct sockaddr *)&sa, sizeof sa, &a), 0);
    return a;
}

static struct peerlimit_addr v6(const char *text)
{
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6};
    assert_int_equal(inet_pton(AF_INET6, text, &sa.sin6_addr), 1);
    struct peerlimit_addr a;
    assert_int_equal(peerlimit_addr_from_sockaddr((struct sockaddr *)&sa, sizeof sa, &a), 0);
    return a;
}

static void test_peerlimit__burst_then_rate_then_refill(void **state)
{
    (void)state;
    struct peerlimit_limits lim = {.hs_rate = 2, .hs_burst = 5};
    struct peerlimit *pl = peerlimit_new(&lim);
    struct peerlimit_addr a = v4("192.0.2.7"), b = v4("192.0.2.8");
    int retry = 0;
    for (int i = 0; i < 5; i++)
        assert_int_equal(peerlimit_handshake(pl, &a, 1000, &retry), PEERLIMIT_OK);
    assert_int_equal(peerlimit_handshake(pl, &a, 1000, &retry), PEERLIMIT_RATE);
    /* one token comes back in 0.5 s at 2/s; Retry-After is that, rounded up, plus jitter */
    assert_in_range(retry, 1, 2);
    assert_int_equal(peerlimit_handshake(pl, &b, 1000, &retry), PEERLIMIT_OK); /* its own bucket */
    assert_int_equal(peerlimit_handshake(pl, &a, 1400, &retry), PEERLIMIT_RATE);
    assert_int_equal(peerlimit_handshake(pl, &a, 1500, &retry), PEERLIMIT_OK);
    assert_int_equal(peerlimit_handshake(pl, &a, 1500, &retry), PEERLIMIT_RATE);
    /* a long pause refills to the burst, not beyond */
    for (int i = 0; i < 5; i++)
        assert_int_equal(peerlimit_handshake(pl, &a, 100000, &retry), PEERLIMIT_OK);
    assert_int_equal(peerlimit_handshake(pl, &a, 100000, &retry), PEERLIMIT_RATE);
    peerlimit_free(pl);
}

static void test_peerlimit__connection_cap_counts_opens_and_closes(void **state)
{
    (void)state;
    struct peerlimit_limits lim = {.max_conns = 2};
    struct peerlimit *pl = peerlimit_new(&lim);
    struct peerlimit_addr a = v4("198.51.100.1");
    int retry = 0;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(peerlimit_handshake(pl, &a, 0, &retry), PEERLIMIT_OK);
        peerlimit_conn_opened(pl, &a, 0);
    }
    assert_int_equal(peerlimit_conns(pl, &a), 2);
    assert_int_equal(peerlimit_handshake(pl, &a, 0, &retry), PEERLIMIT_CONNS);
    assert_true(retry >= 30);
    peerlimit_conn_closed(pl, &a);
    assert_int_equal(peerlimit_handshake(pl, &a, 0, &retry), PEERLIMIT_OK);
    peerlimit_conn_closed(pl, &a);
    peerlimit_conn_closed(pl, &a); /* unmatched: ignored, never negative */
    assert_int_equal(peerlimit_conns(pl, &a), 0);
    peerlimit_free(pl);
}

static void test_peerlimit__auth_failures_are_a_bucket_per_minute(void **state)
{
    (void)state;
    struct peerlimit_limits lim = {.auth_per_min = 3};
    struct peerlimit *pl = peerlimit_new(&lim);
    struct peerlimit_addr a = v4("203.0.113.9");
    int retry = 0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(peerlimit_auth_check(pl, &a, 0, &retry), PEERLIMIT_OK);
        peerlimit_auth_failed(pl, &a, 0);
    }
    assert_int_equal(peerlimit_auth_check(pl, &a, 0, &retry), PEERLIMIT_AUTH);
    assert_in_range(retry, 20, 40); /* one failure comes back every 20 s */
    assert_int_equal(peerlimit_auth_check(pl, &a, 19000, &retry), PEERLIMIT_AUTH);
    assert_int_equal(peerlimit_auth_check(pl, &a, 20000, &retry), PEERLIMIT_OK);
    peerlimit_free(pl);
}

static void test_peerlimit__ipv6_is_limited_per_64_and_ipv4_mapped_per_address(void **state)
{
    (void)state;
    struct peerlimit_limits lim = {.max_conns = 1};
    struct peerlimit *pl = peerlimit_new(&lim);
    struct peerlimit_addr a = v6("2001:db8:1:2::1"), b = v6("2001:db8:1:2:ffff::9");
    struct peerlimit_addr c = v6("2001:db8:1:3::1");
    struct peerlimit_addr m = v6("::ffff:192.0.2.1"), n = v4("192.0.2.1"), o = v4("192.0.2.2");
    int retry;
    peerlimit_conn_opened(pl, &a, 0);
    assert_int_equal(peerlimit_handshake(pl, &b, 0, &retry), PEERLIMIT_CONNS);
    assert_int_equal(peerlimit_handshake(pl, &c, 0, &retry), PEERLIMIT_OK);
    peerlimit_conn_opened(pl, &m, 0);
    assert_int_equal(peerlimit_handshake(pl, &n, 0, &retry), PEERLIMIT_CONNS);
    assert_int_equal(peerlimit_handshake(pl, &o, 0, &retry), PEERLIMIT_OK);
    char text[64];
    peerlimit_addr_format(&b, text, sizeof text);
    assert_string_equal(text, "2001:db8:1:2::/64");
    peerlimit_addr_format(&m, text, sizeof text);
    assert_string_equal(text, "192.0.2.1");
    peerlimit_free(pl);
}

static void test_peerlimit__loopback_is_recognised(void **state)
{
    (void)state;
    struct peerlimit_addr a = v4("127.0.0.5"), b = v6("::1"), c = v4("128.0.0.1");
    struct peerlimit_addr d = v6("::ffff:127.0.0.1"), e = v6("2001:db8::1");
    assert_true(peerlimit_addr_is_loopback(&a));
    assert_true(peerlimit_addr_is_loopback(&b));
    assert_true(peerlimit_addr_is_loopback(&d));
    assert_false(peerlimit_addr_is_loopback(&c));
    assert_false(peerlimit_addr_is_loopback(&e));
}

static void test_peerlimit__idle_entries_are_bounded_and_held_ones_kept(void **state)
{
    (void)state;
    struct peerlimit_limits lim = {.max_conns = 1, .hs_rate = 1, .hs_burst = 1};
    struct peerlimit *pl = peerlimit_new(&lim);
    struct peerlimit_addr held = v4("10.255.255.1");
    int retry;
    peerlimit_conn_opened(pl, &held, 0);
    struct peerlimit_addr first = v4("10.0.0.0");
    assert_int_equal(peerlimit_handshake(pl, &first, 0, &retry), PEERLIMIT_OK);
    assert_int_equal(peerlimit_handshake(pl, &first, 0, &retry), PEERLIMIT_RATE);
    /* a flood from many more addresses than the idle cap */
    for (uint32_t i = 1; i < 3 * PEERLIMIT_IDLE_MAX; i++) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000000u + i)};
        struct peerlimit_addr x;
        assert_int_equal(peerlimit_addr_from_sockaddr((struct sockaddr *)&sa, sizeof sa, &x), 0);
        peerlimit_handshake(pl, &x, 0, &retry);
    }
    assert_int_equal(peerlimit_idle_entries(pl), PEERLIMIT_IDLE_MAX);
    assert_int_equal(peerlimit_entries(pl), PEERLIMIT_IDLE_MAX + 1);
    /* the address holding a connection was never evicted; the first flooder was (fresh bucket) */
    assert_int_equal(peerlimit_conns(pl, &held), 1);
    assert_int_equal(peerlimit_handshake(pl, &held, 0, &retry), PEERLIMIT_CONNS);
    assert_int_equal(peerlimit_handshake(pl, &first, 0, &retry), PEERLIMIT_OK);
    peerlimit_free(pl);
}

static void test_peerlimit__zero_limits_are_off(void **state)
{
    (void)state;
    struct peerlimit_limits lim = {0};
    struct peerlimit *pl = peerlimit_new(&lim);
    struct peerlimit_addr a = v4("192.0.2.50");
    int retry;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(peerlimit_handshake(pl, &a, 0, &retry), PEERLIMIT_OK);
        peerlimit_conn_opened(pl, &a, 0);
        assert_int_equal(peerlimit_auth_check(pl, &a, 0, &retry), PEERLIMIT_OK);
        peerlimit_auth_failed(pl, &a, 0);
    }
    peerlimit_free(pl);
}

static void test_peerlimit__handshakes_in_progress_are_capped_until_done(void **state)
{
    (void)state;
    struct peerlimit_limits lim = {.max_pending = 2};
    struct peerlimit *pl = peerlimit_new(&lim);
    struct peerlimit_addr a = v4("192.0.2.99"), b = v4("192.0.2.98");
    assert_int_equal(peerlimit_accept_check(pl, &a), PEERLIMIT_OK);
    peerlimit_pending_add(pl, &a, 0);
    peerlimit_pending_add(pl, &a, 0);
    assert_int_equal(peerlimit_accept_check(pl, &a), PEERLIMIT_PENDING);
    assert_int_equal(peerlimit_accept_check(pl, &b), PEERLIMIT_OK);
    /* held through a flood of other addresses, like an address with connections */
    for (uint32_t i = 0; i < 2 * PEERLIMIT_IDLE_MAX; i++) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0b000000u + i)};
        struct peerlimit_addr x;
        int retry;
        assert_int_equal(peerlimit_addr_from_sockaddr((struct sockaddr *)&sa, sizeof sa, &x), 0);
        peerlimit_handshake(pl, &x, 0, &retry);
    }
    assert_int_equal(peerlimit_pending(pl, &a), 2);
    peerlimit_pending_done(pl, &a);
    assert_int_equal(peerlimit_accept_check(pl, &a), PEERLIMIT_OK);
    peerlimit_pending_done(pl, &a);
    peerlimit_pending_done(pl, &a); /* unmatched: ignored */
    assert_int_equal(peerlimit_pending(pl, &a), 0);
    assert_int_equal(peerlimit_idle_entries(pl), PEERLIMIT_IDLE_MAX);
    peerlimit_free(pl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peerlimit__burst_then_rate_then_refill),
        cmocka_unit_test(test_peerlimit__connection_cap_counts_opens_and_closes),
        cmocka_unit_test(test_peerlimit__auth_failures_are_a_bucket_per_minute),
        cmocka_unit_test(test_peerlimit__ipv6_is_limited_per_64_and_ipv4_mapped_per_address),
        cmocka_unit_test(test_peerlimit__loopback_is_recognised),
        cmocka_unit_test(test_peerlimit__idle_entries_are_bounded_and_held_ones_kept),
        cmocka_unit_test(test_peerlimit__zero_limits_are_off),
        cmocka_unit_test(test_peerlimit__handshakes_in_progress_are_capped_until_done),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
