// The viewer: GLFW window, tile layout, overlays, input, playback clock and
// the recording loop. Stepping lives in viz/rollout.c, drawing one scene in
// viz/render.c, encoding in viz/record.c.
#include "viz/view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <GLFW/glfw3.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include "common/error.h"
#include "common/fileio.h"
#include "viz/policy.h"
#include "viz/render.h"
#include "viz/rollout.h"

#define TILE_COLUMNS 5
#define MAX_SPEED 64.0
#define MIN_SPEED (1.0 / 16.0)
// Most env steps simulated per drawn frame; past it the viewer runs slower
// than real time instead of freezing the window.
#define MAX_STEPS_PER_FRAME 40

typedef struct Viewer {
    VizViewOptions opt;
    VizPolicy policy;
    VizRollout roll;
    GLFWwindow *window;
    VizScene scenes[ENV_N_TASKS];   // one per tile

    // interactive state
    int paused, steps_pending, show_help;
    int focus;                      // tiled view: the tile shown alone, or -1 for all
    double speed;                   // simulated seconds per wall-clock second
    double lag;                     // simulated seconds owed to the clock
    int drag_button;                // GLFW mouse button held, or -1
    int drag_tile;
    double last_x, last_y;          // cursor in window coordinates
} Viewer;

static char glfw_error[512];

// GLFW error callback: keeps the last message for the error we return.
static void on_glfw_error(int code, const char *description) {
    snprintf(glfw_error, sizeof glfw_error, "GLFW error %d: %s", code, description);
}

void viz_view_defaults(VizViewOptions *o) {
    memset(o, 0, sizeof *o);
    o->task = -1;
    o->goal = VIZ_GOAL_SPREAD;
    o->format = VIZ_FORMAT_AUTO;
    o->fps = 40;
    o->overlay = 1;
}

// ---- layout and overlays ----

// Viewport of tile i of n in a width x height buffer: one tile fills it,
// more tiles form rows of TILE_COLUMNS, the first row at the top.
static mjrRect tile_rect(int i, int n, int width, int height) {
    int cols = n < TILE_COLUMNS ? n : TILE_COLUMNS;
    int rows = (n + cols - 1) / cols;
    int col = i % cols, row = i / cols;
    int x0 = col * width / cols, x1 = (col + 1) * width / cols;
    int y0 = (rows - 1 - row) * height / rows, y1 = (rows - row) * height / rows;
    mjrRect r = {x0, y0, x1 - x0, y1 - y0};
    return r;
}

// Viewport of tile i in the window: its place among the tiles, the whole
// window while it is the focused tile, or 0 (not drawn) while another tile
// has the focus.
static int window_rect(const Viewer *v, int i, int width, int height, mjrRect *rect) {
    if (v->focus >= 0) {
        mjrRect full = {0, 0, width, height};
        *rect = full;
        return i == v->focus;
    }
    *rect = tile_rect(i, v->roll.n_tiles, width, height);
    return 1;
}

// 1 when the window shows one tile: a one-task view, or a focused tile.
static int shows_one_tile(const Viewer *v) {
    return v->roll.n_tiles == 1 || v->focus >= 0;
}

// Default window or frame size for n tiles.
static void default_size(int n, int *width, int *height) {
    *width = n == 1 ? 960 : 1500;
    *height = n == 1 ? 720 : 600;
}

// The policy line of the overlay: random, or the checkpoint's training step.
static void format_policy(const VizPolicy *p, char *out, size_t n) {
    if (!p->sac) {
        snprintf(out, n, "random");
    } else if (p->train_step >= 0) {
        snprintf(out, n, "trained %lld steps", p->train_step);
    } else {
        snprintf(out, n, "trained (step unknown)");
    }
}

// Overlay of the single-task view: a table of labels and values.
static void format_table(const Viewer *v, const VizTile *t, char *left, char *right,
                         size_t n) {
    char episode[32], policy[64];
    if (v->roll.episodes > 0) {
        snprintf(episode, sizeof episode, "%d of %d", t->episode, v->roll.episodes);
    } else {
        snprintf(episode, sizeof episode, "%d", t->episode);
    }
    format_policy(&v->policy, policy, sizeof policy);
    snprintf(left, n, "task\ngoal\nepisode\nstep\nreward\nreturn\nsuccess\npolicy");
    snprintf(right, n, "%s\n%d\n%s\n%d / %d\n%.3f\n%.1f\n%s\n%s", env_task_name(t->task),
             t->goal, episode, t->step, env_max_steps(t->env), t->reward, t->ret,
             t->success ? "yes" : "not yet", policy);
}

// Overlay of one tile in the tiled view: four short lines.
static void format_compact(const Viewer *v, const VizTile *t, char *out, size_t n) {
    char episodes[16] = "";
    if (v->roll.episodes > 0) {
        snprintf(episodes, sizeof episodes, "/%d", v->roll.episodes);
    }
    snprintf(out, n, "%s, goal %d\nepisode %d%s, step %d/%d\nreward %.3f, return %.1f\n%s",
             env_task_name(t->task), t->goal, t->episode, episodes, t->step,
             env_max_steps(t->env), t->reward, t->ret, t->success ? "success" : "no success yet");
}

// Draws tile i into rect of the current buffer with its overlay: the table
// at the top left of a single view, or the compact lines at the bottom left
// of a tile. `notice` (may be NULL) goes to the opposite corner.
static void draw_tile(Viewer *v, int i, mjrRect rect, const char *notice) {
    VizTile *t = &v->roll.tiles[i];
    VizScene *s = &v->scenes[i];
    viz_scene_render(s, env_data(t->env), rect);
    if (!v->opt.overlay) {
        return;
    }
    char left[256], right[512];
    int single = shows_one_tile(v);
    if (single) {
        format_table(v, t, left, right, sizeof left);
        viz_scene_text(s, rect, mjGRID_TOPLEFT, left, right);
    } else {
        format_compact(v, t, right, sizeof right);
        viz_scene_text(s, rect, mjGRID_BOTTOMLEFT, right, NULL);
    }
    if (notice) {
        viz_scene_text(s, rect, single ? mjGRID_BOTTOMLEFT : mjGRID_TOPLEFT, notice, NULL);
    }
}

// ---- window and scenes ----

// Starts GLFW and opens the window (hidden when recording) with a current
// OpenGL context.
static int open_window(Viewer *v, int width, int height, char *err, size_t err_sz) {
    glfwSetErrorCallback(on_glfw_error);
    if (!glfwInit()) {
        return err_set(err, err_sz, ERR_IO,
                       "no X display: GLFW could not start (%s); on a machine without a "
                       "display run the command under a virtual one: xvfb-run -a conal view "
                       "...",
                       glfw_error[0] ? glfw_error : "no reason given");
    }
    int record = v->opt.record != NULL;
    glfwWindowHint(GLFW_VISIBLE, record ? GLFW_FALSE : GLFW_TRUE);
    glfwWindowHint(GLFW_SAMPLES, record ? 0 : 4);
    char title[1400];
    snprintf(title, sizeof title, "conal view: %s", v->policy.source);
    // recording draws off-screen, so the hidden window only provides the context
    v->window = glfwCreateWindow(record ? 64 : width, record ? 64 : height, title, NULL, NULL);
    if (!v->window && !record) {
        glfwWindowHint(GLFW_SAMPLES, 0);
        v->window = glfwCreateWindow(width, height, title, NULL, NULL);
    }
    if (!v->window) {
        return err_set(err, err_sz, ERR_IO,
                       "cannot open an OpenGL window (%s); without a working display run "
                       "the command under xvfb-run -a",
                       glfw_error[0] ? glfw_error : "no reason given");
    }
    glfwMakeContextCurrent(v->window);
    glfwSwapInterval(1);
    return 0;
}

// Font scale for tiles of the given height: larger text in large views.
static int font_scale_for(int tile_height) {
    return tile_height >= 500 ? mjFONTSCALE_150 : mjFONTSCALE_100;
}

// Makes the scene of tile i for the current env's model.
static void init_scene(Viewer *v, int i, int width, int height) {
    mjrRect r = tile_rect(i, v->roll.n_tiles, width, height);
    viz_scene_init(&v->scenes[i], env_model(v->roll.tiles[i].env), r.width, r.height,
                   font_scale_for(r.height));
}

// Runs LeakSanitizer before the window closes, in sanitizer builds only,
// and so in place of its check at exit. glfwTerminate closes the X display,
// and Mesa then unloads its driver (swrast_dri.so) but keeps two 56-byte
// blocks, which the check at exit reports from an unnamed module that no
// suppression can match. Our own objects are freed before this point, so a
// leak of ours still fails the sanitizer run.
static void check_leaks_before_terminate(void) {
#if defined(__SANITIZE_ADDRESS__)
    __lsan_do_leak_check();
#endif
}

// Frees scenes, envs, agent and window, in an order that keeps the GL
// context alive while the scenes free their GPU objects.
static void viewer_free(Viewer *v) {
    for (int i = 0; i < ENV_N_TASKS; i++) {
        viz_scene_free(&v->scenes[i]);
    }
    viz_rollout_destroy(&v->roll);
    viz_policy_free(&v->policy);
    check_leaks_before_terminate();
    if (v->window) {
        glfwDestroyWindow(v->window);
        v->window = NULL;
    }
    glfwTerminate();
}

// ---- recording ----

// Renders every tile off-screen and assembles the frame (top row first).
static void capture_frame(Viewer *v, unsigned char *frame, unsigned char *tile) {
    int w = v->opt.width, h = v->opt.height, n = v->roll.n_tiles;
    char policy[64], notice[80];
    format_policy(&v->policy, policy, sizeof policy);
    snprintf(notice, sizeof notice, "policy: %s", policy);
    for (int i = 0; i < n; i++) {
        mjrRect r = tile_rect(i, n, w, h);
        mjrRect local = {0, 0, r.width, r.height};
        VizScene *s = &v->scenes[i];
        mjr_setBuffer(mjFB_OFFSCREEN, &s->context);
        draw_tile(v, i, local, i == 0 && n > 1 ? notice : NULL);
        mjr_readPixels(tile, NULL, local, &s->context);

        // OpenGL rows run bottom-up; the frame's run top-down
        for (int y = 0; y < r.height; y++) {
            int frame_row = h - 1 - (r.bottom + y);
            memcpy(frame + ((size_t)frame_row * (size_t)w + (size_t)r.left) * 3,
                   tile + (size_t)y * (size_t)r.width * 3, (size_t)r.width * 3);
        }
    }
}

// Steps the rollout until `target` env steps have been taken in total.
static int step_to(Viewer *v, long *steps, long target, char *err, size_t err_sz) {
    while (*steps < target && !viz_rollout_finished(&v->roll)) {
        int rc = viz_rollout_step(&v->roll, err, err_sz);
        if (rc != 0) {
            return rc;
        }
        (*steps)++;
    }
    return 0;
}

// Warns when the PNG folder still contains frames of an earlier, longer
// recording, which would otherwise play on after this one.
static void warn_stale_frames(const VizRecorder *rec) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%06ld.png", rec->path, rec->frames);
    if (file_exists(path)) {
        fprintf(stderr, "conal view: warning: %s is from an earlier recording; remove the "
                        "frames from %06ld.png on, or record into an empty folder\n",
                path, rec->frames);
    }
}

// Records frames until every tile finished its episodes or the frame limit.
static int record_loop(Viewer *v, char *err, size_t err_sz) {
    VizRecorder rec;
    int w = v->opt.width, h = v->opt.height;
    int rc = viz_recorder_open(&rec, v->opt.record, v->opt.format, w, h, v->opt.fps, err,
                               err_sz);
    if (rc != 0) {
        return rc;
    }
    unsigned char *frame = calloc((size_t)w * (size_t)h, 3);
    unsigned char *tile = malloc((size_t)w * (size_t)h * 3);
    if (!frame || !tile) {
        rc = err_set(err, err_sz, ERR_NOMEM, "no memory for %d x %d frames", w, h);
    }

    // frame k shows the state after k * 80 / fps env steps
    long steps = 0;
    for (long k = 0; rc == 0; k++) {
        capture_frame(v, frame, tile);
        rc = viz_recorder_write(&rec, frame, err, err_sz);
        int limit = v->opt.frames > 0 && rec.frames >= v->opt.frames;
        if (rc != 0 || limit || viz_rollout_finished(&v->roll)) {
            break;
        }
        rc = step_to(v, &steps, (k + 1) * VIZ_STEPS_PER_SECOND / v->opt.fps, err, err_sz);
    }
    free(frame);
    free(tile);
    int close_rc = viz_recorder_close(&rec, rc == 0 ? err : NULL, rc == 0 ? err_sz : 0);
    if (rc == 0 && close_rc == 0) {
        if (rec.format == VIZ_FORMAT_MP4) {
            printf("recorded %ld frames (%d x %d, %d fps) to %s\n", rec.frames, w, h,
                   v->opt.fps, rec.path);
        } else {
            printf("recorded %ld frames (%d x %d, %d fps) to %s/000000.png ... "
                   "%s/%06ld.png\n",
                   rec.frames, w, h, v->opt.fps, rec.path, rec.path, rec.frames - 1);
            warn_stale_frames(&rec);
        }
    }
    return rc != 0 ? rc : close_rc;
}

// ---- interactive input ----

// Tile under the cursor (window coordinates), or -1.
static int tile_at(Viewer *v, double x, double y) {
    int win_w, win_h, fb_w, fb_h;
    glfwGetWindowSize(v->window, &win_w, &win_h);
    glfwGetFramebufferSize(v->window, &fb_w, &fb_h);
    if (win_w <= 0 || win_h <= 0) {
        return -1;
    }
    int fx = (int)(x * fb_w / win_w), fy = fb_h - 1 - (int)(y * fb_h / win_h);
    for (int i = 0; i < v->roll.n_tiles; i++) {
        mjrRect r;
        if (window_rect(v, i, fb_w, fb_h, &r) && fx >= r.left && fx < r.left + r.width &&
            fy >= r.bottom && fy < r.bottom + r.height) {
            return i;
        }
    }
    return -1;
}

// Prints which task the window shows after a key changed it.
static void print_view(const Viewer *v) {
    if (v->roll.n_tiles > 1 && v->focus < 0) {
        printf("view: all %d tasks\n", v->roll.n_tiles);
    } else {
        int i = v->focus >= 0 ? v->focus : 0;
        printf("view: %s, task %d of %d\n", env_task_name(v->roll.tiles[i].task),
               v->roll.tiles[i].task + 1, ENV_N_TASKS);
    }
    fflush(stdout);
}

// Tiled view: moves the focus by `delta` through the cycle all tiles, tile
// 0, ..., the last tile, all tiles again. The tiles keep playing unseen.
static void move_focus(Viewer *v, int delta) {
    int n = v->roll.n_tiles;
    int position = (v->focus + 1 + delta + (n + 1)) % (n + 1);   // 0 is all tiles
    v->focus = position - 1;
    print_view(v);
}

// Switches the task with the arrow keys: the focused tile in the tiled
// view, the task of a one-task view.
static void switch_task(Viewer *v, int delta) {
    if (v->roll.n_tiles != 1) {
        move_focus(v, delta);
        return;
    }
    char err[1024];
    int task = (v->roll.tiles[0].task + delta + ENV_N_TASKS) % ENV_N_TASKS;
    if (viz_rollout_set_task(&v->roll, 0, task, err, sizeof err) != 0) {
        fprintf(stderr, "conal view: %s\n", err);
        return;
    }
    mjvCamera camera = v->scenes[0].camera;
    int fb_w, fb_h;
    glfwGetFramebufferSize(v->window, &fb_w, &fb_h);
    viz_scene_free(&v->scenes[0]);
    init_scene(v, 0, fb_w, fb_h);
    if (camera.type == mjCAMERA_FREE) {
        v->scenes[0].camera = camera;
    }
    print_view(v);
}

// Restarts the current episode of every tile (key r).
static void restart_all(Viewer *v) {
    char err[1024];
    for (int i = 0; i < v->roll.n_tiles; i++) {
        if (viz_rollout_restart(&v->roll, i, err, sizeof err) != 0) {
            fprintf(stderr, "conal view: %s\n", err);
        }
    }
}

// Keyboard callback: the keys listed in the help overlay.
static void on_key(GLFWwindow *window, int key, int scancode, int action, int mods) {
    (void)scancode;
    (void)mods;
    Viewer *v = glfwGetWindowUserPointer(window);
    if (action == GLFW_RELEASE) {
        return;
    }
    switch (key) {
    case GLFW_KEY_ESCAPE:
        glfwSetWindowShouldClose(window, GLFW_TRUE);
        break;
    case GLFW_KEY_SPACE:
        v->paused = !v->paused;
        v->lag = 0.0;
        break;
    case GLFW_KEY_PERIOD:
        v->paused = 1;
        v->steps_pending++;
        break;
    case GLFW_KEY_RIGHT:
        switch_task(v, 1);
        break;
    case GLFW_KEY_LEFT:
        switch_task(v, -1);
        break;
    case GLFW_KEY_A:
        if (v->roll.n_tiles > 1 && v->focus >= 0) {
            v->focus = -1;
            print_view(v);
        }
        break;
    case GLFW_KEY_R:
        restart_all(v);
        break;
    case GLFW_KEY_C:
        for (int i = 0; i < v->roll.n_tiles; i++) {
            viz_scene_cycle_camera(&v->scenes[i]);
        }
        break;
    case GLFW_KEY_H:
        v->show_help = !v->show_help;
        break;
    case GLFW_KEY_EQUAL:
    case GLFW_KEY_KP_ADD:
        v->speed = v->speed * 2.0 > MAX_SPEED ? MAX_SPEED : v->speed * 2.0;
        break;
    case GLFW_KEY_MINUS:
    case GLFW_KEY_KP_SUBTRACT:
        v->speed = v->speed / 2.0 < MIN_SPEED ? MIN_SPEED : v->speed / 2.0;
        break;
    default:
        break;   // other keys do nothing
    }
}

// Mouse button callback: starts or ends a camera drag on the tile below.
static void on_mouse_button(GLFWwindow *window, int button, int action, int mods) {
    (void)mods;
    Viewer *v = glfwGetWindowUserPointer(window);
    glfwGetCursorPos(window, &v->last_x, &v->last_y);
    if (action == GLFW_PRESS) {
        v->drag_button = button;
        v->drag_tile = tile_at(v, v->last_x, v->last_y);
    } else if (button == v->drag_button) {
        v->drag_button = -1;
    }
}

// Cursor callback: left drag rotates, right drag moves, middle drag zooms;
// shift switches rotate and move to the horizontal plane.
static void on_cursor(GLFWwindow *window, double x, double y) {
    Viewer *v = glfwGetWindowUserPointer(window);
    double dx = x - v->last_x, dy = y - v->last_y;
    v->last_x = x;
    v->last_y = y;
    if (v->drag_button < 0 || v->drag_tile < 0) {
        return;
    }
    int shift = glfwGetKey(window, GLFW_KEY_LEFT_SHIFT) == GLFW_PRESS ||
                glfwGetKey(window, GLFW_KEY_RIGHT_SHIFT) == GLFW_PRESS;
    int action;
    if (v->drag_button == GLFW_MOUSE_BUTTON_LEFT) {
        action = shift ? mjMOUSE_ROTATE_H : mjMOUSE_ROTATE_V;
    } else if (v->drag_button == GLFW_MOUSE_BUTTON_RIGHT) {
        action = shift ? mjMOUSE_MOVE_H : mjMOUSE_MOVE_V;
    } else {
        action = mjMOUSE_ZOOM;
    }

    // offsets are relative to the tile's height in window coordinates
    int win_w, win_h;
    glfwGetWindowSize(window, &win_w, &win_h);
    int rows = v->roll.n_tiles > TILE_COLUMNS && v->focus < 0 ? 2 : 1;
    double height = win_h > 0 ? (double)win_h / rows : 1.0;
    viz_scene_move_camera(&v->scenes[v->drag_tile], action, dx / height, dy / height);
}

// Scroll callback: zooms the tile under the cursor.
static void on_scroll(GLFWwindow *window, double xoffset, double yoffset) {
    (void)xoffset;
    Viewer *v = glfwGetWindowUserPointer(window);
    double x, y;
    glfwGetCursorPos(window, &x, &y);
    int i = tile_at(v, x, y);
    if (i >= 0) {
        viz_scene_move_camera(&v->scenes[i], mjMOUSE_ZOOM, 0.0, -0.05 * yoffset);
    }
}

// ---- interactive loop ----

static const char help_keys[] =
    "space\n.\nright, left\na\nr\nc\n+, -\nleft drag\nright drag\nscroll\nh\nEsc";
static const char help_actions[] =
    "pause, resume\nstep once (pauses)\nnext, previous task (all tasks: show one alone)\n"
    "all tasks again\nrestart the episodes\ncycle cameras (free, the scene's own)\n"
    "faster, slower\nrotate (shift: horizontal)\nmove (shift: horizontal)\nzoom\n"
    "hide this help\nquit";

// Draws all tiles and the window-wide status line and help into the window.
static void draw_window(Viewer *v) {
    int fb_w, fb_h;
    glfwGetFramebufferSize(v->window, &fb_w, &fb_h);
    // the status line and the help draw with the scene on screen
    VizScene *front = &v->scenes[v->focus >= 0 ? v->focus : 0];
    char status[256], policy[64];
    format_policy(&v->policy, policy, sizeof policy);
    snprintf(status, sizeof status, "%s  speed %gx  camera %s  policy %s  h: help",
             v->paused ? "paused" : "playing", v->speed, viz_scene_camera_name(front), policy);
    for (int i = 0; i < v->roll.n_tiles; i++) {
        mjrRect r;
        if (window_rect(v, i, fb_w, fb_h, &r)) {
            mjr_setBuffer(mjFB_WINDOW, &v->scenes[i].context);
            draw_tile(v, i, r, NULL);
        }
    }

    // the status line spans the window: below a view of one tile, above the
    // tiles
    mjrRect full = {0, 0, fb_w, fb_h};
    if (v->opt.overlay) {
        int corner = shows_one_tile(v) ? mjGRID_BOTTOMLEFT : mjGRID_TOPLEFT;
        viz_scene_text(front, full, corner, status, NULL);
    }
    if (v->show_help) {
        viz_scene_text(front, full, mjGRID_TOPRIGHT, help_keys, help_actions);
    }
    glfwSwapBuffers(v->window);
}

// Advances the simulation by the wall-clock time since the last frame.
static int advance(Viewer *v, double wall_dt, char *err, size_t err_sz) {
    int steps = 0;
    if (!v->paused) {
        v->lag += wall_dt * v->speed;
        steps = (int)(v->lag / VIZ_STEP_SECONDS);
        if (steps > MAX_STEPS_PER_FRAME) {
            steps = MAX_STEPS_PER_FRAME;
            v->lag = 0.0;   // behind real time: drop the backlog
        } else {
            v->lag -= steps * VIZ_STEP_SECONDS;
        }
    } else {
        steps = v->steps_pending;
    }
    v->steps_pending = 0;
    for (int k = 0; k < steps && !viz_rollout_finished(&v->roll); k++) {
        int rc = viz_rollout_step(&v->roll, err, err_sz);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

// Runs the window until Esc, a closed window, the last episode or the
// frame limit.
static int window_loop(Viewer *v, char *err, size_t err_sz) {
    glfwSetWindowUserPointer(v->window, v);
    glfwSetKeyCallback(v->window, on_key);
    glfwSetMouseButtonCallback(v->window, on_mouse_button);
    glfwSetCursorPosCallback(v->window, on_cursor);
    glfwSetScrollCallback(v->window, on_scroll);
    v->speed = 1.0;
    v->drag_button = -1;
    double last = glfwGetTime();
    for (long frame = 0; !glfwWindowShouldClose(v->window); frame++) {
        if (v->opt.frames > 0 && frame >= v->opt.frames) {
            break;
        }
        draw_window(v);
        if (v->paused) {
            glfwWaitEventsTimeout(0.05);
        } else {
            glfwPollEvents();
        }
        double now = glfwGetTime();
        int rc = advance(v, now - last, err, err_sz);
        last = now;
        if (rc != 0) {
            return rc;
        }
        if (viz_rollout_finished(&v->roll)) {
            break;
        }
    }
    return 0;
}

// ---- entry point ----

// Loads the policy and creates the envs of the requested tasks.
static int prepare(Viewer *v, char *err, size_t err_sz) {
    const VizViewOptions *o = &v->opt;
    int rc = viz_policy_load(&v->policy, o->run, o->random, err, err_sz);
    if (rc != 0) {
        return rc;
    }
    EnvConfig ec;
    viz_env_config(&v->policy.cfg, &ec);
    if (o->assets) {
        snprintf(ec.assets, sizeof ec.assets, "%s", o->assets);
    }
    int tasks[ENV_N_TASKS], n = 0;
    for (int t = 0; t < ENV_N_TASKS; t++) {
        if (o->task < 0 || o->task == t) {
            tasks[n++] = t;
        }
    }
    return viz_rollout_create(&v->roll, &v->policy, &ec, tasks, n, o->goal, o->episodes, err,
                              err_sz);
}

// Prints which policy plays how many tasks, before the first frame.
static void print_start(const Viewer *v) {
    char policy[64];
    format_policy(&v->policy, policy, sizeof policy);
    if (v->policy.sac) {
        printf("policy: %s (%s), ", v->policy.source, policy);
    } else {
        printf("policy: random actions, ");
    }
    printf("%d task%s, %d-step episodes\n", v->roll.n_tiles, v->roll.n_tiles == 1 ? "" : "s",
           v->policy.cfg.episode_length);
    fflush(stdout);
}

int viz_view_main(const VizViewOptions *o, char *err, size_t err_sz) {
    ASSERT(o->fps >= 1 && o->fps <= VIZ_STEPS_PER_SECOND, "viz_view_main: fps %d", o->fps);
    Viewer *v = err_xcalloc(1, sizeof *v, "viewer");
    v->opt = *o;
    v->focus = -1;
    if (v->opt.record && v->opt.episodes == 0) {
        v->opt.episodes = 1;   // a recording needs an end
    }
    int rc = prepare(v, err, err_sz);
    if (rc == 0) {
        if (v->opt.width <= 0 || v->opt.height <= 0) {
            default_size(v->roll.n_tiles, &v->opt.width, &v->opt.height);
        }
        print_start(v);
        rc = open_window(v, v->opt.width, v->opt.height, err, err_sz);
    }

    // scenes need the window's GL context; the window's framebuffer may be
    // larger than its size on high-DPI screens
    if (rc == 0) {
        int fb_w = v->opt.width, fb_h = v->opt.height;
        if (!v->opt.record) {
            glfwGetFramebufferSize(v->window, &fb_w, &fb_h);
        }
        for (int i = 0; i < v->roll.n_tiles; i++) {
            init_scene(v, i, fb_w, fb_h);
        }
        rc = v->opt.record ? record_loop(v, err, err_sz) : window_loop(v, err, err_sz);
    }
    viewer_free(v);
    free(v);
    return rc;
}
