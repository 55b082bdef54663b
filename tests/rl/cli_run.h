// Helpers for tests that run the built `conal` binary in a private directory.
//
// The including test sets `tmp` (check_tmpdir) before the first call. Files
// are named relative to tmp, and `run` keeps the combined stdout and stderr
// of the last command in out_text.
#ifndef TESTS_RL_CLI_RUN_H
#define TESTS_RL_CLI_RUN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/fileio.h"

static char tmp[512];          // private directory of the test program
static char out_text[65536];   // stdout and stderr of the last command

// Writes text to tmp/name; exits with status 2 when that fails.
static void write_file(const char *name, const char *text) {
    char path[700], err[256];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    if (file_write_atomic(path, text, strlen(text), err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        exit(2);
    }
}

// Reads tmp/name into a malloc'd string ("" when missing).
static char *read_file(const char *name) {
    char path[1200], err[256];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    char *text = NULL;
    size_t n = 0;
    if (file_read_all(path, &text, &n, err, sizeof err) != 0) {
        text = calloc(1, 1);
    }
    return text;
}

// Runs `conal ARGS` in tmp; returns the exit code (128 + signal when killed)
// and keeps the combined output in out_text.
static int run(const char *args) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s/conal' %s > out.txt 2>&1", tmp,
             CONAL_BINARY_DIR, args);
    int status = system(cmd);
    char *text = read_file("out.txt");
    snprintf(out_text, sizeof out_text, "%s", text);
    free(text);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#endif
