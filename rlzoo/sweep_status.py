"""The state of a sweep folder, at any time: ``python -m rlzoo.sweep_status <sweep dir> [--json]``.

For each job: finished, failed (with the last lines of its error and the log to read), interrupted, running,
requeued (a SLURM job waiting to resume from its checkpoint), pending (queued, not started), or lost (recorded as
running, but its SLURM job or process is gone); its timesteps and the mean reward of its last 100 episodes; and an
Optuna search's best parameters. A run's ``metrics.json`` says what the run recorded; for jobs of a scheduler,
``job.json`` (rlzoo/cluster.py) names the SLURM job or process, which ``squeue`` or the process table confirms.
Exit status: 0, or 1 when a job failed or was lost, 2 when the folder is not a sweep folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rlzoo.run_folder import HYDRA_DIR, LOG_FILE, read_job, read_metrics
from rlzoo.sweep import format_optuna_results, summarize

SUBMITIT_DIR = ".submitit"
ERROR_LINES = 3
#: statuses that make the exit status 1
BAD = ("failed", "lost")


@dataclass
class JobState:
    """What is known of one job of a sweep.

    :param name: the run folder's name, or ``slurm job <id>`` for a job that has no run folder yet.
    :param status: finished, failed, interrupted, running, requeued, pending, lost or not started.
    :param folder: the run folder (None: not created yet).
    :param timesteps: timesteps trained (metrics.json).
    :param mean_reward: mean reward of the last 100 episodes (metrics.json).
    :param error: the error of a failed job.
    :param error_lines: the last lines of its traceback.
    :param log: the log to read (main.log, or the submitit log of a job that has no run folder).
    :param job_id: the scheduler's job id (SLURM) or process id.
    :param scheduler_state: what squeue says (RUNNING, PENDING: BeginTime, ...) or ``process alive``.
    """

    name: str
    status: str
    folder: Path | None = None
    timesteps: int | None = None
    mean_reward: float | None = None
    error: str | None = None
    error_lines: list[str] = field(default_factory=list)
    log: Path | None = None
    job_id: str | None = None
    scheduler_state: str | None = None


def squeue_states() -> dict[str, str] | None:
    """``{job id: "STATE" or "STATE: reason"}`` of this user's SLURM jobs, array tasks by ``<array>_<task>``;
    None when squeue is not available or fails."""
    if shutil.which("squeue") is None:
        return None
    user = os.environ.get("USER") or os.environ.get("LOGNAME")
    command = ["squeue", "-h", "-o", "%i|%T|%r"] + (["-u", user] if user else [])
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    from submitit.slurm.slurm import read_job_id

    states: dict[str, str] = {}
    for line in out.splitlines():
        job, state, reason = (line.split("|") + ["", ""])[:3]
        text = state if reason in ("", "None") else f"{state}: {reason}"
        try:
            parsed = read_job_id(job.strip())
        except Exception:  # noqa: BLE001 - an id squeue prints in a form we do not know: keep it as it is
            parsed = [(job.strip(),)]
        for ids in parsed:
            if len(ids) >= 3:
                for task in range(int(ids[1]), int(ids[2]) + 1):
                    states[f"{ids[0]}_{task}"] = text
            else:
                states["_".join(ids[:2])] = text
    return states


def _process_alive(record: dict[str, Any]) -> bool | None:
    """Whether the process of a job record still runs (None: another host, cannot tell)."""
    if record.get("host") != socket.gethostname() or not record.get("pid"):
        return None
    try:
        os.kill(int(record["pid"]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _submitit_log(sweep_dir: Path, job_id: str) -> Path | None:
    folder = sweep_dir / SUBMITIT_DIR / job_id
    for name in (f"{job_id}_0_log.err", f"{job_id}_0_log.out"):
        if (folder / name).exists():
            return folder / name
    return None


def sweep_state(sweep_dir: Path, queue: dict[str, str] | None = None) -> list[JobState]:
    """The state of every job of ``sweep_dir``; ``queue`` is :func:`squeue_states`' answer (asked when needed)."""
    sweep_dir = Path(sweep_dir)
    jobs: list[JobState] = []
    seen_ids: set[str] = set()
    submitit_ids = sorted(p.name for p in (sweep_dir / SUBMITIT_DIR).glob("*") if p.is_dir())
    summary = summarize(sweep_dir)
    records = {job.folder: read_job(job.folder) for job in summary}
    needs_queue = submitit_ids or any(r and r.get("scheduler") == "slurm" for r in records.values())
    if queue is None and needs_queue:
        queue = squeue_states()

    for job in summary:
        metrics = read_metrics(job.folder)
        record = records.get(job.folder) or {}
        state = JobState(name=job.folder.name, status=job.status, folder=job.folder, timesteps=job.timesteps,
                         mean_reward=job.mean_reward, error=job.error, log=job.folder / LOG_FILE)
        if job.error:
            state.error_lines = list(metrics.get("traceback") or [])[-ERROR_LINES:]
        if record.get("scheduler") == "slurm" and record.get("job_id"):
            state.job_id = str(record["job_id"])
            seen_ids.add(state.job_id)
            in_queue = None if queue is None else queue.get(state.job_id)
            state.scheduler_state = in_queue
            if job.status in ("running", "not started", "interrupted") and queue is not None:
                if in_queue is None:
                    state.status = "lost" if job.status != "interrupted" else "interrupted"
                elif in_queue.startswith(("PENDING", "REQUEUE", "CONFIGURING")):
                    state.status = "requeued"
                else:
                    state.status = "running"
            if state.status == "lost":
                state.log = _submitit_log(sweep_dir, state.job_id) or state.log
        elif record.get("pid") and job.status in ("running", "not started"):
            state.job_id = str(record["pid"])
            alive = _process_alive(record)
            state.scheduler_state = {True: "process alive", False: "no such process", None: None}[alive]
            if alive is False:
                state.status = "lost"
            elif alive:
                state.status = "running"
        jobs.append(state)

    for job_id in submitit_ids:  # queued jobs that have no run folder yet
        if job_id in seen_ids or queue is None or job_id not in queue:
            continue
        waiting = queue[job_id]
        jobs.append(JobState(name=f"slurm job {job_id}", job_id=job_id, scheduler_state=waiting,
                             status="pending" if waiting.startswith("PENDING") else "running",
                             log=_submitit_log(sweep_dir, job_id)))
    return jobs


def format_state(sweep_dir: Path, jobs: list[JobState]) -> str:
    """The report printed by ``python -m rlzoo.sweep_status``."""
    lines = [f"Sweep {sweep_dir}: {len(jobs)} jobs"]
    width = max((len(job.name) for job in jobs), default=0)
    for job in jobs:
        parts = [f"  {job.status:<11} {job.name:<{width}}"]
        if job.timesteps is not None:
            parts.append(f"{job.timesteps:>9} steps")
        if job.folder is not None:
            parts.append("mean reward " + ("n/a" if job.mean_reward is None else f"{job.mean_reward:.2f}"))
        if job.job_id:
            parts.append(f"(job {job.job_id}" + (f": {job.scheduler_state})" if job.scheduler_state else ")"))
        lines.append("  ".join(parts))
        if job.status in BAD or job.error:
            if job.error:
                lines.append(f"              {job.error}")
            lines.extend(f"              | {line}" for line in job.error_lines)
            if job.log is not None:
                lines.append(f"              log: {job.log}")
        if job.status == "interrupted" and job.folder is not None:
            lines.append(f"              resume: python main.py resume=true hydra.run.dir={job.folder}")
    counts: dict[str, int] = {}
    for job in jobs:
        counts[job.status] = counts.get(job.status, 0) + 1
    lines.append("  " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    optuna = format_optuna_results(sweep_dir)
    if optuna:
        lines.append(optuna)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rlzoo.sweep_status", description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="a sweep folder (hydra.sweep.dir), e.g. outputs/multirun/<date>")
    parser.add_argument("--json", action="store_true", help="print the jobs as JSON")
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        print(f"error: {args.sweep_dir} is not a folder", file=sys.stderr)
        return 2
    jobs = sweep_state(args.sweep_dir)
    if not jobs and not (args.sweep_dir / "multirun.yaml").exists():
        print(f"error: {args.sweep_dir} holds no job folders (*/{HYDRA_DIR}) and no multirun.yaml: not a sweep folder",
              file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([{k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(job).items()}
                          for job in jobs], indent=2))
    else:
        print(format_state(args.sweep_dir, jobs))
    return 1 if any(job.status in BAD for job in jobs) else 0


if __name__ == "__main__":
    sys.exit(main())
