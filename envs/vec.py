"""Vectorised training environments: seeding, monitor files, action repeat, frame stacking, normalisation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv, VecFrameStack, VecNormalize

import envs  # noqa: F401  (registers the env ids)
from envs.processes import standard_start_method
from envs.wrappers import ActionRepeat

@dataclass
class EnvFactory:
    """Everything needed to build the training env of a run; algorithms call :meth:`make`.

    :param env_id: a registered gymnasium id, e.g. ``MobileRobot-v0``.
    :param env_kwargs: keyword arguments of the env constructor.
    :param seed: env ``rank`` is seeded with ``seed + rank``.
    :param monitor_path: rank -> the monitor CSV of that env worker (None: episodes are counted but not written).
    :param action_repeat: each action is applied this many times (rewards summed).
    :param num_stack: frames stacked along the last axis (1: none).
    :param normalize: running mean/std normalisation of observations (not rewards).
    :param vec_env: ``dummy`` (all envs in this process) or ``subproc`` (one process per env).
    :param monitor_time_offset: seconds already elapsed in the monitors' time column (resume).
    :param encoder: wraps the raw vectorised env before stacking and normalisation (a learned SRL model's batched
        encoder turns the envs' images into states there).
    """

    env_id: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    monitor_path: Callable[[int], Path] | None = None
    action_repeat: int = 1
    num_stack: int = 1
    normalize: bool = True
    vec_env: str = "dummy"
    monitor_time_offset: float = 0.0
    encoder: Callable[[VecEnv], VecEnv] | None = None

    def make_single(self, rank: int = 0, monitor: bool = True, **overrides: Any) -> gym.Env:
        """One env instance, wrapped with action repeat and (optionally) its monitor."""
        env = gym.make(self.env_id, **{**self.env_kwargs, **overrides})
        if self.action_repeat > 1:
            env = ActionRepeat(env, self.action_repeat)
        if monitor:
            filename = None if self.monitor_path is None else str(self.monitor_path(rank))
            exists = filename is not None and Path(filename).exists()
            env = Monitor(env, filename, override_existing=not exists)
            env.t_start -= self.monitor_time_offset
        return env

    def _thunk(self, rank: int) -> Callable[[], gym.Env]:
        return lambda: self.make_single(rank)

    def make(self, n_envs: int) -> VecEnv:
        """``n_envs`` monitored copies, seeded, stacked and normalised as configured."""
        thunks = [self._thunk(rank) for rank in range(n_envs)]
        venv: VecEnv
        if self.vec_env == "subproc" and n_envs > 1:
            with standard_start_method():  # its workers start here (a joblib worker's method is not standard)
                venv = SubprocVecEnv(thunks, start_method="forkserver")
        else:
            venv = DummyVecEnv(thunks)
        venv.seed(self.seed)
        if self.encoder is not None:
            venv = self.encoder(venv)
        if self.num_stack > 1:
            venv = VecFrameStack(venv, self.num_stack)
        if self.normalize:
            venv = VecNormalize(venv, norm_obs=True, norm_reward=False)
        return venv
