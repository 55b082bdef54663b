"""Python access to the conal MT10 environments (numpy + ctypes).

Loads libconal_env.so from the build folder beside this script
(``../build/libconal_env.so``) or from the path in the CONAL_LIB
environment variable, and wraps one C ``EnvTask``::

    from conal_env import MT10Env, TASKS
    env = MT10Env("push-v3", seed=0, assets=None, max_steps=500)
    obs, info = env.reset(goal=None)        # goal 0..49, None = the next one
    obs, reward, terminated, truncated, info = env.step(action)
    env.close()

``seed`` is the benchmark seed: it fixes the 50 goals of every task exactly
as Meta-World v3 does and also seeds the env's own random generator.
``assets`` names a Meta-World asset folder (holding ``sawyer_xyz/``);
None uses the scenes built into the library. Observations are float64
arrays of shape (39,). ``terminated`` is always False, as in Meta-World;
``truncated`` is True at ``max_steps`` and also when MuJoCo raised a
warning during the step (the C library counts those). Invalid actions,
goals and task names and a step after truncation raise ValueError with
the C library's message, which names the task and the step.
"""

import ctypes
import os

import numpy as np

OBS_DIM = 39
ACT_DIM = 4
N_GOALS = 50
INFO_KEYS = ("success", "near_object", "grasp_success", "grasp_reward",
             "in_place_reward", "obj_to_target", "unscaled_reward")

# ErrCode values of common/error.h.
_ERR_IO = -1
_ERR_CONFIG = -3
_ERR_ARG = -5
# ENV_GOAL_NEXT of envs/env.h.
_GOAL_NEXT = -1


_ASSETS_CAP = 1024  # EnvConfig.assets of envs/env.h, terminating zero included


class _EnvConfig(ctypes.Structure):
    _fields_ = [("assets", ctypes.c_char * _ASSETS_CAP),
                ("max_steps", ctypes.c_int),
                ("seed", ctypes.c_uint64),
                ("torquescale", ctypes.c_double),
                ("one_hot", ctypes.c_int)]


class _EnvInfo(ctypes.Structure):
    _fields_ = [(key, ctypes.c_double) for key in INFO_KEYS]


def _library_path():
    path = os.environ.get("CONAL_LIB")
    if path:
        return path
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, os.pardir, "build", "libconal_env.so"))


def _load_library():
    path = _library_path()
    if not os.path.exists(path):
        raise OSError(f"conal_env: {path} not found; build the project "
                      "(cmake --build build) or set CONAL_LIB to libconal_env.so")
    lib = ctypes.CDLL(path)
    dptr = ctypes.POINTER(ctypes.c_double)
    lib.env_config_defaults.argtypes = [ctypes.POINTER(_EnvConfig)]
    lib.env_config_defaults.restype = None
    lib.env_task_name.argtypes = [ctypes.c_int]
    lib.env_task_name.restype = ctypes.c_char_p
    lib.env_create.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p,
                               ctypes.POINTER(_EnvConfig), ctypes.c_char_p, ctypes.c_size_t]
    lib.env_create.restype = ctypes.c_int
    lib.env_destroy.argtypes = [ctypes.c_void_p]
    lib.env_destroy.restype = None
    lib.env_reset.argtypes = [ctypes.c_void_p, ctypes.c_int, dptr, ctypes.c_char_p,
                              ctypes.c_size_t]
    lib.env_reset.restype = ctypes.c_int
    lib.env_step.argtypes = [ctypes.c_void_p, dptr, dptr, dptr, ctypes.POINTER(ctypes.c_int),
                             ctypes.POINTER(_EnvInfo), ctypes.c_char_p, ctypes.c_size_t]
    lib.env_step.restype = ctypes.c_int
    for name in ("env_obs_dim", "env_goal_index", "env_step_count", "env_max_steps"):
        getattr(lib, name).argtypes = [ctypes.c_void_p]
        getattr(lib, name).restype = ctypes.c_int
    lib.env_warning_count.argtypes = [ctypes.c_void_p]
    lib.env_warning_count.restype = ctypes.c_long
    return lib


_lib = _load_library()
TASKS = tuple(_lib.env_task_name(i).decode() for i in range(10))


def _error(code, message):
    """Maps a C error code to the Python exception callers expect."""
    text = message.value.decode(errors="replace")
    if code in (_ERR_ARG, _ERR_CONFIG):
        return ValueError(text)
    if code == _ERR_IO:
        return FileNotFoundError(text)
    return RuntimeError(text)


class MT10Env:
    """One MT10 task; see the module docstring for the contract."""

    def __init__(self, task, seed=0, assets=None, max_steps=500):
        cfg = _EnvConfig()
        _lib.env_config_defaults(ctypes.byref(cfg))
        if assets is not None:
            encoded = os.fsencode(assets)
            if len(encoded) >= _ASSETS_CAP:
                raise ValueError(f"MT10Env: assets path longer than {_ASSETS_CAP - 1} "
                                 f"bytes: {assets!r}")
            cfg.assets = encoded
        if not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
            raise ValueError(f"MT10Env: seed {seed!r} must be an integer in [0, 2^32)")
        cfg.seed = int(seed)
        if not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
            raise ValueError(f"MT10Env: max_steps {max_steps!r} must be a positive integer")
        cfg.max_steps = int(max_steps)
        self._err = ctypes.create_string_buffer(2048)
        self._env = ctypes.c_void_p()
        rc = _lib.env_create(ctypes.byref(self._env), str(task).encode(), ctypes.byref(cfg),
                             self._err, len(self._err))
        if rc != 0:
            self._env = None
            raise _error(rc, self._err)
        self.task = str(task)
        self._obs = np.zeros(_lib.env_obs_dim(self._env), dtype=np.float64)
        self._action = np.zeros(ACT_DIM, dtype=np.float64)
        self._reward = ctypes.c_double()
        self._truncated = ctypes.c_int()
        self._info = _EnvInfo()

    def _handle(self):
        if self._env is None:
            raise ValueError(f"MT10Env {self.task}: the env is closed")
        return self._env

    def _obs_ptr(self):
        return self._obs.ctypes.data_as(ctypes.POINTER(ctypes.c_double))

    def reset(self, goal=None):
        """Starts an episode on goal 0..49 (None: the goal after the last one)."""
        env = self._handle()
        if goal is None:
            index = _GOAL_NEXT
        elif isinstance(goal, (int, np.integer)) and not isinstance(goal, bool):
            index = int(goal)
            if not 0 <= index < N_GOALS:
                raise ValueError(f"MT10Env {self.task}: goal index {goal} out of range "
                                 f"0..{N_GOALS - 1}")
        else:
            raise ValueError(f"MT10Env {self.task}: goal must be an integer 0..49 or None, "
                             f"got {goal!r}")
        rc = _lib.env_reset(env, index, self._obs_ptr(), self._err, len(self._err))
        if rc != 0:
            raise _error(rc, self._err)
        return self._obs.copy(), {key: 0.0 for key in INFO_KEYS}

    def step(self, action):
        """Applies a 4-number action; returns obs, reward, terminated, truncated, info."""
        env = self._handle()
        try:
            values = np.asarray(action, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"MT10Env {self.task} step {self.step_count + 1}: action "
                             f"is not an array of numbers: {exc}") from exc
        if values.shape != (ACT_DIM,):
            raise ValueError(f"MT10Env {self.task} step {self.step_count + 1}: action has "
                             f"{values.size} numbers, expected {ACT_DIM}")
        self._action[:] = values
        rc = _lib.env_step(env, self._action.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
                           self._obs_ptr(), ctypes.byref(self._reward),
                           ctypes.byref(self._truncated), ctypes.byref(self._info),
                           self._err, len(self._err))
        if rc != 0:
            raise _error(rc, self._err)
        info = {key: float(getattr(self._info, key)) for key in INFO_KEYS}
        return (self._obs.copy(), float(self._reward.value), False,
                bool(self._truncated.value), info)

    @property
    def goal_index(self):
        """Goal of the current episode, -1 before the first reset."""
        return _lib.env_goal_index(self._handle())

    @property
    def step_count(self):
        """Steps taken in the current episode."""
        return _lib.env_step_count(self._handle())

    @property
    def warning_count(self):
        """MuJoCo warnings seen over the env's life."""
        return _lib.env_warning_count(self._handle())

    def close(self):
        """Frees the C env; later calls raise ValueError. Closing twice is allowed."""
        if getattr(self, "_env", None) is not None:
            _lib.env_destroy(self._env)
            self._env = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


__all__ = ["MT10Env", "TASKS", "OBS_DIM", "ACT_DIM", "N_GOALS", "INFO_KEYS"]
