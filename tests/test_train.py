"""``python main.py`` end to end: the run folder, replay, pixels, resume after SIGKILL, Ctrl-C, determinism."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from stable_baselines3 import PPO

from conftest import FAST, ROOT, run_main
from rlzoo.replay import evaluate, load_run


def monitor_rows(run_dir: Path) -> pd.DataFrame:
    return pd.concat(pd.read_csv(p, skiprows=1) for p in sorted(run_dir.glob("*.monitor.csv")))


def test_run_folder_holds_everything(run_dir: Path) -> None:
    result = run_main([*FAST, "total_timesteps=1024", "best_model_min_episodes=2", f"hydra.run.dir={run_dir}"])
    assert result.returncode == 0, result.stderr
    out = result.stdout + result.stderr
    assert f"Run folder: {run_dir}" in out and f"python -m rlzoo.enjoy {run_dir}" in out
    for name in [".hydra/config.yaml", ".hydra/overrides.yaml", ".hydra/hydra.yaml", "0.monitor.csv", "1.monitor.csv",
                 "model.zip", "vecnormalize.pkl", "best_model.zip", "best_vecnormalize.pkl", "metrics.json"]:
        assert (run_dir / name).is_file(), name
    checkpoints = sorted((run_dir / "checkpoints").iterdir())
    assert [p.name for p in checkpoints] == ["step_0000000512", "step_0000000768", "step_0000001024"]  # 3 kept
    assert {"model.zip", "vecnormalize.pkl", "state.json"} <= {p.name for p in checkpoints[-1].iterdir()}
    assert not list(run_dir.rglob("*.tmp"))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    episodes = monitor_rows(run_dir)
    assert metrics["status"] == "finished" and metrics["timesteps"] == 1024
    assert metrics["episodes"] == len(episodes) == 4
    assert metrics["mean_reward_last_100"] == pytest.approx(episodes["r"].mean())
    assert metrics["steps_per_s"] > 0 and metrics["wall_time_s"] > 0
    model = PPO.load(run_dir / "model.zip")  # plain Stable-Baselines3 can load it
    assert model.num_timesteps == 1024 and model.batch_size == 64

    replay = load_run(run_dir)
    saved = pd.read_pickle(run_dir / "vecnormalize.pkl")
    np.testing.assert_array_equal(replay.env.obs_rms.mean, saved.obs_rms.mean)
    assert not replay.env.training
    rewards = evaluate(replay, episodes=2)
    assert len(rewards) == 2 and all(-251 <= r <= 251 for r in rewards)


def test_raw_pixels_uses_a_cnn_and_no_normalisation(run_dir: Path) -> None:
    result = run_main([*FAST, "srl_model=raw_pixels", "image_size=40", "total_timesteps=128",
                       f"hydra.run.dir={run_dir}"])
    assert result.returncode == 0, result.stderr
    model = PPO.load(run_dir / "model.zip")
    assert type(model.policy).__name__ == "ActorCriticCnnPolicy"
    assert model.observation_space.shape in [(3, 40, 40), (40, 40, 3)]
    assert not (run_dir / "vecnormalize.pkl").exists()


def _wait_for(predicate, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, "timed out"
        time.sleep(0.1)


def _default_sigint() -> None:
    """A shell starts background jobs with SIGINT ignored, and Python then installs no Ctrl-C handler: a run
    started from such a job (a CI runner, ``make test &``) must still see SIGINT as a terminal's Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "main.py", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONHASHSEED": "0"},
                            preexec_fn=_default_sigint)


def test_resume_after_sigkill_loses_at_most_one_interval(run_dir: Path) -> None:
    args = [*FAST, "total_timesteps=12000", "checkpoint_interval=1024", f"hydra.run.dir={run_dir}"]
    process = _start(args)
    _wait_for(lambda: len(list((run_dir / "checkpoints").glob("step_*"))) >= 2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    last = max(int(p.name[5:]) for p in (run_dir / "checkpoints").glob("step_*"))
    killed_rows = len(monitor_rows(run_dir))

    result = run_main(["resume=true", f"hydra.run.dir={run_dir}"])
    assert result.returncode == 0, result.stderr
    assert f"resumed from checkpoint at {last} timesteps" in result.stdout + result.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "finished" and metrics["timesteps"] >= 12000
    episodes = monitor_rows(run_dir)
    assert metrics["episodes"] == len(episodes) >= killed_rows
    assert (episodes["l"] == 251).all()  # no torn or duplicated rows
    for rank in (0, 1):
        times = pd.read_csv(run_dir / f"{rank}.monitor.csv", skiprows=1)["t"]
        assert times.is_monotonic_increasing
    assert PPO.load(run_dir / "model.zip").num_timesteps == metrics["timesteps"]
    assert not list(run_dir.rglob("*.tmp")) and not list((run_dir / "checkpoints").glob(".tmp*"))
    assert (run_dir / ".hydra" / "resume" / "config.yaml").exists()  # the first start's .hydra is kept


def test_resume_refuses_a_different_config(run_dir: Path) -> None:
    assert run_main([*FAST, f"hydra.run.dir={run_dir}"]).returncode == 0
    result = run_main(["resume=true", "env=MobileRobot1D", f"hydra.run.dir={run_dir}"])
    assert result.returncode == 2
    assert "'env=MobileRobot1D' differs" in result.stderr and "Traceback" not in result.stderr


def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(run_dir: Path) -> None:
    process = _start([*FAST, "total_timesteps=10000000", "checkpoint_interval=1000000", "log_interval=1000",
                      f"hydra.run.dir={run_dir}"])
    log = run_dir / "main.log"
    _wait_for(lambda: log.exists() and "steps 1000/" in log.read_text())  # training has started
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 130, out
    assert "Traceback" not in out and f"python main.py resume=true hydra.run.dir={run_dir}" in out
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "interrupted"
    assert (run_dir / "checkpoints" / f"step_{metrics['timesteps']:010d}" / "model.zip").exists()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_repeated_signals_during_the_saves_leave_a_consistent_run(run_dir: Path, signum: int) -> None:
    """A stop signal, then more while the run writes its last checkpoint, final model and metrics: every file is
    whole, metrics.json says "interrupted", and the run resumes."""
    process = _start([*FAST, "total_timesteps=10000000", "checkpoint_interval=512", "log_interval=512",
                      "best_model_min_episodes=1", f"hydra.run.dir={run_dir}"])
    log = run_dir / "main.log"
    _wait_for(lambda: log.exists() and "steps 2048/" in log.read_text())
    for _ in range(6):
        process.send_signal(signum)
        time.sleep(0.02)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 130, out
    assert "Traceback" not in out and f"python main.py resume=true hydra.run.dir={run_dir}" in out
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "interrupted"
    assert PPO.load(run_dir / "model.zip").num_timesteps == metrics["timesteps"]
    with open(run_dir / "vecnormalize.pkl", "rb") as f:
        assert pickle.load(f).obs_rms.count > 0
    checkpoint = run_dir / "checkpoints" / f"step_{metrics['timesteps']:010d}"
    assert json.loads((checkpoint / "state.json").read_text())["timesteps"] == metrics["timesteps"]
    assert PPO.load(checkpoint / "model.zip").num_timesteps == metrics["timesteps"]  # what resume=true starts from
    assert not list(run_dir.rglob("*.tmp")) and not list((run_dir / "checkpoints").glob(".tmp*"))


def test_same_seed_same_rewards(tmp_path: Path) -> None:
    def rewards(name: str, seed: int) -> list[float]:
        args = [*FAST, "n_envs=1", "total_timesteps=1600", "algo.n_minibatches=4", "shape_reward=true",
                f"seed={seed}", f"hydra.run.dir={tmp_path / name}"]
        assert run_main(args).returncode == 0
        return pd.read_csv(tmp_path / name / "0.monitor.csv", skiprows=1)["r"].tolist()

    first = rewards("a", 3)
    assert len(first) == 6
    assert rewards("b", 3) == first
    assert rewards("c", 4) != first
