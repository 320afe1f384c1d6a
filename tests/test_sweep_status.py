"""``python -m rlzoo.sweep_status``: the state of each job of a sweep folder, on synthetic sweep folders."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from rlzoo.sweep_status import format_state, sweep_state

TRACEBACK = ["Traceback (most recent call last):", '  File "rlzoo/train.py", line 80, in run',
             "    plan = validate(cfg, choices)", "rlzoo.validation.ConfigError: ppo2 cannot take action_space=joints"]


def dead_pid() -> int:
    """The pid of a process that has ended."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def make_job(sweep: Path, name: str, metrics: dict | None = None, job: dict | None = None) -> Path:
    folder = sweep / name
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "config.yaml").write_text("seed: 0\n")
    (folder / "main.log").write_text("")
    if metrics is not None:
        (folder / "metrics.json").write_text(json.dumps(metrics))
    if job is not None:
        (folder / "job.json").write_text(json.dumps({"host": socket.gethostname(), **job}))
    return folder


def local_sweep(sweep: Path) -> None:
    """Jobs of a local launcher: finished, failed, running, lost (its process is gone), interrupted."""
    make_job(sweep, "0_finished", {"status": "finished", "timesteps": 1000, "mean_reward_last_100": 12.5})
    make_job(sweep, "1_failed", {"status": "failed", "timesteps": 0, "mean_reward_last_100": None,
                                 "error": "ConfigError: ppo2 cannot take action_space=joints", "traceback": TRACEBACK})
    make_job(sweep, "2_running", {"status": "running", "timesteps": 512, "mean_reward_last_100": -3.0},
             {"scheduler": "local", "pid": os.getpid()})
    make_job(sweep, "3_lost", {"status": "running", "timesteps": 256, "mean_reward_last_100": -5.0},
             {"scheduler": "local", "pid": dead_pid()})
    make_job(sweep, "4_interrupted", {"status": "interrupted", "timesteps": 768, "mean_reward_last_100": 1.0})
    (sweep / "multirun.yaml").write_text("hydra: {}\n")


def test_local_jobs_get_their_status(tmp_path: Path) -> None:
    local_sweep(tmp_path)
    jobs = {job.name: job for job in sweep_state(tmp_path)}
    assert {name: job.status for name, job in jobs.items()} == {
        "0_finished": "finished", "1_failed": "failed", "2_running": "running", "3_lost": "lost",
        "4_interrupted": "interrupted"}
    assert jobs["0_finished"].mean_reward == 12.5 and jobs["0_finished"].timesteps == 1000
    assert jobs["1_failed"].error_lines == TRACEBACK[-3:]
    assert jobs["1_failed"].log == tmp_path / "1_failed" / "main.log"
    assert jobs["2_running"].scheduler_state == "process alive"


def test_slurm_jobs_are_checked_against_the_queue(tmp_path: Path) -> None:
    """A run recorded as running is running, waiting to resume (requeued) or lost, by what squeue says; a queued
    job without a run folder yet is pending."""
    running = {"status": "running", "timesteps": 2048, "mean_reward_last_100": 0.5}
    make_job(tmp_path, "0_a", running, {"scheduler": "slurm", "job_id": "77_0", "raw_job_id": "78", "pid": 1})
    make_job(tmp_path, "1_b", running, {"scheduler": "slurm", "job_id": "77_1", "raw_job_id": "79", "pid": 1})
    make_job(tmp_path, "2_c", running, {"scheduler": "slurm", "job_id": "77_2", "raw_job_id": "80", "pid": 1})
    make_job(tmp_path, "3_d", {"status": "interrupted", "timesteps": 4096, "mean_reward_last_100": 2.0},
             {"scheduler": "slurm", "job_id": "77_3", "raw_job_id": "81", "pid": 1})
    make_job(tmp_path, "4_e", {"status": "finished", "timesteps": 8192, "mean_reward_last_100": 9.0},
             {"scheduler": "slurm", "job_id": "77_4", "raw_job_id": "82", "pid": 1})
    for job_id in ("77_0", "77_1", "77_2", "77_3", "77_4", "77_5", "77_6"):
        (tmp_path / ".submitit" / job_id).mkdir(parents=True)
    (tmp_path / ".submitit" / "77_2" / "77_2_0_log.err").write_text("srun: error: task 0: Killed\n")
    queue = {"77_0": "RUNNING", "77_1": "PENDING: BeginTime", "77_3": "PENDING: BeginTime",
             "77_5": "PENDING: Resources"}
    jobs = {job.name: job for job in sweep_state(tmp_path, queue=queue)}
    assert {name: job.status for name, job in jobs.items()} == {
        "0_a": "running", "1_b": "requeued", "2_c": "lost", "3_d": "requeued", "4_e": "finished",
        "slurm job 77_5": "pending"}  # 77_6 left the queue without a run folder: nothing to report
    assert jobs["2_c"].log == tmp_path / ".submitit" / "77_2" / "77_2_0_log.err"
    assert jobs["1_b"].job_id == "77_1" and jobs["1_b"].scheduler_state == "PENDING: BeginTime"
    report = format_state(tmp_path, list(jobs.values()))
    assert "requeued    1_b" in report and "(job 77_1: PENDING: BeginTime)" in report
    assert "1 finished, 1 lost, 1 pending, 2 requeued, 1 running" in report


def test_command_line_report(tmp_path: Path) -> None:
    local_sweep(tmp_path)
    (tmp_path / "optimization_results.yaml").write_text(
        "name: optuna\nbest_params:\n  algo.gamma: 0.97\n  algo.n_steps: 256\nbest_value: 42.5\n")
    result = subprocess.run([sys.executable, "-m", "rlzoo.sweep_status", str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr  # a job failed and one was lost
    out = result.stdout
    assert f"Sweep {tmp_path}: 5 jobs" in out
    assert "finished    0_finished" in out and "mean reward 12.50" in out and "1000 steps" in out
    assert "failed      1_failed" in out and "ConfigError: ppo2 cannot take action_space=joints" in out
    assert "| rlzoo.validation.ConfigError: ppo2 cannot take action_space=joints" in out
    assert f"log: {tmp_path / '1_failed' / 'main.log'}" in out
    assert "running     2_running" in out and "lost        3_lost" in out
    assert f"resume: python main.py resume=true hydra.run.dir={tmp_path / '4_interrupted'}" in out
    assert "1 failed, 1 finished, 1 interrupted, 1 lost, 1 running" in out
    assert "Optuna best value 42.5" in out and "algo.gamma=0.97" in out and "algo.n_steps=256" in out

    as_json = subprocess.run([sys.executable, "-m", "rlzoo.sweep_status", "--json", str(tmp_path)], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    statuses = {job["name"]: job["status"] for job in json.loads(as_json.stdout)}
    assert statuses["0_finished"] == "finished" and statuses["3_lost"] == "lost"


def test_the_status_command_reads_the_file_runs_write() -> None:
    from rlzoo import callbacks, sweep

    assert sweep.METRICS_FILE == callbacks.METRICS_FILE


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_not_a_sweep_folder(tmp_path: Path, make: str) -> None:
    folder = tmp_path / "sweep"
    if make == "empty":
        folder.mkdir()
    result = subprocess.run([sys.executable, "-m", "rlzoo.sweep_status", str(folder)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "error:" in result.stderr
