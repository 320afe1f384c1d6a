"""ACKTR: actor-critic with a K-FAC natural-gradient trust region."""

from rlzoo.algos.acktr.acktr import ACKTR

__all__ = ["ACKTR"]
