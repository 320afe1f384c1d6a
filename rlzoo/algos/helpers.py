"""Small pieces shared by the toolbox's wrappers of Stable-Baselines3 / sb3-contrib algorithms."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.noise import ActionNoise, NormalActionNoise, OrnsteinUhlenbeckActionNoise
from stable_baselines3.common.vec_env import VecEnv

from rlzoo.base import ToolboxAlgorithm

#: the ``action_noise`` kinds of DDPG and TD3 (the original ``--noise-action``)
ACTION_NOISE_KINDS = ("ou", "normal", "none")


def build_action_noise(kind: str, sigma: float, action_space: spaces.Space | None) -> ActionNoise | None:
    """Exploration noise added to a deterministic actor's actions (DDPG, TD3).

    :param kind: ``ou`` (Ornstein-Uhlenbeck, temporally correlated), ``normal`` (independent Gaussian) or ``none``.
    :param sigma: standard deviation of the noise on each action dimension, in action units (actions are in [-1, 1]).
    :param action_space: the env's ``Box`` action space (None: no env yet, the noise is built later or restored).
    :return: the noise process, with mean 0 and ``sigma * ones(action_dim)``, or None.
    """
    if kind not in ACTION_NOISE_KINDS:
        raise ValueError(f"action_noise={kind!r} is not one of: {', '.join(ACTION_NOISE_KINDS)}.")
    if sigma < 0:
        raise ValueError(f"action_noise_sigma={sigma} must be >= 0 (it is a standard deviation).")
    if kind == "none" or action_space is None:
        return None
    if not isinstance(action_space, spaces.Box):
        raise TypeError(f"action_noise={kind!r} needs a continuous (Box) action space, not {action_space}.")
    n_actions = int(np.prod(action_space.shape))
    mean, std = np.zeros(n_actions), sigma * np.ones(n_actions)
    if kind == "ou":
        return OrnsteinUhlenbeckActionNoise(mean=mean, sigma=std)
    return NormalActionNoise(mean=mean, sigma=std)


class OneEnvAlgorithm(ToolboxAlgorithm):
    """A toolbox algorithm that trains on a single env, whatever ``n_envs`` the run asks for.

    The original toolbox ran its off-policy learners (DQN, DDPG, SAC) and its MPI learners (PPO1, TRPO, one worker)
    on one env; the trainer logs that ``n_envs`` is not used.
    """

    @classmethod
    def make_env(cls, env_factory: Any, n_envs: int) -> VecEnv:
        """One monitored env (rank 0), however many were requested."""
        return env_factory.make(1)
