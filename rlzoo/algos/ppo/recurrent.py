"""PPO with an LSTM policy (sb3-contrib ``RecurrentPPO``): what ``algo=ppo2 algo.policy=lstm`` builds."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.type_aliases import GymEnv

from rlzoo.base import AlgoType, ToolboxAlgorithm, learning_rate_schedule, resolve_policy


class RecurrentPPO2(ToolboxAlgorithm, RecurrentPPO):
    """Recurrent PPO with the PPO2 hyperparameters; the LSTM state is kept across :meth:`get_action` calls.

    The parameters are those of :class:`rlzoo.algos.PPO2` (``policy="lstm"`` picks the LSTM policy matching the
    observations: ``CnnLstmPolicy`` for images, ``MlpLstmPolicy`` otherwise).
    """

    algo_type: ClassVar[AlgoType] = AlgoType.RL

    def __init__(
        self,
        policy: Any = "lstm",
        env: GymEnv | None = None,
        n_steps: int = 128,
        n_minibatches: int = 4,
        n_epochs: int = 4,
        learning_rate: float = 2.5e-4,
        lr_schedule: str = "linear",
        ent_coef: float = 0.01,
        vf_coef: float = 0.5,
        max_grad_norm: float = 0.5,
        gamma: float = 0.99,
        gae_lambda: float = 0.95,
        clip_range: float = 0.2,
        policy_kwargs: dict[str, Any] | None = None,
        seed: int | None = None,
        device: str = "auto",
        verbose: int = 0,
        _init_setup_model: bool = True,
    ) -> None:
        if policy == "lstm":
            policy = resolve_policy("auto", env.observation_space).replace("Policy", "LstmPolicy")
        n_envs = env.num_envs if env is not None else 1
        self.n_minibatches = n_minibatches
        self.lr_schedule_name = lr_schedule  # SB3 keeps its schedule function in self.lr_schedule
        super().__init__(
            policy=policy, env=env, learning_rate=learning_rate_schedule(learning_rate, lr_schedule), n_steps=n_steps,
            batch_size=max(1, n_steps * n_envs // n_minibatches), n_epochs=n_epochs, gamma=gamma,
            gae_lambda=gae_lambda, clip_range=clip_range, ent_coef=ent_coef, vf_coef=vf_coef,
            max_grad_norm=max_grad_norm, policy_kwargs=policy_kwargs, seed=seed, device=device, verbose=verbose,
            _init_setup_model=_init_setup_model,
        )
        self._replay_state: Any = None
        self._replay_starts: np.ndarray | None = None

    def get_action(self, observation: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Actions for a batch of observations; the LSTM state carries over between calls of one replay."""
        n = observation.shape[0]
        if self._replay_starts is None or len(self._replay_starts) != n:
            self._replay_state, self._replay_starts = None, np.ones(n, dtype=bool)
        action, self._replay_state = self.predict(observation, state=self._replay_state,
                                                  episode_start=self._replay_starts, deterministic=deterministic)
        self._replay_starts = np.zeros(n, dtype=bool)
        return action

    def episode_ended(self, dones: np.ndarray) -> None:
        """Tell the replay which envs start a new episode at the next :meth:`get_action`."""
        if self._replay_starts is not None:
            self._replay_starts = np.asarray(dones, dtype=bool)
