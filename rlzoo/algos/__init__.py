"""Every toolbox algorithm class (the ``_target_`` of ``conf/algo/<name>.yaml``)."""

from rlzoo.algos.ppo import PPO2

__all__ = ["PPO2"]
