/*
 * main.c — ocpp-load's entry point (load.h): the option table, the worker processes, the
 * measurement window and the summary.
 *
 * The parent forks --workers children, each with its share of the chargers. When every worker
 * says its ramp is over, the parent picks one absolute start for the steady phase, samples the
 * server (--pid: utime+stime and VmRSS from /proc; --metrics-url: its event loop lag histogram)
 * at its start and end, then merges the workers' reports. Exit status: 0 the run completed (errors are reported, not fatal), 1 a worker
 * failed, 2 bad command line.
 */
#include "load.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum opt_type { OPT_STR, OPT_LONG, OPT_DOUBLE, OPT_FLAG, OPT_HELP };

struct opt {
    const char *name;
    enum opt_type type;
    size_t offset;
    double min, max;
    const char *arg;
    const char *help;
};

#define CFG(f) offsetof(struct load_config, f)

static const struct opt load_opts[] = {
    {"--url", OPT_STR, CFG(url), 0, 0, "URL", "CSMS base URL; /<id> is appended (ws:// only)"},
    {"--chargers", OPT_LONG, CFG(chargers), 1, 1000000, "N", "simulated chargers (default 100)"},
    {"--protocol", OPT_STR, CFG(protocol), 0, 0, "P",
     "ocpp1.6, ocpp2.0.1, or mix (even-numbered chargers 1.6, odd ones 2.0.1; default ocpp1.6)"},
    {"--ramp", OPT_LONG, CFG(ramp), 0, 1000000, "PER_S",
     "new connections per second, 0 = all at once (default 1000)"},
    {"--rate", OPT_DOUBLE, CFG(rate), 0, 10000000, "MSGS_PER_S",
     "steady-phase CALLs per second over all chargers (default 100)"},
    {"--duration", OPT_LONG, CFG(duration_s), 0, 86400, "S", "steady phase length (default 10)"},
    {"--pid", OPT_LONG, CFG(pid), 0, 1 << 30, "PID", "server process to sample in /proc"},
    {"--metrics-url", OPT_STR, CFG(metrics_url), 0, 0, "URL",
     "server /metrics (http://127.0.0.1:8181/metrics): report its event loop lag in the window"},
    {"--workers", OPT_LONG, CFG(workers), 1, 64, "W", "worker processes (default 1)"},
    {"--src-addrs", OPT_LONG, CFG(src_addrs), 1, 64, "K",
     "spread source addresses over 127.0.0.1..127.0.0.K (default: 1 per 20,000 chargers)"},
    {"--transactions", OPT_FLAG, CFG(transactions), 0, 0, NULL,
     "mix in transactions: 1.6 Preparing, Start, Charging, MeterValues, Stop, Finishing, "
     "Available; 2.0.1 Occupied, TransactionEvent Started, Updated, Ended, Available "
     "(otherwise heartbeats and status changes)"},
    {"--meter-count", OPT_LONG, CFG(meter_count), 0, 1000, "N",
     "MeterValues per transaction (default 4)"},
    {"--ack-log", OPT_STR, CFG(ack_log), 0, 0, "FILE",
     "append one JSON line per acknowledged StartTransaction, MeterValues, StopTransaction "
     "(1.6 chargers only)"},
    {"--id-prefix", OPT_STR, CFG(id_prefix), 0, 0, "S", "charger id prefix (default LOAD)"},
    {"--connect-timeout", OPT_LONG, CFG(connect_timeout_s), 1, 3600, "S",
     "the ramp may overrun its schedule by this much (default 30)"},
    {"--drain", OPT_LONG, CFG(drain_s), 0, 600, "S",
     "wait for late replies after the steady phase (default 5)"},
    {"--json", OPT_FLAG, CFG(json), 0, 0, NULL, "print one JSON line instead of text"},
    {"--help", OPT_HELP, 0, 0, 0, NULL, "show this help"},
};

static void load_usage(FILE *out)
{
    fputs("usage: ocpp-load --url ws://127.0.0.1:8180/ocpp [options]\n"
          "Open-loop OCPP-J load: CALLs go out on schedule whatever the replies do, and RTT\n"
          "is measured from the scheduled time.\n\noptions:\n", out);
    for (size_t i = 0; i < sizeof load_opts / sizeof *load_opts; i++) {
        const struct opt *o = &load_opts[i];
        char head[64];
        snprintf(head, sizeof head, "%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(out, "  %-26s %s\n", head, o->help);
    }
}

static int load_parse_args(struct load_config *cfg, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const struct opt *o = NULL;
        for (size_t k = 0; k < sizeof load_opts / sizeof *load_opts; k++)
            if (strcmp(argv[i], load_opts[k].name) == 0) o = &load_opts[k];
        if (!o) {
            fprintf(stderr, "ocpp-load: unknown option '%s' (try --help)\n", argv[i]);
            return 2;
        }
        char *field = (char *)cfg + o->offset;
        if (o->type == OPT_HELP) {
            load_usage(stdout);
            return 1;
        }
        if (o->type == OPT_FLAG) {
            *(bool *)field = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "ocpp-load: %s needs a value\n", o->name);
            return 2;
        }
        const char *v = argv[++i];
        if (o->type == OPT_STR) {
            *(const char **)field = v;
            continue;
        }
        char *end;
        errno = 0;
        double d = strtod(v, &end);
        if (errno || end == v || *end || d < o->min || d > o->max ||
            (o->type == OPT_LONG && d != floor(d))) {
            fprintf(stderr, "ocpp-load: %s: '%s' is not a number in %g..%g\n", o->name, v, o->min,
                    o->max);
            return 2;
        }
        if (o->type == OPT_LONG) *(long *)field = (long)d;
        else *(double *)field = d;
    }
    return 0;
}

/* ---- /proc sampling ------------------------------------------------------------------------- */

struct proc_sample {
    bool ok;
    double cpu_s;     /* utime + stime */
    long rss_kib;
};

static struct proc_sample proc_read(long pid)
{
    struct proc_sample s = {0};
    if (!pid) return s;
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return s;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the ")" that ends the command name: state is field 3, utime 14, stime 15. */
    char *p = strrchr(buf, ')');
    if (!p) return s;
    unsigned long long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return s;
    s.cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    f = fopen(path, "r");
    if (!f) return s;
    while (fgets(buf, sizeof buf, f))
        if (sscanf(buf, "VmRSS: %ld", &s.rss_kib) == 1) break;
    fclose(f);
    s.ok = true;
    return s;
}

static void sleep_until_us(int64_t t)
{
    for (;;) {
        int64_t d = t - load_now_us();
        if (d <= 0) return;
        struct timespec ts = {.tv_sec = d / 1000000, .tv_nsec = (d % 1000000) * 1000};
        nanosleep(&ts, NULL);
    }
}

static int read_full(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ---- report --------------------------------------------------------------------------------- */

struct load_result {
    struct load_report r;       /* merged */
    struct proc_sample base, steady, end;
    struct load_lag lag;        /* server loop lag over the steady phase (--metrics-url) */
    double steady_s;            /* actual window length */
    double ramp_s;              /* first connect attempt to last handshake */
    bool ramp_complete;
};

static void load_print(const struct load_config *cfg, const struct load_result *res)
{
    const struct load_report *r = &res->r;
    double win = res->steady_s > 0 ? res->steady_s : 1;
    double cpu = res->end.ok && res->steady.ok ? res->end.cpu_s - res->steady.cpu_s : -1;
    double cpu_us_msg = cpu >= 0 && r->results ? cpu * 1e6 / (double)r->results : -1;
    long rss_delta = res->steady.ok && res->base.ok ? res->steady.rss_kib - res->base.rss_kib : 0;
    double per_charger = r->connected ? (double)rss_delta * 1024.0 / (double)r->connected : 0;
    double conn_rate = res->ramp_s > 0 ? (double)r->connected / res->ramp_s : 0;
    uint64_t errs = 0;
    for (int i = 0; i < LOAD_ERR_COUNT; i++) errs += r->errors[i];
    static const char *const err_names[] = {
#define X(name, help) #name,
        LOAD_ERRORS(X)
#undef X
    };
    if (cfg->json) {
        printf("{\"protocol\":\"%s\",\"chargers\":%ld,\"workers\":%ld,\"src_addrs\":%ld,\"rate\":%.0f,"
               "\"duration_s\":%.3f,\"transactions\":%s,\"connected\":%llu,\"booted\":%llu,"
               "\"connected_end\":%llu,\"ramp_s\":%.3f,\"ramp_complete\":%s,"
               "\"connect_per_s\":%.0f,\"connect_us\":{\"p50\":%llu,\"p99\":%llu,\"max\":%llu},"
               "\"sent\":%llu,\"results\":%llu,\"achieved_per_s\":%.1f,\"errors\":{",
               cfg->protocol, cfg->chargers, cfg->workers, cfg->src_addrs, cfg->rate, res->steady_s,
               cfg->transactions ? "true" : "false", (unsigned long long)r->connected,
               (unsigned long long)r->booted, (unsigned long long)r->connected_end, res->ramp_s,
               res->ramp_complete ? "true" : "false", conn_rate,
               (unsigned long long)hist_quantile(&r->connect, 0.5),
               (unsigned long long)hist_quantile(&r->connect, 0.99),
               (unsigned long long)r->connect.max, (unsigned long long)r->sent,
               (unsigned long long)r->results, (double)r->results / win);
        for (int i = 0; i < LOAD_ERR_COUNT; i++)
            printf("%s\"%s\":%llu", i ? "," : "", err_names[i], (unsigned long long)r->errors[i]);
        printf("},\"by_action\":{");
        for (int i = 0; i < LOAD_A_COUNT; i++)
            printf("%s\"%s\":%llu", i ? "," : "", load_action_names[i],
                   (unsigned long long)r->by_action[i]);
        printf("},\"rtt_us\":{\"p50\":%llu,\"p99\":%llu,\"p999\":%llu,\"max\":%llu,"
               "\"mean\":%.0f},\"send_lag_max_us\":%llu",
               (unsigned long long)hist_quantile(&r->rtt, 0.5),
               (unsigned long long)hist_quantile(&r->rtt, 0.99),
               (unsigned long long)hist_quantile(&r->rtt, 0.999), (unsigned long long)r->rtt.max,
               r->rtt.count ? (double)r->rtt.sum / (double)r->rtt.count : 0.0,
               (unsigned long long)r->send_lag_max_us);
        if (cfg->metrics_url && res->lag.ok)
            printf(",\"loop_lag_ms\":{\"ticks\":%llu,\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f,"
                   "\"max_exact\":%s,\"max_since_start\":%.1f}",
                   (unsigned long long)res->lag.ticks, res->lag.p50_s * 1e3, res->lag.p99_s * 1e3,
                   res->lag.max_s * 1e3, res->lag.max_exact ? "true" : "false",
                   res->lag.max_since_start_s * 1e3);
        else if (cfg->metrics_url)
            printf(",\"loop_lag_ms\":null");
        if (cfg->pid)
            printf(",\"server\":{\"pid\":%ld,\"cpu_s\":%.3f,\"cpu_pct\":%.1f,"
                   "\"cpu_us_per_msg\":%.1f,\"rss_base_kib\":%ld,\"rss_kib\":%ld,"
                   "\"rss_end_kib\":%ld,\"rss_per_charger_bytes\":%.0f}",
                   cfg->pid, cpu, cpu >= 0 ? cpu * 100 / win : -1.0, cpu_us_msg,
                   res->base.rss_kib, res->steady.rss_kib, res->end.rss_kib, per_charger);
        printf("}\n");
        return;
    }
    printf("chargers %ld over %ld worker(s), %ld source address(es); nofile soft=%llu "
           "hard=%llu per worker\n",
           cfg->chargers, cfg->workers, cfg->src_addrs, (unsigned long long)r->nofile_soft,
           (unsigned long long)r->nofile_hard);
    printf("connected %llu (booted %llu, still open at end %llu) in %.3f s = %.0f/s%s; "
           "handshake p50 %.2f ms p99 %.2f ms max %.2f ms\n",
           (unsigned long long)r->connected, (unsigned long long)r->booted,
           (unsigned long long)r->connected_end, res->ramp_s, conn_rate,
           res->ramp_complete ? "" : " (ramp timed out)",
           hist_quantile(&r->connect, 0.5) / 1e3, hist_quantile(&r->connect, 0.99) / 1e3,
           r->connect.max / 1e3);
    printf("steady %.3f s at %.0f/s target: sent %llu, CALLRESULT %llu = %.1f/s\n", res->steady_s,
           cfg->rate, (unsigned long long)r->sent, (unsigned long long)r->results,
           (double)r->results / win);
    printf("rtt p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms  (scheduler lag max "
           "%.3f ms)\n",
           hist_quantile(&r->rtt, 0.5) / 1e3, hist_quantile(&r->rtt, 0.99) / 1e3,
           hist_quantile(&r->rtt, 0.999) / 1e3, r->rtt.max / 1e3, r->send_lag_max_us / 1e3);
    printf("errors %llu:", (unsigned long long)errs);
    for (int i = 0; i < LOAD_ERR_COUNT; i++)
        if (r->errors[i]) printf(" %s=%llu", err_names[i], (unsigned long long)r->errors[i]);
    printf("\n");
    if (cfg->metrics_url && res->lag.ok)
        printf("server loop lag over %llu ticks: p50 %.1f ms  p99 %.1f ms  max %s%.1f ms  (max "
               "since server start %.1f ms)\n",
               (unsigned long long)res->lag.ticks, res->lag.p50_s * 1e3, res->lag.p99_s * 1e3,
               res->lag.max_exact ? "" : "<= ", res->lag.max_s * 1e3,
               res->lag.max_since_start_s * 1e3);
    else if (cfg->metrics_url)
        printf("server loop lag: not available from %s\n", cfg->metrics_url);
    if (cfg->pid) {
        printf("server pid %ld: cpu %.3f s (%.1f %% of one core), %.1f us/msg; rss before %ld "
               "KiB, after ramp %ld KiB, end %ld KiB; %.0f bytes per charger\n",
               cfg->pid, cpu, cpu >= 0 ? cpu * 100 / win : -1.0, cpu_us_msg, res->base.rss_kib,
               res->steady.rss_kib, res->end.rss_kib, per_charger);
    }
}

int main(int argc, char **argv)
{
    struct load_config cfg = {
        .url = "ws://127.0.0.1:8180/ocpp", .protocol = "ocpp1.6", .id_prefix = "LOAD",
        .chargers = 100, .ramp = 1000, .rate = 100, .duration_s = 10, .workers = 1,
        .meter_count = 4, .connect_timeout_s = 30, .drain_s = 5,
    };
    int rc = load_parse_args(&cfg, argc, argv);
    if (rc) return rc == 1 ? 0 : 2;
    static const struct {
        const char *name;
        enum load_proto proto;
    } protos[] = {{"ocpp1.6", LOAD_PROTO_16}, {"ocpp2.0.1", LOAD_PROTO_201}, {"mix", LOAD_PROTO_MIX}};
    size_t pi = 0;
    while (pi < sizeof protos / sizeof *protos && strcmp(cfg.protocol, protos[pi].name) != 0) pi++;
    if (pi == sizeof protos / sizeof *protos) {
        fprintf(stderr, "ocpp-load: --protocol '%s': want ocpp1.6, ocpp2.0.1 or mix\n",
                cfg.protocol);
        return 2;
    }
    cfg.proto = protos[pi].proto;
    cfg.run_id = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16);
    if (cfg.workers > cfg.chargers) cfg.workers = cfg.chargers;
    if (!cfg.src_addrs) cfg.src_addrs = 1 + (cfg.chargers - 1) / 20000;
    signal(SIGPIPE, SIG_IGN);

    uint64_t soft = 0, hard = 0;
    load_raise_nofile(&soft, &hard);
    long per_worker = (cfg.chargers + cfg.workers - 1) / cfg.workers;
    fprintf(stderr, "ocpp-load: open file limit soft=%llu hard=%llu (per process); %ld "
            "chargers per worker\n", (unsigned long long)soft, (unsigned long long)hard,
            per_worker);
    if ((uint64_t)per_worker + 64 > soft) {
        fprintf(stderr, "ocpp-load: %ld chargers per worker exceed the descriptor limit %llu: "
                "use more --workers\n", per_worker, (unsigned long long)soft);
        return 2;
    }

    struct load_result res;
    memset(&res, 0, sizeof res);
    res.base = proc_read(cfg.pid);
    if (cfg.pid && !res.base.ok) {
        fprintf(stderr, "ocpp-load: cannot read /proc/%ld\n", cfg.pid);
        return 2;
    }

    int64_t t0 = load_now_us() + 100000;
    int ready_fd[64], go_fd[64], report_fd[64];
    pid_t pids[64];
    for (long w = 0; w < cfg.workers; w++) {
        int rp[2], gp[2], pp[2];
        if (pipe(rp) || pipe(gp) || pipe(pp)) {
            perror("ocpp-load: pipe");
            return 1;
        }
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            perror("ocpp-load: fork");
            return 1;
        }
        if (pid == 0) {
            close(rp[0]);
            close(gp[1]);
            close(pp[0]);
            load_worker_run(&cfg, (int)w, rp[1], gp[0], pp[1], t0);
        }
        close(rp[1]);
        close(gp[0]);
        close(pp[1]);
        pids[w] = pid;
        ready_fd[w] = rp[0];
        go_fd[w] = gp[1];
        report_fd[w] = pp[0];
    }

    /* Ramp: wait until every worker has connected and booted its share (or given up). */
    res.ramp_complete = true;
    for (long w = 0; w < cfg.workers; w++) {
        char b = 0;
        if (read_full(ready_fd[w], &b, 1)) {
            fprintf(stderr, "ocpp-load: worker %ld died during the ramp\n", w);
            return 1;
        }
        if (b != 'r') res.ramp_complete = false;
    }
    struct load_go go = {.steady_us = load_now_us() + 200000};
    for (long w = 0; w < cfg.workers; w++)
        if (write(go_fd[w], &go, sizeof go) != (ssize_t)sizeof go) return 1;
    sleep_until_us(go.steady_us);
    res.steady = proc_read(cfg.pid);
    struct load_lag_sample lag0 = load_scrape_lag(cfg.metrics_url);
    int64_t end = go.steady_us + (int64_t)cfg.duration_s * 1000000;
    sleep_until_us(end);
    res.end = proc_read(cfg.pid);
    struct load_lag_sample lag1 = load_scrape_lag(cfg.metrics_url);
    res.lag = load_lag_window(&lag0, &lag1);
    res.steady_s = (double)(load_now_us() - go.steady_us) / 1e6;
    if (res.steady_s > (double)cfg.duration_s + 0.05 && cfg.duration_s)
        res.steady_s = (double)cfg.duration_s; /* sampling late by a few ms changes nothing */

    int failed = 0;
    int64_t first = 0, last = 0;
    for (long w = 0; w < cfg.workers; w++) {
        static struct load_report wr;
        if (read_full(report_fd[w], &wr, sizeof wr)) {
            fprintf(stderr, "ocpp-load: worker %ld sent no report\n", w);
            failed = 1;
            continue;
        }
        struct load_report *m = &res.r;
        m->chargers += wr.chargers;
        m->connected += wr.connected;
        m->booted += wr.booted;
        m->connected_end += wr.connected_end;
        m->sent += wr.sent;
        m->results += wr.results;
        m->setup_msgs += wr.setup_msgs;
        for (int i = 0; i < LOAD_ERR_COUNT; i++) m->errors[i] += wr.errors[i];
        for (int i = 0; i < LOAD_A_COUNT; i++) m->by_action[i] += wr.by_action[i];
        if (wr.send_lag_max_us > m->send_lag_max_us) m->send_lag_max_us = wr.send_lag_max_us;
        m->nofile_soft = wr.nofile_soft;
        m->nofile_hard = wr.nofile_hard;
        hist_merge(&m->rtt, &wr.rtt);
        hist_merge(&m->connect, &wr.connect);
        if (wr.first_connect_us && (!first || wr.first_connect_us < first))
            first = wr.first_connect_us;
        if (wr.last_open_us > last) last = wr.last_open_us;
    }
    for (long w = 0; w < cfg.workers; w++) {
        int st = 0;
        waitpid(pids[w], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) failed = 1;
    }
    res.ramp_s = first && last > first ? (double)(last - first) / 1e6 : 0;
    load_print(&cfg, &res);
    return failed;
}
