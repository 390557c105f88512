/*
 * load.h — internals of ocpp-load, an open-loop OCPP-J load generator (1.6, 2.0.1 or half of
 * each) (not a library).
 *
 * main.c    options, worker processes, the measurement window (/proc of --pid), merging the
 *           workers' reports and printing the summary (text or one JSON line).
 * worker.c  one worker process: a libuv loop with libwebsockets clients for its share of the
 *           chargers, the ramp, the open-loop scheduler and the reply matching.
 * hist.c    a fixed-size log-linear histogram of microsecond values (about 3 % resolution), so
 *           percentiles never need the samples themselves.
 * scrape.c  the server's event loop lag histogram read from its /metrics at the window's ends.
 *
 * Time is CLOCK_MONOTONIC in microseconds everywhere; it is the same clock in every process, so
 * the parent can hand the workers absolute deadlines.
 */
#ifndef OCPP_LOAD_H
#define OCPP_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- histogram (hist.c) ------------------------------------------------------------------- */

#define HIST_SUB_BITS 5
#define HIST_LINEAR 64 /* values below this have their own bucket */
#define HIST_BUCKETS (HIST_LINEAR + 36 * (1 << HIST_SUB_BITS))

struct hist {
    uint64_t count;
    uint64_t max;
    uint64_t sum;
    uint64_t b[HIST_BUCKETS];
};

void hist_add(struct hist *h, uint64_t v);
void hist_merge(struct hist *into, const struct hist *from);
/* The value at quantile q (0..1): the upper edge of the bucket holding it; 0 when empty. */
uint64_t hist_quantile(const struct hist *h, double q);

/* ---- server loop lag (scrape.c) ------------------------------------------------------------ */

#define LOAD_LAG_BUCKETS 40

/* One reading of ocppd_loop_lag_seconds (cumulative buckets, +Inf last) and its max gauge. */
struct load_lag_sample {
    bool ok;
    int nbuckets;
    double le[LOAD_LAG_BUCKETS];
    uint64_t cum[LOAD_LAG_BUCKETS];
    uint64_t count;
    double max_s;               /* largest lag since the server started */
};

/* The loop lag between two samples. */
struct load_lag {
    bool ok;
    uint64_t ticks;
    double p50_s, p99_s;        /* upper bounds of the buckets holding them */
    double max_s;               /* exact if max_exact, else the upper bound of its bucket */
    bool max_exact;
    double max_since_start_s;
};

/* GETs url (http://host:port/metrics) and reads the loop lag lines; .ok false on any failure. */
struct load_lag_sample load_scrape_lag(const char *url);
struct load_lag load_lag_window(const struct load_lag_sample *a, const struct load_lag_sample *b);

/* ---- settings ------------------------------------------------------------------------------ */

/* Which OCPP version a run speaks; LOAD_PROTO_MIX gives even-numbered chargers 1.6 and odd ones
 * 2.0.1. */
enum load_proto { LOAD_PROTO_16, LOAD_PROTO_201, LOAD_PROTO_MIX };

/* Command-line settings; strings point into argv or static defaults. */
struct load_config {
    const char *url;        /* base URL; "/<id>" is appended per charger */
    const char *protocol;   /* ocpp1.6, ocpp2.0.1 or mix (parsed into proto) */
    const char *metrics_url; /* the server's /metrics, for its loop lag; NULL = not read */
    const char *id_prefix;  /* charger ids are <prefix><index> */
    const char *ack_log;    /* JSON lines of acknowledged tx messages, or NULL */
    long chargers;
    long ramp;              /* connections per second over all workers; 0 = all at once */
    double rate;            /* messages per second over all workers in the steady phase */
    long duration_s;
    long pid;               /* server pid for /proc sampling, 0 = none */
    long workers;
    long src_addrs;         /* source addresses 127.0.0.1 .. 127.0.0.<src_addrs> */
    long meter_count;       /* MeterValues per transaction */
    long connect_timeout_s; /* the ramp phase ends at the latest this long after its schedule */
    long drain_s;           /* after the steady phase, wait this long for late replies */
    bool json;
    bool transactions;
    enum load_proto proto;
    uint32_t run_id;        /* makes 2.0.1 transaction ids unique across runs */
};

/* ---- worker report --------------------------------------------------------------------------- */

/* Error kinds, one counter each. */
#define LOAD_ERRORS(X)                                                                         \
    X(connect_failed, "TCP or handshake failure before the WebSocket opened")                  \
    X(refused, "the server answered the handshake with an HTTP status")                        \
    X(closed, "an open connection closed during the run")                                      \
    X(boot_rejected, "BootNotification not Accepted")                                          \
    X(callerror, "CALLERROR received")                                                         \
    X(timeout, "no reply by the end of the drain")                                             \
    X(unmatched, "a reply whose id matches nothing sent")                                      \
    X(overrun, "too many replies outstanding on one charger: message not sent")               \
    X(no_charger, "a scheduled message found no ready charger")                                \
    X(bad_frame, "a frame that is not an OCPP-J reply")

enum load_error {
#define X(name, help) LOAD_ERR_##name,
    LOAD_ERRORS(X)
#undef X
    LOAD_ERR_COUNT
};

/* What one worker sends its parent over a pipe at the end, as raw bytes. */
struct load_report {
    uint64_t chargers;          /* assigned to this worker */
    uint64_t connected;         /* WebSocket open at the start of the steady phase */
    uint64_t booted;            /* BootNotification accepted */
    uint64_t connected_end;     /* still open at the end */
    int64_t first_connect_us;   /* earliest connect attempt */
    int64_t last_open_us;       /* latest handshake completion */
    uint64_t sent;              /* steady-phase CALLs sent */
    uint64_t results;           /* steady-phase CALLRESULTs */
    uint64_t setup_msgs;        /* boot/status messages of the ramp, answered */
    uint64_t errors[LOAD_ERR_COUNT];
    uint64_t by_action[8];      /* steady-phase CALLs sent per action (enum load_action) */
    uint64_t send_lag_max_us;   /* how late the scheduler itself was (client overload) */
    uint64_t nofile_soft, nofile_hard;
    struct hist rtt;            /* µs from scheduled send to reply */
    struct hist connect;        /* µs from connect attempt to WebSocket open */
};

enum load_action {
    LOAD_A_BOOT,
    LOAD_A_HEARTBEAT,
    LOAD_A_STATUS,
    LOAD_A_START,
    LOAD_A_METER,
    LOAD_A_STOP,
    LOAD_A_TX_EVENT,        /* 2.0.1 TransactionEvent (Started, Updated or Ended) */
    LOAD_A_COUNT
};
extern const char *const load_action_names[LOAD_A_COUNT];

/* Control pipe messages from the parent: the absolute steady-phase start, in µs. */
struct load_go {
    int64_t steady_us;
};

/* Runs worker index w of cfg->workers (in a child process). ready_fd gets one byte when the
 * ramp is over, go_fd then delivers a struct load_go, report_fd receives the struct
 * load_report. Never returns. */
void load_worker_run(const struct load_config *cfg, int w, int ready_fd, int go_fd,
                     int report_fd, int64_t t0_us) __attribute__((noreturn));

int64_t load_now_us(void);
/* Raises RLIMIT_NOFILE's soft limit to the hard one; reports both. */
void load_raise_nofile(uint64_t *soft, uint64_t *hard);

#endif
