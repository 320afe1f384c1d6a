"""Memory stays flat over many resets (no per-reset growth), and the Kuka world rebuild does not change episodes."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from envs import car_racing, kuka_button

pytestmark = pytest.mark.skipif(not Path("/proc/self/statm").exists() or sys.platform != "linux",
                                reason="reads the resident set size from /proc")

#: env id -> (keyword arguments, warm-up resets, measured resets, allowed growth in MiB)
CASES = {
    "KukaButton-v0": ({}, 30, 300, 2.0),
    "KukaRandButton-v0": ({}, 160, 400, 4.0),  # before the fix: about 27 MiB over 400 resets
    "Kuka2Button-v0": ({}, 30, 300, 2.0),
    "KukaMovingButton-v0": ({}, 30, 300, 2.0),
    "KukaRandButton-v0/pixels": ({"observation": "pixels", "image_size": 64}, 110, 250, 4.0),
    "MobileRobot-v0": ({}, 100, 2000, 2.0),
    "Omnirobot-v0": ({}, 100, 2000, 2.0),
    "SRLCarRacing-v0": ({}, 50, 2000, 1.0),  # before the fix: about 2.5-5 MiB over 2,000 resets
}


def rss_mib() -> float:
    """This process's resident set size (MiB)."""
    with open("/proc/self/statm") as stream:
        return int(stream.read().split()[1]) * 4096 / 2**20


@pytest.mark.parametrize("case", list(CASES))
def test_memory_is_flat_over_resets(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # a short rebuild interval, so that a few hundred resets span several rebuilds (the default is 200)
    monkeypatch.setattr(kuka_button, "WORLD_REBUILD_INTERVAL", 50)
    kwargs, warm_up, resets, allowed = CASES[case]
    env = gym.make(case.split("/")[0], **kwargs)
    env.reset(seed=0)
    for _ in range(warm_up):
        env.reset()
        env.step(env.action_space.sample())
    start = rss_mib()
    for _ in range(resets):
        env.reset()
        env.step(env.action_space.sample())
    growth = rss_mib() - start
    env.close()
    assert growth < allowed, f"{case} grew by {growth:.1f} MiB over {resets} resets"


def test_world_rebuild_keeps_episodes(monkeypatch: pytest.MonkeyPatch) -> None:
    """An episode is the same in a fresh env and in one that rebuilt its world after many resets."""
    monkeypatch.setattr(kuka_button, "WORLD_REBUILD_INTERVAL", 5)

    def episode(env: gym.Env) -> np.ndarray:
        observations = [env.reset(seed=11)[0]]
        rng = np.random.default_rng(0)
        observations += [env.step(int(rng.integers(6)))[0] for _ in range(30)]  # includes the ball's push
        return np.array(observations)

    rebuilds = []
    discard = kuka_button.KukaButtonEnv._discard_world
    monkeypatch.setattr(kuka_button.KukaButtonEnv, "_discard_world", lambda env: rebuilds.append(1) or discard(env))
    fresh = gym.make("KukaRandButton-v0", random_target=True)
    used = gym.make("KukaRandButton-v0", random_target=True)
    for seed in range(12):
        used.reset(seed=seed)
        used.step(used.action_space.sample())
    assert len(rebuilds) == 2  # after the 5th and the 10th reset
    np.testing.assert_array_equal(episode(fresh), episode(used))
    for env_id in ("KukaButton-v0", "Kuka2Button-v0", "KukaMovingButton-v0"):  # they load nothing at reset
        env = gym.make(env_id)
        for seed in range(7):
            env.reset(seed=seed)
        env.close()
    assert len(rebuilds) == 2
    fresh.close()
    used.close()


def test_car_racing_reused_definitions_keep_episodes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The car built from reused Box2D definitions drives exactly as gymnasium's own (observations, rewards)."""
    def episode() -> tuple[np.ndarray, list[float]]:
        env = gym.make("SRLCarRacing-v0")
        observations, rewards = [env.reset(seed=4)[0]], []
        env.reset(seed=5)  # a second car: the definitions are reused
        observations.append(env.reset(seed=4)[0])
        for step in range(120):  # accelerate, then steer off the road and back
            observation, reward, *_ = env.step(2 if step < 60 else (step // 20) % 2)
            observations.append(observation)
            rewards.append(reward)
        env.close()
        return np.array(observations), rewards

    reused = episode()
    monkeypatch.setattr(car_racing, "_car_definitions_reused", contextlib.nullcontext)
    own = episode()
    np.testing.assert_array_equal(reused[0], own[0])
    assert reused[1] == own[1] and sum(reused[1]) > 0  # tiles were reached
