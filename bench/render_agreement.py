"""How closely the composite renderer reproduces pybullet's per-step render, over random states of every env of the
MobileRobot family.

    python bench/render_agreement.py [--states 200] [--sizes 64 224] [--envs MobileRobot-v0 ...]

For each env and image size: ``--states`` random states (``reset(seed)`` with random targets, then the robot anywhere
in its range), each rendered by both renderers. Prints a Markdown table: mean absolute difference (levels of 255,
mean over states and worst state), share of pixels within 10 levels on every channel (all pixels, and worst state),
the largest distance between the two renderers' pixel centroids of each moving body, and how the robot was drawn
(sprite / exact window; two images per state: the reset's and the compared one). Targets: mean abs <= 2, >= 98 %
within, centroids within 0.5 px.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gymnasium as gym
import numpy as np

import envs
from envs.rendering.agreement import compare, random_state

MOBILE_IDS = [env_id for env_id in envs.ENV_IDS if env_id.startswith("MobileRobot")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="*", default=MOBILE_IDS)
    parser.add_argument("--sizes", nargs="*", type=int, default=[64, 224])
    parser.add_argument("--states", type=int, default=200)
    args = parser.parse_args()
    print(f"{args.states} random states per env and size (random targets, robot anywhere in its range)\n")
    print("| env | size | mean abs diff (mean / worst) | pixels within 10/255 (all / worst) "
          "| max centroid error, px (per body) | robot drawn (sprite / window) |")
    print("|---|---:|---:|---:|---|---:|")
    for env_id in args.envs:
        for size in args.sizes:
            composite = gym.make(env_id, observation="pixels", image_size=size, random_target=True).unwrapped
            reference = gym.make(env_id, observation="pixels", image_size=size, random_target=True,
                                 renderer="pybullet").unwrapped
            results = []
            for seed in range(args.states):
                random_state(composite, seed)
                results.append(compare(composite, reference))
            mean_abs = np.array([r.mean_abs for r in results])
            within = np.array([r.within for r in results])
            centroids = np.nanmax(np.array([r.centroid_errors for r in results]), axis=0)
            names = [moving.name for moving in composite.camera_scene().moving]
            counts = composite._compositor.counts
            drawn = f"{counts['sprite']} / {sum(counts.values()) - counts['sprite']}"
            print(f"| {env_id} | {size} | {mean_abs.mean():.3f} / {mean_abs.max():.3f} "
                  f"| {100 * within.mean():.3f} % / {100 * within.min():.3f} % "
                  f"| {', '.join(f'{name} {error:.2f}' for name, error in zip(names, centroids))} | {drawn} |",
                  flush=True)
            composite.close()
            reference.close()


if __name__ == "__main__":
    main()
