// The MuJoCo calls whose API changed between 2.x and 3.x, in one place.
//
// Written for the Debian MuJoCo 2.2.2 headers (mjVERSION_HEADER 222): error
// and warning interception through the mju_user_error / mju_user_warning
// pointers, and the 11-number weld eq_data layout (anchor 3, relative pose
// 3 + 4, torquescale 1). An upgrade to MuJoCo 3 changes this file only.
#ifndef ENVS_MUJOCO_COMPAT_H
#define ENVS_MUJOCO_COMPAT_H

#include <stddef.h>

#include <mujoco/mujoco.h>

// Installs the process-wide MuJoCo handlers once (thread-safe). A MuJoCo
// error becomes a fatal error through err_fatal, because MuJoCo 2.2.2 does
// not expect its error callback to return. A warning is logged with
// log_warn. Every env_create calls this.
void env_mujoco_init(void);

// Loads an MJCF file. Returns NULL with MuJoCo's message in err on failure.
mjModel *env_mujoco_load_xml(const char *path, char *err, size_t err_sz);

// Rewrites every weld equality's data to anchor (0,0,0), relative pose
// (0,0,0, -1,0,0,0) and the given torquescale, as Meta-World v3 does once
// after loading. Returns the number of welds changed.
int env_mujoco_set_welds(mjModel *m, double torquescale);

// Sum of d->warning[i].number over all warning types. MuJoCo counts each
// warning here even when it prints it only once.
long env_mujoco_warning_total(const mjData *d);

// Short name of a MuJoCo warning type (mjtWarning), e.g. "bad qacc".
const char *env_mujoco_warning_name(int type);

// The MuJoCo library version string, e.g. "2.2.2".
const char *env_mujoco_version(void);

#endif
