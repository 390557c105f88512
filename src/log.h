/*
 * log.h — one line per event on stderr: time, level, charger id (or "-"), message.
 *
 * Detail goes in key=value form after the message. Never log tokens, passwords or auth headers.
 * LOG_* for process-wide events, CLOG_*(charger_id, ...) for events about one charger.
 * Warnings about protocol violations go through log_ratelimited() so a hostile peer cannot flood
 * the log.
 */
#ifndef OD_LOG_H
#define OD_LOG_H

#include <stdbool.h>

enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

extern enum log_level log_current_level;

void log_set_level(enum log_level level);
/* "error" | "warn" | "info" | "debug" -> 0 and *out, else OD_EINVAL. */
int log_level_parse(const char *name, enum log_level *out);
void log_write(enum log_level level, const char *charger_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* True at most `burst` times per second per key (a static counter the caller owns). */
struct log_ratelimit {
    long window;
    int count;
    int suppressed;
};
bool log_ratelimit_allow(struct log_ratelimit *rl, int burst);

#define LOG_ENABLED(lvl) ((lvl) <= log_current_level)
#define LOG__AT(lvl, cid, ...)                                                                 \
    do {                                                                                      \
        if (LOG_ENABLED(lvl)) log_write((lvl), (cid), __VA_ARGS__);                           \
    } while (0)
#define LOG_ERROR(...) LOG__AT(LOG_LEVEL_ERROR, NULL, __VA_ARGS__)
#define LOG_WARN(...) LOG__AT(LOG_LEVEL_WARN, NULL, __VA_ARGS__)
#define LOG_INFO(...) LOG__AT(LOG_LEVEL_INFO, NULL, __VA_ARGS__)
#define LOG_DEBUG(...) LOG__AT(LOG_LEVEL_DEBUG, NULL, __VA_ARGS__)
#define CLOG_ERROR(cid, ...) LOG__AT(LOG_LEVEL_ERROR, (cid), __VA_ARGS__)
#define CLOG_WARN(cid, ...) LOG__AT(LOG_LEVEL_WARN, (cid), __VA_ARGS__)
#define CLOG_INFO(cid, ...) LOG__AT(LOG_LEVEL_INFO, (cid), __VA_ARGS__)
#define CLOG_DEBUG(cid, ...) LOG__AT(LOG_LEVEL_DEBUG, (cid), __VA_ARGS__)

#endif
