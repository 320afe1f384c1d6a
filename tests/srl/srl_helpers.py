"""Shared helpers of the SRL tests: a synthetic dataset (no simulator) with a known ground truth.

Not a conftest.py: ``tests/conftest.py`` is imported as ``conftest`` by the other test modules, and a second
conftest module of the same name would shadow it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

MOVES = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]]) * 0.25


def make_synthetic_dataset(folder: Path, episodes: int = 4, steps: int = 40, size: int = 32,
                           env_id: str = "MobileRobot-v0", seed: int = 0) -> Path:
    """A dataset in our layout: a white square (the robot) random-walks over a black 4 m x 4 m arena toward a
    red square (the target, one per episode); rewards +1 within 0.5 m of the target, -1 at a wall."""
    rng = np.random.default_rng(seed)
    images, actions, rewards, starts, gts, targets, paths = [], [], [], [], [], [], []
    for episode in range(episodes):
        target = rng.uniform(0.5, 3.5, 2)
        targets.append(target)
        position = rng.uniform(0.5, 3.5, 2)
        for step in range(steps):
            images.append(_draw(position, target, size))
            gts.append(position.copy())
            starts.append(step == 0)
            paths.append(f"{folder.name}/record_{episode:03d}/frame{step:06d}")
            action = int(rng.integers(4))
            moved = position + MOVES[action]
            bumped = not ((0.2 <= moved) & (moved <= 3.8)).all()
            if not bumped:
                position = moved
            actions.append(action)
            rewards.append(-1.0 if bumped else float(np.linalg.norm(position - target) < 0.5))
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "images.npy", np.stack(images))
    np.savez(folder / "preprocessed_data.npz", actions=np.array(actions), rewards=np.array(rewards),
             episode_starts=np.array(starts))
    np.savez(folder / "ground_truth.npz", ground_truth_states=np.array(gts), target_positions=np.array(targets),
             images_path=np.array(paths))
    (folder / "dataset_config.json").write_text(json.dumps({"relative_pos": True, "max_dist": "None",
                                                            "env_id": env_id, "image_size": size}))
    return folder


def _draw(position: np.ndarray, target: np.ndarray, size: int) -> np.ndarray:
    image = np.zeros((size, size, 3), dtype=np.uint8)
    half = max(1, size // 16)
    for (x, y), colour in ((target, (255, 0, 0)), (position, (255, 255, 255))):
        row, col = int(y / 4 * (size - 1)), int(x / 4 * (size - 1))
        image[max(0, row - half):row + half + 1, max(0, col - half):col + half + 1] = colour
    return image
