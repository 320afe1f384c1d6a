"""Reading run folders: monitor files (merged by wall time, truncated lines), labels from .hydra/, sweep discovery."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import yaml

from rlzoo.monitor import find_runs, group_by_method, load_episodes, read_monitor_file, read_run_info


def write_monitor(path: str, t_start: float, rows: list[tuple[float, int, float]], tail: str = "") -> None:
    """Write a file in SB3 Monitor format (``r,l,t`` rows, CRLF as SB3's csv writer does), plus raw ``tail``."""
    with open(path, "w", newline="") as handle:
        handle.write("#" + json.dumps({"t_start": t_start, "env_id": "MobileRobot-v0"}) + "\n")
        handle.write("r,l,t\r\n")
        handle.writelines(f"{reward},{length},{time_s}\r\n" for reward, length, time_s in rows)
        handle.write(tail)


def write_hydra(run_dir: str, env: str, srl_model: str, algo: str, seed: int, override_dirname: str = "") -> None:
    """Write the .hydra/config.yaml and .hydra/hydra.yaml that a training run leaves."""
    os.makedirs(os.path.join(run_dir, ".hydra"), exist_ok=True)
    config = {
        "seed": seed,
        "total_timesteps": 1000,
        "n_envs": 2,
        "env": {"id": f"{env}-v0"},
        "srl_model": {"name": srl_model},
        "algo": {"_target_": "rlzoo.algos.Something"},
        "action_space": {"name": "discrete"},
    }
    hydra = {
        "hydra": {
            "runtime": {"choices": {"env": env, "srl_model": srl_model, "algo": algo, "action_space": "discrete"}},
            "job": {"override_dirname": override_dirname},
        }
    }
    with open(os.path.join(run_dir, ".hydra", "config.yaml"), "w") as handle:
        yaml.safe_dump(config, handle)
    with open(os.path.join(run_dir, ".hydra", "hydra.yaml"), "w") as handle:
        yaml.safe_dump(hydra, handle)


def test_read_monitor_file_ignores_a_partly_written_last_line(tmp_path):
    path = str(tmp_path / "0.monitor.csv")
    write_monitor(path, 100.0, [(1.5, 10, 0.5), (-2.0, 20, 1.25)], tail="3.0,1")  # no newline yet: being written
    parsed = read_monitor_file(path)
    assert parsed.t_start == 100.0
    np.testing.assert_array_equal(parsed.rewards, [1.5, -2.0])
    np.testing.assert_array_equal(parsed.lengths, [10, 20])
    np.testing.assert_array_equal(parsed.times, [0.5, 1.25])


def test_read_monitor_file_skips_malformed_rows_and_reads_empty_files(tmp_path):
    path = str(tmp_path / "0.monitor.csv")
    write_monitor(path, 0.0, [(1.0, 5, 0.1)], tail="oops,,\r\n2.0,6,0.2\r\n")
    np.testing.assert_array_equal(read_monitor_file(path).rewards, [1.0, 2.0])
    empty = tmp_path / "1.monitor.csv"
    empty.write_text("")
    assert len(read_monitor_file(str(empty)).rewards) == 0
    header_only = tmp_path / "2.monitor.csv"
    header_only.write_text('#{"t_start": 5.0}\n')
    assert len(read_monitor_file(str(header_only)).rewards) == 0


def test_load_episodes_merges_workers_by_absolute_wall_time(tmp_path):
    # Worker 0 started at t=100, worker 1 at t=101: absolute end times 100.5, 101.2, 101.3, 102.0, 102.5.
    write_monitor(str(tmp_path / "0.monitor.csv"), 100.0, [(1.0, 10, 0.5), (3.0, 30, 1.3), (5.0, 50, 2.5)])
    write_monitor(str(tmp_path / "1.monitor.csv"), 101.0, [(2.0, 20, 0.2), (4.0, 40, 1.0)], tail="9.0,9")
    episodes = load_episodes(str(tmp_path))
    np.testing.assert_array_equal(episodes.rewards, [1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_array_equal(episodes.lengths, [10, 20, 30, 40, 50])
    # x of an episode: steps of all episodes that finished before it.
    np.testing.assert_array_equal(episodes.timesteps, [0, 10, 30, 60, 100])
    np.testing.assert_allclose(episodes.wall_times, [0.5, 1.2, 1.3, 2.0, 2.5])
    assert episodes.total_timesteps == 150
    assert len(episodes) == 5


def test_load_episodes_of_a_folder_without_monitor_files(tmp_path):
    assert len(load_episodes(str(tmp_path))) == 0


def test_read_run_info_uses_hydra_choices_and_metrics(tmp_path):
    run = tmp_path / "0_seed=3"
    write_hydra(str(run), "MobileRobot", "ground_truth", "ppo2", seed=3, override_dirname="seed=3")
    (run / "metrics.json").write_text(json.dumps({"status": "finished", "timesteps": 1024}))
    info = read_run_info(str(run))
    assert info.method == ("MobileRobot", "ground_truth", "ppo2")
    assert (info.seed, info.env_id, info.action_space) == (3, "MobileRobot-v0", "discrete")
    assert (info.override_dirname, info.status, info.timesteps) == ("seed=3", "finished", 1024)
    assert info.label == "MobileRobot/ground_truth/ppo2 seed=3"


def test_read_run_info_falls_back_to_the_single_run_layout(tmp_path):
    run = tmp_path / "outputs" / "KukaButton" / "raw_pixels" / "a2c" / "2024-01-01_10-00-00"
    run.mkdir(parents=True)
    write_monitor(str(run / "0.monitor.csv"), 0.0, [(1.0, 5, 0.1)])
    info = read_run_info(str(run))
    assert info.method == ("KukaButton", "raw_pixels", "a2c")
    assert info.seed is None and info.status is None


def test_find_runs_in_a_sweep_and_group_them_by_method(tmp_path):
    sweep = tmp_path / "multirun" / "2024-01-01" / "10-00-00"
    sweep.mkdir(parents=True)
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    for job, (srl_model, seed) in enumerate([("ground_truth", 0), ("raw_pixels", 0), ("ground_truth", 1)]):
        write_hydra(str(sweep / f"{job}_seed={seed}"), "MobileRobot", srl_model, "ppo2", seed)
    (sweep / "not_a_run").mkdir()
    runs = find_runs(str(sweep))
    assert [os.path.basename(run) for run in runs] == ["0_seed=0", "1_seed=0", "2_seed=1"]
    assert find_runs(runs[0]) == [runs[0]]
    groups = group_by_method(runs)
    assert list(groups) == [("MobileRobot", "ground_truth", "ppo2"), ("MobileRobot", "raw_pixels", "ppo2")]
    assert [info.seed for info in groups[("MobileRobot", "ground_truth", "ppo2")]] == [0, 1]


@pytest.mark.parametrize("bad", ["x,y,z\r\n", "r,l\r\n"])
def test_monitor_file_without_the_reward_columns_is_an_error(tmp_path, bad):
    path = tmp_path / "0.monitor.csv"
    path.write_text('#{"t_start": 0}\n' + bad)
    with pytest.raises(ValueError, match="r, l, t"):
        read_monitor_file(str(path))
