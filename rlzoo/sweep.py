"""Sweep bookkeeping: recording a failed job, the summary printed after ``python main.py -m ...``, and the
callback that turns a failed job into a failed Optuna trial. ``python -m rlzoo.sweep_status <sweep dir>`` reports
on a sweep folder at any time (also while its jobs run)."""

from __future__ import annotations

import logging
import math
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from rlzoo.files import write_json
from rlzoo.run_folder import HYDRA_DIR, LOG_FILE, METRICS_FILE, read_metrics

log = logging.getLogger(__name__)
TRACEBACK_LINES = 8


def record_failure(run_dir: Path, error: BaseException) -> None:
    """Mark a run folder's ``metrics.json`` as failed, with the error and the last lines of its traceback."""
    metrics = read_metrics(run_dir)
    lines = "".join(traceback.format_exception(error)).rstrip().splitlines()
    metrics.update(status="failed", error=f"{type(error).__name__}: {error}", traceback=lines[-TRACEBACK_LINES:])
    write_json(run_dir / METRICS_FILE, metrics)


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
    for folder in sorted(p.parent for p in Path(sweep_dir).glob(f"*/{HYDRA_DIR}")):
        metrics: dict[str, Any] = read_metrics(folder)
        jobs.append(JobSummary(folder=folder, status=metrics.get("status", "not started"),
                               timesteps=metrics.get("timesteps"), mean_reward=metrics.get("mean_reward_last_100"),
                               error=metrics.get("error")))
    return jobs


def format_summary(jobs: list[JobSummary]) -> str:
    """A short report: one line per job, then the count of each status."""
    lines = []
    for job in jobs:
        reward = "" if job.mean_reward is None else f"  mean reward {job.mean_reward:.2f}"
        if job.mean_reward is None and job.status == "finished":
            reward = "  no episode finished: no mean reward"
        steps = "" if job.timesteps is None else f"  {job.timesteps} steps"
        lines.append(f"  {job.status:<11} {job.folder.name}{steps}{reward}")
        if job.error:
            lines.append(f"              {job.error}  (log: {job.folder / LOG_FILE})")
    counts: dict[str, int] = {}
    for job in jobs:
        counts[job.status] = counts.get(job.status, 0) + 1
    lines.append("  " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    return "\n".join(lines)


OPTUNA_RESULTS_FILE = "optimization_results.yaml"


def format_optuna_results(sweep_dir: Path) -> str | None:
    """The best value and parameters an Optuna search wrote to its sweep folder, or None (not an Optuna sweep)."""
    path = Path(sweep_dir) / OPTUNA_RESULTS_FILE
    if not path.exists():
        return None
    results = OmegaConf.load(path)
    if results.get("best_params") is None:
        return f"  Optuna results: {path} (no trial completed)"
    params = "\n".join(f"    {key}={value}" for key, value in results.best_params.items())
    return f"  Optuna best value {results.best_value} with ({path}):\n{params}"


class SweepSummary(Callback):
    """Hydra callback: after a multirun, print each job's outcome (and an Optuna search's best parameters); exit
    with status 1 if any job failed.

    :param fail_on_failed_jobs: exit with status 1 when a job failed (an Optuna search sets it false: a failed trial
        is part of the search, whose results are written anyway).
    """

    def __init__(self, fail_on_failed_jobs: bool = True) -> None:
        self.fail_on_failed_jobs = fail_on_failed_jobs

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        jobs = summarize(sweep_dir)
        report = format_summary(jobs)
        optuna = format_optuna_results(sweep_dir)
        log.info("Sweep %s:\n%s", sweep_dir, report + ("\n" + optuna if optuna else ""))
        if self.fail_on_failed_jobs and any(job.status == "failed" for job in jobs):
            raise SystemExit(1)


class JobFailed(RuntimeError):
    """A job of a sweep gave no mean reward: it failed (its ``metrics.json`` holds the error and the last lines of
    the traceback) or finished no episode."""


class FailedTrials(Callback):
    """Hydra callback for Optuna searches: a job that returned NaN (it failed, see ``main_task``, or finished no
    episode) is reported to the sweeper as a failed job, so that Optuna records a failed trial.

    Without it, hydra-optuna-sweeper 1.3.0 with optuna 2.10 stops the whole search at the first NaN: ``study.tell``
    refuses NaN, and the sweeper's fallback then tells the failure with the NaN value, which optuna refuses again.
    Runs in the job's process, before the job's result goes back to the sweeper.
    """

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if job_return.status != JobStatus.COMPLETED:
            return
        value = job_return.return_value
        if isinstance(value, float) and math.isnan(value):
            run_dir = Path(job_return.working_dir or ".")
            if job_return.hydra_cfg is not None:
                run_dir = Path(job_return.hydra_cfg.hydra.runtime.output_dir)
            job_return.status = JobStatus.FAILED
            job_return.return_value = JobFailed(f"no mean reward: the job failed or finished no episode; see "
                                                f"{run_dir / METRICS_FILE} and {run_dir / LOG_FILE}")
