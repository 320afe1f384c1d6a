"""A2C with vectorised envs and the original toolbox's defaults (stable-baselines 2 A2C)."""

from __future__ import annotations

from typing import Any, ClassVar

from stable_baselines3 import A2C as SB3A2C
from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike
from stable_baselines3.common.type_aliases import GymEnv

from rlzoo.base import AlgoType, ToolboxAlgorithm, learning_rate_schedule


class A2C(ToolboxAlgorithm, SB3A2C):
    """Advantage Actor-Critic (Mnih et al. 2016, https://arxiv.org/abs/1602.01783) on SB3's ``A2C``.

    The optimiser is stable-baselines 2's: RMSprop with the epsilon inside the square root (SB3's
    ``RMSpropTFLike``), decay ``alpha`` and ``epsilon`` given here. An ``optimizer_class`` or ``optimizer_kwargs`` in
    ``policy_kwargs`` replaces it.

    :param policy: an SB3 policy name or class; ``auto`` picks ``CnnPolicy`` for images and ``MlpPolicy`` otherwise.
    :param env: the vectorised training env.
    :param n_steps: steps collected per env per update (the batch is ``n_steps * n_envs`` transitions).
    :param learning_rate: RMSprop step size at the start of training.
    :param lr_schedule: ``constant`` or ``linear`` (decays to 0 at the end of training).
    :param gamma: discount factor.
    :param gae_lambda: GAE lambda (1: the n-step returns of the original A2C).
    :param ent_coef: entropy bonus coefficient.
    :param vf_coef: value loss coefficient.
    :param max_grad_norm: gradient clipping (global L2 norm).
    :param alpha: RMSprop decay of the squared-gradient average.
    :param epsilon: RMSprop epsilon (added inside the square root, as TensorFlow does).
    :param normalize_advantage: standardise the advantages of each batch (the original did not).
    :param policy_kwargs: extra arguments of the policy (``net_arch``, ...).
    :param seed: seed of torch, numpy and the env.
    :param device: torch device (``cpu``, ``cuda``, ``auto``).
    :param verbose: SB3 logging level.
    """

    algo_type: ClassVar[AlgoType] = AlgoType.RL

    def __init__(
        self,
        policy: Any = "auto",
        env: GymEnv | None = None,
        n_steps: int = 5,
        learning_rate: float = 7e-4,
        lr_schedule: str = "constant",
        gamma: float = 0.99,
        gae_lambda: float = 1.0,
        ent_coef: float = 0.01,
        vf_coef: float = 0.5,
        max_grad_norm: float = 0.5,
        alpha: float = 0.99,
        epsilon: float = 1e-5,
        normalize_advantage: bool = False,
        policy_kwargs: dict[str, Any] | None = None,
        seed: int | None = None,
        device: str = "auto",
        verbose: int = 0,
        _init_setup_model: bool = True,
    ) -> None:
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"alpha={alpha} must lie in [0, 1) (RMSprop's decay of the squared-gradient average).")
        self.alpha = alpha
        self.epsilon = epsilon
        self.lr_schedule_name = lr_schedule
        policy_kwargs = {
            "optimizer_class": RMSpropTFLike,
            "optimizer_kwargs": {"alpha": alpha, "eps": epsilon, "weight_decay": 0},
            **(policy_kwargs or {}),
        }
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
            rms_prop_eps=epsilon,
            normalize_advantage=normalize_advantage,
            policy_kwargs=policy_kwargs,
            seed=seed,
            device=device,
            verbose=verbose,
            _init_setup_model=_init_setup_model,
        )
