// The ten MT10 tasks: names, random-vector boxes, reset placement, object
// pose and the v2 reward of each (Meta-World v3, reward_function_version
// "v2"). Notation: o = object position of the observation, h = hand
// position of the observation, tcp = midpoint of the end-effector sites,
// a = action, target = the goal slot of the observation.
#include "envs/tasks.h"

#include <math.h>
#include <string.h>

#include "common/error.h"
#include "envs/reward.h"

#define PI 3.14159265358979323846

// ---- small vector helpers ----

static double norm3(const double *v) {
    return sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
}

static double dist3(const double *a, const double *b) {
    double d[3] = {a[0] - b[0], a[1] - b[1], a[2] - b[2]};
    return norm3(d);
}

// Distance in the x-z plane.
static double dist_xz(const double *a, const double *b) {
    return hypot(a[0] - b[0], a[2] - b[2]);
}

// |(a - b) * scale| with a per-axis scale.
static double dist3_scaled(const double *a, const double *b, const double *scale) {
    double d[3];
    for (int i = 0; i < 3; i++) {
        d[i] = (a[i] - b[i]) * scale[i];
    }
    return norm3(d);
}

static void copy3(double *dst, const mjtNum *src) {
    dst[0] = src[0];
    dst[1] = src[1];
    dst[2] = src[2];
}

static double clamp(double x, double lo, double hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

// ---- shared pieces ----

int env_task_lookup(const EnvTask *env, int type, const char *name, char *err,
                    size_t err_sz) {
    int id = mj_name2id(env->m, type, name);
    if (id < 0) {
        const char *kind = type == mjOBJ_BODY ? "body"
                           : type == mjOBJ_SITE ? "site"
                           : type == mjOBJ_GEOM ? "geom"
                           : type == mjOBJ_JOINT ? "joint" : "object";
        err_set(err, err_sz, ERR_MISMATCH, "%s: scene %s (%s) has no %s named '%s'",
                env->def->name, env->def->xml, env->source, kind, name);
    }
    return id;
}

void env_task_tcp(const EnvTask *env, double tcp[3]) {
    const mjtNum *r = env->d->site_xpos + 3 * env->site_right_ee;
    const mjtNum *l = env->d->site_xpos + 3 * env->site_left_ee;
    for (int i = 0; i < 3; i++) {
        tcp[i] = (r[i] + l[i]) / 2.0;
    }
}

// Binds joint `name` of the task object: its qpos and qvel addresses.
static int bind_joint(EnvTask *env, const char *name, char *err, size_t err_sz) {
    int j = env_task_lookup(env, mjOBJ_JOINT, name, err, err_sz);
    if (j < 0) {
        return ERR_MISMATCH;
    }
    env->qpos_adr = env->m->jnt_qposadr[j];
    env->qvel_adr = env->m->jnt_dofadr[j];
    return 0;
}

// Looks up several names of one type into ids[]; stops at the first missing.
static int bind_names(EnvTask *env, int type, const char *const *names, int n, int *ids,
                      char *err, size_t err_sz) {
    for (int i = 0; i < n; i++) {
        ids[i] = env_task_lookup(env, type, names[i], err, err_sz);
        if (ids[i] < 0) {
            return ERR_MISMATCH;
        }
    }
    return 0;
}

// Meta-World's _set_obj_xyz: moves the free joint of the object to pos
// (orientation kept), zeroes its velocity, then mj_forward.
static void set_free_joint_pos(EnvTask *env, const double pos[3]) {
    for (int i = 0; i < 3; i++) {
        env->d->qpos[env->qpos_adr + i] = pos[i];
    }
    for (int i = 0; i < 6; i++) {
        env->d->qvel[env->qvel_adr + i] = 0.0;
    }
    mj_forward(env->m, env->d);
}

// Moves the world site `goal` (render only) to the target.
static void place_goal_site(EnvTask *env) {
    if (env->site_goal >= 0) {
        for (int i = 0; i < 3; i++) {
            env->m->site_pos[3 * env->site_goal + i] = env->target[i];
        }
    }
}

// Sets the model position of body env->body[0] to rv[offset..offset+2].
static void place_body0(EnvTask *env, int offset) {
    for (int i = 0; i < 3; i++) {
        env->m->body_pos[3 * env->body[0] + i] = env->rv[offset + i];
    }
}

// True when both finger pads push on geom: the sums of the normal forces of
// their contacts with it are positive.
static int touching(const EnvTask *env, int geom) {
    const mjData *d = env->d;
    double left = 0.0, right = 0.0;
    for (int i = 0; i < d->ncon; i++) {
        const mjContact *c = d->contact + i;
        if (c->efc_address < 0) {
            continue;
        }
        int other;
        if (c->geom1 == geom) {
            other = c->geom2;
        } else if (c->geom2 == geom) {
            other = c->geom1;
        } else {
            continue;
        }
        if (other == env->geom_leftpad) {
            left += d->efc_force[c->efc_address];
        } else if (other == env->geom_rightpad) {
            right += d->efc_force[c->efc_address];
        }
    }
    return left > 0.0 && right > 0.0;
}

// Parameters of the base-class gripper caging reward.
typedef struct CagingParams {
    double obj_radius;       // r: pads closer than this (in y) give no extra credit
    double pad_thresh;       // p: pad-to-object y distance counted as caged
    double reach_radius;     // rho: medium density reach radius
    double xz_thresh;        // t: TCP-to-object x-z distance counted as aligned
    int high_density;        // average with caging alone
    int medium_density;      // average with a reach term
} CagingParams;

// Meta-World's _gripper_caging_reward (push, peg-insert-side): how well the
// two pads surround the object in y and the TCP sits over it in x-z,
// combined with how hard the gripper closes (desired effort 1).
static double caging_reward(const EnvTask *env, const double *a, const double *o,
                            const CagingParams *p) {
    // pads around the object along y
    const mjtNum *pads[2] = {env->d->xpos + 3 * env->body_leftpad,
                             env->d->xpos + 3 * env->body_rightpad};
    double cage[2];
    for (int i = 0; i < 2; i++) {
        double x = fabs(pads[i][1] - o[1]);
        double x0 = fabs(pads[i][1] - env->obj_init[1]);
        cage[i] = env_tolerance(x, p->obj_radius, p->pad_thresh, fabs(x0 - p->pad_thresh),
                                ENV_SIGMOID_LONG_TAIL);
    }
    double caging_y = env_hamacher(cage[0], cage[1]);

    // TCP over the object in x-z
    double tcp[3];
    env_task_tcp(env, tcp);
    double margin_xz = dist_xz(env->obj_init, env->init_tcp) - p->xz_thresh;
    double caging_xz = env_tolerance(dist_xz(tcp, o), 0.0, p->xz_thresh, margin_xz,
                                     ENV_SIGMOID_LONG_TAIL);

    // gripper effort counts only once the object is caged
    double closed = clamp(a[3], 0.0, 1.0);
    double caging = env_hamacher(caging_y, caging_xz);
    double gripping = caging > 0.97 ? closed : 0.0;
    double result = env_hamacher(caging, gripping);
    if (p->high_density) {
        result = (result + caging) / 2.0;
    } else if (p->medium_density) {
        double margin = fabs(dist3(env->obj_init, env->init_tcp) - p->reach_radius);
        double reach = env_tolerance(dist3(o, tcp), 0.0, p->reach_radius, margin,
                                     ENV_SIGMOID_LONG_TAIL);
        result = (result + reach) / 2.0;
    }
    return result;
}

// Object slot from a body position and the scipy (x,y,z,w) quaternion of a
// geom's or site's rotation matrix.
static void pose_xyzw(const mjtNum *pos, const mjtNum *mat, double p[3], double q[4]) {
    copy3(p, pos);
    env_quat_xyzw_from_mat(mat, q);
}

static const char *const puck_bodies[] = {"obj"};

// Binds the puck tasks: body[0] = obj (free joint), geom = objGeom.
static int bind_puck(EnvTask *env, char *err, size_t err_sz) {
    if (bind_names(env, mjOBJ_BODY, puck_bodies, 1, env->body, err, err_sz) != 0) {
        return ERR_MISMATCH;
    }
    env->geom = env_task_lookup(env, mjOBJ_GEOM, "objGeom", err, err_sz);
    if (env->geom < 0) {
        return ERR_MISMATCH;
    }
    return bind_joint(env, "objjoint", err, err_sz);
}

// The puck body position and objGeom orientation (reach, push, pick-place).
static void object_puck(const EnvTask *env, double pos[3], double quat[4]) {
    pose_xyzw(env->d->xpos + 3 * env->body[0], env->d->geom_xmat + 9 * env->geom, pos, quat);
}

// Nothing is placed on the model side before mj_resetData.
static void place_nothing(EnvTask *env) {
    (void)env;
}

// ---- reach-v3 ----

// Goal = rv[3:6]; the puck goes to rv[0:3] but is only a distractor.
static void reset_reach(EnvTask *env) {
    copy3(env->target, env->rv + 3);
    copy3(env->obj_init, env->rv);
    set_free_joint_pos(env, env->obj_init);
    place_goal_site(env);
}

// Reward 10 * tolerance of the TCP-to-goal distance; success within 5 cm.
static double reward_reach(const EnvTask *env, const double *obs, const double *a,
                           EnvInfo *info) {
    (void)obs;
    (void)a;
    double tcp[3];
    env_task_tcp(env, tcp);
    double d = dist3(tcp, env->target);
    double margin = dist3(env->def->hand_init, env->target);
    double in_place = env_tolerance(d, 0.0, 0.05, margin, ENV_SIGMOID_LONG_TAIL);
    info->success = d <= 0.05;
    info->near_object = d;
    info->grasp_success = 1.0;
    info->grasp_reward = d;
    info->in_place_reward = in_place;
    info->obj_to_target = d;
    return 10.0 * in_place;
}

// ---- push-v3 ----

// The puck keeps the height it settled to during the hand reset; the goal
// is the xy of rv[3:5] at that height.
static void reset_push(EnvTask *env) {
    double z0 = env->d->xpos[3 * env->body[0] + 2];
    env->target[0] = env->rv[3];
    env->target[1] = env->rv[4];
    env->target[2] = z0;
    env->obj_init[0] = env->rv[0];
    env->obj_init[1] = env->rv[1];
    env->obj_init[2] = z0;
    set_free_joint_pos(env, env->obj_init);
    place_goal_site(env);
}

// Caging reward until the TCP touches the puck, then a placement term;
// 10 within 5 cm of the goal, which is also success.
static double reward_push(const EnvTask *env, const double *obs, const double *a,
                          EnvInfo *info) {
    const double *o = obs + 4;
    double tcp[3];
    env_task_tcp(env, tcp);
    double t2o = dist3(o, tcp);
    double g2o = dist3(o, env->target);
    double in_place = env_tolerance(g2o, 0.0, 0.05, dist3(env->obj_init, env->target),
                                    ENV_SIGMOID_LONG_TAIL);
    static const CagingParams params = {0.015, 0.05, 0.01, 0.005, 1, 0};
    double og = caging_reward(env, a, o, &params);
    double reward = 2.0 * og;
    if (t2o < 0.02 && obs[3] > 0.0) {
        reward = 1.0 + 4.0 * og + 5.0 * in_place;
    }
    if (g2o < 0.05) {
        reward = 10.0;
    }
    info->success = g2o <= 0.05;
    info->near_object = t2o <= 0.03;
    info->grasp_success = touching(env, env->geom) && obs[3] > 0.0 &&
                          o[2] - 0.02 > env->obj_init[2];
    info->grasp_reward = og;
    info->in_place_reward = in_place;
    info->obj_to_target = g2o;
    return reward;
}

// ---- pick-place-v3 ----

// Goal = rv[3:6] (in the air), puck to rv[0:3].
static void reset_pick_place(EnvTask *env) {
    copy3(env->target, env->rv + 3);
    copy3(env->obj_init, env->rv);
    set_free_joint_pos(env, env->obj_init);
    place_goal_site(env);
}

// Pick-place's own caging term. Meta-World keeps references to the live pad
// positions as the "initial" pads, so both pad margins use the current pads.
static double caging_pick_place(const EnvTask *env, const double *a, const double *o) {
    const mjtNum *left = env->d->xpos + 3 * env->body_leftpad;
    const mjtNum *right = env->d->xpos + 3 * env->body_rightpad;
    double margin_r = fabs(fabs(o[1] - right[1]) - 0.05);
    double margin_l = fabs(fabs(o[1] - left[1]) - 0.05);
    double cage_r = env_tolerance(o[1] - right[1], 0.015, 0.05, margin_r,
                                  ENV_SIGMOID_LONG_TAIL);
    double cage_l = env_tolerance(left[1] - o[1], 0.015, 0.05, margin_l,
                                  ENV_SIGMOID_LONG_TAIL);
    double caging_y = env_hamacher(cage_l, cage_r);

    double tcp[3];
    env_task_tcp(env, tcp);
    double margin_xz = dist_xz(env->obj_init, env->init_tcp) - 0.005;
    double caging_xz = env_tolerance(dist_xz(tcp, o), 0.0, 0.005, margin_xz,
                                     ENV_SIGMOID_LONG_TAIL);

    double caging = env_hamacher(caging_y, caging_xz);
    double gripping = caging > 0.97 ? clamp(a[3], 0.0, 1.0) : 0.0;
    return (env_hamacher(caging, gripping) + caging) / 2.0;
}

// Caging and placement combined, a bonus once the puck is lifted, 10 within
// 5 cm of the goal; success is looser (7 cm).
static double reward_pick_place(const EnvTask *env, const double *obs, const double *a,
                                EnvInfo *info) {
    const double *o = obs + 4;
    double tcp[3];
    env_task_tcp(env, tcp);
    double o2t = dist3(o, env->target);
    double t2o = dist3(o, tcp);
    double in_place = env_tolerance(o2t, 0.0, 0.05, dist3(env->obj_init, env->target),
                                    ENV_SIGMOID_LONG_TAIL);
    double og = caging_pick_place(env, a, o);
    double reward = env_hamacher(og, in_place);
    if (t2o < 0.02 && obs[3] > 0.0 && o[2] - 0.01 > env->obj_init[2]) {
        reward += 1.0 + 5.0 * in_place;
    }
    if (o2t < 0.05) {
        reward = 10.0;
    }
    info->success = o2t <= 0.07;
    info->near_object = t2o <= 0.03;
    info->grasp_success = touching(env, env->geom) && obs[3] > 0.0 &&
                          o[2] - 0.02 > env->obj_init[2];
    info->grasp_reward = og;
    info->in_place_reward = in_place;
    info->obj_to_target = o2t;
    return reward;
}

// ---- door-open-v3 ----

// body[0] = door (placed), geom = handle (a mesh geom), joint doorjoint.
static int bind_door(EnvTask *env, char *err, size_t err_sz) {
    static const char *const bodies[] = {"door"};
    if (bind_names(env, mjOBJ_BODY, bodies, 1, env->body, err, err_sz) != 0) {
        return ERR_MISMATCH;
    }
    env->geom = env_task_lookup(env, mjOBJ_GEOM, "handle", err, err_sz);
    if (env->geom < 0) {
        return ERR_MISMATCH;
    }
    return bind_joint(env, "doorjoint", err, err_sz);
}

// The door body goes to rv.
static void place_door(EnvTask *env) {
    place_body0(env, 0);
}

// Goal = door + (-0.3, -0.45, 0); the door starts closed.
static void reset_door(EnvTask *env) {
    copy3(env->obj_init, env->rv);
    static const double offset[3] = {-0.3, -0.45, 0.0};
    for (int i = 0; i < 3; i++) {
        env->target[i] = env->rv[i] + offset[i];
    }
    place_goal_site(env);
    env->d->qpos[env->qpos_adr] = 0.0;
    env->d->qvel[env->qvel_adr] = 0.0;
    mj_forward(env->m, env->d);
}

// The handle geom frame (centroid and principal axes of its mesh).
static void object_door(const EnvTask *env, double pos[3], double quat[4]) {
    pose_xyzw(env->d->geom_xpos + 3 * env->geom, env->d->geom_xmat + 9 * env->geom, pos,
              quat);
}

// Hand above a floor that rises away from the handle, hand at the handle,
// gripper effort, and the door angle; 10 once the handle's x is within 8 cm
// of the goal, which is also success.
static double reward_door(const EnvTask *env, const double *obs, const double *a,
                          EnvInfo *info) {
    const double *h = obs;
    const double *o = obs + 4;
    double theta = env->d->qpos[env->qpos_adr];
    double grab = (clamp(a[3], -1.0, 1.0) + 1.0) / 2.0;

    // stay above a log-shaped floor until within 12 cm (xy) of the handle
    double door[3] = {o[0] - 0.05, o[1], o[2]};
    double radius = hypot(h[0] - door[0], h[1] - door[1]);
    double floor = radius <= 0.12 ? 0.0 : 0.04 * log(radius - 0.12) + 0.4;
    double above = h[2] >= floor ? 1.0
                                 : env_tolerance(floor - h[2], 0.0, 0.01, floor / 2.0,
                                                 ENV_SIGMOID_LONG_TAIL);
    double off[3] = {h[0] - door[0] - 0.05, h[1] - door[1] - 0.03, h[2] - door[2] + 0.01};
    double in_place = env_tolerance(norm3(off), 0.0, 0.06, 0.5, ENV_SIGMOID_LONG_TAIL);
    double ready = env_hamacher(above, in_place);

    // full credit for theta in [-2pi/3, -2pi/3 + 0.5]
    double opened = 0.2 * (theta < -PI / 90.0) +
                    0.8 * env_tolerance(2.0 * PI / 3.0 + theta, 0.0, 0.5, PI / 3.0,
                                        ENV_SIGMOID_LONG_TAIL);
    double reward = 2.0 * env_hamacher(ready, grab) + 8.0 * opened;
    int success = fabs(o[0] - env->target[0]) <= 0.08;
    if (success) {
        reward = 10.0;
    }
    info->success = success;
    info->near_object = ready;
    info->grasp_success = grab >= 0.5;
    info->grasp_reward = grab;
    info->in_place_reward = opened;
    info->obj_to_target = 0.0;
    return reward;
}

// ---- drawer-open-v3 and drawer-close-v3 ----

// body[0] = drawer (placed), body[1] = drawer_link, joint goal_slidey.
static int bind_drawer(EnvTask *env, char *err, size_t err_sz) {
    static const char *const bodies[] = {"drawer", "drawer_link"};
    if (bind_names(env, mjOBJ_BODY, bodies, 2, env->body, err, err_sz) != 0) {
        return ERR_MISMATCH;
    }
    return bind_joint(env, "goal_slidey", err, err_sz);
}

// The drawer body goes to rv (drawer-open, drawer-close).
static void place_drawer(EnvTask *env) {
    place_body0(env, 0);
}

// Goal = the handle pulled out 0.16 m. No mj_forward, as in Meta-World: the
// drawer body was placed before the hand reset, so the data are consistent.
static void reset_drawer_open(EnvTask *env) {
    copy3(env->obj_init, env->rv);
    static const double offset[3] = {0.0, -0.36, 0.09};
    for (int i = 0; i < 3; i++) {
        env->target[i] = env->rv[i] + offset[i];
    }
    place_goal_site(env);
}

// The handle: drawer_link + (0, -0.16, 0), with drawer_link's MuJoCo (w,x,y,z)
// quaternion.
static void object_drawer_open(const EnvTask *env, double pos[3], double quat[4]) {
    const mjtNum *p = env->d->xpos + 3 * env->body[1];
    pos[0] = p[0];
    pos[1] = p[1] - 0.16;
    pos[2] = p[2];
    for (int i = 0; i < 4; i++) {
        quat[i] = env->d->xquat[4 * env->body[1] + i];
    }
}

// Hand at the handle (x and y weighted 3x) plus the handle at the goal.
static double reward_drawer_open(const EnvTask *env, const double *obs, const double *a,
                                 EnvInfo *info) {
    (void)a;
    const double *h = obs;
    const double *handle = obs + 4;
    double err = dist3(handle, env->target);
    double opening = env_tolerance(err, 0.0, 0.02, 0.2, ENV_SIGMOID_LONG_TAIL);
    static const double scale[3] = {3.0, 3.0, 1.0};
    double handle_init[3] = {env->target[0], env->target[1] + 0.2, env->target[2]};
    double margin = dist3_scaled(handle_init, env->init_tcp, scale);
    double caging = env_tolerance(dist3_scaled(handle, h, scale), 0.0, 0.01, margin,
                                  ENV_SIGMOID_LONG_TAIL);
    info->success = err <= 0.03;
    info->near_object = dist3(handle, h) <= 0.03;
    info->grasp_success = obs[3] > 0.0;
    info->grasp_reward = caging;
    info->in_place_reward = opening;
    info->obj_to_target = err;
    return 5.0 * (caging + opening);
}

// The drawer starts pulled out 0.15 m; the goal is the closed handle.
static void reset_drawer_close(EnvTask *env) {
    static const double offset[3] = {0.0, -0.16, 0.09};
    for (int i = 0; i < 3; i++) {
        env->target[i] = env->rv[i] + offset[i];
    }
    env->d->qpos[env->qpos_adr] = -0.15;
    mj_forward(env->m, env->d);
    double quat[4];
    env->def->object(env, env->obj_init, quat);
    place_goal_site(env);
}

// drawer_link + (0, -0.16, 0.05); no orientation.
static void object_drawer_close(const EnvTask *env, double pos[3], double quat[4]) {
    const mjtNum *p = env->d->xpos + 3 * env->body[1];
    pos[0] = p[0];
    pos[1] = p[1] - 0.16;
    pos[2] = p[2] + 0.05;
    memset(quat, 0, 4 * sizeof(double));
}

// Gaussian reach to the handle gated by gripper effort, combined with the
// handle at the goal; 10 (and success) within 6.5 cm.
static double reward_drawer_close(const EnvTask *env, const double *obs, const double *a,
                                  EnvInfo *info) {
    const double *o = obs + 4;
    double tcp[3];
    env_task_tcp(env, tcp);
    double g2o = dist3(o, env->target);
    double g2i = dist3(env->obj_init, env->target);
    double in_place = env_tolerance(g2o, 0.0, 0.05, fabs(g2i - 0.05), ENV_SIGMOID_LONG_TAIL);
    double t2o = dist3(o, tcp);
    double t2i = dist3(env->obj_init, env->init_tcp);
    double reach = env_tolerance(t2o, 0.0, 0.005, fabs(t2i - 0.005), ENV_SIGMOID_GAUSSIAN);
    reach = env_hamacher(reach, clamp(a[3], 0.0, 1.0));
    double reward = env_hamacher(reach, in_place);
    if (g2o <= 0.065) {
        reward = 1.0;
    }
    info->success = g2o <= 0.065;
    info->near_object = t2o <= 0.01;
    info->grasp_success = 1.0;
    info->grasp_reward = reach;
    info->in_place_reward = in_place;
    info->obj_to_target = g2o;
    return 10.0 * reward;
}

// ---- button-press-topdown-v3 ----

// body[0] = box (placed), body[1] = button, site[0] = hole,
// site[1] = buttonStart, joint btnbox_joint.
static int bind_button(EnvTask *env, char *err, size_t err_sz) {
    static const char *const bodies[] = {"box", "button"};
    static const char *const sites[] = {"hole", "buttonStart"};
    if (bind_names(env, mjOBJ_BODY, bodies, 2, env->body, err, err_sz) != 0 ||
        bind_names(env, mjOBJ_SITE, sites, 2, env->site, err, err_sz) != 0) {
        return ERR_MISMATCH;
    }
    return bind_joint(env, "btnbox_joint", err, err_sz);
}

// The button box goes to rv.
static void place_button(EnvTask *env) {
    place_body0(env, 0);
}

// Goal = the hole site (10 cm above the box); the press depth at reset is
// the z distance from the button's start site to it.
static void reset_button(EnvTask *env) {
    copy3(env->obj_init, env->rv);
    mj_forward(env->m, env->d);
    copy3(env->target, env->d->site_xpos + 3 * env->site[0]);
    env->aux_scalar = fabs(env->target[2] - env->d->site_xpos[3 * env->site[1] + 2]);
    place_goal_site(env);
}

// Button top: button body + (0, 0, 0.193), with its MuJoCo (w,x,y,z)
// quaternion.
static void object_button(const EnvTask *env, double pos[3], double quat[4]) {
    const mjtNum *p = env->d->xpos + 3 * env->body[1];
    pos[0] = p[0];
    pos[1] = p[1];
    pos[2] = p[2] + 0.193;
    for (int i = 0; i < 4; i++) {
        quat[i] = env->d->xquat[4 * env->body[1] + i];
    }
}

// Closed gripper near the button, then the press depth once the TCP is
// within 3 cm; success within 2.4 mm of the target height.
static double reward_button(const EnvTask *env, const double *obs, const double *a,
                            EnvInfo *info) {
    (void)a;
    const double *o = obs + 4;
    double tcp[3];
    env_task_tcp(env, tcp);
    double t2o = dist3(o, tcp);
    double t2o_init = dist3(o, env->init_tcp);
    double o2t = fabs(env->target[2] - o[2]);
    double closed = 1.0 - obs[3];
    double near = env_tolerance(t2o, 0.0, 0.01, t2o_init, ENV_SIGMOID_LONG_TAIL);
    double pressed = env_tolerance(o2t, 0.0, 0.005, env->aux_scalar, ENV_SIGMOID_LONG_TAIL);
    double reward = 5.0 * env_hamacher(closed, near);
    if (t2o <= 0.03) {
        reward += 5.0 * pressed;
    }
    info->success = o2t <= 0.024;
    info->near_object = t2o <= 0.05;
    info->grasp_success = obs[3] > 0.0;
    info->grasp_reward = near;
    info->in_place_reward = pressed;
    info->obj_to_target = o2t;
    return reward;
}

// ---- peg-insert-side-v3 ----

enum { PEG_HEAD, PEG_GRASP, PEG_BRC1, PEG_TLC1, PEG_BRC2, PEG_TLC2 };

// body[0] = box (placed), body[1] = peg (free joint), sites PEG_*.
static int bind_peg(EnvTask *env, char *err, size_t err_sz) {
    static const char *const bodies[] = {"box", "peg"};
    static const char *const sites[] = {
        "pegHead", "pegGrasp", "bottom_right_corner_collision_box_1",
        "top_left_corner_collision_box_1", "bottom_right_corner_collision_box_2",
        "top_left_corner_collision_box_2"};
    if (bind_names(env, mjOBJ_BODY, bodies, 2, env->body, err, err_sz) != 0 ||
        bind_names(env, mjOBJ_SITE, sites, 6, env->site, err, err_sz) != 0) {
        return ERR_MISMATCH;
    }
    int body = env->body[1];
    if (env->m->body_jntnum[body] != 1 ||
        env->m->jnt_type[env->m->body_jntadr[body]] != mjJNT_FREE) {
        return err_set(err, err_sz, ERR_MISMATCH, "%s: body 'peg' in %s has no free joint",
                       env->def->name, env->source);
    }
    env->qpos_adr = env->m->jnt_qposadr[env->m->body_jntadr[body]];
    env->qvel_adr = env->m->jnt_dofadr[env->m->body_jntadr[body]];
    return 0;
}

// The hole box goes to rv[3:6].
static void place_peg(EnvTask *env) {
    place_body0(env, 3);
}

// Peg to rv[0:3] (5 mm above its rest height, it drops on the first steps);
// target inside the hole. The head's start is read before the peg moves, as
// Meta-World does, so it is the settled XML pose, not the episode start.
static void reset_peg(EnvTask *env) {
    copy3(env->obj_init, env->rv);
    copy3(env->aux, env->d->site_xpos + 3 * env->site[PEG_HEAD]);
    set_free_joint_pos(env, env->obj_init);
    static const double offset[3] = {0.03, 0.0, 0.13};
    for (int i = 0; i < 3; i++) {
        env->target[i] = env->rv[3 + i] + offset[i];
    }
    place_goal_site(env);
}

// The pegGrasp site and its orientation.
static void object_peg(const EnvTask *env, double pos[3], double quat[4]) {
    int s = env->site[PEG_GRASP];
    pose_xyzw(env->d->site_xpos + 3 * s, env->d->site_xmat + 9 * s, pos, quat);
}

// Caging, then the peg head at the target (y, z weighted 2x) gated by two
// collision prisms at the box; 10 (and success) within 7 cm scaled.
static double reward_peg(const EnvTask *env, const double *obs, const double *a,
                         EnvInfo *info) {
    const double *o = obs + 4;
    const mjtNum *sx = env->d->site_xpos;
    double head[3], tcp[3];
    copy3(head, sx + 3 * env->site[PEG_HEAD]);
    env_task_tcp(env, tcp);
    double t2o = dist3(o, tcp);
    static const double scale[3] = {1.0, 2.0, 2.0};
    double o2t = dist3_scaled(head, env->target, scale);
    double margin = dist3_scaled(env->aux, env->target, scale);
    double in_place = env_tolerance(o2t, 0.0, 0.07, margin, ENV_SIGMOID_LONG_TAIL);

    // the head must not be inside the box walls around the hole
    double corner[4][3];
    for (int i = 0; i < 4; i++) {
        copy3(corner[i], sx + 3 * env->site[PEG_BRC1 + i]);
    }
    double box1 = env_rect_prism_tolerance(head, corner[0], corner[1]);
    double box2 = env_rect_prism_tolerance(head, corner[2], corner[3]);
    in_place = env_hamacher(in_place, env_hamacher(box2, box1));

    static const CagingParams params = {0.0075, 0.03, 0.01, 0.005, 1, 0};
    double og = caging_reward(env, a, o, &params);
    int lifted = t2o < 0.08 && obs[3] > 0.0 && o[2] - 0.01 > env->obj_init[2];
    if (lifted) {
        og = 1.0;
    }
    double reward = env_hamacher(og, in_place);
    if (lifted) {
        reward += 1.0 + 5.0 * in_place;
    }
    if (o2t <= 0.07) {
        reward = 10.0;
    }
    info->success = o2t <= 0.07;
    info->near_object = t2o <= 0.03;
    info->grasp_success = lifted;
    info->grasp_reward = og;
    info->in_place_reward = in_place;
    info->obj_to_target = o2t;
    return reward;
}

// ---- window-open-v3 and window-close-v3 ----

// body[0] = window (placed), site[0] = handleOpenStart,
// site[1] = handleCloseStart, joint window_slide.
static int bind_window(EnvTask *env, char *err, size_t err_sz) {
    static const char *const bodies[] = {"window"};
    static const char *const sites[] = {"handleOpenStart", "handleCloseStart"};
    if (bind_names(env, mjOBJ_BODY, bodies, 1, env->body, err, err_sz) != 0 ||
        bind_names(env, mjOBJ_SITE, sites, 2, env->site, err, err_sz) != 0) {
        return ERR_MISMATCH;
    }
    return bind_joint(env, "window_slide", err, err_sz);
}

// The window body goes to rv.
static void place_window(EnvTask *env) {
    place_body0(env, 0);
}

// Goal = window + (0.2, 0, 0); the sash starts shut. As in Meta-World there is
// no mj_forward: the body was placed before the hand reset.
static void reset_window_open(EnvTask *env) {
    copy3(env->obj_init, env->rv);
    env->target[0] = env->rv[0] + 0.2;
    env->target[1] = env->rv[1];
    env->target[2] = env->rv[2];
    copy3(env->aux, env->d->site_xpos + 3 * env->site[0]);
    env->d->qpos[env->qpos_adr] = 0.0;
    place_goal_site(env);
}

// Goal = the window body; the sash starts open (slide 0.2). Meta-World sets
// the slide without mj_forward, so the reset observation still shows the
// handle at slide 0, 0.2 m short in x. From the first step on it is right.
static void reset_window_close(EnvTask *env) {
    copy3(env->obj_init, env->rv);
    copy3(env->target, env->rv);
    copy3(env->aux, env->d->site_xpos + 3 * env->site[1]);
    env->aux[0] += 0.2;
    env->d->qpos[env->qpos_adr] = 0.2;
    place_goal_site(env);
}

// The handleOpenStart site; no orientation.
static void object_window_open(const EnvTask *env, double pos[3], double quat[4]) {
    copy3(pos, env->d->site_xpos + 3 * env->site[0]);
    memset(quat, 0, 4 * sizeof(double));
}

// The handleCloseStart site; no orientation.
static void object_window_close(const EnvTask *env, double pos[3], double quat[4]) {
    copy3(pos, env->d->site_xpos + 3 * env->site[1]);
    memset(quat, 0, 4 * sizeof(double));
}

// Shared window reward: TCP at the handle combined with the handle's x at
// the goal. g2i is the initial handle-to-goal x distance of the task.
static double reward_window(const EnvTask *env, const double *obs, double g2i,
                            EnvSigmoid reach_sigmoid, EnvInfo *info) {
    const double *handle = obs + 4;
    double tcp[3];
    env_task_tcp(env, tcp);
    double g2o = fabs(handle[0] - env->target[0]);
    double in_place = env_tolerance(g2o, 0.0, 0.05, fabs(g2i - 0.05), ENV_SIGMOID_LONG_TAIL);
    double t2o = dist3(handle, tcp);
    double t2i = dist3(env->aux, env->init_tcp);
    double reach = env_tolerance(t2o, 0.0, 0.02, fabs(t2i - 0.02), reach_sigmoid);
    info->success = g2o <= 0.05;
    info->near_object = t2o <= 0.05;
    info->grasp_success = 1.0;
    info->grasp_reward = reach;
    info->in_place_reward = in_place;
    info->obj_to_target = g2o;
    return 10.0 * env_hamacher(reach, in_place);
}

// window-open: g2i from the window body (0.2), long-tail reach.
static double reward_window_open(const EnvTask *env, const double *obs, const double *a,
                                 EnvInfo *info) {
    (void)a;
    double g2i = fabs(env->obj_init[0] - env->target[0]);
    return reward_window(env, obs, g2i, ENV_SIGMOID_LONG_TAIL, info);
}

// window-close: g2i from the handle start (0.21), Gaussian reach.
static double reward_window_close(const EnvTask *env, const double *obs, const double *a,
                                  EnvInfo *info) {
    (void)a;
    double g2i = fabs(env->aux[0] - env->target[0]);
    return reward_window(env, obs, g2i, ENV_SIGMOID_GAUSSIAN, info);
}

// ---- the table ----

// Mocap bounds of every MT10 task, also the goal bounds of the tasks whose
// goal space is the hand space.
#define HAND_LO {-0.5, 0.40, 0.05}
#define HAND_HI {0.5, 1.0, 0.5}

static const EnvTaskDef task_defs[ENV_N_TASKS] = {
    {"reach-v3", "sawyer_reach_v3.xml", {0, 0.6, 0.2}, 6,
     {-0.1, 0.6, 0.02, -0.1, 0.8, 0.05}, {0.1, 0.7, 0.02, 0.1, 0.9, 0.3}, 0.15,
     {-0.1, 0.8, 0.05}, {0.1, 0.9, 0.3},
     bind_puck, place_nothing, reset_reach, object_puck, reward_reach},
    {"push-v3", "sawyer_push_v3.xml", {0, 0.6, 0.2}, 6,
     {-0.1, 0.6, 0.02, -0.1, 0.8, 0.01}, {0.1, 0.7, 0.02, 0.1, 0.9, 0.02}, 0.15,
     {-0.1, 0.8, 0.01}, {0.1, 0.9, 0.02},
     bind_puck, place_nothing, reset_push, object_puck, reward_push},
    {"pick-place-v3", "sawyer_pick_place_v3.xml", {0, 0.6, 0.2}, 6,
     {-0.1, 0.6, 0.02, -0.1, 0.8, 0.05}, {0.1, 0.7, 0.02, 0.1, 0.9, 0.3}, 0.15,
     {-0.1, 0.8, 0.05}, {0.1, 0.9, 0.3},
     bind_puck, place_nothing, reset_pick_place, object_puck, reward_pick_place},
    {"door-open-v3", "sawyer_door_pull.xml", {0, 0.6, 0.2}, 3,
     {0.0, 0.85, 0.15}, {0.1, 0.95, 0.15}, 0.0,
     {-0.3, 0.4, 0.1499}, {-0.2, 0.5, 0.1501},
     bind_door, place_door, reset_door, object_door, reward_door},
    {"drawer-open-v3", "sawyer_drawer.xml", {0, 0.6, 0.2}, 3,
     {-0.1, 0.9, 0.0}, {0.1, 0.9, 0.0}, 0.0, HAND_LO, HAND_HI,
     bind_drawer, place_drawer, reset_drawer_open, object_drawer_open, reward_drawer_open},
    {"drawer-close-v3", "sawyer_drawer.xml", {0, 0.6, 0.2}, 3,
     {-0.1, 0.9, 0.0}, {0.1, 0.9, 0.0}, 0.0, HAND_LO, HAND_HI,
     bind_drawer, place_drawer, reset_drawer_close, object_drawer_close,
     reward_drawer_close},
    {"button-press-topdown-v3", "sawyer_button_press_topdown.xml", {0, 0.4, 0.2}, 3,
     {-0.1, 0.8, 0.115}, {0.1, 0.9, 0.115}, 0.0, HAND_LO, HAND_HI,
     bind_button, place_button, reset_button, object_button, reward_button},
    {"peg-insert-side-v3", "sawyer_peg_insertion_side.xml", {0, 0.6, 0.2}, 6,
     {0.0, 0.5, 0.02, -0.35, 0.4, -0.001}, {0.2, 0.7, 0.02, -0.25, 0.7, 0.001}, 0.1,
     {-0.32, 0.4, 0.129}, {-0.22, 0.7, 0.131},
     bind_peg, place_peg, reset_peg, object_peg, reward_peg},
    {"window-open-v3", "sawyer_window_horizontal.xml", {0, 0.4, 0.2}, 3,
     {-0.1, 0.7, 0.16}, {0.1, 0.9, 0.16}, 0.0, HAND_LO, HAND_HI,
     bind_window, place_window, reset_window_open, object_window_open, reward_window_open},
    {"window-close-v3", "sawyer_window_horizontal.xml", {0, 0.4, 0.2}, 3,
     {0.0, 0.75, 0.2}, {0.0, 0.9, 0.2}, 0.0, HAND_LO, HAND_HI,
     bind_window, place_window, reset_window_close, object_window_close,
     reward_window_close},
};

const EnvTaskDef *env_task_def(int k) {
    ASSERT(k >= 0 && k < ENV_N_TASKS, "task index %d outside 0..%d", k, ENV_N_TASKS - 1);
    return &task_defs[k];
}
