"""Worker processes start from a joblib (loky) worker too: Hydra's joblib launcher runs every job in one."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import joblib
import numpy as np
import pytest

from envs.processes import standard_start_method
from envs.vec import EnvFactory
from srl.data import load_dataset


def _in_loky_worker(function, *args):
    """``function(*args)`` run in a worker of joblib's loky backend (two workers, one task)."""
    [(method, result)] = joblib.Parallel(n_jobs=2, backend="loky")(
        joblib.delayed(lambda: (multiprocessing.get_start_method(), function(*args)))() for _ in range(1))
    assert method == "loky"  # the setting these paths must survive
    return result


def _subproc_rewards() -> list[float]:
    venv = EnvFactory("MobileRobot-v0", seed=3, vec_env="subproc").make(2)
    venv.reset()
    rewards = [venv.step(np.array([0, 1]))[1].tolist() for _ in range(5)]
    venv.close()
    return rewards


def _record(folder: Path) -> int:
    from srl.dataset import record_dataset
    record_dataset(folder, "MobileRobot-v0", episodes=2, n_workers=2, max_steps=5, progress=False)
    return len(load_dataset(folder).actions)


def test_subprocess_vec_env_in_a_joblib_worker() -> None:
    assert _in_loky_worker(_subproc_rewards) == _subproc_rewards()


def test_dataset_recording_in_a_joblib_worker(tmp_path: Path) -> None:
    assert _in_loky_worker(_record, tmp_path / "a") == _record(tmp_path / "b") == 2 * 5


def test_start_method_restored_and_checked() -> None:
    before = multiprocessing.get_start_method(allow_none=True)
    with standard_start_method():
        assert multiprocessing.get_start_method(allow_none=True) == before  # already standard (or unset): untouched
    with pytest.raises(ValueError, match="'loky' is not a standard start method"):
        with standard_start_method("loky"):
            pass
