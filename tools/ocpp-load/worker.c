/*
 * worker.c — one ocpp-load worker process (load.h): its chargers, their WebSocket clients on a
 * libuv loop shared with libwebsockets, and the open-loop scheduler.
 *
 * Phases: ramp (connect the share of chargers at the configured pace, each sends
 * BootNotification then StatusNotification Available, in its own OCPP version), then, from the parent's absolute start
 * time, the steady phase: message k of this worker is due at start + k / rate and goes to the
 * next ready charger in turn, whether or not earlier replies have arrived (open loop). Its RTT is
 * measured from that due time, so a server that falls behind shows it in the percentiles rather
 * than slowing the generator down. After the steady phase a short drain collects late replies;
 * whatever is still outstanding counts as a timeout. The worker then writes its report and exits
 * without closing sockets one by one (the kernel closes them; ocppd sees them go all at once).
 *
 * The transaction mix per version: 1.6 sends StatusNotification Preparing, StartTransaction
 * (and waits for its transactionId), Charging, MeterValues x N, StopTransaction, Finishing,
 * Available, Heartbeat; 2.0.1 sends StatusNotification Occupied, TransactionEvent Started (the
 * charger names the transaction, so nothing to wait for), Updated x N with a meter reading,
 * Ended, StatusNotification Available, Heartbeat.
 */
#include "load.h"

#include "mem.h"

#include <errno.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define LW_PENDING_MAX 16   /* replies outstanding per charger before we stop sending to it */
#define LW_TICK_MS 1        /* scheduler resolution */
#define LW_MAX_MESSAGE 65536

const char *const load_action_names[LOAD_A_COUNT] = {
    "BootNotification", "Heartbeat", "StatusNotification", "StartTransaction", "MeterValues",
    "StopTransaction", "TransactionEvent",
};

enum lw_state { LW_IDLE, LW_CONNECTING, LW_BOOTING, LW_STATUS, LW_READY, LW_GONE };

/* Where a charger is in its message mix. */
enum lw_step {
    ST_PREPARING, ST_START, ST_STARTING, ST_CHARGING, ST_METER, ST_STOP, ST_FINISHING,
    ST_AVAILABLE, ST_HEARTBEAT,
};

struct lw_pending {
    uint32_t seq;       /* 0 = free slot */
    uint8_t action;     /* enum load_action */
    bool steady;        /* counted in the steady-phase figures */
    int64_t due_us;
    int64_t value;      /* meter value sent (MeterValues/Stop) or meterStart */
    int64_t tx_id;      /* the charger's transaction when sent (a reply may come after the
                         * next transaction has started) */
};

struct lw_out {
    struct lw_out *next;
    size_t len;
    unsigned char buf[]; /* LWS_PRE headroom, then the text */
};

/* One simulated charger. Owned by the worker's array. */
struct lw_charger {
    struct lws *wsi;
    long index;
    char id[40];
    char path[96];
    enum lw_state state;
    enum lw_step step;
    int64_t connect_us;
    uint32_t next_seq;
    int npending;
    struct lw_pending pending[LW_PENDING_MAX];
    struct lw_out *head, *tail;
    unsigned char *rx;
    size_t rx_len, rx_cap;
    int64_t tx_id;       /* 0: none */
    int64_t meter_wh;
    int meters_left;
    bool alt;            /* without --transactions: alternates Preparing/Available */
    bool v201;           /* speaks OCPP 2.0.1 (else 1.6) */
    uint32_t tx_count;   /* 2.0.1: transactions started, part of the next transactionId */
    int seq_no;          /* 2.0.1: next TransactionEvent seqNo of the running transaction */
    char tx_ext[40];     /* 2.0.1: the running transaction's id, named by the charger (at most
                          * 36 characters: run, charger index and count in hex) */
    bool settled;        /* the ramp is over for it: ready, or failed for good */
};

struct lw_worker {
    const struct load_config *cfg;
    int w;
    uv_loop_t loop;
    uv_timer_t tick;
    struct lws_context *ctx;
    struct lw_charger *ch;
    long nch;
    long next_connect;       /* next charger to connect */
    long rr;                 /* round-robin position for the scheduler */
    long nready, nopen;
    long nsettled;           /* chargers whose ramp is over (struct lw_charger.settled) */
    long steady_pending;     /* steady-phase CALLs without a reply yet */
    bool counted_connected;
    char *address;           /* parsed from the URL */
    char *base_path;
    char host_hdr[300];
    char src[64][16];        /* source address strings */
    int port;
    int64_t t0_us;
    double rate;             /* this worker's share */
    double connect_rate;
    int64_t ramp_deadline_us;
    int64_t steady_us, end_us, drain_end_us;
    uint64_t next_msg;       /* index of the next scheduled message */
    bool ready_sent, go_received;
    int ready_fd, go_fd, report_fd, ack_fd;
    char now_iso[32];
    int64_t now_iso_sec;
    struct load_report rep;
};

static struct lw_worker *lw_self; /* one per process: lws callbacks reach it through this */

int64_t load_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void load_raise_nofile(uint64_t *soft, uint64_t *hard)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t before = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) rl.rlim_cur = before;
    }
    *soft = rl.rlim_cur;
    *hard = rl.rlim_max;
}

/* The wall clock as OCPP date-time, recomputed at most once a second. */
static const char *lw_iso_now(struct lw_worker *W)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != W->now_iso_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        strftime(W->now_iso, sizeof W->now_iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
        W->now_iso_sec = ts.tv_sec;
    }
    return W->now_iso;
}

static void lw_error(struct lw_worker *W, enum load_error e)
{
    W->rep.errors[e]++;
}

static void lw_settle(struct lw_worker *W, struct lw_charger *c)
{
    if (c->settled) return;
    c->settled = true;
    W->nsettled++;
}

/* ---- sending ------------------------------------------------------------------------------ */

static void lw_queue(struct lw_charger *c, const char *text, size_t len)
{
    struct lw_out *o = xmalloc(sizeof *o + LWS_PRE + len);
    o->next = NULL;
    o->len = len;
    memcpy(o->buf + LWS_PRE, text, len);
    if (c->tail) c->tail->next = o;
    else c->head = o;
    c->tail = o;
    if (c->wsi) lws_callback_on_writable(c->wsi);
}

static void lw_free_queue(struct lw_charger *c)
{
    while (c->head) {
        struct lw_out *o = c->head;
        c->head = o->next;
        free(o);
    }
    c->tail = NULL;
}

/* Sends one CALL; returns false (and counts an overrun) when the pending table is full. */
static bool lw_call(struct lw_worker *W, struct lw_charger *c, enum load_action a, bool steady,
                    int64_t due_us, int64_t value, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static bool lw_call(struct lw_worker *W, struct lw_charger *c, enum load_action a, bool steady,
                    int64_t due_us, int64_t value, const char *fmt, ...)
{
    struct lw_pending *slot = NULL;
    for (int i = 0; i < LW_PENDING_MAX; i++) {
        if (!c->pending[i].seq) {
            slot = &c->pending[i];
            break;
        }
    }
    if (!slot) {
        lw_error(W, LOAD_ERR_overrun);
        return false;
    }
    if (++c->next_seq == 0) c->next_seq = 1;
    slot->seq = c->next_seq;
    slot->action = (uint8_t)a;
    slot->steady = steady;
    slot->due_us = due_us;
    slot->value = value;
    slot->tx_id = c->tx_id;
    c->npending++;
    if (steady) W->steady_pending++;

    char payload[1024];
    va_list ap;
    va_start(ap, fmt);
    int plen = vsnprintf(payload, sizeof payload, fmt, ap);
    va_end(ap);
    if (plen < 0 || (size_t)plen >= sizeof payload) plen = 0;
    char text[1152];
    int n = snprintf(text, sizeof text, "[2,\"%u\",\"%s\",%.*s]", slot->seq,
                     load_action_names[a], plen, payload);
    lw_queue(c, text, (size_t)n);
    if (steady) {
        W->rep.sent++;
        W->rep.by_action[a]++;
    }
    return true;
}

/* status in 1.6 words; 2.0.1 chargers report Available or Occupied (plugged in). */
static void lw_status(struct lw_worker *W, struct lw_charger *c, bool steady, int64_t due,
                      const char *status)
{
    if (c->v201) {
        lw_call(W, c, LOAD_A_STATUS, steady, due, 0,
                "{\"timestamp\":\"%s\",\"connectorStatus\":\"%s\",\"evseId\":1,"
                "\"connectorId\":1}",
                lw_iso_now(W), strcmp(status, "Available") == 0 ? "Available" : "Occupied");
        return;
    }
    lw_call(W, c, LOAD_A_STATUS, steady, due, 0,
            "{\"connectorId\":1,\"errorCode\":\"NoError\",\"status\":\"%s\",\"timestamp\":\"%s\"}",
            status, lw_iso_now(W));
}

/* A 2.0.1 TransactionEvent of c's running transaction with one energy reading. */
static bool lw_tx_event(struct lw_worker *W, struct lw_charger *c, int64_t due, const char *type,
                        const char *trigger, const char *context)
{
    bool started = strcmp(type, "Started") == 0, ended = strcmp(type, "Ended") == 0;
    char extra[160] = "";
    if (started)
        snprintf(extra, sizeof extra,
                 ",\"idToken\":{\"idToken\":\"LOAD%06ld\",\"type\":\"ISO14443\"},"
                 "\"evse\":{\"id\":1,\"connectorId\":1}",
                 c->index % 1000000);
    const char *now = lw_iso_now(W);
    return lw_call(W, c, LOAD_A_TX_EVENT, true, due, c->meter_wh,
                   "{\"eventType\":\"%s\",\"timestamp\":\"%s\",\"triggerReason\":\"%s\","
                   "\"seqNo\":%d,\"transactionInfo\":{\"transactionId\":\"%s\","
                   "\"chargingState\":\"%s\"%s}%s,\"meterValue\":[{\"timestamp\":\"%s\","
                   "\"sampledValue\":[{\"value\":%lld,\"context\":\"%s\",\"measurand\":"
                   "\"Energy.Active.Import.Register\",\"unitOfMeasure\":{\"unit\":\"Wh\"}}]}]}",
                   type, now, trigger, c->seq_no++, c->tx_ext, ended ? "Idle" : "Charging",
                   ended ? ",\"stoppedReason\":\"Local\"" : "", extra, now,
                   (long long)c->meter_wh, context);
}

/* The next message of a 2.0.1 charger's transaction mix (see the file comment). */
static void lw_send_next_v201(struct lw_worker *W, struct lw_charger *c, int64_t due)
{
    switch (c->step) {
    case ST_PREPARING:
        lw_status(W, c, true, due, "Preparing");
        c->step = ST_START;
        break;
    case ST_START:
        c->meter_wh += 10;
        c->seq_no = 0;
        snprintf(c->tx_ext, sizeof c->tx_ext, "%08x-%lx-%x", (unsigned)W->cfg->run_id,
                 (unsigned long)c->index, (unsigned)++c->tx_count);
        if (lw_tx_event(W, c, due, "Started", "Authorized", "Transaction.Begin")) {
            c->meters_left = (int)W->cfg->meter_count;
            c->step = c->meters_left ? ST_METER : ST_STOP;
        }
        break;
    case ST_METER:
        c->meter_wh += 100;
        if (lw_tx_event(W, c, due, "Updated", "MeterValuePeriodic", "Sample.Periodic") &&
            --c->meters_left <= 0)
            c->step = ST_STOP;
        break;
    case ST_STOP:
        c->meter_wh += 100;
        if (lw_tx_event(W, c, due, "Ended", "StopAuthorized", "Transaction.End"))
            c->step = ST_AVAILABLE;
        break;
    case ST_AVAILABLE:
        lw_status(W, c, true, due, "Available");
        c->step = ST_HEARTBEAT;
        break;
    case ST_HEARTBEAT:
    default: /* 1.6-only steps are never reached */
        lw_call(W, c, LOAD_A_HEARTBEAT, true, due, 0, "{}");
        c->step = ST_PREPARING;
        break;
    }
}

/* The next message of c's mix, due at due_us. */
static void lw_send_next(struct lw_worker *W, struct lw_charger *c, int64_t due)
{
    if (W->cfg->transactions && c->v201) {
        lw_send_next_v201(W, c, due);
        return;
    }
    if (!W->cfg->transactions) {
        /* Heartbeats with a status change every other message. */
        if ((c->next_seq & 1) == 0) {
            lw_call(W, c, LOAD_A_HEARTBEAT, true, due, 0, "{}");
        } else {
            c->alt = !c->alt;
            lw_status(W, c, true, due, c->alt ? "Preparing" : "Available");
        }
        return;
    }
    switch (c->step) {
    case ST_PREPARING:
        lw_status(W, c, true, due, "Preparing");
        c->step = ST_START;
        break;
    case ST_START:
        c->meter_wh += 10;
        if (lw_call(W, c, LOAD_A_START, true, due, c->meter_wh,
                    "{\"connectorId\":1,\"idTag\":\"LOAD%06ld\",\"meterStart\":%lld,"
                    "\"timestamp\":\"%s\"}",
                    c->index % 1000000, (long long)c->meter_wh, lw_iso_now(W)))
            c->step = ST_STARTING;
        break;
    case ST_STARTING: /* the transactionId is not back yet: keep the schedule with a heartbeat */
        lw_call(W, c, LOAD_A_HEARTBEAT, true, due, 0, "{}");
        break;
    case ST_CHARGING:
        lw_status(W, c, true, due, "Charging");
        c->step = ST_METER;
        c->meters_left = (int)W->cfg->meter_count;
        if (!c->meters_left) c->step = ST_STOP;
        break;
    case ST_METER:
        c->meter_wh += 100;
        if (lw_call(W, c, LOAD_A_METER, true, due, c->meter_wh,
                    "{\"connectorId\":1,\"transactionId\":%lld,\"meterValue\":[{\"timestamp\":"
                    "\"%s\",\"sampledValue\":[{\"value\":\"%lld\",\"measurand\":"
                    "\"Energy.Active.Import.Register\",\"unit\":\"Wh\",\"context\":"
                    "\"Sample.Periodic\"}]}]}",
                    (long long)c->tx_id, lw_iso_now(W), (long long)c->meter_wh) &&
            --c->meters_left <= 0)
            c->step = ST_STOP;
        break;
    case ST_STOP:
        c->meter_wh += 100;
        if (lw_call(W, c, LOAD_A_STOP, true, due, c->meter_wh,
                    "{\"transactionId\":%lld,\"meterStop\":%lld,\"timestamp\":\"%s\","
                    "\"reason\":\"Local\"}",
                    (long long)c->tx_id, (long long)c->meter_wh, lw_iso_now(W)))
            c->step = ST_FINISHING;
        break;
    case ST_FINISHING:
        lw_status(W, c, true, due, "Finishing");
        c->step = ST_AVAILABLE;
        break;
    case ST_AVAILABLE:
        lw_status(W, c, true, due, "Available");
        c->step = ST_HEARTBEAT;
        break;
    case ST_HEARTBEAT:
        lw_call(W, c, LOAD_A_HEARTBEAT, true, due, 0, "{}");
        c->step = ST_PREPARING;
        break;
    }
}

/* ---- receiving ----------------------------------------------------------------------------- */

/* One line to the acknowledgement log; a single write() on an O_APPEND file, so lines from
 * several workers never interleave and nothing sits in a buffer if we die. */
static void lw_ack_log(struct lw_worker *W, struct lw_charger *c, const struct lw_pending *p,
                       int64_t tx_id)
{
    if (W->ack_fd < 0) return;
    char line[256];
    int n;
    if (p->action == LOAD_A_START)
        n = snprintf(line, sizeof line, "{\"charger\":\"%s\",\"action\":\"StartTransaction\","
                     "\"transactionId\":%lld,\"meterStart\":%lld}\n",
                     c->id, (long long)tx_id, (long long)p->value);
    else if (p->action == LOAD_A_METER)
        n = snprintf(line, sizeof line, "{\"charger\":\"%s\",\"action\":\"MeterValues\","
                     "\"transactionId\":%lld,\"value\":%lld}\n",
                     c->id, (long long)tx_id, (long long)p->value);
    else if (p->action == LOAD_A_STOP)
        n = snprintf(line, sizeof line, "{\"charger\":\"%s\",\"action\":\"StopTransaction\","
                     "\"transactionId\":%lld,\"meterStop\":%lld}\n",
                     c->id, (long long)tx_id, (long long)p->value);
    else
        return;
    if (n > 0 && write(W->ack_fd, line, (size_t)n) != n) W->ack_fd = -1;
}

static struct lw_pending *lw_find_pending(struct lw_charger *c, uint32_t seq)
{
    for (int i = 0; i < LW_PENDING_MAX; i++)
        if (c->pending[i].seq == seq) return &c->pending[i];
    return NULL;
}

/* Handles one complete message: [3,"id",{...}] or [4,"id","code",...]. */
static void lw_on_message(struct lw_worker *W, struct lw_charger *c, const char *m, size_t len)
{
    int64_t now = load_now_us();
    const char *p = m, *end = m + len;
    while (p < end && (*p == '[' || *p == ' ')) p++;
    if (p >= end || (*p != '3' && *p != '4' && *p != '2')) {
        lw_error(W, LOAD_ERR_bad_frame);
        return;
    }
    int type = *p - '0';
    if (type == 2) return; /* a CSMS-initiated call: not part of the load model */
    while (p < end && *p != '"') p++;
    if (p >= end) {
        lw_error(W, LOAD_ERR_bad_frame);
        return;
    }
    uint32_t seq = (uint32_t)strtoul(p + 1, NULL, 10);
    struct lw_pending *pd = seq ? lw_find_pending(c, seq) : NULL;
    if (!pd) {
        lw_error(W, LOAD_ERR_unmatched);
        return;
    }
    struct lw_pending done = *pd;
    pd->seq = 0;
    c->npending--;
    if (done.steady) W->steady_pending--;
    if (type == 4) {
        lw_error(W, LOAD_ERR_callerror);
        if (done.action == LOAD_A_START && c->step == ST_STARTING) c->step = ST_PREPARING;
        if (done.action == LOAD_A_BOOT) {
            lw_error(W, LOAD_ERR_boot_rejected);
            lw_settle(W, c);
        }
        return;
    }
    if (done.steady) {
        W->rep.results++;
        hist_add(&W->rep.rtt, (uint64_t)(now - done.due_us));
    } else {
        W->rep.setup_msgs++;
    }
    switch ((enum load_action)done.action) {
    case LOAD_A_BOOT:
        if (!strstr(m, "\"Accepted\"")) {
            lw_error(W, LOAD_ERR_boot_rejected);
            lw_settle(W, c);
            return;
        }
        W->rep.booted++;
        c->state = LW_STATUS;
        lw_status(W, c, false, now, "Available");
        break;
    case LOAD_A_STATUS:
        if (c->state == LW_STATUS) {
            c->state = LW_READY;
            W->nready++;
            lw_settle(W, c);
        }
        break;
    case LOAD_A_START: {
        const char *t = strstr(m, "\"transactionId\"");
        if (t) t = strchr(t, ':');
        c->tx_id = t ? strtoll(t + 1, NULL, 10) : 0;
        if (c->tx_id > 0 && c->step == ST_STARTING) c->step = ST_CHARGING;
        else if (c->step == ST_STARTING) c->step = ST_PREPARING;
        if (c->tx_id > 0) lw_ack_log(W, c, &done, c->tx_id);
        break;
    }
    case LOAD_A_METER:
    case LOAD_A_STOP:
        lw_ack_log(W, c, &done, done.tx_id);
        break;
    default:
        break;
    }
}

static void lw_rx(struct lw_worker *W, struct lw_charger *c, struct lws *wsi, const void *in,
                  size_t len)
{
    if (c->rx_len + len + 1 > c->rx_cap) {
        size_t cap = c->rx_cap ? c->rx_cap : 1024;
        while (cap < c->rx_len + len + 1) cap *= 2;
        if (cap > LW_MAX_MESSAGE) {
            lw_error(W, LOAD_ERR_bad_frame);
            c->rx_len = 0;
            return;
        }
        c->rx = xrealloc(c->rx, cap);
        c->rx_cap = cap;
    }
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi)) return;
    c->rx[c->rx_len] = '\0';
    lw_on_message(W, c, (const char *)c->rx, c->rx_len);
    c->rx_len = 0;
    if (c->rx_cap > 4096) { /* idle chargers are many: give bursts back */
        free(c->rx);
        c->rx = NULL;
        c->rx_cap = 0;
    }
}

/* ---- lws glue ---------------------------------------------------------------------------------- */

static void lw_gone(struct lw_worker *W, struct lw_charger *c, enum load_error why)
{
    if (c->state == LW_GONE || c->state == LW_IDLE) return;
    if (c->state == LW_READY) W->nready--;
    if (c->state != LW_CONNECTING) W->nopen--;
    /* Only failures count: the end of the run never closes sockets through lws. */
    lw_error(W, why);
    c->state = LW_GONE;
    c->wsi = NULL;
    lw_settle(W, c);
    /* Its unanswered steady-phase CALLs will never be answered: they count as timeouts. */
    for (int i = 0; i < LW_PENDING_MAX; i++) {
        if (c->pending[i].seq && c->pending[i].steady) {
            lw_error(W, LOAD_ERR_timeout);
            W->steady_pending--;
        }
        c->pending[i].seq = 0;
    }
    c->npending = 0;
    lw_free_queue(c);
}

static int lw_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    struct lw_worker *W = lw_self;
    struct lw_charger *c = lws_get_opaque_user_data(wsi);
    if (!W || !c) return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED: {
        int64_t now = load_now_us();
        c->wsi = wsi;
        c->state = LW_BOOTING;
        W->nopen++;
        hist_add(&W->rep.connect, (uint64_t)(now - c->connect_us));
        if (now > W->rep.last_open_us) W->rep.last_open_us = now;
        if (c->v201)
            lw_call(W, c, LOAD_A_BOOT, false, now, 0,
                    "{\"reason\":\"PowerUp\",\"chargingStation\":{\"model\":\"LOAD-1\","
                    "\"vendorName\":\"ocpp-load\",\"serialNumber\":\"%s\"}}",
                    c->id);
        else
            lw_call(W, c, LOAD_A_BOOT, false, now, 0,
                    "{\"chargePointVendor\":\"ocpp-load\",\"chargePointModel\":\"LOAD-1\","
                    "\"chargePointSerialNumber\":\"%s\"}",
                    c->id);
        break;
    }
    case LWS_CALLBACK_CLIENT_RECEIVE:
        lw_rx(W, c, wsi, in, len);
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
        struct lw_out *o = c->head;
        if (!o) return 0;
        c->head = o->next;
        if (!c->head) c->tail = NULL;
        int n = lws_write(wsi, o->buf + LWS_PRE, o->len, LWS_WRITE_TEXT);
        free(o);
        if (n < 0) return -1;
        if (c->head) lws_callback_on_writable(wsi);
        break;
    }
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
        unsigned int status = lws_http_client_http_response(wsi);
        c->wsi = NULL;
        lw_gone(W, c, status ? LOAD_ERR_refused : LOAD_ERR_connect_failed);
        break;
    }
    case LWS_CALLBACK_CLIENT_CLOSED:
        c->wsi = NULL;
        lw_gone(W, c, LOAD_ERR_closed);
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols lw_protocols[] = {
    {"ocpp-load", lw_callback, 0, 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void lw_connect(struct lw_worker *W, struct lw_charger *c)
{
    struct lws_client_connect_info cc;
    memset(&cc, 0, sizeof cc);
    cc.context = W->ctx;
    cc.address = W->address;
    cc.port = W->port;
    cc.path = c->path;
    cc.host = W->host_hdr;
    cc.origin = W->host_hdr;
    cc.protocol = c->v201 ? "ocpp2.0.1" : "ocpp1.6";
    cc.local_protocol_name = lw_protocols[0].name;
    cc.opaque_user_data = c;
    /* The source address: 127.0.0.x spreads the 4-tuples so N may exceed one address's
     * ephemeral ports. */
    if (W->cfg->src_addrs > 1) cc.iface = W->src[c->index % W->cfg->src_addrs];
    c->state = LW_CONNECTING;
    c->connect_us = load_now_us();
    if (!W->rep.first_connect_us || c->connect_us < W->rep.first_connect_us)
        W->rep.first_connect_us = c->connect_us;
    if (!lws_client_connect_via_info(&cc) && c->state == LW_CONNECTING) {
        c->state = LW_IDLE;
        lw_settle(W, c);
        lw_error(W, LOAD_ERR_connect_failed);
    }
}

/* ---- the tick: ramp, handshake with the parent, schedule, end ------------------------------- */

static void lw_finish(struct lw_worker *W)
{
    W->rep.errors[LOAD_ERR_timeout] += (uint64_t)W->steady_pending;
    W->rep.connected_end = (uint64_t)W->nopen;
    const char *p = (const char *)&W->rep;
    size_t left = sizeof W->rep;
    while (left) {
        ssize_t n = write(W->report_fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        p += n;
        left -= (size_t)n;
    }
    /* Exit without tearing down 10,000 lws connections one by one; the kernel closes them.
     * Linger 0 makes that a reset: an orderly close would leave every client port in TIME_WAIT
     * for a minute, and on a shared box 20,000 of those starve everyone's ephemeral ports. */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    for (long i = 0; i < W->nch; i++) {
        int fd = W->ch[i].wsi ? (int)lws_get_socket_fd(W->ch[i].wsi) : -1;
        if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    _exit(0);
}

static void lw_tick_cb(uv_timer_t *t)
{
    struct lw_worker *W = t->data;
    int64_t now = load_now_us();

    /* Ramp: connect the chargers that are due by now. */
    if (W->next_connect < W->nch) {
        long due = W->connect_rate > 0
                       ? (long)((double)(now - W->t0_us) * W->connect_rate / 1e6) + 1
                       : W->nch;
        if (due > W->nch) due = W->nch;
        /* bounded per tick so the loop keeps serving handshakes in between */
        long cap = W->next_connect + 500;
        if (due > cap) due = cap;
        while (W->next_connect < due) lw_connect(W, &W->ch[W->next_connect++]);
    }

    if (!W->ready_sent) {
        bool all = W->next_connect == W->nch && W->nsettled == W->nch;
        if (all || now >= W->ramp_deadline_us) {
            W->ready_sent = true;
            char b = all ? 'r' : 't';
            if (write(W->ready_fd, &b, 1) != 1) _exit(3);
        }
        return;
    }
    if (!W->go_received) {
        struct load_go go;
        ssize_t n = read(W->go_fd, &go, sizeof go);
        if (n != (ssize_t)sizeof go) return;
        W->go_received = true;
        W->steady_us = go.steady_us;
        W->end_us = W->steady_us + (int64_t)W->cfg->duration_s * 1000000;
        W->drain_end_us = W->end_us + (int64_t)W->cfg->drain_s * 1000000;
    }
    if (now < W->steady_us) return;
    if (!W->counted_connected) {
        W->counted_connected = true;
        W->rep.connected = (uint64_t)W->nopen;
    }

    /* Open loop: every message due by now goes out now, each stamped with its due time. */
    int64_t sched_end = now < W->end_us ? now : W->end_us;
    while (W->rate > 0) {
        int64_t due = W->steady_us + (int64_t)((double)W->next_msg * 1e6 / W->rate);
        if (due > sched_end) break;
        W->next_msg++;
        if (now - due > (int64_t)W->rep.send_lag_max_us)
            W->rep.send_lag_max_us = (uint64_t)(now - due);
        struct lw_charger *c = NULL;
        for (long k = 0; k < W->nch; k++) {
            struct lw_charger *cand = &W->ch[W->rr];
            W->rr = (W->rr + 1) % W->nch;
            if (cand->state == LW_READY) {
                c = cand;
                break;
            }
        }
        if (!c) {
            lw_error(W, LOAD_ERR_no_charger);
            continue;
        }
        lw_send_next(W, c, due);
    }
    if (now >= W->end_us) {
        if (W->steady_pending <= 0 || now >= W->drain_end_us) lw_finish(W);
    }
}

static void lw_lws_log(int level, const char *line)
{
    (void)level;
    (void)line; /* per-connection chatter would swamp the report; errors are counted instead */
}

void load_worker_run(const struct load_config *cfg, int w, int ready_fd, int go_fd,
                     int report_fd, int64_t t0_us)
{
    struct lw_worker *W = xcalloc(1, sizeof *W);
    lw_self = W;
    W->cfg = cfg;
    W->w = w;
    W->ready_fd = ready_fd;
    W->go_fd = go_fd;
    W->report_fd = report_fd;
    W->t0_us = t0_us;
    W->ack_fd = cfg->ack_log ? open(cfg->ack_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)
                             : -1;
    fcntl(go_fd, F_SETFL, fcntl(go_fd, F_GETFL) | O_NONBLOCK);
    load_raise_nofile(&W->rep.nofile_soft, &W->rep.nofile_hard);

    /* This worker's chargers: every W-th index, so sources and ids spread evenly. */
    W->nch = cfg->chargers / cfg->workers + (w < cfg->chargers % cfg->workers);
    W->rep.chargers = (uint64_t)W->nch;
    W->rate = cfg->rate / (double)cfg->workers;
    W->connect_rate = cfg->ramp > 0 ? (double)cfg->ramp / (double)cfg->workers : 0;
    int64_t ramp_us = cfg->ramp > 0 ? (int64_t)((double)W->nch * 1e6 / W->connect_rate) : 0;
    W->ramp_deadline_us = t0_us + ramp_us + (int64_t)cfg->connect_timeout_s * 1000000;
    for (int i = 0; i < 64; i++) snprintf(W->src[i], sizeof W->src[i], "127.0.0.%d", i + 1);

    char *url = xstrdup(cfg->url);
    const char *scheme = NULL, *address = NULL, *path = NULL;
    if (lws_parse_uri(url, &scheme, &address, &W->port, &path) || strcmp(scheme, "ws") != 0) {
        fprintf(stderr, "ocpp-load: bad --url '%s' (want ws://host:port/path)\n", cfg->url);
        _exit(2);
    }
    W->address = xstrdup(address);
    size_t plen = strlen(path);
    while (plen && path[plen - 1] == '/') plen--;
    W->base_path = xstrndup(path, plen);
    snprintf(W->host_hdr, sizeof W->host_hdr, "%s:%d", W->address, W->port);
    free(url);

    W->ch = xcalloc((size_t)(W->nch ? W->nch : 1), sizeof *W->ch);
    for (long i = 0; i < W->nch; i++) {
        struct lw_charger *c = &W->ch[i];
        c->index = w + i * cfg->workers;
        snprintf(c->id, sizeof c->id, "%s%ld", cfg->id_prefix, c->index);
        snprintf(c->path, sizeof c->path, "/%s%s%s", W->base_path, plen ? "/" : "", c->id);
        c->meter_wh = 1000;
        c->v201 = cfg->proto == LOAD_PROTO_201 || (cfg->proto == LOAD_PROTO_MIX && c->index % 2);
    }

    uv_loop_init(&W->loop);
    lws_set_log_level(LLL_ERR, lw_lws_log);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    void *loops[1] = {&W->loop};
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = lw_protocols;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN;
    info.foreign_loops = loops;
    info.gid = -1;
    info.uid = -1;
    info.fd_limit_per_thread = (unsigned int)W->nch + 64;
    info.max_http_header_pool = 512; /* handshakes in flight at once */
    info.timeout_secs = (unsigned int)cfg->connect_timeout_s;
    W->ctx = lws_create_context(&info);
    if (!W->ctx) {
        fprintf(stderr, "ocpp-load: worker %d: cannot create the lws context\n", w);
        _exit(1);
    }
    uv_timer_init(&W->loop, &W->tick);
    W->tick.data = W;
    uv_timer_start(&W->tick, lw_tick_cb, 0, LW_TICK_MS);
    uv_run(&W->loop, UV_RUN_DEFAULT);
    _exit(1); /* the loop only ends through lw_finish() */
}
