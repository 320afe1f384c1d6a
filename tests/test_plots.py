"""Learning-curve figures: moving averages, aggregates over seeds computed by hand, and the command line."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml

from rlzoo.monitor import load_episodes
from rlzoo.plots import aggregate_runs, main, moving_average, plot_folders, plot_sweep, smoothed_curve

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Three seeds of one method; every episode lasts 10 steps, so episode i starts at timestep 10 * i.
SEED_REWARDS = {0: [1.0, 3.0, 5.0, 7.0, 9.0, 11.0], 1: [2.0, 2.0, 2.0, 2.0, 2.0], 2: [0.0, 4.0, 8.0, 12.0, 16.0, 20.0]}


def make_run(
    run_dir: str, env: str, srl_model: str, algo: str, seed: int, rewards: list[float], length: int = 10
) -> None:
    """A fake run folder: .hydra/ labels and one monitor file with the given episode rewards."""
    os.makedirs(os.path.join(run_dir, ".hydra"))
    with open(os.path.join(run_dir, ".hydra", "config.yaml"), "w") as handle:
        yaml.safe_dump({"seed": seed, "env": {"id": f"{env}-v0"}}, handle)
    with open(os.path.join(run_dir, ".hydra", "hydra.yaml"), "w") as handle:
        choices = {"env": env, "srl_model": srl_model, "algo": algo, "action_space": "discrete"}
        yaml.safe_dump({"hydra": {"runtime": {"choices": choices}}}, handle)
    with open(os.path.join(run_dir, "0.monitor.csv"), "w", newline="") as handle:
        handle.write("#" + json.dumps({"t_start": 1000.0, "env_id": f"{env}-v0"}) + "\n")
        handle.write("r,l,t\r\n")
        handle.writelines(f"{reward},{length},{0.1 * (i + 1):.6f}\r\n" for i, reward in enumerate(rewards))


@pytest.fixture
def sweep(tmp_path) -> str:
    """A sweep: ground_truth x 3 seeds (SEED_REWARDS) and raw_pixels x 2 seeds (constant rewards 1 and 3)."""
    folder = tmp_path / "sweep"
    folder.mkdir()
    (folder / "multirun.yaml").write_text("hydra: {}\n")
    job = 0
    for seed, rewards in SEED_REWARDS.items():
        make_run(str(folder / f"{job}_seed={seed}"), "MobileRobot", "ground_truth", "ppo2", seed, rewards)
        job += 1
    for seed, value in enumerate([1.0, 3.0]):
        make_run(
            str(folder / f"{job}_srl_model=raw_pixels,seed={seed}"),
            "MobileRobot",
            "raw_pixels",
            "ppo2",
            seed,
            [value] * 6,
        )
        job += 1
    return str(folder)


def read_csv_rows(path: str) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_moving_average_is_the_valid_convolution():
    np.testing.assert_allclose(moving_average(np.array([1.0, 3.0, 5.0, 7.0]), 2), [2.0, 4.0, 6.0])
    np.testing.assert_allclose(moving_average(np.array([1.0, 2.0]), 1), [1.0, 2.0])
    with pytest.raises(ValueError, match="window"):
        moving_average(np.array([1.0]), 2)


def test_smoothed_curve_is_plotted_at_the_last_episode_of_each_window(sweep):
    episodes = load_episodes(os.path.join(sweep, "0_seed=0"))
    curve = smoothed_curve(episodes, "timesteps", window=2)
    np.testing.assert_array_equal(curve.x, [10, 20, 30, 40, 50])
    np.testing.assert_allclose(curve.y, [2, 4, 6, 8, 10])
    by_episode = smoothed_curve(episodes, "episodes", window=40)  # shrinks to the 6 episodes of the run
    np.testing.assert_array_equal(by_episode.x, [6])
    np.testing.assert_allclose(by_episode.y, [6.0])


def test_aggregate_over_seeds_matches_a_hand_computation(sweep):
    runs = [load_episodes(os.path.join(sweep, f"{job}_seed={seed}")) for job, seed in enumerate(SEED_REWARDS)]
    aggregate = aggregate_runs(runs, x="timesteps", window=2, n_points=7)
    # Smoothed curves: seed 0 -> (10..50: 2,4,6,8,10), seed 1 -> (10..40: 2,2,2,2), seed 2 -> (10..50: 2,6,10,14,18).
    # Common range 10..40 (the shortest run), 7 points: 10, 15, ..., 40.
    np.testing.assert_allclose(aggregate.x, [10, 15, 20, 25, 30, 35, 40])
    per_seed = np.array(
        [[2, 3, 4, 5, 6, 7, 8], [2, 2, 2, 2, 2, 2, 2], [2, 4, 6, 8, 10, 12, 14]], dtype=float
    )  # linear interpolation half way between episodes
    np.testing.assert_allclose(aggregate.curves, per_seed)
    # At x=40: values 8, 2, 14 -> mean 8, sample std 6, standard error 6 / sqrt(3).
    assert aggregate.mean[-1] == pytest.approx(8.0)
    assert aggregate.stderr[-1] == pytest.approx(6.0 / np.sqrt(3.0))
    # At x=25: values 5, 2, 8 -> mean 5, sample std 3.
    assert aggregate.mean[3] == pytest.approx(5.0)
    assert aggregate.stderr[3] == pytest.approx(3.0 / np.sqrt(3.0))
    assert aggregate.stderr[0] == pytest.approx(0.0)
    assert aggregate.n_runs == 3


def test_aggregate_by_episode_uses_integer_episode_numbers(sweep):
    runs = [load_episodes(os.path.join(sweep, f"{job}_seed={seed}")) for job, seed in enumerate(SEED_REWARDS)]
    aggregate = aggregate_runs(runs, x="episodes", window=2)
    np.testing.assert_array_equal(aggregate.x, [2, 3, 4, 5])
    np.testing.assert_allclose(aggregate.mean, [2.0, 4.0, 6.0, 8.0])


def test_sweep_plot_writes_one_png_and_csv_per_env(sweep, tmp_path):
    out = str(tmp_path / "plots")
    paths = plot_folders([sweep], out_dir=out, x="timesteps", smooth=2)
    png, table = (
        os.path.join(out, "learning_curves_MobileRobot.png"),
        os.path.join(out, "learning_curves_MobileRobot.csv"),
    )
    assert sorted(paths) == sorted([png, table])
    with open(png, "rb") as handle:
        assert handle.read(8) == PNG_MAGIC
    rows = read_csv_rows(table)
    assert {row["label"] for row in rows} == {"ground_truth ppo2", "raw_pixels ppo2"}
    ground_truth = [row for row in rows if row["label"] == "ground_truth ppo2"]
    assert float(ground_truth[-1]["x"]) == 40.0
    assert float(ground_truth[-1]["mean"]) == pytest.approx(8.0)
    assert float(ground_truth[-1]["stderr"]) == pytest.approx(6.0 / np.sqrt(3.0))
    assert ground_truth[-1]["n_runs"] == "3"
    raw_pixels = [row for row in rows if row["label"] == "raw_pixels ppo2"]
    # Seeds with constant rewards 1 and 3: mean 2, sample std sqrt(2), standard error 1.
    assert all(
        float(row["mean"]) == pytest.approx(2.0) and float(row["stderr"]) == pytest.approx(1.0) for row in raw_pixels
    )


def test_single_run_plot(sweep, tmp_path):
    run = os.path.join(sweep, "0_seed=0")
    paths = plot_folders([run], out_dir=str(tmp_path), x="episodes", smooth=3)
    assert paths == [str(tmp_path / "learning_curve.png")]
    with open(paths[0], "rb") as handle:
        assert handle.read(8) == PNG_MAGIC


def test_compare_plot_labels_curves_by_folder(sweep, tmp_path):
    other = tmp_path / "other_sweep"
    make_run(str(other / "0_seed=0"), "MobileRobot", "ground_truth", "a2c", 0, [5.0] * 4)
    make_run(str(other / "1_seed=0"), "KukaButton", "ground_truth", "a2c", 0, [1.0] * 4)
    out = str(tmp_path / "compare")
    paths = plot_folders([sweep, str(other)], out_dir=out, smooth=2)
    assert sorted(os.path.basename(path) for path in paths) == [
        "comparison_KukaButton.csv",
        "comparison_KukaButton.png",
        "comparison_MobileRobot.csv",
        "comparison_MobileRobot.png",
    ]
    labels = {row["label"] for row in read_csv_rows(os.path.join(out, "comparison_MobileRobot.csv"))}
    assert labels == {"sweep: ground_truth ppo2", "sweep: raw_pixels ppo2", "other_sweep: ground_truth a2c"}


def test_command_line_rejects_a_missing_folder(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / "nope")])
    assert exit_info.value.code == 2
    assert "no such folder" in capsys.readouterr().err


def test_python_m_rlzoo_plot(sweep, tmp_path):
    out = tmp_path / "cli"
    env = dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    completed = subprocess.run(
        [sys.executable, "-m", "rlzoo.plot", sweep, "--out", str(out), "--x", "episodes", "--smooth", "2"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert (out / "learning_curves_MobileRobot.png").is_file()
    assert str(out / "learning_curves_MobileRobot.png") in completed.stdout


def test_sweep_plot_pools_the_runs_of_several_folders(sweep, tmp_path):
    """A grid run in parts gives one figure with every method (a second folder's plot does not replace the first's)."""
    extra = tmp_path / "second part"
    make_run(str(extra / "0_random"), "MobileRobot", "random", "ppo2", 0, [4.0] * 6)
    make_run(str(extra / "1_raw_pixels_seed2"), "MobileRobot", "raw_pixels", "ppo2", 2, [5.0] * 6)
    out = str(tmp_path / "pooled")
    plot_sweep([sweep, str(extra)], out_dir=out, smooth=2)
    rows = read_csv_rows(os.path.join(out, "learning_curves_MobileRobot.csv"))
    assert {row["label"] for row in rows} == {"ground_truth ppo2", "raw_pixels ppo2", "random ppo2"}
    raw_pixels = [row for row in rows if row["label"] == "raw_pixels ppo2"]
    assert raw_pixels[-1]["n_runs"] == "3" and float(raw_pixels[-1]["mean"]) == pytest.approx(3.0)  # 1, 3 and 5
