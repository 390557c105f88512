/*
 * config.h — ocppd's settings: defaults, the command line and the config file, from one table.
 *
 * Precedence: built-in defaults < --config FILE < command-line flags. The file holds the same
 * names as the long flags, one "name = value" per line ('#' starts a comment); boolean flags take
 * true/false there. See examples/ocppd.conf.
 */
#ifndef OD_CONFIG_H
#define OD_CONFIG_H

#include "log.h"
#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A token seeded from the config file ("token = IDTAG STATUS [EXPIRY] [PARENT]"). */
struct config_token {
    char id_tag[37];
    char status[24];
    int64_t expiry_ms;
    char parent_id_tag[37];
};

struct config {
    char listen_host[64];
    int listen_port;
    char admin_host[64];
    int admin_port;
    char db_path[1024];
    enum store_sync db_sync;
    char admin_token[129];
    bool admin_token_generated; /* no token given: one was generated and must be printed */
    bool auto_register;         /* false with --no-auto-register */
    bool accept_unknown_tokens;
    int heartbeat_interval_s;
    int ping_interval_s;        /* 0 = derived from the heartbeat interval */
    int idle_timeout_s;         /* 0 = derived */
    int call_timeout_ms;        /* CSMS-initiated call timeout */
    size_t max_frame_bytes;
    int max_json_depth;
    int max_connections;
    int max_admin_sessions;      /* each may hold ADMIN_OUTQ_MAX_BYTES: the cap bounds memory */
    /* Abuse limits per source address (IPv6: per /64); 0 turns one off. See peerlimit.h. */
    int max_conns_per_ip;
    int max_handshakes_per_ip;   /* handshakes in progress at once */
    int handshake_rate_per_ip;   /* handshakes per second, sustained */
    int handshake_burst_per_ip;  /* handshakes at once */
    int auth_failures_per_ip;    /* failed charger password checks per minute */
    bool limit_loopback;         /* apply them to 127.0.0.0/8 and ::1 too */
    int handshake_timeout_s;     /* an upgrade not complete by then is dropped (slowloris) */
    enum log_level log_level;
    char config_path[1024];
    struct config_token *tokens; /* owned */
    size_t ntokens;
};

/* Fills cfg with the built-in defaults. */
void config_defaults(struct config *cfg);

/*
 * Applies --config FILE (if present anywhere in argv) and then every flag in argv. Returns 0,
 * 1 if --help or --version was printed (caller exits 0), or OD_EINVAL after writing one line
 * saying why to errbuf. Derived values (ping interval, idle timeout, token) are filled in.
 */
int config_parse_args(struct config *cfg, int argc, char **argv, char *errbuf, size_t errlen);

/* Reads a config file into cfg. OD_EINVAL / OD_EIO with one line in errbuf. */
int config_load_file(struct config *cfg, const char *path, char *errbuf, size_t errlen);

/* Ping interval and idle timeout as used, after derivation from the heartbeat interval. */
int config_ping_interval_s(const struct config *cfg);
int config_idle_timeout_s(const struct config *cfg);

void config_free(struct config *cfg);

#endif
