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

import glob
import json
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import yaml

logger = logging.getLogger(__name__)

#: Suffix of the files written by ``stable_baselines3.common.monitor.Monitor`` (``<rank>.monitor.csv``).
MONITOR_SUFFIX = "monitor.csv"
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


def _rank_key(path: str) -> tuple[int, str]:
    """Sort ``<rank>.monitor.csv`` files by their numeric rank, others after them by name."""
    match = re.match(r"(\d+)\.", os.path.basename(path))
    return (int(match.group(1)) if match else 1 << 30, os.path.basename(path))


def monitor_files(run_dir: str) -> list[str]:
    """The monitor files directly inside a run folder, in rank order."""
    return sorted(glob.glob(os.path.join(glob.escape(run_dir), "*" + MONITOR_SUFFIX)), key=_rank_key)


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


def load_episodes(run_dir: str) -> Episodes:
    """All finished episodes of a run folder, merged over its ``<rank>.monitor.csv`` files.

    :param run_dir: the run folder.
    :return: the merged episodes (empty if the run has no monitor file or no episode yet).
    """
    return merge_monitor_files([read_monitor_file(path) for path in monitor_files(run_dir)])


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


def _load_yaml(path: str) -> dict[str, Any]:
    """A YAML file as a dict; an empty dict if it is missing or unreadable."""
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except yaml.YAMLError as exc:
        logger.warning("%s: unreadable YAML (%s)", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def _name_from_node(node: Any) -> str | None:
    """A name for a config group node that is either a plain string or a dict with a ``name``/``id`` key."""
    if isinstance(node, str):
        return node
    if isinstance(node, dict):
        for key in ("name", "id"):
            if isinstance(node.get(key), str):
                return node[key]
    return None


def read_metrics(run_dir: str) -> dict[str, Any]:
    """The run's ``metrics.json`` summary (status, timesteps, ...); an empty dict if missing or being rewritten."""
    path = os.path.join(run_dir, "metrics.json")
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (ValueError, OSError):
        logger.warning("%s: unreadable metrics.json", run_dir)
        return {}
    return data if isinstance(data, dict) else {}


def read_run_info(run_dir: str) -> RunInfo:
    """Read the labels of a run folder.

    Option names come from ``.hydra/hydra.yaml`` (``hydra.runtime.choices``); without it, from the config
    (``env.id``, ``srl_model.name``, ``algo.name``) and then from the single-run folder layout
    ``<env>/<srl_model>/<algo>/<date_time>``.

    :param run_dir: the run folder.
    :return: its labels.
    """
    config = _load_yaml(os.path.join(run_dir, ".hydra", "config.yaml"))
    hydra_cfg = _load_yaml(os.path.join(run_dir, ".hydra", "hydra.yaml")).get("hydra", {}) or {}
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


def is_run_dir(path: str) -> bool:
    """True for a run folder: it has ``.hydra/config.yaml`` or at least one monitor file."""
    return os.path.isfile(os.path.join(path, ".hydra", "config.yaml")) or bool(monitor_files(path))


def find_runs(folder: str) -> list[str]:
    """The run folders at or under ``folder`` (a run, a sweep, or any folder of runs), sorted by path.

    A run folder is not searched further; ``.hydra`` folders are skipped.

    :param folder: where to look.
    :return: the run folders.
    """
    if is_run_dir(folder):
        return [folder]
    runs = []
    for root, dirs, _files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if root != folder and is_run_dir(root):
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
