"""``python main.py -m``: the grid runs with the basic and the joblib launcher; a failing job spares the others."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import FAST, run_main

GRID = ["env=MobileRobot,MobileRobot1D", "srl_model=ground_truth,raw_pixels", "seed=0,1"]
TINY = [*FAST, "total_timesteps=128", "image_size=40"]


def job_metrics(sweep_dir: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sweep_dir.glob("*/metrics.json")}


@pytest.mark.parametrize("launcher", [[], ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]],
                         ids=["basic", "joblib"])
def test_grid_gives_one_run_folder_per_job(tmp_path: Path, launcher: list[str]) -> None:
    result = run_main(["-m", *GRID, *TINY, *launcher, f"hydra.sweep.dir={tmp_path}"])
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = job_metrics(tmp_path)
    assert len(metrics) == 8
    assert all(m["status"] == "finished" and m["timesteps"] >= 128 for m in metrics.values())
    assert "0_MobileRobot_ground_truth_ppo2_discrete_seed0" in metrics
    assert "7_MobileRobot1D_raw_pixels_ppo2_discrete_seed1" in metrics
    for job in metrics:
        assert (tmp_path / job / "model.zip").is_file() and (tmp_path / job / ".hydra" / "config.yaml").is_file()
        assert (tmp_path / job / "vecnormalize.pkl").exists() == ("ground_truth" in job)
    assert "8 finished" in result.stdout + result.stderr


def test_a_failing_job_does_not_stop_the_others(tmp_path: Path) -> None:
    result = run_main(["-m", "action_space=joints,discrete", *TINY, f"hydra.sweep.dir={tmp_path}"])
    assert result.returncode == 1  # the sweep reports its failure...
    metrics = job_metrics(tmp_path)
    failed = metrics["0_MobileRobot_ground_truth_ppo2_joints_seed0"]
    assert failed["status"] == "failed" and "cannot take action_space=joints" in failed["error"]
    assert metrics["1_MobileRobot_ground_truth_ppo2_discrete_seed0"]["status"] == "finished"  # ...after the rest ran
    out = result.stdout + result.stderr
    assert "1 failed, 1 finished" in out and "Traceback" not in out
