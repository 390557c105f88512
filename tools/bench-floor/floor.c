/*
 * floor.c — bench-floor: the transport floor for tools/bench. A bare libwebsockets server on a
 * libuv loop, set up like ocppd's listener (same lws version, event library and UTF-8
 * validation), that answers every OCPP-J CALL with one canned CALLRESULT. It has no JSON
 * parser, no schema validation, no state and no storage: what it costs per message is what any
 * CSMS on this stack must pay before doing OCPP work, so ocppd's cost can be stated as a multiple
 * of it. Not a CSMS: never point a real charger at it.
 *
 * usage: bench-floor [--listen PORT]   (binds 127.0.0.1 only; SIGINT/SIGTERM exit)
 */
#include <libwebsockets.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

/* One payload fits every action ocpp-load sends: Boot reads status, Start reads transactionId. */
#define FLOOR_PAYLOAD                                                                          \
    "{\"status\":\"Accepted\",\"currentTime\":\"2026-01-01T00:00:00Z\",\"interval\":300,"      \
    "\"transactionId\":1,\"idTagInfo\":{\"status\":\"Accepted\"}}"
#define FLOOR_ID_MAX 40
#define FLOOR_QUEUE 32 /* unanswered CALLs per connection; more closes it */

/* Per-connection state, allocated by lws: a ring of unique ids waiting for WRITEABLE. */
struct floor_session {
    char ids[FLOOR_QUEUE][FLOOR_ID_MAX + 1];
    unsigned head, count;
    char rx_id[FLOOR_ID_MAX + 1]; /* id of the message being received */
};

/* The unique id of a CALL: the second element, a string. Returns false if there is none. */
static bool floor_unique_id(const char *m, size_t len, char *id)
{
    const char *end = m + len;
    const char *q = memchr(m, '"', len);
    if (!q) return false;
    const char *q2 = memchr(q + 1, '"', (size_t)(end - q - 1));
    if (!q2 || q2 - q - 1 > FLOOR_ID_MAX) return false;
    memcpy(id, q + 1, (size_t)(q2 - q - 1));
    id[q2 - q - 1] = '\0';
    return true;
}

static int floor_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len)
{
    struct floor_session *s = user;
    switch (reason) {
    case LWS_CALLBACK_RECEIVE: {
        if (!s) return -1;
        /* The id is in the first fragment; the rest of the message is not looked at. */
        if (lws_is_first_fragment(wsi) && !floor_unique_id(in, len, s->rx_id)) s->rx_id[0] = 0;
        if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi)) return 0;
        if (!s->rx_id[0]) return 0;
        if (s->count == FLOOR_QUEUE) return -1;
        memcpy(s->ids[(s->head + s->count) % FLOOR_QUEUE], s->rx_id, sizeof s->rx_id);
        s->count++;
        lws_callback_on_writable(wsi);
        return 0;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE: {
        if (!s || !s->count) return 0;
        unsigned char buf[LWS_PRE + 256];
        int n = snprintf((char *)buf + LWS_PRE, sizeof buf - LWS_PRE, "[3,\"%s\",%s]",
                         s->ids[s->head], FLOOR_PAYLOAD);
        s->head = (s->head + 1) % FLOOR_QUEUE;
        s->count--;
        if (lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_TEXT) < n) return -1;
        if (s->count) lws_callback_on_writable(wsi);
        return 0;
    }
    default:
        return 0;
    }
}

static const struct lws_protocols floor_protocols[] = {
    {"http", lws_callback_http_dummy, 0, 0, 0, NULL, 0},
    {"ocpp1.6", floor_callback, sizeof(struct floor_session), 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void floor_signal_cb(uv_signal_t *h, int signum)
{
    (void)signum;
    uv_stop(h->loop);
}

int main(int argc, char **argv)
{
    int port = 8190;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            port = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: bench-floor [--listen PORT]\n");
            return 2;
        }
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        fprintf(stderr, "bench-floor: open file limit soft=%llu hard=%llu\n",
                (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
    }
    signal(SIGPIPE, SIG_IGN);
    lws_set_log_level(LLL_ERR, NULL);

    uv_loop_t loop;
    uv_loop_init(&loop);
    void *loops[1] = {&loop};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = port;
    info.iface = "127.0.0.1";
    info.protocols = floor_protocols;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_VALIDATE_UTF8 |
                   LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN;
    info.foreign_loops = loops;
    info.timeout_secs = 10;
    info.max_http_header_pool = 256;
    struct lws_context *ctx = lws_create_context(&info);
    if (!ctx) {
        fprintf(stderr, "bench-floor: cannot listen on 127.0.0.1:%d\n", port);
        return 1;
    }
    uv_signal_t sig_int, sig_term;
    uv_signal_init(&loop, &sig_int);
    uv_signal_init(&loop, &sig_term);
    uv_signal_start(&sig_int, floor_signal_cb, SIGINT);
    uv_signal_start(&sig_term, floor_signal_cb, SIGTERM);
    fprintf(stderr, "bench-floor ready port=%d\n", port);
    uv_run(&loop, UV_RUN_DEFAULT);
    /* A measurement tool: the process exits and the kernel closes the sockets. */
    return 0;
}
