// Built-in MJCF scenes for the ten Meta-World MT10 tasks, embedded in the binary.
//
// The scenes under envs/scenes/ are this project's own compact rewrite of the
// official Meta-World sawyer_xyz models: primitive geoms stand in for meshes,
// and every name the task code reads (bodies, sites, geoms, joints) is kept.
// Loading goes through MuJoCo's virtual file system, so the scenes need no
// files on disk. This module does not load the official XML files: callers
// that want them call mj_loadXML on the path themselves.
#ifndef ENVS_SCENE_BUILTIN_H
#define ENVS_SCENE_BUILTIN_H

#include <stddef.h>

#include <mujoco/mujoco.h>

// Compiles the built-in scene for an MT10 XML file name, as named in the
// Meta-World task table: sawyer_reach_v3.xml, sawyer_push_v3.xml,
// sawyer_pick_place_v3.xml, sawyer_door_pull.xml, sawyer_drawer.xml,
// sawyer_button_press_topdown.xml, sawyer_peg_insertion_side.xml or
// sawyer_window_horizontal.xml. A leading directory is ignored.
// Returns a model the caller frees with mj_deleteModel, or NULL with a
// message naming the file in err (if err_sz > 0) when the name is unknown or
// MuJoCo rejects the scene.
mjModel *env_scene_builtin_load(const char *xml_name, char *err, size_t err_sz);

// Number of built-in scene files that env_scene_builtin_load accepts (8).
int env_scene_builtin_count(void);

// Name of built-in scene file i in [0, env_scene_builtin_count()), in MT10
// task order, e.g. "sawyer_drawer.xml"; NULL when i is out of range.
const char *env_scene_builtin_name(int i);

#endif
