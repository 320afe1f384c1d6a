"""Bad input ends before any env starts, with one message naming the bad value and the valid choices."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import FAST, run_main


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("algo=foo", ["Could not find 'algo/foo'", "Available options in 'algo'", "ppo2"]),
        ("env=Foo", ["Could not find 'env/Foo'", "MobileRobot1D", "MobileRobotLineTarget"]),
        ("srl_model=bar", ["Could not find 'srl_model/bar'", "ground_truth", "raw_pixels"]),
        ("action_space=baz", ["Could not find 'action_space/baz'", "continuous", "discrete"]),
        ("srl_model=joints", ["srl_model=joints is not available for env=MobileRobot", "available: ",
                              "ground_truth", "raw_pixels", "autoencoder"]),
        ("action_space=joints", ["env=MobileRobot cannot take action_space=joints", "supports: discrete, continuous"]),
        ("total_timesteps=0", ["total_timesteps=0 is invalid"]),
        ("n_envs=0", ["n_envs=0 is invalid"]),
        ("n_envs=two", ["n_envs=two", "could not be converted to Integer"]),
    ],
)
def test_bad_value_gets_one_clear_message(tmp_path: Path, override: str, expected: list[str]) -> None:
    run_dir = tmp_path / "run"
    result = run_main([override, "visdom=false", f"hydra.run.dir={run_dir}"])
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in out
    for text in expected:
        assert text in out
    assert not (run_dir / "0.monitor.csv").exists()  # no env was started


def test_resume_without_checkpoint_is_refused(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert run_main([*FAST, f"hydra.run.dir={run_dir}"]).returncode == 0
    shutil.rmtree(run_dir / "checkpoints")
    result = run_main(["resume=true", f"hydra.run.dir={run_dir}"])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"resume=true but {run_dir} has no checkpoint" in result.stderr


def test_resume_of_a_folder_that_is_no_run_is_refused(tmp_path: Path) -> None:
    result = run_main(["resume=true", f"hydra.run.dir={tmp_path}"])
    assert result.returncode == 2 and "is not a run folder" in result.stderr


def test_unwritable_output_folder_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    result = run_main([f"hydra.run.dir={blocker / 'run'}"])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"the output folder {blocker / 'run'} cannot be created" in result.stderr
    assert "hydra.run.dir=<folder>" in result.stderr


def test_gui_needs_a_display_and_one_env(tmp_path: Path) -> None:
    result = run_main(["gui=true", "n_envs=1", f"hydra.run.dir={tmp_path / 'run'}"], env_overrides={"DISPLAY": ""})
    assert result.returncode == 2 and "gui=true needs a display" in result.stderr and "Traceback" not in result.stderr
    result = run_main(["gui=true", "n_envs=4", f"hydra.run.dir={tmp_path / 'run'}"])
    assert result.returncode == 2 and "needs n_envs=1 (got n_envs=4)" in result.stderr
