/* log.c — the one-line-per-event logger (log.h). Writes to stderr, unbuffered per line. */
#include "log.h"

#include "od.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum log_level log_current_level = LOG_LEVEL_INFO;

static const char *const log_level_names[] = {"error", "warn", "info", "debug"};

void log_set_level(enum log_level level)
{
    log_current_level = level;
}

int log_level_parse(const char *name, enum log_level *out)
{
    for (size_t i = 0; i < sizeof log_level_names / sizeof *log_level_names; i++) {
        if (strcmp(name, log_level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return OD_EINVAL;
}

void log_write(enum log_level level, const char *charger_id, const char *fmt, ...)
{
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, log_level_names[level],
                     charger_id && *charger_id ? charger_id : "-");
    if (n < 0 || (size_t)n >= sizeof line) n = 0;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2) len = sizeof line - 2;
    /* A peer-controlled string must not be able to forge extra log lines. */
    for (size_t i = (size_t)n; i < len; i++)
        if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}

bool log_ratelimit_allow(struct log_ratelimit *rl, int burst)
{
    long now = (long)time(NULL);
    if (now != rl->window) {
        if (rl->suppressed > 0)
            log_write(LOG_LEVEL_WARN, NULL, "log rate limit suppressed=%d", rl->suppressed);
        rl->window = now;
        rl->count = 0;
        rl->suppressed = 0;
    }
    if (rl->count < burst) {
        rl->count++;
        return true;
    }
    rl->suppressed++;
    return false;
}
