/*
 * main.c — ocppd's entry point: settings, file-descriptor limit, store, loop, server, loop lag.
 */
#include "config.h"
#include "log.h"
#include "looplag.h"
#include "od.h"
#include "server.h"
#include "store.h"
#include "timeutil.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

/* Every charger is a descriptor: take all the kernel allows this process. */
static void raise_nofile_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    rlim_t before = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) rl.rlim_cur = before;
    }
    LOG_INFO("open file limit soft=%llu hard=%llu (was %llu)", (unsigned long long)rl.rlim_cur,
             (unsigned long long)rl.rlim_max, (unsigned long long)before);
}

static int seed_tokens(struct store *st, const struct config *cfg)
{
    for (size_t i = 0; i < cfg->ntokens; i++) {
        struct store_token t;
        memset(&t, 0, sizeof t);
        snprintf(t.id_tag, sizeof t.id_tag, "%s", cfg->tokens[i].id_tag);
        snprintf(t.status, sizeof t.status, "%s", cfg->tokens[i].status);
        snprintf(t.parent_id_tag, sizeof t.parent_id_tag, "%s", cfg->tokens[i].parent_id_tag);
        t.expiry_ms = cfg->tokens[i].expiry_ms;
        t.updated_ms = od_now_ms();
        int rc = store_token_put(st, &t);
        if (rc) return rc;
    }
    return 0;
}

/* The loop lag timer leaves once shutdown starts: server.c waits for foreign handles to go. */
static bool main_server_stopping(void *arg)
{
    return ((const struct server *)arg)->stopping;
}

int main(int argc, char **argv)
{
    struct config cfg;
    char err[512] = "";
    config_defaults(&cfg);
    int rc = config_parse_args(&cfg, argc, argv, err, sizeof err);
    if (rc == 1) return 0;
    if (rc) {
        fprintf(stderr, "ocppd: %s\n", err);
        config_free(&cfg);
        return 2;
    }
    log_set_level(cfg.log_level);
    signal(SIGPIPE, SIG_IGN);
    raise_nofile_limit();

    struct store *st = NULL;
    rc = store_open(cfg.db_path, cfg.db_sync, &st, err, sizeof err);
    if (rc) {
        fprintf(stderr, "ocppd: cannot use database '%s': %s\n", cfg.db_path, err);
        config_free(&cfg);
        return 1;
    }
    if ((rc = seed_tokens(st, &cfg))) {
        fprintf(stderr, "ocppd: cannot store the configured tokens: %s\n", od_strerror(rc));
        store_close(st);
        config_free(&cfg);
        return 1;
    }
    LOG_INFO("ocppd %s database=%s schema_version=%d", OD_VERSION, cfg.db_path,
             store_schema_version(st));

    uv_loop_t loop;
    uv_loop_init(&loop);
    struct server srv;
    server_init(&srv, &loop, &cfg, st);
    struct looplag lag;
    looplag_init(&lag, &loop, LOOPLAG_INTERVAL_MS);
    srv.looplag = &lag;
    if ((rc = server_start(&srv, err, sizeof err))) {
        fprintf(stderr, "ocppd: %s\n", err);
        srv.exit_code = 1;
        looplag_close(&lag); /* never started: do not leave it for shutdown to wait on */
        server_shutdown(&srv);
    } else if (cfg.admin_token_generated) {
        /* Printed once so the operator can use it; it is never logged afterwards. */
        printf("ocppd: generated admin token: %s\n", cfg.admin_token);
        fflush(stdout);
    }
    if (!rc) looplag_start(&lag, main_server_stopping, &srv);
    uv_run(&loop, UV_RUN_DEFAULT);
    looplag_close(&lag);
    uv_run(&loop, UV_RUN_NOWAIT); /* its close callback */
    LOG_INFO("loop lag ticks=%llu p99_ms=%.1f max_ms=%.1f", (unsigned long long)lag.lag.count,
             metrics_hist_quantile(&lag.lag, 0.99) * 1e3, lag.lag.max * 1e3);
    int exit_code = srv.exit_code;
    server_close(&srv);
    store_close(st);
    if (uv_loop_close(&loop) != 0) LOG_WARN("event loop closed with handles still open");
    config_free(&cfg);
    return exit_code;
}
