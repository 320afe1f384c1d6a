"""TRPO (sb3-contrib) on one env; ``conf/algo/trpo.yaml`` holds the original toolbox's defaults."""

from __future__ import annotations

from typing import ClassVar

from sb3_contrib import TRPO as ContribTRPO

from rlzoo.algos.helpers import OneEnvAlgorithm
from rlzoo.base import AlgoType


class TRPO(OneEnvAlgorithm, ContribTRPO):
    """Trust Region Policy Optimization (Schulman et al. 2015, https://arxiv.org/abs/1502.05477), sb3-contrib's.

    The constructor is sb3-contrib's ``TRPO``. The original's (stable-baselines 2, one MPI worker) names map as:
    ``timesteps_per_batch`` -> ``n_steps``, ``vf_stepsize`` -> ``learning_rate`` (the critic's Adam step size),
    ``vf_iters`` -> ``n_critic_updates``, ``cg_iters`` -> ``cg_max_steps``, ``max_kl`` -> ``target_kl``, ``lam`` ->
    ``gae_lambda``; ``cg_damping`` and ``gamma`` keep their names. The original's entropy bonus in the surrogate
    (``entcoeff`` 0.01) has no sb3-contrib equivalent: this TRPO maximises the plain surrogate.
    """

    algo_type: ClassVar[AlgoType] = AlgoType.RL
