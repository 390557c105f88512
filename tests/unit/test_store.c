/*
 * test_store.c — unit tests for the SQLite store (db/store.h).
 *
 * Each test gets a fresh temporary directory (removed afterwards) and, where it needs one, an
 * open file database in it. Upgrades and refused newer schemas are driven through the private
 * store__open_with hook with the real migrations plus test-only ones appended, so the tests
 * keep working as real migrations are added. No SQLite header here: the store is tested only
 * through its API.
 */
#include "store_int.h"

#include "od.h"

#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

/* Whole-field copy (zero-filled), so records compare equal with assert_memory_equal. */
static void set_field(char *dst, size_t cap, const char *src)
{
    memset(dst, 0, cap);
    snprintf(dst, cap, "%s", src);
}
#define SET(field, str) set_field((field), sizeof(field), (str))

struct fx {
    char dir[PATH_MAX];
    char path[PATH_MAX + 16];
    struct store *st;
};

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f) return -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/ocppd-test-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/ocppd.db", f->dir);
    *state = f;
    return 0;
}

/* Removes the flat temp directory (database, -wal, -shm, test files). */
static int fx_teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->st);
    DIR *d = opendir(f->dir);
    if (d) {
        struct dirent *e;
        char p[PATH_MAX + 300];
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
            if (remove(p) != 0) rmdir(p);
        }
        closedir(d);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Setup + an open store on the file (synchronous NORMAL keeps the tests quick). */
static int fx_setup_open(void **state)
{
    if (fx_setup(state) != 0) return -1;
    struct fx *f = *state;
    char err[256];
    return store_open(f->path, STORE_SYNC_NORMAL, &f->st, err, sizeof err) == 0 ? 0 : -1;
}

static void reopen(struct fx *f)
{
    char err[256] = "";
    store_close(f->st);
    f->st = NULL;
    int rc = store_open(f->path, STORE_SYNC_NORMAL, &f->st, err, sizeof err);
    if (rc != 0) fail_msg("reopen: %s (%s)", od_strerror(rc), err);
}

static bool file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static void make_charger(struct store_charger *c, const char *id)
{
    memset(c, 0, sizeof *c);
    SET(c->id, id);
    SET(c->protocol, "ocpp1.6");
    SET(c->registration, "Accepted");
    c->provisioned = true;
    SET(c->password_hash, "$scrypt$abc");
    SET(c->station_id, "station-7");
    SET(c->vendor, "VendorX");
    SET(c->model, "ModelY");
    SET(c->serial, "SN1");
    SET(c->charge_box_serial, "CB1");
    SET(c->firmware, "1.2.3");
    SET(c->iccid, "8901");
    SET(c->imsi, "2620");
    SET(c->meter_type, "MT");
    SET(c->meter_serial, "MS");
    SET(c->boot_reason, "PowerUp");
    c->created_ms = 1000;
    c->last_seen_ms = 2000;
    c->last_boot_ms = 1500;
}

static void make_tx(struct store_tx *tx, const char *charger_id, int connector, int64_t start_ms)
{
    memset(tx, 0, sizeof *tx);
    SET(tx->charger_id, charger_id);
    tx->evse_id = connector;
    tx->connector_id = connector;
    SET(tx->id_tag, "TAG1");
    tx->start_ms = start_ms;
    tx->active = true;
    tx->has_meter_start = true;
    tx->meter_start_wh = 1234.5;
    tx->created_ms = start_ms;
    tx->updated_ms = start_ms;
}

/* The compiled-in migrations followed by test-only ones. */
static int migrations_plus(struct store__migration *out, int cap, const char *const *extra_sql,
                           int n_extra)
{
    int n = store__migrations_count;
    assert_true(n + n_extra <= cap);
    memcpy(out, store__migrations, (size_t)n * sizeof *out);
    for (int i = 0; i < n_extra; i++) {
        out[n + i].version = n + i + 1;
        out[n + i].name = "test_extra";
        out[n + i].sql = extra_sql[i];
    }
    return n + n_extra;
}

/* ---- lifecycle -------------------------------------------------------------------------------- */

static void test_store__open_fresh_file_migrates_and_persists(void **state)
{
    struct fx *f = *state;
    char err[256] = "x";
    assert_int_equal(store_open(f->path, STORE_SYNC_FULL, &f->st, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_true(store_schema_version_latest() >= 1);
    assert_int_equal(store_schema_version(f->st), store_schema_version_latest());
    assert_true(store_ping(f->st));

    struct store_charger c;
    make_charger(&c, "CP1");
    assert_int_equal(store_charger_put(f->st, &c), 0);
    int64_t seq = 0;
    assert_int_equal(store_event_append(f->st, 5, "charger.boot", "CP1", "{}", &seq), 0);
    /* WAL journal: the write went to the -wal file. */
    char wal[PATH_MAX + 32];
    snprintf(wal, sizeof wal, "%s-wal", f->path);
    assert_true(file_exists(wal));

    reopen(f);
    assert_int_equal(store_schema_version(f->st), store_schema_version_latest());
    struct store_charger got;
    assert_int_equal(store_charger_get(f->st, "CP1", &got), 0);
    assert_memory_equal(&got, &c, sizeof c);
    assert_int_equal(store_event_last_seq(f->st), seq);
}

static void test_store__memory_database(void **state)
{
    (void)state;
    struct store *st = NULL;
    char err[128];
    assert_int_equal(store_open(":memory:", STORE_SYNC_NORMAL, &st, err, sizeof err), 0);
    assert_int_equal(store_schema_version(st), store_schema_version_latest());
    assert_int_equal(store_charger_touch(st, "CP1", "ocpp2.0.1", 1), 0);
    assert_true(store_ping(st));
    store_checkpoint(st);
    store_close(st);
    store_close(NULL);
}

static void test_store__newer_schema_refused(void **state)
{
    struct fx *f = *state;
    struct store__migration m[16];
    static const char *const extra[] = {"CREATE TABLE test_t (a)", "ALTER TABLE test_t ADD b"};
    int n = migrations_plus(m, 16, extra, 2);
    char err[256];
    assert_int_equal(store__open_with(f->path, STORE_SYNC_NORMAL, m, n, &f->st, err, sizeof err),
                     0);
    assert_int_equal(store_schema_version(f->st), n);
    store_close(f->st);
    f->st = NULL;

    char want[128];
    snprintf(want, sizeof want, "database schema version %d is newer than this ocppd supports (%d)",
             n, store_schema_version_latest());
    for (int round = 0; round < 2; round++) { /* refusing must not have changed the file */
        struct store *st = (struct store *)&err; /* must come back NULL */
        assert_int_equal(store_open(f->path, STORE_SYNC_NORMAL, &st, err, sizeof err),
                         OD_EDBVERSION);
        assert_null(st);
        assert_string_equal(err, want);
    }
}

static void test_store__upgrade_in_place(void **state)
{
    struct fx *f = *state;
    struct store__migration m[16];
    char err[256];
    static const char *const extra[] = {
        "CREATE TABLE test_t (a)",
        "ALTER TABLE test_t ADD b",
        /* fails half-way: test_u must not survive it */
        "CREATE TABLE test_u (a); CREATE TABLE test_t (a)",
    };
    int n = migrations_plus(m, 16, extra, 1);
    assert_int_equal(store__open_with(f->path, STORE_SYNC_NORMAL, m, n, &f->st, err, sizeof err),
                     0);
    assert_int_equal(store_charger_touch(f->st, "CP-old", "ocpp1.6", 10), 0);
    store_close(f->st);
    f->st = NULL;

    /* Upgrade by one: the data stays. */
    n = migrations_plus(m, 16, extra, 2);
    assert_int_equal(store__open_with(f->path, STORE_SYNC_NORMAL, m, n, &f->st, err, sizeof err),
                     0);
    assert_int_equal(store_schema_version(f->st), n);
    struct store_charger c;
    assert_int_equal(store_charger_get(f->st, "CP-old", &c), 0);
    store_close(f->st);
    f->st = NULL;

    /* A failing migration: clear error, nothing of it applied, earlier ones kept. */
    n = migrations_plus(m, 16, extra, 3);
    assert_int_equal(store__open_with(f->path, STORE_SYNC_NORMAL, m, n, &f->st, err, sizeof err),
                     OD_EDB);
    assert_null(f->st);
    assert_non_null(strstr(err, "migration test_extra failed"));
    assert_non_null(strstr(err, "test_t"));

    static const char *const fixed[] = {"CREATE TABLE test_t (a)", "ALTER TABLE test_t ADD b",
                                        "CREATE TABLE test_u (a)"};
    n = migrations_plus(m, 16, fixed, 3);
    assert_int_equal(store__open_with(f->path, STORE_SYNC_NORMAL, m, n, &f->st, err, sizeof err),
                     0);
    assert_int_equal(store_schema_version(f->st), n);
    assert_int_equal(store_charger_get(f->st, "CP-old", &c), 0);
}

static void test_store__unusable_path(void **state)
{
    struct fx *f = *state;
    char err[512], path[PATH_MAX + 64];
    struct store *st = NULL;

    snprintf(path, sizeof path, "%s/no/such/dir/x.db", f->dir);
    assert_true(store_open(path, STORE_SYNC_FULL, &st, err, sizeof err) < 0);
    assert_null(st);
    assert_non_null(strstr(err, path));

    /* Not a database: the file must be refused and left as it was. */
    snprintf(path, sizeof path, "%s/notes.txt", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    for (int i = 0; i < 200; i++) fputs("this is not an sqlite database file\n", fp);
    fclose(fp);
    assert_int_equal(store_open(path, STORE_SYNC_FULL, &st, err, sizeof err), OD_EDB);
    assert_null(st);
    assert_non_null(strstr(err, "not a database"));
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, 200 * 36);

    /* A directory. */
    assert_true(store_open(f->dir, STORE_SYNC_FULL, &st, err, sizeof err) < 0);
    assert_null(st);
    assert_true(err[0] != '\0');

    assert_int_equal(store_open(NULL, STORE_SYNC_FULL, &st, err, sizeof err), OD_EINVAL);
    assert_int_equal(store_open("", STORE_SYNC_FULL, &st, NULL, 0), OD_EINVAL);
}

/* ---- chargers --------------------------------------------------------------------------------- */

static void test_store__charger_crud(void **state)
{
    struct fx *f = *state;
    struct store_charger c, got;
    assert_int_equal(store_charger_get(f->st, "CP1", &got), OD_ENOTFOUND);

    make_charger(&c, "CP1");
    assert_int_equal(store_charger_put(f->st, &c), 0);
    assert_int_equal(store_charger_get(f->st, "CP1", &got), 0);
    assert_memory_equal(&got, &c, sizeof c);

    /* Replace the whole row; created_ms stays from the first put. */
    struct store_charger c2;
    make_charger(&c2, "CP1");
    SET(c2.protocol, "ocpp2.0.1");
    SET(c2.registration, "Pending");
    c2.provisioned = false;
    SET(c2.password_hash, "");
    SET(c2.vendor, "Other");
    c2.created_ms = 99999;
    c2.last_seen_ms = 3000;
    assert_int_equal(store_charger_put(f->st, &c2), 0);
    assert_int_equal(store_charger_get(f->st, "CP1", &got), 0);
    c2.created_ms = 1000;
    assert_memory_equal(&got, &c2, sizeof c2);

    /* A new row without created_ms gets a real one. */
    make_charger(&c, "CP2");
    c.created_ms = 0;
    assert_int_equal(store_charger_put(f->st, &c), 0);
    assert_int_equal(store_charger_get(f->st, "CP2", &got), 0);
    assert_true(got.created_ms > 1600000000000);

    assert_int_equal(store_charger_delete(f->st, "CP2"), 0);
    assert_int_equal(store_charger_get(f->st, "CP2", &got), OD_ENOTFOUND);
    assert_int_equal(store_charger_delete(f->st, "CP2"), OD_ENOTFOUND);

    memset(&c, 0, sizeof c);
    assert_int_equal(store_charger_put(f->st, &c), OD_EINVAL);
}

static void test_store__charger_touch(void **state)
{
    struct fx *f = *state;
    struct store_charger got;
    /* New charger: a minimal row. */
    assert_int_equal(store_charger_touch(f->st, "CPT", "ocpp1.6", 500), 0);
    assert_int_equal(store_charger_get(f->st, "CPT", &got), 0);
    assert_string_equal(got.protocol, "ocpp1.6");
    assert_string_equal(got.registration, "");
    assert_false(got.provisioned);
    assert_int_equal(got.created_ms, 500);
    assert_int_equal(got.last_seen_ms, 500);

    /* Existing charger: only last_seen and protocol change. */
    struct store_charger c;
    make_charger(&c, "CPX");
    assert_int_equal(store_charger_put(f->st, &c), 0);
    assert_int_equal(store_charger_touch(f->st, "CPX", "ocpp2.0.1", 7000), 0);
    assert_int_equal(store_charger_get(f->st, "CPX", &got), 0);
    SET(c.protocol, "ocpp2.0.1");
    c.last_seen_ms = 7000;
    assert_memory_equal(&got, &c, sizeof c);

    /* No protocol: keep the stored one. */
    assert_int_equal(store_charger_touch(f->st, "CPX", NULL, 8000), 0);
    assert_int_equal(store_charger_touch(f->st, "CPX", "", 9000), 0);
    assert_int_equal(store_charger_get(f->st, "CPX", &got), 0);
    assert_string_equal(got.protocol, "ocpp2.0.1");
    assert_int_equal(got.last_seen_ms, 9000);

    assert_int_equal(store_charger_touch(f->st, "", "ocpp1.6", 1), OD_EINVAL);
}

struct collect {
    int n;
    int stop_at; /* return 7 at this count (0 = never) */
    char ids[16][STORE_ID_LEN];
    int64_t nums[64];
};

static int collect_charger_cb(const struct store_charger *c, void *ctx)
{
    struct collect *k = ctx;
    if (k->n < 16) SET(k->ids[k->n], c->id);
    k->n++;
    return k->stop_at && k->n == k->stop_at ? 7 : 0;
}

static void test_store__charger_foreach_order_and_stop(void **state)
{
    struct fx *f = *state;
    static const char *const ids[] = {"m", "B", "a", "Z", "b2", "b10"};
    for (size_t i = 0; i < 6; i++) assert_int_equal(store_charger_touch(f->st, ids[i], "", 1), 0);

    struct collect k = {0};
    assert_int_equal(store_charger_foreach(f->st, collect_charger_cb, &k), 0);
    assert_int_equal(k.n, 6);
    /* Byte order, like the primary key. */
    static const char *const want[] = {"B", "Z", "a", "b10", "b2", "m"};
    for (int i = 0; i < 6; i++) assert_string_equal(k.ids[i], want[i]);

    memset(&k, 0, sizeof k);
    k.stop_at = 2;
    assert_int_equal(store_charger_foreach(f->st, collect_charger_cb, &k), 7);
    assert_int_equal(k.n, 2);

    /* The statement was reset: a new iteration starts from the top. */
    memset(&k, 0, sizeof k);
    assert_int_equal(store_charger_foreach(f->st, collect_charger_cb, &k), 0);
    assert_int_equal(k.n, 6);
}

/* ---- connectors --------------------------------------------------------------------------------- */

static void make_connector(struct store_connector *c, const char *cid, int evse, int conn)
{
    memset(c, 0, sizeof *c);
    SET(c->charger_id, cid);
    c->evse_id = evse;
    c->connector_id = conn;
    SET(c->status, "Available");
    SET(c->raw_status, "Available");
    SET(c->error_code, "NoError");
    SET(c->info, "info");
    SET(c->vendor_id, "vend");
    SET(c->vendor_error_code, "E0");
    c->status_ms = 100 + evse * 10 + conn;
    SET(c->availability, "Operative");
    c->updated_ms = 200;
}

static int collect_connector_cb(const struct store_connector *c, void *ctx)
{
    struct collect *k = ctx;
    if (k->n < 64) k->nums[k->n] = c->evse_id * 100 + c->connector_id;
    k->n++;
    return k->stop_at && k->n == k->stop_at ? 7 : 0;
}

static void test_store__connector_crud_and_order(void **state)
{
    struct fx *f = *state;
    struct store_connector c, got;
    assert_int_equal(store_connector_get(f->st, "CP1", 1, 1, &got), OD_ENOTFOUND);

    static const int keys[][2] = {{2, 1}, {0, 0}, {1, 2}, {1, 1}, {10, 1}};
    for (int i = 0; i < 5; i++) {
        make_connector(&c, "CP1", keys[i][0], keys[i][1]);
        assert_int_equal(store_connector_put(f->st, &c), 0);
    }
    make_connector(&c, "CP2", 1, 1);
    assert_int_equal(store_connector_put(f->st, &c), 0);

    make_connector(&c, "CP1", 1, 2);
    SET(c.status, "Charging");
    c.tx_id = 42;
    c.has_meter = true;
    c.last_meter_wh = 5555.25;
    c.last_meter_ms = 300;
    assert_int_equal(store_connector_put(f->st, &c), 0);
    assert_int_equal(store_connector_get(f->st, "CP1", 1, 2, &got), 0);
    assert_memory_equal(&got, &c, sizeof c);

    make_connector(&c, "CP1", 0, 0);
    assert_int_equal(store_connector_get(f->st, "CP1", 0, 0, &got), 0);
    assert_false(got.has_meter);
    assert_memory_equal(&got, &c, sizeof c);

    struct collect k = {0};
    assert_int_equal(store_connector_foreach(f->st, "CP1", collect_connector_cb, &k), 0);
    assert_int_equal(k.n, 5);
    static const int64_t want[] = {0, 101, 102, 201, 1001};
    for (int i = 0; i < 5; i++) assert_int_equal(k.nums[i], want[i]);

    memset(&k, 0, sizeof k);
    k.stop_at = 3;
    assert_int_equal(store_connector_foreach(f->st, "CP1", collect_connector_cb, &k), 7);
    assert_int_equal(k.n, 3);

    memset(&k, 0, sizeof k);
    assert_int_equal(store_connector_foreach(f->st, "nobody", collect_connector_cb, &k), 0);
    assert_int_equal(k.n, 0);
}

static void test_store__charger_delete_removes_connectors(void **state)
{
    struct fx *f = *state;
    struct store_connector c;
    struct store_tx tx;
    assert_int_equal(store_charger_touch(f->st, "CPD", "ocpp1.6", 1), 0);
    for (int i = 0; i < 3; i++) {
        make_connector(&c, "CPD", i, i);
        assert_int_equal(store_connector_put(f->st, &c), 0);
    }
    make_connector(&c, "Other", 1, 1);
    assert_int_equal(store_connector_put(f->st, &c), 0);
    make_tx(&tx, "CPD", 1, 1000);
    assert_int_equal(store_tx_insert(f->st, &tx), 0);

    assert_int_equal(store_charger_delete(f->st, "CPD"), 0);
    struct collect k = {0};
    assert_int_equal(store_connector_foreach(f->st, "CPD", collect_connector_cb, &k), 0);
    assert_int_equal(k.n, 0);
    assert_int_equal(store_connector_get(f->st, "Other", 1, 1, &c), 0);
    /* Transactions outlive the charger. */
    struct store_tx got;
    assert_int_equal(store_tx_get(f->st, tx.id, &got), 0);

    /* Orphan connectors of an unknown charger are still cleaned up. */
    make_connector(&c, "Ghost", 1, 1);
    assert_int_equal(store_connector_put(f->st, &c), 0);
    assert_int_equal(store_charger_delete(f->st, "Ghost"), OD_ENOTFOUND);
    assert_int_equal(store_connector_get(f->st, "Ghost", 1, 1, &c), OD_ENOTFOUND);
}

/* ---- tokens -------------------------------------------------------------------------------------- */

static int collect_token_cb(const struct store_token *t, void *ctx)
{
    struct collect *k = ctx;
    if (k->n < 16) SET(k->ids[k->n], t->id_tag);
    k->n++;
    return k->stop_at && k->n == k->stop_at ? 7 : 0;
}

static void test_store__token_crud(void **state)
{
    struct fx *f = *state;
    struct store_token t, got;
    assert_int_equal(store_token_get(f->st, "T1", &got), OD_ENOTFOUND);
    assert_int_equal(store_token_delete(f->st, "T1"), OD_ENOTFOUND);

    memset(&t, 0, sizeof t);
    SET(t.id_tag, "T1");
    SET(t.status, "Accepted");
    t.expiry_ms = 123456;
    SET(t.parent_id_tag, "PARENT");
    SET(t.type, "ISO14443");
    t.updated_ms = 77;
    assert_int_equal(store_token_put(f->st, &t), 0);
    assert_int_equal(store_token_get(f->st, "T1", &got), 0);
    assert_memory_equal(&got, &t, sizeof t);

    SET(t.status, "Blocked");
    t.expiry_ms = 0;
    SET(t.parent_id_tag, "");
    assert_int_equal(store_token_put(f->st, &t), 0);
    assert_int_equal(store_token_get(f->st, "T1", &got), 0);
    assert_memory_equal(&got, &t, sizeof t);

    SET(t.id_tag, "A0");
    assert_int_equal(store_token_put(f->st, &t), 0);
    SET(t.id_tag, "Z9");
    assert_int_equal(store_token_put(f->st, &t), 0);
    struct collect k = {0};
    assert_int_equal(store_token_foreach(f->st, collect_token_cb, &k), 0);
    assert_int_equal(k.n, 3);
    assert_string_equal(k.ids[0], "A0");
    assert_string_equal(k.ids[1], "T1");
    assert_string_equal(k.ids[2], "Z9");
    memset(&k, 0, sizeof k);
    k.stop_at = 1;
    assert_int_equal(store_token_foreach(f->st, collect_token_cb, &k), 7);
    assert_int_equal(k.n, 1);

    assert_int_equal(store_token_delete(f->st, "T1"), 0);
    assert_int_equal(store_token_get(f->st, "T1", &got), OD_ENOTFOUND);
}

/* ---- truncation -------------------------------------------------------------------------------------- */

struct last_event {
    struct store_event ev;
    char data[64];
    int n;
};

static int last_event_cb(const struct store_event *ev, void *ctx)
{
    struct last_event *l = ctx;
    l->ev = *ev;
    SET(l->data, ev->data_json);
    l->ev.data_json = NULL;
    l->n++;
    return 0;
}

static void test_store__truncates_long_strings(void **state)
{
    struct fx *f = *state;
    /* "ocpp" + 6 x U+00E9 (2 bytes each) into char[16]: 15 bytes would split the 6th
     * character, so exactly 5 survive. */
    const char *proto = "ocpp\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";
    assert_int_equal(store_charger_touch(f->st, "CPU", proto, 1), 0);
    struct store_charger c;
    assert_int_equal(store_charger_get(f->st, "CPU", &c), 0);
    assert_int_equal(strlen(c.protocol), 14);
    assert_memory_equal(c.protocol, proto, 14);

    /* An id longer than the record field: found by its full value, copied out cut to fit. */
    char long_id[80];
    memset(long_id, 'x', 70);
    long_id[70] = '\0';
    assert_int_equal(store_charger_touch(f->st, long_id, "ocpp1.6", 1), 0);
    assert_int_equal(store_charger_get(f->st, long_id, &c), 0);
    assert_int_equal(strlen(c.id), STORE_ID_LEN - 1);
    assert_memory_equal(c.id, long_id, STORE_ID_LEN - 1);

    char long_type[100];
    memset(long_type, 't', 99);
    long_type[99] = '\0';
    assert_int_equal(store_event_append(f->st, 1, long_type, long_id, NULL, NULL), 0);
    struct last_event l = {0};
    assert_int_equal(store_event_foreach(f->st, 0, 0, last_event_cb, &l), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(strlen(l.ev.type), sizeof l.ev.type - 1);
    assert_int_equal(strlen(l.ev.charger_id), STORE_ID_LEN - 1);
    assert_string_equal(l.data, "null");

    /* The helper on its own: 4-byte characters and exact fits. */
    char buf[4];
    assert_int_equal(store__copy_utf8(buf, sizeof buf, "a\xf0\x9f\x98\x80", 5), 1);
    assert_string_equal(buf, "a");
    assert_int_equal(store__copy_utf8(buf, sizeof buf, "abc", 3), 3);
    assert_string_equal(buf, "abc");
    assert_int_equal(store__copy_utf8(buf, sizeof buf, "abcd", 4), 3);
    assert_string_equal(buf, "abc");
    assert_int_equal(store__copy_utf8(buf, sizeof buf, "\xc3\xa9\xc3\xa9", 4), 2);
    assert_string_equal(buf, "\xc3\xa9");
    assert_int_equal(store__copy_utf8(buf, 0, "abc", 3), 0);
}

/* ---- transactions ------------------------------------------------------------------------------ */

static void test_store__tx_insert_get_update(void **state)
{
    struct fx *f = *state;
    struct store_tx tx, got;
    make_tx(&tx, "CP1", 1, 1000);
    tx.has_reservation = true;
    tx.reservation_id = 0; /* reservation 0 is a real id, distinct from "none" */
    assert_int_equal(store_tx_insert(f->st, &tx), 0);
    assert_true(tx.id > 0 && tx.id <= INT32_MAX);
    assert_int_equal(store_tx_get(f->st, tx.id, &got), 0);
    assert_memory_equal(&got, &tx, sizeof tx);
    assert_true(got.has_reservation);
    assert_false(got.has_meter_stop);

    struct store_tx tx2;
    make_tx(&tx2, "CP1", 2, 2000);
    tx2.has_meter_start = false;
    assert_int_equal(store_tx_insert(f->st, &tx2), 0);
    assert_true(tx2.id > tx.id);
    assert_int_equal(store_tx_get(f->st, tx2.id, &got), 0);
    assert_false(got.has_meter_start);
    assert_false(got.has_reservation);

    /* Stop it: every field round-trips; created_ms is not updatable. */
    tx.active = false;
    tx.stop_ms = 5000;
    tx.has_meter_stop = true;
    tx.meter_stop_wh = 9999.75;
    SET(tx.stop_reason, "Local");
    SET(tx.stop_id_tag, "TAG2");
    tx.flags = STORE_TX_METER_BACKWARDS | STORE_TX_SEQ_GAP | 0x80000000u;
    SET(tx.note, "closed by test");
    tx.has_energy = true;
    tx.last_energy_wh = 9999.75;
    tx.has_power = true;
    tx.last_power_w = 11000;
    tx.has_soc = true;
    tx.last_soc = 80.5;
    tx.last_meter_ms = 4900;
    tx.updated_ms = 5001;
    tx.evse_id = 3;
    assert_int_equal(store_tx_update(f->st, &tx), 0);
    assert_int_equal(store_tx_get(f->st, tx.id, &got), 0);
    assert_memory_equal(&got, &tx, sizeof tx);
    struct store_tx changed = tx;
    changed.created_ms = 1;
    assert_int_equal(store_tx_update(f->st, &changed), 0);
    assert_int_equal(store_tx_get(f->st, tx.id, &got), 0);
    assert_int_equal(got.created_ms, 1000);

    assert_int_equal(store_tx_get(f->st, 987654, &got), OD_ENOTFOUND);
    changed.id = 987654;
    assert_int_equal(store_tx_update(f->st, &changed), OD_ENOTFOUND);

    /* An explicit, taken id. */
    make_tx(&tx2, "CP1", 1, 3000);
    tx2.id = tx.id;
    assert_int_equal(store_tx_insert(f->st, &tx2), OD_EEXISTS);
}

static void test_store__tx_ids_below_2_31(void **state)
{
    struct fx *f = *state;
    struct store_tx tx, got;
    make_tx(&tx, "CP1", 1, 1);
    tx.id = (int64_t)INT32_MAX + 1;
    assert_int_equal(store_tx_insert(f->st, &tx), OD_EINVAL);
    tx.id = -5;
    assert_int_equal(store_tx_insert(f->st, &tx), OD_EINVAL);

    /* Fill the top of the range: allocation must not go past it. */
    tx.id = INT32_MAX;
    assert_int_equal(store_tx_insert(f->st, &tx), 0);
    int64_t seen[3];
    for (int i = 0; i < 3; i++) {
        make_tx(&tx, "CP1", 1, 2 + i);
        assert_int_equal(store_tx_insert(f->st, &tx), 0);
        assert_true(tx.id > 0 && tx.id < INT32_MAX);
        assert_int_equal(store_tx_get(f->st, tx.id, &got), 0);
        assert_int_equal(got.start_ms, 2 + i);
        seen[i] = tx.id;
    }
    assert_int_equal(seen[0], 1);
    assert_int_equal(seen[1], 2);
    assert_int_equal(seen[2], 3);

    /* A hole low down is found too. */
    tx.id = 5;
    assert_int_equal(store_tx_insert(f->st, &tx), 0);
    make_tx(&tx, "CP1", 1, 9);
    assert_int_equal(store_tx_insert(f->st, &tx), 0);
    assert_int_equal(tx.id, 4);
    make_tx(&tx, "CP1", 1, 9);
    assert_int_equal(store_tx_insert(f->st, &tx), 0);
    assert_int_equal(tx.id, 6);
}

static void test_store__tx_ext_id_lookup_and_unique(void **state)
{
    struct fx *f = *state;
    struct store_tx a, b, got;
    make_tx(&a, "CP1", 1, 100);
    SET(a.ext_id, "f47ac10b-58cc-4372-a567-0e02b2c3d479");
    assert_int_equal(store_tx_insert(f->st, &a), 0);
    make_tx(&b, "CP2", 1, 100);
    SET(b.ext_id, "f47ac10b-58cc-4372-a567-0e02b2c3d479"); /* same id, other charger: fine */
    assert_int_equal(store_tx_insert(f->st, &b), 0);

    assert_int_equal(store_tx_get_ext(f->st, "CP1", a.ext_id, &got), 0);
    assert_int_equal(got.id, a.id);
    assert_string_equal(got.ext_id, a.ext_id);
    assert_int_equal(store_tx_get_ext(f->st, "CP2", a.ext_id, &got), 0);
    assert_int_equal(got.id, b.id);
    assert_int_equal(store_tx_get_ext(f->st, "CP3", a.ext_id, &got), OD_ENOTFOUND);
    assert_int_equal(store_tx_get_ext(f->st, "CP1", "other", &got), OD_ENOTFOUND);

    /* Unique per charger. */
    struct store_tx dup;
    make_tx(&dup, "CP1", 2, 200);
    SET(dup.ext_id, a.ext_id);
    assert_int_equal(store_tx_insert(f->st, &dup), OD_EEXISTS);
    assert_int_equal(dup.id, 0);

    /* 1.6 rows have no ext_id, any number of them, and "" finds none of them. */
    struct store_tx v16;
    for (int i = 0; i < 3; i++) {
        make_tx(&v16, "CP1", 1, 300 + i);
        assert_int_equal(store_tx_insert(f->st, &v16), 0);
    }
    assert_int_equal(store_tx_get(f->st, v16.id, &got), 0);
    assert_string_equal(got.ext_id, "");
    assert_int_equal(store_tx_get_ext(f->st, "CP1", "", &got), OD_ENOTFOUND);
}

static void test_store__tx_find_start(void **state)
{
    struct fx *f = *state;
    struct store_tx a, b, got;
    make_tx(&a, "CP1", 1, 1000);
    assert_int_equal(store_tx_insert(f->st, &a), 0);
    make_tx(&b, "CP1", 2, 1000);
    SET(b.id_tag, "TAG9");
    b.meter_start_wh = 0;
    assert_int_equal(store_tx_insert(f->st, &b), 0);

    assert_int_equal(store_tx_find_start(f->st, "CP1", 1, "TAG1", 1234.5, 1000, &got), 0);
    assert_int_equal(got.id, a.id);
    assert_int_equal(store_tx_find_start(f->st, "CP1", 2, "TAG9", 0, 1000, &got), 0);
    assert_int_equal(got.id, b.id);

    /* Any differing value: not the same start. */
    assert_int_equal(store_tx_find_start(f->st, "CP2", 1, "TAG1", 1234.5, 1000, &got),
                     OD_ENOTFOUND);
    assert_int_equal(store_tx_find_start(f->st, "CP1", 3, "TAG1", 1234.5, 1000, &got),
                     OD_ENOTFOUND);
    assert_int_equal(store_tx_find_start(f->st, "CP1", 1, "TAG2", 1234.5, 1000, &got),
                     OD_ENOTFOUND);
    assert_int_equal(store_tx_find_start(f->st, "CP1", 1, "TAG1", 1234.0, 1000, &got),
                     OD_ENOTFOUND);
    assert_int_equal(store_tx_find_start(f->st, "CP1", 1, "TAG1", 1234.5, 1001, &got),
                     OD_ENOTFOUND);

    /* Still found once stopped (a Start repeated after its Stop). */
    a.active = false;
    a.stop_ms = 2000;
    assert_int_equal(store_tx_update(f->st, &a), 0);
    assert_int_equal(store_tx_find_start(f->st, "CP1", 1, "TAG1", 1234.5, 1000, &got), 0);
    assert_int_equal(got.id, a.id);
}

static int collect_tx_cb(const struct store_tx *tx, void *ctx)
{
    struct collect *k = ctx;
    if (k->n < 64) k->nums[k->n] = tx->id;
    k->n++;
    return k->stop_at && k->n == k->stop_at ? 7 : 0;
}

static void test_store__tx_foreach_active(void **state)
{
    struct fx *f = *state;
    struct store_tx t[6];
    /* start times out of id order, so "oldest first" is by start time */
    static const struct { const char *cid; int conn; int64_t start; bool active; } rows[] = {
        {"CP1", 1, 5000, true}, {"CP1", 2, 1000, true}, {"CP1", 1, 3000, true},
        {"CP1", 2, 500, false}, {"CP2", 1, 100, true},  {"CP1", 0, 4000, true},
    };
    for (int i = 0; i < 6; i++) {
        make_tx(&t[i], rows[i].cid, rows[i].conn, rows[i].start);
        t[i].active = rows[i].active;
        assert_int_equal(store_tx_insert(f->st, &t[i]), 0);
    }

    struct collect k = {0};
    assert_int_equal(store_tx_foreach_active(f->st, "CP1", 0, -1, collect_tx_cb, &k), 0);
    assert_int_equal(k.n, 4);
    assert_int_equal(k.nums[0], t[1].id);
    assert_int_equal(k.nums[1], t[2].id);
    assert_int_equal(k.nums[2], t[5].id);
    assert_int_equal(k.nums[3], t[0].id);

    memset(&k, 0, sizeof k);
    assert_int_equal(store_tx_foreach_active(f->st, "CP1", 1, 1, collect_tx_cb, &k), 0);
    assert_int_equal(k.n, 2);
    assert_int_equal(k.nums[0], t[2].id);
    assert_int_equal(k.nums[1], t[0].id);

    memset(&k, 0, sizeof k);
    assert_int_equal(store_tx_foreach_active(f->st, "CP1", 2, 2, collect_tx_cb, &k), 0);
    assert_int_equal(k.n, 1);
    assert_int_equal(k.nums[0], t[1].id);

    memset(&k, 0, sizeof k);
    k.stop_at = 1;
    assert_int_equal(store_tx_foreach_active(f->st, "CP1", 0, -1, collect_tx_cb, &k), 7);
    assert_int_equal(k.n, 1);

    memset(&k, 0, sizeof k);
    assert_int_equal(store_tx_foreach_active(f->st, "CP9", 0, -1, collect_tx_cb, &k), 0);
    assert_int_equal(k.n, 0);
}

/* Pages through a query with a cursor; returns the ids seen in order. */
static int query_all_pages(struct store *st, struct store_tx_query q, int64_t *ids, int cap)
{
    int n = 0;
    q.before_id = 0;
    for (;;) {
        struct collect k = {0};
        assert_int_equal(store_tx_query(st, &q, collect_tx_cb, &k), 0);
        assert_true(k.n <= q.limit);
        if (k.n == 0) break;
        for (int i = 0; i < k.n && n < cap; i++) ids[n++] = k.nums[i];
        q.before_id = k.nums[k.n - 1];
    }
    return n;
}

static void test_store__tx_query_filters_and_paging(void **state)
{
    struct fx *f = *state;
    int64_t a_ids[10], b_ids[5];
    struct store_tx tx;
    for (int i = 0; i < 15; i++) {
        bool is_a = i % 3 != 2;
        make_tx(&tx, is_a ? "A" : "B", 1, 1000 * (i + 1));
        tx.active = i % 2 == 0;
        assert_int_equal(store_tx_insert(f->st, &tx), 0);
        if (is_a) a_ids[i - i / 3] = tx.id;
        else b_ids[i / 3] = tx.id;
    }

    /* One charger, pages of 3, newest first. */
    int64_t got[32];
    struct store_tx_query q = {.charger_id = "A", .active = -1, .limit = 3};
    int n = query_all_pages(f->st, q, got, 32);
    assert_int_equal(n, 10);
    for (int i = 0; i < 10; i++) assert_int_equal(got[i], a_ids[9 - i]);

    /* All chargers. */
    q.charger_id = NULL;
    q.limit = 4;
    n = query_all_pages(f->st, q, got, 32);
    assert_int_equal(n, 15);
    for (int i = 1; i < n; i++) assert_true(got[i] < got[i - 1]);

    /* Active / stopped, combined with a charger and a since filter. */
    struct store_tx row;
    q.charger_id = "B";
    q.active = 1;
    q.limit = 100;
    n = query_all_pages(f->st, q, got, 32);
    for (int i = 0; i < n; i++) {
        assert_int_equal(store_tx_get(f->st, got[i], &row), 0);
        assert_true(row.active);
        assert_string_equal(row.charger_id, "B");
    }
    int n_active = n;
    q.active = 0;
    n = query_all_pages(f->st, q, got, 32);
    for (int i = 0; i < n; i++) {
        assert_int_equal(store_tx_get(f->st, got[i], &row), 0);
        assert_false(row.active);
    }
    assert_int_equal(n_active + n, 5);
    (void)b_ids;

    /* Open sessions of every charger (its own index). */
    q.charger_id = NULL;
    q.active = 1;
    q.limit = 3;
    n = query_all_pages(f->st, q, got, 32);
    assert_int_equal(n, 8); /* the even i of 0..14 */
    for (int i = 0; i < n; i++) {
        assert_int_equal(store_tx_get(f->st, got[i], &row), 0);
        assert_true(row.active);
        if (i) assert_true(got[i] < got[i - 1]);
    }

    q.charger_id = NULL;
    q.active = -1;
    q.since_ms = 10000;
    q.limit = 2;
    n = query_all_pages(f->st, q, got, 32);
    assert_int_equal(n, 6); /* start_ms 10000 .. 15000 */
    for (int i = 0; i < n; i++) {
        assert_int_equal(store_tx_get(f->st, got[i], &row), 0);
        assert_true(row.start_ms >= 10000);
    }

    /* limit 0: no limit; a stop from the callback is returned. */
    struct store_tx_query all = {.active = -1};
    struct collect k = {0};
    assert_int_equal(store_tx_query(f->st, &all, collect_tx_cb, &k), 0);
    assert_int_equal(k.n, 15);
    memset(&k, 0, sizeof k);
    k.stop_at = 5;
    assert_int_equal(store_tx_query(f->st, &all, collect_tx_cb, &k), 7);
    assert_int_equal(k.n, 5);
}

/* ---- meter values ---------------------------------------------------------------------------- */

struct meter_seen {
    int n;
    int64_t ts[8];
    char raw[8][16];
    bool phase_null[8];
    bool has_value[8];
    double value[8];
};

static int meter_cb(const struct store_meter_value *mv, void *ctx)
{
    struct meter_seen *m = ctx;
    assert_string_equal(mv->charger_id, "CP1");
    assert_non_null(mv->measurand);
    if (m->n < 8) {
        m->ts[m->n] = mv->timestamp_ms;
        SET(m->raw[m->n], mv->raw_value);
        m->phase_null[m->n] = mv->phase == NULL;
        m->has_value[m->n] = mv->has_value;
        m->value[m->n] = mv->value;
    }
    m->n++;
    return 0;
}

static void test_store__meter_values(void **state)
{
    struct fx *f = *state;
    assert_int_equal(store_meter_count(f->st), 0);
    struct store_meter_value mv = {
        .tx_id = 7, .charger_id = "CP1", .evse_id = 1, .connector_id = 1,
        .measurand = "Energy.Active.Import.Register", .unit = "kWh", .context = "Sample.Periodic",
        .raw_value = "1.5", .has_value = true, .value = 1500, .norm_unit = "Wh",
    };
    static const int64_t ts[] = {3000, 1000, 2000};
    for (int i = 0; i < 3; i++) {
        mv.timestamp_ms = ts[i];
        assert_int_equal(store_meter_insert(f->st, &mv), 0);
    }
    mv.phase = "L1";
    mv.raw_value = "n/a";
    mv.has_value = false;
    mv.timestamp_ms = 1500;
    assert_int_equal(store_meter_insert(f->st, &mv), 0);
    /* Not linked to a transaction. */
    mv.tx_id = 0;
    assert_int_equal(store_meter_insert(f->st, &mv), 0);
    assert_int_equal(store_meter_count(f->st), 5);

    struct meter_seen m = {0};
    assert_int_equal(store_meter_foreach_tx(f->st, 7, meter_cb, &m), 0);
    assert_int_equal(m.n, 4);
    assert_int_equal(m.ts[0], 1000);
    assert_int_equal(m.ts[1], 1500);
    assert_int_equal(m.ts[2], 2000);
    assert_int_equal(m.ts[3], 3000);
    assert_string_equal(m.raw[1], "n/a");
    assert_false(m.phase_null[1]);
    assert_false(m.has_value[1]);
    assert_true(m.phase_null[0]);
    assert_true(m.has_value[0]);
    assert_true(m.value[0] == 1500);

    memset(&m, 0, sizeof m);
    assert_int_equal(store_meter_foreach_tx(f->st, 8, meter_cb, &m), 0);
    assert_int_equal(m.n, 0);

    struct store_meter_value bad = {.charger_id = "CP1"};
    assert_int_equal(store_meter_insert(f->st, &bad), OD_EINVAL);
}

static void test_store__notice_insert(void **state)
{
    struct fx *f = *state;
    assert_int_equal(store_notice_insert(f->st, "CP1", "FirmwareStatusNotification",
                                         "{\"status\":\"Downloaded\"}", 1000), 0);
    assert_int_equal(store_notice_insert(f->st, "CP1", "DataTransfer", NULL, 1001), 0);
    assert_int_equal(store_notice_insert(f->st, NULL, "x", "{}", 1), OD_EINVAL);
}

/* ---- events ------------------------------------------------------------------------------------ */

static int collect_event_cb(const struct store_event *ev, void *ctx)
{
    struct collect *k = ctx;
    if (k->n < 64) k->nums[k->n] = ev->seq;
    if (k->n < 16) SET(k->ids[k->n], ev->charger_id);
    k->n++;
    return k->stop_at && k->n == k->stop_at ? 7 : 0;
}

static void test_store__event_seq_and_foreach(void **state)
{
    struct fx *f = *state;
    assert_int_equal(store_event_last_seq(f->st), 0);
    int64_t seq[6] = {0};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(store_event_append(f->st, 100 + i, "connector.status",
                                            i == 2 ? "" : "CP1", "{\"n\":1}", &seq[i]),
                         0);
        if (i) assert_true(seq[i] > seq[i - 1]);
    }
    assert_int_equal(store_event_last_seq(f->st), seq[4]);
    assert_int_equal(store_event_append(f->st, 1, "", NULL, NULL, NULL), OD_EINVAL);

    struct collect k = {0};
    assert_int_equal(store_event_foreach(f->st, 0, 0, collect_event_cb, &k), 0);
    assert_int_equal(k.n, 5);
    for (int i = 0; i < 5; i++) assert_int_equal(k.nums[i], seq[i]);
    assert_string_equal(k.ids[2], "");
    assert_string_equal(k.ids[3], "CP1");

    memset(&k, 0, sizeof k);
    assert_int_equal(store_event_foreach(f->st, seq[1], 2, collect_event_cb, &k), 0);
    assert_int_equal(k.n, 2);
    assert_int_equal(k.nums[0], seq[2]);
    assert_int_equal(k.nums[1], seq[3]);

    memset(&k, 0, sizeof k);
    assert_int_equal(store_event_foreach(f->st, seq[4], 10, collect_event_cb, &k), 0);
    assert_int_equal(k.n, 0);

    memset(&k, 0, sizeof k);
    k.stop_at = 2;
    assert_int_equal(store_event_foreach(f->st, 0, 0, collect_event_cb, &k), 7);
    assert_int_equal(k.n, 2);

    /* Still growing after a reopen. */
    reopen(f);
    assert_int_equal(store_event_last_seq(f->st), seq[4]);
    assert_int_equal(store_event_append(f->st, 200, "x", NULL, NULL, &seq[5]), 0);
    assert_true(seq[5] > seq[4]);
}

/* ---- batches ----------------------------------------------------------------------------------- */

static void test_store__batch_commit_persists(void **state)
{
    struct fx *f = *state;
    assert_false(store_batch_active(f->st));
    assert_int_equal(store_batch_commit(f->st), 0); /* none open */

    assert_int_equal(store_batch_begin(f->st), 0);
    assert_int_equal(store_batch_begin(f->st), 0); /* already open: joins it */
    assert_true(store_batch_active(f->st));
    assert_int_equal(store_charger_touch(f->st, "CPA", "ocpp1.6", 1), 0);
    struct store_tx tx, dup;
    make_tx(&tx, "CPA", 1, 10);
    SET(tx.ext_id, "E1");
    assert_int_equal(store_tx_insert(f->st, &tx), 0);
    /* A failed write inside a batch does not spoil the batch. */
    make_tx(&dup, "CPA", 1, 11);
    SET(dup.ext_id, "E1");
    assert_int_equal(store_tx_insert(f->st, &dup), OD_EEXISTS);
    int64_t seq = 0;
    assert_int_equal(store_event_append(f->st, 1, "charger.connected", "CPA", "{}", &seq), 0);
    assert_int_equal(store_batch_commit(f->st), 0);
    assert_false(store_batch_active(f->st));

    reopen(f);
    struct store_charger c;
    struct store_tx got;
    assert_int_equal(store_charger_get(f->st, "CPA", &c), 0);
    assert_int_equal(store_tx_get_ext(f->st, "CPA", "E1", &got), 0);
    assert_int_equal(got.id, tx.id);
    assert_int_equal(store_event_last_seq(f->st), seq);
}

static void test_store__batch_rollback_discards(void **state)
{
    struct fx *f = *state;
    struct store_charger c;
    assert_int_equal(store_charger_touch(f->st, "Keep", "ocpp1.6", 1), 0);

    assert_int_equal(store_batch_begin(f->st), 0);
    assert_int_equal(store_charger_touch(f->st, "Gone", "ocpp1.6", 1), 0);
    assert_int_equal(store_charger_delete(f->st, "Keep"), 0);
    assert_int_equal(store_charger_get(f->st, "Keep", &c), OD_ENOTFOUND);
    store_batch_rollback(f->st);
    assert_false(store_batch_active(f->st));
    store_batch_rollback(f->st); /* none open: no-op */
    assert_int_equal(store_charger_get(f->st, "Gone", &c), OD_ENOTFOUND);
    assert_int_equal(store_charger_get(f->st, "Keep", &c), 0);

    /* Closing with a batch open rolls it back. */
    assert_int_equal(store_batch_begin(f->st), 0);
    assert_int_equal(store_charger_touch(f->st, "Gone2", "ocpp1.6", 1), 0);
    assert_int_equal(store_event_append(f->st, 1, "x", NULL, NULL, NULL), 0);
    reopen(f);
    assert_int_equal(store_charger_get(f->st, "Gone2", &c), OD_ENOTFOUND);
    assert_int_equal(store_charger_get(f->st, "Keep", &c), 0);
    assert_int_equal(store_event_last_seq(f->st), 0);
}

/* ---- re-entrancy: callbacks that call back into the store ----------------------------------- */

struct nested {
    struct store *st;
    int outer, inner_total;
};

static int count_cb(const struct store_charger *c, void *ctx)
{
    (void)c;
    ++*(int *)ctx;
    return 0;
}

static int nested_cb(const struct store_charger *c, void *ctx)
{
    struct nested *n = ctx;
    n->outer++;
    int inner = 0;
    assert_int_equal(store_charger_foreach(n->st, count_cb, &inner), 0);
    n->inner_total += inner;
    assert_int_equal(store_charger_touch(n->st, c->id, "ocpp2.0.1", 99), 0);
    return 0;
}

static int close_tx_cb(const struct store_tx *tx, void *ctx)
{
    struct nested *n = ctx;
    struct store_tx t = *tx;
    t.active = false;
    t.flags |= STORE_TX_CLOSED_BY_SERVER;
    assert_int_equal(store_tx_update(n->st, &t), 0);
    n->outer++;
    return 0;
}

static void test_store__foreach_reentrant(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 4; i++) {
        char id[8];
        snprintf(id, sizeof id, "C%d", i);
        assert_int_equal(store_charger_touch(f->st, id, "ocpp1.6", 1), 0);
    }
    struct nested n = {.st = f->st};
    assert_int_equal(store_charger_foreach(f->st, nested_cb, &n), 0);
    assert_int_equal(n.outer, 4);
    assert_int_equal(n.inner_total, 16);
    struct store_charger c;
    assert_int_equal(store_charger_get(f->st, "C3", &c), 0);
    assert_string_equal(c.protocol, "ocpp2.0.1");

    /* Closing zombies from inside foreach_active. */
    struct store_tx tx;
    for (int i = 0; i < 3; i++) {
        make_tx(&tx, "C0", 1, 10 + i);
        assert_int_equal(store_tx_insert(f->st, &tx), 0);
    }
    memset(&n, 0, sizeof n);
    n.st = f->st;
    assert_int_equal(store_tx_foreach_active(f->st, "C0", 0, -1, close_tx_cb, &n), 0);
    assert_int_equal(n.outer, 3);
    struct collect k = {0};
    assert_int_equal(store_tx_foreach_active(f->st, "C0", 0, -1, collect_tx_cb, &k), 0);
    assert_int_equal(k.n, 0);
}

static int touch_each_cb(const struct store_charger *c, void *ctx)
{
    struct nested *n = ctx;
    n->outer++;
    /* Rows may be rewritten (and new ones inserted) under the iteration. */
    assert_int_equal(store_charger_touch(n->st, c->id, "ocpp2.0.1", 1000 + n->outer), 0);
    return 0;
}

static int connector_unavailable_cb(const struct store_connector *c, void *ctx)
{
    struct nested *n = ctx;
    struct store_connector u = *c;
    SET(u.status, "Unavailable");
    assert_int_equal(store_connector_put(n->st, &u), 0);
    n->outer++;
    return 0;
}

/* Iterations longer than one internal page, with ids longer than the record field (so the
 * next page must start from the stored key, not the truncated copy) and writes in between. */
static void test_store__foreach_many_rows(void **state)
{
    struct fx *f = *state;
    char id[80];
    for (int i = 0; i < 40; i++) {
        snprintf(id, sizeof id, "%s-%02d", i % 2 ? "short" : "a-very-long-charger-identifier-"
                                                              "well-past-the-field-size", i);
        assert_int_equal(store_charger_touch(f->st, id, "ocpp1.6", 1), 0);
    }
    struct collect k = {0};
    assert_int_equal(store_charger_foreach(f->st, collect_charger_cb, &k), 0);
    assert_int_equal(k.n, 40);
    struct nested n = {.st = f->st};
    assert_int_equal(store_charger_foreach(f->st, touch_each_cb, &n), 0);
    assert_int_equal(n.outer, 40);

    struct store_connector c;
    for (int e = 0; e < 7; e++)
        for (int cn = 0; cn < 5; cn++) {
            make_connector(&c, "CPM", e, cn);
            assert_int_equal(store_connector_put(f->st, &c), 0);
        }
    memset(&n, 0, sizeof n);
    n.st = f->st;
    assert_int_equal(store_connector_foreach(f->st, "CPM", connector_unavailable_cb, &n), 0);
    assert_int_equal(n.outer, 35);
    memset(&k, 0, sizeof k);
    assert_int_equal(store_connector_foreach(f->st, "CPM", collect_connector_cb, &k), 0);
    assert_int_equal(k.n, 35);
    for (int i = 1; i < 35; i++) assert_true(k.nums[i] > k.nums[i - 1]);
    assert_int_equal(store_connector_get(f->st, "CPM", 6, 4, &c), 0);
    assert_string_equal(c.status, "Unavailable");

    /* Transactions: same start time everywhere, so the id breaks the ties across pages. */
    struct store_tx tx;
    for (int i = 0; i < 37; i++) {
        make_tx(&tx, "CPM", 1, i < 20 ? 500 : 100);
        assert_int_equal(store_tx_insert(f->st, &tx), 0);
    }
    memset(&k, 0, sizeof k);
    assert_int_equal(store_tx_foreach_active(f->st, "CPM", 1, 1, collect_tx_cb, &k), 0);
    assert_int_equal(k.n, 37);
    assert_int_equal(k.nums[0], 21); /* first of the start_ms = 100 group */
    assert_int_equal(k.nums[17], 1);
    for (int i = 1; i < 37; i++)
        if (i != 17) assert_true(k.nums[i] == k.nums[i - 1] + 1);
    memset(&n, 0, sizeof n);
    n.st = f->st;
    assert_int_equal(store_tx_foreach_active(f->st, "CPM", 0, -1, close_tx_cb, &n), 0);
    assert_int_equal(n.outer, 37);

    /* A query limit that is not a multiple of the page size. */
    struct store_tx_query q = {.charger_id = "CPM", .active = 0, .limit = 20};
    memset(&k, 0, sizeof k);
    assert_int_equal(store_tx_query(f->st, &q, collect_tx_cb, &k), 0);
    assert_int_equal(k.n, 20);
    for (int i = 0; i < 20; i++) assert_int_equal(k.nums[i], 37 - i);
}

static void test_store__ping_and_checkpoint(void **state)
{
    struct fx *f = *state;
    assert_true(store_ping(f->st));
    for (int i = 0; i < 50; i++) assert_int_equal(store_charger_touch(f->st, "CP", "", i), 0);
    store_checkpoint(f->st);
    assert_int_equal(store_batch_begin(f->st), 0);
    store_checkpoint(f->st); /* skipped inside a batch */
    assert_true(store_ping(f->st));
    assert_int_equal(store_batch_commit(f->st), 0);
    assert_true(store_ping(f->st));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
#define TO(name) cmocka_unit_test_setup_teardown(name, fx_setup_open, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_store__open_fresh_file_migrates_and_persists),
        T(test_store__memory_database),
        T(test_store__newer_schema_refused),
        T(test_store__upgrade_in_place),
        T(test_store__unusable_path),
        TO(test_store__charger_crud),
        TO(test_store__charger_touch),
        TO(test_store__charger_foreach_order_and_stop),
        TO(test_store__connector_crud_and_order),
        TO(test_store__charger_delete_removes_connectors),
        TO(test_store__token_crud),
        TO(test_store__truncates_long_strings),
        TO(test_store__tx_insert_get_update),
        TO(test_store__tx_ids_below_2_31),
        TO(test_store__tx_ext_id_lookup_and_unique),
        TO(test_store__tx_find_start),
        TO(test_store__tx_foreach_active),
        TO(test_store__tx_query_filters_and_paging),
        TO(test_store__meter_values),
        TO(test_store__notice_insert),
        TO(test_store__event_seq_and_foreach),
        TO(test_store__batch_commit_persists),
        TO(test_store__batch_rollback_discards),
        TO(test_store__foreach_reentrant),
        TO(test_store__foreach_many_rows),
        TO(test_store__ping_and_checkpoint),
    };
#undef T
#undef TO
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
