// Scripted controllers for the ten MT10 tasks, written for this project.
//
// Each controller is a stateless function of the observation (hand, gripper
// opening, object pose, goal) that moves the hand through a few waypoints:
// above the object, down to it, grasp or hook, then to the goal. They exist
// to test the tasks (every task must be solvable on the official and the
// built-in scenes) and to demonstrate them in viewers. They are not tuned
// for speed and make no attempt at the reward's shaping.
#ifndef ENVS_SCRIPTED_H
#define ENVS_SCRIPTED_H

// Writes the action (ENV_ACT_DIM) for MT10 task `task` (0..9) from an
// observation obs (at least ENV_OBS_DIM entries). All entries are in [-1, 1].
void env_scripted_action(int task, const double *obs, double *action);

#endif
