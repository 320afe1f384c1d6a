"""The algorithm registry: every ``conf/algo/<name>.yaml`` and the class its ``_target_`` names.

The registry holds metadata only (algorithm type and action types, read from the class); nothing dispatches on
algorithm names. Adding an algorithm means adding a class and its YAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from hydra.utils import get_class
from omegaconf import OmegaConf

from rlzoo.base import ActionType, AlgoType, ToolboxAlgorithm

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
#: packages a ``_target_`` may come from
ALLOWED_TARGET_PREFIXES = ("rlzoo.", "envs.", "srl.")


@dataclass(frozen=True)
class AlgoInfo:
    """What the registry knows of one algorithm."""

    name: str
    cls: type
    algo_type: AlgoType
    action_types: tuple[ActionType, ...]


def load_algo_class(target: str) -> type:
    """Import the class a ``_target_`` names; it must be a toolbox algorithm from an allowed package."""
    if not target.startswith(ALLOWED_TARGET_PREFIXES):
        raise ValueError(f"_target_ {target!r} is outside the allowed packages {', '.join(ALLOWED_TARGET_PREFIXES)}")
    cls = get_class(target)
    if not issubclass(cls, ToolboxAlgorithm):
        raise ValueError(f"{target} does not implement rlzoo.base.ToolboxAlgorithm")
    return cls


def algo_names() -> list[str]:
    """The option names of the ``algo`` config group."""
    return sorted(path.stem for path in (CONF_DIR / "algo").glob("*.yaml"))


@lru_cache(maxsize=None)
def algo_info(name: str) -> AlgoInfo:
    """Registry entry of ``conf/algo/<name>.yaml``."""
    target = OmegaConf.load(CONF_DIR / "algo" / f"{name}.yaml")["_target_"]
    cls = load_algo_class(target)
    return AlgoInfo(name=name, cls=cls, algo_type=cls.algo_type, action_types=tuple(cls.action_types))


def algorithms() -> dict[str, AlgoInfo]:
    """Every registered algorithm by name."""
    return {name: algo_info(name) for name in algo_names()}
