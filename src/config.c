/*
 * config.c — the option table behind the command line and the config file (config.h).
 *
 * Each option is one row: its name, whether it takes a value, and a setter. The command line
 * (--name [value]) and the config file (name = value) go through the same setters, so the two
 * can never drift apart.
 */
#include "config.h"

#include "mem.h"
#include "od.h"
#include "timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*config_set_fn)(struct config *cfg, const char *value, char *err, size_t errlen);

struct config_option {
    const char *name;
    bool takes_value; /* false: a switch; in the config file it takes true/false */
    config_set_fn set;
    const char *help;
};

static int parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) return OD_EINVAL;
    *out = v;
    return 0;
}

static int parse_hostport(const char *value, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(value, ':');
    if (!colon || colon == value) return OD_EINVAL;
    const char *h = value;
    size_t hl = (size_t)(colon - value);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') { /* [::1]:8180 */
        h++;
        hl -= 2;
    }
    if (hl == 0 || hl >= hostlen) return OD_EINVAL;
    long p;
    if (parse_int(colon + 1, 0, 65535, &p)) return OD_EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)p;
    return 0;
}

#define SETTER(fn) static int fn(struct config *cfg, const char *v, char *err, size_t errlen)

SETTER(set_listen)
{
    if (parse_hostport(v, cfg->listen_host, sizeof cfg->listen_host, &cfg->listen_port)) {
        snprintf(err, errlen, "--listen: expected HOST:PORT, got '%s'", v);
        return OD_EINVAL;
    }
    return 0;
}

SETTER(set_admin_listen)
{
    if (parse_hostport(v, cfg->admin_host, sizeof cfg->admin_host, &cfg->admin_port)) {
        snprintf(err, errlen, "--admin-listen: expected HOST:PORT, got '%s'", v);
        return OD_EINVAL;
    }
    return 0;
}

SETTER(set_db)
{
    if (!*v || strlen(v) >= sizeof cfg->db_path) {
        snprintf(err, errlen, "--db: expected a file path or :memory:");
        return OD_EINVAL;
    }
    snprintf(cfg->db_path, sizeof cfg->db_path, "%s", v);
    return 0;
}

SETTER(set_db_sync)
{
    if (strcmp(v, "full") == 0) cfg->db_sync = STORE_SYNC_FULL;
    else if (strcmp(v, "normal") == 0) cfg->db_sync = STORE_SYNC_NORMAL;
    else {
        snprintf(err, errlen, "--db-sync: expected full or normal, got '%s'", v);
        return OD_EINVAL;
    }
    return 0;
}

SETTER(set_admin_token)
{
    size_t n = strlen(v);
    if (n < 8 || n >= sizeof cfg->admin_token) {
        snprintf(err, errlen, "--admin-token: expected 8..%zu characters",
                 sizeof cfg->admin_token - 1);
        return OD_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isgraph((unsigned char)v[i])) {
            snprintf(err, errlen, "--admin-token: only printable characters without spaces");
            return OD_EINVAL;
        }
    }
    memcpy(cfg->admin_token, v, n + 1);
    cfg->admin_token_generated = false;
    return 0;
}

static int parse_bool(const char *v, bool *out)
{
    if (!v || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1") || !strcmp(v, "on"))
        *out = true;
    else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0") || !strcmp(v, "off"))
        *out = false;
    else
        return OD_EINVAL;
    return 0;
}

SETTER(set_no_auto_register)
{
    bool b;
    if (parse_bool(v, &b)) {
        snprintf(err, errlen, "no-auto-register: expected true or false");
        return OD_EINVAL;
    }
    cfg->auto_register = !b;
    return 0;
}

SETTER(set_accept_unknown_tokens)
{
    if (parse_bool(v, &cfg->accept_unknown_tokens)) {
        snprintf(err, errlen, "accept-unknown-tokens: expected true or false");
        return OD_EINVAL;
    }
    return 0;
}

#define INT_SETTER(fn, field, flag, min, max)                                                  \
    SETTER(fn)                                                                                 \
    {                                                                                          \
        long x;                                                                                \
        if (parse_int(v, (min), (max), &x)) {                                                  \
            snprintf(err, errlen, "--%s: expected an integer from %ld to %ld, got '%s'", flag, \
                     (long)(min), (long)(max), v);                                             \
            return OD_EINVAL;                                                                  \
        }                                                                                      \
        cfg->field = (int)x;                                                                   \
        return 0;                                                                              \
    }

INT_SETTER(set_heartbeat, heartbeat_interval_s, "heartbeat-interval", 1, 86400)
INT_SETTER(set_ping, ping_interval_s, "ping-interval", 0, 3600)
INT_SETTER(set_idle, idle_timeout_s, "idle-timeout", 0, 86400)
INT_SETTER(set_call_timeout, call_timeout_ms, "call-timeout-ms", 100, 600000)
INT_SETTER(set_max_depth, max_json_depth, "max-json-depth", 4, 256)
INT_SETTER(set_max_conn, max_connections, "max-connections", 1, 1000000)
INT_SETTER(set_max_admin, max_admin_sessions, "max-admin-sessions", 1, 4096)
INT_SETTER(set_max_conns_per_ip, max_conns_per_ip, "max-conns-per-ip", 0, 1000000)
INT_SETTER(set_max_hs_per_ip, max_handshakes_per_ip, "max-handshakes-per-ip", 0, 1000000)
INT_SETTER(set_hs_rate, handshake_rate_per_ip, "handshake-rate-per-ip", 0, 1000000)
INT_SETTER(set_hs_burst, handshake_burst_per_ip, "handshake-burst-per-ip", 1, 1000000)
INT_SETTER(set_auth_failures, auth_failures_per_ip, "auth-failures-per-ip", 0, 100000)
INT_SETTER(set_hs_timeout, handshake_timeout_s, "handshake-timeout", 1, 300)

SETTER(set_limit_loopback)
{
    if (parse_bool(v, &cfg->limit_loopback)) {
        snprintf(err, errlen, "limit-loopback: expected true or false");
        return OD_EINVAL;
    }
    return 0;
}

SETTER(set_max_frame)
{
    long x;
    if (parse_int(v, 1024, 16L * 1024 * 1024, &x)) {
        snprintf(err, errlen, "--max-frame-bytes: expected 1024..16777216, got '%s'", v);
        return OD_EINVAL;
    }
    cfg->max_frame_bytes = (size_t)x;
    return 0;
}

SETTER(set_log_level)
{
    if (log_level_parse(v, &cfg->log_level)) {
        snprintf(err, errlen, "--log-level: expected error, warn, info or debug, got '%s'", v);
        return OD_EINVAL;
    }
    return 0;
}

SETTER(set_config)
{
    /* Handled before the other flags (see config_parse_args); nothing to do here. */
    return 0;
}

/* token = IDTAG STATUS [EXPIRY|-] [PARENT] */
SETTER(set_token)
{
    struct config_token t = {0};
    char idtag[64] = "", status[32] = "", expiry[64] = "", parent[64] = "";
    int n = sscanf(v, "%63s %31s %63s %63s", idtag, status, expiry, parent);
    static const char *const statuses[] = {"Accepted", "Blocked", "Expired", "Invalid"};
    bool ok = n >= 2 && strlen(idtag) <= 36 && strlen(parent) <= 36;
    bool known = false;
    for (size_t i = 0; ok && i < sizeof statuses / sizeof *statuses; i++)
        known |= strcmp(status, statuses[i]) == 0;
    if (ok && known && n >= 3 && strcmp(expiry, "-") != 0)
        ok = od_time_parse(expiry, &t.expiry_ms, NULL) == 0;
    if (!ok || !known) {
        snprintf(err, errlen,
                 "token: expected 'IDTAG Accepted|Blocked|Expired|Invalid [EXPIRY|-] [PARENT]'");
        return OD_EINVAL;
    }
    snprintf(t.id_tag, sizeof t.id_tag, "%s", idtag);
    snprintf(t.status, sizeof t.status, "%s", status);
    snprintf(t.parent_id_tag, sizeof t.parent_id_tag, "%s", parent);
    cfg->tokens = xrealloc(cfg->tokens, (cfg->ntokens + 1) * sizeof *cfg->tokens);
    cfg->tokens[cfg->ntokens++] = t;
    return 0;
}

static const struct config_option config_options[] = {
    {"listen", true, set_listen, "HOST:PORT for charge points (default 0.0.0.0:8180)"},
    {"admin-listen", true, set_admin_listen, "HOST:PORT for admin/health (default 127.0.0.1:8181)"},
    {"db", true, set_db, "SQLite database file, or :memory: (default ./var/ocppd.db)"},
    {"db-sync", true, set_db_sync, "full|normal: fsync before acknowledging, or only at checkpoints"},
    {"admin-token", true, set_admin_token, "bearer token for the admin API (default: random)"},
    {"no-auto-register", false, set_no_auto_register, "reject BootNotification of unknown chargers"},
    {"accept-unknown-tokens", false, set_accept_unknown_tokens,
     "authorize unknown idTags (test benches only)"},
    {"heartbeat-interval", true, set_heartbeat, "seconds, sent in BootNotification (default 300)"},
    {"ping-interval", true, set_ping, "WebSocket ping seconds (default: from heartbeat, max 60)"},
    {"idle-timeout", true, set_idle, "close a silent connection after S seconds (default derived)"},
    {"call-timeout-ms", true, set_call_timeout, "CSMS-initiated call timeout (default 30000)"},
    {"max-frame-bytes", true, set_max_frame, "largest accepted message (default 65536)"},
    {"max-json-depth", true, set_max_depth, "deepest accepted JSON nesting (default 32)"},
    {"max-connections", true, set_max_conn, "charge point connection cap (default 1000000)"},
    {"max-admin-sessions", true, set_max_admin,
     "admin WebSockets open at once, each may queue 4 MiB (default 128)"},
    {"max-conns-per-ip", true, set_max_conns_per_ip,
     "open charger connections per source address, IPv6 per /64 (default 1000, 0 = no cap)"},
    {"max-handshakes-per-ip", true, set_max_hs_per_ip,
     "handshakes in progress at once per source address (default 64, 0 = no cap)"},
    {"handshake-rate-per-ip", true, set_hs_rate,
     "charger handshakes per second per source address (default 20, 0 = no cap)"},
    {"handshake-burst-per-ip", true, set_hs_burst,
     "handshakes one source address may make at once (default 200)"},
    {"auth-failures-per-ip", true, set_auth_failures,
     "failed charger password checks per minute per source address (default 10, 0 = no cap)"},
    {"limit-loopback", false, set_limit_loopback,
     "apply the per-address limits to loopback sources too (default: exempt)"},
    {"handshake-timeout", true, set_hs_timeout,
     "drop a connection whose upgrade is not complete after S seconds (default 10)"},
    {"log-level", true, set_log_level, "error|warn|info|debug (default info)"},
    {"config", true, set_config, "read settings from FILE (name = value lines)"},
    {"token", true, set_token, "seed an idTag: 'IDTAG STATUS [EXPIRY|-] [PARENT]' (repeatable)"},
};

static const struct config_option *config_find(const char *name)
{
    for (size_t i = 0; i < sizeof config_options / sizeof *config_options; i++)
        if (strcmp(config_options[i].name, name) == 0) return &config_options[i];
    return NULL;
}

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->listen_host, sizeof cfg->listen_host, "0.0.0.0");
    cfg->listen_port = 8180;
    snprintf(cfg->admin_host, sizeof cfg->admin_host, "127.0.0.1");
    cfg->admin_port = 8181;
    snprintf(cfg->db_path, sizeof cfg->db_path, "./var/ocppd.db");
    cfg->db_sync = STORE_SYNC_FULL;
    cfg->auto_register = true;
    cfg->heartbeat_interval_s = 300;
    cfg->call_timeout_ms = 30000;
    cfg->max_frame_bytes = 65536;
    cfg->max_json_depth = 32;
    cfg->max_connections = 1000000;
    cfg->max_admin_sessions = 128;
    /* Per-address defaults (README "Connection abuse" says why): a site behind NAT or carrier
     * NAT shows many chargers as one address, so the caps are far above one charger's needs. */
    cfg->max_conns_per_ip = 1000;
    cfg->max_handshakes_per_ip = 64;
    cfg->handshake_rate_per_ip = 20;
    cfg->handshake_burst_per_ip = 200;
    cfg->auth_failures_per_ip = 10;
    cfg->handshake_timeout_s = 10;
    cfg->log_level = LOG_LEVEL_INFO;
}

static void config_generate_token(struct config *cfg)
{
    unsigned char raw[24];
    static const char hex[] = "0123456789abcdef";
    if (RAND_bytes(raw, sizeof raw) != 1) abort(); /* no entropy: nothing safe to do */
    for (size_t i = 0; i < sizeof raw; i++) {
        cfg->admin_token[2 * i] = hex[raw[i] >> 4];
        cfg->admin_token[2 * i + 1] = hex[raw[i] & 15];
    }
    cfg->admin_token[2 * sizeof raw] = '\0';
    cfg->admin_token_generated = true;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
    return s;
}

int config_load_file(struct config *cfg, const char *path, char *errbuf, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errbuf, errlen, "--config: cannot open '%s': %s", path, strerror(errno));
        return OD_EIO;
    }
    /* Whole lines, however long: a fixed buffer would turn the tail of a long line (a long
     * comment, say) into a line of its own that could set anything. A NUL byte would silently
     * cut a line short, so it refuses the file instead. */
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rc = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (memchr(line, '\0', (size_t)len)) {
            snprintf(errbuf, errlen, "%s:%d: NUL byte in the line", path, lineno);
            rc = OD_EINVAL;
            break;
        }
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        char *s = trim(line);
        if (!*s) continue;
        char *eq = strchr(s, '=');
        char *name = s, *value = NULL;
        if (eq) {
            *eq = '\0';
            name = trim(s);
            value = trim(eq + 1);
        }
        const struct config_option *opt = config_find(name);
        char inner[256] = "";
        if (!opt || strcmp(name, "config") == 0) {
            snprintf(errbuf, errlen, "%s:%d: unknown setting '%s'", path, lineno, name);
            rc = OD_EINVAL;
            break;
        }
        if (opt->takes_value && (!value || !*value)) {
            snprintf(errbuf, errlen, "%s:%d: '%s' needs a value", path, lineno, name);
            rc = OD_EINVAL;
            break;
        }
        if (opt->set(cfg, value && *value ? value : NULL, inner, sizeof inner)) {
            snprintf(errbuf, errlen, "%s:%d: %s", path, lineno, inner);
            rc = OD_EINVAL;
            break;
        }
    }
    free(line);
    fclose(f);
    return rc;
}

static void config_print_help(void)
{
    printf("usage: ocppd [options]\n\nOCPP 1.6J central system. Options (also valid in --config "
           "files as 'name = value'):\n");
    for (size_t i = 0; i < sizeof config_options / sizeof *config_options; i++) {
        const struct config_option *o = &config_options[i];
        char flag[48];
        snprintf(flag, sizeof flag, "%s%s", o->name, o->takes_value ? " V" : "");
        printf("  --%-24s %s\n", flag, o->help);
    }
    printf("  --%-24s %s\n  --%-24s %s\n", "help", "show this help", "version", "show the version");
}

static bool config_host_is_wildcard(const char *h)
{
    return !*h || strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0 || strcmp(h, "*") == 0;
}

/* The two listeners on one port would make the second bind fail deep inside lws. Port 0 (any
 * free port) never clashes. */
static bool config_listeners_clash(const struct config *cfg)
{
    if (cfg->listen_port == 0 || cfg->listen_port != cfg->admin_port) return false;
    return strcmp(cfg->listen_host, cfg->admin_host) == 0 ||
           config_host_is_wildcard(cfg->listen_host) || config_host_is_wildcard(cfg->admin_host);
}

int config_parse_args(struct config *cfg, int argc, char **argv, char *errbuf, size_t errlen)
{
    /* The file first, so that flags override it wherever they stand. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc) {
                snprintf(errbuf, errlen, "--config needs a value");
                return OD_EINVAL;
            }
            snprintf(cfg->config_path, sizeof cfg->config_path, "%s", argv[i + 1]);
            int rc = config_load_file(cfg, argv[i + 1], errbuf, errlen);
            if (rc) return rc;
            break;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            config_print_help();
            return 1;
        }
        if (strcmp(arg, "--version") == 0) {
            printf("ocppd %s\n", OD_VERSION);
            return 1;
        }
        const struct config_option *opt = strncmp(arg, "--", 2) == 0 ? config_find(arg + 2) : NULL;
        if (!opt) {
            snprintf(errbuf, errlen, "unknown option '%s' (see --help)", arg);
            return OD_EINVAL;
        }
        const char *value = NULL;
        if (opt->takes_value) {
            if (i + 1 >= argc) {
                snprintf(errbuf, errlen, "%s needs a value", arg);
                return OD_EINVAL;
            }
            value = argv[++i];
        }
        if (opt->set(cfg, value, errbuf, errlen)) return OD_EINVAL;
    }
    if (config_listeners_clash(cfg)) {
        snprintf(errbuf, errlen, "--listen and --admin-listen both bind %s:%d", cfg->admin_host,
                 cfg->admin_port);
        return OD_EINVAL;
    }
    if (!cfg->admin_token[0]) config_generate_token(cfg);
    return 0;
}

int config_ping_interval_s(const struct config *cfg)
{
    if (cfg->ping_interval_s > 0) return cfg->ping_interval_s;
    int p = cfg->heartbeat_interval_s;
    return p > 60 ? 60 : (p < 5 ? 5 : p);
}

int config_idle_timeout_s(const struct config *cfg)
{
    if (cfg->idle_timeout_s > 0) return cfg->idle_timeout_s;
    /* Long enough for a charger that ignores pings but heartbeats on time, short enough to
     * free a dead TCP connection within a few ping rounds. */
    int by_ping = 3 * config_ping_interval_s(cfg);
    int by_heartbeat = 2 * cfg->heartbeat_interval_s + 30;
    return by_ping > by_heartbeat ? by_ping : by_heartbeat;
}

void config_free(struct config *cfg)
{
    free(cfg->tokens);
    cfg->tokens = NULL;
    cfg->ntokens = 0;
}
