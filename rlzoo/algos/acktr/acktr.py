"""ACKTR: Actor Critic using Kronecker-Factored Trust Region (Wu et al. 2017, https://arxiv.org/abs/1708.05144)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.common.type_aliases import GymEnv
from stable_baselines3.common.utils import explained_variance
from torch.nn import functional as F

from rlzoo.algos.acktr.policies import CnnPolicy, MlpPolicy
from rlzoo.base import ActionType, AlgoType, ToolboxAlgorithm, learning_rate_schedule
from rlzoo.common.kfac import KFAC


class ACKTR(ToolboxAlgorithm, OnPolicyAlgorithm):
    """Actor Critic using Kronecker-Factored Trust Region (ACKTR).

    Paper: https://arxiv.org/abs/1708.05144. A2C's synchronous n-step actor-critic whose update is a natural-gradient
    step: :class:`rlzoo.common.kfac.KFAC` preconditions the gradients of every Linear and Conv2d layer with a
    Kronecker-factored Fisher of the joint model ``p(a, v | s) = pi(a | s) N(v; V(s), 1)`` (the critic's block is the
    Gauss-Newton matrix), and scales the step so that its quadratic KL estimate stays within ``kfac_clip``.

    Defaults are the original toolbox's (``rl_baselines/rl_algorithm/acktr.py`` on stable-baselines 2), which run the
    A2C command line defaults (``n_steps`` 5, ``learning_rate`` 7e-4 constant) through ACKTR. They give small steps;
    stable-baselines' own ACKTR defaults were ``n_steps`` 20, ``learning_rate`` 0.25 with a linear schedule,
    ``vf_coef`` 0.25. Works with discrete and continuous (Box) actions; the Gaussian's state-independent ``log_std``
    is not in a layer, so it gets an identity Fisher.

    :param policy: ``auto`` (CnnPolicy for images, MlpPolicy otherwise), an alias or an ``ActorCriticPolicy`` class.
    :param env: the vectorised training env (or None when loading).
    :param n_steps: steps run in each env per update; a batch has ``n_steps * n_envs`` transitions.
    :param gamma: discount factor.
    :param gae_lambda: GAE lambda of the advantages and value targets; 1.0 gives the original's n-step returns.
    :param ent_coef: entropy bonus coefficient in the loss.
    :param vf_coef: value loss coefficient in the loss.
    :param vf_fisher_coef: weight of the critic's Fisher (Gauss-Newton with targets sampled from ``N(V(s), 1)``) in the
        joint Fisher that K-FAC approximates. The original scaled its sampled loss ``coef * (V - V~)^2`` instead, so its
        critic block was ``4 coef^2`` times the Gauss-Newton matrix: its 1.0 is 4.0 here.
    :param learning_rate: K-FAC's maximal step size ``eta_max`` at the start of training.
    :param lr_schedule: ``constant`` or ``linear`` (decays the learning rate to 0 at the end of training).
    :param max_grad_norm: global L2 norm the loss gradient is clipped to before preconditioning.
    :param kfac_clip: trust region: ``lr^2 Delta^T F Delta`` of a step (about twice its KL divergence) is at most this.
    :param kfac_damping: Tikhonov damping added to the Kronecker-factored Fisher.
    :param kfac_momentum: momentum of the K-FAC update (0 disables it).
    :param kfac_stat_decay: running-average coefficient of the Kronecker factors.
    :param kfac_update_freq: recompute the factors' eigendecompositions every this many updates (raise it for CNNs:
        the first fully connected layer of NatureCNN has a 3137 x 3137 input factor).
    :param normalize_advantage: standardise the advantages of each batch (not in the original).
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
    action_types: ClassVar[tuple[ActionType, ...]] = (ActionType.DISCRETE, ActionType.CONTINUOUS)
    policy: ActorCriticPolicy
    rollout_buffer: RolloutBuffer

    def __init__(
        self,
        policy: str | type[ActorCriticPolicy] = "auto",
        env: GymEnv | None = None,
        n_steps: int = 5,
        gamma: float = 0.99,
        gae_lambda: float = 1.0,
        ent_coef: float = 0.01,
        vf_coef: float = 0.5,
        vf_fisher_coef: float = 1.0,
        learning_rate: float = 7e-4,
        lr_schedule: str = "constant",
        max_grad_norm: float = 0.5,
        kfac_clip: float = 0.001,
        kfac_damping: float = 0.01,
        kfac_momentum: float = 0.9,
        kfac_stat_decay: float = 0.99,
        kfac_update_freq: int = 1,
        normalize_advantage: bool = False,
        policy_kwargs: dict[str, Any] | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        seed: int | None = None,
        device: th.device | str = "auto",
        verbose: int = 0,
        _init_setup_model: bool = True,
    ) -> None:
        if vf_fisher_coef < 0:
            raise ValueError(f"vf_fisher_coef={vf_fisher_coef} must be >= 0 (it weights the critic's Fisher block).")
        if kfac_clip <= 0 or kfac_damping <= 0:
            raise ValueError(f"kfac_clip={kfac_clip} and kfac_damping={kfac_damping} must both be > 0.")
        if kfac_update_freq < 1:
            raise ValueError(f"kfac_update_freq={kfac_update_freq} must be at least 1 (updates between inversions).")
        super().__init__(
            policy=policy,
            env=env,  # type: ignore[arg-type]
            learning_rate=learning_rate_schedule(learning_rate, lr_schedule),
            n_steps=n_steps,
            gamma=gamma,
            gae_lambda=gae_lambda,
            ent_coef=ent_coef,
            vf_coef=vf_coef,
            max_grad_norm=max_grad_norm,
            use_sde=False,  # gSDE's noise matrix is not a layer K-FAC can precondition
            sde_sample_freq=-1,
            policy_kwargs=policy_kwargs,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            seed=seed,
            device=device,
            verbose=verbose,
            _init_setup_model=False,
            supported_action_spaces=(spaces.Discrete, spaces.Box),
        )
        self.vf_fisher_coef = vf_fisher_coef
        self.kfac_clip = kfac_clip
        self.kfac_damping = kfac_damping
        self.kfac_momentum = kfac_momentum
        self.kfac_stat_decay = kfac_stat_decay
        self.kfac_update_freq = kfac_update_freq
        self.normalize_advantage = normalize_advantage
        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        """SB3's setup (lr schedule, seeding, rollout buffer, policy), then K-FAC as the policy's optimizer."""
        super()._setup_model()
        # K-FAC replaces the policy's default optimizer; it is saved and loaded as "policy.optimizer"
        self.policy.optimizer = KFAC(
            self.policy,
            lr=self.lr_schedule(1),
            momentum=self.kfac_momentum,
            stat_decay=self.kfac_stat_decay,
            damping=self.kfac_damping,
            kl_clip=self.kfac_clip,
            update_freq=self.kfac_update_freq,
        )

    def train(self) -> None:
        """One K-FAC update from the rollout: record the sampled Fisher's factors, then a preconditioned A2C step."""
        self.policy.set_training_mode(True)
        optimizer: KFAC = self.policy.optimizer  # type: ignore[assignment]
        self._update_learning_rate(optimizer)

        # the whole rollout, (n_steps * n_envs, ...), in one batch
        rollout_data = next(self.rollout_buffer.get(batch_size=None))
        observations = rollout_data.observations
        actions = rollout_data.actions
        if isinstance(self.action_space, spaces.Discrete):
            actions = actions.long().flatten()

        # Fisher statistics (Wu et al. 2017, Sec. 3.1): the Fisher is an expectation under the model's own predictive
        # distribution, so the targets are sampled from it: a~ ~ pi(.|s) and v~ ~ N(V(s), 1). Scaling the critic's
        # log-likelihood gradient by sqrt(vf_fisher_coef) weights its Fisher block by vf_fisher_coef.
        with th.no_grad():
            sampled_actions = self.policy.get_distribution(observations).sample()
        with optimizer.record_statistics():
            sampled_values, sampled_log_prob, _ = self.policy.evaluate_actions(observations, sampled_actions)
            pg_fisher_loss = -sampled_log_prob.mean()
            sampled_targets = sampled_values.detach() + th.randn_like(sampled_values)
            vf_fisher_loss = 0.5 * ((sampled_values - sampled_targets) ** 2).mean()
            optimizer.zero_grad()
            (pg_fisher_loss + math.sqrt(self.vf_fisher_coef) * vf_fisher_loss).backward()

        # the A2C loss whose gradient K-FAC preconditions
        values, log_prob, entropy = self.policy.evaluate_actions(observations, actions)
        values = values.flatten()
        advantages = rollout_data.advantages
        if self.normalize_advantage and len(advantages) > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        policy_loss = -(advantages * log_prob).mean()
        value_loss = F.mse_loss(rollout_data.returns, values)
        # without an analytical entropy (squashed Gaussians), -log_prob estimates it
        entropy_loss = -th.mean(entropy) if entropy is not None else th.mean(log_prob)
        loss = policy_loss + self.ent_coef * entropy_loss + self.vf_coef * value_loss

        optimizer.zero_grad()
        loss.backward()
        th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
        optimizer.step()

        self._n_updates += 1
        explained_var = explained_variance(self.rollout_buffer.values.flatten(), self.rollout_buffer.returns.flatten())
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/explained_variance", explained_var)
        self.logger.record("train/entropy_loss", entropy_loss.item())
        self.logger.record("train/policy_loss", policy_loss.item())
        self.logger.record("train/value_loss", value_loss.item())
        self.logger.record("train/kfac_step_scale", optimizer.last_step_info["nu"])
        self.logger.record("train/kfac_squared_fisher_norm", optimizer.last_step_info["squared_fisher_norm"])
        if hasattr(self.policy, "log_std"):
            self.logger.record("train/std", th.exp(self.policy.log_std).mean().item())
