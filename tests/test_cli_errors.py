"""Bad input ends before any env starts, with one message naming the bad value and the valid choices."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

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
        ("+env.kwargs.multi_view=true", ["env=MobileRobot has no argument env.kwargs.multi_view", "random_target"]),
        ("renderer=opengl", ["renderer=opengl is not available for env=MobileRobot", "composite, pybullet"]),
        ("seed=-1", ["seed=-1 is out of range"]),
        ("srl_model.seed=4294967296", ["srl_model.seed=4294967296 is out of range", "4294967295"]),
        ("device=gpu0", ["device='gpu0' is not a torch device; valid: auto, cpu, cuda or cuda:<index>"]),
    ],
)
def test_bad_value_gets_one_clear_message(tmp_path: Path, override: str, expected: list[str]) -> None:
    run_dir = tmp_path / "run"
    result = run_main([override, "live_plots=none", f"hydra.run.dir={run_dir}"])
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


def test_a_new_run_into_a_folder_holding_a_run_is_refused(tmp_path: Path) -> None:
    """The second run would mix its monitors, checkpoints and config with the first one's."""
    run_dir = tmp_path / "run"
    assert run_main([*FAST, f"hydra.run.dir={run_dir}"]).returncode == 0
    before = {p.name: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    result = run_main([*FAST, "total_timesteps=1024", "seed=5", f"hydra.run.dir={run_dir}"])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"the output folder {run_dir} already holds a run" in result.stderr
    assert f"resume=true hydra.run.dir={run_dir}" in result.stderr
    assert {p.name: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before  # untouched
    # a sweep folder that holds jobs is refused the same way
    sweep = tmp_path / "sweep"
    (sweep / "0_job" / ".hydra").mkdir(parents=True)
    (sweep / "0_job" / ".hydra" / "config.yaml").write_text("seed: 0\n")
    (sweep / "0_job" / "0.monitor.csv").write_text("")
    result = run_main(["-m", *FAST, f"hydra.sweep.dir={sweep}"])
    assert result.returncode == 2 and f"the output folder {sweep} already holds a run" in result.stderr


def test_seed_range_is_checked_and_derived_seeds_stay_in_it(tmp_path: Path) -> None:
    """The largest seed trains and resumes (resume reseeds with seed + timesteps); one more is refused at once."""
    result = run_main([*FAST, "seed=4294967296", f"hydra.run.dir={tmp_path / 'bad'}"])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "seed=4294967296 is out of range" in result.stderr and "4294967295" in result.stderr
    assert not (tmp_path / "bad").exists()
    run_dir = tmp_path / "largest"
    assert run_main([*FAST, "seed=4294967295", f"hydra.run.dir={run_dir}"]).returncode == 0
    result = run_main(["resume=true", f"hydra.run.dir={run_dir}"])
    assert result.returncode == 0, result.stderr[-2000:]


def test_launches_at_the_same_moment_get_folders_of_their_own(tmp_path: Path) -> None:
    """The default folders are named to the second; three runs started together still get three folders."""
    import subprocess
    import sys

    from conftest import ROOT

    folder = f"hydra.run.dir=${{new_folder:{tmp_path / 'run'}}}"  # the resolver of the default run folder
    processes = [subprocess.Popen([sys.executable, "main.py", *FAST, f"seed={seed}", folder], cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for seed in range(3)]
    assert [p.wait(timeout=300) for p in processes] == [0, 0, 0]
    runs = sorted(tmp_path.iterdir())
    assert [p.name for p in runs] == ["run", "run_2", "run_3"]
    seeds = set()
    for run in runs:
        seeds.add(yaml.safe_load((run / ".hydra" / "config.yaml").read_text())["seed"])
        assert sorted(p.name for p in run.glob("*.monitor.csv")) == ["0.monitor.csv", "1.monitor.csv"]
        assert json.loads((run / "metrics.json").read_text())["timesteps"] == 512
    assert seeds == {0, 1, 2}
