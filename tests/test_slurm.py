"""Sweeps on a real single-node SLURM cluster (scripts/slurm-local.sh): one SLURM job per run, a preempted and
requeued job that resumes from its checkpoint next to a failing job that spares it, and an Optuna search.

The cluster is started for the session when it can be (root, slurm-wlm and munge installed or installable with
apt-get); otherwise these tests skip and say why.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pandas as pd
import pytest
import yaml
from stable_baselines3 import PPO

from conftest import FAST, ROOT, run_main

SCRIPT = ROOT / "scripts" / "slurm-local.sh"
SLURM = ["hydra/launcher=slurm", "hydra.launcher.mem_gb=1"]


def _script(command: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), command], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def slurm() -> Iterator[Path]:
    """A running local SLURM cluster (its slurm.conf; ``SLURM_CONF`` is set for the commands the tests run)."""
    was_running = _script("status").returncode == 0
    started = _script("start")
    if started.returncode != 0:
        pytest.skip(f"no local SLURM cluster: {(started.stderr or started.stdout).strip()}")
    conf = Path(re.search(r"SLURM_CONF=(\S+)", started.stdout).group(1))
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(conf)
    yield conf
    if previous is None:
        os.environ.pop("SLURM_CONF", None)
    else:
        os.environ["SLURM_CONF"] = previous
    queue = subprocess.run(["squeue", "-h"], capture_output=True, text=True, timeout=30).stdout.strip()
    if not was_running and not queue:  # leave a cluster that was already up, or that has jobs, running
        _script("stop", timeout=120)


def job_metrics(sweep_dir: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sweep_dir.glob("*/metrics.json")}


def squeue_state(job_id: str) -> str:
    return subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True, text=True,
                          timeout=30).stdout.strip()


def wait_for(condition, timeout: float, what: str, process: subprocess.Popen | None = None, log: Path | None = None,
             interval: float = 0.2):
    """Poll ``condition`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            pytest.fail(f"the sweep ended (status {process.returncode}) before {what}:\n"
                        f"{log.read_text()[-3000:] if log else ''}")
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def release(job_id: str) -> None:
    """SLURM holds a requeued job for two minutes (BeginTime): once the job has stopped, ask it to start now, until
    it runs (an update made while the job is still completing is overwritten by the hold)."""
    wait_for(lambda: squeue_state(job_id) != "RUNNING", 60, f"job {job_id} to stop")

    def running_again() -> bool:
        state = squeue_state(job_id)
        if state.startswith("PENDING"):
            subprocess.run(["scontrol", "update", f"jobid={job_id}", "StartTime=now"], capture_output=True, timeout=30)
        return state in ("RUNNING", "")  # "": it ran already and left the queue

    wait_for(running_again, 150, f"job {job_id} to start again", interval=1.0)


def test_sweep_runs_one_slurm_job_per_run(slurm: Path, tmp_path: Path) -> None:
    result = run_main(["-m", *SLURM, "env=MobileRobot,MobileRobot1D", "seed=0,1", *FAST,
                       f"hydra.sweep.dir={tmp_path}"])
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = job_metrics(tmp_path)
    assert sorted(metrics) == ["0_MobileRobot_ground_truth_ppo2_discrete_seed0",
                               "1_MobileRobot_ground_truth_ppo2_discrete_seed1",
                               "2_MobileRobot1D_ground_truth_ppo2_discrete_seed0",
                               "3_MobileRobot1D_ground_truth_ppo2_discrete_seed1"]
    job_ids = set()
    for name, run in metrics.items():
        assert run["status"] == "finished" and run["timesteps"] >= 512, name
        assert (tmp_path / name / "model.zip").is_file() and (tmp_path / name / "vecnormalize.pkl").is_file()
        job = json.loads((tmp_path / name / "job.json").read_text())
        assert job["scheduler"] == "slurm" and job["restart_count"] == 0
        job_ids.add(job["job_id"])
    assert len(job_ids) == 4 and all((tmp_path / ".submitit" / job_id).is_dir() for job_id in job_ids)
    assert "4 finished" in result.stdout + result.stderr
    status = subprocess.run([sys.executable, "-m", "rlzoo.sweep_status", str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert status.returncode == 0 and "4 finished" in status.stdout, status.stdout + status.stderr


def test_requeued_job_resumes_from_its_checkpoint_and_a_failing_job_spares_it(slurm: Path, tmp_path: Path) -> None:
    """Submitit's preemption signal (SIGUSR2: checkpoint, then submitit requeues the job), then ``scontrol requeue``
    (SIGTERM: checkpoint, SLURM requeues): each restart resumes from the checkpoint, and the run ends complete.
    The other job of the sweep fails on purpose (MobileRobot refuses action_space=joints): the summary names it."""
    total = 12_000
    log = tmp_path / "sweep.log"
    sweep_dir = tmp_path / "sweep"
    run = sweep_dir / "0_MobileRobot_ground_truth_ppo2_discrete_seed0"
    refused = sweep_dir / "1_MobileRobot_ground_truth_ppo2_joints_seed0"
    with open(log, "w") as out:
        sweep = subprocess.Popen(
            [sys.executable, "main.py", "-m", *SLURM, "action_space=discrete,joints", f"total_timesteps={total}",
             "n_envs=4", "checkpoint_interval=2048", "log_interval=4096", "live_plots=none",
             f"hydra.sweep.dir={sweep_dir}"],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONHASHSEED": "0"})
    try:
        def checkpoints() -> list[int]:
            return sorted(int(p.name.removeprefix("step_")) for p in (run / "checkpoints").glob("step_*"))

        wait_for(checkpoints, 150, "the first checkpoint", sweep, log)
        job_id = json.loads((run / "job.json").read_text())["job_id"]
        subprocess.run(["scancel", "--signal=USR2", job_id], check=True, timeout=30)  # what a time limit sends
        release(job_id)
        wait_for(lambda: "resumed from checkpoint" in (run / "main.log").read_text(), 150, "the first resume",
                 sweep, log)
        first_resume = max(checkpoints())
        wait_for(lambda: max(checkpoints()) > first_resume, 150, "a checkpoint after the resume", sweep, log)
        subprocess.run(["scontrol", "requeue", job_id], check=True, timeout=30)  # what preemption does
        release(job_id)
        assert sweep.wait(timeout=240) == 1, log.read_text()[-3000:]  # 1: a job failed
    finally:
        if sweep.poll() is None:
            sweep.kill()

    main_log = (run / "main.log").read_text()
    resumed = [int(n) for n in re.findall(r"resumed from checkpoint at (\d+) timesteps", main_log)]
    assert len(resumed) == 2 and 0 < resumed[0] < resumed[1] < total, main_log
    assert "SIGUSR2 received" in main_log and "SIGTERM received" in main_log
    assert json.loads((run / "job.json").read_text())["restart_count"] == 2
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "finished" and metrics["timesteps"] >= total
    last = sorted((run / "checkpoints").glob("step_*"))[-1]
    state = json.loads((last / "state.json").read_text())
    assert state["timesteps"] == metrics["timesteps"]
    for rank, episodes in enumerate(state["episodes_per_env"]):  # monitor rows = episodes counted, none twice
        rows = pd.read_csv(run / f"{rank}.monitor.csv", skiprows=1)
        assert len(rows) == episodes and rows["t"].is_monotonic_increasing and rows["l"].gt(0).all()
    assert sum(state["episodes_per_env"]) == metrics["episodes"]
    assert PPO.load(last / "model.zip").num_timesteps == metrics["timesteps"]
    assert PPO.load(run / "model.zip").num_timesteps == metrics["timesteps"]
    assert not list(run.rglob("*.tmp")) and not list((run / "checkpoints").glob(".tmp_*"))

    failed = json.loads((refused / "metrics.json").read_text())
    assert failed["status"] == "failed" and "cannot take action_space=joints" in failed["error"]
    assert "1 failed, 1 finished" in log.read_text()
    status = subprocess.run([sys.executable, "-m", "rlzoo.sweep_status", str(sweep_dir)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert status.returncode == 1, status.stdout + status.stderr
    assert f"failed      {refused.name}" in status.stdout and "cannot take action_space=joints" in status.stdout
    assert f"log: {refused / 'main.log'}" in status.stdout and f"finished    {run.name}" in status.stdout


def test_job_restarted_before_its_first_checkpoint_starts_over(run_dir: Path) -> None:
    """No cluster needed: the SLURM variables a restarted job sees. Without a checkpoint there is nothing to resume
    from, so the run starts over, without the monitor rows, metrics and best model of the attempt cut short."""
    run_dir.mkdir()
    (run_dir / "0.monitor.csv").write_text('#{"t_start": 1.0, "env_id": "MobileRobot-v0"}\nr,l,t\n-99.0,7,0.5\n')
    (run_dir / "metrics.json").write_text('{"status": "running", "timesteps": 128}')
    (run_dir / "best_model.zip").write_text("from the attempt that was cut short")
    restarted = {"SLURM_JOB_ID": "99", "SLURM_RESTART_COUNT": "1"}
    result = subprocess.run([sys.executable, "main.py", *FAST, f"hydra.run.dir={run_dir}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, env={**os.environ, **restarted})
    assert result.returncode == 0, result.stderr[-3000:]
    log = (run_dir / "main.log").read_text()
    assert "before its first checkpoint: starting" in log and "resumed from checkpoint" not in log
    metrics = json.loads((run_dir / "metrics.json").read_text())
    rows = pd.concat(pd.read_csv(p, skiprows=1) for p in run_dir.glob("*.monitor.csv"))
    assert metrics["status"] == "finished" and len(rows) == metrics["episodes"] and -99.0 not in rows["r"].values
    assert not (run_dir / "best_model.zip").exists()
    job = json.loads((run_dir / "job.json").read_text())
    assert job["job_id"] == "99" and job["restart_count"] == 1


def test_optuna_search_through_slurm(slurm: Path, tmp_path: Path) -> None:
    result = run_main(["hparams_search=ppo2", *SLURM, "hydra.sweeper.n_trials=2", "hydra.sweeper.n_jobs=2",
                       *[o for o in FAST if o.split("=")[0] not in ("algo.n_steps", "total_timesteps")],
                       "total_timesteps=1024", f"hydra.sweep.dir={tmp_path}"])
    assert result.returncode == 0, result.stderr[-3000:]
    results = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert "algo.learning_rate" in results["best_params"] and results["best_value"] is not None
    assert len([p for p in (tmp_path / ".submitit").glob("*_*") if p.is_dir()]) == 2  # both trials: SLURM jobs
    assert all(m["status"] == "finished" for m in job_metrics(tmp_path).values())
