"""TQC (sb3-contrib) on one env, with sb3-contrib's defaults: not in the original toolbox."""

from __future__ import annotations

from typing import ClassVar

from sb3_contrib import TQC as ContribTQC

from rlzoo.algos.helpers import OneEnvAlgorithm
from rlzoo.base import ActionType, AlgoType, SearchParam


class TQC(OneEnvAlgorithm, ContribTQC):
    """Truncated Quantile Critics (Kuznetsov et al. 2020, https://arxiv.org/abs/2005.04269), sb3-contrib's.

    The constructor is sb3-contrib's ``TQC``; like the toolbox's other off-policy learners it trains on one env.
    """

    algo_type: ClassVar[AlgoType] = AlgoType.RL
    action_types: ClassVar[tuple[ActionType, ...]] = (ActionType.CONTINUOUS,)

    @classmethod
    def search_space(cls) -> dict[str, SearchParam]:
        """Usual TQC ranges (not from the original toolbox, which had no TQC)."""
        return {
            "learning_rate": SearchParam("float", 1e-5, 1e-2, log=True),
            "gamma": SearchParam("float", 0.9, 0.9999),
            "tau": SearchParam("float", 1e-3, 0.05, log=True),
            "batch_size": SearchParam("int", 32, 512),
            "top_quantiles_to_drop_per_net": SearchParam("int", 0, 5),
        }
