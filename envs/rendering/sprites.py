"""Pre-rendered sprites of a moving body: rendered once per grid position at sub-pixel resolution, placed per image.

A body teleported without rotation under a fixed camera looks the same up to a shift, except for perspective (the
sides it shows and the parallax between its top and bottom change with its position). A :class:`SpriteBank` renders
the body (on the floor, so that what the floor hides is not in it) with pybullet at the nodes of a grid covering the
range it moves in, each time only in a small window around it and ``supersample`` times finer than the image.
Placing the body at ``(x, y)`` takes the nearest node's sprite, shifts it by the image displacement of a reference
point between the node and ``(x, y)`` (rounded to a sample) and reads every ``supersample``-th sample: what
TinyRenderer would have rasterised at that phase, not a resampled (blurred) image.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from envs.rendering.camera import CameraModel
from envs.rendering.scene import MovingBody, StaticBody, load_body
from envs.sim import Simulation, pybullet

#: extra room (m) around a body's collision box when framing its sprites: visual shapes may stick out of it (the
#: robot's camera and laser do, by 4 and 6 cm)
WINDOW_MARGIN = 0.08
#: half side (m) of the floor sprites are rendered over
FLOOR_HALF_SIZE = 50.0
#: empty samples kept before each sprite's outline, the widest range of shifts compared (samples)
PAD = 8


class Placement(NamedTuple):
    """Where a sprite lands in the image and what it puts there.

    ``rows``/``cols`` select the covered image area; ``rgb`` is uint8 ``(h, w, 3)`` and ``mask`` bool ``(h, w)``
    (where the body is seen), both strided views into the bank.
    """

    rows: slice
    cols: slice
    rgb: np.ndarray
    mask: np.ndarray


def grid_nodes(low: float, high: float, spacing: float) -> np.ndarray:
    """Evenly spaced nodes covering ``[low, high]`` (m) at most ``spacing`` apart; one node when ``low == high``."""
    if high - low <= 1e-9:
        return np.array([low])
    return np.linspace(low, high, math.ceil((high - low) / spacing - 1e-9) + 1)


class SpriteBank:
    """Sprites of one moving body for one camera and image size.

    :param moving: the body and the ranges it moves in.
    :param camera: the camera and image size.
    :param spacing: largest distance (m) between grid nodes along each axis.
    :param supersample: sprite samples per image pixel along rows and columns ``(k_r, k_c)``; image positions are
        rounded to ``1 / k_r`` px vertically and ``1 / k_c`` px horizontally.
    :param floor: render the body over a floor at z = 0 (a plain box, cheaper to render than a textured floor mesh),
        so that the parts of the body below the floor are hidden as they are in the scene.
    :param with_static: static bodies rendered with it (see :attr:`MovingBody.sprite_with`); the sprites show the
        body where it is seen in front of them.

    Attributes: ``rgb`` uint8 ``(n_x, n_y, H, W, 3)`` and ``mask`` bool ``(n_x, n_y, H, W)`` (where the body is
    seen), one sprite per grid node; ``origin`` int ``(n_x, n_y, 2)``, the image position of each sprite's first
    sample in samples (row, col).
    """

    def __init__(self, moving: MovingBody, camera: CameraModel, spacing: float, supersample: tuple[int, int],
                 floor: bool = True, with_static: tuple[StaticBody, ...] = ()) -> None:
        self.moving = moving
        self.camera = camera
        self.supersample = (int(supersample[0]), int(supersample[1]))
        self.x_nodes = grid_nodes(*moving.x_range, spacing)
        self.y_nodes = grid_nodes(*moving.y_range, spacing)
        sim = Simulation()
        try:
            if floor:
                client = sim.client
                shape = client.createVisualShape(pybullet.GEOM_BOX, halfExtents=[FLOOR_HALF_SIZE, FLOOR_HALF_SIZE, 0.5])
                client.createMultiBody(baseMass=0.0, baseVisualShapeIndex=shape, basePosition=[0.0, 0.0, -0.5])
            for static in with_static:
                load_body(sim, static.name, static.body, static.x, static.y)
            self._render(sim)
        finally:
            sim.close()
        m = camera.clip_from_world
        self._rows = tuple(float(v) for v in m[1]), tuple(float(v) for v in m[3])
        self._cols = tuple(float(v) for v in m[0])
        self._x_low, self._y_low = float(self.x_nodes[0]), float(self.y_nodes[0])
        self._x_step = float(self.x_nodes[1] - self.x_nodes[0]) if len(self.x_nodes) > 1 else 1.0
        self._y_step = float(self.y_nodes[1] - self.y_nodes[0]) if len(self.y_nodes) > 1 else 1.0
        # plain Python numbers for the per-image arithmetic (numpy scalars are several times slower)
        self._x_list, self._y_list = self.x_nodes.tolist(), self.y_nodes.tolist()
        self._origin_list = self.origin.tolist()

    def _depth_of(self, x: float, y: float) -> float:
        """Linear depth (m along the view axis) of the reference point at ``(x, y)`` (m)."""
        m = self.camera.clip_from_world
        return float(m[3] @ [x, y, self.moving.reference_height, 1.0])

    def _anchor(self, x: float, y: float) -> np.ndarray:
        """Image position (row, col) (px) of the body's reference point at ``(x, y)`` (m)."""
        return self.camera.project([x, y, self.moving.reference_height])

    def _render(self, sim: Simulation) -> None:
        moving, camera = self.moving, self.camera
        k = np.array(self.supersample)
        name = f"sprite_{moving.name}"
        body = load_body(sim, name, moving.body, float(self.x_nodes[0]), float(self.y_nodes[0]))
        # placed the way bodies are moved (resetBasePositionAndOrientation places the centre of mass)
        sim.set_position(name, (self.x_nodes[0], self.y_nodes[0], moving.body.z), yaw=moving.body.yaw)
        low, high = (np.array(v) for v in sim.client.getAABB(body))
        base = np.array([self.x_nodes[0], self.y_nodes[0], moving.body.z])
        low, high = low - base - WINDOW_MARGIN, high - base + WINDOW_MARGIN
        corners = np.array([[x, y, z] for x in (low[0], high[0]) for y in (low[1], high[1])
                            for z in (max(low[2], -moving.body.z), high[2])])
        # the largest extent, around the anchor, of the body's box over all nodes (image px)
        before, after = np.zeros(2), np.zeros(2)
        for x in self.x_nodes:
            for y in self.y_nodes:
                seen = camera.project(corners + [x, y, moving.body.z]) - self._anchor(x, y)
                before, after = np.maximum(before, -seen.min(axis=0)), np.maximum(after, seen.max(axis=0))
        span = np.ceil(before).astype(int) + np.ceil(after).astype(int) + 2  # image px
        shape = (len(self.x_nodes), len(self.y_nodes))
        n_rows, n_cols = span * k
        rgb = np.zeros(shape + (n_rows, n_cols, 3), dtype=np.uint8)
        mask = np.zeros(shape + (n_rows, n_cols), dtype=bool)
        nearest_depth, farthest_depth = 1.0, 0.0  # of the body's outline (pybullet's non-linear depth)
        origin = np.zeros(shape + (2,), dtype=np.int64)
        for i, x in enumerate(self.x_nodes):
            for j, y in enumerate(self.y_nodes):
                sim.set_position(name, (x, y, moving.body.z), yaw=moving.body.yaw)
                row0, col0 = np.floor(self._anchor(x, y)).astype(int) - np.ceil(before).astype(int) - 1
                projection = camera.window_projection(row0, col0, n_rows, n_cols, self.supersample)
                colour, depth, seen = sim.render_layers(camera.view, projection, n_cols, n_rows)
                mask[i, j] = seen == body
                rgb[i, j][mask[i, j]] = colour[mask[i, j]]
                # depth range of the outline: samples of the body with a neighbour that is not
                seen_here = mask[i, j]
                inner = seen_here.copy()
                inner[1:] &= seen_here[:-1]
                inner[:-1] &= seen_here[1:]
                inner[:, 1:] &= seen_here[:, :-1]
                inner[:, :-1] &= seen_here[:, 1:]
                outline = seen_here & ~inner
                if outline.any():
                    nearest_depth = min(nearest_depth, float(depth[outline].min()))
                    farthest_depth = max(farthest_depth, float(depth[outline].max()))
                origin[i, j] = row0 * k[0], col0 * k[1]
        if mask[:, :, [0, -1], :].any() or mask[:, :, :, [0, -1]].any():
            raise RuntimeError(f"{moving.name} sticks out of its sprite window: raise WINDOW_MARGIN.")
        # crop every sprite to the samples any of them uses, plus one empty image pixel around, so that a shift by one
        # sample never brings in an unseen sample
        used = mask.any(axis=(0, 1))
        rows, cols = np.flatnonzero(used.any(axis=1)), np.flatnonzero(used.any(axis=0))
        if len(rows) == 0:
            raise RuntimeError(f"{moving.name} ({moving.body.urdf}) is not visible from the camera.")
        r0, c0 = max(rows[0] - k[0], 0), max(cols[0] - k[1], 0)
        r1, c1 = min(rows[-1] + 1 + k[0], used.shape[0]), min(cols[-1] + 1 + k[1], used.shape[1])
        self.rgb = np.ascontiguousarray(rgb[:, :, r0:r1, c0:c1])
        self.origin = origin + np.array([r0, c0])
        # outlines with PAD empty rows and columns first: _padded[..., PAD + a, PAD + b] is sample (a, b)
        self._padded = np.zeros(shape + (r1 - r0 + PAD, c1 - c0 + PAD), dtype=bool)
        self._padded[:, :, PAD:, PAD:] = mask[:, :, r0:r1, c0:c1]
        self.mask = self._padded[:, :, PAD:, PAD:]
        # parallax: a part at linear depth d moves by (reference depth / d) times the reference point's displacement;
        # the largest relative difference over the parts that make the body's outline
        near, far = camera.camera.near, camera.camera.far
        linear = [far * near / (far - (far - near) * d) for d in (nearest_depth, farthest_depth)]
        reference = float(np.mean([self._depth_of(x, y) for x in self.x_nodes for y in self.y_nodes]))
        self._parallax = max(abs(reference / d - 1.0) for d in linear)
        # per node: the body's area (image px) and the centroid of its outline (samples, padded coordinates)
        self._area = np.ones(shape)
        self._centroid = np.zeros(shape + (2,))
        for i in range(shape[0]):
            for j in range(shape[1]):
                rows_s, cols_s = np.nonzero(self._padded[i, j])
                if len(rows_s):
                    self._area[i, j] = max(len(rows_s) / (k[0] * k[1]), 1.0)
                    self._centroid[i, j] = rows_s.mean(), cols_s.mean()

    @property
    def nbytes(self) -> int:
        """Memory held by the sprites (bytes)."""
        return self.rgb.nbytes + self._padded.nbytes

    def place(self, x: float, y: float, free: np.ndarray | None = None) -> tuple[Placement | None, float]:
        """The sprite of the body at ``(x, y)`` (m), cut to the image, and how sure its outline is.

        Uses the nearest grid node's sprite, moved by the displacement of the reference point between that node and
        ``(x, y)``, rounded to the nearest sample. The exact displacement of each part of the outline lies within a
        range of shifts (the rounding, and the parallax of parts above or below the reference height); where the
        sprite's outline differs between the ends of that range, an image sample falls on an edge and only a render
        at the exact position can say whether it is in.

        :return: (placement, None when the sprite falls outside the image; how far (px) the body's centroid could be
            from pybullet's: the summed distances to the centroid of the image pixels whose coverage differs between
            the ends of the range of shifts, over the body's area; ``inf`` when the range is too wide to check, or when
            the sprite covers a pixel that ``free`` (bool ``(size, size)``, if given) marks False).
        """
        i = min(max(round((x - self._x_low) / self._x_step), 0), len(self._x_list) - 1)
        j = min(max(round((y - self._y_low) / self._y_step), 0), len(self._y_list) - 1)
        (k_r, k_c), size = self.supersample, self.camera.size
        z = self.moving.reference_height
        (r0, r1, r2, r3), (w0, w1, w2, w3) = self._rows
        c0, c1, c2, c3 = self._cols
        # image position of the reference point, in sprite samples (same formula as CameraModel.project)
        w = w0 * x + w1 * y + w2 * z + w3
        row = ((1.0 - (r0 * x + r1 * y + r2 * z + r3) / w) * size / 2.0 - 1.0) * k_r
        col = ((c0 * x + c1 * y + c2 * z + c3) / w + 1.0) * size / 2.0 * k_c
        xn, yn = self._x_list[i], self._y_list[j]
        wn = w0 * xn + w1 * yn + w2 * z + w3
        row_n = ((1.0 - (r0 * xn + r1 * yn + r2 * z + r3) / wn) * size / 2.0 - 1.0) * k_r
        col_n = ((c0 * xn + c1 * yn + c2 * z + c3) / wn + 1.0) * size / 2.0 * k_c
        shift_r, shift_c = row - row_n, col - col_n
        nearest = self._cut(i, j, round(shift_r), round(shift_c))
        if nearest is None:
            return None, 0.0
        placement = self._placement(i, j, nearest)
        if free is not None and not free[placement.rows, placement.cols][placement.mask].all():
            return placement, math.inf
        # the shift of any part of the body lies within the parallax bound around the reference point's: compare the
        # coverage at the lowest and highest whole shifts around that range (more shift makes each pixel read an
        # earlier sample)
        spread_r, spread_c = abs(shift_r) * self._parallax, abs(shift_c) * self._parallax
        low_r, low_c = math.floor(shift_r - spread_r), math.floor(shift_c - spread_c)
        span_r = max(math.ceil(shift_r + spread_r) - low_r, 1)
        span_c = max(math.ceil(shift_c + spread_c) - low_c, 1)
        cut = self._cut(i, j, low_r, low_c)
        if cut is None or span_r > PAD or span_c > PAD:
            return placement, math.inf
        sr, sc = cut[2], cut[3]
        padded = self._padded[i, j]
        inside = padded[PAD + sr.start : PAD + sr.stop : k_r, PAD + sc.start : PAD + sc.stop : k_c]
        above = padded[PAD + sr.start - span_r : PAD + sr.stop - span_r : k_r, PAD + sc.start : PAD + sc.stop : k_c]
        left = padded[PAD + sr.start : PAD + sr.stop : k_r, PAD + sc.start - span_c : PAD + sc.stop - span_c : k_c]
        unsure_r, unsure_c = np.nonzero((inside != above) | (inside != left))
        doubt = 0.0
        if len(unsure_r):
            centre_r, centre_c = self._centroid[i, j]
            distance_r = (PAD + sr.start + k_r * unsure_r - centre_r) / k_r
            distance_c = (PAD + sc.start + k_c * unsure_c - centre_c) / k_c
            doubt = float(np.hypot(distance_r, distance_c).sum() / self._area[i, j])
        return placement, doubt

    def _placement(self, i: int, j: int, cut: tuple[slice, slice, slice, slice]) -> Placement:
        rows, cols, sr, sc = cut
        return Placement(rows, cols, self.rgb[i, j, sr, sc], self.mask[i, j, sr, sc])

    def _cut(self, i: int, j: int, shift_r: int, shift_c: int) -> tuple[slice, slice, slice, slice] | None:
        """Image rows and columns, and sprite sample rows and columns, of node ``(i, j)``'s sprite moved by
        ``(shift_r, shift_c)`` samples; None when it falls outside the image."""
        (k_r, k_c), size = self.supersample, self.camera.size
        # sample s of the sprite sits at origin + shift + s (in samples): image pixel p reads sample
        # k * p - shift - origin
        origin_r, origin_c = self._origin_list[i][j]
        start_r, start_c = origin_r + shift_r, origin_c + shift_c
        height, width = self.rgb.shape[2:4]
        first_r, first_c = max(-(-start_r // k_r), 0), max(-(-start_c // k_c), 0)
        skip_r, skip_c = k_r * first_r - start_r, k_c * first_c - start_c
        n_r = min(-(-(height - skip_r) // k_r), size - first_r)
        n_c = min(-(-(width - skip_c) // k_c), size - first_c)
        if n_r <= 0 or n_c <= 0:
            return None
        return (slice(first_r, first_r + n_r), slice(first_c, first_c + n_c),
                slice(skip_r, skip_r + k_r * (n_r - 1) + 1, k_r), slice(skip_c, skip_c + k_c * (n_c - 1) + 1, k_c))
