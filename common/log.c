// Levelled logger: formatting, level filter and sink dispatch.
#include "common/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static LogLevel log_level = LOG_INFO;
static LogSink log_sink = NULL;
static void *log_sink_ctx = NULL;
static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;

void log_set_level(LogLevel level) {
    log_level = level;
}

LogLevel log_get_level(void) {
    return log_level;
}

void log_set_sink(LogSink sink, void *ctx) {
    pthread_mutex_lock(&log_mutex);
    log_sink = sink;
    log_sink_ctx = ctx;
    pthread_mutex_unlock(&log_mutex);
}

char log_level_char(LogLevel level) {
    switch (level) {
    case LOG_DEBUG: return 'D';
    case LOG_INFO: return 'I';
    case LOG_WARN: return 'W';
    case LOG_ERROR: return 'E';
    default: return '?';
    }
}

int log_level_parse(const char *name) {
    static const char *const names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i < 5; i++) {
        if (strcmp(name, names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

void log_write(LogLevel level, const char *fmt, ...) {
    if (level < log_level || level >= LOG_OFF) {
        return;
    }

    // timestamp with milliseconds, UTC
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char line[2048];
    int n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - (size_t)n, ".%03ld %c ",
                  ts.tv_nsec / 1000000, log_level_char(level));

    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);

    pthread_mutex_lock(&log_mutex);
    if (log_sink) {
        log_sink(level, line, log_sink_ctx);
    } else {
        fprintf(stderr, "%s\n", line);
        fflush(stderr);
    }
    pthread_mutex_unlock(&log_mutex);
}
