"""Environment steps per second on one core, for every registered toolbox env, ground truth and pixels.

    python bench/env_speed.py [--envs MobileRobot-v0 ...] [--sizes 64 224] [--seconds 3]

Prints a Markdown table: env, observation, steps/s, and for pixels the renderer's own rate (the time spent in
``render_image`` while stepping) and the ratio between the two (1.00 = nothing wasted around the renderer). The
reference line is the original toolbox's claim: 250 steps/s on 8 cores with rendering at every step, about 31 per
core.

``--cpu-time`` divides by the process's CPU time instead of wall time: the per-core rate even when other
processes share the machine. ``--renderer pybullet`` renders every image with pybullet (the reference) instead of
the default composite renderer (envs whose images do not come from pybullet refuse it: leave them out with --envs).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gymnasium as gym

import envs

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
    """Camera images per second (the renderer's own cost): the time spent in ``render_image`` while stepping with
    random actions (resets included), the first image (which builds the scene) left out."""
    robot = env.unwrapped
    env.reset(seed=1)
    env.action_space.seed(1)
    render_image = robot.render_image
    spent, calls = [0.0], [0]

    def timed_render_image() -> Any:
        start = clock()
        image = render_image()
        spent[0] += clock() - start
        calls[0] += 1
        return image

    robot.render_image = timed_render_image  # the env's observations go through it
    try:
        while spent[0] < seconds:
            for _ in range(20):
                _, _, terminated, truncated, _ = env.step(env.action_space.sample())
                if terminated or truncated:
                    env.reset()
    finally:
        del robot.render_image
    return calls[0] / spent[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="*", default=list(envs.ENV_IDS))
    parser.add_argument("--sizes", nargs="*", type=int, default=[64, 224])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--cpu-time", action="store_true", help="rates per CPU second instead of wall second")
    parser.add_argument("--renderer", choices=["composite", "pybullet"], default="composite",
                        help="the envs' renderer for pixels (composite: the default; pybullet: the per-step reference)")
    args = parser.parse_args()
    global clock
    clock = time.process_time if args.cpu_time else time.perf_counter
    print(f"reference: the original toolbox, about {ORIGINAL_PER_CORE:.0f} steps/s per core (rendering every step)")
    print(f"renderer: {args.renderer}\n")
    print("| env | observation | steps/s (1 core) | renderer alone /s | step / renderer |")
    print("|---|---|---:|---:|---:|")
    for env_id in args.envs:
        env = gym.make(env_id)
        print(f"| {env_id} | ground truth | {steps_per_second(env, args.seconds):,.0f} | | |", flush=True)
        env.close()
        for size in args.sizes:
            kwargs = {} if args.renderer == "composite" else {"renderer": args.renderer}
            try:
                env = gym.make(env_id, observation="pixels", image_size=size, **kwargs)
            except (TypeError, ValueError) as error:  # an env without that renderer
                print(f"| {env_id} | pixels {size}x{size} | {error} | | |", flush=True)
                continue
            rate = steps_per_second(env, args.seconds)
            alone = render_rate(env, args.seconds)
            print(f"| {env_id} | pixels {size}x{size} | {rate:,.0f} | {alone:,.0f} | {rate / alone:.2f} |", flush=True)
            env.close()


if __name__ == "__main__":
    main()
