"""SAC (Stable-Baselines3) on one env; ``conf/algo/sac.yaml`` holds the stable-baselines 2 defaults the original ran."""

from __future__ import annotations

from typing import ClassVar

from stable_baselines3 import SAC as SB3SAC

from rlzoo.algos.helpers import OneEnvAlgorithm
from rlzoo.base import ActionType, AlgoType


class SAC(OneEnvAlgorithm, SB3SAC):
    """Soft Actor-Critic (Haarnoja et al. 2018, https://arxiv.org/abs/1801.01290), SB3's, on one env.

    The constructor is SB3's ``SAC``. The original built stable-baselines 2's SAC with ``verbose=1`` only: its
    ``--ent-coef 0.01`` and ``--batch-size 64`` options were never forwarded, so what ran were SB2's defaults
    (learning rate 3e-4, replay 50000, learning starts 100, batch 64, tau 0.005, ``ent_coef="auto"``, one gradient
    step per env step, 64x64 ReLU networks), which the YAML reproduces; ``ent_coef`` and ``batch_size`` are now real
    options. SB2's SAC learnt a state-value network; SB3's is the later variant with twin Q targets.
    """

    algo_type: ClassVar[AlgoType] = AlgoType.RL
    action_types: ClassVar[tuple[ActionType, ...]] = (ActionType.CONTINUOUS,)
