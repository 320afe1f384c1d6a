"""Environment steps per second on one core, for every registered toolbox env, ground truth and pixels.

    python bench/env_speed.py [--envs MobileRobot-v0 ...] [--sizes 64 224] [--seconds 3]

Prints a Markdown table: env, observation, steps/s, and for pixels the renderer's own rate (the camera call alone)
and the ratio between the two (1.00 = nothing wasted around the renderer). The reference line is the original
toolbox's claim: 250 steps/s on 8 cores with rendering at every step, about 31 per core.

``--cpu-time`` divides by the process's CPU time instead of wall time: the per-core rate even when other
processes share the machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gymnasium as gym  # noqa: E402

import envs  # noqa: E402

ORIGINAL_PER_CORE = 250 / 8


clock = time.perf_counter


def steps_per_second(env: gym.Env, seconds: float) -> float:
    """Random-action steps per second (resets included) over about ``seconds``."""
    env.reset(seed=0)
    env.action_space.seed(0)
    steps, start = 0, clock()
    while clock() - start < seconds:
        for _ in range(50):
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            if terminated or truncated:
                env.reset()
        steps += 50
    return steps / (clock() - start)


def render_rate(env: gym.Env, seconds: float) -> float:
    """Camera renders per second of the env's current scene (the renderer's own cost)."""
    robot = env.unwrapped
    robot.render_image()  # builds the scene and the camera matrices
    calls, start = 0, clock()
    while clock() - start < seconds:
        robot.render_camera()
        calls += 1
    return calls / (clock() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="*", default=list(envs.ENV_IDS))
    parser.add_argument("--sizes", nargs="*", type=int, default=[64, 224])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--cpu-time", action="store_true", help="rates per CPU second instead of wall second")
    args = parser.parse_args()
    global clock
    clock = time.process_time if args.cpu_time else time.perf_counter
    print(f"reference: the original toolbox, about {ORIGINAL_PER_CORE:.0f} steps/s per core (rendering every step)\n")
    print("| env | observation | steps/s (1 core) | renderer alone /s | step / renderer |")
    print("|---|---|---:|---:|---:|")
    for env_id in args.envs:
        env = gym.make(env_id)
        print(f"| {env_id} | ground truth | {steps_per_second(env, args.seconds):,.0f} | | |", flush=True)
        env.close()
        for size in args.sizes:
            env = gym.make(env_id, observation="pixels", image_size=size)
            rate = steps_per_second(env, args.seconds)
            alone = render_rate(env, args.seconds)
            print(f"| {env_id} | pixels {size}x{size} | {rate:,.0f} | {alone:,.0f} | {rate / alone:.2f} |", flush=True)
            env.close()


if __name__ == "__main__":
    main()
