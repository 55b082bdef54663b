// Levelled logger with a replaceable sink.
//
// A line reads "2026-12-04T16:20:01.123 I message key=value ...": an ISO-8601
// UTC timestamp, one level character (D, I, W, E) and the message. Library
// code logs through here and never calls printf; the default sink writes to
// stderr. Logging is thread-safe: lines from several threads never interleave.
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

typedef enum LogLevel {
    LOG_DEBUG = 0,
    LOG_INFO = 1,
    LOG_WARN = 2,
    LOG_ERROR = 3,
    LOG_OFF = 4,
} LogLevel;

// Receives each formatted line (without trailing newline) and its level.
typedef void (*LogSink)(LogLevel level, const char *line, void *ctx);

// Sets the minimum level that reaches the sink (default LOG_INFO).
void log_set_level(LogLevel level);
LogLevel log_get_level(void);

// Installs a sink (NULL restores the stderr sink).
void log_set_sink(LogSink sink, void *ctx);

// Level character: 'D', 'I', 'W' or 'E'.
char log_level_char(LogLevel level);

// Parses "debug", "info", "warn", "error" or "off"; returns -1 otherwise.
int log_level_parse(const char *name);

void log_write(LogLevel level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_write(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

#endif
