// Tests of the built-in MT10 scenes against the official Meta-World models.
//
// Every check compiles both the embedded scene and the official XML, read
// from the shared asset folder, with the same MuJoCo. The checks cover what
// the task code and the physics depend on: sizes, bodies and inertias,
// joints, actuators, the mocap weld, solver options, sites, named geoms,
// contact geometry, and short simulations (resting objects, the hand reset).
#include <stdio.h>
#include <string.h>

#include <mujoco/mujoco.h>

#include "envs/scene_builtin.h"
#include "tests/check.h"

#define OFFICIAL_DIR CONAL_SHARED_DIR "/metaworld-assets/sawyer_xyz"

static const char *const scene_names[] = {
    "sawyer_reach_v3.xml",
    "sawyer_push_v3.xml",
    "sawyer_pick_place_v3.xml",
    "sawyer_door_pull.xml",
    "sawyer_drawer.xml",
    "sawyer_button_press_topdown.xml",
    "sawyer_peg_insertion_side.xml",
    "sawyer_window_horizontal.xml",
};
enum { N_SCENES = (int)(sizeof scene_names / sizeof scene_names[0]) };

// A built-in and an official model of one scene file.
typedef struct ScenePair {
    const char *name;
    mjModel *builtin;
    mjModel *official;
} ScenePair;

static ScenePair pairs[N_SCENES];

// Loads both models of every scene once; a load failure fails the test run.
static void load_pairs(void) {
    char err[1000];
    for (int i = 0; i < N_SCENES; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", OFFICIAL_DIR, scene_names[i]);
        pairs[i].name = scene_names[i];
        pairs[i].builtin = env_scene_builtin_load(scene_names[i], err, sizeof err);
        CHECK_MSG(pairs[i].builtin != NULL, "built-in %s: %s", scene_names[i], err);
        pairs[i].official = mj_loadXML(path, NULL, err, (int)sizeof err);
        CHECK_MSG(pairs[i].official != NULL, "official %s: %s", path, err);
    }
}

static void free_pairs(void) {
    for (int i = 0; i < N_SCENES; i++) {
        mj_deleteModel(pairs[i].builtin);
        mj_deleteModel(pairs[i].official);
    }
}

// Returns 1 when both models of pair i loaded.
static int pair_ok(int i) {
    return pairs[i].builtin && pairs[i].official;
}

// Name of object id in m, or "" for unnamed objects.
static const char *name_of(const mjModel *m, int type, int id) {
    const char *s = mj_id2name(m, type, id);
    return s ? s : "";
}

// Max |a[k] - b[k]| over n entries.
static double max_abs_diff(const mjtNum *a, const mjtNum *b, int n) {
    double d = 0;
    for (int k = 0; k < n; k++) {
        double e = fabs(a[k] - b[k]);
        d = e > d ? e : d;
    }
    return d;
}

// Distance between two unit quaternions, treating q and -q as equal.
static double quat_distance(const mjtNum *a, const mjtNum *b) {
    double plus = 0, minus = 0;
    for (int k = 0; k < 4; k++) {
        plus += (a[k] - b[k]) * (a[k] - b[k]);
        minus += (a[k] + b[k]) * (a[k] + b[k]);
    }
    return sqrt(plus < minus ? plus : minus);
}

// Sets the weld data as the task code does at construction: anchor and
// relative pose zero, relative quaternion (-1, 0, 0, 0), torquescale 5.
static void reinit_weld(mjModel *m) {
    for (int i = 0; i < m->neq; i++) {
        if (m->eq_type[i] != mjEQ_WELD) {
            continue;
        }
        mjtNum *data = m->eq_data + i * mjNEQDATA;
        memset(data, 0, sizeof(mjtNum) * mjNEQDATA);
        data[6] = -1;
        data[10] = 5;
    }
}

// ---- loader ----

static void test_loader_lists_eight_files(void) {
    CHECK_EQ_INT(N_SCENES, env_scene_builtin_count());
    for (int i = 0; i < N_SCENES; i++) {
        CHECK_MSG(strcmp(env_scene_builtin_name(i), scene_names[i]) == 0, "name %d: %s", i,
                  env_scene_builtin_name(i));
    }
    CHECK(env_scene_builtin_name(-1) == NULL);
    CHECK(env_scene_builtin_name(N_SCENES) == NULL);
}

static void test_loader_accepts_directory_prefix(void) {
    char err[500];
    mjModel *m = env_scene_builtin_load("some/dir/sawyer_drawer.xml", err, sizeof err);
    CHECK_MSG(m != NULL, "%s", err);
    mj_deleteModel(m);
}

static void test_loader_rejects_unknown_names(void) {
    char err[500];
    CHECK(env_scene_builtin_load("sawyer_box.xml", err, sizeof err) == NULL);
    CHECK_STR_CONTAINS(err, "sawyer_box.xml");
    CHECK(env_scene_builtin_load(NULL, err, sizeof err) == NULL);
    CHECK_STR_CONTAINS(err, "NULL");

    // shared includes are embedded but are not task files
    CHECK(env_scene_builtin_load("conal_scene.xml", err, sizeof err) == NULL);
    CHECK_STR_CONTAINS(err, "conal_scene.xml");

    // a NULL error buffer is allowed
    CHECK(env_scene_builtin_load("nope.xml", NULL, 0) == NULL);
}

// ---- compiled model versus the official one ----

static void test_sizes_match_official(void) {
    for (int i = 0; i < N_SCENES; i++) {
        if (!pair_ok(i)) {
            continue;
        }
        const mjModel *b = pairs[i].builtin, *o = pairs[i].official;
        check_current = pairs[i].name;
        CHECK_EQ_INT(o->nq, b->nq);
        CHECK_EQ_INT(o->nv, b->nv);
        CHECK_EQ_INT(o->nu, b->nu);
        CHECK_EQ_INT(o->na, b->na);
        CHECK_EQ_INT(o->nmocap, b->nmocap);
        CHECK_EQ_INT(o->neq, b->neq);
        CHECK_EQ_INT(o->njnt, b->njnt);
        CHECK_EQ_INT(o->nbody, b->nbody);
    }
}

static void test_options_match_official(void) {
    for (int i = 0; i < N_SCENES; i++) {
        if (!pair_ok(i)) {
            continue;
        }
        const mjOption *b = &pairs[i].builtin->opt, *o = &pairs[i].official->opt;
        check_current = pairs[i].name;
        CHECK_NEAR(o->timestep, b->timestep, 0);
        CHECK_EQ_INT(o->iterations, b->iterations);
        CHECK_NEAR(o->tolerance, b->tolerance, 0);
        CHECK_EQ_INT(o->solver, b->solver);
        CHECK_EQ_INT(o->jacobian, b->jacobian);
        CHECK_EQ_INT(o->cone, b->cone);
        CHECK_EQ_INT(o->integrator, b->integrator);
        CHECK_NEAR(o->impratio, b->impratio, 0);
        CHECK(max_abs_diff(o->gravity, b->gravity, 3) == 0);
    }
}

// Bodies are compared by index: the built-in scenes keep the official body
// order, names and kinematic tree, and carry the compiled inertias.
static void test_bodies_match_official(void) {
    for (int i = 0; i < N_SCENES; i++) {
        if (!pair_ok(i) || pairs[i].builtin->nbody != pairs[i].official->nbody) {
            continue;
        }
        const mjModel *b = pairs[i].builtin, *o = pairs[i].official;
        check_current = pairs[i].name;
        for (int k = 0; k < o->nbody; k++) {
            const char *name = name_of(o, mjOBJ_BODY, k);
            CHECK_MSG(strcmp(name, name_of(b, mjOBJ_BODY, k)) == 0, "body %d: %s vs %s", k,
                      name, name_of(b, mjOBJ_BODY, k));
            CHECK_MSG(o->body_parentid[k] == b->body_parentid[k], "body %s parent", name);
            CHECK_MSG(max_abs_diff(o->body_pos + 3 * k, b->body_pos + 3 * k, 3) < 1e-9,
                      "body %s pos", name);
            CHECK_MSG(quat_distance(o->body_quat + 4 * k, b->body_quat + 4 * k) < 1e-9,
                      "body %s quat", name);

            // masses to 1e-7 relative; inertial frames only where there is mass
            double mass = o->body_mass[k];
            CHECK_MSG(fabs(mass - b->body_mass[k]) <= 1e-7 * mass + 1e-12,
                      "body %s mass %.9g vs %.9g", name, mass, b->body_mass[k]);
            if (mass < 1e-6) {
                continue;
            }
            CHECK_MSG(max_abs_diff(o->body_ipos + 3 * k, b->body_ipos + 3 * k, 3) < 1e-6,
                      "body %s inertial pos", name);
            CHECK_MSG(quat_distance(o->body_iquat + 4 * k, b->body_iquat + 4 * k) < 1e-5,
                      "body %s inertial quat", name);
            for (int a = 0; a < 3; a++) {
                double io = o->body_inertia[3 * k + a], ib = b->body_inertia[3 * k + a];
                CHECK_MSG(fabs(io - ib) <= 1e-6 * io, "body %s inertia[%d] %.9g vs %.9g",
                          name, a, io, ib);
            }
        }
    }
}

static void test_joints_match_official(void) {
    for (int i = 0; i < N_SCENES; i++) {
        if (!pair_ok(i) || pairs[i].builtin->njnt != pairs[i].official->njnt) {
            continue;
        }
        const mjModel *b = pairs[i].builtin, *o = pairs[i].official;
        check_current = pairs[i].name;
        for (int k = 0; k < o->njnt; k++) {
            const char *name = name_of(o, mjOBJ_JOINT, k);
            int dof = o->jnt_dofadr[k];
            CHECK_MSG(strcmp(name, name_of(b, mjOBJ_JOINT, k)) == 0, "joint %d: %s", k, name);
            CHECK_MSG(o->jnt_type[k] == b->jnt_type[k], "joint %s type", name);
            CHECK_MSG(o->jnt_bodyid[k] == b->jnt_bodyid[k], "joint %s body", name);
            CHECK_MSG(o->jnt_qposadr[k] == b->jnt_qposadr[k], "joint %s qpos address", name);
            CHECK_MSG(o->jnt_dofadr[k] == b->jnt_dofadr[k], "joint %s dof address", name);
            CHECK_MSG(o->jnt_limited[k] == b->jnt_limited[k], "joint %s limited", name);
            CHECK_MSG(max_abs_diff(o->jnt_range + 2 * k, b->jnt_range + 2 * k, 2) == 0,
                      "joint %s range", name);
            CHECK_MSG(max_abs_diff(o->jnt_axis + 3 * k, b->jnt_axis + 3 * k, 3) == 0,
                      "joint %s axis", name);
            CHECK_MSG(max_abs_diff(o->jnt_pos + 3 * k, b->jnt_pos + 3 * k, 3) == 0,
                      "joint %s pos", name);
            CHECK_MSG(o->jnt_stiffness[k] == b->jnt_stiffness[k], "joint %s stiffness", name);
            CHECK_MSG(o->dof_damping[dof] == b->dof_damping[dof], "joint %s damping", name);
            CHECK_MSG(o->dof_armature[dof] == b->dof_armature[dof], "joint %s armature", name);
            CHECK_MSG(o->dof_frictionloss[dof] == b->dof_frictionloss[dof],
                      "joint %s frictionloss", name);
            CHECK_MSG(max_abs_diff(o->jnt_solref + 2 * k, b->jnt_solref + 2 * k, 2) == 0,
                      "joint %s solref", name);
            CHECK_MSG(max_abs_diff(o->jnt_solimp + 5 * k, b->jnt_solimp + 5 * k, 5) == 0,
                      "joint %s solimp", name);
        }
        CHECK(max_abs_diff(o->qpos0, b->qpos0, o->nq) < 1e-12);
        CHECK(max_abs_diff(o->qpos_spring, b->qpos_spring, o->nq) < 1e-12);
    }
}

static void test_actuators_and_weld_match(void) {
    for (int i = 0; i < N_SCENES; i++) {
        if (!pair_ok(i) || pairs[i].builtin->nu != pairs[i].official->nu ||
            pairs[i].builtin->neq != pairs[i].official->neq) {
            continue;
        }
        const mjModel *b = pairs[i].builtin, *o = pairs[i].official;
        check_current = pairs[i].name;
        for (int k = 0; k < o->nu; k++) {
            CHECK_EQ_INT(o->actuator_trntype[k], b->actuator_trntype[k]);
            CHECK_EQ_INT(o->actuator_trnid[2 * k], b->actuator_trnid[2 * k]);
            CHECK_EQ_INT(o->actuator_gaintype[k], b->actuator_gaintype[k]);
            CHECK_EQ_INT(o->actuator_biastype[k], b->actuator_biastype[k]);
            CHECK_EQ_INT(o->actuator_ctrllimited[k], b->actuator_ctrllimited[k]);
            CHECK_EQ_INT(o->actuator_forcelimited[k], b->actuator_forcelimited[k]);
            CHECK(max_abs_diff(o->actuator_gainprm + k * mjNGAIN,
                               b->actuator_gainprm + k * mjNGAIN, mjNGAIN) == 0);
            CHECK(max_abs_diff(o->actuator_biasprm + k * mjNBIAS,
                               b->actuator_biasprm + k * mjNBIAS, mjNBIAS) == 0);
            CHECK(max_abs_diff(o->actuator_ctrlrange + 2 * k, b->actuator_ctrlrange + 2 * k,
                               2) == 0);
            CHECK(max_abs_diff(o->actuator_gear + 6 * k, b->actuator_gear + 6 * k, 6) == 0);
        }
        for (int k = 0; k < o->neq; k++) {
            CHECK_EQ_INT(o->eq_type[k], b->eq_type[k]);
            CHECK_EQ_INT(o->eq_obj1id[k], b->eq_obj1id[k]);
            CHECK_EQ_INT(o->eq_obj2id[k], b->eq_obj2id[k]);
            CHECK(max_abs_diff(o->eq_solref + 2 * k, b->eq_solref + 2 * k, 2) == 0);
            CHECK(max_abs_diff(o->eq_solimp + 5 * k, b->eq_solimp + 5 * k, 5) == 0);

            // the compiled relative pose follows from the kinematic tree
            CHECK(max_abs_diff(o->eq_data + k * mjNEQDATA, b->eq_data + k * mjNEQDATA,
                               mjNEQDATA) < 1e-9);
        }
        CHECK_EQ_INT(o->body_mocapid[mj_name2id(o, mjOBJ_BODY, "mocap")],
                     b->body_mocapid[mj_name2id(b, mjOBJ_BODY, "mocap")]);
    }
}

// Every official site exists in the built-in scene, on the same body, at the
// same place: the task code reads sites by name.
static void test_sites_match_official(void) {
    for (int i = 0; i < N_SCENES; i++) {
        if (!pair_ok(i)) {
            continue;
        }
        const mjModel *b = pairs[i].builtin, *o = pairs[i].official;
        check_current = pairs[i].name;
        CHECK_EQ_INT(o->nsite, b->nsite);
        for (int k = 0; k < o->nsite; k++) {
            const char *name = name_of(o, mjOBJ_SITE, k);
            int kb = mj_name2id(b, mjOBJ_SITE, name);
            CHECK_MSG(kb >= 0, "site %s is missing", name);
            if (kb < 0) {
                continue;
            }
            CHECK_MSG(strcmp(name_of(o, mjOBJ_BODY, o->site_bodyid[k]),
                             name_of(b, mjOBJ_BODY, b->site_bodyid[kb])) == 0,
                      "site %s body", name);
            CHECK_MSG(o->site_bodyid[k] == b->site_bodyid[kb], "site %s body id", name);
            CHECK_MSG(max_abs_diff(o->site_pos + 3 * k, b->site_pos + 3 * kb, 3) < 1e-12,
                      "site %s pos", name);
            CHECK_MSG(quat_distance(o->site_quat + 4 * k, b->site_quat + 4 * kb) < 1e-12,
                      "site %s quat", name);
        }
    }
}

// Named geoms exist on the same bodies. Where the official geom is a mesh,
// the stand-in sits at the compiled mesh frame, because observations read
// geom frames (the door handle) and grasp tests read geom ids.
static void test_named_geoms_match_official(void) {
    for (int i = 0; i < N_SCENES; i++) {
        if (!pair_ok(i)) {
            continue;
        }
        const mjModel *b = pairs[i].builtin, *o = pairs[i].official;
        check_current = pairs[i].name;
        for (int k = 0; k < o->ngeom; k++) {
            const char *name = mj_id2name(o, mjOBJ_GEOM, k);
            if (!name) {
                continue;
            }
            int kb = mj_name2id(b, mjOBJ_GEOM, name);
            CHECK_MSG(kb >= 0, "geom %s is missing", name);
            if (kb < 0) {
                continue;
            }
            CHECK_MSG(o->geom_bodyid[k] == b->geom_bodyid[kb], "geom %s body", name);
            CHECK_MSG(max_abs_diff(o->geom_pos + 3 * k, b->geom_pos + 3 * kb, 3) < 1e-6,
                      "geom %s pos", name);
            CHECK_MSG(quat_distance(o->geom_quat + 4 * k, b->geom_quat + 4 * kb) < 1e-5,
                      "geom %s quat", name);
            CHECK_MSG(o->geom_contype[k] == b->geom_contype[kb], "geom %s contype", name);
            CHECK_MSG(o->geom_conaffinity[k] == b->geom_conaffinity[kb],
                      "geom %s conaffinity", name);
        }
    }
}

// Returns 1 when geom k of a and geom kb of b have the same shape, place and
// contact parameters.
static int same_contact_geom(const mjModel *a, int k, const mjModel *b, int kb) {
    return a->geom_bodyid[k] == b->geom_bodyid[kb] && a->geom_type[k] == b->geom_type[kb] &&
           a->geom_contype[k] == b->geom_contype[kb] &&
           a->geom_conaffinity[k] == b->geom_conaffinity[kb] &&
           a->geom_condim[k] == b->geom_condim[kb] &&
           a->geom_priority[k] == b->geom_priority[kb] &&
           max_abs_diff(a->geom_size + 3 * k, b->geom_size + 3 * kb, 3) < 1e-9 &&
           max_abs_diff(a->geom_pos + 3 * k, b->geom_pos + 3 * kb, 3) < 1e-9 &&
           quat_distance(a->geom_quat + 4 * k, b->geom_quat + 4 * kb) < 1e-9 &&
           max_abs_diff(a->geom_friction + 3 * k, b->geom_friction + 3 * kb, 3) == 0 &&
           max_abs_diff(a->geom_solref + 2 * k, b->geom_solref + 2 * kb, 2) == 0 &&
           max_abs_diff(a->geom_solimp + 5 * k, b->geom_solimp + 5 * kb, 5) == 0 &&
           a->geom_margin[k] == b->geom_margin[kb] && a->geom_gap[k] == b->geom_gap[kb];
}

// Returns 1 when geom k can take part in a contact.
static int collides(const mjModel *m, int k) {
    return m->geom_contype[k] != 0 || m->geom_conaffinity[k] != 0;
}

// Counts the colliding geoms of `of` that have no identical geom in `in`,
// printing each one when verbose. Mesh geoms of `of` are skipped and counted
// in *meshes.
static int count_unmatched(const mjModel *of, const mjModel *in, int verbose, int *meshes) {
    int unmatched = 0;
    *meshes = 0;
    for (int k = 0; k < of->ngeom; k++) {
        if (!collides(of, k)) {
            continue;
        }
        if (of->geom_type[k] == mjGEOM_MESH) {
            (*meshes)++;
            continue;
        }
        int found = 0;
        for (int kb = 0; kb < in->ngeom && !found; kb++) {
            found = same_contact_geom(of, k, in, kb);
        }
        if (!found && verbose) {
            fprintf(stderr, "  no match for colliding geom %d (%s) on body %s\n", k,
                    name_of(of, mjOBJ_GEOM, k), name_of(of, mjOBJ_BODY, of->geom_bodyid[k]));
        }
        unmatched += !found;
    }
    return unmatched;
}

// Contact geometry matches one to one, except the two arm meshes that
// collide in the official model. The built-in scene replaces the gripper base
// by a convex mesh of its extreme points (test_gripper_contacts_like_official
// checks it in motion) and the wrist by a box with the same collision bits.
static void test_contact_geoms_match_official(void) {
    for (int i = 0; i < N_SCENES; i++) {
        if (!pair_ok(i)) {
            continue;
        }
        const mjModel *b = pairs[i].builtin, *o = pairs[i].official;
        check_current = pairs[i].name;
        int official_meshes = 0, builtin_meshes = 0;
        CHECK_EQ_INT(0, count_unmatched(o, b, 1, &official_meshes));
        CHECK_EQ_INT(2, official_meshes);

        // the reverse direction leaves the gripper-base mesh and the wrist box
        CHECK_EQ_INT(1, count_unmatched(b, o, 0, &builtin_meshes));
        CHECK_EQ_INT(1, builtin_meshes);
    }
}

// ---- simulation ----

// Steps m for n substeps from its reference pose with the weld re-initialised.
// When target is non-NULL, the mocap is held there, pointing the gripper down,
// and the gripper is commanded open. Returns the data; the caller frees it.
static mjData *simulate(mjModel *m, const double *target, int n) {
    mjData *d = mj_makeData(m);
    reinit_weld(m);
    mj_forward(m, d);
    for (int s = 0; s < n; s++) {
        if (target) {
            for (int a = 0; a < 3; a++) {
                d->mocap_pos[a] = target[a];
            }
            d->mocap_quat[0] = 1;
            d->mocap_quat[1] = 0;
            d->mocap_quat[2] = 1;
            d->mocap_quat[3] = 0;
            d->ctrl[0] = -1;
            d->ctrl[1] = 1;
        }
        mj_step(m, d);
    }
    mj_forward(m, d);
    return d;
}

// After 1 s with no action the objects rest where they rest on the official
// scene: the puck at z = 0.02, the peg on the table, the joints of the door,
// drawer, button and window at the same positions.
static void test_objects_rest_like_official(void) {
    for (int i = 0; i < N_SCENES; i++) {
        if (!pair_ok(i)) {
            continue;
        }
        check_current = pairs[i].name;
        int n = (int)lround(1.0 / pairs[i].official->opt.timestep);
        mjData *db = simulate(pairs[i].builtin, NULL, n);
        mjData *dob = simulate(pairs[i].official, NULL, n);
        const mjModel *b = pairs[i].builtin;

        // object coordinates start after the 9 arm and gripper coordinates
        for (int q = 9; q < b->nq; q++) {
            CHECK_MSG(fabs(db->qpos[q] - dob->qpos[q]) < 1e-5, "qpos[%d] %.6f vs %.6f", q,
                      db->qpos[q], dob->qpos[q]);
        }
        int puck = mj_name2id(b, mjOBJ_BODY, "obj");
        if (puck >= 0) {
            CHECK_NEAR(0.02, db->xpos[3 * puck + 2], 5e-4);
        }
        mj_deleteData(db);
        mj_deleteData(dob);
    }
}

// The hand reset of every task (mocap at the hand start, gripper open, 250
// substeps) ends with the hand where it ends on the official scene.
static void test_hand_reset_like_official(void) {
    const double starts[2][3] = {{0, 0.6, 0.2}, {0, 0.4, 0.2}};
    for (int i = 0; i < N_SCENES; i++) {
        if (!pair_ok(i)) {
            continue;
        }
        check_current = pairs[i].name;
        for (int s = 0; s < 2; s++) {
            mjData *db = simulate(pairs[i].builtin, starts[s], 250);
            mjData *dob = simulate(pairs[i].official, starts[s], 250);
            int hb = mj_name2id(pairs[i].builtin, mjOBJ_BODY, "hand");
            int ho = mj_name2id(pairs[i].official, mjOBJ_BODY, "hand");
            CHECK_MSG(max_abs_diff(db->xpos + 3 * hb, dob->xpos + 3 * ho, 3) < 1e-6,
                      "hand after reset to y %.1f: (%.5f %.5f %.5f) vs (%.5f %.5f %.5f)",
                      starts[s][1], db->xpos[3 * hb], db->xpos[3 * hb + 1],
                      db->xpos[3 * hb + 2], dob->xpos[3 * ho], dob->xpos[3 * ho + 1],
                      dob->xpos[3 * ho + 2]);
            CHECK(max_abs_diff(db->qpos, dob->qpos, 9) < 1e-6);
            mj_deleteData(db);
            mj_deleteData(dob);
        }
    }
}

// Door at the middle of its placement range: the handle geom frame is
// door + (0.1907, -0.2071, 0) with the same orientation as on the official
// scene (MuJoCo 2.2.2 mesh frame).
static void test_door_handle_frame(void) {
    int i = 3;
    if (!pair_ok(i)) {
        return;
    }
    check_current = pairs[i].name;
    mjModel *models[2] = {pairs[i].builtin, pairs[i].official};
    mjtNum xpos[2][3], xquat[2][4];
    for (int k = 0; k < 2; k++) {
        mjModel *m = models[k];
        int door = mj_name2id(m, mjOBJ_BODY, "door");
        int handle = mj_name2id(m, mjOBJ_GEOM, "handle");
        CHECK(door >= 0);
        CHECK(handle >= 0);
        if (door < 0 || handle < 0) {
            return;
        }
        mjtNum saved[3];
        mju_copy3(saved, m->body_pos + 3 * door);
        m->body_pos[3 * door] = 0.05;
        m->body_pos[3 * door + 1] = 0.9;
        m->body_pos[3 * door + 2] = 0.15;
        mjData *d = mj_makeData(m);
        mj_forward(m, d);
        mju_copy3(xpos[k], d->geom_xpos + 3 * handle);
        mju_mat2Quat(xquat[k], d->geom_xmat + 9 * handle);
        mj_deleteData(d);
        mju_copy3(m->body_pos + 3 * door, saved);
    }
    CHECK_NEAR(0.2407, xpos[0][0], 1e-4);
    CHECK_NEAR(0.6929, xpos[0][1], 1e-4);
    CHECK_NEAR(0.15, xpos[0][2], 1e-4);
    CHECK(max_abs_diff(xpos[0], xpos[1], 3) < 1e-6);
    CHECK(quat_distance(xquat[0], xquat[1]) < 1e-5);
}

// One leg of a scripted motion: move the mocap toward p at up to 1 cm per
// control step (5 substeps) for `steps` steps, with the gripper control.
typedef struct Waypoint {
    double p[3];
    double grip;   // +1 closes, -1 opens
    int steps;
} Waypoint;

// Runs the hand reset at `start` and then the waypoints on m, as the task
// code drives the mocap. Writes the hand position (3) and qpos[9..11] (3,
// zeros past nq) to out.
static void run_waypoints(mjModel *m, const double *start, const Waypoint *legs, int n_legs,
                          double *out) {
    mjData *d = simulate(m, start, 250);
    double mocap[3] = {start[0], start[1], start[2]};
    for (int i = 0; i < n_legs; i++) {
        for (int k = 0; k < legs[i].steps; k++) {
            for (int a = 0; a < 3; a++) {
                double delta = legs[i].p[a] - mocap[a];
                delta = delta > 0.01 ? 0.01 : (delta < -0.01 ? -0.01 : delta);
                mocap[a] += delta;
                d->mocap_pos[a] = mocap[a];
            }
            d->ctrl[0] = legs[i].grip;
            d->ctrl[1] = -legs[i].grip;
            for (int s = 0; s < 5; s++) {
                mj_step(m, d);
            }
        }
    }
    mj_forward(m, d);
    int hand = mj_name2id(m, mjOBJ_BODY, "hand");
    for (int a = 0; a < 3; a++) {
        out[a] = d->xpos[3 * hand + a];
        out[3 + a] = 9 + a < m->nq ? d->qpos[9 + a] : 0;
    }
    mj_deleteData(d);
}

// Scripted motions that press the gripper base against the drawer, the
// window frame and the peg end where they end on the official scene, to
// within 2 mm. The stand-in hull is within 1.8 mm of the official one.
static void test_gripper_contacts_like_official(void) {
    const double near[3] = {0, 0.6, 0.2}, far[3] = {0, 0.4, 0.2};
    const Waypoint drawer[] = {
        {{0, 0.70, 0.25}, -1, 40}, {{0, 0.70, 0.06}, -1, 40}, {{0, 0.5, 0.06}, -1, 60}};
    const Waypoint window[] = {{{-0.15, 0.62, 0.25}, -1, 40},
                               {{-0.15, 0.62, 0.2}, -1, 30},
                               {{-0.15, 0.68, 0.2}, -1, 20},
                               {{0.15, 0.68, 0.2}, -1, 60}};
    const Waypoint peg[] = {{{0.03, 0.6, 0.1}, -1, 40},
                            {{0.03, 0.6, 0.04}, -1, 30},
                            {{0.03, 0.6, 0.04}, 1, 30},
                            {{-0.2, 0.6, 0.15}, 1, 60}};
    const struct {
        int scene;
        const double *start;
        const Waypoint *legs;
        int n_legs;
    } cases[] = {{4, near, drawer, 3}, {7, far, window, 4}, {6, near, peg, 4}};
    for (int c = 0; c < (int)(sizeof cases / sizeof cases[0]); c++) {
        int i = cases[c].scene;
        if (!pair_ok(i)) {
            continue;
        }
        check_current = pairs[i].name;
        double b[6], o[6];
        run_waypoints(pairs[i].builtin, cases[c].start, cases[c].legs, cases[c].n_legs, b);
        run_waypoints(pairs[i].official, cases[c].start, cases[c].legs, cases[c].n_legs, o);
        for (int a = 0; a < 6; a++) {
            CHECK_MSG(fabs(b[a] - o[a]) < 2e-3, "%s[%d] %.5f vs %.5f",
                      a < 3 ? "hand" : "object qpos", a % 3, b[a], o[a]);
        }
    }
}

int main(void) {
    RUN_TEST(test_loader_lists_eight_files);
    RUN_TEST(test_loader_accepts_directory_prefix);
    RUN_TEST(test_loader_rejects_unknown_names);

    load_pairs();
    RUN_TEST(test_sizes_match_official);
    RUN_TEST(test_options_match_official);
    RUN_TEST(test_bodies_match_official);
    RUN_TEST(test_joints_match_official);
    RUN_TEST(test_actuators_and_weld_match);
    RUN_TEST(test_sites_match_official);
    RUN_TEST(test_named_geoms_match_official);
    RUN_TEST(test_contact_geoms_match_official);
    RUN_TEST(test_objects_rest_like_official);
    RUN_TEST(test_hand_reset_like_official);
    RUN_TEST(test_door_handle_frame);
    RUN_TEST(test_gripper_contacts_like_official);
    free_pairs();
    return check_summary();
}
