"""DDPG (Stable-Baselines3) on one env with the original toolbox's defaults (stable-baselines 2 DDPG)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch as th
from stable_baselines3 import DDPG as SB3DDPG
from stable_baselines3.common.type_aliases import GymEnv
from stable_baselines3.common.utils import update_learning_rate

from rlzoo.algos.helpers import OneEnvAlgorithm, build_action_noise
from rlzoo.base import ActionType, AlgoType


class DDPG(OneEnvAlgorithm, SB3DDPG):
    """Deep Deterministic Policy Gradient (Lillicrap et al. 2015, https://arxiv.org/abs/1509.02971) on SB3's ``DDPG``.

    Mapping of the original (stable-baselines 2): ``nb_rollout_steps`` 100 env steps then ``nb_train_steps`` 100
    gradient steps become ``train_freq=100`` and ``gradient_steps=100``; actor and critic keep separate Adam step
    sizes; networks are 64x64 (``policy_kwargs.net_arch``). ``buffer_size`` is the replay size the original meant:
    its ``--memory-limit 100000`` was never forwarded, so it trained with the library default instead; here the
    option is honoured. Not carried over: adaptive parameter noise (not in SB3: ``param_noise=True`` is refused),
    ``critic_l2_reg`` (SB3 optimises actor and critic with the same optimizer arguments), ``reward_scale``, PopArt
    and return normalisation (all off by default in the original).

    :param policy: an SB3 policy name or class; ``auto`` picks ``CnnPolicy`` for images and ``MlpPolicy`` otherwise.
    :param env: the training env (one env, continuous actions).
    :param actor_lr: Adam step size of the actor (constant).
    :param critic_lr: Adam step size of the critic (constant).
    :param buffer_size: replay capacity, in transitions.
    :param learning_starts: env steps before the first update.
    :param batch_size: transitions per gradient step.
    :param tau: soft update coefficient of the target networks (per gradient step).
    :param gamma: discount factor.
    :param train_freq: env steps between two training phases.
    :param gradient_steps: gradient steps per training phase.
    :param action_noise: exploration noise added to the actor's actions: ``ou`` (Ornstein-Uhlenbeck), ``normal``
        or ``none``.
    :param action_noise_sigma: standard deviation of that noise on each action dimension (actions lie in [-1, 1]).
    :param param_noise: adaptive parameter-space noise (the original ``--noise-param``): not available in SB3.
    :param policy_kwargs: extra arguments of the policy; ``net_arch`` defaults to ``[64, 64]``.
    :param seed: seed of torch, numpy and the env.
    :param device: torch device (``cpu``, ``cuda``, ``auto``).
    :param verbose: SB3 logging level.
    """

    algo_type: ClassVar[AlgoType] = AlgoType.RL
    action_types: ClassVar[tuple[ActionType, ...]] = (ActionType.CONTINUOUS,)

    def __init__(
        self,
        policy: Any = "auto",
        env: GymEnv | None = None,
        actor_lr: float = 1e-4,
        critic_lr: float = 1e-3,
        buffer_size: int = 100_000,
        learning_starts: int = 100,
        batch_size: int = 64,
        tau: float = 0.001,
        gamma: float = 0.99,
        train_freq: int = 100,
        gradient_steps: int = 100,
        action_noise: str = "ou",
        action_noise_sigma: float = 0.2,
        param_noise: bool = False,
        policy_kwargs: dict[str, Any] | None = None,
        seed: int | None = None,
        device: str = "auto",
        verbose: int = 0,
        _init_setup_model: bool = True,
    ) -> None:
        if param_noise:
            raise ValueError("param_noise=True (adaptive parameter noise, the original --noise-param) is not available "
                             "in Stable-Baselines3; use action_noise=ou or action_noise=normal.")
        self.actor_lr = actor_lr
        self.critic_lr = critic_lr
        self.action_noise_type = action_noise
        self.action_noise_sigma = action_noise_sigma
        env_action_space = None if env is None or isinstance(env, str) else env.action_space
        super().__init__(
            policy=policy,
            env=env,  # type: ignore[arg-type]
            learning_rate=critic_lr,  # the schedule SB3 logs; _update_learning_rate sets each optimizer's own
            buffer_size=buffer_size,
            learning_starts=learning_starts,
            batch_size=batch_size,
            tau=tau,
            gamma=gamma,
            train_freq=train_freq,
            gradient_steps=gradient_steps,
            action_noise=build_action_noise(action_noise, action_noise_sigma, env_action_space),
            policy_kwargs={"net_arch": [64, 64], **(policy_kwargs or {})},
            seed=seed,
            device=device,
            verbose=verbose,
            _init_setup_model=_init_setup_model,
        )

    def _update_learning_rate(self, optimizers: list[th.optim.Optimizer] | th.optim.Optimizer) -> None:
        """Give actor and critic their own constant step sizes (called by ``train()`` before each phase)."""
        self.logger.record("train/actor_learning_rate", self.actor_lr)
        self.logger.record("train/critic_learning_rate", self.critic_lr)
        update_learning_rate(self.actor.optimizer, self.actor_lr)
        update_learning_rate(self.critic.optimizer, self.critic_lr)
