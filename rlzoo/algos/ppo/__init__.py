from rlzoo.algos.ppo.ppo2 import PPO2

__all__ = ["PPO2"]
