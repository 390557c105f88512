/*
 * ocppctl — a command-line client of ocppd's admin JSON-RPC API (README "Admin API").
 *
 *   ocppctl [--url URL] [--token T] [--json] [--timeout S] COMMAND [ARGS]
 *
 * One libwebsockets client connection on lws's own poll loop: connect with the bearer token,
 * send one request, print its answer (an aligned table or, with --json, the raw result), close.
 * `events --follow` keeps the connection and prints one line per event notification until
 * SIGINT/SIGTERM or --timeout.
 *
 * Exit codes: 0 success; 1 the server answered a JSON-RPC error (printed as
 * "ocppctl: <message> (code N)"); 2 connection or authentication failure, or no answer within
 * --timeout; 64 usage error.
 */
#include "mem.h"

#include <errno.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CTL_DEFAULT_URL "ws://127.0.0.1:8181/admin"
#define CTL_DEFAULT_TIMEOUT_S 30.0
#define CTL_MAX_MESSAGE (64u << 20)
#define CTL_EXIT_RPC 1
#define CTL_EXIT_CONN 2
#define CTL_EXIT_USAGE 64

enum ctl_kind { K_RAW, K_CHARGERS, K_CALL, K_START, K_STOP, K_TRANSACTIONS, K_EVENTS };

struct ctl {
    /* options */
    const char *url;
    const char *token;
    bool json;
    double timeout_s; /* < 0: none given */
    enum ctl_kind kind;
    const char *method;
    json_t *params; /* owned, may be NULL */
    bool follow;    /* events: keep printing live events */

    /* connection */
    struct lws_context *ctx;
    struct lws *wsi;
    lws_sorted_usec_list_t tick;
    char *url_copy;
    const char *address;
    char *path;
    char host_hdr[300];
    char *auth_value;
    char *request; /* owned: the request text, NULL once sent */
    unsigned char *rx;
    size_t rx_len, rx_cap;
    bool rx_overflow;
    bool established, closing, gone;
    int http_status;
    char conn_error[256];

    /* outcome */
    bool answered;  /* the response to our request came */
    bool finished;  /* nothing more to wait for */
    int exit_code;
    int64_t last_seq; /* events: lastSeq of the subscription */
    int64_t max_seq;  /* events: the highest seq printed so far */
};

static struct ctl g;
static volatile sig_atomic_t g_signalled;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_signal(int sig)
{
    (void)sig;
    g_signalled = 1;
    if (g.ctx) lws_cancel_service(g.ctx);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ocppctl [--url URL] [--token T] [--json] [--timeout S] COMMAND [ARGS]\n"
            "\n"
            "  --url URL      admin endpoint (default " CTL_DEFAULT_URL ")\n"
            "  --token T      admin token (default: environment OCPPD_TOKEN)\n"
            "  --json         print the raw JSON result instead of a table\n"
            "  --timeout S    give up after S seconds (default 30; events --follow: none)\n"
            "\n"
            "commands:\n"
            "  chargers                          chargers.list\n"
            "  call CHARGER ACTION [PAYLOAD]     ocpp.call (PAYLOAD is JSON, default {})\n"
            "  start CHARGER [CONNECTOR] IDTAG   charging.start\n"
            "  stop TXID                         charging.stop\n"
            "  transactions [--active] [--charger ID] [--limit N]\n"
            "                                    transactions.list\n"
            "  events [--follow] [--from SEQ] [--type T]... [--charger ID]\n"
            "                                    events.subscribe; without --follow, print the\n"
            "                                    stored events after SEQ and exit\n"
            "  rpc METHOD [PARAMS]               any method (PARAMS is a JSON object)\n"
            "\n"
            "exit: 0 ok, 1 JSON-RPC error, 2 connection/auth failure or timeout, 64 usage\n");
}

static _Noreturn void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void die_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ocppctl: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see ocppctl --help)\n");
    exit(CTL_EXIT_USAGE);
}

static bool parse_int64(const char *s, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) return false;
    *out = v;
    return true;
}

static json_t *parse_json_arg(const char *text, const char *what, bool object_only)
{
    json_error_t err;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
    if (!v) {
        fprintf(stderr, "ocppctl: %s is not valid JSON: %s\n", what, err.text);
        exit(CTL_EXIT_USAGE);
    }
    if (object_only && !json_is_object(v) && !json_is_array(v)) {
        fprintf(stderr, "ocppctl: %s must be a JSON object or array\n", what);
        exit(CTL_EXIT_USAGE);
    }
    return v;
}

/* Builds g.method / g.params from the command words. */
static void parse_command(int argc, char **argv)
{
    if (argc < 1) die_usage("%s", "no command given");
    const char *cmd = argv[0];
    argc--;
    argv++;
    if (strcmp(cmd, "chargers") == 0) {
        if (argc) die_usage("chargers takes no arguments, got '%s'", argv[0]);
        g.kind = K_CHARGERS;
        g.method = "chargers.list";
        g.params = json_object();
    } else if (strcmp(cmd, "call") == 0) {
        if (argc < 2 || argc > 3) die_usage("%s", "usage: call CHARGER ACTION [PAYLOAD]");
        g.kind = K_CALL;
        g.method = "ocpp.call";
        json_t *payload = argc == 3 ? parse_json_arg(argv[2], "PAYLOAD", true) : json_object();
        g.params = json_pack("{s:s, s:s, s:o}", "chargerId", argv[0], "action", argv[1],
                             "payload", payload);
    } else if (strcmp(cmd, "start") == 0) {
        if (argc < 2 || argc > 3) die_usage("%s", "usage: start CHARGER [CONNECTOR] IDTAG");
        g.kind = K_START;
        g.method = "charging.start";
        g.params = json_pack("{s:s, s:s}", "chargerId", argv[0], "idTag", argv[argc - 1]);
        if (argc == 3) {
            long long c;
            if (!parse_int64(argv[1], 0, INT_MAX, &c))
                die_usage("CONNECTOR '%s' is not a number", argv[1]);
            json_object_set_new(g.params, "connectorId", json_integer(c));
        }
    } else if (strcmp(cmd, "stop") == 0) {
        long long tx;
        if (argc != 1) die_usage("%s", "usage: stop TXID");
        if (!parse_int64(argv[0], 0, LLONG_MAX, &tx))
            die_usage("TXID '%s' is not a number", argv[0]);
        g.kind = K_STOP;
        g.method = "charging.stop";
        g.params = json_pack("{s:I}", "transactionId", (json_int_t)tx);
    } else if (strcmp(cmd, "transactions") == 0) {
        g.kind = K_TRANSACTIONS;
        g.method = "transactions.list";
        g.params = json_object();
        for (int i = 0; i < argc; i++) {
            if (strcmp(argv[i], "--active") == 0) {
                json_object_set_new(g.params, "active", json_true());
            } else if (strcmp(argv[i], "--charger") == 0 && i + 1 < argc) {
                json_object_set_new(g.params, "chargerId", json_string(argv[++i]));
            } else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
                long long n;
                if (!parse_int64(argv[++i], 1, INT_MAX, &n))
                    die_usage("--limit '%s' is not a positive number", argv[i]);
                json_object_set_new(g.params, "limit", json_integer(n));
            } else {
                die_usage("transactions: unknown argument '%s'", argv[i]);
            }
        }
    } else if (strcmp(cmd, "events") == 0) {
        g.kind = K_EVENTS;
        g.method = "events.subscribe";
        g.params = json_object();
        json_t *types = NULL;
        for (int i = 0; i < argc; i++) {
            if (strcmp(argv[i], "--follow") == 0 || strcmp(argv[i], "-f") == 0) {
                g.follow = true;
            } else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc) {
                long long n;
                if (!parse_int64(argv[++i], 0, LLONG_MAX, &n))
                    die_usage("--from '%s' is not a sequence number", argv[i]);
                json_object_set_new(g.params, "fromSeq", json_integer(n));
            } else if (strcmp(argv[i], "--type") == 0 && i + 1 < argc) {
                if (!types) types = json_array();
                json_array_append_new(types, json_string(argv[++i]));
            } else if (strcmp(argv[i], "--charger") == 0 && i + 1 < argc) {
                json_object_set_new(g.params, "chargerId", json_string(argv[++i]));
            } else {
                die_usage("events: unknown argument '%s'", argv[i]);
            }
        }
        if (types) json_object_set_new(g.params, "types", types);
    } else if (strcmp(cmd, "rpc") == 0) {
        if (argc < 1 || argc > 2) die_usage("%s", "usage: rpc METHOD [PARAMS]");
        g.kind = K_RAW;
        g.method = argv[0];
        g.params = argc == 2 ? parse_json_arg(argv[1], "PARAMS", true) : NULL;
    } else {
        die_usage("unknown command '%s'", cmd);
    }
    if (!g.params && g.kind != K_RAW) {
        fprintf(stderr, "ocppctl: out of memory building the request\n");
        exit(CTL_EXIT_USAGE);
    }
}

/* ---- output ------------------------------------------------------------------------------- */

/* A cell's text: strings as they are, null as "-", anything else as compact JSON. */
static char *cell(const json_t *v)
{
    if (!v || json_is_null(v)) return xstrdup("-");
    if (json_is_string(v)) return xstrdup(json_string_value(v));
    if (json_is_true(v)) return xstrdup("yes");
    if (json_is_false(v)) return xstrdup("no");
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    char *out = xstrdup(s ? s : "?");
    free(s);
    return out;
}

struct table {
    size_t ncols, nrows; /* nrows includes the header */
    char **cells;        /* owned: nrows * ncols */
};

static void table_add(struct table *t, char **row)
{
    t->cells = xrealloc(t->cells, (t->nrows + 1) * t->ncols * sizeof *t->cells);
    memcpy(t->cells + t->nrows * t->ncols, row, t->ncols * sizeof *row);
    t->nrows++;
}

/* Prints columns separated by two spaces, each padded to its widest cell (the last unpadded). */
static void table_print(struct table *t)
{
    size_t *w = xcalloc(t->ncols, sizeof *w);
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t n = strlen(t->cells[r * t->ncols + c]);
            if (n > w[c]) w[c] = n;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            if (c + 1 < t->ncols)
                printf("%-*s  ", (int)w[c], s);
            else
                printf("%s\n", s);
        }
    }
    for (size_t i = 0; i < t->nrows * t->ncols; i++) free(t->cells[i]);
    free(t->cells);
    free(w);
}

static void print_chargers(const json_t *result)
{
    const json_t *list = json_object_get(result, "chargers");
    struct table t = {.ncols = 8};
    char *hdr[] = {xstrdup("ID"),     xstrdup("PROTOCOL"), xstrdup("CONNECTED"),
                   xstrdup("LAST SEEN"), xstrdup("VENDOR"), xstrdup("MODEL"),
                   xstrdup("STATION"), xstrdup("CONNECTORS")};
    table_add(&t, hdr);
    size_t i;
    const json_t *c;
    json_array_foreach(list, i, c) {
        /* connectors as "1:Available 2:Charging(tx 7)" */
        size_t cap = 64, len = 0;
        char *conns = xmalloc(cap);
        conns[0] = '\0';
        size_t j;
        const json_t *k;
        json_array_foreach(json_object_get(c, "connectors"), j, k) {
            char *st = cell(json_object_get(k, "status"));
            const json_t *tx = json_object_get(k, "transactionId");
            char *item = json_is_integer(tx)
                             ? xasprintf("%s%lld:%s(tx %lld)", len ? " " : "",
                                         (long long)json_integer_value(json_object_get(k, "connectorId")),
                                         st, (long long)json_integer_value(tx))
                             : xasprintf("%s%lld:%s", len ? " " : "",
                                         (long long)json_integer_value(json_object_get(k, "connectorId")),
                                         st);
            size_t n = strlen(item);
            if (len + n + 1 > cap) {
                while (len + n + 1 > cap) cap *= 2;
                conns = xrealloc(conns, cap);
            }
            memcpy(conns + len, item, n + 1);
            len += n;
            free(item);
            free(st);
        }
        if (!len) {
            free(conns);
            conns = xstrdup("-");
        }
        char *row[] = {cell(json_object_get(c, "id")),       cell(json_object_get(c, "protocol")),
                       cell(json_object_get(c, "connected")), cell(json_object_get(c, "lastSeen")),
                       cell(json_object_get(c, "vendor")),    cell(json_object_get(c, "model")),
                       cell(json_object_get(c, "stationId")), conns};
        table_add(&t, row);
    }
    table_print(&t);
}

static void print_transactions(const json_t *result)
{
    struct table t = {.ncols = 10};
    char *hdr[] = {xstrdup("ID"),     xstrdup("CHARGER"),    xstrdup("EVSE"),
                   xstrdup("CONN"),   xstrdup("ID TAG"),     xstrdup("START"),
                   xstrdup("STOP"),   xstrdup("ENERGY WH"),  xstrdup("REASON"),
                   xstrdup("ACTIVE")};
    table_add(&t, hdr);
    size_t i;
    const json_t *x;
    json_array_foreach(json_object_get(result, "transactions"), i, x) {
        char *row[] = {cell(json_object_get(x, "id")),        cell(json_object_get(x, "chargerId")),
                       cell(json_object_get(x, "evseId")),    cell(json_object_get(x, "connectorId")),
                       cell(json_object_get(x, "idTag")),     cell(json_object_get(x, "startTime")),
                       cell(json_object_get(x, "stopTime")),  cell(json_object_get(x, "energyWh")),
                       cell(json_object_get(x, "stopReason")), cell(json_object_get(x, "active"))};
        table_add(&t, row);
    }
    table_print(&t);
    const json_t *next = json_object_get(result, "nextCursor");
    if (json_is_string(next)) printf("(more: nextCursor %s)\n", json_string_value(next));
}

/* key: value lines for a flat object; nested values as compact JSON. */
static void print_fields(const json_t *obj)
{
    struct table t = {.ncols = 2};
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        char *row[] = {xasprintf("%s:", key), cell(v)};
        table_add(&t, row);
    }
    table_print(&t);
}

static void print_json(const json_t *v, bool compact)
{
    char *s = json_dumps(v, (compact ? JSON_COMPACT : JSON_INDENT(2)) | JSON_ENCODE_ANY);
    printf("%s\n", s ? s : "null");
    free(s);
}

static void print_result(const json_t *result)
{
    if (g.kind == K_EVENTS) return; /* only the events themselves are printed */
    if (g.json) {
        print_json(result, true);
        return;
    }
    switch (g.kind) {
    case K_CHARGERS:
        print_chargers(result);
        break;
    case K_TRANSACTIONS:
        print_transactions(result);
        break;
    case K_CALL: {
        const json_t *r = json_object_get(result, "result");
        print_json(r ? r : result, false);
        break;
    }
    case K_START:
    case K_STOP:
        if (json_is_object(result))
            print_fields(result);
        else
            print_json(result, false);
        break;
    case K_EVENTS:
        break; /* the subscription answer itself is not shown in human mode */
    case K_RAW:
        print_json(result, false);
        break;
    }
}

static void print_event(const json_t *params)
{
    if (g.json) {
        print_json(params, true);
    } else {
        char *seq = cell(json_object_get(params, "seq"));
        char *tm = cell(json_object_get(params, "time"));
        char *type = cell(json_object_get(params, "type"));
        char *cp = cell(json_object_get(params, "chargerId"));
        char *data = cell(json_object_get(params, "data"));
        printf("%s  %s  %-22s %-16s %s\n", seq, tm, type, cp, data);
        free(seq);
        free(tm);
        free(type);
        free(cp);
        free(data);
    }
    fflush(stdout);
}

/* ---- protocol ----------------------------------------------------------------------------- */

static void ctl_finish(int code)
{
    if (g.finished) return;
    g.finished = true;
    g.exit_code = code;
    if (g.wsi && !g.gone) {
        g.closing = true;
        lws_callback_on_writable(g.wsi);
    }
}

static void on_message(const char *text, size_t len)
{
    json_error_t err;
    json_t *msg = json_loadb(text, len, 0, &err);
    if (!msg) {
        fprintf(stderr, "ocppctl: the server sent invalid JSON: %s\n", err.text);
        ctl_finish(CTL_EXIT_CONN);
        return;
    }
    const json_t *id = json_object_get(msg, "id");
    if (json_is_integer(id) && json_integer_value(id) == 1 && !g.answered) {
        g.answered = true;
        const json_t *e = json_object_get(msg, "error");
        if (e) {
            const char *m = json_string_value(json_object_get(e, "message"));
            fprintf(stderr, "ocppctl: %s (code %lld)\n", m ? m : "error",
                    (long long)json_integer_value(json_object_get(e, "code")));
            if (g.json) print_json(e, true);
            ctl_finish(CTL_EXIT_RPC);
        } else {
            const json_t *r = json_object_get(msg, "result");
            print_result(r);
            fflush(stdout);
            if (g.kind == K_EVENTS) {
                g.last_seq = (int64_t)json_integer_value(json_object_get(r, "lastSeq"));
                const json_t *from = json_object_get(g.params, "fromSeq");
                /* ocppd may stream the replay before this answer; done if it is all here. */
                if (!g.follow && (!from || json_integer_value(from) >= g.last_seq ||
                                  g.max_seq >= g.last_seq))
                    ctl_finish(0);
            } else {
                ctl_finish(0);
            }
        }
    } else if (g.kind == K_EVENTS &&
               json_is_string(json_object_get(msg, "method")) &&
               strcmp(json_string_value(json_object_get(msg, "method")), "event") == 0) {
        const json_t *p = json_object_get(msg, "params");
        if (!g.finished) {
            print_event(p);
            json_int_t seq = json_integer_value(json_object_get(p, "seq"));
            if (seq > g.max_seq) g.max_seq = seq;
            if (!g.follow && g.answered &&
                json_integer_value(json_object_get(p, "seq")) >= g.last_seq)
                ctl_finish(0);
        }
    }
    json_decref(msg);
}

static void on_rx(struct lws *wsi, const void *in, size_t len)
{
    if (!g.rx_overflow) {
        if (g.rx_len + len > CTL_MAX_MESSAGE) {
            g.rx_overflow = true;
        } else {
            if (g.rx_len + len + 1 > g.rx_cap) {
                size_t cap = g.rx_cap ? g.rx_cap : 4096;
                while (cap < g.rx_len + len + 1) cap *= 2;
                g.rx = xrealloc(g.rx, cap);
                g.rx_cap = cap;
            }
            if (len) memcpy(g.rx + g.rx_len, in, len);
            g.rx_len += len;
        }
    }
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) != 0) return;
    size_t n = g.rx_len;
    bool over = g.rx_overflow;
    g.rx_len = 0;
    g.rx_overflow = false;
    if (over) {
        fprintf(stderr, "ocppctl: dropped a message over %u bytes\n", CTL_MAX_MESSAGE);
        return;
    }
    g.rx[n] = '\0';
    on_message((const char *)g.rx, n);
}

static int on_writeable(struct lws *wsi)
{
    if (g.request && !g.closing) {
        size_t n = strlen(g.request);
        unsigned char *buf = xmalloc(LWS_PRE + n);
        memcpy(buf + LWS_PRE, g.request, n);
        int w = lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_TEXT);
        free(buf);
        free(g.request);
        g.request = NULL;
        if (w < (int)n) {
            snprintf(g.conn_error, sizeof g.conn_error, "websocket write failed");
            return -1;
        }
        return 0;
    }
    if (g.closing) {
        /* lws 4.1.6 does not send a close frame for us on return -1 unless a reason is set. */
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"bye", 3);
        return -1;
    }
    return 0;
}

static int ctl_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    (void)user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        if (g.auth_value) {
            unsigned char **p = in, *end = *p + len;
            if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
                                             (const unsigned char *)g.auth_value,
                                             (int)strlen(g.auth_value), p, end))
                return -1;
        }
        break;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        g.wsi = wsi;
        g.established = true;
        lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        on_rx(wsi, in, len);
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writeable(wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (!g.finished && len >= 2) {
            const unsigned char *b = in;
            snprintf(g.conn_error, sizeof g.conn_error, "server closed the connection: %d %.*s",
                     (b[0] << 8) | b[1], (int)(len - 2 > 120 ? 120 : len - 2),
                     (const char *)b + 2);
        }
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        g.http_status = (int)lws_http_client_http_response(wsi);
        snprintf(g.conn_error, sizeof g.conn_error, "%s",
                 in ? (const char *)in : "connection error");
        g.gone = true;
        g.wsi = NULL;
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        g.gone = true;
        g.wsi = NULL;
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols ctl_protocols[] = {
    {"ocppctl", ctl_callback, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Wakes lws_service() regularly so deadlines and signals are noticed. */
static void tick_cb(lws_sorted_usec_list_t *sul)
{
    lws_sul_schedule(g.ctx, 0, sul, tick_cb, 100 * LWS_US_PER_MS);
}

static int ctl_connect(void)
{
    g.url_copy = xstrdup(g.url);
    const char *scheme = NULL, *path = NULL;
    int port = 0;
    if (lws_parse_uri(g.url_copy, &scheme, &g.address, &port, &path) || !*g.address) {
        fprintf(stderr, "ocppctl: bad --url '%s' (want ws://host:port/admin)\n", g.url);
        return -1;
    }
    bool tls = strcmp(scheme, "wss") == 0;
    if (!tls && strcmp(scheme, "ws") != 0) {
        fprintf(stderr, "ocppctl: bad --url scheme '%s' (ws or wss)\n", scheme);
        return -1;
    }
    g.path = xasprintf("/%s", path); /* lws_parse_uri() drops the leading '/' */
    snprintf(g.host_hdr, sizeof g.host_hdr, "%s:%d", g.address, port);
    if (g.token && *g.token) g.auth_value = xasprintf("Bearer %s", g.token);

    lws_set_log_level(0, NULL); /* failures are reported by us, in one line */
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = ctl_protocols;
    info.gid = -1;
    info.uid = -1;
    info.fd_limit_per_thread = 16;
    if (tls) info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    g.ctx = lws_create_context(&info);
    if (!g.ctx) {
        fprintf(stderr, "ocppctl: lws_create_context failed\n");
        return -1;
    }
    lws_sul_schedule(g.ctx, 0, &g.tick, tick_cb, 100 * LWS_US_PER_MS);

    struct lws_client_connect_info cc;
    memset(&cc, 0, sizeof cc);
    cc.context = g.ctx;
    cc.address = g.address;
    cc.port = port;
    cc.path = g.path;
    cc.host = g.host_hdr;
    cc.origin = g.host_hdr;
    cc.protocol = NULL;
    cc.local_protocol_name = ctl_protocols[0].name;
    if (tls) cc.ssl_connection = LCCSCF_USE_SSL;
    cc.pwsi = &g.wsi;
    if (!lws_client_connect_via_info(&cc) && !g.gone) {
        g.gone = true;
        if (!g.conn_error[0]) snprintf(g.conn_error, sizeof g.conn_error, "connect failed");
    }
    return 0;
}

/* Why the connection failed, in one line; exit code 2. */
static int report_conn_failure(void)
{
    if (g.http_status == 401)
        fprintf(stderr, "ocppctl: %s: authentication failed (HTTP 401): check --token or "
                        "OCPPD_TOKEN\n", g.url);
    else if (g.http_status)
        fprintf(stderr, "ocppctl: %s: the server refused the connection (HTTP %d)\n", g.url,
                g.http_status);
    else
        fprintf(stderr, "ocppctl: %s: cannot connect: %s\n", g.url,
                g.conn_error[0] ? g.conn_error : "connection closed");
    return CTL_EXIT_CONN;
}

int main(int argc, char **argv)
{
    g.url = CTL_DEFAULT_URL;
    g.token = getenv("OCPPD_TOKEN");
    g.timeout_s = -1;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            g.json = true;
        } else if (strcmp(a, "--url") == 0 && i + 1 < argc) {
            g.url = argv[++i];
        } else if (strcmp(a, "--token") == 0 && i + 1 < argc) {
            g.token = argv[++i];
        } else if (strcmp(a, "--timeout") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            double t = strtod(argv[++i], &end);
            if (errno || end == argv[i] || *end || !(t > 0) || t > 1e7)
                die_usage("--timeout '%s' is not a positive number of seconds", argv[i]);
            g.timeout_s = t;
        } else {
            die_usage("unknown option '%s'", a);
        }
    }
    parse_command(argc - i, argv + i);

    json_t *req = json_pack("{s:s, s:i, s:s}", "jsonrpc", "2.0", "id", 1, "method", g.method);
    if (g.params) json_object_set(req, "params", g.params);
    g.request = json_dumps(req, JSON_COMPACT);
    json_decref(req);

    double timeout = g.timeout_s > 0 ? g.timeout_s
                     : (g.kind == K_EVENTS && g.follow) ? -1
                                                        : CTL_DEFAULT_TIMEOUT_S;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc;
    if (ctl_connect() < 0) {
        rc = CTL_EXIT_USAGE;
    } else {
        double start = now_s();
        double close_deadline = 0;
        bool timed_out = false;
        while (!g.gone) {
            if (g_signalled && !g.finished) ctl_finish(g.answered ? 0 : CTL_EXIT_CONN);
            if (timeout > 0 && !g.finished && now_s() - start > timeout) {
                timed_out = true;
                /* --timeout ends a subscription normally once it is established. */
                ctl_finish(g.kind == K_EVENTS && g.answered ? 0 : CTL_EXIT_CONN);
            }
            if (g.finished) {
                if (!close_deadline) close_deadline = now_s() + 2.0;
                if (!g.established || now_s() > close_deadline) break;
            }
            lws_service(g.ctx, 0);
        }
        if (g.finished) {
            rc = g.exit_code;
            if (rc == CTL_EXIT_CONN && !g.answered) {
                if (timed_out)
                    fprintf(stderr, "ocppctl: %s: no answer to %s within %g s\n", g.url,
                            g.method, timeout);
                else if (g_signalled)
                    fprintf(stderr, "ocppctl: interrupted\n");
            }
        } else if (g.established && g.answered) {
            /* The subscription ended from the server side. */
            fprintf(stderr, "ocppctl: %s\n",
                    g.conn_error[0] ? g.conn_error : "the server closed the connection");
            rc = CTL_EXIT_CONN;
        } else if (g.established) {
            fprintf(stderr, "ocppctl: %s: connection closed before an answer%s%s\n", g.url,
                    g.conn_error[0] ? ": " : "", g.conn_error);
            rc = CTL_EXIT_CONN;
        } else {
            rc = report_conn_failure();
        }
        lws_sul_cancel(&g.tick);
        lws_context_destroy(g.ctx);
    }
    fflush(stdout);
    free(g.request);
    json_decref(g.params);
    free(g.rx);
    free(g.path);
    free(g.url_copy);
    free(g.auth_value);
    return rc;
}
