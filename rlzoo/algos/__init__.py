"""Every toolbox algorithm class (the ``_target_`` of ``conf/algo/<name>.yaml``)."""

from rlzoo.algos.a2c import A2C
from rlzoo.algos.acer import ACER
from rlzoo.algos.acktr import ACKTR
from rlzoo.algos.ars import ARS
from rlzoo.algos.cmaes import CMAES
from rlzoo.algos.ddpg import DDPG
from rlzoo.algos.deepq import DeepQ
from rlzoo.algos.ppo import PPO2, RecurrentPPO2
from rlzoo.algos.ppo1 import PPO1
from rlzoo.algos.random_agent import RandomAgent
from rlzoo.algos.sac import SAC
from rlzoo.algos.td3 import TD3
from rlzoo.algos.tqc import TQC
from rlzoo.algos.trpo import TRPO

__all__ = ["ACER", "ACKTR", "DeepQ", "PPO2", "RecurrentPPO2"]
__all__ += ["A2C", "ARS", "CMAES", "DDPG", "PPO1", "SAC", "TD3", "TQC", "TRPO", "RandomAgent"]
