/* One-line logs to stderr: "2026-11-21T20:11:21.123Z INFO message".
 * The level is checked before anything is formatted. */
#ifndef MPCONV_LOG_H
#define MPCONV_LOG_H

#include <stdatomic.h>

#include "mpconv/config.h"

/* Atomic: a reload changes it while workers log. */
extern _Atomic int log_threshold;

void log_line(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG_AT(level, ...)                      \
    do {                                        \
        if ((int)(level) <= atomic_load_explicit(&log_threshold, memory_order_relaxed)) \
            log_line((level), __VA_ARGS__);     \
    } while (0)
#define log_error(...) LOG_AT(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) LOG_AT(LOG_WARN, __VA_ARGS__)
#define log_info(...) LOG_AT(LOG_INFO, __VA_ARGS__)
#define log_debug(...) LOG_AT(LOG_DEBUG, __VA_ARGS__)

#endif
