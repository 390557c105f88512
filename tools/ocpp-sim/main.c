/*
 * main.c — ocpp-sim's entry point (sim.h): the option table and --help, the service loop,
 * signals, and the exit code.
 *
 * Exit codes: 0 the script completed and every CALL got a CALLRESULT; 1 anything else at run
 * time (refused connection, CALLERROR, timeout, rejected boot or tag, dropped connection);
 * 2 bad command line.
 */
#include "sim.h"

#include "log.h"
#include "mem.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt_type { OPT_STR, OPT_INT, OPT_INT64, OPT_FLAG, OPT_SCRIPT, OPT_REPLY, OPT_LOG, OPT_HELP };

struct opt {
    const char *name;
    enum opt_type type;
    size_t offset;     /* into struct sim_config (not used by OPT_LOG / OPT_HELP) */
    long long min, max; /* OPT_INT / OPT_INT64 bounds */
    const char *arg;   /* placeholder shown by --help */
    const char *help;
};

#define CFG(field) offsetof(struct sim_config, field)

static const struct opt sim_opts[] = {
    {"--url", OPT_STR, CFG(url), 0, 0, "URL",
     "CSMS base URL, the id is appended (default ws://127.0.0.1:8180/ocpp)"},
    {"--id", OPT_STR, CFG(id), 0, 0, "ID", "charge point id (default CP01)"},
    {"--protocol", OPT_STR, CFG(protocol), 0, 0, "P",
     "subprotocol(s) offered, comma-separated: ocpp1.6, ocpp2.0.1 (default ocpp1.6). The one "
     "the CSMS chooses decides the messages"},
    {"--password", OPT_STR, CFG(password), 0, 0, "P", "HTTP Basic auth password (user = id)"},
    {"--connectors", OPT_INT, CFG(connectors), 1, 64, "N", "number of connectors (default 1)"},
    {"--connector", OPT_INT, CFG(connector), 1, 64, "K",
     "connector the session script uses (default 1)"},
    {"--script", OPT_SCRIPT, CFG(script), 0, 0, "boot|session|idle",
     "boot: BootNotification, then StatusNotification Available for connectors 0..N. "
     "session: boot, then Authorize, Preparing, StartTransaction, Charging, N MeterValues, "
     "StopTransaction, Finishing, Available; in 2.0.1 Authorize, Occupied, TransactionEvent "
     "Started, N Updated, Ended, Available (statuses per EVSE 1..N, connector 1). idle: boot, "
     "then stay until --stay, --duration-limit or a signal (default session)"},
    {"--id-tag", OPT_STR, CFG(id_tag), 0, 0, "TAG",
     "idTag (2.0.1: ISO14443 idToken) for the session (default SIMTAG01)"},
    {"--meter-values", OPT_INT, CFG(meter_values), 0, 100000, "N",
     "MeterValues (2.0.1: TransactionEvent Updated) per session (default 3)"},
    {"--meter-interval", OPT_INT, CFG(meter_interval_ms), 0, 3600000, "MS",
     "delay before each of them (default 1000)"},
    {"--meter-start", OPT_INT64, CFG(meter_start_wh), 0, 2000000000, "WH",
     "energy register at start-up (default 10000)"},
    {"--energy-step", OPT_INT64, CFG(energy_step_wh), 0, 1000000, "WH",
     "register increase per MeterValues (default 250)"},
    {"--power", OPT_INT64, CFG(power_w), 0, 1000000, "W",
     "Power.Active.Import reported while charging (default 7400)"},
    {"--vendor", OPT_STR, CFG(vendor), 0, 0, "S", "chargePointVendor (default ocpp-sim)"},
    {"--model", OPT_STR, CFG(model), 0, 0, "S", "chargePointModel (default SIM-1)"},
    {"--reply", OPT_REPLY, CFG(replies), 0, 0, "ACTION=ANSWER",
     "answer to a CSMS-initiated call, repeatable; ANSWER is a JSON object (CALLRESULT "
     "payload), error:CODE (CALLERROR) or none (never answer). Defaults: {\"status\":"
     "\"Accepted\"} or the action's natural answer; RemoteStartTransaction starts a session on "
     "the requested connector when accepted, RemoteStopTransaction stops it, TriggerMessage "
     "sends the requested message. 2.0.1: RequestStart/StopTransaction likewise (remoteStartId "
     "in the Started event), GetBaseReport is followed by a NotifyReport, Get/SetVariables "
     "are answered per item from a small device model"},
    {"--stay", OPT_INT, CFG(stay_s), 0, INT_MAX / 1000, "S",
     "stay connected S seconds after the script, answering calls (default 0; idle: forever)"},
    {"--duration-limit", OPT_INT, CFG(duration_limit_s), 0, INT_MAX / 1000, "S",
     "hard stop after S seconds, 0 = none (default 300)"},
    {"--call-timeout", OPT_INT, CFG(call_timeout_s), 1, 3600, "S",
     "wait this long for each answer (default 30)"},
    {"--connect-timeout", OPT_INT, CFG(connect_timeout_s), 1, 3600, "S",
     "wait this long for the connection (default 10)"},
    {"--insecure", OPT_FLAG, CFG(insecure), 0, 0, NULL, "wss: accept any server certificate"},
    {"--log-level", OPT_LOG, 0, 0, 0, "L", "stderr log: error|warn|info|debug (default info)"},
    {"--help", OPT_HELP, 0, 0, 0, NULL, "show this help"},
};

static void sim_usage(FILE *out)
{
    fputs("usage: ocpp-sim [options]\n"
          "A simulated OCPP 1.6J or 2.0.1 charge point. Prints one JSON line per frame sent or received\n"
          "({\"dir\":\"out\"|\"in\",\"frame\":[...]}) and a final {\"summary\":{...}} line on "
          "stdout;\nlogs to stderr. Exit status 0 when the script completed and every CALL got a\n"
          "CALLRESULT, 1 otherwise, 2 for a bad command line.\n\noptions:\n",
          out);
    for (size_t i = 0; i < sizeof sim_opts / sizeof *sim_opts; i++) {
        const struct opt *o = &sim_opts[i];
        char head[64];
        snprintf(head, sizeof head, "%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(out, "  %-30s ", head);
        /* Wrap the help text at 70 columns under its own indent. */
        const char *p = o->help;
        int col = 0;
        while (*p) {
            const char *sp = strchr(p, ' ');
            int wlen = sp ? (int)(sp - p) : (int)strlen(p);
            if (col && col + 1 + wlen > 46) {
                fprintf(out, "\n  %-30s ", "");
                col = 0;
            } else if (col) {
                fputc(' ', out);
                col++;
            }
            fwrite(p, 1, (size_t)wlen, out);
            col += wlen;
            p += wlen;
            while (*p == ' ') p++;
        }
        fputc('\n', out);
    }
}

static int sim_parse_int(const char *text, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

/* Parses "Action=ANSWER" into a new list entry. */
static int sim_parse_reply(const char *text, struct sim_reply **list, char *err, size_t errlen)
{
    const char *eq = strchr(text, '=');
    if (!eq || eq == text) {
        snprintf(err, errlen, "want ACTION=ANSWER");
        return -1;
    }
    struct sim_reply *r = xcalloc(1, sizeof *r);
    r->action = xstrndup(text, (size_t)(eq - text));
    const char *ans = eq + 1;
    if (strcmp(ans, "none") == 0) {
        r->kind = SIM_REPLY_NONE;
    } else if (strncmp(ans, "error:", 6) == 0 && ans[6]) {
        r->kind = SIM_REPLY_ERROR;
        r->error_code = xstrdup(ans + 6);
    } else {
        json_error_t jerr;
        r->kind = SIM_REPLY_RESULT;
        r->payload = json_loads(ans, 0, &jerr);
        if (!json_is_object(r->payload)) {
            snprintf(err, errlen, "answer is not a JSON object: %.100s",
                     r->payload ? "wrong type" : jerr.text);
            json_decref(r->payload);
            free(r->action);
            free(r);
            return -1;
        }
    }
    /* Later options win: they are found first. */
    r->next = *list;
    *list = r;
    return 0;
}

/* Returns 0 to run, 1 after --help, -1 on a bad command line (message printed). */
static int sim_parse_args(int argc, char **argv, struct sim_config *cfg)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *eq = strchr(arg, '=');
        size_t nlen = eq && strncmp(arg, "--", 2) == 0 ? (size_t)(eq - arg) : strlen(arg);
        const struct opt *o = NULL;
        for (size_t k = 0; k < sizeof sim_opts / sizeof *sim_opts; k++)
            if (strlen(sim_opts[k].name) == nlen && strncmp(sim_opts[k].name, arg, nlen) == 0)
                o = &sim_opts[k];
        if (!o) {
            fprintf(stderr, "ocpp-sim: unknown option '%s' (see --help)\n", arg);
            return -1;
        }
        if (o->type == OPT_HELP) {
            sim_usage(stdout);
            return 1;
        }
        void *field = (char *)cfg + o->offset;
        if (o->type == OPT_FLAG) {
            *(bool *)field = true;
            continue;
        }
        const char *val = eq && nlen != strlen(arg) ? eq + 1 : NULL;
        if (!val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "ocpp-sim: %s needs a value\n", o->name);
                return -1;
            }
            val = argv[++i];
        }
        long long n;
        char err[160] = "";
        switch (o->type) {
        case OPT_STR:
            *(const char **)field = val;
            break;
        case OPT_INT:
        case OPT_INT64:
            if (sim_parse_int(val, o->min, o->max, &n)) {
                fprintf(stderr, "ocpp-sim: %s wants an integer in %lld..%lld, got '%s'\n",
                        o->name, o->min, o->max, val);
                return -1;
            }
            if (o->type == OPT_INT)
                *(int *)field = (int)n;
            else
                *(int64_t *)field = n;
            break;
        case OPT_SCRIPT:
            if (strcmp(val, "boot") == 0)
                cfg->script = SIM_SCRIPT_BOOT;
            else if (strcmp(val, "session") == 0)
                cfg->script = SIM_SCRIPT_SESSION;
            else if (strcmp(val, "idle") == 0)
                cfg->script = SIM_SCRIPT_IDLE;
            else {
                fprintf(stderr, "ocpp-sim: --script wants boot, session or idle\n");
                return -1;
            }
            break;
        case OPT_REPLY:
            if (sim_parse_reply(val, &cfg->replies, err, sizeof err)) {
                fprintf(stderr, "ocpp-sim: --reply '%s': %s\n", val, err);
                return -1;
            }
            break;
        case OPT_LOG: {
            enum log_level lvl;
            if (log_level_parse(val, &lvl)) {
                fprintf(stderr, "ocpp-sim: --log-level wants error, warn, info or debug\n");
                return -1;
            }
            log_set_level(lvl);
            break;
        }
        case OPT_FLAG:
        case OPT_HELP:
            break;
        }
    }
    if (!*cfg->id || strlen(cfg->id) > 48) {
        fprintf(stderr, "ocpp-sim: --id must be 1..48 characters\n");
        return -1;
    }
    /* 1.6 idTag: 20 characters; 2.0.1 idToken: 36. The offer decides which may be chosen. */
    size_t tag_max = strstr(cfg->protocol, "ocpp1.6") ? 20 : 36;
    if (strlen(cfg->id_tag) > tag_max) {
        fprintf(stderr, "ocpp-sim: --id-tag must be at most %zu characters (%s)\n", tag_max,
                tag_max == 20 ? "OCPP 1.6 idTag" : "OCPP 2.0.1 idToken");
        return -1;
    }
    if (cfg->connector > cfg->connectors) {
        fprintf(stderr, "ocpp-sim: --connector %d is above --connectors %d\n", cfg->connector,
                cfg->connectors);
        return -1;
    }
    return 0;
}

void sim_config_clear(struct sim_config *cfg)
{
    while (cfg->replies) {
        struct sim_reply *r = cfg->replies;
        cfg->replies = r->next;
        free(r->action);
        json_decref(r->payload);
        free(r->error_code);
        free(r);
    }
}

static volatile sig_atomic_t sim_signalled;

static void sim_on_signal(int sig)
{
    sim_signalled = sig;
}

int main(int argc, char **argv)
{
    struct sim s;
    memset(&s, 0, sizeof s);
    s.cfg = (struct sim_config){
        .url = "ws://127.0.0.1:8180/ocpp",
        .id = "CP01",
        .protocol = "ocpp1.6",
        .id_tag = "SIMTAG01",
        .vendor = "ocpp-sim",
        .model = "SIM-1",
        .script = SIM_SCRIPT_SESSION,
        .connectors = 1,
        .connector = 1,
        .meter_values = 3,
        .meter_interval_ms = 1000,
        .meter_start_wh = 10000,
        .energy_step_wh = 250,
        .power_w = 7400,
        .stay_s = -1,
        .duration_limit_s = 300,
        .call_timeout_s = 30,
        .connect_timeout_s = 10,
    };
    int rc = sim_parse_args(argc, argv, &s.cfg);
    if (rc) {
        sim_config_clear(&s.cfg);
        return rc > 0 ? 0 : 2;
    }
    /* Tests read stdout line by line while we run. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = sim_on_signal; /* no SA_RESTART: poll() returns and the loop sees it */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    cp_init(&s);
    if (simws_start(&s) == 0) {
        simws_tick_in(&s, 1);
        bool stopping = false;
        while (!s.finished) {
            simws_service(&s);
            if (sim_signalled && !stopping) {
                stopping = true;
                cp_stop(&s, sim_signalled == SIGINT ? "SIGINT" : "SIGTERM");
            }
        }
    } else {
        cp_stop(&s, "start-up failure");
    }
    rc = cp_summary(&s);
    simws_destroy(&s);
    cp_free(&s);
    sim_config_clear(&s.cfg);
    return rc;
}
