"""DeepQ: SB3's DQN with the double, dueling and prioritized-replay options of stable-baselines 2's ``deepq``."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch as th
from stable_baselines3 import DQN
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, Schedule
from torch.nn import functional as F

from rlzoo.algos.deepq.policies import CnnPolicy, DeepQPolicy, MlpPolicy
from rlzoo.base import ActionType, AlgoType, ToolboxAlgorithm
from rlzoo.common.buffers import PrioritizedReplayBuffer


class DeepQ(ToolboxAlgorithm, DQN):
    """Deep Q-Network with double Q-learning, dueling networks and proportional prioritized replay as options.

    Papers: DQN https://www.nature.com/articles/nature14236, double DQN https://arxiv.org/abs/1509.06461, dueling
    networks https://arxiv.org/abs/1511.06581, prioritized replay https://arxiv.org/abs/1511.05952.
    Each option is a component of SB3's DQN rather than a fork: ``double`` changes the target in :meth:`train`,
    ``dueling`` is passed to :class:`~rlzoo.algos.deepq.policies.DeepQPolicy` through ``policy_kwargs``, and
    ``prioritized`` selects :class:`~rlzoo.common.buffers.PrioritizedReplayBuffer` as ``replay_buffer_class``;
    the loss is weighted by importance weights and priorities are updated whenever that buffer is in use.

    Defaults are the original toolbox's ``deepq`` (stable-baselines 2 DQN with ``buffer_size`` 1000,
    ``learning_starts`` 500, ``target_network_update_freq`` 500, ``exploration_final_eps`` 0.01), where double Q,
    dueling and prioritized replay were all on. The Huber loss, Adam and gradient clipping at 10 are also
    stable-baselines 2's.

    :param policy: ``auto`` (CnnPolicy for images, MlpPolicy otherwise), an alias or a policy class (only
        :class:`DeepQPolicy` subclasses can be dueling).
    :param env: the training env (or None when loading).
    :param learning_rate: Adam learning rate (float or function of progress remaining, 1 to 0).
    :param buffer_size: replay capacity in transitions.
    :param learning_starts: transitions collected with the initial epsilon-greedy policy before learning starts.
    :param batch_size: transitions per gradient step.
    :param gamma: discount factor.
    :param train_freq: env steps (per env) between updates, or ``(n, "step" | "episode")``.
    :param gradient_steps: gradient steps per update (-1: as many as env steps collected).
    :param target_update_interval: env steps between copies of the online network to the target network (the
        original's ``target_network_update_freq``).
    :param tau: target update coefficient (1: hard copy).
    :param exploration_fraction: fraction of training over which epsilon decays linearly.
    :param exploration_initial_eps: epsilon at the start of training.
    :param exploration_final_eps: epsilon after ``exploration_fraction`` of training.
    :param max_grad_norm: global L2 norm the gradient is clipped to.
    :param double: double Q-learning target: the online network picks the next action, the target network values it.
    :param dueling: dueling Q-networks (value and advantage streams).
    :param prioritized: proportional prioritized replay.
    :param prioritized_replay_alpha: prioritization exponent ``alpha`` (0: uniform).
    :param prioritized_replay_beta0: importance-sampling exponent ``beta`` at the start, annealed linearly to 1.
    :param prioritized_replay_beta_iters: env steps over which ``beta`` reaches 1 (None: the whole ``learn`` call).
    :param prioritized_replay_eps: added to absolute TD errors to form priorities.
    :param policy_kwargs: extra arguments of the policy (``net_arch``, ...); ``dueling`` is set from ``dueling``.
    :param stats_window_size: episodes averaged in the ``rollout/`` logs.
    :param tensorboard_log: tensorboard log folder (None: no tensorboard).
    :param seed: seed of torch, numpy and the env.
    :param device: torch device (``cpu``, ``cuda``, ``auto``).
    :param verbose: 0 silent, 1 info, 2 debug.
    :param _init_setup_model: build the networks now (False when ``load`` rebuilds the model).
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {"MlpPolicy": MlpPolicy, "CnnPolicy": CnnPolicy}
    algo_type: ClassVar[AlgoType] = AlgoType.RL
    action_types: ClassVar[tuple[ActionType, ...]] = (ActionType.DISCRETE,)

    def __init__(
        self,
        policy: str | type[BasePolicy] = "auto",
        env: GymEnv | None = None,
        learning_rate: float | Schedule = 1e-4,
        buffer_size: int = 1000,
        learning_starts: int = 500,
        batch_size: int = 32,
        gamma: float = 0.99,
        train_freq: int | tuple[int, str] = 4,
        gradient_steps: int = 1,
        target_update_interval: int = 500,
        tau: float = 1.0,
        exploration_fraction: float = 0.1,
        exploration_initial_eps: float = 1.0,
        exploration_final_eps: float = 0.01,
        max_grad_norm: float = 10.0,
        double: bool = True,
        dueling: bool = True,
        prioritized: bool = True,
        prioritized_replay_alpha: float = 0.6,
        prioritized_replay_beta0: float = 0.4,
        prioritized_replay_beta_iters: int | None = None,
        prioritized_replay_eps: float = 1e-6,
        policy_kwargs: dict[str, Any] | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        seed: int | None = None,
        device: th.device | str = "auto",
        verbose: int = 0,
        _init_setup_model: bool = True,
    ) -> None:
        if not 0.0 <= prioritized_replay_beta0 <= 1.0:
            raise ValueError(f"prioritized_replay_beta0={prioritized_replay_beta0} must lie in [0, 1].")
        if prioritized_replay_beta_iters is not None and prioritized_replay_beta_iters < 1:
            raise ValueError(f"prioritized_replay_beta_iters={prioritized_replay_beta_iters} must be >= 1, or None.")
        policy_class = self.policy_aliases.get(policy, policy) if isinstance(policy, str) else policy
        policy_kwargs = dict(policy_kwargs or {})
        if isinstance(policy_class, type) and issubclass(policy_class, DeepQPolicy):
            if policy_kwargs.get("dueling", dueling) != dueling:
                raise ValueError(
                    f"policy_kwargs['dueling']={policy_kwargs['dueling']} contradicts dueling={dueling}; set only dueling."
                )
            policy_kwargs["dueling"] = dueling
        elif dueling and _init_setup_model:  # (``load`` passes defaults, then restores the saved attributes)
            raise ValueError(f"dueling=True needs a DeepQPolicy (MlpPolicy or CnnPolicy), not {policy!r}.")
        super().__init__(
            policy,  # type: ignore[arg-type]
            env,  # type: ignore[arg-type]
            learning_rate=learning_rate,
            buffer_size=buffer_size,
            learning_starts=learning_starts,
            batch_size=batch_size,
            tau=tau,
            gamma=gamma,
            train_freq=train_freq,
            gradient_steps=gradient_steps,
            replay_buffer_class=PrioritizedReplayBuffer if prioritized else None,
            replay_buffer_kwargs=dict(alpha=prioritized_replay_alpha, epsilon=prioritized_replay_eps) if prioritized else None,
            optimize_memory_usage=False,
            n_steps=1,
            target_update_interval=target_update_interval,
            exploration_fraction=exploration_fraction,
            exploration_initial_eps=exploration_initial_eps,
            exploration_final_eps=exploration_final_eps,
            max_grad_norm=max_grad_norm,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            policy_kwargs=policy_kwargs,
            verbose=verbose,
            seed=seed,
            device=device,
            _init_setup_model=_init_setup_model,
        )
        self.double = double
        self.dueling = dueling
        self.prioritized = prioritized
        self.prioritized_replay_beta0 = prioritized_replay_beta0
        self.prioritized_replay_beta_iters = prioritized_replay_beta_iters

    def prioritized_replay_beta(self) -> float:
        """Current importance-sampling exponent, linear from ``prioritized_replay_beta0`` to 1."""
        if self.prioritized_replay_beta_iters is None:
            fraction = 1.0 - self._current_progress_remaining
        else:
            fraction = min(1.0, self.num_timesteps / self.prioritized_replay_beta_iters)
        return self.prioritized_replay_beta0 + fraction * (1.0 - self.prioritized_replay_beta0)

    def next_state_values(self, next_observations: th.Tensor) -> th.Tensor:
        """Bootstrap values ``Q_target(x', a*)`` of the TD target, shape ``(B, 1)``.

        DQN: ``a* = argmax_a Q_target(x', a)``. Double DQN (van Hasselt et al. 2016, eq. (4)): ``a*`` is the online
        network's greedy action ``argmax_a Q_online(x', a)``, valued by the target network.
        """
        with th.no_grad():
            next_q_target = self.q_net_target(next_observations)
            if self.double:
                next_actions = self.q_net(next_observations).argmax(dim=1, keepdim=True)
                return next_q_target.gather(1, next_actions)
            return next_q_target.max(dim=1, keepdim=True).values

    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        """``gradient_steps`` Huber TD steps; with prioritized replay, weighted by importance and re-prioritised."""
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        prioritized = isinstance(self.replay_buffer, PrioritizedReplayBuffer)
        beta = self.prioritized_replay_beta()

        losses = []
        for _ in range(gradient_steps):
            if prioritized:
                replay_data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env, beta=beta)  # type: ignore
            else:
                replay_data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)  # type: ignore
            discounts = replay_data.discounts if replay_data.discounts is not None else self.gamma
            # TD target r + gamma * Q_target(x', a*) on non-terminal transitions, (B, 1)
            target_q_values = replay_data.rewards + (1 - replay_data.dones) * discounts * self.next_state_values(
                replay_data.next_observations
            )
            current_q_values = th.gather(self.q_net(replay_data.observations), dim=1, index=replay_data.actions.long())
            elementwise_loss = F.smooth_l1_loss(current_q_values, target_q_values, reduction="none")
            if prioritized:
                # importance-sampling correction (Schaul et al. 2015, Algorithm 1), then p_i <- |delta_i| + eps
                loss = (replay_data.weights * elementwise_loss).mean()
                td_errors = (target_q_values - current_q_values).detach().cpu().numpy().reshape(-1)
                self.replay_buffer.update_priorities(replay_data.indices, td_errors)  # type: ignore[union-attr]
            else:
                loss = elementwise_loss.mean()
            losses.append(loss.item())

            self.policy.optimizer.zero_grad()
            loss.backward()
            th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
            self.policy.optimizer.step()

        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/loss", np.mean(losses))
        if prioritized:
            self.logger.record("train/prioritized_replay_beta", beta)

    def action_view(self, observation: np.ndarray) -> tuple[np.ndarray, str]:
        """The softmax of the Q-values (the original's plot for DQN), ``(n_envs, n_actions)``."""
        obs_tensor, _ = self.policy.obs_to_tensor(observation)
        with th.no_grad():
            return th.softmax(self.q_net(obs_tensor), dim=1).cpu().numpy(), "softmax of the Q-values"
