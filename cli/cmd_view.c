// `conal view`: watch or record a policy's episodes (flags; the viewer is in viz/).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "envs/env.h"
#include "viz/rollout.h"
#include "viz/view.h"

static const char view_usage[] =
    "usage: conal view [RUN_DIR|CHECKPOINT] [--task NAME|all] [--goal I] [--episodes N]\n"
    "                  [--assets DIR] [--random] [--record OUT] [--format mp4|png]\n"
    "                  [--width W --height H] [--fps F] [--frames N] [--no-overlay]\n"
    "\n"
    "Plays episodes of a trained policy (deterministic mean action) in a window, or\n"
    "records them. Needs an X display; without one, run it under `xvfb-run -a`.\n"
    "Each finished episode prints one line: task, goal, steps, return, success.\n"
    "  RUN_DIR          a run directory: loads RUN_DIR/checkpoint.bin and config.json\n"
    "  CHECKPOINT       a checkpoint file (checkpoint.bin, best.bin) inside a run directory\n"
    "  --task NAME|all  one MT10 task (e.g. reach-v3), or all ten tiled (default all)\n"
    "  --goal I         goal variation I (0..49) in every episode; by default episode e\n"
    "                   of N uses goal e*50/N, as `conal eval` does\n"
    "  --episodes N     episodes per task, then exit (default: unlimited in the window,\n"
    "                   1 when recording)\n"
    "  --assets DIR     Meta-World asset folder (containing sawyer_xyz/) instead of the run's\n"
    "                   scenes\n"
    "  --random         uniform random actions; without RUN_DIR it uses the default config\n"
    "                   (150-step episodes)\n"
    "  --record OUT     renders off-screen in a hidden window and writes OUT.mp4 through\n"
    "                   ffmpeg when it is on PATH, else PNG frames OUT/000000.png ...;\n"
    "                   missing folders of OUT are created first\n"
    "  --format F       mp4 or png: forces the recording format\n"
    "  --width W        window or frame width in pixels (default 960, tiled 1500)\n"
    "  --height H       window or frame height in pixels (default 720, tiled 600)\n"
    "  --fps F          recorded frames per simulated second, 1..80 (default 40; at 80\n"
    "                   every env step of 12.5 ms is one frame)\n"
    "  --frames N       stops after N frames (window or recording)\n"
    "  --no-overlay     draws no text over the scenes\n"
    "\n"
    "Keys: space pause, . single step, right/left next/previous task, r restart the\n"
    "episode, c cycle cameras, + and - playback speed, h help, Esc quit. In the\n"
    "tiled view (all tasks) right/left show one task alone, then the next or\n"
    "previous one, and all tasks again after the last or before the first; a shows\n"
    "all tasks at once. The other tasks keep playing meanwhile. Each change prints\n"
    "a `view:` line. Mouse: left drag rotates, right drag moves, scroll zooms.\n";

// Parses an integer flag value in [lo, hi] into *out; returns 0 or -1 after
// printing the error.
static int parse_int(const char *flag, const char *text, long lo, long hi, long *out) {
    long long v = 0;
    if (cli_parse_int("view", flag, text, lo, hi, &v) != 0) {
        return -1;
    }
    *out = (long)v;
    return 0;
}

// Parses the value of a flag that takes one; returns 0, or 2 on bad input.
static int parse_value(VizViewOptions *o, const char *flag, const char *value) {
    long v = 0;
    int rc = 0;
    if (strcmp(flag, "--task") == 0) {
        o->task = strcmp(value, "all") == 0 ? -1 : env_task_index(value);
        if (o->task < 0 && strcmp(value, "all") != 0) {
            fprintf(stderr, "conal view: --task: unknown task '%s'; use an MT10 name "
                            "(reach-v3 ... window-close-v3) or all\n", value);
            return 2;
        }
    } else if (strcmp(flag, "--goal") == 0) {
        rc = parse_int(flag, value, 0, ENV_N_GOALS - 1, &v);
        o->goal = (int)v;
    } else if (strcmp(flag, "--episodes") == 0) {
        rc = parse_int(flag, value, 1, 1000000, &v);
        o->episodes = (int)v;
    } else if (strcmp(flag, "--assets") == 0) {
        o->assets = value;
    } else if (strcmp(flag, "--record") == 0) {
        o->record = value;
    } else if (strcmp(flag, "--format") == 0) {
        if (strcmp(value, "mp4") != 0 && strcmp(value, "png") != 0) {
            fprintf(stderr, "conal view: --format: expected mp4 or png, got '%s'\n", value);
            return 2;
        }
        o->format = strcmp(value, "mp4") == 0 ? VIZ_FORMAT_MP4 : VIZ_FORMAT_PNG;
    } else if (strcmp(flag, "--width") == 0) {
        rc = parse_int(flag, value, 16, 8192, &v);
        o->width = (int)v;
    } else if (strcmp(flag, "--height") == 0) {
        rc = parse_int(flag, value, 16, 8192, &v);
        o->height = (int)v;
    } else if (strcmp(flag, "--fps") == 0) {
        rc = parse_int(flag, value, 1, VIZ_STEPS_PER_SECOND, &v);
        o->fps = (int)v;
    } else if (strcmp(flag, "--frames") == 0) {
        rc = parse_int(flag, value, 1, 100000000, &v);
        o->frames = v;
    } else {
        return 1;   // not a flag with a value
    }
    return rc == 0 ? 0 : 2;
}

int cmd_view(int argc, char **argv) {
    VizViewOptions o;
    viz_view_defaults(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("%s", view_usage);
            return 0;
        } else if (strcmp(a, "--random") == 0) {
            o.random = 1;
        } else if (strcmp(a, "--no-overlay") == 0) {
            o.overlay = 0;
        } else if (a[0] == '-' && i + 1 < argc) {
            int rc = parse_value(&o, a, argv[i + 1]);
            if (rc == 1) {
                fprintf(stderr, "conal view: unknown option '%s'\n%s", a, view_usage);
                return 2;
            }
            if (rc != 0) {
                return 2;
            }
            i++;
        } else if (a[0] == '-') {
            fprintf(stderr, "conal view: unknown option or missing value: '%s'\n%s", a,
                    view_usage);
            return 2;
        } else if (!o.run) {
            o.run = a;
        } else {
            fprintf(stderr, "conal view: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    if (!o.run && !o.random) {
        fprintf(stderr, "conal view: missing RUN_DIR or CHECKPOINT (or --random)\n%s",
                view_usage);
        return 2;
    }
    if ((o.width > 0) != (o.height > 0)) {
        fprintf(stderr, "conal view: --width and --height go together\n");
        return 2;
    }
    char err[4096] = "";
    if (viz_view_main(&o, err, sizeof err) != 0) {
        fprintf(stderr, "conal view: %s\n", err);
        return 1;
    }
    return 0;
}
