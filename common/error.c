// Fatal handler, error buffers and checked allocation.
#include "common/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

// Default fatal handler: message to stderr, then abort for a core dump.
static void fatal_default(const char *message) {
    fprintf(stderr, "fatal: %s\n", message);
    fflush(stderr);
    abort();
}

static ErrFatalHandler fatal_handler = fatal_default;

ErrFatalHandler err_set_fatal_handler(ErrFatalHandler handler) {
    ErrFatalHandler old = fatal_handler;
    fatal_handler = handler ? handler : fatal_default;
    return old;
}

void err_fatal(const char *file, int line, const char *func, const char *fmt, ...) {
    char msg[1024];
    int n = snprintf(msg, sizeof msg, "%s:%d %s: ", file, line, func);
    if (n < 0 || (size_t)n >= sizeof msg) {
        n = 0;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    fatal_handler(msg);

    // a handler that returns breaks the contract; stop anyway
    abort();
}

int err_set(char *err, size_t err_sz, int code, const char *fmt, ...) {
    if (err && err_sz > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_sz, fmt, ap);
        va_end(ap);
    }
    return code;
}

const char *err_name(int code) {
    switch (code) {
    case ERR_OK: return "ok";
    case ERR_IO: return "io error";
    case ERR_FORMAT: return "format error";
    case ERR_CONFIG: return "config error";
    case ERR_NOMEM: return "out of memory";
    case ERR_ARG: return "invalid argument";
    case ERR_MISMATCH: return "mismatch";
    case ERR_SIM: return "simulation error";
    default: return "unknown error code";
    }
}

void *err_xmalloc(size_t n, const char *what) {
    void *p = malloc(n ? n : 1);
    ASSERT(p, "out of memory allocating %zu bytes for %s", n, what);
    return p;
}

void *err_xcalloc(size_t count, size_t size, const char *what) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    ASSERT(p, "out of memory allocating %zu x %zu bytes for %s", count, size, what);
    return p;
}
