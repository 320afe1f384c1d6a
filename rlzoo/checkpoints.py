"""Periodic checkpoints of a run: ``checkpoints/step_<timesteps>/`` with the model, the normalisation statistics
and ``state.json`` (what resuming needs). A checkpoint folder is written under a temporary name and renamed when
complete, so a killed process never leaves a half-written checkpoint behind a valid name."""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rlzoo.files import save_model, save_normalization, write_json
from rlzoo.run_folder import (CHECKPOINT_DIR, MODEL_FILE, NORMALIZATION_FILE, STATE_FILE, checkpoint_name, checkpoints,
                              read_state)


@dataclass
class CheckpointState:
    """Run progress saved with each checkpoint.

    :param timesteps: environment steps trained so far (all envs).
    :param episodes_per_env: finished episodes of each env worker (= rows of its monitor CSV).
    :param wall_time_s: training wall time so far (s).
    :param best_mean_reward: best mean reward of the last 100 episodes seen so far (None: not yet measured).
    :param model_class: import path of the model's class (what ``load`` must be called on).
    """

    timesteps: int
    episodes_per_env: list[int] = field(default_factory=list)
    wall_time_s: float = 0.0
    best_mean_reward: float | None = None
    model_class: str = ""


def save_checkpoint(run_dir: Path, model: Any, venv: Any, state: CheckpointState, keep: int) -> Path:
    """Write a checkpoint and keep only the ``keep`` newest ones; returns its folder."""
    root = run_dir / CHECKPOINT_DIR
    final = root / checkpoint_name(state.timesteps)
    tmp = root / f".tmp_{final.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_model(model, tmp / MODEL_FILE)
    save_normalization(venv, tmp / NORMALIZATION_FILE)
    write_json(tmp / STATE_FILE, asdict(state))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    for stale in root.glob(".tmp_*"):
        shutil.rmtree(stale, ignore_errors=True)
    return final


def load_state(checkpoint: Path) -> CheckpointState:
    """The progress saved in a checkpoint folder."""
    return CheckpointState(**read_state(checkpoint))
