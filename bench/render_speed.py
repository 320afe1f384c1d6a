"""Camera images per CPU second, composite renderer against pybullet's per-step render, for the MobileRobot family.

    python bench/render_speed.py [--envs MobileRobot-v0 ...] [--sizes 64 224] [--seconds 2] [--random-target]

The states are those of random-action episodes (0.1 m moves, a reset every 251 steps, as in training), recorded
once with a ground-truth env and replayed into each renderer: the figure is the camera call alone
(``render_image``), per second of process CPU time (``time.process_time``, one thread: OMP_NUM_THREADS=1). The
precompute column is the CPU time of the first composite image of a process for that scene and size (pieces and
studios, shared by every env of the process afterwards); the last column is the share of images whose robot was a
sprite, and of images that reused an exact window render of the same position (the others rendered one).
``--fresh`` draws every state anywhere in the robot's range instead (no position ever repeats: the worst case).
Targets: 20,000 images/s at 64x64 and 3,000 at 224x224.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gymnasium as gym
import numpy as np

import envs

MOBILE_IDS = [env_id for env_id in envs.ENV_IDS if env_id.startswith("MobileRobot")]
N_STATES = 5020  # 20 episodes of 251 steps


def record_states(env_id: str, random_target: bool, fresh: bool) -> list[tuple[float, float, np.ndarray]]:
    """(x, y, targets) of ``N_STATES`` random-action steps, resets included (seeded); with ``fresh``, the robot is
    drawn anywhere in its range at every state instead."""
    env = gym.make(env_id, random_target=random_target)
    robot = env.unwrapped
    env.reset(seed=0)
    env.action_space.seed(0)
    rng = np.random.default_rng(0)
    moving = robot.camera_scene().moving[-1]
    states = []
    for _ in range(N_STATES):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        x, y = (rng.uniform(*moving.x_range), rng.uniform(*moving.y_range)) if fresh else (robot.x, robot.y)
        states.append((float(x), float(y), robot.targets.copy()))
        if terminated or truncated:
            env.reset()
    env.close()
    return states


def images_per_cpu_second(env: gym.Env, states: list[tuple[float, float, np.ndarray]], seconds: float) -> float:
    """``render_image`` calls per CPU second, cycling through ``states``."""
    robot = env.unwrapped
    count, start = 0, time.process_time()
    while time.process_time() - start < seconds:
        for _ in range(100):
            robot.x, robot.y, robot.targets = states[count % len(states)]
            robot.render_image()
            count += 1
    return count / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="*", default=MOBILE_IDS)
    parser.add_argument("--sizes", nargs="*", type=int, default=[64, 224])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--random-target", action="store_true", help="a new target at every reset")
    parser.add_argument("--fresh", action="store_true", help="every state anywhere in the robot's range")
    args = parser.parse_args()
    print("| env | size | composite images/s | pybullet images/s | ratio | composite precompute (CPU s) "
          "| robot drawn as a sprite | robot window reused |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for env_id in args.envs:
        states = record_states(env_id, args.random_target, args.fresh)
        for size in args.sizes:
            rates = {}
            for renderer in ("composite", "pybullet"):
                env = gym.make(env_id, observation="pixels", image_size=size, random_target=args.random_target,
                               renderer=renderer)
                robot = env.unwrapped
                start = time.process_time()
                robot.reset(seed=0)  # the first image: builds the pieces (composite) or the scene (pybullet)
                if renderer == "composite":
                    precompute = time.process_time() - start
                rates[renderer] = images_per_cpu_second(env, states, args.seconds)
                if renderer == "composite":
                    counts = robot._compositor.counts
                    sprites = counts["sprite"] / sum(counts.values())
                    cached = counts["cached window"] / sum(counts.values())
                env.close()
            print(f"| {env_id} | {size} | {rates['composite']:,.0f} | {rates['pybullet']:,.0f} "
                  f"| {rates['composite'] / rates['pybullet']:.0f}x | {precompute:.2f} | {100 * sprites:.0f} % "
                  f"| {100 * cached:.0f} % |",
                  flush=True)


if __name__ == "__main__":
    main()
