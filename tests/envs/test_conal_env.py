"""Tests of scripts/conal_env.py against libconal_env.so and the official scenes.

CTest sets CONAL_LIB (the library), CONAL_ASSETS (the Meta-World asset folder)
and PYTHONPATH (scripts/).
"""

import math
import os
import unittest

import numpy as np

from conal_env import INFO_KEYS, MT10Env, TASKS

ASSETS = os.environ.get("CONAL_ASSETS")


class MT10EnvTest(unittest.TestCase):
    def make(self, task="push-v3", **kwargs):
        env = MT10Env(task, assets=ASSETS, **kwargs)
        self.addCleanup(env.close)
        return env

    def test_tasks_in_mt10_order(self):
        self.assertEqual(len(TASKS), 10)
        self.assertEqual(TASKS[0], "reach-v3")
        self.assertEqual(TASKS[6], "button-press-topdown-v3")
        self.assertEqual(TASKS[9], "window-close-v3")

    def test_reset_returns_obs_and_zero_info(self):
        env = self.make()
        obs, info = env.reset()
        self.assertEqual(obs.shape, (39,))
        self.assertEqual(obs.dtype, np.float64)
        self.assertEqual(sorted(info), sorted(INFO_KEYS))
        self.assertTrue(all(value == 0.0 for value in info.values()))
        np.testing.assert_array_equal(obs[:18], obs[18:36])
        self.assertEqual(env.goal_index, 0)

    def test_step_types_and_values(self):
        env = self.make()
        env.reset(goal=3)
        obs, reward, terminated, truncated, info = env.step([0.1, 0.0, -0.2, 1])
        self.assertEqual(obs.shape, (39,))
        self.assertIsInstance(reward, float)
        self.assertTrue(0.0 <= reward <= 10.0)
        self.assertIs(terminated, False)
        self.assertIs(truncated, False)
        self.assertEqual(info["unscaled_reward"], reward)
        self.assertTrue(all(isinstance(value, float) for value in info.values()))
        # a tuple and a numpy array work too
        env.step((0, 0, 0, 0))
        env.step(np.zeros(4, dtype=np.float32))
        self.assertEqual(env.step_count, 3)

    def test_goals_cycle(self):
        env = self.make("reach-v3", seed=42)
        obs, _ = env.reset()
        self.assertAlmostEqual(obs[36], -0.063319, places=6)
        self.assertEqual(env.goal_index, 0)
        env.reset()
        self.assertEqual(env.goal_index, 1)
        env.reset(goal=49)
        env.reset()
        self.assertEqual(env.goal_index, 0)

    def test_truncation_at_max_steps(self):
        env = self.make(max_steps=3)
        env.reset()
        flags = [env.step([0, 0, 0, 0])[3] for _ in range(3)]
        self.assertEqual(flags, [False, False, True])
        with self.assertRaisesRegex(ValueError, r"push-v3 goal 0 step 4"):
            env.step([0, 0, 0, 0])

    def test_same_seed_same_episode(self):
        runs = []
        for _ in range(2):
            env = self.make("pick-place-v3", seed=5)
            obs, _ = env.reset(goal=7)
            trace = [obs]
            for t in range(40):
                action = [math.sin(0.3 * t), math.cos(0.2 * t), 0.3, 1.0 if t > 20 else -1.0]
                trace.append(env.step(action)[0])
            runs.append(np.array(trace))
        np.testing.assert_array_equal(runs[0], runs[1])

    def test_bad_inputs_raise_value_error(self):
        with self.assertRaisesRegex(ValueError, r"unknown task 'push-v2'"):
            MT10Env("push-v2", assets=ASSETS)
        env = self.make("door-open-v3")
        with self.assertRaisesRegex(ValueError, r"before the first reset"):
            env.step([0, 0, 0, 0])
        with self.assertRaisesRegex(ValueError, r"door-open-v3: goal index 50"):
            env.reset(goal=50)
        with self.assertRaisesRegex(ValueError, r"goal index -1"):
            env.reset(goal=-1)
        with self.assertRaises(ValueError):
            env.reset(goal=1.5)
        env.reset(goal=0)
        with self.assertRaisesRegex(ValueError, r"door-open-v3 goal 0 step 1: action\[1\] = nan"):
            env.step([0, float("nan"), 0, 0])
        with self.assertRaisesRegex(ValueError, r"3 numbers, expected 4"):
            env.step([0, 0, 0])
        with self.assertRaisesRegex(ValueError, r"seed"):
            MT10Env("push-v3", seed=-1, assets=ASSETS)

    def test_missing_assets_folder(self):
        with self.assertRaisesRegex(FileNotFoundError, r"/nonexistent/assets"):
            MT10Env("push-v3", assets="/nonexistent/assets")

    def test_closed_env_raises(self):
        env = MT10Env("reach-v3", assets=ASSETS)
        env.close()
        env.close()
        with self.assertRaisesRegex(ValueError, r"closed"):
            env.reset()


if __name__ == "__main__":
    unittest.main()
