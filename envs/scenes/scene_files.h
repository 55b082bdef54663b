// Table of the MJCF files under envs/scenes/, embedded at build time by
// envs/scenes/embed.cmake. Private to envs/scene_builtin.c.
#ifndef ENVS_SCENES_SCENE_FILES_H
#define ENVS_SCENES_SCENE_FILES_H

// One embedded file: its base name (as <include file="..."/> names it) and
// its bytes, which are not NUL-terminated.
typedef struct EnvSceneFile {
    const char *name;
    const unsigned char *data;
    int size;
} EnvSceneFile;

extern const EnvSceneFile env_scene_files[];
extern const int env_scene_file_count;

#endif
