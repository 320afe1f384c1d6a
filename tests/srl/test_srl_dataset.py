"""Recording datasets (the original's layout and keys, in parallel), and reading ours and the original's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from srl.errors import ConfigError
from srl.data import IMAGES_FILE, load_dataset
from srl.dataset import record_dataset

ROOT = Path(__file__).resolve().parents[2]
STEPS = 12


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MobileRobot, random targets, 3 episodes of 12 steps, recorded by 2 processes."""
    return record_dataset(tmp_path_factory.mktemp("data") / "mobile", "MobileRobot-v0", {"random_target": True},
                          episodes=3, n_workers=2, seed=3, image_size=64, max_steps=STEPS, progress=False)


def test_recording_keeps_the_original_layout_and_keys(recorded: Path) -> None:
    assert {p.name for p in recorded.iterdir()} == {"dataset_config.json", "env_globals.json",
                                                    "preprocessed_data.npz", "ground_truth.npz", IMAGES_FILE}
    n = 3 * STEPS
    with np.load(recorded / "preprocessed_data.npz") as pre:
        assert sorted(pre.files) == ["actions", "episode_starts", "rewards"]
        assert pre["actions"].shape == (n,) and np.issubdtype(pre["actions"].dtype, np.integer)
        assert pre["rewards"].shape == (n,)
        assert pre["episode_starts"].dtype == bool
        assert np.flatnonzero(pre["episode_starts"]).tolist() == [0, STEPS, 2 * STEPS]
    with np.load(recorded / "ground_truth.npz") as gt:
        assert {"ground_truth_states", "target_positions", "images_path"} <= set(gt.files)
        assert gt["ground_truth_states"].shape == (n, 2)
        assert gt["target_positions"].shape == (3, 2)  # one per episode
        assert gt["images_path"][STEPS + 1] == "mobile/record_001/frame000001"
    images = np.load(recorded / IMAGES_FILE)
    assert images.shape == (n, 64, 64, 3) and images.dtype == np.uint8 and images.std() > 10
    config = json.loads((recorded / "dataset_config.json").read_text())
    assert config["relative_pos"] is True and isinstance(config["max_dist"], str)
    assert config["env_id"] == "MobileRobot-v0" and config["image_size"] == 64
    assert json.loads((recorded / "env_globals.json").read_text())["MAX_STEPS"] == 251


def test_frames_actions_and_rewards_are_aligned(recorded: Path) -> None:
    data = load_dataset(recorded)
    moves = {0: (-0.1, 0), 1: (0.1, 0), 2: (0, -0.1), 3: (0, 0.1)}
    for t in data.transitions:
        step = data.ground_truth[t + 1] - data.ground_truth[t]
        if data.rewards[t] == -1:  # a wall: the move was cancelled
            assert np.allclose(step, 0)
        else:
            assert np.allclose(step, moves[int(data.actions[t])])
    assert len(data.transitions) == 3 * (STEPS - 1)
    assert np.allclose(data.target_ground_truth, data.ground_truth - data.frame_targets)


def test_the_dataset_does_not_depend_on_the_number_of_processes(recorded: Path, tmp_path: Path) -> None:
    alone = record_dataset(tmp_path / "alone", "MobileRobot-v0", {"random_target": True}, episodes=3, n_workers=1,
                           seed=3, image_size=64, max_steps=STEPS, progress=False)
    for name in ("preprocessed_data.npz", "ground_truth.npz"):
        with np.load(recorded / name) as a, np.load(alone / name) as b:
            for key in ("actions", "rewards", "ground_truth_states", "target_positions"):
                if key in a.files:
                    np.testing.assert_array_equal(a[key], b[key])
    np.testing.assert_array_equal(np.load(recorded / IMAGES_FILE), np.load(alone / IMAGES_FILE))


def test_original_jpeg_datasets_load(tmp_path: Path) -> None:
    folder = record_dataset(tmp_path / "jpg", "MobileRobot-v0", episodes=1, seed=0, image_size=64, max_steps=4,
                            save_jpg=True, progress=False)
    stack = np.load(folder / IMAGES_FILE)
    assert sorted(p.name for p in (folder / "record_000").iterdir()) == [f"frame{i:06d}.jpg" for i in range(4)]
    os.remove(folder / IMAGES_FILE)  # now only the original's per-frame JPEGs are left
    data = load_dataset(folder)
    assert data.images.shape == stack.shape
    assert np.abs(data.images.astype(int) - stack).mean() < 3  # JPEG is lossy
    assert load_dataset(folder, image_size=32).images.shape == (4, 32, 32, 3)


def test_missing_or_incomplete_datasets_are_explained(recorded: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"dataset=.*nowhere does not exist .*python -m srl.dataset"):
        load_dataset(tmp_path / "nowhere")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "preprocessed_data.npz").write_bytes((recorded / "preprocessed_data.npz").read_bytes())
    with pytest.raises(ConfigError, match="is incomplete: ground_truth.npz missing"):
        load_dataset(broken)
    with pytest.raises(ConfigError, match="already exists; pass force=true"):
        record_dataset(recorded, "MobileRobot-v0", episodes=1, progress=False)


def test_command_line(tmp_path: Path) -> None:
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    common = [sys.executable, "-m", "srl.dataset", f"save_path={tmp_path}", f"hydra.run.dir={tmp_path}/hydra"]
    bad = subprocess.run([*common, "env=NoSuchEnv"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2
    assert "error: env='NoSuchEnv' is neither an option of conf/env" in bad.stderr and "MobileRobot" in bad.stderr
    assert "Traceback" not in bad.stderr
    good = subprocess.run([*common, "env=MobileRobot2Target", "episodes=2", "max_steps=3", "n_workers=1",
                           "name=cli", "progress=false"], cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=120)
    assert good.returncode == 0, good.stderr
    assert load_dataset(tmp_path / "cli").env_id == "MobileRobot2Target-v0"


def test_a_killed_recording_leaves_nothing_behind(tmp_path: Path) -> None:
    """The temporary folder of a recording process that no longer exists is removed by the next recording."""
    import os

    dead = 4_194_000
    while True:  # a pid no process has
        try:
            os.kill(dead, 0)
            dead += 1
        except ProcessLookupError:
            break
        except PermissionError:
            dead += 1
    (tmp_path / f".data.tmp-{dead}" / ".episodes").mkdir(parents=True)
    record_dataset(tmp_path / "data", "MobileRobot-v0", episodes=1, max_steps=3, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_seeds_outside_numpys_range_are_refused_before_recording(tmp_path: Path) -> None:
    """Every SRL entry point checks its seeds like the run does (the same kind of input as a run's seed)."""
    from srl.config import train_config
    from srl.train import train_model

    with pytest.raises(ConfigError, match="seed=-1 is out of range"):
        record_dataset(tmp_path / "data", "MobileRobot-v0", episodes=1, seed=-1, progress=False)
    assert not list(tmp_path.iterdir())
    data = record_dataset(tmp_path / "ok", "MobileRobot-v0", episodes=1, max_steps=4, progress=False)
    for key in ("seed", "knn_seed"):
        with pytest.raises(ConfigError, match=f"{key}=4294967296 is out of range"):
            train_model(train_config("autoencoder", str(data), {key: 2**32, "progress": False}),
                        log_folder=tmp_path / "model")
