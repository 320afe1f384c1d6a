"""ACER: Actor-Critic with Experience Replay (Wang et al. 2016, https://arxiv.org/abs/1611.01224), discrete actions."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv
from stable_baselines3.common.utils import obs_as_tensor

from rlzoo.algos.acer.policies import ACERPolicy, CnnPolicy, MlpPolicy
from rlzoo.base import ActionType, AlgoType, ToolboxAlgorithm, learning_rate_schedule
from rlzoo.common.buffers import TrajectoryReplayBuffer, TrajectorySamples

#: guards divisions by behaviour probabilities and logarithms of policy probabilities
EPS = 1e-6


def retrace_targets(
    rewards: th.Tensor,
    dones: th.Tensor,
    q_taken: th.Tensor,
    values: th.Tensor,
    rho_bar: th.Tensor,
    last_values: th.Tensor,
    gamma: float,
) -> th.Tensor:
    """Retrace targets ``Q^ret(x_t, a_t)`` of time-major trajectory segments (Wang et al. 2016, eq. (5)).

    ``Q^ret(x_t, a_t) = r_t + gamma * (rho_bar_{t+1} [Q^ret(x_{t+1}, a_{t+1}) - Q(x_{t+1}, a_{t+1})] + V(x_{t+1}))``,
    computed backwards as in the paper's Algorithm 2: start from ``Q^ret = V(x_T)``; for ``t = T-1 .. 0`` set
    ``Q^ret <- r_t + gamma Q^ret``, record it, then ``Q^ret <- rho_bar_t (Q^ret - Q(x_t, a_t)) + V(x_t)``. Nothing is
    bootstrapped across the end of an episode (``dones[t] = 1``).

    :param rewards: ``r_t``, shape ``(T, B)``.
    :param dones: 1.0 where the episode ended after step ``t``, shape ``(T, B)``.
    :param q_taken: ``Q(x_t, a_t)``, shape ``(T, B)``.
    :param values: ``V(x_t) = sum_a pi(a|x_t) Q(x_t, a)``, shape ``(T, B)``.
    :param rho_bar: truncated importance weights ``min(1, pi(a_t|x_t) / mu(a_t|x_t))``, shape ``(T, B)``.
    :param last_values: ``V(x_T)`` of the observation after each segment, shape ``(B,)``.
    :param gamma: discount factor.
    :return: ``Q^ret``, shape ``(T, B)``.
    """
    q_ret = last_values
    targets = th.empty_like(rewards)
    for t in reversed(range(rewards.shape[0])):
        q_ret = rewards[t] + gamma * (1.0 - dones[t]) * q_ret
        targets[t] = q_ret
        q_ret = rho_bar[t] * (q_ret - q_taken[t]) + values[t]
    return targets


def trust_region_step(g: th.Tensor, k: th.Tensor, delta: float) -> th.Tensor:
    """Solution of ACER's linearised trust region (Sec. 3.3), row by row.

    ``z* = argmin_z 1/2 ||g - z||^2  s.t.  k^T z <= delta``, i.e. ``z* = g - max(0, (k^T g - delta) / ||k||^2) k``.

    :param g: gradient of the policy objective w.r.t. the distribution statistics ``phi``, shape ``(N, n_actions)``.
    :param k: gradient of ``KL[f(.|phi_average) || f(.|phi)]`` w.r.t. ``phi``, shape ``(N, n_actions)``.
    :param delta: trust-region radius.
    :return: ``z*``, shape ``(N, n_actions)``.
    """
    violation = ((k * g).sum(dim=1, keepdim=True) - delta).clamp(min=0.0)
    return g - violation / (k.pow(2).sum(dim=1, keepdim=True) + EPS) * k


class ACER(ToolboxAlgorithm, OnPolicyAlgorithm):
    """Actor-Critic with Experience Replay (ACER) for discrete actions.

    Paper: https://arxiv.org/abs/1611.01224. Every ``learn`` iteration collects ``n_steps`` on-policy steps in each env,
    stores them whole in a replay of past segments, makes one update on them, then ``Poisson(replay_ratio)`` updates on
    batches of ``n_envs`` segments replayed from memory (once it holds ``replay_start`` transitions). Each update fits
    the Q head to Retrace targets, follows the policy gradient with importance weights truncated at
    ``correction_term`` plus the bias correction term, and (with ``trust_region``) projects that gradient onto the
    linearised KL trust region around an exponential average of past policies.

    It subclasses ``OnPolicyAlgorithm`` because its learn loop is A2C's (collect a rollout, then ``train()``); the
    replay lives inside ``train()``. The behaviour policy ``mu(.|x)`` of the new rollout is recomputed by one batched
    forward pass at the start of ``train()``, before any gradient step: the network has not changed since it acted,
    so these are exactly the probabilities it sampled from, and SB3's ``collect_rollouts`` and rollout buffer are
    used unchanged. The replay is ``self.replay_buffer``, which ``BaseAlgorithm._excluded_save_params`` already leaves
    out of saved files.

    Defaults are the original toolbox's (stable-baselines 2 ACER run with the A2C command line, so ``lr_schedule`` is
    ``constant``). RMSprop is torch's, whose ``rprop_epsilon`` is added outside the square root (TensorFlow's inside).

    :param policy: ``auto`` (CnnPolicy for images, MlpPolicy otherwise), an alias or an :class:`ACERPolicy` class.
    :param env: the vectorised training env (or None when loading).
    :param n_steps: steps run in each env per iteration; segments (on-policy and replayed) have this length.
    :param gamma: discount factor.
    :param q_coef: weight of the Q-head loss ``1/2 (Q^ret - Q(x_t, a_t))^2`` in the total loss.
    :param ent_coef: entropy bonus coefficient (added to the policy objective before the trust-region projection).
    :param max_grad_norm: global L2 norm the gradient is clipped to.
    :param learning_rate: RMSprop step size at the start of training.
    :param lr_schedule: ``constant`` or ``linear`` (decays the learning rate to 0 at the end of training).
    :param rprop_alpha: RMSprop decay of the squared-gradient average.
    :param rprop_epsilon: RMSprop epsilon.
    :param buffer_size: replay capacity in transitions (``buffer_size // n_steps`` segments).
    :param replay_ratio: mean of the Poisson number of replayed updates per on-policy update (0: on-policy only).
    :param replay_start: transitions the replay must hold before replayed updates start.
    :param correction_term: truncation constant ``c`` of the importance weights ``min(c, rho)``.
    :param trust_region: use the efficient trust-region update.
    :param alpha: decay of the average policy network, ``theta_a <- alpha theta_a + (1 - alpha) theta``.
    :param delta: trust-region radius ``delta`` on the linearised KL to the average policy.
    :param policy_kwargs: extra arguments of the policy (``net_arch``, ``activation_fn``, ...).
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
    policy: ACERPolicy
    rollout_buffer: RolloutBuffer
    replay_buffer: TrajectoryReplayBuffer

    def __init__(
        self,
        policy: str | type[ACERPolicy] = "auto",
        env: GymEnv | None = None,
        n_steps: int = 20,
        gamma: float = 0.99,
        q_coef: float = 0.5,
        ent_coef: float = 0.01,
        max_grad_norm: float = 10.0,
        learning_rate: float = 7e-4,
        lr_schedule: str = "constant",
        rprop_alpha: float = 0.99,
        rprop_epsilon: float = 1e-5,
        buffer_size: int = 5000,
        replay_ratio: float = 4.0,
        replay_start: int = 1000,
        correction_term: float = 10.0,
        trust_region: bool = True,
        alpha: float = 0.99,
        delta: float = 1.0,
        policy_kwargs: dict[str, Any] | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        seed: int | None = None,
        device: th.device | str = "auto",
        verbose: int = 0,
        _init_setup_model: bool = True,
    ) -> None:
        if buffer_size < n_steps:
            raise ValueError(
                f"buffer_size={buffer_size} transitions cannot hold one segment of n_steps={n_steps}; "
                "raise buffer_size to at least n_steps."
            )
        if replay_ratio < 0:
            raise ValueError(f"replay_ratio={replay_ratio} must be >= 0 (0 disables experience replay).")
        if correction_term <= 0:
            raise ValueError(f"correction_term={correction_term} must be > 0 (importance weights are cut at c).")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha={alpha} must lie in [0, 1] (decay of the average policy network).")
        if trust_region and delta <= 0:
            raise ValueError(f"delta={delta} must be > 0 with trust_region=True.")
        super().__init__(
            policy=policy,
            env=env,  # type: ignore[arg-type]
            learning_rate=learning_rate_schedule(learning_rate, lr_schedule),
            n_steps=n_steps,
            gamma=gamma,
            gae_lambda=1.0,  # unused: the targets are Retrace's, computed in train()
            ent_coef=ent_coef,
            vf_coef=0.0,  # unused: the critic is the Q head, weighted by q_coef
            max_grad_norm=max_grad_norm,
            use_sde=False,
            sde_sample_freq=-1,
            policy_kwargs=policy_kwargs,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            seed=seed,
            device=device,
            verbose=verbose,
            _init_setup_model=False,
            supported_action_spaces=(spaces.Discrete,),
        )
        self.q_coef = q_coef
        self.buffer_size = buffer_size
        self.replay_ratio = replay_ratio
        self.replay_start = replay_start
        self.correction_term = correction_term
        self.trust_region = trust_region
        self.alpha = alpha
        self.delta = delta
        if "optimizer_class" not in self.policy_kwargs:
            self.policy_kwargs["optimizer_class"] = th.optim.RMSprop
            self.policy_kwargs["optimizer_kwargs"] = dict(alpha=rprop_alpha, eps=rprop_epsilon, weight_decay=0.0)
        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        """SB3's setup (lr schedule, seeding, rollout buffer, policy), then the trajectory replay."""
        super()._setup_model()
        self.replay_buffer = TrajectoryReplayBuffer(
            self.buffer_size,
            self.n_steps,
            self.observation_space,
            self.action_space,  # type: ignore[arg-type]
            device=self.device,
            n_envs=self.n_envs,
        )

    def _store_rollout(self) -> TrajectorySamples:
        """Add the rollout just collected to the replay, with ``mu(.|x_t)``, and return it as one on-policy batch."""
        rollout = self.rollout_buffer
        observations = rollout.observations  # (n_steps, n_envs, *obs_shape)
        actions = rollout.actions.reshape(self.n_steps, self.n_envs).astype(np.int64)
        # the episode ended after step t if step t+1 starts one; after the last step, the last dones tell
        dones = np.concatenate([rollout.episode_starts[1:], np.asarray(self._last_episode_starts, np.float32)[None]])
        obs_tensor = obs_as_tensor(observations.reshape(-1, *self.replay_buffer.obs_shape), self.device)
        with th.no_grad():  # the behaviour policy: parameters are unchanged since these actions were sampled
            behaviour_probs = th.softmax(self.policy.logits_and_q(obs_tensor)[0], dim=1)
        behaviour_probs_np = behaviour_probs.cpu().numpy().reshape(self.n_steps, self.n_envs, -1)
        self.replay_buffer.add(observations, actions, rollout.rewards, dones, behaviour_probs_np, self._last_obs)
        to_torch = self.replay_buffer.to_torch
        return TrajectorySamples(
            observations=to_torch(observations),
            actions=to_torch(actions),
            rewards=to_torch(rollout.rewards),
            dones=to_torch(dones),
            behaviour_probs=to_torch(behaviour_probs_np),
            last_observations=to_torch(np.asarray(self._last_obs)),
        )

    def train(self) -> None:
        """One on-policy update, then ``Poisson(replay_ratio)`` updates on replayed segments."""
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        stats = [self._update(self._store_rollout())]
        if self.replay_ratio > 0 and self.replay_buffer.n_transitions >= self.replay_start:
            for _ in range(np.random.poisson(self.replay_ratio)):
                stats.append(self._update(self.replay_buffer.sample(self.n_envs)))

        self._n_updates += len(stats)
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/replayed_updates", len(stats) - 1)
        for key in stats[0]:
            self.logger.record(f"train/{key}", float(np.mean([s[key] for s in stats])))

    def _update(self, batch: TrajectorySamples) -> dict[str, float]:
        """One ACER gradient step (the paper's Algorithm 2) on ``B`` segments of ``T`` steps."""
        n_steps, n_segments = batch.rewards.shape
        n_samples = n_steps * n_segments
        obs_shape = self.replay_buffer.obs_shape
        observations = batch.observations.reshape(n_samples, *obs_shape)
        actions = batch.actions.reshape(n_samples, 1).long()
        mu = batch.behaviour_probs.reshape(n_samples, -1)  # mu(.|x_t), (T * B, n_actions)

        # one forward pass over x_0 .. x_{T-1} and the bootstrap observations x_T
        logits_all, q_all = self.policy.logits_and_q(th.cat([observations, batch.last_observations.reshape(-1, *obs_shape)]))
        logits, q_values = logits_all[:n_samples], q_all[:n_samples]
        # the statistics phi_theta(x_t) of f(.|phi) are the action probabilities pi(.|x_t) (Sec. 3.3)
        phi = th.softmax(logits, dim=1)
        log_phi = th.log(phi + EPS)

        with th.no_grad():
            pi = phi.detach()
            values = (pi * q_values).sum(dim=1)  # V(x_t) = sum_a pi(a|x_t) Q(x_t, a)
            last_values = (th.softmax(logits_all[n_samples:], dim=1) * q_all[n_samples:]).sum(dim=1)  # V(x_T)
            rho = pi / (mu + EPS)  # rho_t(a) = pi(a|x_t) / mu(a|x_t), (T * B, n_actions)
            rho_taken = rho.gather(1, actions).squeeze(1)  # rho_t = rho_t(a_t)
            q_taken_target = q_values.gather(1, actions).squeeze(1)
            q_ret = retrace_targets(  # eq. (5), with rho_bar_t = min(1, rho_t)
                batch.rewards,
                batch.dones,
                q_taken_target.reshape(n_steps, n_segments),
                values.reshape(n_steps, n_segments),
                rho_taken.clamp(max=1.0).reshape(n_steps, n_segments),
                last_values,
                self.gamma,
            ).reshape(n_samples)

        # critic: gradient of (Q^ret - Q(x_t, a_t))^2 (Algorithm 2)
        q_taken = q_values.gather(1, actions).squeeze(1)
        q_loss = 0.5 * (q_ret - q_taken).pow(2).mean()

        # actor (Sec. 3.2): truncated importance weight min(c, rho_t) on the Retrace advantage, plus the bias
        # correction sum_a [1 - c / rho_t(a)]_+ pi(a|x_t) log f(a|phi) (Q(x_t, a) - V(x_t)) for the truncated part
        c = self.correction_term
        truncated_rho = rho_taken.clamp(max=c)
        bias_weights = (1.0 - c / (rho + EPS)).clamp(min=0.0) * pi
        advantages_q = q_values.detach() - values[:, None]
        objective = truncated_rho * log_phi.gather(1, actions).squeeze(1) * (q_ret - values)
        objective = objective + (bias_weights * log_phi * advantages_q).sum(dim=1)
        entropy = -(phi * log_phi).sum(dim=1)
        # g: per-sample gradient of the objective w.r.t. phi_theta(x_t), (T * B, n_actions)
        g = th.autograd.grad((objective + self.ent_coef * entropy).sum(), phi, retain_graph=True)[0]

        stats: dict[str, float] = {}
        if self.trust_region:
            # k = grad_phi KL[f(.|phi_average(x_t)) || f(.|phi(x_t))]; z* projects g onto {z : k^T z <= delta}
            average_pi = th.softmax(self.policy.average_logits(observations), dim=1)
            kl = (average_pi * (th.log(average_pi + EPS) - log_phi)).sum(dim=1)
            k = th.autograd.grad(kl.sum(), phi, retain_graph=True)[0]
            z = trust_region_step(g, k, self.delta)
            stats["trust_region_active"] = float(((k * g).sum(dim=1) > self.delta).float().mean())
            stats["kl_to_average"] = float(kl.detach().mean())
        else:
            z = g
        # d(loss)/d(theta) = -(d phi / d theta)^T z* (averaged over samples) + q_coef * d(q_loss)/d(theta)
        policy_surrogate = -(phi * z.detach()).sum(dim=1).mean()
        loss = policy_surrogate + self.q_coef * q_loss

        self.policy.optimizer.zero_grad()
        loss.backward()
        th.nn.utils.clip_grad_norm_(self.policy.net.parameters(), self.max_grad_norm)
        self.policy.optimizer.step()
        self.policy.update_average(self.alpha)

        stats.update(
            policy_loss=-float(objective.detach().mean()),
            q_loss=float(q_loss.detach()),
            entropy=float(entropy.detach().mean()),
            rho_mean=float(rho_taken.mean()),
            rho_truncated_fraction=float((rho_taken > c).float().mean()),
        )
        return stats
