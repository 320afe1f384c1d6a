"""Read training run folders: monitor CSV files, run labels from ``.hydra/`` and sweep discovery.

A run folder holds one Stable-Baselines3 ``Monitor`` file per env worker, ``<rank>.monitor.csv``::

    #{"t_start": 1700000000.5, "env_id": "MobileRobot-v0"}
    r,l,t
    12.0,251,3.061

(episode reward, episode length in steps, wall time in s since that worker's ``t_start``). As in the original
toolbox, the learning curve of a run merges the files of all workers sorted by absolute wall time; the x value of an
episode is the number of timesteps of all the episodes that finished before it.

Files are read while training may still append to them, so a last line without its newline is ignored (it is being
written), and so is any malformed row.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from rlzoo.files import atomic_file
from rlzoo.run_folder import is_run_folder, monitor_files, read_config, read_hydra, read_metrics

logger = logging.getLogger(__name__)

#: The label components that identify a method: one learning curve aggregated over seeds.
METHOD_KEYS = ("env", "srl_model", "algo")


class Episodes(NamedTuple):
    """The finished episodes of a run, merged over all env workers and sorted by wall time.

    Every field has shape ``(n_episodes,)``.
    """

    rewards: np.ndarray  #: episode return (float64)
    lengths: np.ndarray  #: episode length in env steps (int64)
    wall_times: np.ndarray  #: s since the earliest worker start (float64)
    timesteps: np.ndarray  #: env steps of all earlier episodes, i.e. cumulative steps *before* this one (int64)

    def __len__(self) -> int:  # type: ignore[override]
        return int(self.rewards.shape[0])

    @property
    def total_timesteps(self) -> int:
        """Env steps of all finished episodes."""
        return int(self.lengths.sum())


def empty_episodes() -> Episodes:
    """An :class:`Episodes` with no episode."""
    return Episodes(np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=np.int64))


@dataclass
class MonitorFile:
    """One parsed monitor file.

    :param path: the file.
    :param t_start: unix time (s) at which the worker started; episode wall times are relative to it.
    :param rewards: episode returns, shape ``(n,)``.
    :param lengths: episode lengths in steps, shape ``(n,)``.
    :param times: wall time (s since ``t_start``) at which each episode ended, shape ``(n,)``.
    """

    path: str
    t_start: float
    rewards: np.ndarray
    lengths: np.ndarray
    times: np.ndarray


def read_monitor_file(path: str) -> MonitorFile:
    """Parse one ``*.monitor.csv`` file, tolerating a file that is still being written.

    :param path: path of the monitor file.
    :return: its episodes; empty arrays if the header or the column line is not written yet.
    """
    with open(path, encoding="utf-8", newline="") as handle:
        text = handle.read()
    lines = text.split("\n")
    # The last element is "" when the file ends with a newline, otherwise a partly written line: drop it either way.
    lines = [line.rstrip("\r") for line in lines[:-1]]
    t_start = 0.0
    rewards: list[float] = []
    lengths: list[int] = []
    times: list[float] = []
    columns: list[str] | None = None
    for line in lines:
        if not line:
            continue
        if line.startswith("#"):
            try:
                t_start = float(json.loads(line[1:]).get("t_start", 0.0))
            except (ValueError, AttributeError):
                logger.warning("%s: unreadable monitor header %r", path, line)
            continue
        fields = line.split(",")
        if columns is None:
            columns = fields
            if not {"r", "l", "t"} <= set(columns):
                raise ValueError(f"{path}: monitor columns {columns} lack one of r, l, t")
            continue
        if len(fields) != len(columns):
            logger.debug("%s: skipping malformed row %r", path, line)
            continue
        row = dict(zip(columns, fields))
        try:
            reward, length, time_s = float(row["r"]), int(float(row["l"])), float(row["t"])
        except ValueError:
            logger.debug("%s: skipping malformed row %r", path, line)
            continue
        rewards.append(reward)
        lengths.append(length)
        times.append(time_s)
    return MonitorFile(
        path=path,
        t_start=t_start,
        rewards=np.asarray(rewards, dtype=np.float64),
        lengths=np.asarray(lengths, dtype=np.int64),
        times=np.asarray(times, dtype=np.float64),
    )


def merge_monitor_files(files: Sequence[MonitorFile]) -> Episodes:
    """Merge the episodes of several workers by absolute end time.

    Ties keep the order of ``files`` (rank order), which is the order in which a ``DummyVecEnv`` steps its envs.

    :param files: parsed monitor files of one run.
    :return: the merged episodes.
    """
    files = [f for f in files if len(f.rewards) > 0]
    if not files:
        return empty_episodes()
    t0 = min(f.t_start for f in files)
    rewards = np.concatenate([f.rewards for f in files])
    lengths = np.concatenate([f.lengths for f in files])
    # Subtract the earliest start before adding, so the sort key keeps microsecond precision.
    wall = np.concatenate([f.times + (f.t_start - t0) for f in files])
    order = np.argsort(wall, kind="stable")
    rewards, lengths, wall = rewards[order], lengths[order], wall[order]
    timesteps = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return Episodes(rewards=rewards, lengths=lengths, wall_times=wall, timesteps=timesteps)


def truncate_monitor(path: Path, n_episodes: int) -> None:
    """Keep the two header lines and the first ``n_episodes`` rows of a monitor CSV (drops a torn last line).

    Resuming cuts each worker's file back to the episodes its checkpoint counted, so nothing is counted twice.
    """
    if not path.exists():
        return
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    kept = [line for line in lines[: 2 + n_episodes] if line]
    with atomic_file(path) as f:
        f.write(b"\n".join(kept) + b"\n")


def load_episodes(run_dir: str | Path) -> Episodes:
    """All finished episodes of a run folder, merged over its ``<rank>.monitor.csv`` files.

    :param run_dir: the run folder.
    :return: the merged episodes (empty if the run has no monitor file or no episode yet).
    """
    return merge_monitor_files([read_monitor_file(str(path)) for path in monitor_files(run_dir)])


@dataclass
class RunInfo:
    """Labels of one run folder, read from ``.hydra/`` (with fallbacks for folders written by hand).

    :param path: the run folder.
    :param env: env option name (``hydra.runtime.choices.env``, e.g. ``MobileRobot``).
    :param srl_model: SRL model option name (e.g. ``ground_truth``).
    :param algo: algorithm option name (e.g. ``ppo2``).
    :param action_space: action space option name (e.g. ``discrete``), None if unknown.
    :param seed: the run's seed, None if unknown.
    :param env_id: the gymnasium id (``env.id`` in the config), None if unknown.
    :param override_dirname: Hydra's ``override_dirname`` of the job ("" for a plain run).
    :param status: ``status`` from ``metrics.json`` (``running``, ``finished``, ...), None without the file.
    :param timesteps: env steps the run has done (``timesteps`` from ``metrics.json``), None without the file.
    :param config: the run's config as a plain dict (empty without ``.hydra/config.yaml``).
    """

    path: str
    env: str
    srl_model: str
    algo: str
    action_space: str | None = None
    seed: int | None = None
    env_id: str | None = None
    override_dirname: str = ""
    status: str | None = None
    timesteps: int | None = None
    config: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def method(self) -> tuple[str, str, str]:
        """``(env, srl_model, algo)``: runs with the same method differ only by seed (or other overrides)."""
        return (self.env, self.srl_model, self.algo)

    @property
    def label(self) -> str:
        """A short human-readable name of the run, e.g. ``MobileRobot/ground_truth/ppo2 seed=0``."""
        text = "/".join(self.method)
        return text if self.seed is None else f"{text} seed={self.seed}"


def _name_from_node(node: Any) -> str | None:
    """A name for a config group node that is either a plain string or a dict with a ``name``/``id`` key."""
    if isinstance(node, str):
        return node
    if isinstance(node, dict):
        for key in ("name", "id"):
            if isinstance(node.get(key), str):
                return node[key]
    return None


def read_run_info(run_dir: str) -> RunInfo:
    """Read the labels of a run folder.

    Option names come from ``.hydra/hydra.yaml`` (``hydra.runtime.choices``); without it, from the config
    (``env.id``, ``srl_model.name``, ``algo.name``) and then from the single-run folder layout
    ``<env>/<srl_model>/<algo>/<date_time>``.

    :param run_dir: the run folder.
    :return: its labels.
    """
    config = read_config(run_dir)
    hydra_cfg = read_hydra(run_dir)
    runtime = hydra_cfg.get("runtime", {}) or {}
    choices = runtime.get("choices", {}) or {}
    job = hydra_cfg.get("job", {}) or {}

    parts = os.path.normpath(os.path.abspath(run_dir)).split(os.sep)
    in_sweep = os.path.isfile(os.path.join(os.path.dirname(os.path.abspath(run_dir)), "multirun.yaml"))
    from_path = dict(zip(("env", "srl_model", "algo"), parts[-4:-1])) if len(parts) >= 5 and not in_sweep else {}

    def pick(key: str) -> str:
        for candidate in (choices.get(key), _name_from_node(config.get(key))):
            if isinstance(candidate, str) and candidate:
                return candidate
        return from_path.get(key, "unknown")

    env_node = config.get("env")
    env_id = env_node.get("id") if isinstance(env_node, dict) else None
    seed = config.get("seed")
    action_space = choices.get("action_space") or _name_from_node(config.get("action_space"))

    metrics = read_metrics(run_dir)
    status, timesteps = metrics.get("status"), metrics.get("timesteps")

    return RunInfo(
        path=run_dir,
        env=pick("env"),
        srl_model=pick("srl_model"),
        algo=pick("algo"),
        action_space=action_space,
        seed=int(seed) if isinstance(seed, (int, float)) and not isinstance(seed, bool) else None,
        env_id=env_id if isinstance(env_id, str) else None,
        override_dirname=str(job.get("override_dirname", "") or ""),
        status=status if isinstance(status, str) else None,
        timesteps=int(timesteps) if isinstance(timesteps, (int, float)) and not isinstance(timesteps, bool) else None,
        config=config,
    )


def find_runs(folder: str) -> list[str]:
    """The run folders at or under ``folder`` (a run, a sweep, or any folder of runs), sorted by path.

    A run folder is not searched further; ``.hydra`` folders are skipped.

    :param folder: where to look.
    :return: the run folders.
    """
    if is_run_folder(folder):
        return [folder]
    runs = []
    for root, dirs, _files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if root != folder and is_run_folder(root):
            runs.append(root)
            dirs[:] = []
    return sorted(runs)


def group_by_method(run_dirs: Sequence[str]) -> dict[tuple[str, str, str], list[RunInfo]]:
    """Read the labels of each run and group the runs by method ``(env, srl_model, algo)``, in sorted key order."""
    groups: dict[tuple[str, str, str], list[RunInfo]] = {}
    for run_dir in run_dirs:
        info = read_run_info(run_dir)
        groups.setdefault(info.method, []).append(info)
    return dict(sorted(groups.items()))
