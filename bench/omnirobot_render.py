"""Omnirobot camera images per CPU second: the element-wise reference against the fast path, and how they agree.

    python bench/omnirobot_render.py [--sizes 64 224] [--seconds 2] [--repeats 3] [--images 200]

``OmnirobotCamera.render_exact`` is the element-wise reference, ``OmnirobotCamera.render`` the fast path; both
draw the same noise from the same generator. The states are
random-action episodes like the env's (robot start and target in U(-0.7, 0.7)^2 m, target yaw in U(-pi, pi), size
factors 1 + N(0, 0.05), 0.1 m moves, 251 steps, a new episode at the end), one camera per size. The rates are
images per second of process CPU time (``time.process_time``, one thread: OMP_NUM_THREADS=1), each the best of
``--repeats`` runs of ``--seconds``, the two paths measured in turn. The agreement columns compare both paths on
``--images`` images drawn with identical generators (over 10 episodes, a tenth of the images with the robot next
to the target so that the markers overlap): mean absolute difference (levels, over all pixels and channels), share
of pixel channels within 10 levels and within 1 level (in the worst image), largest difference, and the largest
shift between the two images' marker centroids (px; each marker's centroid weighted by the image's difference
from the bare floor over its patch). ``render_exact`` is bit for bit the renderer this replaced. Targets: 20,000
images/s at 64x64 and 3,000 at 224x224.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from envs.omnirobot import BOUND, DIST_TO_TARGET_THRESHOLD, MAX_STEPS, MOVES, START_BOUND, STEP_DISTANCE, TARGET_BOUND
from envs.rendering.omnirobot import SIZE_NOISE_STD, OmnirobotCamera

Episode = tuple[np.ndarray, float, float, float, np.ndarray]  # target, target yaw, robot and target scales, robots


def episodes(count: int, seed: int) -> list[Episode]:
    """``count`` random-action episodes of ``MAX_STEPS`` robot positions (m), the robot kept inside the arena."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        target = rng.uniform(-TARGET_BOUND, TARGET_BOUND, size=2)
        target_yaw = float(rng.uniform(-np.pi, np.pi))
        robot_scale, target_scale = 1.0 + rng.normal(0.0, SIZE_NOISE_STD, size=2)
        robot = rng.uniform(-START_BOUND, START_BOUND, size=2)
        robots = []
        for _ in range(MAX_STEPS):
            moved = robot + np.asarray(MOVES[rng.integers(len(MOVES))]) * STEP_DISTANCE
            if np.all(np.abs(moved) < BOUND):
                robot = moved
            robots.append(robot)
        out.append((target, target_yaw, float(robot_scale), float(target_scale), np.array(robots)))
    return out


def images_per_cpu_second(camera: OmnirobotCamera, render: Callable, states: list[Episode], seconds: float) -> float:
    """``render`` calls per CPU second over the episodes in turn (``new_episode`` at each start, not timed)."""
    rng = np.random.default_rng(0)
    count, spent = 0, 0.0
    while spent < seconds:
        for target, target_yaw, robot_scale, target_scale, robots in states:
            camera.new_episode(target, target_yaw, robot_scale, target_scale)
            start = time.process_time()
            for robot in robots:
                render(robot, rng)
            spent += time.process_time() - start
            count += len(robots)
            if spent >= seconds:
                break
    return count / spent


def centroids(camera: OmnirobotCamera, image: np.ndarray, areas: list[tuple[slice, slice]]) -> np.ndarray:
    """(column, row) per area: the centroid of ``image``'s difference from the bare floor over that area."""
    difference = np.abs(image.astype(np.float64) - camera.floor_rgb).sum(axis=2)
    out = []
    for rows, cols in areas:
        weights = difference[rows, cols]
        r, c = np.mgrid[rows, cols]
        out.append([(c * weights).sum() / weights.sum(), (r * weights).sum() / weights.sum()])
    return np.array(out)


def agreement(camera: OmnirobotCamera, states: list[Episode], images: int) -> dict[str, float]:
    """Both paths on ``images`` images with identical generators: the figures of the module docstring."""
    per_episode = images // len(states)
    diffs, within10, within1, largest, shift = [], [], [], 0, 0.0
    for number, (target, target_yaw, robot_scale, target_scale, robots) in enumerate(states):
        camera.new_episode(target, target_yaw, robot_scale, target_scale)
        for step in range(per_episode):
            robot = target + 0.5 * DIST_TO_TARGET_THRESHOLD * np.array([1.0, -1.0]) if step % 10 == 9 else robots[step]
            rng = np.random.default_rng([number, step])
            twin = copy.deepcopy(rng)
            fast, exact = camera.render(robot, rng), camera.render_exact(robot, twin)
            difference = np.abs(fast.astype(np.int16) - exact)
            diffs.append(difference.mean())
            within10.append(np.mean(difference <= 10))
            within1.append(np.mean(difference <= 1))
            largest = max(largest, int(difference.max()))
            # the markers' areas: the target's patch, and the robot's last patch (the fast path's)
            top, left, patch = camera.target_patch
            areas = [(slice(top, top + patch.shape[0]), slice(left, left + patch.shape[1])), camera.robot_area]
            shift = max(shift, float(np.abs(centroids(camera, fast, areas) - centroids(camera, exact, areas)).max()))
    return {"mean": float(np.mean(diffs)), "within10": float(np.min(within10)), "within1": float(np.min(within1)),
            "max": largest, "shift": shift}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="*", type=int, default=[64, 224])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--images", type=int, default=200)
    args = parser.parse_args()
    states = episodes(10, seed=0)
    print("| size | exact images/CPU s | fast images/CPU s | ratio | mean abs diff (levels) | within 10 levels "
          "| within 1 level | max diff | max centroid shift (px) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in args.sizes:
        camera = OmnirobotCamera(size)
        rates = {"exact": 0.0, "fast": 0.0}
        for _ in range(args.repeats):
            for name, render in (("exact", camera.render_exact), ("fast", camera.render)):
                rates[name] = max(rates[name], images_per_cpu_second(camera, render, states, args.seconds))
        agree = agreement(camera, states, args.images)
        print(f"| {size} | {rates['exact']:,.0f} | {rates['fast']:,.0f} | {rates['fast'] / rates['exact']:.1f}x "
              f"| {agree['mean']:.6f} | {100 * agree['within10']:.4f} % | {100 * agree['within1']:.4f} % "
              f"| {agree['max']} | {agree['shift']:.4f} |", flush=True)


if __name__ == "__main__":
    main()
