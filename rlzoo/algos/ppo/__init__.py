from rlzoo.algos.ppo.ppo2 import PPO2
from rlzoo.algos.ppo.recurrent import RecurrentPPO2

__all__ = ["PPO2", "RecurrentPPO2"]
