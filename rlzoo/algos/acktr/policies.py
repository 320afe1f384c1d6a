"""ACKTR's policies are SB3's actor-critic policies; K-FAC is installed as their optimizer by ``ACKTR._setup_model``."""

from stable_baselines3.common.policies import ActorCriticCnnPolicy, ActorCriticPolicy

MlpPolicy = ActorCriticPolicy
CnnPolicy = ActorCriticCnnPolicy

__all__ = ["CnnPolicy", "MlpPolicy"]
