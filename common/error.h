// Error handling in three tiers.
//
// Tier 1, bugs and violated invariants: ASSERT prints file:line, the function
// and a message, then calls the fatal handler (abort by default). ASSERT stays
// on in Release; DEBUG_ASSERT compiles away under NDEBUG for costly checks.
// Tier 2, expected failures (I/O, configs, model files): functions return an
// ErrCode and write a message into a caller buffer with err_set.
// Tier 3, simulation trouble, is counted by the env module, not handled here.
#ifndef COMMON_ERROR_H
#define COMMON_ERROR_H

#include <stddef.h>

// Status codes returned by tier-2 functions: 0 is success, the rest negative.
typedef enum ErrCode {
    ERR_OK = 0,
    ERR_IO = -1,        // a file could not be opened, read or written
    ERR_FORMAT = -2,    // a file's contents are malformed, truncated or corrupt
    ERR_CONFIG = -3,    // a config value is invalid
    ERR_NOMEM = -4,     // an allocation failed or would not fit in memory
    ERR_ARG = -5,       // an invalid argument (flag, name, index)
    ERR_MISMATCH = -6,  // a file is valid but does not fit the object loading it
    ERR_SIM = -7,       // the physics engine reported an error
} ErrCode;

// Signature of a fatal handler. It must not return.
typedef void (*ErrFatalHandler)(const char *message);

// Installs a fatal handler (NULL restores the default, which prints to
// stderr and aborts). Returns the previous handler.
ErrFatalHandler err_set_fatal_handler(ErrFatalHandler handler);

// Formats "file:line function: message" and calls the fatal handler.
_Noreturn void err_fatal(const char *file, int line, const char *func,
                         const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

// Writes a formatted message into err (if err and err_sz are non-zero) and
// returns code, so callers can write `return err_set(err, n, ERR_IO, ...)`.
int err_set(char *err, size_t err_sz, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

// Short name of a status code, e.g. "io error".
const char *err_name(int code);

// Allocators that treat failure as fatal, for small fixed-size objects whose
// absence means the process cannot go on. Large, config-sized buffers are
// allocated with plain malloc and reported as ERR_NOMEM instead.
void *err_xmalloc(size_t n, const char *what);
void *err_xcalloc(size_t count, size_t size, const char *what);

#define ASSERT(cond, ...)                                               \
    do {                                                                \
        if (!(cond)) {                                                  \
            err_fatal(__FILE__, __LINE__, __func__, __VA_ARGS__);       \
        }                                                               \
    } while (0)

#ifdef NDEBUG
#define DEBUG_ASSERT(cond, ...) ((void)0)
#else
#define DEBUG_ASSERT(cond, ...) ASSERT(cond, __VA_ARGS__)
#endif

#endif
