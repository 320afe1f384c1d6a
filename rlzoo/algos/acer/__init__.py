"""ACER: actor-critic with experience replay, Retrace and an efficient trust region."""

from rlzoo.algos.acer.acer import ACER

__all__ = ["ACER"]
