"""CMA-ES: an evolution strategy over the weights of a small policy network."""

from rlzoo.algos.cmaes.cmaes import CMAES

__all__ = ["CMAES"]
