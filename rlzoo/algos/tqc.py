"""TQC (sb3-contrib) on one env, with sb3-contrib's defaults: not in the original toolbox."""

from __future__ import annotations

from typing import ClassVar

from sb3_contrib import TQC as ContribTQC

from rlzoo.algos.helpers import OneEnvAlgorithm
from rlzoo.base import ActionType, AlgoType


class TQC(OneEnvAlgorithm, ContribTQC):
    """Truncated Quantile Critics (Kuznetsov et al. 2020, https://arxiv.org/abs/2005.04269), sb3-contrib's.

    The constructor is sb3-contrib's ``TQC``; like the toolbox's other off-policy learners it trains on one env.
    """

    algo_type: ClassVar[AlgoType] = AlgoType.RL
    action_types: ClassVar[tuple[ActionType, ...]] = (ActionType.CONTINUOUS,)
