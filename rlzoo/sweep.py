"""Sweep bookkeeping: recording a failed job, and the summary printed after ``python main.py -m ...``."""

from __future__ import annotations

import json
import logging
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from rlzoo.callbacks import METRICS_FILE
from rlzoo.files import write_json

log = logging.getLogger(__name__)
TRACEBACK_LINES = 8


def record_failure(run_dir: Path, error: BaseException) -> None:
    """Mark a run folder's ``metrics.json`` as failed, with the error and the last lines of its traceback."""
    path = run_dir / METRICS_FILE
    metrics = json.loads(path.read_text()) if path.exists() else {}
    lines = "".join(traceback.format_exception(error)).rstrip().splitlines()
    metrics.update(status="failed", error=f"{type(error).__name__}: {error}", traceback=lines[-TRACEBACK_LINES:])
    write_json(path, metrics)


@dataclass
class JobSummary:
    """The outcome of one job of a sweep."""

    folder: Path
    status: str
    timesteps: int | None = None
    mean_reward: float | None = None
    error: str | None = None


def summarize(sweep_dir: Path) -> list[JobSummary]:
    """One :class:`JobSummary` per job folder (a folder with ``.hydra/``) under ``sweep_dir``."""
    jobs = []
    for folder in sorted(p.parent for p in Path(sweep_dir).glob("*/.hydra")):
        path = folder / METRICS_FILE
        metrics: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"status": "not started"}
        jobs.append(JobSummary(folder=folder, status=metrics["status"], timesteps=metrics.get("timesteps"),
                               mean_reward=metrics.get("mean_reward_last_100"), error=metrics.get("error")))
    return jobs


def format_summary(jobs: list[JobSummary]) -> str:
    """A short report: one line per job, then the count of each status."""
    lines = []
    for job in jobs:
        reward = "" if job.mean_reward is None else f"  mean reward {job.mean_reward:.2f}"
        steps = "" if job.timesteps is None else f"  {job.timesteps} steps"
        lines.append(f"  {job.status:<11} {job.folder.name}{steps}{reward}")
        if job.error:
            lines.append(f"              {job.error}  (log: {job.folder / 'main.log'})")
    counts: dict[str, int] = {}
    for job in jobs:
        counts[job.status] = counts.get(job.status, 0) + 1
    lines.append("  " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    return "\n".join(lines)


class SweepSummary(Callback):
    """Hydra callback: after a multirun, print each job's outcome; exit with status 1 if any job failed."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        jobs = summarize(sweep_dir)
        log.info("Sweep %s:\n%s", sweep_dir, format_summary(jobs))
        if any(job.status == "failed" for job in jobs):
            raise SystemExit(1)
