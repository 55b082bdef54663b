// `conal view`: play a policy's episodes in a GLFW window, or record them.
//
// One task fills the window; all ten tasks tile it (5 x 2 viewports), each
// tile playing its own episode. In the tiled window the arrow keys show one
// tile alone while all keep playing. Interactive playback runs at the
// simulation's real time, 12.5 ms per env step (Meta-World's 5 substeps of
// 2.5 ms), times a speed factor. Recording renders into MuJoCo's off-screen
// buffer in a hidden window, one frame per 1/fps seconds of simulated time,
// and hands the frames to viz/record.h. Both need an X display (a real one
// or `xvfb-run -a`). Without one, viz_view_main fails with ERR_IO and a
// message that names xvfb-run.
#ifndef VIZ_VIEW_H
#define VIZ_VIEW_H

#include <stddef.h>

#include "viz/record.h"

// Simulated seconds per env step: frame_skip 5 times the 2.5 ms timestep.
#define VIZ_STEP_SECONDS 0.0125
#define VIZ_STEPS_PER_SECOND 80

typedef struct VizViewOptions {
    const char *run;         // RUN_DIR or CHECKPOINT; NULL with random
    int task;                // MT10 index, or -1 for all ten tiled
    int goal;                // 0..49, or VIZ_GOAL_SPREAD
    int episodes;            // per task; 0 = unlimited (interactive only)
    const char *assets;      // Meta-World asset folder overriding the run's, or NULL
    int random;              // 1: uniform random actions
    const char *record;      // OUT, or NULL for the interactive window
    VizFormat format;        // recording format
    int width, height;       // window or frame size in pixels
    int fps;                 // recorded frames per simulated second, 1..80
    long frames;             // stop after this many frames; 0 = no limit
    int overlay;             // 1: draw the text overlay
} VizViewOptions;

// Fills o with the defaults: all tasks, goals spread, unlimited episodes,
// interactive, 40 fps, overlay on, size 0 (chosen from the layout).
void viz_view_defaults(VizViewOptions *o);

// Runs the viewer or the recording. Returns 0 or a negative ErrCode with
// err filled.
int viz_view_main(const VizViewOptions *o, char *err, size_t err_sz);

#endif
