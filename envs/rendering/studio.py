"""Private pybullet worlds for exact renders of small windows of the image.

A window render is what pybullet's full render shows in that window, pixel for pixel (same view matrix, an
off-centre projection, depth included), at a fraction of the cost. The composite renderer draws with them what
pre-rendered pieces cannot: a :class:`Studio` (the scene but its floor) the bodies that move only at a reset (the
targets); a :class:`PartStudio` (the last moving body alone, split into its visual shapes) the pixels of the robot
that its sprite is not sure of, showing only the shapes that reach into the window. The floor (the first static
body, a large textured mesh that dominates the cost) and everything the window's body does not hold come from the
background, by depth. One of each is built per process, scene and image size (:func:`studio_for`,
:func:`part_studio_for`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from envs.rendering.camera import CameraModel
from envs.rendering.scene import Scene, load_body, load_parts
from envs.sim import Simulation, pybullet

#: where moving bodies wait when they must not be seen (m), far outside any camera's view
PARKED = (1000.0, 1000.0, -100.0)
#: extra room (m) around a body's collision box when framing its window: visual shapes may stick out of it (the
#: robot's camera and laser do, by 4 and 6 cm); checked when the studio is built
FRAME_MARGIN = 0.08
#: what a visual shape costs TinyRenderer, relative to a box (12 triangles), by pybullet geometry type: spheres,
#: capsules and cylinders are tessellated into about a hundred triangles (a cylinder costs about 13 us, a box 2 us),
#: and meshes are counted as those
SHAPE_COSTS = {pybullet.GEOM_BOX: 1.0}
OTHER_SHAPE_COST = 7.0


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

    :param scene: the camera scene (its first static body is the floor). :param size: side of the square image (px).

    Attribute ``body_ids``: the pybullet ids of the moving bodies, in scene order.
    """

    def __init__(self, scene: Scene, size: int) -> None:
        self.scene = scene
        self.camera = CameraModel(scene.camera, size)
        self.sim = Simulation()
        for static in scene.static[1:]:
            load_body(self.sim, static.name, static.body, static.x, static.y)
        self.body_ids: list[int] = []
        self._corners: list[np.ndarray] = []
        for index, moving in enumerate(scene.moving):
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
            if position == self._placed[index]:
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


class PartStudio:
    """The last moving body of a camera scene alone, one pybullet body per visual shape (:func:`load_parts`), in its
    own pybullet client: exact renders of windows of the body at the cost of the shapes that reach into them.

    TinyRenderer processes every triangle of the world for each render, seen or not (a cylinder costs about 13 us,
    a box 2 us), but skips shapes whose colour is fully transparent: each render shows only the parts asked for.
    Nothing else is in the world (not even the floor): a window is depth-composited over the background, which hides
    what the floor and the other bodies hide.

    :param scene: the camera scene. :param size: side of the square image (px).

    Attributes: ``part_ids``, the parts' pybullet ids, in the order of the body's visual shapes; ``costs``, what
    rendering each costs, relative to a box (:data:`SHAPE_COSTS`).
    """

    def __init__(self, scene: Scene, size: int) -> None:
        moving = scene.moving[-1]
        self.camera = CameraModel(scene.camera, size)
        self.sim = Simulation()
        self.part_ids = load_parts(self.sim, moving.name, moving.body, PARKED[0], PARKED[1])
        self._client = self.sim.client_id
        self._view = list(self.camera.view)
        self._orientation = pybullet.getQuaternionFromEuler([0.0, 0.0, moving.body.yaw])
        self._z = moving.body.z
        shapes = [pybullet.getVisualShapeData(part, physicsClientId=self._client)[0] for part in self.part_ids]
        self._links = [int(shape[1]) for shape in shapes]
        self.costs = [SHAPE_COSTS.get(int(shape[2]), OTHER_SHAPE_COST) for shape in shapes]
        # the cost of every set of parts, for bodies of a few parts
        self._set_costs = [self._summed(bits) for bits in range(1 << len(shapes))] if len(shapes) <= 12 else None
        self._colours = [list(shape[7]) for shape in shapes]
        self._shown = (1 << len(self.part_ids)) - 1  # bit i: part i has its own colour
        self._placed: list[tuple[float, float] | None] = [None] * len(self.part_ids)
        self._projections: dict[Window, list[float]] = {}  # per window (at most size^4 / 4 of them, few in practice)
        self._show(0)

    def _show(self, parts: int) -> None:
        """Give the parts whose bits are set in ``parts`` their own colour and make the others fully transparent
        (TinyRenderer then skips them)."""
        changed = self._shown ^ parts
        for index in range(len(self.part_ids)):
            if changed >> index & 1:
                colour = self._colours[index] if parts >> index & 1 else self._colours[index][:3] + [0.0]
                pybullet.changeVisualShape(self.part_ids[index], self._links[index], rgbaColor=colour,
                                           physicsClientId=self._client)
        self._shown = parts

    def cost(self, parts: int) -> float:
        """What rendering the parts whose bits are set in ``parts`` (bit ``i`` for part ``i``) costs, relative to a
        box."""
        return self._summed(parts) if self._set_costs is None else self._set_costs[parts]

    def _summed(self, parts: int) -> float:
        return sum(cost for index, cost in enumerate(self.costs) if parts >> index & 1)

    def render(self, x: float, y: float, window: Window, parts: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """pybullet's render of the body at ``(x, y)`` (m), showing only the parts whose bits are set in ``parts``
        (bit ``i`` for part ``i``, -1 for all), in ``window``.

        :return: ``rgb`` uint8 ``(h, w, 3)``, ``depth`` float32 ``(h, w)`` (pybullet's non-linear depth) and ``seen``
            bool ``(h, w)`` (where a shown part is seen): the pixels a full render of the body alone would have there
            wherever no other part is seen.
        """
        parts &= (1 << len(self.part_ids)) - 1
        self._show(parts)
        for index, part in enumerate(self.part_ids):
            if parts >> index & 1 and self._placed[index] != (x, y):
                pybullet.resetBasePositionAndOrientation(part, [x, y, self._z], self._orientation,
                                                         physicsClientId=self._client)
                self._placed[index] = (x, y)
        height, width = window.n_rows, window.n_cols
        projection = self._projections.get(window)
        if projection is None:
            projection = self._projections[window] = self.camera.window_projection(window.row0, window.col0, height,
                                                                                  width)
        _, _, rgba, depth, body = pybullet.getCameraImage(width, height, self._view, projection,
                                                          renderer=pybullet.ER_TINY_RENDERER,
                                                          physicsClientId=self._client)
        if not isinstance(rgba, np.ndarray):  # pybullet built without numpy
            rgba = np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4)
            depth = np.asarray(depth, dtype=np.float32).reshape(height, width)
            body = np.asarray(body).reshape(height, width)
        return rgba[:, :, :3], depth, body >= 0


_STUDIOS: dict[tuple, Studio | PartStudio] = {}


def studio_for(scene: Scene, size: int) -> Studio:
    """The process's studio for ``scene`` at ``size`` px (see :class:`Studio`; a new one in a forked child: pybullet
    clients are not shared between processes)."""
    key = (os.getpid(), scene, size, Studio)
    if key not in _STUDIOS:
        _STUDIOS[key] = Studio(scene, size)
    return _STUDIOS[key]  # type: ignore[return-value]


def part_studio_for(scene: Scene, size: int) -> PartStudio:
    """The process's :class:`PartStudio` for the last moving body of ``scene`` at ``size`` px (shared by scenes that
    differ only in their other bodies; a new one in a forked child)."""
    key = (os.getpid(), scene.moving[-1], scene.camera, size, PartStudio)
    if key not in _STUDIOS:
        _STUDIOS[key] = PartStudio(scene, size)
    return _STUDIOS[key]  # type: ignore[return-value]


