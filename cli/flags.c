// Parsing the numeric values of command-line flags.
#include "cli/flags.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

// An upper bound at or above this is left out of the message ("a positive
// integer"), because it only guards against overflow.
#define OPEN_ENDED 1000000000000LL

// Prints what flag accepts and the text given.
static void print_expected(const char *cmd, const char *flag, const char *text, long long lo,
                           long long hi) {
    if (hi >= OPEN_ENDED && lo <= 1) {
        fprintf(stderr, "conal %s: %s: expected a %s integer, got '%s'\n", cmd, flag,
                lo == 1 ? "positive" : "non-negative", text);
    } else {
        fprintf(stderr, "conal %s: %s: expected an integer in %lld..%lld, got '%s'\n", cmd,
                flag, lo, hi, text);
    }
}

int cli_parse_int(const char *cmd, const char *flag, const char *text, long long lo,
                  long long hi, long long *out) {
    // digits only, because strtoll would accept " 5", "+5" and "-5"
    int digits = text[0] != '\0';
    for (const char *p = text; *p && digits; p++) {
        digits = isdigit((unsigned char)*p);
    }
    errno = 0;
    char *end = NULL;
    long long v = digits ? strtoll(text, &end, 10) : 0;
    if (!digits || errno == ERANGE || *end || v < lo || v > hi) {
        if (digits && (errno == ERANGE || v > hi) && hi >= OPEN_ENDED) {
            fprintf(stderr, "conal %s: %s: %s is too large; the maximum is %lld\n", cmd, flag,
                    text, hi);
        } else {
            print_expected(cmd, flag, text, lo, hi);
        }
        return -1;
    }
    *out = v;
    return 0;
}

int cli_missing_value(const char *cmd, const char *flag) {
    fprintf(stderr, "conal %s: %s: missing value\n", cmd, flag);
    return 2;
}
