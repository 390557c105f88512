/*
 * sim.h — internals of ocpp-sim, a simulated OCPP 1.6J or 2.0.1 charge point for manual testing
 * and the integration suite (the subprotocol the CSMS chooses decides which). Not a library: one process drives one charge point over one connection.
 *
 * main.c  options table, --help, the loop, the summary line and the exit code.
 * ws.c    the libwebsockets client (the only file that includes <libwebsockets.h>): connect,
 *         reassemble received messages, queue and write outgoing ones, close, the tick timer.
 * cp.c    what the charge point says and when: the scripts, one outstanding CALL at a time,
 *         heartbeats, replies to CSMS-initiated calls and their side effects.
 */
#ifndef OCPP_SIM_H
#define OCPP_SIM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sim_script { SIM_SCRIPT_BOOT, SIM_SCRIPT_SESSION, SIM_SCRIPT_IDLE };

/* How to answer one CSMS-initiated action (--reply Action=...). */
enum sim_reply_kind {
    SIM_REPLY_RESULT, /* CALLRESULT with payload */
    SIM_REPLY_ERROR,  /* CALLERROR with error_code */
    SIM_REPLY_NONE,   /* never answer (lets a CSMS exercise its call timeout) */
};

/* One --reply option. Owned by sim_config.replies (a list freed by sim_config_clear()). */
struct sim_reply {
    char *action;        /* owned */
    enum sim_reply_kind kind;
    json_t *payload;     /* SIM_REPLY_RESULT: new reference owned here */
    char *error_code;    /* SIM_REPLY_ERROR: owned */
    struct sim_reply *next;
};

/* Command-line settings; strings point into argv (or static defaults) unless said otherwise. */
struct sim_config {
    const char *url;      /* base URL; "/<id>" is appended */
    const char *id;
    const char *protocol; /* offered subprotocol(s), comma-separated */
    const char *password; /* HTTP Basic auth when non-NULL */
    const char *id_tag;
    const char *vendor;
    const char *model;
    enum sim_script script;
    int connectors;       /* number of connectors, 1.. */
    int connector;        /* the one the script session uses */
    int meter_values;     /* MeterValues per session */
    int meter_interval_ms;
    int64_t meter_start_wh;
    int64_t energy_step_wh; /* register increase per MeterValues */
    int64_t power_w;
    int stay_s;           /* -1: not given */
    int duration_limit_s; /* 0: none */
    int call_timeout_s;
    int connect_timeout_s;
    bool insecure;        /* wss: accept self-signed certificates */
    struct sim_reply *replies;
};

void sim_config_clear(struct sim_config *cfg);

struct simws;  /* transport state, private to ws.c */
struct sim_cp; /* charge point state, private to cp.c */

/* The process-wide simulator: config, transport, charge point. Lives on main()'s stack. */
struct sim {
    struct sim_config cfg;
    struct simws *ws;
    struct sim_cp *cp;
    bool finished; /* the loop stops: connection gone and summary ready */
};

/* Monotonic milliseconds, for deadlines (never the wall clock, which the tests may not trust). */
int64_t sim_mono_ms(void);

/* ---- transport (ws.c) ------------------------------------------------------------------------ */

/* Creates the lws context and starts connecting to cfg.url + "/" + cfg.id. 0 or -1 (logged). */
int simws_start(struct sim *s);
/* Runs one round of lws service (blocks until an event or the tick timer). */
void simws_service(struct sim *s);
/* Queues text (copied) for sending as one text message. Dropped if the connection is gone. */
void simws_send_text(struct sim *s, const char *text, size_t len);
/* Sends what is queued, then closes with 1000. Idempotent; safe from any callback. */
void simws_close(struct sim *s);
/* Asks for cp_tick() to run in about ms milliseconds (replaces the previous request). */
void simws_tick_in(struct sim *s, int64_t ms);
/* Frees the context (after the loop ended). NULL-safe on a never-started transport. */
void simws_destroy(struct sim *s);
/* A percent-encoded form of id fit for a URL path segment (caller frees). */
char *simws_path_escape(const char *id);

/* ---- charge point (cp.c), called by the transport ------------------------------------------- */

void cp_init(struct sim *s);
void cp_free(struct sim *s);
void cp_on_connected(struct sim *s, const char *subprotocol);
void cp_on_text(struct sim *s, const char *text, size_t len);
void cp_on_binary(struct sim *s, size_t len);
/* close_code 0 when no close frame was received; http_status 0 unless the handshake got one. */
void cp_on_closed(struct sim *s, int close_code, const char *reason, int http_status,
                  const char *error);
void cp_tick(struct sim *s);
/* SIGINT/SIGTERM or the duration limit: wind down now. */
void cp_stop(struct sim *s, const char *why);
/* Prints the summary line; returns the process exit code (0 success, 1 failure). */
int cp_summary(struct sim *s);

#endif
