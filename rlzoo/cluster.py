"""Runs under a cluster scheduler (SLURM through Hydra's submitit launcher): preemption, requeue and time limits.

What happens to a SLURM job of a sweep (``python main.py -m hydra/launcher=slurm ...``):

* **Preemption or ``scontrol requeue``.** SLURM sends SIGTERM, waits ``KillWait`` seconds, then SIGKILL, and starts
  the job again later with ``SLURM_RESTART_COUNT`` > 0. Submitit's job runner ignores SIGTERM; inside a run,
  :func:`checkpoint_on_preemption` turns it into a ``KeyboardInterrupt`` in the main thread, which the trainer
  already answers by writing a checkpoint and exiting with status 130 (no result is reported, so the sweep keeps
  waiting for the requeued job).
* **Time limit.** Submitit asks SLURM for SIGUSR2 ``signal_delay_s`` before the limit (``--signal=USR2@120``).
  The run first writes its checkpoint (as above), then hands the signal to submitit's handler, which saves the job
  for a restart with the same config and requeues it (``scontrol requeue``), up to ``max_num_timeout`` times.
* **The restart.** Hydra's submitit launcher runs the same job (same overrides, same run folder) again;
  :func:`resume_if_requeued` sees a restarted job whose run folder holds a checkpoint and sets ``resume=true``,
  so training continues from the newest complete checkpoint, never from zero. A job restarted before its first
  checkpoint starts over, after deleting the partial monitor files and metrics of the attempt that was cut short.

Every file of a run is written atomically (checkpoints are renamed into place when complete), so a SIGKILL at any
moment leaves the previous checkpoint intact. :func:`checkpoint_on_preemption` also writes ``job.json`` in the run
folder (scheduler, job id, host, pid, restart count), which ``python -m rlzoo.sweep_status`` uses to ask ``squeue``
whether a job is still alive.
"""

from __future__ import annotations

import copy
import logging
import os
import signal
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from omegaconf import DictConfig, open_dict

from rlzoo.files import write_json
from rlzoo.run_folder import JOB_FILE, PARTIAL_OUTPUTS, latest_checkpoint
from rlzoo.signals import ignore_stop_signals, preemption_signal

log = logging.getLogger(__name__)



def slurm_job_id() -> str | None:
    """This process's SLURM job id as squeue and submitit print it (``<array job>_<task>`` for an array task)."""
    array_job, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array_job and task:
        return f"{array_job}_{task}"
    return os.environ.get("SLURM_JOB_ID")


def restart_count() -> int:
    """How many times SLURM has restarted this job (requeue, preemption, node failure, a timed-out job's requeue)."""
    try:
        return int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0)
    except ValueError:
        return 0


def job_record() -> dict[str, Any]:
    """Who runs this job: scheduler, job ids, host, pid, restart count."""
    scheduler = "slurm" if os.environ.get("SLURM_JOB_ID") else os.environ.get("SUBMITIT_EXECUTOR") or "local"
    return {
        "scheduler": scheduler,
        "job_id": slurm_job_id(),
        "raw_job_id": os.environ.get("SLURM_JOB_ID"),
        "restart_count": restart_count(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "submitit_folder": os.environ.get("SUBMITIT_FOLDER"),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def is_restarted_job() -> bool:
    """True when this process is a SLURM job that SLURM has started again (``SLURM_RESTART_COUNT`` > 0): after
    ``scontrol requeue``, a preemption, a node failure, or submitit's requeue of a timed-out job."""
    return bool(os.environ.get("SLURM_JOB_ID")) and restart_count() > 0


def resume_if_requeued(cfg: DictConfig, run_dir: Path) -> DictConfig:
    """``cfg`` with ``resume=true`` when this is a requeued SLURM job whose run folder holds a checkpoint.

    A requeued job without a checkpoint starts over: the partial monitor files and metrics of the attempt that was
    cut short are deleted, so that the new attempt does not append to them. Outside SLURM, or on a first start,
    ``cfg`` is returned unchanged.
    """
    if cfg.get("resume") or not is_restarted_job():
        return cfg
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        log.warning("SLURM restarted job %s (restart %d) before its first checkpoint: starting %s over",
                    slurm_job_id(), restart_count(), run_dir)
        for pattern in PARTIAL_OUTPUTS:
            for path in run_dir.glob(pattern):
                path.unlink(missing_ok=True)
        return cfg
    log.info("SLURM restarted job %s (restart %d): resuming %s from %s", slurm_job_id(), restart_count(), run_dir,
             checkpoint.relative_to(run_dir))
    cfg = copy.deepcopy(cfg)  # the caller's config stays as composed
    with open_dict(cfg):
        cfg.resume = True
    return cfg


class _Preemption:
    """Signal handler state: the first SIGTERM / preemption signal raises ``KeyboardInterrupt`` once."""

    def __init__(self) -> None:
        self.received: list[int] = []

    def __call__(self, signum: int, frame: Any) -> None:
        self.received.append(signum)
        if len(self.received) > 1:
            log.warning("%s received again: still writing the checkpoint", signal.Signals(signum).name)
            return
        log.warning("%s received (job %s): writing a checkpoint, then exiting", signal.Signals(signum).name,
                    slurm_job_id() or os.getpid())
        raise KeyboardInterrupt


@contextmanager
def checkpoint_on_preemption(run_dir: Path | None = None) -> Iterator[None]:
    """Within the block, SIGTERM and the preemption signal (SIGUSR2) stop training with a checkpoint.

    Both raise ``KeyboardInterrupt`` in the main thread (once), which the trainer turns into a checkpoint and
    ``SystemExit(130)``. After a preemption signal, the handler that was installed before (submitit's: save the job
    for a restart, ``scontrol requeue``, exit) runs once the checkpoint is written. A no-op outside the main thread.
    When ``run_dir`` is given and the run is a scheduler's job, ``job.json`` is written there first.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if run_dir is not None and (os.environ.get("SLURM_JOB_ID") or os.environ.get("SUBMITIT_EXECUTOR")):
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        write_json(Path(run_dir) / JOB_FILE, job_record())
    usr = preemption_signal()
    handler = _Preemption()
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, usr)}
    try:
        yield
    except KeyboardInterrupt:
        if not handler.received:
            raise  # a real Ctrl-C outside training: keep its meaning
        raise SystemExit(130) from None  # stopped before training began or after it ended: nothing to save
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        if handler.received:  # the run is saved and exiting: more stop signals would only cut the shutdown
            ignore_stop_signals()
        if usr in handler.received and callable(previous[usr]):
            log.info("handing %s to the job runner (submitit: requeue this job)", usr.name)
            previous[usr](usr, None)
