"""Helpers shared by the tests of our own algorithms: a toy identity env and a save/load round trip.

A plain module (not a ``conftest.py``): ``tests/conftest.py`` is imported by name as ``conftest``, which a second
``conftest.py`` here would shadow.
"""

from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import IdentityEnv
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import VecEnv

# tiny networks: one thread is faster than two fighting over a shared CPU
th.set_num_threads(1)

#: episode length of the identity env: a perfect agent scores this much per episode, a random one a quarter of it
IDENTITY_EPISODE_LENGTH = 20


def _assert_nested_equal(left: Any, right: Any) -> None:
    """Assert that two nests of dicts, sequences, tensors and plain values are exactly equal."""
    if isinstance(left, dict):
        assert left.keys() == right.keys()
        for key in left:
            _assert_nested_equal(left[key], right[key])
    elif isinstance(left, (list, tuple)):
        assert len(left) == len(right)
        for a, b in zip(left, right):
            _assert_nested_equal(a, b)
    elif isinstance(left, th.Tensor):
        th.testing.assert_close(left, right, rtol=0, atol=0)
    else:
        assert left == right


def make_identity_env(n_envs: int = 1, seed: int = 0) -> VecEnv:
    """4 states, reward 1 when the action equals the observed state, episodes of ``IDENTITY_EPISODE_LENGTH`` steps."""
    return make_vec_env(lambda: IdentityEnv(4, ep_length=IDENTITY_EPISODE_LENGTH), n_envs=n_envs, seed=seed)


def identity_score(model: BaseAlgorithm) -> float:
    """Mean deterministic return over 10 episodes of a fresh identity env (at most ``IDENTITY_EPISODE_LENGTH``)."""
    mean_reward, _ = evaluate_policy(model, make_identity_env(1, seed=1000), n_eval_episodes=10, deterministic=True)
    return float(mean_reward)


def check_save_load(model: BaseAlgorithm, tmp_path: Path) -> BaseAlgorithm:
    """Save ``model`` to ``tmp_path``, load it with its class's ``load``, and assert that nothing changed.

    Compares all policy parameters and buffers, the optimizer state (K-FAC factors, RMSprop averages, ...) and
    deterministic actions on a batch of observations; then learns a little more with the loaded model.
    """
    env = model.get_env()
    assert env is not None
    model.observation_space.seed(0)
    observations = np.stack([model.observation_space.sample() for _ in range(16)])
    actions, _ = model.predict(observations, deterministic=True)
    path = tmp_path / "model.zip"
    model.save(path)
    loaded = type(model).load(path, env=env, device="cpu")
    assert type(loaded) is type(model)
    _assert_nested_equal(model.policy.state_dict(), loaded.policy.state_dict())
    _assert_nested_equal(model.policy.optimizer.state_dict()["state"], loaded.policy.optimizer.state_dict()["state"])
    loaded_actions, _ = loaded.predict(observations, deterministic=True)
    np.testing.assert_array_equal(actions, loaded_actions)
    loaded.learn(64)
    return loaded
