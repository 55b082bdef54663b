// Parsing the numeric values of command-line flags, shared by the subcommands.
//
// Every subcommand rejects a bad number the same way: a message on stderr
// naming the subcommand, the flag, the accepted range and the text given,
// e.g. "conal train: --steps: expected a positive integer, got '0'".
#ifndef CLI_FLAGS_H
#define CLI_FLAGS_H

// Parses text as a decimal integer in [lo, hi] (0 <= lo <= hi), the value of
// `flag` of `conal cmd`. Leading signs, spaces, trailing characters and
// values beyond hi (overflow included) are rejected. Returns 0 with *out
// set, or -1 after printing the error; *out is then unchanged.
int cli_parse_int(const char *cmd, const char *flag, const char *text, long long lo,
                  long long hi, long long *out);

// Prints "conal CMD: FLAG: missing value" on stderr; returns 2, the exit
// status of a usage error.
int cli_missing_value(const char *cmd, const char *flag);

#endif
