/*
 * bench-fanout.c — event fan-out benchmark client: N admin WebSocket sessions each call
 * events.subscribe on ocppd, then count the event notifications they receive over a window and
 * how late each arrives (receive wall clock minus the event's own "time", which ocppd stamps
 * when the event is stored, so the lag includes the commit that must precede publication).
 *
 *   bench-fanout --url ws://127.0.0.1:8181/admin --token T [--subscribers 100] [--duration 8]
 *                [--pid SERVER_PID]
 *
 * The window starts once every session is subscribed (or has been refused). With --pid it also
 * samples the server's CPU time over the window. --subscribers 0 just samples the server, for a
 * baseline under the same charger load. Prints one JSON line. Exit 0 when the run completed,
 * 1 on failure, 2 on a bad command line. Not part of ocppd; run by tools/bench (row fanout).
 */
#include "timeutil.h"

#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define FO_MAX_SUBSCRIBERS 1000
#define FO_LAG_SLOTS 10000 /* one per ms; later arrivals go to the last slot */
#define FO_MAX_MESSAGE (1 << 20)

struct fo_session {
    struct lws *wsi;
    bool subscribed, refused, closed, sent;
    char *rx;
    size_t rx_len;
};

struct fo {
    const char *token;
    long nsubs, duration_s, pid;
    char host[256], path[512];
    int port;
    struct fo_session s[FO_MAX_SUBSCRIBERS];
    long settled;                 /* subscribed, refused or closed */
    bool counting;
    uint64_t events, bad;
    uint64_t lag_ms[FO_LAG_SLOTS];
    int64_t lag_max_ms;
};

static struct fo fo;

static int64_t fo_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double fo_cpu_s(long pid)
{
    if (!pid) return -1;
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* This process's own CPU seconds: if it nears the window, the client is what limits the rate
 * and the lag. */
static double fo_self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void fo_settle(struct fo_session *s)
{
    (void)s;
    fo.settled++;
}

/* One complete text message: the subscribe answer or an event notification. */
static void fo_message(struct fo_session *s, char *m)
{
    if (!s->subscribed && strstr(m, "\"subscribed\":true")) {
        s->subscribed = true;
        fo_settle(s);
        return;
    }
    if (!fo.counting || !strstr(m, "\"method\":\"event\"")) return;
    char *t = strstr(m, "\"time\":\"");
    int64_t at;
    char *q = t ? strchr(t + 8, '"') : NULL;
    if (!q) {
        fo.bad++;
        return;
    }
    *q = '\0';
    if (od_time_parse(t + 8, &at, NULL)) {
        fo.bad++;
        return;
    }
    int64_t lag = od_now_ms() - at;
    if (lag < 0) lag = 0;
    fo.lag_ms[lag < FO_LAG_SLOTS ? lag : FO_LAG_SLOTS - 1]++;
    if (lag > fo.lag_max_ms) fo.lag_max_ms = lag;
    fo.events++;
}

static int fo_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    (void)user;
    struct fo_session *s = lws_get_opaque_user_data(wsi);
    if (!s) return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        s->wsi = wsi;
        lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
        if (s->sent) break;
        static const char req[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"events.subscribe\"}";
        unsigned char buf[LWS_PRE + sizeof req];
        memcpy(buf + LWS_PRE, req, sizeof req - 1);
        if (lws_write(wsi, buf + LWS_PRE, sizeof req - 1, LWS_WRITE_TEXT) < 0) return -1;
        s->sent = true;
        break;
    }
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (s->rx_len + len + 1 > FO_MAX_MESSAGE) return -1;
        s->rx = realloc(s->rx, s->rx_len + len + 1);
        if (!s->rx) abort();
        memcpy(s->rx + s->rx_len, in, len);
        s->rx_len += len;
        if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi)) break;
        s->rx[s->rx_len] = '\0';
        fo_message(s, s->rx);
        s->rx_len = 0;
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (!s->subscribed && !s->refused) {
            s->refused = true;
            fo_settle(s);
        }
        s->wsi = NULL;
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (!s->subscribed && !s->refused) fo_settle(s);
        s->closed = true;
        s->wsi = NULL;
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols fo_protocols[] = {
    {"bench-fanout", fo_callback, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static uint64_t fo_quantile_ms(double q)
{
    uint64_t rank = (uint64_t)(q * (double)fo.events), cum = 0;
    if ((double)rank < q * (double)fo.events || rank == 0) rank++;
    for (int i = 0; i < FO_LAG_SLOTS; i++)
        if ((cum += fo.lag_ms[i]) >= rank) return (uint64_t)i;
    return (uint64_t)fo.lag_max_ms;
}

static void fo_lws_log(int level, const char *line)
{
    (void)level;
    (void)line;
}

static int fo_usage(void)
{
    fputs("usage: bench-fanout --url ws://HOST:PORT/admin --token T [--subscribers N] "
          "[--duration S] [--pid PID]\n", stderr);
    return 2;
}

int main(int argc, char **argv)
{
    const char *url = NULL;
    fo.nsubs = 100;
    fo.duration_s = 8;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--url") == 0) url = argv[i + 1];
        else if (strcmp(argv[i], "--token") == 0) fo.token = argv[i + 1];
        else if (strcmp(argv[i], "--subscribers") == 0) fo.nsubs = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--duration") == 0) fo.duration_s = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--pid") == 0) fo.pid = atol(argv[i + 1]);
        else return fo_usage();
    }
    if (argc % 2 == 0 || !url || !fo.token || fo.nsubs < 0 || fo.nsubs > FO_MAX_SUBSCRIBERS ||
        fo.duration_s < 1)
        return fo_usage();
    char *u = strdup(url);
    const char *scheme, *addr, *path;
    if (!u || lws_parse_uri(u, &scheme, &addr, &fo.port, &path) || strcmp(scheme, "ws") != 0)
        return fo_usage();
    snprintf(fo.host, sizeof fo.host, "%s", addr);
    /* The token goes in the query, as browsers send it: no custom header code needed. */
    snprintf(fo.path, sizeof fo.path, "/%s?token=%s", path, fo.token);
    free(u);
    signal(SIGPIPE, SIG_IGN);

    lws_set_log_level(LLL_ERR, fo_lws_log);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = fo_protocols;
    info.gid = -1;
    info.uid = -1;
    struct lws_context *ctx = lws_create_context(&info);
    if (!ctx) return 1;
    char hosthdr[300];
    snprintf(hosthdr, sizeof hosthdr, "%s:%d", fo.host, fo.port);
    for (long i = 0; i < fo.nsubs; i++) {
        struct lws_client_connect_info cc;
        memset(&cc, 0, sizeof cc);
        cc.context = ctx;
        cc.address = fo.host;
        cc.port = fo.port;
        cc.path = fo.path;
        cc.host = hosthdr;
        cc.origin = hosthdr;
        cc.local_protocol_name = fo_protocols[0].name;
        cc.opaque_user_data = &fo.s[i];
        if (!lws_client_connect_via_info(&cc) && !fo.s[i].refused) {
            fo.s[i].refused = true;
            fo_settle(&fo.s[i]);
        }
    }
    int64_t give_up = fo_mono_ms() + 10000;
    while (fo.settled < fo.nsubs && fo_mono_ms() < give_up) lws_service(ctx, 0);
    long subscribed = 0, refused = 0;
    for (long i = 0; i < fo.nsubs; i++) {
        subscribed += fo.s[i].subscribed;
        refused += !fo.s[i].subscribed;
    }
    fo.counting = true;
    double cpu0 = fo_cpu_s(fo.pid), self0 = fo_self_cpu_s();
    int64_t t0 = fo_mono_ms(), end = t0 + fo.duration_s * 1000;
    if (fo.nsubs) {
        while (fo_mono_ms() < end) lws_service(ctx, 0);
    } else {
        usleep((useconds_t)fo.duration_s * 1000000u);
    }
    double cpu1 = fo_cpu_s(fo.pid), self1 = fo_self_cpu_s();
    double win = (double)(fo_mono_ms() - t0) / 1e3;
    long dropped = 0;
    for (long i = 0; i < fo.nsubs; i++) dropped += fo.s[i].subscribed && fo.s[i].closed;
    double cpu = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;
    printf("{\"subscribers\":%ld,\"subscribed\":%ld,\"refused\":%ld,\"dropped\":%ld,"
           "\"window_s\":%.3f,\"events\":%llu,\"events_per_s\":%.0f,\"bad\":%llu,"
           "\"lag_ms\":{\"p50\":%llu,\"p99\":%llu,\"max\":%lld},\"server_cpu_s\":%.3f,"
           "\"server_cpu_pct\":%.1f,\"client_cpu_pct\":%.1f}\n",
           fo.nsubs, subscribed, refused, dropped, win, (unsigned long long)fo.events,
           (double)fo.events / win, (unsigned long long)fo.bad,
           (unsigned long long)fo_quantile_ms(0.5), (unsigned long long)fo_quantile_ms(0.99),
           (long long)fo.lag_max_ms, cpu, cpu >= 0 ? cpu * 100 / win : -1.0,
           (self1 - self0) * 100 / win);
    /* Exit without an orderly close of every session: the server sees them go at once. */
    fflush(stdout);
    _exit(0);
}
