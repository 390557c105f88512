/* test_conn.c — connections: takeover, message assembly limits, liveness, outbound cap. */
#include "conn.h"
#include "fixture.h"
#include "od.h"
#include "timeutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void test_conn__newer_connection_with_same_id_takes_over(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, false);
    struct conn *old = f->c;
    struct conn *new = conn_open(&f->srv, NULL, "CP1", OCPP_V16, "second");
    assert_ptr_equal(conn_find(&f->srv, "CP1"), new);
    int code;
    const char *reason;
    assert_true(conn_close_requested(old, &code, &reason));
    assert_int_equal(code, 1000);
    assert_non_null(strstr(reason, "replaced"));
    conn_on_closed(old); /* the old socket going away must not unregister the new one */
    assert_ptr_equal(conn_find(&f->srv, "CP1"), new);
    f->c = new;
    fixture_free(f);
}

static void test_conn__fragments_are_reassembled_and_oversize_closes(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, false);
    const char *a = "[2,\"1\",\"Heart", *b = "beat\",{}]";
    conn_on_receive(f->c, a, strlen(a), true, false, false);
    conn_on_receive(f->c, b, strlen(b), false, true, false);
    server_commit(&f->srv);
    json_t *r = fixture_next_frame(f);
    assert_non_null(r);
    assert_int_equal(json_integer_value(json_array_get(r, 0)), 3);
    json_decref(r);

    size_t big = f->srv.limits.max_frame_bytes + 10;
    char *junk = malloc(big);
    memset(junk, ' ', big);
    conn_on_receive(f->c, junk, big / 2, true, false, false);
    conn_on_receive(f->c, junk, big - big / 2, false, true, false);
    free(junk);
    assert_true(f->c->rx_cap <= f->srv.limits.max_frame_bytes + 1); /* never buffered past */
    int code;
    const char *reason;
    assert_true(conn_close_requested(f->c, &code, &reason));
    assert_int_equal(code, 1009);
    fixture_free(f);
}

static void test_conn__binary_frames_close_with_1003(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, false);
    conn_on_receive(f->c, "\x01\x02", 2, true, true, true);
    int code;
    const char *reason;
    assert_true(conn_close_requested(f->c, &code, &reason));
    assert_int_equal(code, 1003);
    fixture_free(f);
}

static void test_conn__quiet_connection_is_pinged_then_closed(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, false);
    f->cfg.heartbeat_interval_s = 10; /* ping every 10 s, idle after 3 pings or 50 s */
    int64_t now = od_now_ms();
    int ping_s = config_ping_interval_s(&f->cfg), idle_s = config_idle_timeout_s(&f->cfg);
    assert_int_equal(ping_s, 10);
    assert_int_equal(idle_s, 50);
    f->c->last_rx_ms = now - 5000;
    conn_tick(&f->srv, now);
    assert_false(conn_take_ping(f->c)); /* heard from it recently */
    f->c->last_rx_ms = now - (ping_s + 1) * 1000LL;
    conn_tick(&f->srv, now);
    assert_true(conn_take_ping(f->c));
    conn_tick(&f->srv, now + 1000);
    assert_false(conn_take_ping(f->c)); /* one ping per interval, not per tick */
    conn_note_alive(f->c); /* the pong */
    int code;
    const char *reason;
    assert_false(conn_close_requested(f->c, &code, &reason));
    f->c->last_rx_ms = now - (idle_s + 1) * 1000LL;
    conn_tick(&f->srv, now);
    assert_true(conn_close_requested(f->c, &code, &reason));
    assert_int_equal(code, 1001);
    fixture_free(f);
}

static void test_conn__peer_that_does_not_read_is_closed_at_the_queue_cap(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, false);
    char chunk[4096];
    memset(chunk, 'x', sizeof chunk);
    int rc = 0, sent = 0;
    while (rc == 0 && sent < 1000) {
        rc = conn_send_text(f->c, chunk, sizeof chunk);
        sent++;
    }
    assert_int_equal(rc, OD_ELIMIT);
    assert_true(f->c->outq_bytes <= CONN_OUTQ_MAX_BYTES);
    int code;
    const char *reason;
    assert_true(conn_close_requested(f->c, &code, &reason));
    assert_int_equal(code, 1008);
    fixture_free(f);
}

static void test_conn__many_near_full_queues_hit_the_process_budget(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, false);
    enum { MAXC = CONN_OUTQ_TOTAL_MAX_BYTES / (CONN_OUTQ_MAX_BYTES / 2) + 2 };
    static char chunk[4096];
    memset(chunk, 'x', sizeof chunk);
    size_t base = conn_outq_total();
    struct conn *cs[MAXC];
    int n = 0, rc = 0;
    char id[16];
    /* Non-readers each staying under their own cap, until the process budget stops one. */
    while (rc == 0 && n < MAXC - 1) {
        snprintf(id, sizeof id, "NR%d", n);
        cs[n++] = conn_open(&f->srv, NULL, id, OCPP_V16, "nonreader");
        for (size_t b = 0; rc == 0 && b + sizeof chunk < CONN_OUTQ_MAX_BYTES; b += sizeof chunk)
            rc = conn_send_text(cs[n - 1], chunk, sizeof chunk);
    }
    assert_int_equal(rc, OD_ELIMIT);
    struct conn *last = cs[n - 1];
    assert_true(last->outq_bytes + sizeof chunk < CONN_OUTQ_MAX_BYTES); /* not its own cap */
    assert_true(conn_outq_total() - base + sizeof chunk > CONN_OUTQ_TOTAL_MAX_BYTES);
    assert_true(conn_outq_total() - base <= CONN_OUTQ_TOTAL_MAX_BYTES);
    int code;
    const char *reason;
    assert_true(conn_close_requested(last, &code, &reason));
    assert_int_equal(code, 1008);
    /* a connection with a small queue is still served while the budget is spent */
    cs[n++] = conn_open(&f->srv, NULL, "READER", OCPP_V16, "reader");
    assert_int_equal(conn_send_text(cs[n - 1], chunk, sizeof chunk), 0);
    assert_false(conn_close_requested(cs[n - 1], &code, &reason));
    for (int i = 0; i < n; i++) conn_on_closed(cs[i]);
    assert_int_equal(conn_outq_total(), base);
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conn__newer_connection_with_same_id_takes_over),
        cmocka_unit_test(test_conn__fragments_are_reassembled_and_oversize_closes),
        cmocka_unit_test(test_conn__binary_frames_close_with_1003),
        cmocka_unit_test(test_conn__quiet_connection_is_pinged_then_closed),
        cmocka_unit_test(test_conn__peer_that_does_not_read_is_closed_at_the_queue_cap),
        cmocka_unit_test(test_conn__many_near_full_queues_hit_the_process_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
