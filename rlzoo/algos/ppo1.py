"""PPO on one env with the original toolbox's PPO1 defaults (stable-baselines 2 PPO1, one MPI worker)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from stable_baselines3 import PPO
from stable_baselines3.common.type_aliases import GymEnv

from rlzoo.algos.helpers import OneEnvAlgorithm
from rlzoo.base import AlgoType, learning_rate_schedule


class PPO1(OneEnvAlgorithm, PPO):
    """Proximal Policy Optimization (Schulman et al. 2017, https://arxiv.org/abs/1707.06347) as PPO1 ran it.

    PPO1 is the same algorithm as PPO2 with one env and other defaults; the differences from
    :class:`rlzoo.algos.PPO2` follow stable-baselines 2's PPO1: the value loss has weight 1, gradients are not clipped,
    Adam's epsilon is 1e-5, and ``lr_schedule`` decays the clipping range together with the step size (PPO1's
    ``cur_lrmult``). Original names: ``timesteps_per_actorbatch`` is ``n_steps``, ``optim_batchsize`` is
    ``batch_size``, ``optim_epochs`` is ``n_epochs``, ``optim_stepsize`` is ``learning_rate``, ``entcoeff`` is
    ``ent_coef``, ``clip_param`` is ``clip_range``, ``lam`` is ``gae_lambda``.

    :param policy: an SB3 policy name or class; ``auto`` picks ``CnnPolicy`` for images and ``MlpPolicy`` otherwise.
    :param env: the training env (one env).
    :param n_steps: steps collected per update.
    :param batch_size: minibatch size, in transitions (one smaller minibatch when it exceeds ``n_steps``).
    :param n_epochs: passes over the batch per update.
    :param learning_rate: Adam step size at the start of training.
    :param lr_schedule: ``constant`` or ``linear`` (step size and clipping range decay to 0 at the end of training).
    :param ent_coef: entropy bonus coefficient.
    :param vf_coef: value loss coefficient.
    :param max_grad_norm: gradient clipping (global L2 norm); None: no clipping.
    :param adam_epsilon: Adam's epsilon.
    :param gamma: discount factor.
    :param gae_lambda: GAE lambda.
    :param clip_range: PPO ratio clipping at the start of training.
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
        batch_size: int = 64,
        n_epochs: int = 4,
        learning_rate: float = 2.5e-4,
        lr_schedule: str = "constant",
        ent_coef: float = 0.01,
        vf_coef: float = 1.0,
        max_grad_norm: float | None = None,
        adam_epsilon: float = 1e-5,
        gamma: float = 0.99,
        gae_lambda: float = 0.95,
        clip_range: float = 0.2,
        policy_kwargs: dict[str, Any] | None = None,
        seed: int | None = None,
        device: str = "auto",
        verbose: int = 0,
        _init_setup_model: bool = True,
    ) -> None:
        self.lr_schedule_name = lr_schedule
        self.adam_epsilon = adam_epsilon
        policy_kwargs = {"optimizer_kwargs": {"eps": adam_epsilon}, **(policy_kwargs or {})}
        super().__init__(
            policy=policy,
            env=env,  # type: ignore[arg-type]
            learning_rate=learning_rate_schedule(learning_rate, lr_schedule),
            n_steps=n_steps,
            batch_size=batch_size,
            n_epochs=n_epochs,
            gamma=gamma,
            gae_lambda=gae_lambda,
            clip_range=learning_rate_schedule(clip_range, lr_schedule),
            ent_coef=ent_coef,
            vf_coef=vf_coef,
            max_grad_norm=math.inf if max_grad_norm is None else max_grad_norm,
            policy_kwargs=policy_kwargs,
            seed=seed,
            device=device,
            verbose=verbose,
            _init_setup_model=_init_setup_model,
        )
