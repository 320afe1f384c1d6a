"""PPO with vectorised envs and the original toolbox's PPO2 defaults (stable-baselines 2)."""

from __future__ import annotations

from typing import Any, ClassVar

from stable_baselines3 import PPO
from stable_baselines3.common.type_aliases import GymEnv

from rlzoo.base import AlgoType, ToolboxAlgorithm, learning_rate_schedule


class PPO2(ToolboxAlgorithm, PPO):
    """Proximal Policy Optimization (Schulman et al. 2017, https://arxiv.org/abs/1707.06347) on SB3's ``PPO``.

    The original's ``nminibatches`` is kept: the minibatch size is ``n_steps * n_envs / n_minibatches``.

    :param policy: an SB3 policy name or class; ``auto``: ``CnnPolicy`` for images, ``MlpPolicy`` otherwise. A
        recurrent (LSTM) policy is :class:`rlzoo.algos.RecurrentPPO2` (``algo=ppo2_lstm``).
    :param env: the vectorised training env.
    :param n_steps: steps collected per env per update.
    :param n_minibatches: minibatches each update's batch of ``n_steps * n_envs`` transitions is split into.
    :param n_epochs: passes over the batch per update.
    :param learning_rate: Adam step size at the start of training.
    :param lr_schedule: ``linear`` (decays to 0 at the end of training) or ``constant``.
    :param ent_coef: entropy bonus coefficient.
    :param vf_coef: value loss coefficient.
    :param max_grad_norm: gradient clipping (global L2 norm).
    :param gamma: discount factor.
    :param gae_lambda: GAE lambda.
    :param clip_range: PPO ratio clipping.
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
        batch = n_steps * n_envs
        if batch % n_minibatches != 0:
            raise ValueError(
                f"n_steps * n_envs = {n_steps} * {n_envs} = {batch} is not divisible by n_minibatches={n_minibatches}; "
                "choose n_envs or n_steps so that it is."
            )
        self.n_minibatches = n_minibatches
        self.lr_schedule_name = lr_schedule  # SB3 keeps its schedule function in self.lr_schedule
        super().__init__(
            policy=policy,
            env=env,
            learning_rate=learning_rate_schedule(learning_rate, lr_schedule),
            n_steps=n_steps,
            batch_size=batch // n_minibatches,
            n_epochs=n_epochs,
            gamma=gamma,
            gae_lambda=gae_lambda,
            clip_range=clip_range,
            ent_coef=ent_coef,
            vf_coef=vf_coef,
            max_grad_norm=max_grad_norm,
            policy_kwargs=policy_kwargs,
            seed=seed,
            device=device,
            verbose=verbose,
            _init_setup_model=_init_setup_model,
        )
