"""Shared fixtures: composing the real config, running ``main.py`` as a user would, and a sprite cache for the
session."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from envs.rendering.sprite_cache import CACHE_ENV_VAR
from rlzoo.config import register_configs

ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = ROOT / "conf"
#: overrides that make a training run take a second or two
FAST = ["total_timesteps=512", "n_envs=2", "algo.n_steps=64", "algo.n_minibatches=2", "checkpoint_interval=256",
        "log_interval=256", "live_plots=none"]

register_configs()


def compose_run(overrides: list[str]) -> tuple[DictConfig, dict[str, str]]:
    """The composed config and group choices for ``overrides``, as ``main.py`` would get them."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides, return_hydra_config=True)
    choices = {k: v for k, v in cfg.hydra.runtime.choices.items() if v is not None and not k.startswith("hydra")}
    return cfg, choices


def run_main(args: list[str], timeout: float = 300, env_overrides: dict[str, str] | None = None,
             **popen: object) -> subprocess.CompletedProcess:
    """Run ``python main.py <args>`` from the repository root and capture its output."""
    env = {**os.environ, "PYTHONHASHSEED": "0", "HYDRA_FULL_ERROR": "0", **(env_overrides or {})}
    return subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env, **popen)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A fresh run folder path (not created)."""
    return tmp_path / "run"


@pytest.fixture(scope="session", autouse=True)
def render_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The sprite cache (``envs/rendering/sprite_cache.py``) of the test session and of the processes it starts, in
    a temporary folder: a bank is rendered once per session, later processes load it, and the repository's
    ``render_cache/`` is never touched."""
    folder = tmp_path_factory.mktemp("render_cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV_VAR, str(folder))
        yield folder
