/* fixture.c — see fixture.h. */
#include "fixture.h"

#include "ws.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>

struct fixture *fixture_new(bool auto_register, bool accept_unknown)
{
    return fixture_new_at(":memory:", STORE_SYNC_NORMAL, auto_register, accept_unknown);
}

struct fixture *fixture_new_at(const char *path, enum store_sync sync, bool auto_register,
                               bool accept_unknown)
{
    struct fixture *f = calloc(1, sizeof *f);
    char err[256];
    uv_loop_init(&f->loop);
    config_defaults(&f->cfg);
    f->cfg.auto_register = auto_register;
    f->cfg.accept_unknown_tokens = accept_unknown;
    assert_int_equal(store_open(path, sync, &f->st, err, sizeof err), 0);
    server_init(&f->srv, &f->loop, &f->cfg, f->st);
    f->c = conn_open(&f->srv, NULL, "CP1", OCPP_V16, "unit-test");
    server_commit(&f->srv);
    return f;
}

static void close_cb(uv_handle_t *h)
{
    (void)h;
}

void fixture_free(struct fixture *f)
{
    if (f->c) conn_on_closed(f->c);
    server_commit(&f->srv);
    uv_close((uv_handle_t *)&f->srv.commit_check, close_cb);
    uv_close((uv_handle_t *)&f->srv.tick_timer, close_cb);
    uv_close((uv_handle_t *)&f->srv.shutdown_timer, close_cb);
    uv_close((uv_handle_t *)&f->srv.sig_int, close_cb);
    uv_close((uv_handle_t *)&f->srv.sig_term, close_cb);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    server_close(&f->srv);
    store_close(f->st);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    config_free(&f->cfg);
    free(f);
}

json_t *fixture_next_frame(struct fixture *f)
{
    struct conn_frame *out = conn_next_frame(f->c);
    if (!out) return NULL;
    json_error_t jerr;
    json_t *j = json_loadb(out->block + WS_HEADROOM, out->len, 0, &jerr);
    assert_non_null(j);
    conn_frame_free(out);
    return j;
}
