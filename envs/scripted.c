// Waypoint controllers for the MT10 tasks. The hand follows a proportional
// law toward a waypoint; the waypoint is chosen from the observation alone.
#include "envs/scripted.h"

#include <math.h>

#include "common/error.h"
#include "envs/env.h"

// The TCP (between the fingertips) sits this far below the hand body when
// the hand points down.
#define TCP_BELOW_HAND 0.045
#define GAIN 10.0               // action per metre of waypoint error
#define GRIP_OPEN (-1.0)
#define GRIP_CLOSE 1.0

// Observation views.
typedef struct Obs {
    const double *hand;          // (3)
    double tcp[3];               // estimated from the hand
    double opening;              // 1 open, about 0.3 closed on nothing
    const double *obj;           // (3)
    const double *goal;          // (3)
} Obs;

static Obs view(const double *obs) {
    Obs o;
    o.hand = obs;
    o.tcp[0] = obs[0];
    o.tcp[1] = obs[1];
    o.tcp[2] = obs[2] - TCP_BELOW_HAND;
    o.opening = obs[3];
    o.obj = obs + 4;
    o.goal = obs + 36;
    return o;
}

static double clip1(double x) {
    return x < -1.0 ? -1.0 : (x > 1.0 ? 1.0 : x);
}

// Moves the TCP toward (x, y, z) with gain g; grip sets the gripper.
static void move_tcp(const Obs *o, double x, double y, double z, double g, double grip,
                     double *action) {
    action[0] = clip1(g * (x - o->tcp[0]));
    action[1] = clip1(g * (y - o->tcp[1]));
    action[2] = clip1(g * (z - o->tcp[2]));
    action[3] = grip;
}

static double dist_xy(const double *a, const double *b) {
    return hypot(a[0] - b[0], a[1] - b[1]);
}

// ---- reach ----

// TCP straight to the goal.
static void act_reach(const Obs *o, double *action) {
    move_tcp(o, o->goal[0], o->goal[1], o->goal[2], GAIN, 0.0, action);
}

// ---- push and pick-place ----

// Above the puck, down around it, close; once closed, carry it so that the
// puck (not the hand) moves toward `dest`.
static void act_puck(const Obs *o, const double *dest, double *action) {
    double xy = dist_xy(o->tcp, o->obj);
    double dz = o->tcp[2] - o->obj[2];
    if (xy > 0.02 && o->opening > 0.8) {
        double z = xy > 0.04 ? o->obj[2] + 0.1 : o->tcp[2];
        move_tcp(o, o->obj[0], o->obj[1], z, GAIN, GRIP_OPEN, action);
    } else if (dz > 0.01 && o->opening > 0.8) {
        move_tcp(o, o->obj[0], o->obj[1], o->obj[2], GAIN, GRIP_OPEN, action);
    } else if (o->opening > 0.6) {
        move_tcp(o, o->obj[0], o->obj[1], o->obj[2], GAIN, GRIP_CLOSE, action);
    } else if (xy > 0.04) {
        // lost the puck: open, which sends the next steps back to the approach
        move_tcp(o, o->tcp[0], o->tcp[1], o->tcp[2] + 0.05, GAIN, GRIP_OPEN, action);
    } else {
        double dx = dest[0] - o->obj[0], dy = dest[1] - o->obj[1], dz2 = dest[2] - o->obj[2];
        move_tcp(o, o->tcp[0] + dx, o->tcp[1] + dy, o->tcp[2] + dz2, GAIN, GRIP_CLOSE, action);
    }
}

static void act_push(const Obs *o, double *action) {
    double dest[3] = {o->goal[0], o->goal[1], o->obj[2]};
    act_puck(o, dest, action);
}

static void act_pick_place(const Obs *o, double *action) {
    act_puck(o, o->goal, action);
}

// ---- door-open ----

// Fingers straddle the handle bar, then push it toward -x, which turns the
// door open at any angle reached here.
static void act_door(const Obs *o, double *action) {
    double h[3] = {o->obj[0] + 0.06, o->obj[1] + 0.0, o->obj[2]};
    double xy = dist_xy(o->tcp, h);
    if (xy > 0.03 && o->tcp[2] < h[2] + 0.06 && dist_xy(o->tcp, o->obj) > 0.1) {
        move_tcp(o, o->tcp[0], o->tcp[1], h[2] + 0.1, GAIN, GRIP_OPEN, action);
    } else if (xy > 0.03 && dist_xy(o->tcp, o->obj) > 0.1) {
        move_tcp(o, h[0], h[1], h[2] + 0.1, GAIN, GRIP_OPEN, action);
    } else if (o->tcp[2] > h[2] + 0.02) {
        move_tcp(o, h[0], h[1], h[2], GAIN, GRIP_OPEN, action);
    } else {
        move_tcp(o, o->obj[0] - 0.1, o->obj[1] - 0.05, o->obj[2], GAIN, GRIP_CLOSE, action);
    }
}

// ---- drawer ----

// Grasp the handle bar from above and pull toward -y past the goal.
static void act_drawer_open(const Obs *o, double *action) {
    double bar[3] = {o->obj[0], o->obj[1] + 0.01, o->obj[2]};
    double xy = dist_xy(o->tcp, bar);
    if (xy > 0.015) {
        double z = xy > 0.04 ? bar[2] + 0.12 : o->tcp[2];
        move_tcp(o, bar[0], bar[1], z, GAIN, GRIP_OPEN, action);
    } else if (o->tcp[2] > bar[2] + 0.01 && o->opening > 0.8) {
        move_tcp(o, bar[0], bar[1], bar[2], GAIN, GRIP_OPEN, action);
    } else if (o->opening > 0.7) {
        move_tcp(o, bar[0], bar[1], bar[2], GAIN, GRIP_CLOSE, action);
    } else {
        move_tcp(o, bar[0], o->goal[1] - 0.1, bar[2], GAIN, GRIP_CLOSE, action);
    }
}

// Closed fingers go down in front of the handle and push toward +y.
static void act_drawer_close(const Obs *o, double *action) {
    double face[3] = {o->obj[0], o->obj[1] - 0.06, o->obj[2] - 0.05};
    if (o->tcp[1] > face[1] + 0.02 && o->tcp[2] < face[2] + 0.08) {
        move_tcp(o, o->tcp[0], face[1], face[2] + 0.12, GAIN, GRIP_CLOSE, action);
    } else if (dist_xy(o->tcp, face) > 0.02 && o->tcp[2] > face[2] + 0.03) {
        move_tcp(o, face[0], face[1], face[2] + 0.12, GAIN, GRIP_CLOSE, action);
    } else if (o->tcp[2] > face[2] + 0.01) {
        move_tcp(o, face[0], face[1], face[2], GAIN, GRIP_CLOSE, action);
    } else {
        move_tcp(o, face[0], o->goal[1] + 0.1, face[2], GAIN, GRIP_CLOSE, action);
    }
}

// ---- button-press-topdown ----

// Rise above the button, then press down with closed fingers. Far out in y
// the arm lags its target by about 1 cm, hence the loose alignment test,
// which is looser still once the fingers are down at the button.
static void act_button(const Obs *o, double *action) {
    double xy = dist_xy(o->tcp, o->obj);
    int pressing = o->tcp[2] < o->obj[2] + 0.02;
    if (xy > (pressing ? 0.03 : 0.015)) {
        move_tcp(o, o->obj[0], o->obj[1], o->obj[2] + 0.04, GAIN, GRIP_CLOSE, action);
    } else {
        move_tcp(o, o->obj[0], o->obj[1], o->obj[2] - 0.2, GAIN, GRIP_CLOSE, action);
    }
}

// ---- peg-insert-side ----

// Grasp the peg, lift it, line its grasp point up with the hole at a
// distance, then slide it in along -x. The head is 0.13 m toward -x and
// 0.01 m below the grasp point. The peg is as wide as the closed gripper,
// so the opening cannot tell a grasp; the grasp-point distance does.
static void act_peg(const Obs *o, double *action) {
    double xy = dist_xy(o->tcp, o->obj);
    double dz = o->tcp[2] - o->obj[2];
    if (o->opening > 0.8 && xy > 0.015) {
        double z = xy > 0.04 ? o->obj[2] + 0.1 : o->tcp[2];
        move_tcp(o, o->obj[0], o->obj[1], z, GAIN, GRIP_OPEN, action);
    } else if (o->opening > 0.8 && dz > -0.005) {
        // the TCP is at the fingertips: go 1.5 cm below the grasp site
        move_tcp(o, o->obj[0], o->obj[1], o->obj[2] - 0.015, GAIN, GRIP_OPEN, action);
    } else if (o->opening > 0.4 && xy < 0.04) {
        move_tcp(o, o->obj[0], o->obj[1], o->obj[2] - 0.015, GAIN, GRIP_CLOSE, action);
    } else if (xy > 0.04 || dz > 0.04) {
        move_tcp(o, o->tcp[0], o->tcp[1], o->tcp[2] + 0.05, GAIN, GRIP_OPEN, action);
    } else {
        // grasp-point destination: in line with the hole, then inside it
        double dest[3] = {o->goal[0] + 0.13, o->goal[1], o->goal[2] + 0.01};
        double off = hypot(o->obj[1] - dest[1], o->obj[2] - dest[2]);
        dest[0] += off > 0.01 ? 0.15 : -0.05;
        double dx = dest[0] - o->obj[0], dy = dest[1] - o->obj[1], dz2 = dest[2] - o->obj[2];
        move_tcp(o, o->tcp[0] + dx, o->tcp[1] + dy, o->tcp[2] + dz2, GAIN, GRIP_CLOSE,
                 action);
        // carry slowly so the peg does not slip in the grasp
        for (int i = 0; i < 3; i++) {
            action[i] *= 0.5;
        }
    }
}

// ---- window ----

// Closed fingers beside the handle bar (at the handle start site), reached
// from the robot's side, then slide the sash along x by `push` metres past
// the site.
static void act_window(const Obs *o, double push, double *action) {
    const double *s = o->obj;
    int aligned = fabs(o->tcp[0] - s[0]) < 0.015 && fabs(o->tcp[2] - s[2]) < 0.02;
    if (!aligned) {
        move_tcp(o, s[0], s[1] - 0.08, s[2], GAIN, GRIP_CLOSE, action);
    } else if (o->tcp[1] < s[1] - 0.01) {
        move_tcp(o, s[0], s[1], s[2], GAIN, GRIP_CLOSE, action);
    } else {
        move_tcp(o, s[0] + push, s[1], s[2], GAIN, GRIP_CLOSE, action);
    }
}

static void act_window_open(const Obs *o, double *action) {
    act_window(o, 0.1, action);
}

static void act_window_close(const Obs *o, double *action) {
    act_window(o, -0.1, action);
}

void env_scripted_action(int task, const double *obs, double *action) {
    Obs o = view(obs);
    switch (task) {
    case 0: act_reach(&o, action); break;
    case 1: act_push(&o, action); break;
    case 2: act_pick_place(&o, action); break;
    case 3: act_door(&o, action); break;
    case 4: act_drawer_open(&o, action); break;
    case 5: act_drawer_close(&o, action); break;
    case 6: act_button(&o, action); break;
    case 7: act_peg(&o, action); break;
    case 8: act_window_open(&o, action); break;
    case 9: act_window_close(&o, action); break;
    default: ASSERT(0, "task index %d outside 0..%d", task, ENV_N_TASKS - 1);
    }
}
