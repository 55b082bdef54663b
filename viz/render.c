// Scene, camera and context of one model, and its rendering.
#include "viz/render.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"

// Room for the Meta-World scenes (about 150 geoms with the robot's meshes)
// plus contacts and decorations.
#define VIZ_MAX_GEOM 2000

// Points the free camera at the table at an angle from the robot's side, so
// arm, object and goal are all in view. The robot's base is at the origin,
// the arm reaches over the table towards +y, and objects and goals lie near
// y = 0.6.
static void default_camera(VizScene *s) {
    mjv_defaultCamera(&s->camera);
    s->camera.type = mjCAMERA_FREE;
    s->camera.lookat[0] = 0.0;
    s->camera.lookat[1] = 0.6;
    s->camera.lookat[2] = 0.12;
    s->camera.distance = 1.55;
    s->camera.azimuth = 150.0;
    s->camera.elevation = -28.0;
    s->camera_index = -1;
}

void viz_scene_init(VizScene *s, const mjModel *m, int off_width, int off_height,
                    int font_scale) {
    memset(s, 0, sizeof *s);
    s->model = m;
    mjv_defaultScene(&s->scene);
    mjv_defaultOption(&s->option);
    mjv_defaultPerturb(&s->perturb);
    mjr_defaultContext(&s->context);
    mjv_makeScene(m, &s->scene, VIZ_MAX_GEOM);

    // mjr_makeContext sizes the off-screen buffer from m->vis.global; a
    // shallow copy of the model struct carries the larger size without
    // touching the env's model (the copy shares its arrays and is only read)
    mjModel *sized = err_xmalloc(sizeof *sized, "model copy for the render context");
    memcpy(sized, m, sizeof *sized);
    if (sized->vis.global.offwidth < off_width) {
        sized->vis.global.offwidth = off_width;
    }
    if (sized->vis.global.offheight < off_height) {
        sized->vis.global.offheight = off_height;
    }
    // the shadow map need not be much finer than the view; Meta-World's
    // scenes ask for 4096 x 4096, which software GL renders slowly
    int shadow = 1024;
    while (shadow < 2 * (off_width > off_height ? off_width : off_height) && shadow < 4096) {
        shadow *= 2;
    }
    if (sized->vis.quality.shadowsize > shadow) {
        sized->vis.quality.shadowsize = shadow;
    }
    mjr_makeContext(sized, &s->context, font_scale);
    free(sized);
    default_camera(s);
    s->ready = 1;
}

void viz_scene_free(VizScene *s) {
    if (!s->ready) {
        return;
    }
    mjr_freeContext(&s->context);
    mjv_freeScene(&s->scene);
    s->ready = 0;
}

void viz_scene_cycle_camera(VizScene *s) {
    s->camera_index++;
    if (s->camera_index >= s->model->ncam) {
        s->camera_index = -1;
    }
    if (s->camera_index < 0) {
        s->camera.type = mjCAMERA_FREE;
    } else {
        s->camera.type = mjCAMERA_FIXED;
        s->camera.fixedcamid = s->camera_index;
    }
}

const char *viz_scene_camera_name(const VizScene *s) {
    if (s->camera_index < 0) {
        return "free";
    }
    const char *name = mj_id2name(s->model, mjOBJ_CAMERA, s->camera_index);
    return name ? name : "(unnamed camera)";
}

void viz_scene_render(VizScene *s, mjData *d, mjrRect viewport) {
    ASSERT(s->ready, "viz_scene_render: scene not initialised");
    mjv_updateScene(s->model, d, &s->option, &s->perturb, &s->camera, mjCAT_ALL, &s->scene);
    mjr_render(viewport, &s->scene, &s->context);
}

void viz_scene_text(VizScene *s, mjrRect viewport, int gridpos, const char *left,
                    const char *right) {
    ASSERT(s->ready, "viz_scene_text: scene not initialised");
    mjr_overlay(mjFONT_NORMAL, gridpos, viewport, left, right, &s->context);
}

void viz_scene_move_camera(VizScene *s, int action, double dx, double dy) {
    if (s->camera.type != mjCAMERA_FREE) {
        return;
    }
    mjv_moveCamera(s->model, action, dx, dy, &s->scene, &s->camera);
}
