"""A run folder written by an earlier version (``tests/fixtures/run_v1``: PPO2 on MobileRobot ground truth, seed 3,
512 timesteps, a checkpoint at 256) replays and resumes with today's code, and a normalised run never runs
without its statistics."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rlzoo import enjoy
from rlzoo.replay import evaluate, load_run
from tests.conftest import run_main

FIXTURE = Path(__file__).parent / "fixtures" / "run_v1"
#: ``python -m rlzoo.enjoy <fixture> --episodes 3`` with the version that trained it
REWARDS_WHEN_TRAINED = [-241.0, 0.0, -235.0]


@pytest.fixture
def run_copy(tmp_path: Path) -> Path:
    """A copy of the fixture run (tests write into it)."""
    return Path(shutil.copytree(FIXTURE, tmp_path / "run"))


def test_old_run_replays_with_the_same_rewards(run_copy: Path) -> None:
    replay = load_run(run_copy, seed=0)
    try:
        assert evaluate(replay, 3) == REWARDS_WHEN_TRAINED
    finally:
        replay.env.close()


def test_old_run_resumes_from_its_checkpoint(run_copy: Path) -> None:
    result = run_main(["resume=true", f"hydra.run.dir={run_copy}"])
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((run_copy / "metrics.json").read_text())
    assert metrics["status"] == "finished" and metrics["timesteps"] == 512
    assert (run_copy / "checkpoints" / "step_0000000512" / "model.zip").exists()
    assert "resumed from checkpoint at 256 timesteps" in (run_copy / "main.log").read_text()


def test_replay_refuses_a_normalised_run_without_its_statistics(run_copy: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    (run_copy / "vecnormalize.pkl").unlink()
    assert enjoy.main([str(run_copy), "--episodes", "1"]) == 2
    err = capsys.readouterr().err
    assert "vecnormalize.pkl is missing" in err and "normalised observations" in err
    assert "Traceback" not in err


def test_resume_refuses_a_checkpoint_without_its_statistics(run_copy: Path) -> None:
    (run_copy / "checkpoints" / "step_0000000256" / "vecnormalize.pkl").unlink()
    result = run_main(["resume=true", f"hydra.run.dir={run_copy}"])
    assert result.returncode == 2
    assert "step_0000000256/vecnormalize.pkl is missing" in result.stderr
    assert "Traceback" not in result.stderr


def test_recording_refuses_an_agent_without_its_statistics(run_copy: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    (run_copy / "vecnormalize.pkl").unlink()
    assert enjoy.main([str(run_copy), "--record-dataset", str(tmp_path / "data"), "--episodes", "1"]) == 2
    assert "vecnormalize.pkl is missing" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def test_agent_records_a_dataset_independent_of_the_process_count(run_copy: Path, tmp_path: Path) -> None:
    """``--record-dataset``: the agent acts (stochastically, seeded per episode), in 1 or 2 processes alike."""
    from srl.data import load_dataset

    folders = []
    for workers in (1, 2):
        out = tmp_path / f"data{workers}"
        assert enjoy.main([str(run_copy), "--record-dataset", str(out), "--episodes", "2", "--max-steps", "15",
                           "--n-workers", str(workers), "--seed", "4"]) == 0
        folders.append(out)
    one, two = (load_dataset(f) for f in folders)
    assert len(one.actions) == 30 and one.images.shape == (30, 64, 64, 3)
    assert (one.actions == two.actions).all() and (one.images == two.images).all()
    config = json.loads((folders[0] / "dataset_config.json").read_text())
    assert config["policy"] == str(run_copy.absolute()) and config["env_id"] == "MobileRobot-v0"
    assert len(set(one.actions.tolist())) > 1  # the agent's stochastic actions, not one repeated action


def test_configs_saved_by_earlier_versions_are_read_with_todays_names(tmp_path: Path) -> None:
    """Keys renamed since: ``visdom`` became ``live_plots``, the Kuka envs' ``action_repeat`` (physics steps per env
    step) became ``physics_substeps``, and ``algo=ppo2 algo.policy=lstm`` became ``algo=ppo2_lstm``."""
    import yaml

    from rlzoo.run_env import saved_run_config

    config = yaml.safe_load((FIXTURE / ".hydra" / "config.yaml").read_text())
    config["env"] = {"id": "KukaButton-v0", "kwargs": {"action_repeat": 1, "random_target": False}}
    config["algo"]["policy"] = "lstm"
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    cfg = saved_run_config(tmp_path)
    assert "visdom" not in cfg and cfg.live_plots == "none"
    assert dict(cfg.env.kwargs) == {"physics_substeps": 1, "random_target": False}
    assert cfg.algo._target_ == "rlzoo.algos.RecurrentPPO2" and cfg.algo.policy == "auto"
