"""TD3 (Stable-Baselines3) on one env, with SB3's defaults: not in the original toolbox."""

from __future__ import annotations

from typing import Any, ClassVar

from stable_baselines3 import TD3 as SB3TD3
from stable_baselines3.common.type_aliases import GymEnv

from rlzoo.algos.helpers import OneEnvAlgorithm, build_action_noise
from rlzoo.base import ActionType, AlgoType


class TD3(OneEnvAlgorithm, SB3TD3):
    """Twin Delayed DDPG (Fujimoto et al. 2018, https://arxiv.org/abs/1802.09477) on SB3's ``TD3``.

    SB3's defaults, plus Gaussian exploration noise (sigma 0.1) built from the action dimension, as for
    :class:`rlzoo.algos.DDPG`.

    :param policy: an SB3 policy name or class; ``auto`` picks ``CnnPolicy`` for images and ``MlpPolicy`` otherwise.
    :param env: the training env (one env, continuous actions).
    :param learning_rate: Adam step size of actor and critic.
    :param buffer_size: replay capacity, in transitions.
    :param learning_starts: env steps before the first update.
    :param batch_size: transitions per gradient step.
    :param tau: soft update coefficient of the target networks.
    :param gamma: discount factor.
    :param train_freq: env steps between two training phases.
    :param gradient_steps: gradient steps per training phase.
    :param action_noise: exploration noise: ``normal``, ``ou`` (Ornstein-Uhlenbeck) or ``none``.
    :param action_noise_sigma: standard deviation of that noise on each action dimension (actions lie in [-1, 1]).
    :param policy_delay: critic updates per actor (and target) update.
    :param target_policy_noise: standard deviation of the target policy smoothing noise.
    :param target_noise_clip: clipping of that noise.
    :param policy_kwargs: extra arguments of the policy (``net_arch``, ...).
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
        learning_rate: float = 1e-3,
        buffer_size: int = 1_000_000,
        learning_starts: int = 100,
        batch_size: int = 256,
        tau: float = 0.005,
        gamma: float = 0.99,
        train_freq: int = 1,
        gradient_steps: int = 1,
        action_noise: str = "normal",
        action_noise_sigma: float = 0.1,
        policy_delay: int = 2,
        target_policy_noise: float = 0.2,
        target_noise_clip: float = 0.5,
        policy_kwargs: dict[str, Any] | None = None,
        seed: int | None = None,
        device: str = "auto",
        verbose: int = 0,
        _init_setup_model: bool = True,
    ) -> None:
        self.action_noise_type = action_noise
        self.action_noise_sigma = action_noise_sigma
        env_action_space = None if env is None or isinstance(env, str) else env.action_space
        super().__init__(
            policy=policy,
            env=env,  # type: ignore[arg-type]
            learning_rate=learning_rate,
            buffer_size=buffer_size,
            learning_starts=learning_starts,
            batch_size=batch_size,
            tau=tau,
            gamma=gamma,
            train_freq=train_freq,
            gradient_steps=gradient_steps,
            action_noise=build_action_noise(action_noise, action_noise_sigma, env_action_space),
            policy_delay=policy_delay,
            target_policy_noise=target_policy_noise,
            target_noise_clip=target_noise_clip,
            policy_kwargs=policy_kwargs,
            seed=seed,
            device=device,
            verbose=verbose,
            _init_setup_model=_init_setup_model,
        )
