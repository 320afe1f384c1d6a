"""PPO with an LSTM policy (sb3-contrib ``RecurrentPPO``): ``algo=ppo2_lstm``."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.type_aliases import GymEnv

from rlzoo.base import AlgoType, ToolboxAlgorithm, learning_rate_schedule


class RecurrentPPO2(ToolboxAlgorithm, RecurrentPPO):
    """Recurrent PPO with the PPO2 hyperparameters; the LSTM state is kept across :meth:`get_action` calls.

    The parameters are those of :class:`rlzoo.algos.PPO2`, except that ``policy="auto"`` picks the LSTM policy
    matching the observations: ``CnnLstmPolicy`` for images, ``MlpLstmPolicy`` otherwise.
    """

    algo_type: ClassVar[AlgoType] = AlgoType.RL
    auto_policies: ClassVar[tuple[str, str]] = ("MlpLstmPolicy", "CnnLstmPolicy")

    def __init__(
        self,
        policy: Any = "auto",
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
        n_envs = env.num_envs if env is not None and hasattr(env, "num_envs") else 1
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

    def get_action_proba(self, observation: np.ndarray) -> np.ndarray:
        """The policy's distribution for the next :meth:`get_action` of a replay (same LSTM state), without
        advancing that state: probabilities (discrete) or means (continuous), ``(n_envs, k)``."""
        import torch as th

        n = observation.shape[0]
        starts = self._replay_starts if self._replay_starts is not None and len(self._replay_starts) == n \
            else np.ones(n, dtype=bool)
        state = self._replay_state
        if state is None:  # a new replay: the zero LSTM state predict() starts with, (n_layers, n_envs, dim)
            zeros = np.concatenate([np.zeros(self.policy.lstm_hidden_state_shape)] * n, axis=1)
            state = (zeros, zeros)
        obs_tensor, _ = self.policy.obs_to_tensor(observation)
        with th.no_grad():
            states = tuple(th.as_tensor(s, dtype=th.float32, device=self.device) for s in state)
            distribution, _ = self.policy.get_distribution(obs_tensor, states,
                                                           th.as_tensor(starts, dtype=th.float32, device=self.device))
        inner = distribution.distribution
        if isinstance(inner, th.distributions.Categorical):
            return inner.probs.cpu().numpy()
        return inner.mean.cpu().numpy()
