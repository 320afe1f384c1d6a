"""A private pybullet world holding a camera scene but its floor, for exact renders of small windows of the image.

The composite renderer uses it where pre-rendered pieces could differ from pybullet's picture: where a moving body
meets another body (the robot over a target or a wall), where a sprite edge falls too close to a pixel centre to be
placed by a shift, and for bodies that move only at a reset (the targets). A window render is what pybullet's full
render shows in that window, pixel for pixel (same view matrix, an off-centre projection, depth included), at a
fraction of the cost; the floor (the first static body, a large textured mesh that dominates the cost) is left out
and comes from the full render of the static scene, by depth. One studio is built per process, scene and image size
(:func:`studio_for`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from envs.rendering.camera import CameraModel
from envs.rendering.scene import Scene, load_body
from envs.sim import Simulation

#: where moving bodies wait when they must not be seen (m), far outside any camera's view
PARKED = (1000.0, 1000.0, -100.0)
#: extra room (m) around a body's collision box when framing its window: visual shapes may stick out of it (the
#: robot's camera and laser do, by 4 and 6 cm); checked when the studio is built
FRAME_MARGIN = 0.08


class Window(NamedTuple):
    """A rectangle of the image: rows ``[row0, row0 + n_rows)``, columns ``[col0, col0 + n_cols)`` (px)."""

    row0: int
    col0: int
    n_rows: int
    n_cols: int

    @property
    def slices(self) -> tuple[slice, slice]:
        """(rows, cols) slices of the window in the image."""
        return slice(self.row0, self.row0 + self.n_rows), slice(self.col0, self.col0 + self.n_cols)


class Studio:
    """A camera scene without its floor in its own pybullet client, moving bodies parked until placed.

    TinyRenderer's cost grows with every body in the world, seen or not, so a studio can also leave out the static
    bodies (``statics=False``) or hold one moving body alone (``solo``), for windows where nothing else is seen.

    :param scene: the camera scene (its first static body is the floor). :param size: side of the square image (px).
    :param solo: index of the only moving body to load (no static bodies then), or None for all of them.
    :param statics: load the static bodies but the floor (ignored with ``solo``).

    Attribute ``body_ids``: the pybullet ids of the moving bodies, in scene order (-1 for those not loaded).
    """

    def __init__(self, scene: Scene, size: int, solo: int | None = None, statics: bool = True) -> None:
        self.scene = scene
        self.camera = CameraModel(scene.camera, size)
        self.sim = Simulation()
        if solo is None and statics:
            for static in scene.static[1:]:
                load_body(self.sim, static.name, static.body, static.x, static.y)
        self.body_ids: list[int] = []
        self._corners: list[np.ndarray] = []
        for index, moving in enumerate(scene.moving):
            if solo is not None and index != solo:
                self.body_ids.append(-1)
                self._corners.append(np.zeros((0, 3)))
                continue
            body = load_body(self.sim, moving.name, moving.body, 0.0, 0.0)
            # placed the way bodies are moved (resetBasePositionAndOrientation places the centre of mass)
            self.sim.set_position(moving.name, (0.0, 0.0, moving.body.z), yaw=moving.body.yaw)
            low, high = (np.array(v) for v in self.sim.client.getAABB(body))
            low, high = low - FRAME_MARGIN, high + FRAME_MARGIN
            low[2] = max(low[2], 0.0)  # nothing below the floor is seen
            # corners of the box around the body (m), relative to its (x, y)
            self._corners.append(np.array([[x, y, z] for x in (low[0], high[0]) for y in (low[1], high[1])
                                           for z in (low[2], high[2])]))
            self.body_ids.append(body)
            self.sim.set_position(moving.name, PARKED, yaw=moving.body.yaw)
        self._placed: list[tuple[float, float] | None] = [None] * len(scene.moving)
        # clip coordinates of each corner split into its constant part and the part linear in the body's (x, y)
        m = self.camera.clip_from_world
        self._r_xy, self._c_xy, self._w_xy = (float(m[1, 0]), float(m[1, 1])), (float(m[0, 0]), float(m[0, 1])), \
            (float(m[3, 0]), float(m[3, 1]))
        self._corner_terms = [
            [(cx, cy, cz, *(float(m[row] @ [cx, cy, cz, 1.0]) for row in (1, 0, 3))) for cx, cy, cz in corners.tolist()]
            for corners in self._corners
        ]
        for index, moving in enumerate(scene.moving):
            if self.body_ids[index] >= 0:
                self._check_frame(index, float(np.mean(moving.x_range)), float(np.mean(moving.y_range)))
        self.place([None] * len(scene.moving))

    def _check_frame(self, index: int, x: float, y: float) -> None:
        """Make sure the window of a moving body holds all of it (its visuals may exceed its collision box)."""
        window = self.window(index, x, y)
        if window is None or min(window.row0, window.col0) == 0 or window.row0 + window.n_rows == self.camera.size \
                or window.col0 + window.n_cols == self.camera.size:
            return  # at the image border: nothing to check against
        positions: list[tuple[float, float] | None] = [None] * len(self.scene.moving)
        positions[index] = (x, y)
        self.place(positions)
        _, _, body = self.render(window)
        seen = body == self.body_ids[index]
        if seen[0].any() or seen[-1].any() or seen[:, 0].any() or seen[:, -1].any():
            raise RuntimeError(f"{self.scene.moving[index].name} sticks out of its window: raise FRAME_MARGIN.")

    def window(self, index: int, x: float, y: float) -> Window | None:
        """The image rectangle that holds moving body ``index`` at ``(x, y)`` (m), clipped to the image; None when it
        is outside."""
        size = self.camera.size
        # the projection of the box's corners, with plain floats (a few numpy calls would cost more)
        rows, cols = [], []
        for cx, cy, cz, r_w, c_w, w_w in self._corner_terms[index]:
            w = w_w + self._w_xy[0] * x + self._w_xy[1] * y
            rows.append((1.0 - (r_w + self._r_xy[0] * x + self._r_xy[1] * y) / w) * size / 2.0 - 1.0)
            cols.append(((c_w + self._c_xy[0] * x + self._c_xy[1] * y) / w + 1.0) * size / 2.0)
        row0, col0 = max(math.floor(min(rows)) - 1, 0), max(math.floor(min(cols)) - 1, 0)
        row1, col1 = min(math.ceil(max(rows)) + 2, size), min(math.ceil(max(cols)) + 2, size)
        if row1 <= row0 or col1 <= col0:
            return None
        return Window(int(row0), int(col0), int(row1 - row0), int(col1 - col0))

    def place(self, positions: Sequence[tuple[float, float] | None]) -> None:
        """Move each moving body to its ``(x, y)`` (m), or park it when its position is None."""
        for index, (moving, position) in enumerate(zip(self.scene.moving, positions)):
            if position == self._placed[index] or self.body_ids[index] < 0:
                continue
            xyz = PARKED if position is None else (position[0], position[1], moving.body.z)
            self.sim.set_position(moving.name, xyz, yaw=moving.body.yaw)
            self._placed[index] = position

    def render(self, window: Window) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """pybullet's render of the scene as placed (no floor) in ``window``.

        :return: ``rgb`` uint8 ``(h, w, 3)``, ``depth`` float32 ``(h, w)`` and ``body`` int32 ``(h, w)`` (pybullet
            ids, -1 where nothing is seen), the pixels a full render of this scene would have there.
        """
        camera = self.camera
        projection = camera.window_projection(window.row0, window.col0, window.n_rows, window.n_cols)
        return self.sim.render_layers(camera.view, projection, window.n_cols, window.n_rows)


_STUDIOS: dict[tuple[int, Scene, int, int | None, bool], Studio] = {}


def studio_for(scene: Scene, size: int, solo: int | None = None, statics: bool = True) -> Studio:
    """The process's studio for ``scene`` at ``size`` px (see :class:`Studio`; a new one in a forked child: pybullet
    clients are not shared between processes)."""
    key = (os.getpid(), scene, size, solo, statics and solo is None)
    if key not in _STUDIOS:
        _STUDIOS[key] = Studio(scene, size, solo, statics)
    return _STUDIOS[key]


