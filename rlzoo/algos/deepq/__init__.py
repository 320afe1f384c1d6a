"""DeepQ: DQN with double Q-learning, dueling networks and prioritized replay as options."""

from rlzoo.algos.deepq.deepq import DeepQ

__all__ = ["DeepQ"]
