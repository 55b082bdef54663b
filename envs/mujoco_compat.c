// MuJoCo 2.2.2 specifics: handlers, MJCF loading, weld data, warnings.
#include "envs/mujoco_compat.h"

#include <pthread.h>

#include "common/error.h"
#include "common/log.h"

// MuJoCo 2.2.2 calls this and then continues as if the error had not
// happened, so it must not return.
static void on_mujoco_error(const char *msg) {
    err_fatal(__FILE__, __LINE__, __func__, "MuJoCo error: %s", msg);
}

// Logs a MuJoCo warning. The env counts occurrences itself from
// d->warning[], whether or not MuJoCo calls this for each of them.
static void on_mujoco_warning(const char *msg) {
    log_warn("MuJoCo warning: %s", msg);
}

static pthread_once_t handlers_once = PTHREAD_ONCE_INIT;

// Sets the two global MuJoCo callbacks.
static void install_handlers(void) {
    mju_user_error = on_mujoco_error;
    mju_user_warning = on_mujoco_warning;
}

void env_mujoco_init(void) {
    pthread_once(&handlers_once, install_handlers);
}

mjModel *env_mujoco_load_xml(const char *path, char *err, size_t err_sz) {
    char msg[1000] = "";
    mjModel *m = mj_loadXML(path, NULL, msg, (int)sizeof msg);
    if (!m) {
        err_set(err, err_sz, ERR_FORMAT, "cannot load MJCF %s: %s", path,
                msg[0] ? msg : "unknown MuJoCo error");
    }
    return m;
}

int env_mujoco_set_welds(mjModel *m, double torquescale) {
    // MuJoCo 2.2.2 layout: anchor[3], relpose position[3], relpose quat[4],
    // torquescale[1]; Meta-World v3 writes the quaternion as (-1, 0, 0, 0)
    static const mjtNum weld[mjNEQDATA - 1] = {0, 0, 0, 0, 0, 0, -1, 0, 0, 0};
    int n = 0;
    for (int i = 0; i < m->neq; i++) {
        if (m->eq_type[i] != mjEQ_WELD) {
            continue;
        }
        mjtNum *data = m->eq_data + (size_t)i * mjNEQDATA;
        for (int j = 0; j < mjNEQDATA - 1; j++) {
            data[j] = weld[j];
        }
        data[mjNEQDATA - 1] = torquescale;
        n++;
    }
    return n;
}

long env_mujoco_warning_total(const mjData *d) {
    long total = 0;
    for (int i = 0; i < mjNWARNING; i++) {
        total += d->warning[i].number;
    }
    return total;
}

const char *env_mujoco_warning_name(int type) {
    switch (type) {
    case mjWARN_INERTIA: return "singular inertia";
    case mjWARN_CONTACTFULL: return "contact list full";
    case mjWARN_CNSTRFULL: return "constraint list full";
    case mjWARN_VGEOMFULL: return "visual geom list full";
    case mjWARN_BADQPOS: return "bad qpos";
    case mjWARN_BADQVEL: return "bad qvel";
    case mjWARN_BADQACC: return "bad qacc";
    case mjWARN_BADCTRL: return "bad ctrl";
    default: return "unknown warning";
    }
}

const char *env_mujoco_version(void) {
    return mj_versionString();
}
