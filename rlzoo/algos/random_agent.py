"""The random agent: uniform actions on every env, the baseline of the original toolbox's plots."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, PyTorchObs

from rlzoo.base import AlgoType, ToolboxAlgorithm

SelfRandomAgent = TypeVar("SelfRandomAgent", bound="RandomAgent")


class RandomPolicy(BasePolicy):
    """A policy without parameters that samples the action space uniformly (``deterministic`` is ignored).

    It draws from ``action_space.sample()``, whose generator the algorithm seeds.

    :param observation_space: observation space (only its batch size is used).
    :param action_space: the space actions are sampled from.
    """

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space) -> None:
        super().__init__(observation_space, action_space)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {"observation_space": self.observation_space, "action_space": self.action_space}

    def forward(self, obs: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        """Sampled actions ``(batch, *action_shape)`` for a batch of observations."""
        return self._predict(obs, deterministic)

    def _predict(self, observation: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        first = next(iter(observation.values())) if isinstance(observation, dict) else observation
        actions = np.stack([self.action_space.sample() for _ in range(first.shape[0])])
        return th.as_tensor(actions)


class RandomAgent(ToolboxAlgorithm, BaseAlgorithm):
    """Uniformly random actions on all envs for ``total_timesteps`` env steps.

    It learns nothing; the callbacks see every vectorised step (``infos`` included), so a run records episodes,
    checkpoints and ``model.zip`` as any other, and replay works. (The original saved nothing and refused replay.)

    :param policy: ``RandomPolicy``; ``auto``, ``MlpPolicy`` and ``CnnPolicy`` mean the same here.
    :param env: the vectorised env.
    :param stats_window_size: episodes averaged in SB3's rollout logs.
    :param seed: seed of the action sampler, numpy and the env.
    :param device: torch device (nothing runs on it).
    :param verbose: SB3 logging level.
    """

    algo_type: ClassVar[AlgoType] = AlgoType.OTHER
    auto_policies: ClassVar[tuple[str, str]] = ("RandomPolicy", "RandomPolicy")
    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "RandomPolicy": RandomPolicy,
        "MlpPolicy": RandomPolicy,
        "CnnPolicy": RandomPolicy,
    }

    def __init__(
        self,
        policy: str | type[RandomPolicy] = "RandomPolicy",
        env: GymEnv | None = None,
        stats_window_size: int = 100,
        seed: int | None = None,
        device: str = "cpu",
        verbose: int = 0,
        _init_setup_model: bool = True,
    ) -> None:
        super().__init__(
            policy,
            env,
            learning_rate=0.0,  # nothing is learnt
            stats_window_size=stats_window_size,
            verbose=verbose,
            device=device,
            support_multi_env=True,
            seed=seed,
        )
        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        self._setup_lr_schedule()
        self.set_random_seed(self.seed)
        self.policy = self.policy_class(self.observation_space, self.action_space, **self.policy_kwargs)
        self.policy = self.policy.to(self.device)

    def learn(
        self: SelfRandomAgent,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 100,
        tb_log_name: str = "RandomAgent",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfRandomAgent:
        """Step all envs with random actions until ``total_timesteps`` env steps (all envs) are done.

        :param total_timesteps: env steps to run, over all envs.
        :param callback: called after every vectorised step, with ``infos`` in its locals.
        :param log_interval: vectorised steps between SB3 log dumps (verbose >= 1).
        :param tb_log_name: name of the TensorBoard run.
        :param reset_num_timesteps: start counting from 0 (False: continue a loaded model's count).
        :param progress_bar: show a progress bar.
        """
        total_timesteps, callback = self._setup_learn(total_timesteps, callback, reset_num_timesteps, tb_log_name,
                                                      progress_bar)
        callback.on_training_start(locals(), globals())
        assert self.env is not None
        iteration = 0
        while self.num_timesteps < total_timesteps:
            actions, _ = self.predict(self._last_obs)  # type: ignore[arg-type]
            new_obs, rewards, dones, infos = self.env.step(actions)
            self.num_timesteps += self.env.num_envs
            self._update_info_buffer(infos, dones)
            self._last_obs = new_obs  # type: ignore[assignment]
            iteration += 1
            callback.update_locals(locals())
            if not callback.on_step():
                break
            if self.verbose >= 1 and log_interval is not None and iteration % log_interval == 0:
                self.dump_logs()
        callback.on_training_end()
        return self

    def get_action_proba(self, observation: np.ndarray) -> np.ndarray:
        """The uniform distribution it samples from: ``1 / n`` per discrete action, or the centre of the action box
        (the uniform distribution's mean), shape ``(n_envs, k)``."""
        n = len(observation)
        if isinstance(self.action_space, spaces.Discrete):
            return np.full((n, int(self.action_space.n)), 1.0 / int(self.action_space.n))
        centre = (np.asarray(self.action_space.low) + np.asarray(self.action_space.high)) / 2.0
        return np.tile(centre.reshape(1, -1), (n, 1))
