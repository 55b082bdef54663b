// Drawing one env's scene with MuJoCo's renderer (mjv_ and mjr_ API).
//
// A VizScene owns the abstract scene, camera, visual options and the
// rendering context of one mjModel. Each model needs its own mjrContext,
// because the context contains that model's meshes and textures on the GPU;
// all contexts live in the one OpenGL context of the viewer's window, which
// must be current when any function here runs. This module opens no window
// and reads no input.
#ifndef VIZ_RENDER_H
#define VIZ_RENDER_H

#include <mujoco/mujoco.h>

typedef struct VizScene {
    const mjModel *model;    // borrowed; the context was made for this model
    mjvScene scene;
    mjvCamera camera;
    mjvOption option;
    mjvPerturb perturb;      // unused, but mjv_updateScene takes one
    mjrContext context;
    int camera_index;        // -1: the free camera, else the model's camera id
    int ready;               // 1 after viz_scene_init succeeded
} VizScene;

// Makes the scene and the rendering context for m, with an off-screen
// buffer of at least off_width x off_height pixels (for recording) and the
// given font scale (mjFONTSCALE_*). The free camera starts on the table.
void viz_scene_init(VizScene *s, const mjModel *m, int off_width, int off_height,
                    int font_scale);

// Frees the scene and the context; safe on a zeroed or freed VizScene.
void viz_scene_free(VizScene *s);

// Switches to the next camera: free, then the model's cameras in order.
void viz_scene_cycle_camera(VizScene *s);

// Name of the current camera ("free" or the model's name for it).
const char *viz_scene_camera_name(const VizScene *s);

// Renders d into viewport of the current buffer (mjr_setBuffer).
void viz_scene_render(VizScene *s, mjData *d, mjrRect viewport);

// Draws text over viewport in two columns (right may be NULL) at gridpos
// (mjGRID_TOPLEFT ...), on a translucent box.
void viz_scene_text(VizScene *s, mjrRect viewport, int gridpos, const char *left,
                    const char *right);

// Moves the free camera (mjMOUSE_* action, offsets relative to the viewport
// height). Does nothing while a model camera is selected.
void viz_scene_move_camera(VizScene *s, int action, double dx, double dy);

#endif
