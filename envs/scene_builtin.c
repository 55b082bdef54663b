// Loader for the built-in MT10 scenes: copies every embedded MJCF file into a
// MuJoCo virtual file system and compiles the requested task file from it, so
// <include file="..."/> resolves against the other embedded files.
#include "envs/scene_builtin.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "envs/scenes/scene_files.h"

// Task XML files in MT10 task order; drawer-open/close and window-open/close
// share one file each. The includes they use are embedded too but are not
// loadable on their own.
static const char *const task_files[] = {
    "sawyer_reach_v3.xml",
    "sawyer_push_v3.xml",
    "sawyer_pick_place_v3.xml",
    "sawyer_door_pull.xml",
    "sawyer_drawer.xml",
    "sawyer_button_press_topdown.xml",
    "sawyer_peg_insertion_side.xml",
    "sawyer_window_horizontal.xml",
};
static const int n_task_files = (int)(sizeof task_files / sizeof task_files[0]);

int env_scene_builtin_count(void) {
    return n_task_files;
}

const char *env_scene_builtin_name(int i) {
    if (i < 0 || i >= n_task_files) {
        return NULL;
    }
    return task_files[i];
}

// Returns the index of a task file name in task_files, or -1.
static int find_task_file(const char *name) {
    for (int i = 0; i < n_task_files; i++) {
        if (strcmp(task_files[i], name) == 0) {
            return i;
        }
    }
    return -1;
}

// Copies every embedded file into vfs. Returns 0, or -1 with err set.
static int fill_vfs(mjVFS *vfs, char *err, size_t err_sz) {
    for (int i = 0; i < env_scene_file_count; i++) {
        const EnvSceneFile *f = &env_scene_files[i];
        int rc = mj_makeEmptyFileVFS(vfs, f->name, f->size);
        if (rc != 0) {
            err_set(err, err_sz, ERR_SIM,
                    "built-in scene file %s: mj_makeEmptyFileVFS failed (code %d: %s)",
                    f->name, rc, rc == 1 ? "VFS full" : "repeated name");
            return -1;
        }
        int slot = mj_findFileVFS(vfs, f->name);
        ASSERT(slot >= 0, "file %s just added to the VFS is missing", f->name);
        memcpy(vfs->filedata[slot], f->data, (size_t)f->size);
    }
    return 0;
}

mjModel *env_scene_builtin_load(const char *xml_name, char *err, size_t err_sz) {
    if (err && err_sz > 0) {
        err[0] = '\0';
    }
    if (!xml_name) {
        err_set(err, err_sz, ERR_ARG, "built-in scene name is NULL");
        return NULL;
    }

    // accept "dir/sawyer_drawer.xml" as well as the bare file name
    const char *base = strrchr(xml_name, '/');
    base = base ? base + 1 : xml_name;
    if (find_task_file(base) < 0) {
        err_set(err, err_sz, ERR_ARG,
                "no built-in scene named '%s'; expected one of the %d MT10 task files, "
                "e.g. sawyer_reach_v3.xml (run `conal envs` for the list)",
                xml_name, n_task_files);
        return NULL;
    }

    // mjVFS holds fixed-size name tables (about 2 MB), so it lives on the heap
    mjVFS *vfs = malloc(sizeof *vfs);
    if (!vfs) {
        err_set(err, err_sz, ERR_NOMEM, "built-in scene %s: out of memory for the VFS", base);
        return NULL;
    }
    mj_defaultVFS(vfs);
    mjModel *model = NULL;
    if (fill_vfs(vfs, err, err_sz) == 0) {
        char mj_err[1000] = "";
        model = mj_loadXML(base, vfs, mj_err, (int)sizeof mj_err);
        if (!model) {
            err_set(err, err_sz, ERR_SIM, "built-in scene %s failed to compile: %s", base,
                    mj_err);
        }
    }
    mj_deleteVFS(vfs);
    free(vfs);
    return model;
}
