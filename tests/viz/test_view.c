// Tests of `conal view` through the built binary, under a virtual X server.
//
// CTest starts this program with `xvfb-run -a`, so DISPLAY names an Xvfb
// server. The checks read the recorded PNG frames back with libpng and
// compare the printed episode lines with `conal eval --json` on the same
// policy and goal.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <png.h>

#include "envs/env.h"
#include "tests/check.h"

static char tmp_root[512];
static char conal[600];

// ---- helpers ----

// Runs a shell command with stdout and stderr into files under tmp_root;
// returns the exit status (or -1 when it did not exit normally).
static int run(const char *cmd, const char *out_name) {
    char line[8192];
    snprintf(line, sizeof line, "%s > %s/%s.out 2> %s/%s.err", cmd, tmp_root, out_name,
             tmp_root, out_name);
    int status = system(line);
    if (status == -1 || !WIFEXITED(status)) {
        return -1;
    }
    return WEXITSTATUS(status);
}

// Reads tmp_root/<name>.<ext> into a malloc'ed string (NULL when missing).
static char *read_output(const char *name, const char *ext) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.%s", tmp_root, name, ext);
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = calloc((size_t)n + 1, 1);
    if (text && fread(text, 1, (size_t)n, f) != (size_t)n) {
        text[0] = '\0';
    }
    fclose(f);
    return text;
}

// Prints the stderr of a failed command, so the test log shows why.
static void show_err(const char *name) {
    char *text = read_output(name, "err");
    fprintf(stderr, "--- stderr of %s ---\n%s\n", name, text ? text : "(none)");
    free(text);
}

typedef struct Image {
    int width, height;
    unsigned char *rgb;   // height x width x 3
} Image;

// Reads an 8-bit RGB PNG; returns 0, or -1 when missing or another format.
static int read_png(const char *path, Image *img) {
    memset(img, 0, sizeof *img);
    FILE *f = fopen(path, "rb");
    if (!f) {
        return -1;
    }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(f);
        return -1;
    }
    png_init_io(png, f);
    png_read_info(png, info);
    int ok = png_get_color_type(png, info) == PNG_COLOR_TYPE_RGB &&
             png_get_bit_depth(png, info) == 8;
    if (ok) {
        img->width = (int)png_get_image_width(png, info);
        img->height = (int)png_get_image_height(png, info);
        img->rgb = malloc((size_t)img->width * (size_t)img->height * 3);
        for (int y = 0; y < img->height; y++) {
            png_read_row(png, img->rgb + (size_t)y * (size_t)img->width * 3, NULL);
        }
    }
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    return ok ? 0 : -1;
}

// Reads frame k of the PNG recording in tmp_root/<dir>.
static int read_frame(const char *dir, int k, Image *img) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s/%06d.png", tmp_root, dir, k);
    return read_png(path, img);
}

// Standard deviation of the pixel values in a w x h region at (x0, y0).
static double region_std(const Image *img, int x0, int y0, int w, int h) {
    double sum = 0.0, sum2 = 0.0;
    for (int y = y0; y < y0 + h; y++) {
        const unsigned char *row = img->rgb + ((size_t)y * (size_t)img->width + (size_t)x0) * 3;
        for (int i = 0; i < w * 3; i++) {
            sum += row[i];
            sum2 += (double)row[i] * row[i];
        }
    }
    double n = 3.0 * w * h, mean = sum / n;
    return sqrt(sum2 / n - mean * mean);
}

// Mean absolute difference between two same-sized regions of a and b.
static double region_diff(const Image *a, int ax, int ay, const Image *b, int bx, int by,
                          int w, int h) {
    double sum = 0.0;
    for (int y = 0; y < h; y++) {
        const unsigned char *ra = a->rgb + ((size_t)(ay + y) * (size_t)a->width + (size_t)ax) * 3;
        const unsigned char *rb = b->rgb + ((size_t)(by + y) * (size_t)b->width + (size_t)bx) * 3;
        for (int i = 0; i < w * 3; i++) {
            sum += abs((int)ra[i] - (int)rb[i]);
        }
    }
    return sum / (3.0 * w * h);
}

// Share of pixels whose largest channel difference between the two
// same-sized regions exceeds 32 levels.
static double region_changed(const Image *a, int ax, int ay, const Image *b, int bx, int by,
                             int w, int h) {
    long changed = 0;
    for (int y = 0; y < h; y++) {
        const unsigned char *ra = a->rgb + ((size_t)(ay + y) * (size_t)a->width + (size_t)ax) * 3;
        const unsigned char *rb = b->rgb + ((size_t)(by + y) * (size_t)b->width + (size_t)bx) * 3;
        for (int x = 0; x < w; x++) {
            int d = 0;
            for (int c = 0; c < 3; c++) {
                int dc = abs((int)ra[3 * x + c] - (int)rb[3 * x + c]);
                d = dc > d ? dc : d;
            }
            changed += d > 32;
        }
    }
    return (double)changed / ((double)w * h);
}

// Per-task return and success parsed from `episode ...` lines of the viewer.
typedef struct Episodes {
    int count[ENV_N_TASKS];
    double ret[ENV_N_TASKS];        // summed over episodes
    double success[ENV_N_TASKS];    // summed over episodes
} Episodes;

// Parses the viewer's stdout; returns the number of episode lines.
static int parse_episodes(const char *text, Episodes *e) {
    memset(e, 0, sizeof *e);
    int lines = 0;
    for (const char *p = text; p && (p = strstr(p, "episode task=")) != NULL; p++) {
        char task[64];
        int goal, episode, steps, success;
        double ret;
        if (sscanf(p, "episode task=%63s goal=%d episode=%d steps=%d return=%lf success=%d",
                   task, &goal, &episode, &steps, &ret, &success) != 6) {
            continue;
        }
        int t = env_task_index(task);
        if (t >= 0) {
            e->count[t]++;
            e->ret[t] += ret;
            e->success[t] += success;
            lines++;
        }
    }
    return lines;
}

// Compares the viewer's episodes of `tasks` with `conal eval --json` output:
// eval reports means over its episodes, rounded to 3 decimals (return) and
// 4 decimals (success).
static void check_matches_eval(const Episodes *e, const char *eval_json, const int *tasks,
                               int n) {
    cJSON *root = cJSON_Parse(eval_json);
    CHECK_MSG(root != NULL, "eval output is not JSON: %s", eval_json ? eval_json : "");
    if (!root) {
        return;
    }
    cJSON *succ = cJSON_GetObjectItem(root, "success");
    cJSON *ret = cJSON_GetObjectItem(root, "return");
    for (int i = 0; i < n; i++) {
        const char *name = env_task_name(tasks[i]);
        cJSON *s = cJSON_GetObjectItem(succ, name), *r = cJSON_GetObjectItem(ret, name);
        CHECK_MSG(s && r, "eval has no %s", name);
        CHECK_MSG(e->count[tasks[i]] > 0, "viewer printed no episode of %s", name);
        if (!s || !r || e->count[tasks[i]] == 0) {
            continue;
        }
        double k = e->count[tasks[i]];
        CHECK_NEAR(r->valuedouble, e->ret[tasks[i]] / k, 2e-3);
        CHECK_NEAR(s->valuedouble, e->success[tasks[i]] / k, 1e-4);
    }
    cJSON_Delete(root);
}

// Trains a tiny run into tmp_root/<name> with the given hidden width; a
// CoNAL run searches for 40 steps and retrains the derived networks for 40.
static int train_tiny(const char *name, int hidden, int use_conal) {
    char cfg_path[1200], cmd[4096];
    snprintf(cfg_path, sizeof cfg_path, "%s/%s.json", tmp_root, name);
    FILE *f = fopen(cfg_path, "w");
    if (!f) {
        return -1;
    }
    fprintf(f,
            "{\"seed\": 3, \"env\": {\"episode_length\": 20},\n"
            " \"agent\": {\"method\": \"%s\", \"actor\": {\"hidden\": [%d, %d]},\n"
            "  \"critic\": {\"hidden\": [16, 16]}},\n"
            " %s\"train\": {\"steps\": 40, \"batch_size\": 8, \"random_steps\": 20,\n"
            "  \"replay_capacity\": 100, \"log_interval\": 20, \"eval_interval\": 0,\n"
            "  \"eval_episodes\": 1, \"checkpoint_interval\": 0}}\n",
            use_conal ? "conal" : "mtsac", hidden, hidden,
            use_conal ? "\"search\": {\"steps\": 40}, \"retrain\": {\"steps\": 40}, " : "");
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s train %s --out %s/%s --threads 1 --quiet", conal, cfg_path,
             tmp_root, name);
    return run(cmd, name);
}

// ---- tests ----

// Without DISPLAY the viewer exits 1 and names xvfb-run -a.
static void test_no_display_fails(void) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "env -u DISPLAY -u WAYLAND_DISPLAY %s view --random --task reach-v3 "
             "--record %s/nodisplay --format png --frames 1",
             conal, tmp_root);
    CHECK_EQ_INT(1, run(cmd, "nodisplay"));
    char *err = read_output("nodisplay", "err");
    CHECK_STR_CONTAINS(err, "no X display");
    CHECK_STR_CONTAINS(err, "xvfb-run -a");
    free(err);
}

// Bad flags exit 2 with a message naming the value; --help exits 0.
static void test_bad_flags_rejected(void) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s view --help", conal);
    CHECK_EQ_INT(0, run(cmd, "help"));
    char *help = read_output("help", "out");
    CHECK_STR_CONTAINS(help, "usage: conal view");
    CHECK_STR_CONTAINS(help, "xvfb-run -a");
    free(help);

    snprintf(cmd, sizeof cmd, "%s view --random --task reach-v9", conal);
    CHECK_EQ_INT(2, run(cmd, "badtask"));
    char *err = read_output("badtask", "err");
    CHECK_STR_CONTAINS(err, "unknown task 'reach-v9'");
    free(err);

    snprintf(cmd, sizeof cmd, "%s view --random --fps 0", conal);
    CHECK_EQ_INT(2, run(cmd, "badfps"));
    err = read_output("badfps", "err");
    CHECK_STR_CONTAINS(err, "--fps: expected an integer in 1..80, got '0'");
    free(err);

    snprintf(cmd, sizeof cmd, "%s view %s/no-such-run --record %s/x", conal, tmp_root,
             tmp_root);
    CHECK_EQ_INT(1, run(cmd, "norun"));
    err = read_output("norun", "err");
    CHECK_STR_CONTAINS(err, "no-such-run: not found");
    free(err);
}

// One task: frames have the requested size, show a scene and move each step.
static void test_record_single_frames(void) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "%s view --random --task pick-place-v3 --goal 5 --record %s/single "
             "--format png --width 160 --height 120 --fps 80 --frames 6 --no-overlay",
             conal, tmp_root);
    int rc = run(cmd, "single");
    CHECK_EQ_INT(0, rc);
    if (rc != 0) {
        show_err("single");
        return;
    }
    char *out = read_output("single", "out");
    CHECK_STR_CONTAINS(out, "recorded 6 frames (160 x 120, 80 fps)");
    free(out);

    Image prev = {0}, img;
    for (int k = 0; k < 6; k++) {
        CHECK_EQ_INT(0, read_frame("single", k, &img));
        CHECK_EQ_INT(160, img.width);
        CHECK_EQ_INT(120, img.height);
        if (!img.rgb) {
            break;
        }
        // a blank or cleared buffer has (almost) no spread of values
        CHECK_MSG(region_std(&img, 0, 0, 160, 120) > 20.0, "frame %d looks blank", k);
        if (prev.rgb) {
            double d = region_diff(&prev, 0, 0, &img, 0, 0, 160, 120);
            CHECK_MSG(d > 0.05, "frame %d equals frame %d (mean difference %g)", k, k - 1, d);
        }
        free(prev.rgb);
        prev = img;
    }
    free(prev.rgb);
    CHECK(read_frame("single", 6, &img) != 0);   // no seventh frame

    // a shorter recording into the same folder warns about the old frames
    snprintf(cmd, sizeof cmd,
             "%s view --random --task pick-place-v3 --record %s/single --format png "
             "--width 160 --height 120 --frames 2",
             conal, tmp_root);
    CHECK_EQ_INT(0, run(cmd, "single-again"));
    char *err = read_output("single-again", "err");
    CHECK_STR_CONTAINS(err, "000002.png is from an earlier recording");
    free(err);
}

// --assets loads the official Meta-World scenes (robot meshes and all).
static void test_record_official_assets(void) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "%s view --random --task door-open-v3 --assets %s/metaworld-assets --record "
             "%s/assets --format png --width 160 --height 120 --frames 1 --no-overlay",
             conal, CONAL_SHARED_DIR, tmp_root);
    int rc = run(cmd, "assets");
    CHECK_EQ_INT(0, rc);
    if (rc != 0) {
        show_err("assets");
        return;
    }
    Image img;
    CHECK_EQ_INT(0, read_frame("assets", 0, &img));
    CHECK_EQ_INT(160, img.width);
    if (img.rgb) {
        CHECK_MSG(region_std(&img, 0, 0, 160, 120) > 20.0, "official scene looks blank");
    }
    free(img.rgb);
}

// All tasks: ten tiles, each showing a scene, no two alike. Frame 0 shows
// the reset states, so the tiles differ by their scenes, not by motion.
static void test_record_tiled_distinct(void) {
    enum { TILE = 160, W = 5 * TILE, H = 2 * TILE };
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "%s view --random --goal 7 --record %s/tiled --format png --width %d "
             "--height %d --frames 2 --no-overlay",
             conal, tmp_root, W, H);
    int rc = run(cmd, "tiled");
    CHECK_EQ_INT(0, rc);
    if (rc != 0) {
        show_err("tiled");
        return;
    }
    Image img;
    CHECK_EQ_INT(0, read_frame("tiled", 0, &img));
    CHECK_EQ_INT(W, img.width);
    CHECK_EQ_INT(H, img.height);
    if (!img.rgb) {
        return;
    }

    double min_diff = 1e9;
    for (int i = 0; i < ENV_N_TASKS; i++) {
        int xi = (i % 5) * TILE, yi = (i / 5) * TILE;
        CHECK_MSG(region_std(&img, xi, yi, TILE, TILE) > 20.0, "tile %d looks blank", i);
        for (int j = i + 1; j < ENV_N_TASKS; j++) {
            int xj = (j % 5) * TILE, yj = (j / 5) * TILE;
            double d = region_changed(&img, xi, yi, &img, xj, yj, TILE, TILE);
            min_diff = d < min_diff ? d : min_diff;
            // reach, push and pick-place share the scene but for the object
            // and goal markers, about 0.4% of the pixels at goal 7
            CHECK_MSG(d > 0.001, "tiles %s and %s look alike (%.4f of pixels differ)",
                      env_task_name(i), env_task_name(j), d);
        }
    }
    fprintf(stderr, "smallest share of differing pixels between two tiles: %.4f\n",
            min_diff);
    free(img.rgb);
}

// Random actions, all ten tasks: the episode lines match `conal eval --random`.
static void test_random_matches_eval(void) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "%s view --random --goal 0 --episodes 1 --record %s/random --format png "
             "--width 100 --height 40 --fps 1",
             conal, tmp_root);
    int rc = run(cmd, "random");
    CHECK_EQ_INT(0, rc);
    snprintf(cmd, sizeof cmd, "%s eval --random --goal 0 --episodes 1 --json --threads 1",
             conal);
    CHECK_EQ_INT(0, run(cmd, "random-eval"));
    char *view_out = read_output("random", "out"), *eval_out = read_output("random-eval", "out");
    CHECK_STR_CONTAINS(view_out, "policy: random actions, 10 tasks, 150-step episodes");
    Episodes e;
    CHECK_EQ_INT(ENV_N_TASKS, parse_episodes(view_out, &e));
    int tasks[ENV_N_TASKS];
    for (int t = 0; t < ENV_N_TASKS; t++) {
        tasks[t] = t;
    }
    check_matches_eval(&e, eval_out, tasks, ENV_N_TASKS);
    free(view_out);
    free(eval_out);
}

// A trained checkpoint: one task and all ten match `conal eval` on goal 3,
// and the policy line reports the training step stored in the checkpoint.
static void test_checkpoint_matches_eval(void) {
    CHECK_EQ_INT(0, train_tiny("run", 16, 0));
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "%s view %s/run --task reach-v3 --goal 3 --episodes 2 --record %s/ckpt-one "
             "--format png --width 64 --height 48 --fps 10",
             conal, tmp_root, tmp_root);
    int rc = run(cmd, "ckpt-one");
    CHECK_EQ_INT(0, rc);
    if (rc != 0) {
        show_err("ckpt-one");
    }
    snprintf(cmd, sizeof cmd, "%s eval %s/run --task reach-v3 --goal 3 --episodes 2 --json "
                              "--threads 1", conal, tmp_root);
    CHECK_EQ_INT(0, run(cmd, "ckpt-one-eval"));
    char *view_out = read_output("ckpt-one", "out");
    char *eval_out = read_output("ckpt-one-eval", "out");
    CHECK_STR_CONTAINS(view_out, "/run/checkpoint.bin (trained 40 steps), 1 task, 20-step "
                                 "episodes");
    Episodes e;
    CHECK_EQ_INT(2, parse_episodes(view_out, &e));
    int reach = 0;
    check_matches_eval(&e, eval_out, &reach, 1);
    free(view_out);
    free(eval_out);

    // all ten tiled, from best.bin
    snprintf(cmd, sizeof cmd,
             "%s view %s/run/best.bin --goal 3 --episodes 1 --record %s/ckpt-all "
             "--format png --width 100 --height 40 --fps 5",
             conal, tmp_root, tmp_root);
    CHECK_EQ_INT(0, run(cmd, "ckpt-all"));
    snprintf(cmd, sizeof cmd, "%s eval %s/run/best.bin --goal 3 --episodes 1 --json "
                              "--threads 1", conal, tmp_root);
    CHECK_EQ_INT(0, run(cmd, "ckpt-all-eval"));
    view_out = read_output("ckpt-all", "out");
    CHECK_STR_CONTAINS(view_out, "/run/best.bin (trained 40 steps), 10 tasks");
    eval_out = read_output("ckpt-all-eval", "out");
    CHECK_EQ_INT(ENV_N_TASKS, parse_episodes(view_out, &e));
    int tasks[ENV_N_TASKS];
    for (int t = 0; t < ENV_N_TASKS; t++) {
        tasks[t] = t;
    }
    check_matches_eval(&e, eval_out, tasks, ENV_N_TASKS);
    free(view_out);
    free(eval_out);
}

// A checkpoint of other networks is rejected with a message, not played.
static void test_foreign_checkpoint_rejected(void) {
    CHECK_EQ_INT(0, train_tiny("other", 8, 0));
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cp %s/other/checkpoint.bin %s/run/other.bin", tmp_root,
             tmp_root);
    CHECK_EQ_INT(0, system(cmd));
    snprintf(cmd, sizeof cmd, "%s view %s/run/other.bin --record %s/foreign --format png",
             conal, tmp_root, tmp_root);
    CHECK_EQ_INT(1, run(cmd, "foreign"));
    char *err = read_output("foreign", "err");
    CHECK_STR_CONTAINS(err, "other.bin does not fit the networks of");
    CHECK_STR_CONTAINS(err, "another architecture");
    free(err);
}

// A CoNAL run after its search plays the derived networks of arch.json.
// `conal eval` cannot load such runs yet, so the check is that one task
// alone and the same task among all ten return the same episode.
static void test_conal_run_plays(void) {
    CHECK_EQ_INT(0, train_tiny("conal", 16, 1));
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "%s view %s/conal --task push-v3 --goal 4 --record %s/conal-one --format png "
             "--width 64 --height 48 --fps 5",
             conal, tmp_root, tmp_root);
    int rc = run(cmd, "conal-one");
    CHECK_EQ_INT(0, rc);
    if (rc != 0) {
        show_err("conal-one");
    }
    snprintf(cmd, sizeof cmd,
             "%s view %s/conal --goal 4 --record %s/conal-all --format png --width 100 "
             "--height 40 --fps 5",
             conal, tmp_root, tmp_root);
    CHECK_EQ_INT(0, run(cmd, "conal-all"));

    char *single_out = read_output("conal-one", "out");
    char *tiled_out = read_output("conal-all", "out");
    CHECK_STR_CONTAINS(single_out, "/conal/checkpoint.bin (trained 80 steps), 1 task");
    Episodes e_one, e_all;
    CHECK_EQ_INT(1, parse_episodes(single_out, &e_one));
    CHECK_EQ_INT(ENV_N_TASKS, parse_episodes(tiled_out, &e_all));
    int push = 1;
    CHECK_EQ_INT(1, e_one.count[push]);
    CHECK_NEAR(e_all.ret[push], e_one.ret[push], 1e-9);
    CHECK_NEAR(e_all.success[push], e_one.success[push], 0.0);
    free(single_out);
    free(tiled_out);
}

// --format mp4 without ffmpeg on PATH fails with the fix in the message.
static void test_mp4_without_ffmpeg_fails(void) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "env PATH=%s %s view --random --task reach-v3 --record %s/nompeg --format mp4 "
             "--frames 1",
             tmp_root, conal, tmp_root);
    CHECK_EQ_INT(1, run(cmd, "nompeg"));
    char *err = read_output("nompeg", "err");
    CHECK_STR_CONTAINS(err, "ffmpeg program is not on PATH");
    free(err);
}

// With ffmpeg on PATH, the default format is MP4 with the requested frames.
static void test_record_mp4_with_ffmpeg(void) {
    if (system("command -v ffmpeg > /dev/null && command -v ffprobe > /dev/null") != 0) {
        fprintf(stderr, "skipped: ffmpeg or ffprobe is not installed\n");
        return;
    }
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "%s view --random --task drawer-open-v3 --record %s/clip --width 97 "
             "--height 64 --frames 7",
             conal, tmp_root);
    CHECK_EQ_INT(0, run(cmd, "mp4"));
    char *out = read_output("mp4", "out");
    CHECK_STR_CONTAINS(out, "recorded 7 frames (97 x 64, 40 fps) to");
    CHECK_STR_CONTAINS(out, "/clip.mp4");
    free(out);

    // odd widths are padded to even ones for yuv420p
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -count_frames -show_entries stream=width,height,"
             "nb_read_frames,pix_fmt -of compact %s/clip.mp4",
             tmp_root);
    CHECK_EQ_INT(0, run(cmd, "ffprobe"));
    out = read_output("ffprobe", "out");
    CHECK_STR_CONTAINS(out, "width=98|height=64|pix_fmt=yuv420p|nb_read_frames=7");
    free(out);
}

// --record creates missing parent folders for MP4 as it does for PNG, and
// a folder that cannot be created fails before any frame, naming it.
static void test_record_creates_folders(void) {
    char cmd[4096], path[1200];
    const char *formats[] = {"png", "mp4"};
    int have_ffmpeg = system("command -v ffmpeg > /dev/null") == 0;
    snprintf(path, sizeof path, "%s/plain-file", tmp_root);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fclose(f);
    }
    for (int i = 0; i < (have_ffmpeg ? 2 : 1); i++) {
        snprintf(cmd, sizeof cmd,
                 "%s view --random --task reach-v3 --record %s/new-%s/deeper/clip --format %s "
                 "--width 32 --height 32 --frames 2",
                 conal, tmp_root, formats[i], formats[i]);
        CHECK_EQ_INT(0, run(cmd, "mkdirs"));
        snprintf(path, sizeof path, "%s/new-%s/deeper/clip%s", tmp_root, formats[i],
                 i == 0 ? "/000001.png" : ".mp4");
        CHECK_MSG(access(path, F_OK) == 0, "missing %s", path);

        snprintf(cmd, sizeof cmd,
                 "%s view --random --task reach-v3 --record %s/plain-file/sub/clip --format %s "
                 "--width 32 --height 32 --frames 2",
                 conal, tmp_root, formats[i]);
        CHECK_EQ_INT(1, run(cmd, "nofolder"));
        char *err = read_output("nofolder", "err");
        CHECK_STR_CONTAINS(err, "cannot create the folder");
        CHECK_STR_CONTAINS(err, "plain-file/sub");
        CHECK(err != NULL);
        CHECK(err == NULL || strstr(err, "frame") == NULL);
        free(err);
    }
}

// The interactive window opens, draws a few frames and closes.
static void test_window_draws_frames(void) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s view --random --task door-open-v3 --frames 5", conal);
    CHECK_EQ_INT(0, run(cmd, "window"));
    snprintf(cmd, sizeof cmd, "%s view --random --width 500 --height 200 --frames 3", conal);
    CHECK_EQ_INT(0, run(cmd, "window-tiled"));
}

// Reads an XWD screenshot of a 24-bit TrueColor window (ZPixmap, 32 bits
// per pixel, red in bits 16..23) as RGB; returns 0, or -1 for another format.
static int read_xwd(const char *path, Image *img) {
    memset(img, 0, sizeof *img);
    FILE *f = fopen(path, "rb");
    if (!f) {
        return -1;
    }
    // 25 big-endian 32-bit header fields, then the window name and the colormap
    unsigned char raw[100];
    uint32_t h[25];
    int ok = fread(raw, 1, sizeof raw, f) == sizeof raw;
    for (int i = 0; i < 25; i++) {
        h[i] = (uint32_t)raw[4 * i] << 24 | (uint32_t)raw[4 * i + 1] << 16 |
               (uint32_t)raw[4 * i + 2] << 8 | raw[4 * i + 3];
    }
    ok = ok && h[2] == 2 && h[11] == 32 && h[14] == 0xff0000 && h[16] == 0xff;

    // the pixels follow the colormap of h[19] entries of 12 bytes
    ok = ok && fseek(f, (long)h[0] + 12L * (long)h[19], SEEK_SET) == 0;
    if (ok) {
        img->width = (int)h[4];
        img->height = (int)h[5];
        img->rgb = malloc((size_t)img->width * (size_t)img->height * 3);
        unsigned char *line = malloc(h[12]);
        for (int y = 0; ok && y < img->height; y++) {
            ok = fread(line, 1, h[12], f) == h[12];
            for (int x = 0; ok && x < img->width; x++) {
                // pixel bytes in the file's byte order (h[7]: 0 least significant first)
                const unsigned char *p = line + 4 * x;
                uint32_t v = h[7] == 0
                                 ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16
                                 : (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16;
                unsigned char *q = img->rgb + ((size_t)y * (size_t)img->width + (size_t)x) * 3;
                q[0] = (unsigned char)(v >> 16);
                q[1] = (unsigned char)(v >> 8);
                q[2] = (unsigned char)v;
            }
        }
        free(line);
    }
    fclose(f);
    if (!ok) {
        free(img->rgb);
        img->rgb = NULL;
    }
    return ok ? 0 : -1;
}

// Shell script that drives the interactive window with xdotool and takes
// screenshots with xwd: $1 the conal binary, $2 the output folder. It
// pauses, shoots all tiles (all.xwd), shows reach-v3 alone with the right
// arrow (one.xwd), steps on to push-v3, goes back to all tiles with a
// (again.xwd), steps back with the left arrow and quits with Esc.
static const char key_script[] =
    "set -u\n"
    "conal=$1; out=$2\n"
    "\"$conal\" view --random --width 500 --height 200 --no-overlay > \"$out/keys.out\" "
    "2> \"$out/keys.err\" &\n"
    "pid=$!\n"
    "wid=$(timeout 60 xdotool search --sync --onlyvisible --name '^conal view' | head -n 1)\n"
    "[ -n \"$wid\" ] || { kill $pid; exit 3; }\n"
    "shot() { xwd -id \"$wid\" -silent > \"$out/$1.xwd\"; }\n"
    "views() { grep -c '^view:' \"$out/keys.out\"; }\n"
    "wait_views() {\n"
    "  for i in $(seq 600); do [ \"$(views)\" -ge \"$1\" ] && sleep 1 && return 0; "
    "sleep 0.1; done\n"
    "  kill $pid; exit 4\n"
    "}\n"
    "key() { xdotool key --window \"$wid\" \"$1\"; }\n"
    "# the first frame: a screenshot with any non-zero byte\n"
    "for i in $(seq 600); do\n"
    "  shot all\n"
    "  [ \"$(tail -c 400000 \"$out/all.xwd\" | tr -d '\\000' | head -c 1 | wc -c)\" = 1 ] "
    "&& break\n"
    "  sleep 0.1\n"
    "done\n"
    "key space; sleep 1; shot all\n"
    "key Right; wait_views 1; shot one\n"
    "key Right; wait_views 2\n"
    "key a; wait_views 3; shot again\n"
    "key Left; wait_views 4\n"
    "key Escape 2> /dev/null\n"
    "wait $pid\n";

// The arrow keys and the a key switch the tiled window between all tasks
// and one task shown alone; in a one-task window the arrows switch the task.
static void test_window_keys_switch_tasks(void) {
    if (system("command -v xdotool > /dev/null && command -v xwd > /dev/null") != 0) {
        fprintf(stderr, "skipped: xdotool or xwd is not installed\n");
        return;
    }
    char path[1200], cmd[4096];
    snprintf(path, sizeof path, "%s/keys.sh", tmp_root);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) {
        return;
    }
    fputs(key_script, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "sh %s %s %s", path, conal, tmp_root);
    int rc = run(cmd, "keys-driver");
    CHECK_EQ_INT(0, rc);
    if (rc != 0) {
        show_err("keys");
        return;
    }
    char *out = read_output("keys", "out");
    CHECK_STR_CONTAINS(out, "view: reach-v3, task 1 of 10\n"
                            "view: push-v3, task 2 of 10\n"
                            "view: all 10 tasks\n"
                            "view: window-close-v3, task 10 of 10\n");
    free(out);

    // paused: all tiles look the same before and after, one task alone differs
    Image all, one, again;
    snprintf(path, sizeof path, "%s/all.xwd", tmp_root);
    CHECK_EQ_INT(0, read_xwd(path, &all));
    snprintf(path, sizeof path, "%s/one.xwd", tmp_root);
    CHECK_EQ_INT(0, read_xwd(path, &one));
    snprintf(path, sizeof path, "%s/again.xwd", tmp_root);
    CHECK_EQ_INT(0, read_xwd(path, &again));
    if (all.rgb && one.rgb && again.rgb) {
        CHECK_EQ_INT(500, all.width);
        CHECK_EQ_INT(200, all.height);
        CHECK_MSG(region_std(&one, 0, 0, 500, 200) > 20.0, "the one-task view looks blank");
        double same = region_changed(&all, 0, 0, &again, 0, 0, 500, 200);
        double differ = region_changed(&all, 0, 0, &one, 0, 0, 500, 200);
        CHECK_MSG(same < 0.01, "%.4f of the pixels of the two tiled views differ", same);
        CHECK_MSG(differ > 0.3, "only %.4f of the pixels differ between the tiled view and "
                  "reach-v3 alone", differ);
    }
    free(all.rgb);
    free(one.rgb);
    free(again.rgb);

    // one-task window: the right arrow switches to the next task
    snprintf(cmd, sizeof cmd,
             "%s view --random --task door-open-v3 --width 200 --height 150 > %s/task.out "
             "2>&1 & pid=$!; wid=$(timeout 60 xdotool search --sync --onlyvisible --name "
             "'^conal view' | head -n 1); sleep 1; xdotool key --window \"$wid\" Right; "
             "for i in $(seq 600); do grep -q '^view:' %s/task.out && break; sleep 0.1; "
             "done; xdotool key --window \"$wid\" Escape 2> /dev/null; wait $pid",
             conal, tmp_root, tmp_root);
    CHECK_EQ_INT(0, run(cmd, "task-driver"));
    out = read_output("task", "out");
    CHECK_STR_CONTAINS(out, "view: drawer-open-v3, task 5 of 10\n");
    free(out);
}

int main(void) {
    if (!getenv("DISPLAY")) {
        fprintf(stderr, "test_view: DISPLAY is not set; install the xvfb and xauth "
                        "packages so that CTest runs it under xvfb-run -a\n");
        return 1;
    }
    snprintf(conal, sizeof conal, "%s/conal", CONAL_BINARY_DIR);
    check_tmpdir(tmp_root, sizeof tmp_root, "view");
    RUN_TEST(test_no_display_fails);
    RUN_TEST(test_bad_flags_rejected);
    RUN_TEST(test_record_single_frames);
    RUN_TEST(test_record_tiled_distinct);
    RUN_TEST(test_record_official_assets);
    RUN_TEST(test_random_matches_eval);
    RUN_TEST(test_checkpoint_matches_eval);
    RUN_TEST(test_foreign_checkpoint_rejected);
    RUN_TEST(test_conal_run_plays);
    RUN_TEST(test_mp4_without_ffmpeg_fails);
    RUN_TEST(test_record_mp4_with_ffmpeg);
    RUN_TEST(test_record_creates_folders);
    RUN_TEST(test_window_draws_frames);
    RUN_TEST(test_window_keys_switch_tasks);
    int rc = check_summary();
    if (rc == 0) {
        check_rmtree(tmp_root);
    } else {
        fprintf(stderr, "outputs kept in %s\n", tmp_root);
    }
    return rc;
}
