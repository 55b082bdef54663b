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
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

// Starts the built binary with args (argv[1..], NULL-terminated) in tmp,
// its stderr discarded, and returns its pid once tmp/wait_for exists or
// about `seconds` have passed.
static inline pid_t start_until_file(const char *const *args, const char *wait_for,
                                     double seconds) {
    pid_t pid = fork();
    if (pid == 0) {
        if (chdir(tmp) != 0) {
            _exit(3);
        }
        FILE *null = freopen("/dev/null", "w", stderr);
        (void)null;
        char *argv[32] = {"conal"};
        // execv takes char *const[]: copy the pointers without a cast
        for (int i = 0; args[i] && i < 30; i++) {
            memcpy(&argv[i + 1], &args[i], sizeof argv[0]);
        }
        execv(CONAL_BINARY_DIR "/conal", argv);
        _exit(4);
    }
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", tmp, wait_for);
    struct timespec pause = {0, 10000000};
    for (int i = 0; i < (int)(seconds * 100.0) && !file_exists(path); i++) {
        nanosleep(&pause, NULL);
    }
    return pid;
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
