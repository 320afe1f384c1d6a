"""How closely the composite renderer reproduces pybullet's per-step render, for the mobile-robot envs (used by
``tests/test_rendering.py`` and ``bench/render_agreement.py``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.base import SRLEnv
from envs.rendering.composite import CompositeRenderer

#: within this many levels (of 255) on every channel, a pixel counts as matching
PIXEL_TOLERANCE = 10


@dataclass(frozen=True)
class Agreement:
    """One state rendered both ways.

    :param mean_abs: mean absolute difference over pixels and channels (levels of 255).
    :param within: fraction of pixels within :data:`PIXEL_TOLERANCE` levels on every channel, in [0, 1].
    :param centroid_errors: per moving body (scene order), distance (px) between the centroids of the pixels where
        each renderer shows it; ``nan`` when neither shows it, ``inf`` when only one does.
    """

    mean_abs: float
    within: float
    centroid_errors: tuple[float, ...]


def _centroid(mask: np.ndarray) -> np.ndarray | None:
    rows, cols = np.nonzero(mask)
    return None if len(rows) == 0 else np.array([rows.mean(), cols.mean()])


def compare(composite: SRLEnv, reference: SRLEnv) -> Agreement:
    """Render the current state of ``composite`` with its composite renderer and with pybullet in ``reference``.

    ``reference`` must be the same env class and size, built with ``renderer="pybullet"``; its state (robot and
    targets) is copied from ``composite`` first.

    :raises ValueError: when the renderers are not composite and pybullet or the env has no composite path.
    """
    scene = composite.camera_scene()
    if composite.renderer != "composite" or reference.renderer != "pybullet" or scene is None:
        raise ValueError("compare() needs a composite env with a camera scene and a renderer='pybullet' twin.")
    reference.x, reference.y = composite.x, composite.y
    reference.targets = composite.targets.copy()
    reference.target_index = composite.target_index
    image = composite.render_image().astype(np.int16)
    expected = reference.render_image()  # also moves pybullet's bodies to the state
    size = reference.image_size
    _, _, bodies = reference.sim.render_layers(*reference.sim.camera_matrices(reference.camera), size, size)
    labels = np.empty((size, size), dtype=np.int16)
    CompositeRenderer(scene, size).render(composite.scene_positions(), labels=labels)
    diff = np.abs(image - expected.astype(np.int16))
    errors = []
    for index, moving in enumerate(scene.moving):
        ours, theirs = _centroid(labels == index), _centroid(bodies == reference.sim.body(moving.name))
        if ours is None and theirs is None:
            errors.append(float("nan"))
        elif ours is None or theirs is None:
            errors.append(float("inf"))
        else:
            errors.append(float(np.hypot(*(ours - theirs))))
    return Agreement(float(diff.mean()), float((diff.max(axis=2) <= PIXEL_TOLERANCE).mean()), tuple(errors))


def random_state(env: SRLEnv, seed: int) -> None:
    """Put a mobile-robot env in a random state: ``reset(seed)`` (targets drawn if ``random_target``), then the robot
    anywhere in the range it can reach (not only where episodes start)."""
    env.reset(seed=seed)
    scene = env.camera_scene()
    robot = scene.moving[-1]
    rng = np.random.default_rng(seed)
    env.x = float(rng.uniform(*robot.x_range))
    env.y = float(rng.uniform(*robot.y_range))
