"""The Kuka envs' composite renderer against pybullet's full render: agreement and speed, per env and image size.

    python bench/kuka_render.py docs/kuka_render.png [--states 200] [--sizes 64 224] [--seconds 3] [--envs ...]

Agreement: over ``--states`` random states per env and size (random targets, random discrete actions, a state every
10 steps of 100-step episodes), both renderers draw the same physics state: the mean absolute difference (in 1/255),
the share of pixels within 10/255 on every channel, and the distance (pixels) between the centroids of the button
caps and of the gripper (links 7-13) in the two images, from segmentation masks. Speed: ``pixels`` env steps per CPU
second (``time.process_time``; random actions, resets included) with ``renderer="composite"`` and
``renderer="pybullet"``, and their ratio. The PNG shows one state per env at the largest size: pybullet | composite
| absolute difference (x4).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gymnasium as gym
import numpy as np

import envs  # noqa: F401  (registers the ids)
from envs.kuka_button import KukaButtonEnv
from envs.sim import pybullet

KUKA_IDS = ("KukaButton-v0", "KukaRandButton-v0", "Kuka2Button-v0", "KukaMovingButton-v0")
GRIPPER_LINKS = tuple(range(7, 14))
BUTTON_CAP_LINK = 1
STEPS_BETWEEN_STATES = 10
EPISODE_STEPS = 100


@dataclass
class Agreement:
    """Agreement of the two renderers over many states.

    :param mean_abs: mean absolute difference per channel (in 1/255). :param within_10: share of pixels within 10/255
    on every channel. :param worst_within_10: the lowest per-image share. :param button_shift: mean distance (px)
    between the button caps' centroids. :param gripper_shift: same for the gripper. :param example: one state's
    (pybullet, composite) images.
    """

    mean_abs: float
    within_10: float
    worst_within_10: float
    button_shift: float
    gripper_shift: float
    example: tuple[np.ndarray, np.ndarray]


def reference_image(env: KukaButtonEnv) -> tuple[np.ndarray, np.ndarray]:
    """pybullet's full render of the env's physics world and its segmentation (object and link codes)."""
    view, projection = env.sim.camera_matrices(env.camera)
    size = env.image_size
    _, _, rgba, _, seg = env.sim.client.getCameraImage(
        size, size, viewMatrix=view, projectionMatrix=projection, renderer=pybullet.ER_TINY_RENDERER,
        flags=pybullet.ER_SEGMENTATION_MASK_OBJECT_AND_LINKINDEX,
    )
    rgb = np.asarray(rgba, dtype=np.uint8).reshape(size, size, 4)[:, :, :3]
    return rgb, np.asarray(seg, dtype=np.int64).reshape(size, size)


def centroid_shift(seg_a: np.ndarray, seg_b: np.ndarray, codes: set[int]) -> float | None:
    """Distance (px) between the centroids of the pixels showing ``codes`` in two segmentations; None if absent."""
    centres = []
    for seg in (seg_a, seg_b):
        rows, cols = np.nonzero(np.isin(seg, list(codes)))
        if len(rows) == 0:
            return None
        centres.append((rows.mean(), cols.mean()))
    return float(np.hypot(centres[0][0] - centres[1][0], centres[0][1] - centres[1][1]))


def agreement(env_id: str, size: int, n_states: int) -> Agreement:
    """Compare both renderers on ``n_states`` random states of ``env_id`` at ``size`` pixels."""
    env = gym.make(env_id, image_size=size, random_target=True, renderer="composite").unwrapped
    rng = np.random.default_rng(0)
    diffs, within, button, gripper = [], [], [], []
    example = None
    episode = 0
    while len(diffs) < n_states:
        env.reset(seed=episode)
        episode += 1
        for step in range(1, EPISODE_STEPS + 1):
            _, _, terminated, _, _ = env.step(int(rng.integers(6)))
            if terminated:
                break
            if step % STEPS_BETWEEN_STATES or len(diffs) >= n_states:
                continue
            fast = env.render_image()
            fast_seg = env.composite_renderer().segmentation()
            reference, reference_seg = reference_image(env)
            difference = np.abs(fast.astype(np.int16) - reference.astype(np.int16))
            diffs.append(difference.mean())
            within.append(float((difference.max(axis=2) <= 10).mean()))
            arm = env.sim.body("robot")
            caps = {env.sim.body(f"button_{i}") + ((BUTTON_CAP_LINK + 1) << 24)
                    for i in range(len(env.task.button_urdfs))}
            for shifts, codes in ((button, caps), (gripper, {arm + ((link + 1) << 24) for link in GRIPPER_LINKS})):
                shift = centroid_shift(reference_seg, fast_seg, codes)
                if shift is not None:
                    shifts.append(shift)
            if example is None or difference.mean() > np.abs(example[1].astype(np.int16) - example[0]).mean():
                example = (reference, fast)  # the worst state, for the picture
    env.close()
    assert example is not None
    return Agreement(float(np.mean(diffs)), float(np.mean(within)), float(np.min(within)),
                     float(np.mean(button)) if button else float("nan"),
                     float(np.mean(gripper)) if gripper else float("nan"), example)


def steps_per_cpu_second(env_id: str, size: int, renderer: str, seconds: float) -> float:
    """Random-action ``pixels`` steps per CPU second (resets included) over about ``seconds`` of CPU time."""
    env = gym.make(env_id, observation="pixels", image_size=size, renderer=renderer)
    env.reset(seed=0)
    env.action_space.seed(0)
    steps, start = 0, time.process_time()
    while time.process_time() - start < seconds:
        for _ in range(20):
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            if terminated or truncated:
                env.reset()
        steps += 20
    rate = steps / (time.process_time() - start)
    env.close()
    return rate


def save_picture(path: Path, examples: dict[str, tuple[np.ndarray, np.ndarray]], size: int) -> None:
    """One row per env: pybullet | composite | absolute difference x4."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(examples), 3, figsize=(7.5, 2.6 * len(examples)), squeeze=False)
    for row, (env_id, (reference, fast)) in enumerate(examples.items()):
        difference = np.abs(fast.astype(np.int16) - reference.astype(np.int16))
        panels = (reference, fast, np.clip(difference * 4, 0, 255).astype(np.uint8))
        titles = ("pybullet", "composite", f"|difference| x4 (mean {difference.mean():.2f}/255)")
        for ax, image, title in zip(axes[row], panels, titles):
            ax.imshow(image, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(title if row else f"{title}", fontsize=8)
        axes[row][0].set_ylabel(env_id, fontsize=8)
    fig.suptitle(f"Kuka envs at {size}x{size}: the worst of the compared states per env", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("png", type=Path, help="where to write the side-by-side picture")
    parser.add_argument("--envs", nargs="*", default=list(KUKA_IDS))
    parser.add_argument("--sizes", nargs="*", type=int, default=[64, 224])
    parser.add_argument("--states", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=3.0, help="CPU seconds per speed measurement")
    args = parser.parse_args()
    print(f"agreement over {args.states} random states per env and size; speed in pixels steps per CPU second\n")
    print("| env | size | mean abs diff (/255) | pixels within 10/255 (mean, worst image) | button centroid shift (px) "
          "| gripper centroid shift (px) | composite steps/s | pybullet steps/s | speed-up |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    examples: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for env_id in args.envs:
        for size in args.sizes:
            result = agreement(env_id, size, args.states)
            fast = steps_per_cpu_second(env_id, size, "composite", args.seconds)
            reference = steps_per_cpu_second(env_id, size, "pybullet", args.seconds)
            print(f"| {env_id} | {size} | {result.mean_abs:.2f} | {100 * result.within_10:.2f} % "
                  f"({100 * result.worst_within_10:.2f} %) | {result.button_shift:.3f} | {result.gripper_shift:.3f} "
                  f"| {fast:,.0f} | {reference:,.0f} | {fast / reference:.1f}x |", flush=True)
            if size == max(args.sizes):
                examples[env_id] = result.example
    save_picture(args.png, examples, max(args.sizes))
    print(f"\nwrote {args.png}")


if __name__ == "__main__":
    main()
