"""The run folder: every file name a run writes, and the readers of what it saved.

A run folder (``outputs/<env>/<srl_model>/<algo>/<date>_<time>_seed<seed>/``, or a job of a sweep) holds::

    .hydra/config.yaml, hydra.yaml, overrides.yaml   Hydra's record of the run (.hydra/resume/: a resuming command's)
    <rank>.monitor.csv                               one Stable-Baselines3 Monitor file per env worker
    model.zip, vecnormalize.pkl                      the final model and its observation statistics
    best_model.zip, best_vecnormalize.pkl            the best model so far and its statistics
    checkpoints/step_<timesteps>/                    model.zip, vecnormalize.pkl, state.json
    metrics.json                                     status, timesteps, episodes, rewards, model class
    job.json                                         the scheduler's job (SLURM or submitit), when there is one
    srl_model.json                                   the learned SRL model the run encodes images with
    main.log                                         the run's log
    tensorboard/                                     TensorBoard event files (live_plots=tensorboard or both)

This module is the only place that spells those names, and it imports nothing but the standard library and PyYAML,
so that reading a run (a sweep's status, a plot) loads neither torch nor an env.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

HYDRA_DIR = ".hydra"
#: where a resuming command's Hydra files go (the run's own ``.hydra/`` is kept)
RESUME_HYDRA_DIR = f"{HYDRA_DIR}/resume"
CONFIG_FILE = "config.yaml"
HYDRA_FILE = "hydra.yaml"
#: suffix of the files written by ``stable_baselines3.common.monitor.Monitor``
MONITOR_SUFFIX = ".monitor.csv"
MODEL_FILE = "model.zip"
NORMALIZATION_FILE = "vecnormalize.pkl"
BEST_MODEL_FILE = "best_model.zip"
BEST_NORMALIZATION_FILE = "best_vecnormalize.pkl"
METRICS_FILE = "metrics.json"
JOB_FILE = "job.json"
LOG_FILE = "main.log"
#: TensorBoard event files of the run (``live_plots=tensorboard`` or ``both``)
TENSORBOARD_DIR = "tensorboard"
#: the SRL model a run encodes its images with (its folder), so that resuming and replay use the same one
SRL_MODEL_RECORD = "srl_model.json"
CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_PREFIX = "step_"
STATE_FILE = "state.json"
#: what a run writes that a restart from zero must not append to (monitors) or show (stale metrics, best model)
PARTIAL_OUTPUTS = (f"*{MONITOR_SUFFIX}", METRICS_FILE, BEST_MODEL_FILE, BEST_NORMALIZATION_FILE)
#: what a folder may hold when a run was refused before it started (Hydra's record and the log)
STARTUP_FILES = (HYDRA_DIR, LOG_FILE)


# --- paths --------------------------------------------------------------------------------------------------------
def config_path(run_dir: Path | str) -> Path:
    """``<run_dir>/.hydra/config.yaml``: the run's composed config."""
    return Path(run_dir) / HYDRA_DIR / CONFIG_FILE


def monitor_path(run_dir: Path | str, rank: int) -> Path:
    """The monitor CSV of env worker ``rank``: ``<run_dir>/<rank>.monitor.csv``."""
    return Path(run_dir) / f"{rank}{MONITOR_SUFFIX}"


def _rank_key(path: Path) -> tuple[int, str]:
    match = re.match(r"(\d+)\.", path.name)
    return (int(match.group(1)) if match else 1 << 30, path.name)


def monitor_files(run_dir: Path | str) -> list[Path]:
    """The monitor files directly inside a run folder, in rank order (others after them, by name)."""
    folder = Path(run_dir)
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if p.name.endswith(MONITOR_SUFFIX)), key=_rank_key)


def model_files(best: bool = False) -> tuple[str, str]:
    """``(model, normalisation statistics)`` file names of the final model, or of the best one with ``best``."""
    return (BEST_MODEL_FILE, BEST_NORMALIZATION_FILE) if best else (MODEL_FILE, NORMALIZATION_FILE)


def checkpoint_name(timesteps: int) -> str:
    """The folder name of the checkpoint at ``timesteps``: ``step_<timesteps, 10 digits>``."""
    return f"{CHECKPOINT_PREFIX}{timesteps:010d}"


def checkpoints(run_dir: Path | str) -> list[Path]:
    """The complete checkpoint folders of a run (those with ``state.json``), oldest first."""
    root = Path(run_dir) / CHECKPOINT_DIR
    if not root.is_dir():
        return []
    complete = [p for p in root.iterdir() if p.name.startswith(CHECKPOINT_PREFIX) and (p / STATE_FILE).exists()]
    return sorted(complete, key=lambda p: int(p.name.removeprefix(CHECKPOINT_PREFIX)))


def latest_checkpoint(run_dir: Path | str) -> Path | None:
    """The newest complete checkpoint folder of a run, or None."""
    found = checkpoints(run_dir)
    return found[-1] if found else None


def is_run_folder(path: Path | str) -> bool:
    """True for a run folder: it has ``.hydra/config.yaml`` or at least one monitor file."""
    return config_path(path).is_file() or bool(monitor_files(path))


def is_started(run_dir: Path | str) -> bool:
    """True when a run folder holds more than a refused start leaves (Hydra's record and the log)."""
    folder = Path(run_dir)
    return folder.is_dir() and any(p.name not in STARTUP_FILES for p in folder.iterdir())


def claim_new_folder(path: Path | str) -> str:
    """Create and return a folder no other launch has: ``path``, else ``path_2``, ``path_3``, ...

    ``mkdir`` without ``exist_ok`` is atomic, so two launches in the same second (the default folder names have
    one-second resolution) never share a folder, on one machine or on a shared file system.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    candidate, n = path, 1
    while True:
        try:
            candidate.mkdir()
            return str(candidate)
        except FileExistsError:
            n += 1
            candidate = path.with_name(f"{path.name}_{n}")


# --- readers ------------------------------------------------------------------------------------------------------
def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        log.warning("%s: unreadable YAML (%s)", path, error)
        return {}
    return data if isinstance(data, dict) else {}


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError):
        log.warning("%s: unreadable (being rewritten?)", path)
        return {}
    return data if isinstance(data, dict) else {}


def read_config(run_dir: Path | str) -> dict[str, Any]:
    """The run's config (``.hydra/config.yaml``) as plain data; empty if the file is missing."""
    return _read_yaml(config_path(run_dir))


def read_hydra(run_dir: Path | str) -> dict[str, Any]:
    """Hydra's own record of the run (the ``hydra`` node of ``.hydra/hydra.yaml``); empty if missing."""
    return _read_yaml(Path(run_dir) / HYDRA_DIR / HYDRA_FILE).get("hydra") or {}


def read_choices(run_dir: Path | str) -> dict[str, str]:
    """The chosen option of each config group (``hydra.runtime.choices``, e.g. ``{"algo": "ppo2"}``)."""
    choices = (read_hydra(run_dir).get("runtime") or {}).get("choices") or {}
    return {str(k): str(v) for k, v in choices.items() if v is not None and not str(k).startswith("hydra")}


def read_metrics(run_dir: Path | str) -> dict[str, Any]:
    """The run's ``metrics.json`` summary (status, timesteps, ...); empty if missing or being rewritten."""
    return _read_json(Path(run_dir) / METRICS_FILE)


def read_job(run_dir: Path | str) -> dict[str, Any]:
    """The scheduler's record of the job (``job.json``); empty if the run was not a scheduler's job."""
    return _read_json(Path(run_dir) / JOB_FILE)


def read_state(checkpoint: Path | str) -> dict[str, Any]:
    """The progress saved in a checkpoint folder (``state.json``)."""
    return json.loads((Path(checkpoint) / STATE_FILE).read_text(encoding="utf-8"))


def read_srl_model(run_dir: Path | str) -> Path | None:
    """The folder of the learned SRL model the run encoded its images with (``srl_model.json``), or None."""
    path = _read_json(Path(run_dir) / SRL_MODEL_RECORD).get("path")
    return Path(path) if path else None


def saved_model_class(run_dir: Path | str) -> str | None:
    """Import path of the class the run's models were saved from (what ``load`` must be called on).

    Read from ``metrics.json``, else from the newest checkpoint's ``state.json``; None when neither says (the
    algorithm's registered class then loads the model).
    """
    name = read_metrics(run_dir).get("model_class")
    if not name:
        checkpoint = latest_checkpoint(run_dir)
        name = read_state(checkpoint).get("model_class") if checkpoint is not None else None
    return str(name) if name else None

