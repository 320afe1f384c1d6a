"""``live_plots=tensorboard``: SB3's logger writes TensorBoard events into the run folder, for every algorithm."""

from __future__ import annotations

from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import FAST, run_main


def scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of the event files in ``folder``: tag -> [(step, value)]."""
    found: dict[str, list[tuple[int, float]]] = {}
    for events in sorted(folder.glob("events.out.tfevents.*")):
        accumulator = EventAccumulator(str(events))
        accumulator.Reload()
        for tag in accumulator.Tags()["scalars"]:
            found.setdefault(tag, []).extend((e.step, e.value) for e in accumulator.Scalars(tag))
    return found


def test_ppo_writes_its_losses_rewards_and_speed(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    overrides = [o for o in FAST if not o.startswith("live_plots")]
    result = run_main([*overrides, "live_plots=tensorboard", f"hydra.run.dir={run_dir}"])
    assert result.returncode == 0, result.stderr[-2000:]
    found = scalars(run_dir / "tensorboard")
    for tag in ("train/entropy_loss", "train/value_loss", "train/learning_rate", "rollout/ep_rew_mean", "time/fps",
                "run/steps_per_s", "run/episodes"):
        assert tag in found, sorted(found)
    assert [step for step, _ in found["run/episodes"]] == [256, 512]  # one point per progress line
    assert found["run/mean_reward_last_100"][-1][0] == 512
    # a resumed run continues the same curves, and may change how it is watched
    result = run_main(["resume=true", "live_plots=both", "total_timesteps=1024", f"hydra.run.dir={run_dir}"])
    assert result.returncode == 2 and "'total_timesteps=1024' differs" in result.stderr
    result = run_main(["resume=true", "live_plots=none", f"hydra.run.dir={run_dir}"])
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("algo", ["deepq", "cmaes"])
def test_every_algorithm_writes_the_run_figures(tmp_path: Path, algo: str) -> None:
    run_dir = tmp_path / algo
    result = run_main([f"algo={algo}", "total_timesteps=600", "n_envs=1", "log_interval=300",
                       "checkpoint_interval=300", "live_plots=tensorboard", f"hydra.run.dir={run_dir}"])
    assert result.returncode == 0, result.stderr[-2000:]
    found = scalars(run_dir / "tensorboard")
    assert [step for step, _ in found["run/episodes"]][:1] == [300] and "run/steps_per_s" in found


def test_an_unknown_live_view_is_refused(tmp_path: Path) -> None:
    result = run_main([*FAST, "live_plots=wandb", f"hydra.run.dir={tmp_path / 'run'}"])
    assert result.returncode == 2
    assert "live_plots='wandb' is not one of: visdom, tensorboard, both, none" in result.stderr
