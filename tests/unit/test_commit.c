/*
 * test_commit.c — group commit: a reply never acknowledges data that did not reach the
 * database. store_batch_commit is wrapped at link time (-Wl,--wrap) so the test can make a
 * commit (or the WAL fsync) fail the way a full disk or I/O error would. On a database file with full sync, replies
 * (and admin answers) wait for the WAL fsync that the threadpool runs after the commit.
 */
#include "admin.h"
#include "dispatch.h"
#include "fixture.h"
#include "od.h"
#include "ws.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

int __real_store_batch_commit(struct store *st);
int __wrap_store_batch_commit(struct store *st);
int __real_store_wal_fsync(struct store *st, enum store_fsync_caller who);
int __wrap_store_wal_fsync(struct store *st, enum store_fsync_caller who);

/* Set on the test thread, read on the threadpool thread that runs the fsync. */
static atomic_bool fail_next_fsync;

int __wrap_store_wal_fsync(struct store *st, enum store_fsync_caller who)
{
    if (atomic_exchange(&fail_next_fsync, false)) return OD_EIO;
    return __real_store_wal_fsync(st, who);
}

static bool fail_next_commit;

int __wrap_store_batch_commit(struct store *st)
{
    if (fail_next_commit) {
        fail_next_commit = false;
        return OD_EDB;
    }
    return __real_store_batch_commit(st);
}

static int count_cb(const struct store_tx *tx, void *ctx)
{
    (void)tx;
    ++*(int *)ctx;
    return 0;
}

static json_t *frame_roundtrip(struct fixture *f, const char *frame)
{
    dispatch_message(f->c, frame, strlen(frame));
    server_commit(&f->srv);
    return fixture_next_frame(f);
}

static void test_commit__failed_commit_turns_results_into_internal_error(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(true, true);
    json_t *r = frame_roundtrip(f, "[2,\"b\",\"BootNotification\",{\"chargePointVendor\":\"V\","
                        "\"chargePointModel\":\"M\"}]");
    assert_int_equal(json_integer_value(json_array_get(r, 0)), 3);
    json_decref(r);

    fail_next_commit = true;
    r = frame_roundtrip(f, "[2,\"st\",\"StartTransaction\",{\"connectorId\":1,\"idTag\":\"T\","
                "\"meterStart\":0,\"timestamp\":\"2024-01-01T00:00:00Z\"}]");
    assert_int_equal(json_integer_value(json_array_get(r, 0)), 4);
    assert_string_equal(json_string_value(json_array_get(r, 1)), "st");
    assert_string_equal(json_string_value(json_array_get(r, 2)), "InternalError");
    json_decref(r);
    /* nothing of the failed batch is stored: the charger's retry starts a fresh transaction */
    struct store_tx_query q = {.charger_id = "CP1", .active = -1, .limit = 10};
    int n = 0;
    assert_int_equal(store_tx_query(f->st, &q, count_cb, &n), 0);
    assert_int_equal(n, 0);

    r = frame_roundtrip(f, "[2,\"st2\",\"StartTransaction\",{\"connectorId\":1,\"idTag\":\"T\","
                "\"meterStart\":0,\"timestamp\":\"2024-01-01T00:00:00Z\"}]");
    assert_int_equal(json_integer_value(json_array_get(r, 0)), 3);
    json_decref(r);
    n = 0;
    assert_int_equal(store_tx_query(f->st, &q, count_cb, &n), 0);
    assert_int_equal(n, 1);
    fixture_free(f);
}

/* A database file in a fresh temporary directory (removed by file_db_free). */
struct file_db {
    char dir[64];
    char path[96];
};

static void file_db_new(struct file_db *d)
{
    snprintf(d->dir, sizeof d->dir, "/tmp/ocppd-commit-XXXXXX");
    assert_non_null(mkdtemp(d->dir));
    snprintf(d->path, sizeof d->path, "%s/t.db", d->dir);
}

static void file_db_free(struct file_db *d)
{
    char p[128];
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", d->path, suffixes[i]);
        unlink(p);
    }
    rmdir(d->dir);
}

static void send_heartbeat(struct fixture *f, const char *id)
{
    char frame[64];
    snprintf(frame, sizeof frame, "[2,\"%s\",\"Heartbeat\",{}]", id);
    dispatch_message(f->c, frame, strlen(frame));
}

static void send_boot(struct fixture *f, const char *id)
{
    char frame[160];
    snprintf(frame, sizeof frame, "[2,\"%s\",\"BootNotification\",{\"chargePointVendor\":\"V\","
                                  "\"chargePointModel\":\"M\"}]", id);
    dispatch_message(f->c, frame, strlen(frame));
}

/* The unique id of the next reply, or "" if none is queued (the caller owns nothing). */
static const char *next_reply_id(struct fixture *f, char *buf, size_t len)
{
    json_t *r = fixture_next_frame(f);
    snprintf(buf, len, "%s", r ? json_string_value(json_array_get(r, 1)) : "");
    json_decref(r);
    return buf;
}

static void test_commit__full_sync_holds_replies_until_the_wal_fsync_ran(void **state)
{
    (void)state;
    struct file_db d;
    file_db_new(&d);
    struct fixture *f = fixture_new_at(d.path, STORE_SYNC_FULL, true, true);
    assert_true(store_sync_deferred(f->st));
    char id[32];

    send_boot(f, "b1");
    server_commit_async(&f->srv);
    assert_true(server_disk_busy(&f->srv));              /* the fsync runs on the threadpool */
    assert_string_equal(next_reply_id(f, id, sizeof id), ""); /* committed, not yet durable */
    uint64_t gen1 = f->srv.commit_gen;

    /* The loop goes on while the fsync runs: a second batch commits behind it. */
    send_heartbeat(f, "h2");
    server_commit_async(&f->srv);
    uint64_t gen2 = f->srv.commit_gen;
    assert_true(gen2 > gen1);

    /* Each reply goes out once, in order, and only once an fsync that began after its commit
     * has ended. */
    bool got1 = false, got2 = false;
    for (int i = 0; i < 1000 && !got2; i++) {
        uv_run(&f->loop, UV_RUN_ONCE);
        next_reply_id(f, id, sizeof id);
        if (!got1 && strcmp(id, "b1") == 0) {
            got1 = true;
            assert_true(f->srv.durable_gen >= gen1);
            next_reply_id(f, id, sizeof id);
        }
        if (strcmp(id, "h2") == 0) {
            assert_true(got1);
            got2 = true;
        } else {
            assert_string_equal(id, "");
        }
        assert_true(got2 || f->srv.durable_gen < gen2);
    }
    assert_true(got1 && got2);
    assert_true(f->srv.stats.wal_syncs >= 1);
    assert_int_equal(f->srv.stats.wal_sync_failures, 0);
    assert_false(server_commit_pending(&f->srv));

    /* What was acknowledged is in the file, as a second connection sees it. */
    fixture_free(f);
    struct store *st = NULL;
    char err[200];
    assert_int_equal(store_open(d.path, STORE_SYNC_FULL, &st, err, sizeof err), 0);
    struct store_charger ch;
    assert_int_equal(store_charger_get(st, "CP1", &ch), 0);
    assert_string_equal(ch.vendor, "V");
    store_close(st);
    file_db_free(&d);
}

/* A fixture on a database file with one admin session. */
struct file_fx {
    struct file_db d;
    struct fixture *f;
    struct admin_session *s;
};

static struct fixture *file_fx_open(struct file_fx *x, enum store_sync sync)
{
    file_db_new(&x->d);
    x->f = fixture_new_at(x->d.path, sync, true, true);
    x->s = admin_session_open(&x->f->srv, NULL, "unit");
    return x->f;
}

static void file_fx_close(struct file_fx *x)
{
    admin_session_on_closed(x->s);
    fixture_free(x->f);
    file_db_free(&x->d);
}

/* Runs the loop until no reply waits for a commit or an fsync and no disk job runs. */
static void settle(struct fixture *f)
{
    while (server_commit_pending(&f->srv)) uv_run(&f->loop, UV_RUN_ONCE);
}

/* The session's next answer as JSON (new reference), or NULL if none may go out yet. */
static json_t *admin_answer(struct admin_session *s)
{
    struct admin_frame *fr = admin_session_next_frame(s);
    if (!fr) return NULL;
    json_t *a = json_loads(fr->block + WS_HEADROOM, 0, NULL);
    assert_non_null(a);
    admin_frame_free(fr);
    return a;
}

static const char TOKEN_UPSERT[] = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tokens.upsert\","
                                   "\"params\":{\"idTag\":\"OP-1\",\"status\":\"Accepted\"}}";

static void test_commit__admin_answer_waits_for_the_open_batch_to_be_durable(void **state)
{
    (void)state;
    struct file_fx x;
    struct fixture *f = file_fx_open(&x, STORE_SYNC_FULL);
    /* The boot is in the open batch when the operator reads the charger. */
    send_boot(f, "b1");
    const char *get = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"chargers.get\","
                      "\"params\":{\"chargerId\":\"CP1\"}}";
    admin_rpc_handle(x.s, get, strlen(get));
    assert_null(admin_answer(x.s));
    server_commit_async(&f->srv);
    assert_null(admin_answer(x.s)); /* committed, not durable */
    settle(f);
    char id[32];
    assert_string_equal(next_reply_id(f, id, sizeof id), "b1");
    json_t *a = admin_answer(x.s);
    json_t *res = json_object_get(a, "result");
    assert_string_equal(json_string_value(json_object_get(res, "vendor")), "V");
    json_decref(a);
    file_fx_close(&x);
}

static void test_commit__normal_sync_releases_at_commit(void **state)
{
    (void)state;
    struct file_fx x;
    struct fixture *f = file_fx_open(&x, STORE_SYNC_NORMAL);
    assert_false(store_sync_deferred(f->st));
    send_boot(f, "b1");
    server_commit_async(&f->srv);
    char id[32];
    assert_string_equal(next_reply_id(f, id, sizeof id), "b1");
    assert_int_equal(f->srv.stats.wal_syncs, 0);
    file_fx_close(&x);
}

static void test_commit__idle_wal_is_checkpointed_off_the_loop_thread(void **state)
{
    (void)state;
    struct file_fx x;
    struct fixture *f = file_fx_open(&x, STORE_SYNC_FULL);
    send_boot(f, "b1");
    server_commit(&f->srv);
    char id[32];
    assert_string_equal(next_reply_id(f, id, sizeof id), "b1");
    uint64_t before = f->srv.stats.checkpoints;
    server_commit_idle(&f->srv);
    assert_true(server_disk_busy(&f->srv));
    settle(f);
    assert_int_equal(f->srv.stats.checkpoints, before + 1);
    /* Nothing new since: the next idle tick has nothing to do. */
    server_commit_idle(&f->srv);
    assert_false(server_disk_busy(&f->srv));
    file_fx_close(&x);
}

static void test_commit__admin_write_is_answered_after_its_fsync_not_inline(void **state)
{
    (void)state;
    struct file_fx x;
    struct fixture *f = file_fx_open(&x, STORE_SYNC_FULL);
    uint64_t syncs = f->srv.stats.wal_syncs;
    admin_rpc_handle(x.s, TOKEN_UPSERT, strlen(TOKEN_UPSERT));
    /* Committed at once, but neither fsync'd on this thread nor answered yet. */
    assert_false(store_batch_active(f->st));
    assert_int_equal(f->srv.stats.wal_syncs, syncs);
    assert_null(admin_answer(x.s));
    assert_true(server_disk_busy(&f->srv));
    settle(f);
    json_t *a = admin_answer(x.s);
    assert_non_null(json_object_get(a, "result"));
    json_decref(a);
    assert_true(f->srv.stats.wal_syncs > syncs);
    file_fx_close(&x);
}

static void test_commit__failed_fsync_fails_replies_and_closes_waiting_admin_sessions(void **state)
{
    (void)state;
    struct file_fx x;
    struct fixture *f = file_fx_open(&x, STORE_SYNC_FULL);
    send_boot(f, "b1");
    atomic_store(&fail_next_fsync, true);
    admin_rpc_handle(x.s, TOKEN_UPSERT, strlen(TOKEN_UPSERT)); /* commits boot and token */
    settle(f);
    assert_int_equal(f->srv.stats.wal_sync_failures, 1);
    /* The charger is not told its boot was stored... */
    json_t *r = fixture_next_frame(f);
    assert_int_equal(json_integer_value(json_array_get(r, 0)), 4);
    assert_string_equal(json_string_value(json_array_get(r, 2)), "InternalError");
    json_decref(r);
    /* ...and neither is the operator: the session is closed instead of answered. */
    assert_null(admin_answer(x.s));
    int code = 0;
    const char *reason = NULL;
    assert_true(admin_session_close_requested(x.s, &code, &reason));
    assert_int_equal(code, 1011);
    file_fx_close(&x);
}

static void test_commit__csms_call_waits_behind_the_replies_still_held(void **state)
{
    (void)state;
    struct file_fx x;
    struct fixture *f = file_fx_open(&x, STORE_SYNC_FULL);
    send_boot(f, "b1"); /* its reply waits for the fsync */
    const char *reset = "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ocpp.call\",\"params\":"
                        "{\"chargerId\":\"CP1\",\"action\":\"Reset\",\"payload\":{\"type\":\"Soft\"}}}";
    admin_rpc_handle(x.s, reset, strlen(reset));
    assert_null(fixture_next_frame(f)); /* the Reset did not overtake the boot's answer */
    server_commit_iteration(&f->srv);
    settle(f);
    json_t *first = fixture_next_frame(f), *second = fixture_next_frame(f);
    assert_int_equal(json_integer_value(json_array_get(first, 0)), 3);
    assert_string_equal(json_string_value(json_array_get(first, 1)), "b1");
    assert_int_equal(json_integer_value(json_array_get(second, 0)), 2);
    assert_string_equal(json_string_value(json_array_get(second, 2)), "Reset");
    json_decref(first);
    json_decref(second);
    file_fx_close(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit__failed_commit_turns_results_into_internal_error),
        cmocka_unit_test(test_commit__full_sync_holds_replies_until_the_wal_fsync_ran),
        cmocka_unit_test(test_commit__admin_answer_waits_for_the_open_batch_to_be_durable),
        cmocka_unit_test(test_commit__admin_write_is_answered_after_its_fsync_not_inline),
        cmocka_unit_test(test_commit__failed_fsync_fails_replies_and_closes_waiting_admin_sessions),
        cmocka_unit_test(test_commit__csms_call_waits_behind_the_replies_still_held),
        cmocka_unit_test(test_commit__normal_sync_releases_at_commit),
        cmocka_unit_test(test_commit__idle_wal_is_checkpointed_off_the_loop_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
