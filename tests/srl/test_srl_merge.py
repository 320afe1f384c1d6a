"""Merging datasets (``python -m srl.merge``): renumbered episodes, concatenated arrays, compatibility checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from srl.data import load_dataset
from srl.dataset import record_dataset
from srl.errors import ConfigError
from srl.merge import main, merge_datasets


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two small MobileRobot datasets: 2 episodes of 6 frames (seed 0) and 1 episode of 4 frames (seed 1)."""
    root = tmp_path_factory.mktemp("merge")
    return [record_dataset(root / "a", "MobileRobot-v0", {"random_target": True}, episodes=2, seed=0, max_steps=6,
                           progress=False),
            record_dataset(root / "b", "MobileRobot-v0", {"random_target": True}, episodes=1, seed=1, max_steps=4,
                           progress=False)]


def test_merged_dataset_holds_the_episodes_of_each_source_in_order(sources: list[Path], tmp_path: Path) -> None:
    before = [sorted((p.name, p.stat().st_mtime_ns) for p in source.iterdir()) for source in sources]
    assert main([str(sources[0]), str(sources[1]), "--out", str(tmp_path / "ab")]) == 0
    a, b, ab = load_dataset(sources[0]), load_dataset(sources[1]), load_dataset(tmp_path / "ab")
    assert len(ab) == len(a) + len(b) == 16
    assert ab.episode_starts.sum() == 3 and np.flatnonzero(ab.episode_starts).tolist() == [0, 6, 12]
    for key in ("images", "actions", "rewards", "ground_truth", "frame_targets"):
        assert (getattr(ab, key) == np.concatenate([getattr(a, key), getattr(b, key)])).all(), key
    assert ab.images_path[12] == "ab/record_002/frame000000" and ab.images_path[-1] == "ab/record_002/frame000003"
    config = json.loads((tmp_path / "ab" / "dataset_config.json").read_text())
    assert config["n_frames"] == 16 and config["episodes"] == 3 and config["env_id"] == "MobileRobot-v0"
    assert [s["seed"] for s in config["merged_from"]] == [0, 1]
    assert [sorted((p.name, p.stat().st_mtime_ns) for p in s.iterdir()) for s in sources] == before  # untouched


def test_incompatible_datasets_are_refused(sources: list[Path], tmp_path: Path) -> None:
    other = record_dataset(tmp_path / "big", "MobileRobot-v0", episodes=1, image_size=48, max_steps=3,
                           progress=False)
    with pytest.raises(ConfigError, match="its image size is 48, not 64"):
        merge_datasets([sources[0], other], tmp_path / "out")
    one_d = record_dataset(tmp_path / "1d", "MobileRobot1D-v0", episodes=1, max_steps=3, progress=False)
    with pytest.raises(ConfigError, match="its env is 'MobileRobot1D-v0', not 'MobileRobot-v0'"):
        merge_datasets([sources[0], one_d], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_existing_output_and_single_source_are_refused(sources: list[Path], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(sources[0]), "--out", str(tmp_path / "x")]) == 2
    assert "at least two datasets" in capsys.readouterr().err
    (tmp_path / "taken").mkdir()
    assert main([str(sources[0]), str(sources[1]), "--out", str(tmp_path / "taken")]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="cannot be one of its sources"):
        merge_datasets([sources[0], sources[1]], sources[0], force=True)


def test_delete_sources_when_asked(sources: list[Path], tmp_path: Path) -> None:
    import shutil

    copies = [Path(shutil.copytree(s, tmp_path / s.name)) for s in sources]
    merge_datasets(copies, tmp_path / "merged", delete_sources=True)
    assert not any(c.exists() for c in copies) and len(load_dataset(tmp_path / "merged")) == 16
