/*
 * cp.c — the simulated charge point (sim.h): what it sends, when, and how it answers the CSMS.
 *
 * Like a real 1.6 charge point it has at most one CALL of its own outstanding; everything else
 * waits in cp_pump(), which picks the next message in this order: BootNotification (until
 * Accepted), messages requested by TriggerMessage, a due Heartbeat, the initial
 * StatusNotification round, then the running session's next step. Calls from the CSMS are
 * answered at once and never wait for our own call.
 *
 * One script serves both versions: the subprotocol the CSMS chose (cp->v201) only changes the
 * shape of each message (BootNotification, StatusNotification per EVSE, Authorize with an
 * idToken, TransactionEvent Started / Updated / Ended instead of Start/StopTransaction and
 * MeterValues, 2.0.1 sampled values) and which CSMS actions are known (cp_actions /
 * cp_actions201); the session steps, the pump and the replies' side effects are shared.
 *
 * Every frame sent or received is printed to stdout as one JSON line; the outcome is judged in
 * cp_summary(). Nothing here blocks: deadlines are checked by cp_tick(), driven by ws.c's timer.
 */
#include "sim.h"

#include "log.h"
#include "mem.h"
#include "timeutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CP_MAX_TRIGGERS 8      /* TriggerMessage requests queued at once; more are Rejected */
#define CP_TICK_MAX_MS 200     /* the timer never sleeps longer, so signals are seen promptly */
#define CP_CLOSE_GRACE_MS 3000 /* how long a clean close may take before we give up on it */

enum cp_phase {
    CP_CONNECTING,
    CP_BOOT,   /* BootNotification until Accepted (Pending retries after its interval) */
    CP_STATUS, /* StatusNotification Available for connectors 0..N */
    CP_SCRIPT, /* the script's own work (the session script's session) */
    CP_STAY,   /* script done: heartbeats and answering calls until --stay ends */
    CP_DONE,   /* closing or closed */
};

/* Steps of one charging session, in order. */
enum cp_sess_step {
    SESS_NONE,
    SESS_AUTHORIZE, /* skipped for remote starts (AuthorizeRemoteTxRequests = false) */
    SESS_PREPARING,
    SESS_START,
    SESS_CHARGING,
    SESS_METER,
    SESS_STOP,
    SESS_FINISHING,
    SESS_AVAILABLE,
};

/* Why our outstanding CALL was sent: decides what its CALLRESULT moves forward. */
enum cp_purpose { P_BOOT, P_HEARTBEAT, P_STATUS_ROUND, P_SESSION, P_TRIGGER };

#define CP_V201_TX_ID_LEN 36 /* 2.0.1 transactionId: identifierString, at most 36 characters */

struct cp_session {
    enum cp_sess_step step;
    bool remote;         /* started by RemoteStartTransaction */
    int connector;
    char id_tag[37];     /* 1.6 idTag (at most 20 characters) or 2.0.1 idToken (36) */
    char token_type[24]; /* 2.0.1 idToken type */
    bool has_tx;
    int64_t tx_id;       /* 1.6: the CSMS's integer transactionId */
    char tx_ext[CP_V201_TX_ID_LEN + 1]; /* 2.0.1: the id we chose */
    int seq_no;          /* 2.0.1: next TransactionEvent seqNo */
    bool has_remote_start_id;
    int64_t remote_start_id;
    int64_t meter_start_wh;
    int meters_sent;
    int64_t next_at;     /* monotonic ms: the next MeterValues waits until then */
    bool stop_requested;
    const char *stop_reason; /* static string */
};

struct cp_pending {
    bool active;
    enum cp_purpose purpose;
    char id[16];
    char action[40];
    int64_t deadline;
};

/* The 2.0.1 device model the sim reports (NotifyReport) and answers Get/SetVariables from. */
struct cp_var {
    const char *component, *variable, *data_type;
    bool readonly;
};

static const struct cp_var cp_vars[] = {
    {"OCPPCommCtrlr", "HeartbeatInterval", "integer", false}, /* live: heartbeat_interval_s */
    {"SampledDataCtrlr", "TxUpdatedInterval", "integer", false},
    {"AuthCtrlr", "AuthorizeRemoteStart", "boolean", false},
    {"ChargingStation", "Model", "string", true},
    {"ChargingStation", "VendorName", "string", true},
};
#define CP_NVARS (sizeof cp_vars / sizeof *cp_vars)
#define CP_VAR_HEARTBEAT 0

struct cp_trigger {
    char message[40];
    int connector; /* -1 when the request named none */
    int64_t request_id; /* NotifyReport: the GetBaseReport requestId */
};

/* Charge point state. Owned by struct sim (s->cp); freed by cp_free(). */
struct sim_cp {
    enum cp_phase phase;
    bool connected;
    bool booted; /* a BootNotification was Accepted on this connection */
    bool v201;   /* the CSMS chose ocpp2.0.1: every message below takes its 2.0.1 shape */
    unsigned next_msg_id;
    struct cp_pending pending;
    struct cp_session sess;
    bool script_session_started;
    int status_next;     /* next connector of the initial status round */
    char (*status)[24];  /* owned, [0..connectors]: the status last reported per connector */
    int64_t *meter_wh;   /* owned, [0..connectors]: energy register per connector */
    char registration[16];
    int heartbeat_interval_s;
    int64_t next_heartbeat_at; /* 0: no heartbeats (interval 0 or not booted) */
    int64_t boot_retry_at;
    int64_t connect_deadline;
    int64_t hard_deadline; /* 0: no --duration-limit */
    int64_t stay_until;    /* 0: stay until stopped */
    int64_t done_at;
    struct cp_trigger triggers[CP_MAX_TRIGGERS];
    int n_triggers;
    char var_value[CP_NVARS][64]; /* 2.0.1 device model, see cp_vars[] */

    /* outcome, for the summary */
    bool script_completed;
    bool failed;
    char fail_reason[256];
    int calls_sent, results, errors, timeouts, incoming_calls, stray, bad_frames;
    int close_code;
    char close_reason[124];
    int http_status;
    char subprotocol[32];
    bool has_last_tx;
    int64_t last_tx_id, last_meter_start, last_meter_stop;
    char last_tx_ext[CP_V201_TX_ID_LEN + 1];
};

int64_t sim_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- output ------------------------------------------------------------------------------- */

/* Prints {"dir":dir,"frame":frame} (frame borrowed) as one line. */
static void cp_print_frame(const char *dir, json_t *frame)
{
    json_t *line = json_pack("{s:s, s:O}", "dir", dir, "frame", frame);
    char *text = line ? json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (text) {
        fputs(text, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
    free(text);
    json_decref(line);
}

/* Prints a received message that is not a JSON value (text or binary) without trusting it. */
static void cp_print_raw(const char *kind, const char *text, size_t len)
{
    json_t *line = json_object();
    json_object_set_new(line, "dir", json_string("in"));
    json_t *str = text ? json_stringn(text, len) : NULL; /* NULL for invalid UTF-8 */
    if (str)
        json_object_set_new(line, kind, str);
    else
        json_object_set_new(line, kind, json_null());
    json_object_set_new(line, "length", json_integer((json_int_t)len));
    char *out = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (out) {
        fputs(out, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
    free(out);
    json_decref(line);
}

/* Prints and queues frame (borrowed). */
static void cp_send_frame(struct sim *s, json_t *frame)
{
    char *text = json_dumps(frame, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text) {
        CLOG_ERROR(s->cfg.id, "cannot serialise an outgoing frame");
        return;
    }
    cp_print_frame("out", frame);
    simws_send_text(s, text, strlen(text));
    free(text);
}

/* ---- ending ------------------------------------------------------------------------------- */

/* Records the first failure; later ones are consequences and only logged. */
static void cp_fail(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cp_fail(struct sim *s, const char *fmt, ...)
{
    struct sim_cp *cp = s->cp;
    char buf[sizeof cp->fail_reason];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    CLOG_WARN(s->cfg.id, "failure: %s", buf);
    if (!cp->failed) {
        cp->failed = true;
        memcpy(cp->fail_reason, buf, sizeof buf);
    }
}

/* Starts the clean close; the loop ends when ws.c reports the connection gone. */
static void cp_finish(struct sim *s)
{
    struct sim_cp *cp = s->cp;
    if (cp->phase == CP_DONE) return;
    cp->phase = CP_DONE;
    cp->done_at = sim_mono_ms();
    if (!cp->connected) {
        s->finished = true;
        return;
    }
    simws_close(s);
    simws_tick_in(s, CP_TICK_MAX_MS);
}

/* ---- our CALLs ------------------------------------------------------------------------------ */

/* Sends CALL action with payload (reference stolen) and waits for its answer. */
static void cp_call(struct sim *s, enum cp_purpose purpose, const char *action, json_t *payload)
{
    struct sim_cp *cp = s->cp;
    struct cp_pending *p = &cp->pending;
    p->active = true;
    p->purpose = purpose;
    snprintf(p->id, sizeof p->id, "%u", ++cp->next_msg_id);
    snprintf(p->action, sizeof p->action, "%s", action);
    p->deadline = sim_mono_ms() + (int64_t)s->cfg.call_timeout_s * 1000;
    json_t *frame = json_pack("[i, s, s, o]", 2, p->id, action, payload);
    cp_send_frame(s, frame);
    json_decref(frame);
    cp->calls_sent++;
}

static void cp_timestamp(char *buf, size_t len)
{
    od_time_format(od_now_ms(), buf, len);
}

static void cp_send_boot(struct sim *s, enum cp_purpose purpose)
{
    json_t *p;
    if (s->cp->v201)
        p = json_pack("{s:s, s:{s:s, s:s, s:s, s:s}}", "reason", "PowerUp", "chargingStation",
                      "model", s->cfg.model, "vendorName", s->cfg.vendor, "serialNumber",
                      s->cfg.id, "firmwareVersion", "ocpp-sim " OD_VERSION);
    else
        p = json_pack("{s:s, s:s, s:s, s:s}", "chargePointVendor", s->cfg.vendor,
                      "chargePointModel", s->cfg.model, "chargePointSerialNumber", s->cfg.id,
                      "firmwareVersion", "ocpp-sim " OD_VERSION);
    cp_call(s, purpose, "BootNotification", p);
}

/* The 2.0.1 connectorStatus for a 1.6 status, the sim's own vocabulary. */
static const char *cp_status_v201(const char *status)
{
    static const char *const same[] = {"Available", "Reserved", "Unavailable", "Faulted"};
    for (size_t i = 0; i < sizeof same / sizeof *same; i++)
        if (strcmp(status, same[i]) == 0) return same[i];
    return "Occupied"; /* Preparing, Charging, Suspended*, Finishing */
}

/* StatusNotification for connector (1.6) or EVSE `connector`, connector 1 (2.0.1). */
static void cp_send_status(struct sim *s, enum cp_purpose purpose, int connector,
                           const char *status)
{
    struct sim_cp *cp = s->cp;
    /* status may be cp->status[connector] itself (a triggered re-send): copy only news. */
    if (connector >= 0 && connector <= s->cfg.connectors && status != cp->status[connector])
        snprintf(cp->status[connector], sizeof cp->status[connector], "%s", status);
    char ts[OD_TIME_BUFSZ];
    cp_timestamp(ts, sizeof ts);
    json_t *p;
    if (cp->v201)
        p = json_pack("{s:s, s:s, s:i, s:i}", "timestamp", ts, "connectorStatus",
                      cp_status_v201(status), "evseId", connector, "connectorId", 1);
    else
        p = json_pack("{s:i, s:s, s:s, s:s}", "connectorId", connector, "errorCode", "NoError",
                      "status", status, "timestamp", ts);
    cp_call(s, purpose, "StatusNotification", p);
}

/* One sampled value: 1.6 has a string value and unit, 2.0.1 a number and unitOfMeasure. */
static json_t *cp_sample(struct sim *s, int64_t value, const char *context,
                         const char *measurand, const char *location, const char *unit)
{
    if (s->cp->v201)
        return json_pack("{s:I, s:s, s:s, s:s, s:{s:s}}", "value", (json_int_t)value, "context",
                         context, "measurand", measurand, "location", location, "unitOfMeasure",
                         "unit", unit);
    char text[32];
    snprintf(text, sizeof text, "%lld", (long long)value);
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "value", text, "context", context, "measurand",
                     measurand, "location", location, "unit", unit);
}

/* A meterValue array of one reading of connector's register, plus power unless power_w < 0
 * and SoC unless soc < 0 (new reference). */
static json_t *cp_meter_value(struct sim *s, int connector, const char *context, int64_t power_w,
                              int soc)
{
    struct sim_cp *cp = s->cp;
    char ts[OD_TIME_BUFSZ];
    cp_timestamp(ts, sizeof ts);
    int64_t wh = connector >= 0 && connector <= s->cfg.connectors ? cp->meter_wh[connector] : 0;
    json_t *samples = json_array();
    json_array_append_new(samples, cp_sample(s, wh, context, "Energy.Active.Import.Register",
                                             "Outlet", "Wh"));
    if (power_w >= 0)
        json_array_append_new(samples, cp_sample(s, power_w, context, "Power.Active.Import",
                                                 "Outlet", "W"));
    if (soc >= 0)
        json_array_append_new(samples, cp_sample(s, soc, context, "SoC", "EV", "Percent"));
    return json_pack("[{s:s, s:o}]", "timestamp", ts, "sampledValue", samples);
}

/* One MeterValues with energy register, power and SoC for connector (transaction when
 * in_tx; 1.6 links it with tx_id, 2.0.1 sends transaction readings in TransactionEvent). */
static void cp_send_meter(struct sim *s, enum cp_purpose purpose, int connector, bool in_tx,
                          int64_t tx_id, const char *context, int soc)
{
    json_t *mv = cp_meter_value(s, connector, context, in_tx ? s->cfg.power_w : 0,
                                in_tx ? soc : -1);
    json_t *p = json_pack("{s:i, s:o}", s->cp->v201 ? "evseId" : "connectorId", connector,
                          "meterValue", mv);
    if (in_tx && !s->cp->v201) json_object_set_new(p, "transactionId", json_integer(tx_id));
    cp_call(s, purpose, "MeterValues", p);
}

/* A 2.0.1 TransactionEvent of the running session; meter (may be NULL) is stolen. */
static void cp_send_tx_event(struct sim *s, const char *type, const char *trigger, json_t *meter,
                             bool with_token)
{
    struct cp_session *ss = &s->cp->sess;
    char ts[OD_TIME_BUFSZ];
    cp_timestamp(ts, sizeof ts);
    bool started = strcmp(type, "Started") == 0, ended = strcmp(type, "Ended") == 0;
    json_t *info = json_pack("{s:s, s:s}", "transactionId", ss->tx_ext, "chargingState",
                             ended ? "Idle" : "Charging");
    if (ended) json_object_set_new(info, "stoppedReason", json_string(ss->stop_reason));
    if (started && ss->has_remote_start_id)
        json_object_set_new(info, "remoteStartId", json_integer(ss->remote_start_id));
    json_t *p = json_pack("{s:s, s:s, s:s, s:i, s:o}", "eventType", type, "timestamp", ts,
                          "triggerReason", trigger, "seqNo", ss->seq_no++, "transactionInfo",
                          info);
    if (with_token)
        json_object_set_new(p, "idToken", json_pack("{s:s, s:s}", "idToken", ss->id_tag, "type",
                                                    ss->token_type));
    if (started)
        json_object_set_new(p, "evse", json_pack("{s:i, s:i}", "id", ss->connector,
                                                 "connectorId", 1));
    if (meter) json_object_set_new(p, "meterValue", meter);
    cp_call(s, P_SESSION, "TransactionEvent", p);
}

/* ---- sessions ------------------------------------------------------------------------------ */

static void cp_sess_result(struct sim *s, json_t *payload);

/* remote_start_id < 0: none (1.6, or a local start). token_type: 2.0.1 only, NULL for ISO14443. */
static void cp_sess_begin(struct sim *s, int connector, const char *id_tag, const char *token_type,
                          bool remote, int64_t remote_start_id)
{
    struct cp_session *ss = &s->cp->sess;
    memset(ss, 0, sizeof *ss);
    ss->step = remote ? SESS_PREPARING : SESS_AUTHORIZE;
    ss->remote = remote;
    ss->connector = connector;
    snprintf(ss->id_tag, sizeof ss->id_tag, "%s", id_tag);
    snprintf(ss->token_type, sizeof ss->token_type, "%s", token_type ? token_type : "ISO14443");
    ss->has_remote_start_id = remote_start_id >= 0;
    ss->remote_start_id = remote_start_id;
    ss->stop_reason = "Local";
    CLOG_INFO(s->cfg.id, "session begins connector=%d remote=%d", connector, remote);
}

/* Sends the current step's CALL if it is due. */
static void cp_sess_pump(struct sim *s, int64_t now)
{
    struct sim_cp *cp = s->cp;
    struct cp_session *ss = &cp->sess;
    const struct sim_config *cfg = &s->cfg;
    char ts[OD_TIME_BUFSZ];

    switch (ss->step) {
    case SESS_NONE:
        return;
    case SESS_AUTHORIZE:
        if (cp->v201)
            cp_call(s, P_SESSION, "Authorize",
                    json_pack("{s:{s:s, s:s}}", "idToken", "idToken", ss->id_tag, "type",
                              ss->token_type));
        else
            cp_call(s, P_SESSION, "Authorize", json_pack("{s:s}", "idTag", ss->id_tag));
        return;
    case SESS_PREPARING:
        cp_send_status(s, P_SESSION, ss->connector, "Preparing");
        return;
    case SESS_START:
        cp_timestamp(ts, sizeof ts);
        ss->meter_start_wh = cp->meter_wh[ss->connector];
        if (cp->v201) {
            /* The charging station names a 2.0.1 transaction itself. */
            snprintf(ss->tx_ext, sizeof ss->tx_ext, "SIM-%lld-%d", (long long)od_now_ms(),
                     ss->connector);
            ss->seq_no = 0;
            cp_send_tx_event(s, "Started", ss->remote ? "RemoteStart" : "Authorized",
                             cp_meter_value(s, ss->connector, "Transaction.Begin", -1, -1),
                             true);
            return;
        }
        cp_call(s, P_SESSION, "StartTransaction",
                json_pack("{s:i, s:s, s:I, s:s}", "connectorId", ss->connector, "idTag",
                          ss->id_tag, "meterStart", (json_int_t)ss->meter_start_wh, "timestamp",
                          ts));
        return;
    case SESS_CHARGING:
    case SESS_FINISHING:
        if (cp->v201) {
            /* 2.0.1 connectors stay Occupied from plug-in to unplug: nothing to report. */
            cp_sess_result(s, NULL);
            cp_sess_pump(s, now);
            return;
        }
        cp_send_status(s, P_SESSION, ss->connector,
                       ss->step == SESS_CHARGING ? "Charging" : "Finishing");
        return;
    case SESS_METER:
        if (ss->stop_requested || ss->meters_sent >= cfg->meter_values) {
            ss->step = SESS_STOP;
            cp_sess_pump(s, now);
            return;
        }
        if (now < ss->next_at) return;
        cp->meter_wh[ss->connector] += cfg->energy_step_wh;
        int soc = 20 + 5 * (ss->meters_sent + 1);
        if (soc > 100) soc = 100;
        if (cp->v201)
            cp_send_tx_event(s, "Updated", "MeterValuePeriodic",
                             cp_meter_value(s, ss->connector, "Sample.Periodic", cfg->power_w,
                                            soc),
                             false);
        else
            cp_send_meter(s, P_SESSION, ss->connector, true, ss->tx_id, "Sample.Periodic", soc);
        return;
    case SESS_STOP: {
        /* A deauthorised tag is not repeated in the Stop, as a charger would not either. */
        bool deauth = strcmp(ss->stop_reason, "DeAuthorized") == 0;
        if (cp->v201) {
            const char *trigger = deauth                                  ? "Deauthorized"
                                  : strcmp(ss->stop_reason, "Remote") == 0 ? "RemoteStop"
                                                                           : "StopAuthorized";
            cp_send_tx_event(s, "Ended", trigger,
                             cp_meter_value(s, ss->connector, "Transaction.End", -1, -1),
                             !deauth);
            return;
        }
        cp_timestamp(ts, sizeof ts);
        json_t *p = json_pack("{s:I, s:I, s:s, s:s}", "transactionId", (json_int_t)ss->tx_id,
                              "meterStop", (json_int_t)cp->meter_wh[ss->connector], "timestamp",
                              ts, "reason", ss->stop_reason);
        if (!deauth) json_object_set_new(p, "idTag", json_string(ss->id_tag));
        cp_call(s, P_SESSION, "StopTransaction", p);
        return;
    }
    case SESS_AVAILABLE:
        cp_send_status(s, P_SESSION, ss->connector, "Available");
        return;
    }
}

/* idTagInfo.status (1.6) or idTokenInfo.status (2.0.1), or dflt when the answer has none. */
static const char *cp_id_tag_status(struct sim *s, json_t *payload, const char *dflt)
{
    json_t *info = json_object_get(payload, s->cp->v201 ? "idTokenInfo" : "idTagInfo");
    const char *st = json_string_value(json_object_get(info, "status"));
    return st ? st : info ? "(missing)" : dflt;
}

/* The CALLRESULT of the session's current step: move on. */
static void cp_sess_result(struct sim *s, json_t *payload)
{
    struct sim_cp *cp = s->cp;
    struct cp_session *ss = &cp->sess;
    const char *st;

    switch (ss->step) {
    case SESS_NONE:
        return;
    case SESS_AUTHORIZE:
        st = cp_id_tag_status(s, payload, "(missing)");
        if (strcmp(st, "Accepted") != 0) {
            cp_fail(s, "Authorize idTag=%s answered %s", ss->id_tag, st);
            ss->step = SESS_NONE;
            cp_finish(s);
            return;
        }
        ss->step = SESS_PREPARING;
        return;
    case SESS_PREPARING:
        ss->step = SESS_START;
        return;
    case SESS_START: {
        json_t *jid = json_object_get(payload, "transactionId");
        if (cp->v201) {
            /* Our own id; idTokenInfo is optional in the answer. */
        } else if (!json_is_integer(jid)) {
            cp_fail(s, "StartTransaction answer has no integer transactionId");
            ss->step = SESS_NONE;
            cp_finish(s);
            return;
        }
        ss->has_tx = true;
        ss->tx_id = cp->v201 ? 0 : json_integer_value(jid);
        cp->has_last_tx = true;
        cp->last_tx_id = ss->tx_id;
        snprintf(cp->last_tx_ext, sizeof cp->last_tx_ext, "%s", ss->tx_ext);
        cp->last_meter_start = ss->meter_start_wh;
        cp->last_meter_stop = 0;
        st = cp_id_tag_status(s, payload, "Accepted");
        if (strcmp(st, "Accepted") != 0) {
            /* StopTransactionOnInvalidId: end it at once, as real chargers do. */
            cp_fail(s, "StartTransaction idTag=%s answered %s", ss->id_tag, st);
            ss->stop_reason = "DeAuthorized";
            ss->step = SESS_STOP;
            return;
        }
        CLOG_INFO(s->cfg.id, "transaction started id=%lld ext=%s connector=%d",
                  (long long)ss->tx_id, ss->tx_ext, ss->connector);
        ss->step = SESS_CHARGING;
        return;
    }
    case SESS_CHARGING:
        ss->step = SESS_METER;
        ss->next_at = sim_mono_ms() + s->cfg.meter_interval_ms;
        return;
    case SESS_METER:
        ss->meters_sent++;
        ss->next_at = sim_mono_ms() + s->cfg.meter_interval_ms;
        return;
    case SESS_STOP:
        cp->last_meter_stop = cp->meter_wh[ss->connector];
        CLOG_INFO(s->cfg.id, "transaction stopped id=%lld ext=%s reason=%s",
                  (long long)ss->tx_id, ss->tx_ext, ss->stop_reason);
        ss->has_tx = false;
        ss->step = SESS_FINISHING;
        return;
    case SESS_FINISHING:
        ss->step = SESS_AVAILABLE;
        return;
    case SESS_AVAILABLE:
        ss->step = SESS_NONE;
        return;
    }
}

/* ---- the pump ------------------------------------------------------------------------------ */

static const char *cp_script_name(enum sim_script script)
{
    switch (script) {
    case SIM_SCRIPT_BOOT: return "boot";
    case SIM_SCRIPT_SESSION: return "session";
    case SIM_SCRIPT_IDLE: return "idle";
    }
    return "?";
}

static void cp_script_complete(struct sim *s)
{
    struct sim_cp *cp = s->cp;
    if (cp->script_completed) return;
    cp->script_completed = true;
    cp->phase = CP_STAY;
    int64_t now = sim_mono_ms();
    if (s->cfg.stay_s >= 0)
        cp->stay_until = now + (int64_t)s->cfg.stay_s * 1000;
    else
        cp->stay_until = s->cfg.script == SIM_SCRIPT_IDLE ? 0 : now;
    CLOG_INFO(s->cfg.id, "script complete script=%s", cp_script_name(s->cfg.script));
}

/* The value of cp_vars[i] now (points into cp). */
static const char *cp_var_get(struct sim *s, size_t i)
{
    struct sim_cp *cp = s->cp;
    if (i == CP_VAR_HEARTBEAT)
        snprintf(cp->var_value[i], sizeof cp->var_value[i], "%d", cp->heartbeat_interval_s);
    return cp->var_value[i];
}

/* The single-part NotifyReport answering GetBaseReport requestId: the whole of cp_vars[]. */
static void cp_send_report(struct sim *s, int64_t request_id)
{
    char ts[OD_TIME_BUFSZ];
    cp_timestamp(ts, sizeof ts);
    json_t *data = json_array();
    for (size_t i = 0; i < CP_NVARS; i++)
        json_array_append_new(
            data, json_pack("{s:{s:s}, s:{s:s}, s:[{s:s, s:s, s:s}], s:{s:s, s:b}}",
                            "component", "name", cp_vars[i].component, "variable", "name",
                            cp_vars[i].variable, "variableAttribute", "type", "Actual", "value",
                            cp_var_get(s, i), "mutability",
                            cp_vars[i].readonly ? "ReadOnly" : "ReadWrite",
                            "variableCharacteristics", "dataType", cp_vars[i].data_type,
                            "supportsMonitoring", false));
    cp_call(s, P_TRIGGER, "NotifyReport",
            json_pack("{s:I, s:s, s:b, s:i, s:o}", "requestId", (json_int_t)request_id,
                      "generatedAt", ts, "tbc", false, "seqNo", 0, "reportData", data));
}

static void cp_send_trigger(struct sim *s)
{
    struct sim_cp *cp = s->cp;
    struct cp_trigger t = cp->triggers[0];
    memmove(&cp->triggers[0], &cp->triggers[1], sizeof t * (size_t)(cp->n_triggers - 1));
    cp->n_triggers--;

    if (strcmp(t.message, "BootNotification") == 0) {
        cp_send_boot(s, P_TRIGGER);
    } else if (strcmp(t.message, "Heartbeat") == 0) {
        cp_call(s, P_TRIGGER, "Heartbeat", json_object());
    } else if (strcmp(t.message, "StatusNotification") == 0) {
        /* 1.6 connector 0 is the charge point; 2.0.1 reports EVSEs from 1. */
        int c = t.connector >= 0 ? t.connector : cp->v201 ? 1 : 0;
        cp_send_status(s, P_TRIGGER, c, c <= s->cfg.connectors ? cp->status[c] : "Available");
    } else if (strcmp(t.message, "MeterValues") == 0) {
        int c = t.connector >= 0 ? t.connector : s->cfg.connector;
        bool in_tx = cp->sess.has_tx && cp->sess.connector == c;
        cp_send_meter(s, P_TRIGGER, c, in_tx, cp->sess.tx_id, "Trigger", 50);
    } else if (strcmp(t.message, "NotifyReport") == 0) {
        cp_send_report(s, t.request_id);
    } else if (strcmp(t.message, "DiagnosticsStatusNotification") == 0 ||
               strcmp(t.message, "FirmwareStatusNotification") == 0) {
        cp_call(s, P_TRIGGER, t.message, json_pack("{s:s}", "status", "Idle"));
    }
}

/* Sends the next CALL if none is outstanding and one is due (see the file comment). */
static void cp_pump(struct sim *s)
{
    struct sim_cp *cp = s->cp;
    if (!cp->connected || cp->pending.active || cp->phase == CP_DONE ||
        cp->phase == CP_CONNECTING)
        return;
    int64_t now = sim_mono_ms();
    if (cp->phase == CP_BOOT) {
        if (now >= cp->boot_retry_at) cp_send_boot(s, P_BOOT);
        return;
    }
    if (cp->n_triggers > 0) {
        cp_send_trigger(s);
        return;
    }
    if (cp->next_heartbeat_at && now >= cp->next_heartbeat_at) {
        cp_call(s, P_HEARTBEAT, "Heartbeat", json_object());
        return;
    }
    if (cp->phase == CP_STATUS) {
        cp_send_status(s, P_STATUS_ROUND, cp->status_next, "Available");
        return;
    }
    if (cp->sess.step != SESS_NONE) {
        cp_sess_pump(s, now);
        return;
    }
    if (cp->phase == CP_SCRIPT) {
        if (s->cfg.script == SIM_SCRIPT_SESSION && !cp->script_session_started) {
            cp->script_session_started = true;
            cp_sess_begin(s, s->cfg.connector, s->cfg.id_tag, NULL, false, -1);
            cp_sess_pump(s, now);
            return;
        }
        cp_script_complete(s);
    }
    if (cp->phase == CP_STAY && cp->stay_until && now >= cp->stay_until) cp_finish(s);
}

/* The next moment something may be due, so the timer sleeps no longer than needed. */
static int64_t cp_next_wakeup(struct sim_cp *cp, int64_t now)
{
    int64_t next = now + CP_TICK_MAX_MS;
#define CP_CONSIDER(t)                                                                         \
    do {                                                                                      \
        if ((t) > 0 && (t) < next) next = (t);                                                \
    } while (0)
    if (cp->phase == CP_CONNECTING) CP_CONSIDER(cp->connect_deadline);
    CP_CONSIDER(cp->hard_deadline);
    if (cp->pending.active) CP_CONSIDER(cp->pending.deadline);
    CP_CONSIDER(cp->next_heartbeat_at);
    if (cp->phase == CP_BOOT) CP_CONSIDER(cp->boot_retry_at);
    if (cp->sess.step == SESS_METER) CP_CONSIDER(cp->sess.next_at);
    if (cp->phase == CP_STAY) CP_CONSIDER(cp->stay_until);
#undef CP_CONSIDER
    return next - now;
}

void cp_tick(struct sim *s)
{
    struct sim_cp *cp = s->cp;
    int64_t now = sim_mono_ms();
    if (cp->phase == CP_DONE) {
        if (now - cp->done_at >= CP_CLOSE_GRACE_MS) {
            CLOG_WARN(s->cfg.id, "close did not complete in %d ms", CP_CLOSE_GRACE_MS);
            s->finished = true;
            return;
        }
        simws_tick_in(s, CP_TICK_MAX_MS);
        return;
    }
    if (cp->phase == CP_CONNECTING && now >= cp->connect_deadline) {
        cp_fail(s, "no connection within %d s", s->cfg.connect_timeout_s);
        cp_finish(s);
        s->finished = true;
        return;
    }
    if (cp->hard_deadline && now >= cp->hard_deadline) {
        cp_stop(s, "duration limit");
        return;
    }
    if (cp->pending.active && now >= cp->pending.deadline) {
        cp->timeouts++;
        cp_fail(s, "no answer to %s id=%s within %d s", cp->pending.action, cp->pending.id,
                s->cfg.call_timeout_s);
        cp->pending.active = false;
        cp_finish(s);
        return;
    }
    cp_pump(s);
    if (cp->phase != CP_DONE) simws_tick_in(s, cp_next_wakeup(cp, sim_mono_ms()));
}

void cp_stop(struct sim *s, const char *why)
{
    struct sim_cp *cp = s->cp;
    if (cp->phase == CP_DONE) return;
    CLOG_INFO(s->cfg.id, "stopping: %s", why);
    if (!cp->script_completed)
        cp_fail(s, "%s before the script completed", why);
    else if (cp->sess.step != SESS_NONE)
        cp_fail(s, "%s during a remotely started session", why);
    else if (cp->pending.active)
        cp_fail(s, "%s while %s id=%s was unanswered", why, cp->pending.action, cp->pending.id);
    cp_finish(s);
}

/* ---- answers to our CALLs ------------------------------------------------------------------- */

static void cp_boot_result(struct sim *s, json_t *payload, bool triggered)
{
    struct sim_cp *cp = s->cp;
    const char *st = json_string_value(json_object_get(payload, "status"));
    json_t *jint = json_object_get(payload, "interval");
    int interval = json_is_integer(jint) ? (int)json_integer_value(jint) : 0;
    snprintf(cp->registration, sizeof cp->registration, "%s", st ? st : "(missing)");
    int64_t now = sim_mono_ms();
    if (st && strcmp(st, "Accepted") == 0) {
        cp->heartbeat_interval_s = interval;
        cp->next_heartbeat_at = interval > 0 ? now + (int64_t)interval * 1000 : 0;
        if (!cp->booted) {
            cp->booted = true;
            cp->phase = CP_STATUS;
            cp->status_next = cp->v201 ? 1 : 0; /* 2.0.1 has no EVSE 0 to report */
        }
        CLOG_INFO(s->cfg.id, "boot accepted heartbeat_interval=%d", interval);
        return;
    }
    if (triggered) return;
    if (st && strcmp(st, "Pending") == 0) {
        /* The CSMS may still accept us; retry after the interval it asked for. */
        cp->boot_retry_at = now + (int64_t)(interval > 0 ? interval : 1) * 1000;
        CLOG_INFO(s->cfg.id, "boot pending retry_in=%ds", interval > 0 ? interval : 1);
        return;
    }
    cp_fail(s, "BootNotification answered status=%s", cp->registration);
    cp_finish(s);
}

static void cp_on_result(struct sim *s, json_t *payload)
{
    struct sim_cp *cp = s->cp;
    struct cp_pending done = cp->pending;
    cp->pending.active = false;
    cp->results++;
    switch (done.purpose) {
    case P_BOOT:
        cp_boot_result(s, payload, false);
        break;
    case P_TRIGGER:
        if (strcmp(done.action, "BootNotification") == 0) cp_boot_result(s, payload, true);
        break;
    case P_HEARTBEAT:
        cp->next_heartbeat_at = cp->heartbeat_interval_s > 0
                                    ? sim_mono_ms() + (int64_t)cp->heartbeat_interval_s * 1000
                                    : 0;
        break;
    case P_STATUS_ROUND:
        if (++cp->status_next > s->cfg.connectors) cp->phase = CP_SCRIPT;
        break;
    case P_SESSION:
        cp_sess_result(s, payload);
        break;
    }
}

/* ---- calls from the CSMS ------------------------------------------------------------------- */

/*
 * Default answer for one CSMS-initiated action (new reference), and what happens after the
 * answer is sent. `after` sees the answer actually sent, which --reply may have replaced, so an
 * operator can make the sim accept what it would refuse by default and see the effect.
 */
struct cp_action {
    const char *name;
    const char *fixed;                                 /* JSON text, or NULL: use reply() */
    json_t *(*reply)(struct sim *s, json_t *payload);  /* new reference */
    void (*after)(struct sim *s, json_t *payload, json_t *answer);
};

static bool cp_status_is(json_t *answer, const char *status)
{
    const char *st = json_string_value(json_object_get(answer, "status"));
    return st && strcmp(st, status) == 0;
}

static int cp_payload_int(json_t *payload, const char *key, int dflt)
{
    json_t *v = json_object_get(payload, key);
    return json_is_integer(v) ? (int)json_integer_value(v) : dflt;
}

/* What a remote start asks for: 1.6 RemoteStartTransaction {connectorId?, idTag} or 2.0.1
 * RequestStartTransaction {evseId?, idToken {idToken, type}, remoteStartId}. false when the
 * request names no token. */
struct cp_remote_start {
    int connector;
    const char *id_tag, *token_type;
    int64_t remote_start_id; /* -1: none */
};

static bool cp_remote_start_args(struct sim *s, json_t *payload, struct cp_remote_start *rs)
{
    if (s->cp->v201) {
        json_t *tok = json_object_get(payload, "idToken");
        json_t *rid = json_object_get(payload, "remoteStartId");
        rs->connector = cp_payload_int(payload, "evseId", s->cfg.connector);
        rs->id_tag = json_string_value(json_object_get(tok, "idToken"));
        rs->token_type = json_string_value(json_object_get(tok, "type"));
        rs->remote_start_id = json_is_integer(rid) ? json_integer_value(rid) : -1;
    } else {
        rs->connector = cp_payload_int(payload, "connectorId", s->cfg.connector);
        rs->id_tag = json_string_value(json_object_get(payload, "idTag"));
        rs->token_type = NULL;
        rs->remote_start_id = -1;
    }
    return rs->id_tag != NULL;
}

static bool cp_can_start(struct sim *s, const struct cp_remote_start *rs)
{
    struct sim_cp *cp = s->cp;
    return cp->booted && cp->sess.step == SESS_NONE && cp->phase != CP_DONE &&
           rs->connector >= 1 && rs->connector <= s->cfg.connectors;
}

static json_t *cp_reply_remote_start(struct sim *s, json_t *payload)
{
    struct cp_remote_start rs;
    bool ok = cp_remote_start_args(s, payload, &rs) && cp_can_start(s, &rs);
    return json_pack("{s:s}", "status", ok ? "Accepted" : "Rejected");
}

static void cp_after_remote_start(struct sim *s, json_t *payload, json_t *answer)
{
    if (!cp_status_is(answer, "Accepted")) return;
    struct cp_remote_start rs;
    if (!cp_remote_start_args(s, payload, &rs) || !cp_can_start(s, &rs)) {
        CLOG_WARN(s->cfg.id, "remote start accepted by --reply but cannot start now");
        return;
    }
    cp_sess_begin(s, rs.connector, rs.id_tag, rs.token_type, true, rs.remote_start_id);
}

/* The request's transactionId names the running session: 1.6 our CSMS's integer, 2.0.1 ours. */
static bool cp_remote_stop_matches(struct sim *s, json_t *payload)
{
    struct cp_session *ss = &s->cp->sess;
    json_t *id = json_object_get(payload, "transactionId");
    bool same = s->cp->v201 ? json_is_string(id) && strcmp(json_string_value(id), ss->tx_ext) == 0
                            : json_is_integer(id) && json_integer_value(id) == ss->tx_id;
    return ss->has_tx && same && (ss->step == SESS_CHARGING || ss->step == SESS_METER);
}

static json_t *cp_reply_remote_stop(struct sim *s, json_t *payload)
{
    bool ok = cp_remote_stop_matches(s, payload);
    return json_pack("{s:s}", "status", ok ? "Accepted" : "Rejected");
}

static void cp_after_remote_stop(struct sim *s, json_t *payload, json_t *answer)
{
    if (!cp_status_is(answer, "Accepted") || !cp_remote_stop_matches(s, payload)) return;
    s->cp->sess.stop_requested = true;
    s->cp->sess.stop_reason = "Remote";
}

/* What TriggerMessage may ask for; DiagnosticsStatusNotification is 1.6 only. */
static const char *const cp_triggerable[] = {
    "BootNotification", "FirmwareStatusNotification", "Heartbeat", "MeterValues",
    "StatusNotification", "DiagnosticsStatusNotification",
};

static bool cp_can_trigger(struct sim *s, const char *msg)
{
    size_t n = sizeof cp_triggerable / sizeof *cp_triggerable - (s->cp->v201 ? 1 : 0);
    for (size_t i = 0; msg && i < n; i++)
        if (strcmp(msg, cp_triggerable[i]) == 0) return true;
    return false;
}

/* Queues a message for cp_pump(); false when the queue is full. */
static bool cp_queue(struct sim *s, const char *message, int connector, int64_t request_id)
{
    struct sim_cp *cp = s->cp;
    if (cp->n_triggers >= CP_MAX_TRIGGERS) return false;
    struct cp_trigger *t = &cp->triggers[cp->n_triggers++];
    snprintf(t->message, sizeof t->message, "%s", message);
    t->connector = connector;
    t->request_id = request_id;
    return true;
}

static json_t *cp_reply_trigger(struct sim *s, json_t *payload)
{
    const char *msg = json_string_value(json_object_get(payload, "requestedMessage"));
    const char *st = !cp_can_trigger(s, msg)                  ? "NotImplemented"
                     : s->cp->n_triggers >= CP_MAX_TRIGGERS ? "Rejected"
                                                            : "Accepted";
    return json_pack("{s:s}", "status", st);
}

static void cp_after_trigger(struct sim *s, json_t *payload, json_t *answer)
{
    const char *msg = json_string_value(json_object_get(payload, "requestedMessage"));
    if (!cp_status_is(answer, "Accepted") || !cp_can_trigger(s, msg)) return;
    int c = s->cp->v201 ? cp_payload_int(json_object_get(payload, "evse"), "id", -1)
                        : cp_payload_int(payload, "connectorId", -1);
    cp_queue(s, msg, c, 0);
}

static json_t *cp_reply_get_configuration(struct sim *s, json_t *payload)
{
    struct sim_cp *cp = s->cp;
    char hb[16], nc[16], mvi[16];
    snprintf(hb, sizeof hb, "%d", cp->heartbeat_interval_s);
    snprintf(nc, sizeof nc, "%d", s->cfg.connectors);
    snprintf(mvi, sizeof mvi, "%d", s->cfg.meter_interval_ms / 1000);
    const struct {
        const char *key, *value;
        bool readonly;
    } keys[] = {
        {"AuthorizeRemoteTxRequests", "false", false},
        {"HeartbeatInterval", hb, false},
        {"MeterValueSampleInterval", mvi, false},
        {"NumberOfConnectors", nc, true},
    };
    size_t nkeys = sizeof keys / sizeof *keys;
    json_t *wanted = json_object_get(payload, "key");
    json_t *known = json_array(), *unknown = json_array();
    for (size_t i = 0; i < nkeys; i++) {
        bool include = json_array_size(wanted) == 0;
        for (size_t j = 0; !include && j < json_array_size(wanted); j++) {
            const char *k = json_string_value(json_array_get(wanted, j));
            include = k && strcmp(k, keys[i].key) == 0;
        }
        if (include)
            json_array_append_new(known, json_pack("{s:s, s:b, s:s}", "key", keys[i].key,
                                                   "readonly", keys[i].readonly, "value",
                                                   keys[i].value));
    }
    for (size_t j = 0; j < json_array_size(wanted); j++) {
        const char *k = json_string_value(json_array_get(wanted, j));
        bool found = false;
        for (size_t i = 0; k && i < nkeys; i++) found = found || strcmp(k, keys[i].key) == 0;
        if (k && !found) json_array_append_new(unknown, json_string(k));
    }
    json_t *out = json_pack("{s:o}", "configurationKey", known);
    if (json_array_size(unknown))
        json_object_set_new(out, "unknownKey", unknown);
    else
        json_decref(unknown);
    return out;
}

/* cp_vars[] index of a request's {component, variable}; -1 UnknownComponent, -2 UnknownVariable.
 * Instances and EVSEs are not modelled: naming one makes the component unknown. */
static int cp_var_find(json_t *item)
{
    json_t *comp = json_object_get(item, "component"), *var = json_object_get(item, "variable");
    const char *cn = json_string_value(json_object_get(comp, "name"));
    const char *vn = json_string_value(json_object_get(var, "name"));
    if (!cn || json_object_get(comp, "instance") || json_object_get(comp, "evse")) return -1;
    int found = -1;
    for (size_t i = 0; i < CP_NVARS; i++) {
        if (strcmp(cn, cp_vars[i].component) != 0) continue;
        found = -2;
        if (vn && !json_object_get(var, "instance") && strcmp(vn, cp_vars[i].variable) == 0)
            return (int)i;
    }
    return found;
}

/* The shared part of one Get/SetVariables result: status, echoed component and variable. */
static json_t *cp_var_result(json_t *item, const char *status)
{
    json_t *r = json_pack("{s:s, s:O, s:O}", "attributeStatus", status, "component",
                          json_object_get(item, "component"), "variable",
                          json_object_get(item, "variable"));
    json_t *type = json_object_get(item, "attributeType");
    if (type) json_object_set(r, "attributeType", type);
    return r;
}

/* A status for an item that cp_var_find() did not resolve, or a non-Actual attribute; NULL when
 * the item may be served. */
static const char *cp_var_refusal(json_t *item, int idx)
{
    const char *type = json_string_value(json_object_get(item, "attributeType"));
    if (idx == -1) return "UnknownComponent";
    if (idx == -2) return "UnknownVariable";
    if (type && strcmp(type, "Actual") != 0) return "NotSupportedAttributeType";
    return NULL;
}

static json_t *cp_reply_get_variables(struct sim *s, json_t *payload)
{
    json_t *items = json_object_get(payload, "getVariableData"), *out = json_array();
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *item = json_array_get(items, i);
        int idx = cp_var_find(item);
        const char *refused = cp_var_refusal(item, idx);
        json_t *r = cp_var_result(item, refused ? refused : "Accepted");
        if (!refused)
            json_object_set_new(r, "attributeValue", json_string(cp_var_get(s, (size_t)idx)));
        json_array_append_new(out, r);
    }
    return json_pack("{s:o}", "getVariableResult", out);
}

static json_t *cp_reply_set_variables(struct sim *s, json_t *payload)
{
    struct sim_cp *cp = s->cp;
    json_t *items = json_object_get(payload, "setVariableData"), *out = json_array();
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *item = json_array_get(items, i);
        int idx = cp_var_find(item);
        const char *st = cp_var_refusal(item, idx);
        const char *value = json_string_value(json_object_get(item, "attributeValue"));
        if (!st && (cp_vars[idx].readonly || !value || strlen(value) >= sizeof *cp->var_value))
            st = "Rejected";
        if (!st && idx == CP_VAR_HEARTBEAT) {
            char *end;
            long v = strtol(value, &end, 10);
            if (end == value || *end || v < 0 || v > 86400) {
                st = "Rejected";
            } else {
                cp->heartbeat_interval_s = (int)v;
                cp->next_heartbeat_at = v > 0 ? sim_mono_ms() + v * 1000 : 0;
            }
        } else if (!st) {
            snprintf(cp->var_value[idx], sizeof cp->var_value[idx], "%s", value);
        }
        json_array_append_new(out, cp_var_result(item, st ? st : "Accepted"));
    }
    return json_pack("{s:o}", "setVariableResult", out);
}

static json_t *cp_reply_base_report(struct sim *s, json_t *payload)
{
    (void)payload;
    bool ok = s->cp->n_triggers < CP_MAX_TRIGGERS;
    return json_pack("{s:s}", "status", ok ? "Accepted" : "Rejected");
}

static void cp_after_base_report(struct sim *s, json_t *payload, json_t *answer)
{
    json_t *rid = json_object_get(payload, "requestId");
    if (!cp_status_is(answer, "Accepted") || !json_is_integer(rid)) return;
    if (!cp_queue(s, "NotifyReport", -1, json_integer_value(rid)))
        CLOG_WARN(s->cfg.id, "GetBaseReport accepted by --reply but the queue is full");
}

static json_t *cp_reply_tx_status(struct sim *s, json_t *payload)
{
    const char *id = json_string_value(json_object_get(payload, "transactionId"));
    json_t *out = json_pack("{s:b}", "messagesInQueue", false);
    if (id)
        json_object_set_new(out, "ongoingIndicator",
                            json_boolean(s->cp->sess.has_tx &&
                                         strcmp(id, s->cp->sess.tx_ext) == 0));
    return out;
}

/* Every 1.6 CSMS-to-charger action (core, profiles and the security extension), sorted. */
static const struct cp_action cp_actions[] = {
    {"CancelReservation", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"CertificateSigned", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"ChangeAvailability", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"ChangeConfiguration", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"ClearCache", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"ClearChargingProfile", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"DataTransfer", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"DeleteCertificate", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"ExtendedTriggerMessage", NULL, cp_reply_trigger, cp_after_trigger},
    {"GetCompositeSchedule", "{\"status\":\"Rejected\"}", NULL, NULL},
    {"GetConfiguration", NULL, cp_reply_get_configuration, NULL},
    {"GetDiagnostics", "{\"fileName\":\"diagnostics.log\"}", NULL, NULL},
    {"GetInstalledCertificateIds", "{\"status\":\"NotFound\"}", NULL, NULL},
    {"GetLocalListVersion", "{\"listVersion\":0}", NULL, NULL},
    {"GetLog", "{\"status\":\"Accepted\",\"filename\":\"ocpp-sim.log\"}", NULL, NULL},
    {"InstallCertificate", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"RemoteStartTransaction", NULL, cp_reply_remote_start, cp_after_remote_start},
    {"RemoteStopTransaction", NULL, cp_reply_remote_stop, cp_after_remote_stop},
    {"ReserveNow", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"Reset", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"SendLocalList", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"SetChargingProfile", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"SignedUpdateFirmware", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"TriggerMessage", NULL, cp_reply_trigger, cp_after_trigger},
    {"UnlockConnector", "{\"status\":\"Unlocked\"}", NULL, NULL},
    {"UpdateFirmware", "{}", NULL, NULL},
};

/* The 2.0.1 CSMS-to-charging-station actions, sorted. */
static const struct cp_action cp_actions201[] = {
    {"CancelReservation", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"CertificateSigned", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"ChangeAvailability", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"ClearCache", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"ClearChargingProfile", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"ClearDisplayMessage", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"CustomerInformation", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"DataTransfer", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"DeleteCertificate", "{\"status\":\"NotFound\"}", NULL, NULL},
    {"GetBaseReport", NULL, cp_reply_base_report, cp_after_base_report},
    {"GetCompositeSchedule", "{\"status\":\"Rejected\"}", NULL, NULL},
    {"GetDisplayMessages", "{\"status\":\"Unknown\"}", NULL, NULL},
    {"GetInstalledCertificateIds", "{\"status\":\"NotFound\"}", NULL, NULL},
    {"GetLocalListVersion", "{\"versionNumber\":0}", NULL, NULL},
    {"GetLog", "{\"status\":\"Accepted\",\"filename\":\"ocpp-sim.log\"}", NULL, NULL},
    {"GetMonitoringReport", "{\"status\":\"NotSupported\"}", NULL, NULL},
    {"GetReport", "{\"status\":\"NotSupported\"}", NULL, NULL},
    {"GetTransactionStatus", NULL, cp_reply_tx_status, NULL},
    {"GetVariables", NULL, cp_reply_get_variables, NULL},
    {"InstallCertificate", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"RequestStartTransaction", NULL, cp_reply_remote_start, cp_after_remote_start},
    {"RequestStopTransaction", NULL, cp_reply_remote_stop, cp_after_remote_stop},
    {"ReserveNow", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"Reset", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"SendLocalList", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"SetChargingProfile", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"SetDisplayMessage", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"SetNetworkProfile", "{\"status\":\"Accepted\"}", NULL, NULL},
    {"SetVariables", NULL, cp_reply_set_variables, NULL},
    {"TriggerMessage", NULL, cp_reply_trigger, cp_after_trigger},
    {"UnlockConnector", "{\"status\":\"Unlocked\"}", NULL, NULL},
    {"UpdateFirmware", "{\"status\":\"Accepted\"}", NULL, NULL},
};

static int cp_action_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct cp_action *)elem)->name);
}

static void cp_send_error(struct sim *s, const char *id, const char *code, const char *desc)
{
    json_t *frame = json_pack("[i, s, s, s, {}]", 4, id, code, desc);
    cp_send_frame(s, frame);
    json_decref(frame);
}

static void cp_on_call(struct sim *s, const char *id, const char *action, json_t *payload)
{
    struct sim_cp *cp = s->cp;
    cp->incoming_calls++;
    const struct cp_action *table = cp->v201 ? cp_actions201 : cp_actions;
    size_t n = cp->v201 ? sizeof cp_actions201 / sizeof *cp_actions201
                        : sizeof cp_actions / sizeof *cp_actions;
    const struct cp_action *a = bsearch(action, table, n, sizeof *table, cp_action_cmp);
    const struct sim_reply *r = s->cfg.replies;
    while (r && strcmp(r->action, action) != 0) r = r->next;

    json_t *answer = NULL;
    if (r) {
        switch (r->kind) {
        case SIM_REPLY_NONE:
            CLOG_INFO(s->cfg.id, "not answering %s id=%s (--reply)", action, id);
            return;
        case SIM_REPLY_ERROR:
            cp_send_error(s, id, r->error_code, "set by --reply");
            return;
        case SIM_REPLY_RESULT:
            answer = json_deep_copy(r->payload);
            break;
        }
    } else if (!a) {
        cp_send_error(s, id, "NotImplemented", "ocpp-sim does not know this action");
        return;
    } else if (a->fixed) {
        answer = json_loads(a->fixed, 0, NULL);
    } else {
        answer = a->reply(s, payload);
    }
    if (!answer) {
        cp_send_error(s, id, "InternalError", "ocpp-sim could not build an answer");
        return;
    }
    json_t *frame = json_pack("[i, s, O]", 3, id, answer);
    cp_send_frame(s, frame);
    json_decref(frame);
    if (a && a->after) a->after(s, payload, answer);
    json_decref(answer);
}

/* ---- transport events ------------------------------------------------------------------------ */

void cp_on_connected(struct sim *s, const char *subprotocol)
{
    struct sim_cp *cp = s->cp;
    cp->connected = true;
    snprintf(cp->subprotocol, sizeof cp->subprotocol, "%s", subprotocol);
    cp->v201 = strcmp(subprotocol, "ocpp2.0.1") == 0;
    CLOG_INFO(s->cfg.id, "connected subprotocol=%s", *subprotocol ? subprotocol : "(none)");
    if (!*subprotocol) {
        /* OCPP-J: a charge point must not talk to a CSMS that agreed on no subprotocol. */
        cp_fail(s, "the CSMS selected no subprotocol");
        cp_finish(s);
        return;
    }
    cp->phase = CP_BOOT;
    cp->boot_retry_at = 0;
    cp_pump(s);
}

void cp_on_text(struct sim *s, const char *text, size_t len)
{
    struct sim_cp *cp = s->cp;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
    if (!root) {
        cp_print_raw("text", text, len);
        cp->bad_frames++;
        CLOG_WARN(s->cfg.id, "CSMS sent a message that is not JSON: %s", jerr.text);
        return;
    }
    cp_print_frame("in", root);

    json_t *jtype = json_array_get(root, 0);
    const char *id = json_string_value(json_array_get(root, 1));
    int type = json_is_integer(jtype) ? (int)json_integer_value(jtype) : 0;
    size_t n = json_array_size(root);

    if (type == 2 && n == 4 && id && json_is_string(json_array_get(root, 2)) &&
        json_is_object(json_array_get(root, 3))) {
        if (cp->phase != CP_DONE)
            cp_on_call(s, id, json_string_value(json_array_get(root, 2)), json_array_get(root, 3));
    } else if ((type == 3 && n == 3) || (type == 4 && n == 5)) {
        if (!id || !cp->pending.active || strcmp(id, cp->pending.id) != 0) {
            cp->stray++;
            CLOG_WARN(s->cfg.id, "answer to no outstanding call id=%s", id ? id : "(none)");
        } else if (type == 3) {
            cp_on_result(s, json_array_get(root, 2));
        } else {
            cp->errors++;
            cp->pending.active = false;
            const char *code = json_string_value(json_array_get(root, 2));
            cp_fail(s, "%s id=%s answered CALLERROR %s", cp->pending.action, id,
                    code ? code : "(no code)");
            cp_finish(s);
        }
    } else {
        cp->bad_frames++;
        CLOG_WARN(s->cfg.id, "CSMS sent a malformed OCPP-J frame");
        if (type == 2 && id)
            cp_send_error(s, id, cp->v201 ? "FormatViolation" : "FormationViolation",
                          "malformed CALL");
    }
    json_decref(root);
    cp_pump(s);
    if (cp->phase != CP_DONE) simws_tick_in(s, cp_next_wakeup(cp, sim_mono_ms()));
}

void cp_on_binary(struct sim *s, size_t len)
{
    cp_print_raw("binary", NULL, len);
    s->cp->bad_frames++;
    CLOG_WARN(s->cfg.id, "CSMS sent a binary or oversize message length=%zu", len);
}

void cp_on_closed(struct sim *s, int close_code, const char *reason, int http_status,
                  const char *error)
{
    struct sim_cp *cp = s->cp;
    bool was_connected = cp->connected;
    cp->connected = false;
    cp->close_code = close_code;
    snprintf(cp->close_reason, sizeof cp->close_reason, "%s", reason ? reason : "");
    cp->http_status = http_status;
    if (cp->phase != CP_DONE) {
        if (!was_connected)
            cp_fail(s, "connection failed: %s http_status=%d", error ? error : "closed",
                    http_status);
        else
            cp_fail(s, "connection closed by the CSMS code=%d reason=%s", close_code,
                    cp->close_reason);
        cp->phase = CP_DONE;
        cp->done_at = sim_mono_ms();
    }
    CLOG_INFO(s->cfg.id, "disconnected code=%d", close_code);
    s->finished = true;
}

/* ---- lifecycle and summary --------------------------------------------------------------- */

void cp_init(struct sim *s)
{
    struct sim_cp *cp = xcalloc(1, sizeof *cp);
    s->cp = cp;
    int n = s->cfg.connectors;
    cp->status = xcalloc((size_t)n + 1, sizeof *cp->status);
    cp->meter_wh = xcalloc((size_t)n + 1, sizeof *cp->meter_wh);
    for (int i = 0; i <= n; i++) {
        snprintf(cp->status[i], sizeof cp->status[i], "Available");
        cp->meter_wh[i] = s->cfg.meter_start_wh;
    }
    snprintf(cp->var_value[1], sizeof cp->var_value[1], "%d", s->cfg.meter_interval_ms / 1000);
    snprintf(cp->var_value[2], sizeof cp->var_value[2], "false");
    snprintf(cp->var_value[3], sizeof cp->var_value[3], "%s", s->cfg.model);
    snprintf(cp->var_value[4], sizeof cp->var_value[4], "%s", s->cfg.vendor);
    int64_t now = sim_mono_ms();
    cp->phase = CP_CONNECTING;
    cp->connect_deadline = now + (int64_t)s->cfg.connect_timeout_s * 1000;
    cp->hard_deadline = s->cfg.duration_limit_s > 0 ? now + (int64_t)s->cfg.duration_limit_s * 1000
                                                    : 0;
    snprintf(cp->registration, sizeof cp->registration, "%s", "");
}

void cp_free(struct sim *s)
{
    if (!s->cp) return;
    free(s->cp->status);
    free(s->cp->meter_wh);
    free(s->cp);
    s->cp = NULL;
}

/* A JSON string for text that came from the peer or was truncated: never fails. */
static json_t *cp_json_text(const char *text)
{
    json_t *v = json_string(text);
    return v ? v : json_string("(not valid UTF-8)");
}

int cp_summary(struct sim *s)
{
    struct sim_cp *cp = s->cp;
    bool ok = !cp->failed && cp->script_completed && cp->errors == 0 && cp->timeouts == 0 &&
              cp->stray == 0 && cp->bad_frames == 0;
    json_t *sum = json_object();
    json_object_set_new(sum, "ok", json_boolean(ok));
    json_object_set_new(sum, "id", cp_json_text(s->cfg.id));
    json_object_set_new(sum, "script", json_string(cp_script_name(s->cfg.script)));
    json_object_set_new(sum, "completed", json_boolean(cp->script_completed));
    json_object_set_new(sum, "subprotocol", cp_json_text(cp->subprotocol));
    json_object_set_new(sum, "registration", cp_json_text(cp->registration));
    json_object_set_new(sum, "heartbeat_interval", json_integer(cp->heartbeat_interval_s));
    const struct {
        const char *key;
        int value;
    } counts[] = {
        {"calls", cp->calls_sent},       {"results", cp->results},
        {"errors", cp->errors},          {"timeouts", cp->timeouts},
        {"incoming_calls", cp->incoming_calls}, {"stray", cp->stray},
        {"bad_frames", cp->bad_frames},
    };
    for (size_t i = 0; i < sizeof counts / sizeof *counts; i++)
        json_object_set_new(sum, counts[i].key, json_integer(counts[i].value));
    if (cp->has_last_tx) {
        json_object_set_new(sum, "transaction_id", cp->v201 ? json_string(cp->last_tx_ext)
                                                            : json_integer(cp->last_tx_id));
        json_object_set_new(sum, "meter_start", json_integer(cp->last_meter_start));
        json_object_set_new(sum, "meter_stop", json_integer(cp->last_meter_stop));
    }
    json_object_set_new(sum, "close_code", json_integer(cp->close_code));
    json_object_set_new(sum, "close_reason", cp_json_text(cp->close_reason));
    if (cp->http_status) json_object_set_new(sum, "http_status", json_integer(cp->http_status));
    if (cp->failed) json_object_set_new(sum, "failure", cp_json_text(cp->fail_reason));
    json_t *line = json_pack("{s:o}", "summary", sum);
    char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text) {
        fputs(text, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
    free(text);
    json_decref(line);
    return ok ? 0 : 1;
}
