"""Pre-rendered sprites of a moving body: rendered once per grid position at sub-pixel resolution, placed per image.

A body teleported without rotation under a fixed camera looks the same up to a shift, except for perspective (the
sides it shows and the parallax between its top and bottom change with its position). A :class:`SpriteBank` renders
the body with pybullet at the nodes of a grid covering the range it moves in, each time only in a small window around
it and ``supersample * fine`` times finer than the image, and leaves out what the floor hides (by depth: rendering a
floor would cost most of the time). Placing the body at ``(x, y)`` takes the nearest node's sprite, shifts it by the
image displacement of a reference point between the node and ``(x, y)`` (rounded to a fine sample) and reads every
``supersample * fine``-th sample: what TinyRenderer would have rasterised at that phase, not a resampled (blurred)
image.

Where the body is seen is kept at that fine resolution; its colour, its depth (relative to the reference point's,
which a translation does not change: a placed sprite is drawn behind or in front of other bodies by depth) and which
of its visual shapes is seen (parts, :func:`~envs.rendering.scene.load_parts`: an exact render of a few pixels needs
only the parts that reach into them) are kept ``fine`` times coarser, at ``supersample`` samples per pixel (the
nearest fine sample where the body is seen). :meth:`SpriteBank.unsure` tells which pixels a sprite cannot vouch for:
those that lie on an edge within the range of shifts its parts can have (rounding and parallax), or near a gap or a
sliver one sample thin (what is seen there changes with the view angle); :meth:`SpriteBank.doubt_of` says from
tables made once how far they could move the body's centroid.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from envs.rendering.camera import CameraModel
from envs.rendering.scene import MovingBody, StaticBody, load_body, load_parts
from envs.sim import Simulation

#: extra room (m) around a body's collision box when framing its sprites: visual shapes may stick out of it (the
#: robot's camera and laser do, by 4 and 6 cm)
WINDOW_MARGIN = 0.08
#: empty fine samples kept around each sprite's outline, more than the widest range of shifts compared
PAD = 8


class Placement(NamedTuple):
    """A sprite placed in the image: the area it covers, what it puts there, and how to check it.

    :param rows: image rows of the covered area (slice). :param cols: its columns.
    :param rgb: colours, uint8 ``(h, w, 3)``, and ``depth``, the body's linear depth minus the reference point's (m),
        float16 ``(h, w)`` (strided views into the bank); ``mask``: where the body is seen, bool ``(h, w)``.
    :param node: the grid node ``(i, j)`` whose sprite is used.
    :param samples: (rows, cols) slices of the fine samples the area's pixels read in that sprite.
    :param bracket: fine-sample offsets ``(low_r, low_c, high_r, high_c)`` of the two ends of the range of shifts that
        holds every part's exact shift, relative to the samples read; None when that range is too wide to check.
    :param reference_depth: linear depth (m, along the view axis) of the body's reference point.
    :param whole: whether the area holds the whole sprite (it is not cut by the image border).
    :param extent: image rows ``[extent[0], extent[1])`` and columns ``[extent[2], extent[3])`` where the body can be
        seen within any range of shifts (a part of the area).
    """

    rows: slice
    cols: slice
    rgb: np.ndarray
    depth: np.ndarray
    mask: np.ndarray
    node: tuple[int, int]
    samples: tuple[slice, slice]
    bracket: tuple[int, int, int, int] | None
    reference_depth: float
    whole: bool
    extent: tuple[int, int, int, int]


def grid_nodes(low: float, high: float, spacing: float) -> np.ndarray:
    """Evenly spaced nodes covering ``[low, high]`` (m) at most ``spacing`` apart; one node when ``low == high``."""
    if high - low <= 1e-9:
        return np.array([low])
    return np.linspace(low, high, math.ceil((high - low) / spacing - 1e-9) + 1)


def _grown(values: np.ndarray, steps: int) -> np.ndarray:
    """Bitwise OR of ``values`` (bool or unsigned int, ``(..., H, W)``) over the square of ``2 * steps + 1``
    samples around each sample (a dilation)."""
    for axis in (-2, -1):
        grown = values.copy()
        for step in range(1, steps + 1):
            ahead = [slice(None)] * values.ndim
            behind = [slice(None)] * values.ndim
            ahead[axis], behind[axis] = slice(step, None), slice(None, -step)
            grown[tuple(ahead)] |= values[tuple(behind)]
            grown[tuple(behind)] |= values[tuple(ahead)]
        values = grown
    return values


class SpriteBank:
    """Sprites of one moving body for one camera and image size.

    :param moving: the body and the ranges it moves in.
    :param camera: the camera and image size.
    :param spacing: largest distance (m) between grid nodes along each axis.
    :param supersample: samples per image pixel along rows and columns ``(k_r, k_c)`` of the colours and depth.
    :param fine: fine samples per sample, along each axis, of where the body is seen: image positions are rounded to
        ``1 / (k_r * fine)`` px vertically and ``1 / (k_c * fine)`` px horizontally.
    :param floor: hide what is below the floor (z = 0), as the scene's floor does.
    :param with_static: static bodies rendered with it (see :attr:`MovingBody.sprite_with`); the sprites show the
        body where it is seen in front of them.

    Attributes, one sprite of ``H x W`` samples (``H * fine x W * fine`` fine samples) per grid node: ``rgb`` uint8
    ``(n_x, n_y, H, W, 3)``; ``depth`` float16 ``(n_x, n_y, H, W)`` (the body's linear depth minus its reference
    point's, m; ``inf`` where it is not seen); ``origin`` int ``(n_x, n_y, 2)``, the image position of each sprite's
    first fine sample in fine samples (row, col); ``n_parts``, the number of the body's visual shapes (parts), and
    ``all_parts``, the bits of all of them (bit ``i`` for part ``i``, up to 64 parts: a body of more is always
    rendered whole). Where the body is seen, at the fine resolution, is bit 0 of the outline bits (:meth:`_outlines`).

    What the constructor renders and computes can be saved and restored without pybullet (:meth:`arrays`,
    :meth:`from_arrays`): :mod:`envs.rendering.sprite_cache` keeps banks on disk.
    """

    def __init__(self, moving: MovingBody, camera: CameraModel, spacing: float, supersample: tuple[int, int],
                 fine: int = 1, floor: bool = True, with_static: tuple[StaticBody, ...] = ()) -> None:
        self._frame(moving, camera, spacing, supersample, fine)
        sim = Simulation()
        try:
            for static in with_static:
                load_body(sim, static.name, static.body, static.x, static.y)
            self._render(sim, floor)
        finally:
            sim.close()
        self._prepare()

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], moving: MovingBody, camera: CameraModel, spacing: float,
                    supersample: tuple[int, int], fine: int = 1) -> SpriteBank:
        """The bank that ``SpriteBank(moving, camera, spacing, supersample, fine, ...)`` made, restored from its
        :meth:`arrays` without rendering (``floor`` and ``with_static`` shaped only those arrays).

        :param arrays: :meth:`arrays` of that bank (or a mapping that reads them, such as an ``.npz`` file's).
        :raises ValueError: when one of them is missing or does not fit the grid of nodes (another bank's arrays).
        """
        bank = cls.__new__(cls)
        bank._frame(moving, camera, spacing, supersample, fine)
        bank._restore(arrays)
        bank._prepare()
        return bank

    def arrays(self) -> dict[str, np.ndarray]:
        """What the constructor computed with pybullet and numpy, by name (the input of :meth:`from_arrays`): the
        attributes of the class docstring and the tables of :meth:`place`, :meth:`unsure` and :meth:`doubt_of`."""
        return {
            "rgb": self.rgb, "depth": self._depth, "origin": self.origin, "outline": self._outline, "near": self._near,
            "centroid": self._centroid, "boxes": np.array(self._boxes, dtype=np.int64),
            "phase_area": self._phase_area, "phase_doubt": self._phase_doubt, "parallax": np.array(self._parallax),
            "spans": np.array(self._spans), "margin": np.array(self._margin), "n_parts": np.array(self.n_parts),
            "all_parts": np.array(self.all_parts, dtype=np.uint64),
        }

    def _frame(self, moving: MovingBody, camera: CameraModel, spacing: float, supersample: tuple[int, int],
               fine: int) -> None:
        """Set the arguments and the grid of nodes (see the class docstring)."""
        self.moving = moving
        self.camera = camera
        self.supersample = (int(supersample[0]), int(supersample[1]))
        self.fine = int(fine)
        self.x_nodes = grid_nodes(*moving.x_range, spacing)
        self.y_nodes = grid_nodes(*moving.y_range, spacing)
        # empty (inf) coarse samples around each sprite's depth (_depth), for the reads of the range of shifts
        self._pad = -(-PAD // self.fine) + 1

    def _restore(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Set what :meth:`_render` computes from :meth:`arrays`; raises ValueError when they do not fit."""
        grid = (len(self.x_nodes), len(self.y_nodes))
        shapes = {"parallax": (2,), "spans": (2,), "margin": (), "n_parts": (), "all_parts": ()}
        per_node = ("rgb", "depth", "origin", "outline", "near", "centroid", "boxes", "phase_area", "phase_doubt")
        names = (*per_node, *shapes)
        missing = [name for name in names if name not in arrays]
        if missing:
            raise ValueError(f"sprite arrays lack {', '.join(missing)}.")
        values = {name: np.asarray(arrays[name]) for name in names}
        wrong = [name for name in per_node if values[name].shape[:2] != grid] \
            + [name for name, shape in shapes.items() if values[name].shape != shape]
        if wrong:
            raise ValueError(f"sprite arrays {', '.join(wrong)} do not fit a grid of {grid[0]} x {grid[1]} nodes.")
        self.rgb, self._depth, self.origin = values["rgb"], values["depth"], values["origin"]
        self._outline, self._near, self._centroid = values["outline"], values["near"], values["centroid"]
        self._boxes = [[tuple(box) for box in row] for row in values["boxes"].tolist()]
        self._phase_area, self._phase_doubt = values["phase_area"], values["phase_doubt"]
        self._parallax = tuple(values["parallax"].tolist())
        self._spans = tuple(values["spans"].tolist())
        self._margin, self.n_parts, self.all_parts = (int(values[name]) for name in ("margin", "n_parts", "all_parts"))

    def _prepare(self) -> None:
        """Plain Python numbers and per-node views for the per-image work (numpy scalars and indexing cost more),
        from the arrays rendered or restored."""
        self.depth = self._depth[:, :, self._pad:-self._pad, self._pad:-self._pad]
        m, z = self.camera.clip_from_world, self.moving.reference_height
        self._terms = tuple((float(m[row, 0]), float(m[row, 1]), float(m[row, 2] * z + m[row, 3])) for row in (1, 3, 0))
        self._x_low, self._y_low = float(self.x_nodes[0]), float(self.y_nodes[0])
        self._x_step = float(self.x_nodes[1] - self.x_nodes[0]) if len(self.x_nodes) > 1 else 1.0
        self._y_step = float(self.y_nodes[1] - self.y_nodes[0]) if len(self.y_nodes) > 1 else 1.0
        self._n_x, self._n_y = len(self.x_nodes), len(self.y_nodes)
        self._centroid_list = self._centroid.tolist()
        # per node: image position (row, col) of the reference point and of the sprite's first fine sample (fine
        # samples), views of its colours, depth and outline bits, and its fine samples where the body is seen widened
        # by PAD (first row, last row, first col, last col)
        self._nodes: list[list[tuple]] = [
            [(*self._sample_position(x, y), *self.origin[i, j].tolist(), self.rgb[i, j], self.depth[i, j],
              self._outline[i, j], self._boxes[i][j]) for j, y in enumerate(self.y_nodes.tolist())]
            for i, x in enumerate(self.x_nodes.tolist())
        ]

    def _depth_of(self, x: float, y: float) -> float:
        """Linear depth (m along the view axis) of the reference point at ``(x, y)`` (m)."""
        m = self.camera.clip_from_world
        return float(m[3] @ [x, y, self.moving.reference_height, 1.0])

    def _anchor(self, x: float, y: float) -> np.ndarray:
        """Image position (row, col) (px) of the body's reference point at ``(x, y)`` (m)."""
        return self.camera.project([x, y, self.moving.reference_height])

    def _render(self, sim: Simulation, floor: bool) -> None:
        moving, camera, fine = self.moving, self.camera, self.fine
        k = np.array(self.supersample) * fine  # fine samples per pixel
        name = f"sprite_{moving.name}"
        parts = load_parts(sim, name, moving.body, float(self.x_nodes[0]), float(self.y_nodes[0]))
        self.n_parts = len(parts)
        self.all_parts = (1 << min(len(parts), 64)) - 1
        part_names = [f"{name}/{index}" for index in range(len(parts))]

        def place(x: float, y: float) -> None:
            # placed the way bodies are moved (resetBasePositionAndOrientation places the centre of mass)
            for part in part_names:
                sim.set_position(part, (x, y, moving.body.z), yaw=moving.body.yaw)

        place(self.x_nodes[0], self.y_nodes[0])
        low, high = (np.array(v) for v in sim.client.getAABB(parts[0]))  # every part keeps the body's collision box
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
        part = np.full(shape + (n_rows, n_cols), -1, dtype=np.int8)  # index of the part seen, -1 for none
        # colours and depth (linear, minus the reference's) at the first fine sample of each block where it is seen
        coarse_shape = shape + (n_rows // fine, n_cols // fine)
        rgb = np.zeros(coarse_shape + (3,), dtype=np.uint8)
        depth = np.full(coarse_shape, np.inf, dtype=np.float32)
        block_rows = np.arange(coarse_shape[2])[:, None] * fine
        block_cols = np.arange(coarse_shape[3])[None, :] * fine
        index_of = np.full(max(parts) + 2, -1, dtype=np.int8)  # pybullet id + 1 -> part index
        index_of[np.array(parts) + 1] = np.arange(len(parts))
        nearest_depth, farthest_depth = np.inf, 0.0  # of the body's outline (linear, m)
        origin = np.zeros(shape + (2,), dtype=np.int64)
        for i, x in enumerate(self.x_nodes):
            for j, y in enumerate(self.y_nodes):
                place(x, y)
                row0, col0 = np.floor(self._anchor(x, y)).astype(int) - np.ceil(before).astype(int) - 1
                projection = camera.window_projection(row0, col0, n_rows, n_cols, tuple(k))
                colour, buffer, seen = sim.render_layers(camera.view, projection, n_cols, n_rows)
                node = index_of[np.clip(seen + 1, 0, len(index_of) - 1)]
                here = node >= 0
                linear = camera.linear_depth(buffer)
                if floor:  # what is seen behind the plane z = 0 is under the floor
                    rows, cols = np.nonzero(here)
                    below = linear[rows, cols] >= camera.ground_depth(row0 + rows / k[0], col0 + cols / k[1])
                    node[rows[below], cols[below]] = -1
                    here[rows[below], cols[below]] = False
                part[i, j] = node
                blocks = here.reshape(coarse_shape[2], fine, coarse_shape[3], fine).transpose(0, 2, 1, 3)
                first = blocks.reshape(coarse_shape[2:] + (fine * fine,)).argmax(axis=-1)
                picked = block_rows + first // fine, block_cols + first % fine
                rgb[i, j] = colour[picked]
                reference = self._depth_of(x, y)
                depth[i, j] = np.where(here[picked], linear[picked] - reference, np.inf)
                # depth range of the outline: samples of the body with a neighbour that is not
                inner = here.copy()
                inner[1:] &= here[:-1]
                inner[:-1] &= here[1:]
                inner[:, 1:] &= here[:, :-1]
                inner[:, :-1] &= here[:, 1:]
                outline = linear[here & ~inner]
                if len(outline):
                    nearest_depth = min(nearest_depth, float(outline.min()))
                    farthest_depth = max(farthest_depth, float(outline.max()))
                origin[i, j] = row0 * k[0], col0 * k[1]
        mask = part >= 0
        if mask[:, :, [0, -1], :].any() or mask[:, :, :, [0, -1]].any():
            raise RuntimeError(f"{moving.name} sticks out of its sprite window: raise WINDOW_MARGIN.")
        # crop every sprite to the samples any of them uses, plus one empty image pixel around (so that a shift by a
        # sample never brings in an unseen sample), to whole coarse samples
        used = mask.any(axis=(0, 1))
        rows, cols = np.flatnonzero(used.any(axis=1)), np.flatnonzero(used.any(axis=0))
        if len(rows) == 0:
            raise RuntimeError(f"{moving.name} ({moving.body.urdf}) is not visible from the camera.")
        r0, c0 = fine * (max(rows[0] - k[0], 0) // fine), fine * (max(cols[0] - k[1], 0) // fine)
        r1 = min(fine * -(-(rows[-1] + 1 + k[0]) // fine), used.shape[0])
        c1 = min(fine * -(-(cols[-1] + 1 + k[1]) // fine), used.shape[1])
        self.origin = origin + np.array([r0, c0])
        mask, part = mask[:, :, r0:r1, c0:c1], part[:, :, r0:r1, c0:c1]
        self.rgb = np.ascontiguousarray(rgb[:, :, r0 // fine : r1 // fine, c0 // fine : c1 // fine])
        # depth with empty (inf) samples around, for the reads of the range of shifts: _depth[..., pad + a, pad + b]
        # is sample (a, b)
        self._depth = np.full(self.rgb.shape[:2] + tuple(n + 2 * self._pad for n in self.rgb.shape[2:4]), np.inf,
                              dtype=np.float16)
        self._depth[:, :, self._pad:-self._pad, self._pad:-self._pad] = depth[:, :, r0 // fine : r1 // fine,
                                                                              c0 // fine : c1 // fine]
        # parallax: a part at linear depth d moves by (reference depth / d) times the reference point's displacement;
        # the range of (reference depth / d - 1) over the parts that make the body's outline (lowest, highest)
        reference = float(np.mean([self._depth_of(x, y) for x in self.x_nodes for y in self.y_nodes]))
        self._parallax = (reference / farthest_depth - 1.0, reference / nearest_depth - 1.0)
        # the widest range of shifts: parallax over the largest shift from a node (half a cell along each axis), plus
        # the rounding: ceil(t + spread) - floor(t) <= ceil(spread) + 1 (fine samples)
        anchors = np.array([[self._anchor(x, y) for y in self.y_nodes] for x in self.x_nodes]) * k
        half = np.zeros(2)
        for axis in (0, 1):
            if anchors.shape[axis] > 1:
                half += np.abs(np.diff(anchors, axis=axis)).max(axis=(0, 1)) / 2.0
        spread = self._parallax[1] - self._parallax[0]
        self._spans: tuple[int, int] = tuple(min(math.ceil(spread * h) + 1, PAD - 1) for h in half)
        self._margin = max(self._spans) + 1
        # which parts are seen within the widest range of shifts (and a sample more) of each sample, one bit per
        # part: the parts an exact render of pixels in doubt needs
        bits = np.zeros(part.shape, dtype=np.uint64 if self.n_parts > 8 else np.uint8)
        for index in range(min(self.n_parts, 64)):
            bits |= (part == index).astype(bits.dtype) << index
        blocked = bits.reshape(shape + (bits.shape[2] // fine, fine, bits.shape[3] // fine, fine))
        self._near = _grown(np.bitwise_or.reduce(np.bitwise_or.reduce(blocked, axis=5), axis=3),
                            -(-self._margin // fine) + 1)
        # per node: the centroid of the body's fine samples, and the box of those samples widened by PAD (first row,
        # last row, first col, last col)
        self._centroid = np.zeros(shape + (2,))
        self._boxes: list[list[tuple[int, int, int, int]]] = []
        for i in range(shape[0]):
            self._boxes.append([])
            for j in range(shape[1]):
                rows_s, cols_s = np.nonzero(mask[i, j])
                if len(rows_s):
                    self._centroid[i, j] = rows_s.mean(), cols_s.mean()
                    self._boxes[-1].append((int(rows_s.min()) - PAD, int(rows_s.max()) + PAD, int(cols_s.min()) - PAD,
                                            int(cols_s.max()) + PAD))
                else:
                    self._boxes[-1].append((0, -1, 0, -1))
        self._outlines(mask)
        self._tabulate()

    def _outlines(self, mask: np.ndarray) -> None:
        """Per fine sample, with PAD empty samples around (``_outline[..., PAD + a, PAD + b]`` is sample (a, b)),
        the bits that say whether a pixel reading it at the low end of its range of shifts is in doubt: bit 0, the
        body is seen there (the mask); bit 1, near a structure one sample thin (a gap between two parts, a sliver:
        what is seen there can change with the view angle more than a shift says); bit ``1 + a`` (``1 <= a <= S_r``,
        the widest range of shifts along rows), seen differently ``a`` rows before; bit ``1 + S_r + b`` (``1 <= b <=
        S_c``), ``b`` columns before.

        :param mask: where the body is seen, bool ``(n_x, n_y, H * fine, W * fine)``.
        """
        shape = mask.shape
        seen = np.zeros(shape[:2] + (shape[2] + 2 * PAD, shape[3] + 2 * PAD), dtype=bool)
        seen[:, :, PAD:-PAD, PAD:-PAD] = mask
        thin = np.zeros_like(seen)
        thin[:, :, 1:-1] = (seen[:, :, 1:-1] != seen[:, :, :-2]) & (seen[:, :, 1:-1] != seen[:, :, 2:])
        thin[:, :, :, 1:-1] |= (seen[:, :, :, 1:-1] != seen[:, :, :, :-2]) & (seen[:, :, :, 1:-1] != seen[:, :, :, 2:])
        n_bits = 2 + sum(self._spans)
        dtype = np.uint8 if n_bits <= 8 else np.uint16 if n_bits <= 16 else np.uint32
        outline = seen.astype(dtype) | _grown(thin, self._margin).astype(dtype) << 1
        for span in range(1, self._spans[0] + 1):
            outline[:, :, span:] |= (seen[:, :, span:] != seen[:, :, :-span]).astype(dtype) << (1 + span)
        for span in range(1, self._spans[1] + 1):
            outline[:, :, :, span:] |= (seen[:, :, :, span:] != seen[:, :, :, :-span]).astype(dtype) \
                << (1 + self._spans[0] + span)
        self._outline = outline

    def _tabulate(self) -> None:
        """Per node and fine phase (the fine sample read modulo the fine samples per pixel): how many pixels the
        sprite covers, and for each range of shifts the summed distances of its pixels in doubt to the centroid
        (:meth:`doubt_of`)."""
        (k_r, k_c), shape = (self.supersample[0] * self.fine, self.supersample[1] * self.fine), self._outline.shape[:2]
        height, width = self._outline.shape[2:]
        # padded fine sample s_p is sample s_p - PAD; it goes to row s_p - PAD + top of a grid of whole periods
        top, left = k_r * math.ceil(PAD / k_r), k_c * math.ceil(PAD / k_c)
        grid_rows = k_r * math.ceil((height - PAD + top) / k_r)
        grid_cols = k_c * math.ceil((width - PAD + left) / k_c)

        def by_phase(values: np.ndarray) -> np.ndarray:
            grid = np.zeros((grid_rows, grid_cols))
            grid[top - PAD : top - PAD + height, left - PAD : left - PAD + width] = values
            return grid.reshape(grid_rows // k_r, k_r, grid_cols // k_c, k_c).sum(axis=(0, 2))

        rows = (np.arange(height) - PAD)[:, None]
        cols = (np.arange(width) - PAD)[None, :]
        # pixels covered, int16 (n_x, n_y, K_r, K_c); summed distances (px), float16 (n_x, n_y, S_r, S_c, K_r, K_c)
        self._phase_area = np.zeros(shape + (k_r, k_c), dtype=np.int16)
        self._phase_doubt = np.zeros(shape + self._spans + (k_r, k_c), dtype=np.float16)
        for i in range(shape[0]):
            for j in range(shape[1]):
                outline = self._outline[i, j]
                seen = (outline & 1) != 0
                thin = (outline & 2) != 0
                centre_r, centre_c = self._centroid[i, j]
                distance = np.hypot((rows - centre_r) / k_r, (cols - centre_c) / k_c)
                self._phase_area[i, j] = by_phase(seen).round()
                for span_r in range(1, self._spans[0] + 1):
                    for span_c in range(1, self._spans[1] + 1):
                        unsure = thin.copy()
                        unsure[span_r:] |= seen[span_r:] != seen[:-span_r]
                        unsure[:, span_c:] |= seen[:, span_c:] != seen[:, :-span_c]
                        self._phase_doubt[i, j, span_r - 1, span_c - 1] = by_phase(unsure * distance)

    @property
    def nbytes(self) -> int:
        """Memory held by the sprites (bytes)."""
        return self.rgb.nbytes + self._depth.nbytes + self._outline.nbytes + self._near.nbytes \
            + self._phase_area.nbytes + self._phase_doubt.nbytes

    def _sample_position(self, x: float, y: float) -> tuple[float, float]:
        """Image position (row, col) of the reference point at ``(x, y)`` (m), in fine samples (as
        :meth:`CameraModel.project`, with plain floats)."""
        (r0, r1, r2), (w0, w1, w2), (c0, c1, c2) = self._terms
        (k_r, k_c), half = self.supersample, self.camera.size / 2.0
        w = w0 * x + w1 * y + w2
        return (((1.0 - (r0 * x + r1 * y + r2) / w) * half - 1.0) * k_r * self.fine,
                ((c0 * x + c1 * y + c2) / w + 1.0) * half * k_c * self.fine)

    def place(self, x: float, y: float) -> Placement | None:
        """The sprite of the body at ``(x, y)`` (m), cut to the image; None when it falls outside the image.

        Uses the nearest grid node's sprite, moved by the displacement of the reference point between that node and
        ``(x, y)``, rounded to the nearest fine sample. The exact displacement of each part of the body lies within a
        range of shifts around it (the rounding, and the parallax of parts above or below the reference height),
        whose ends :meth:`unsure` compares.
        """
        i = round((x - self._x_low) / self._x_step)
        i = 0 if i < 0 else self._n_x - 1 if i >= self._n_x else i
        j = round((y - self._y_low) / self._y_step)
        j = 0 if j < 0 else self._n_y - 1 if j >= self._n_y else j
        (k_r, k_c), fine, size = self.supersample, self.fine, self.camera.size
        fine_r, fine_c = k_r * fine, k_c * fine
        row_n, col_n, origin_r, origin_c, rgb, depth, outline, box = self._nodes[i][j]
        (r0, r1, r2), (w0, w1, w2), (c0, c1, c2) = self._terms
        w = w0 * x + w1 * y + w2
        # shift of the reference point from the node's, in fine samples (as CameraModel.project)
        shift_r = ((1.0 - (r0 * x + r1 * y + r2) / w) * size / 2.0 - 1.0) * fine_r - row_n
        shift_c = ((c0 * x + c1 * y + c2) / w + 1.0) * size / 2.0 * fine_c - col_n
        nearest_r, nearest_c = round(shift_r), round(shift_c)
        # fine sample s of the sprite sits at origin + shift + s (in fine samples): image pixel p reads fine sample
        # k * fine * p - shift - origin, and sample (k * fine * p - shift - origin) // fine
        start_r, start_c = origin_r + nearest_r, origin_c + nearest_c
        height, width = outline.shape[0] - 2 * PAD, outline.shape[1] - 2 * PAD
        first_r = -(-start_r // fine_r) if start_r > 0 else 0
        first_c = -(-start_c // fine_c) if start_c > 0 else 0
        skip_r, skip_c = fine_r * first_r - start_r, fine_c * first_c - start_c
        n_r = min(-(-(height - skip_r) // fine_r), size - first_r)
        n_c = min(-(-(width - skip_c) // fine_c), size - first_c)
        if n_r <= 0 or n_c <= 0:
            return None
        stop_r, stop_c = skip_r + fine_r * (n_r - 1) + 1, skip_c + fine_c * (n_c - 1) + 1
        coarse_r, coarse_c = skip_r // fine, skip_c // fine
        coarse = slice(coarse_r, coarse_r + k_r * (n_r - 1) + 1, k_r), slice(coarse_c, coarse_c + k_c * (n_c - 1) + 1,
                                                                            k_c)
        # the shift of any part of the body lies within the parallax range around the reference point's: the lowest
        # and highest whole shifts around that range, as offsets of the samples read (more shift reads earlier ones)
        g_low, g_high = self._parallax
        a_r, b_r, a_c, b_c = shift_r * g_low, shift_r * g_high, shift_c * g_low, shift_c * g_high
        low_r, high_r = (a_r, b_r) if a_r < b_r else (b_r, a_r)
        low_c, high_c = (a_c, b_c) if a_c < b_c else (b_c, a_c)
        low_r, low_c = math.floor(shift_r + low_r), math.floor(shift_c + low_c)
        high_r = max(math.ceil(shift_r + high_r), low_r + 1)
        high_c = max(math.ceil(shift_c + high_c), low_c + 1)
        bracket: tuple[int, int, int, int] | None = (nearest_r - low_r, nearest_c - low_c, nearest_r - high_r,
                                                     nearest_c - high_c)
        if nearest_r - low_r >= PAD or nearest_c - low_c >= PAD or high_r - nearest_r >= PAD \
                or high_c - nearest_c >= PAD:
            bracket = None
        whole = skip_r < fine_r and skip_c < fine_c and stop_r + fine_r > height and stop_c + fine_c > width
        mask = (outline[PAD + skip_r : PAD + stop_r : fine_r, PAD + skip_c : PAD + stop_c : fine_c] & 1) != 0
        # the pixels whose fine samples (skip + k * fine * (p - first)) may see the body, within the area
        extent = (first_r + max((box[0] - skip_r) // fine_r, 0), first_r + min((box[1] - skip_r) // fine_r + 2, n_r),
                  first_c + max((box[2] - skip_c) // fine_c, 0), first_c + min((box[3] - skip_c) // fine_c + 2, n_c))
        return Placement(slice(first_r, first_r + n_r), slice(first_c, first_c + n_c), rgb[coarse], depth[coarse],
                         mask, (i, j), (slice(skip_r, stop_r, fine_r), slice(skip_c, stop_c, fine_c)), bracket, w,
                         whole, extent)

    def _read(self, placement: Placement, offset_r: int, offset_c: int) -> np.ndarray:
        """The outline bits (:meth:`_outlines`) of the fine samples that the placement's pixels read when the sprite
        is moved by ``-offset`` fine samples, shape ``(h, w)``."""
        (i, j), (sr, sc) = placement.node, placement.samples
        return self._outline[i, j, PAD + offset_r + sr.start : PAD + offset_r + sr.stop : sr.step,
                             PAD + offset_c + sc.start : PAD + offset_c + sc.stop : sc.step]

    def _read_depth(self, placement: Placement, offset_r: int, offset_c: int) -> np.ndarray:
        """The (coarser) depth that the placement's pixels read ``offset`` samples (not fine samples) after the
        samples they read, shape ``(h, w)``."""
        (i, j), (sr, sc), fine, pad = placement.node, placement.samples, self.fine, self._pad
        first_r, first_c = pad + sr.start // fine + offset_r, pad + sc.start // fine + offset_c
        height, width = placement.depth.shape
        step_r, step_c = sr.step // fine, sc.step // fine
        return self._depth[i, j, first_r : first_r + step_r * (height - 1) + 1 : step_r,
                           first_c : first_c + step_c * (width - 1) + 1 : step_c]

    def unsure(self, placement: Placement) -> np.ndarray | None:
        """Which pixels of a placement could differ from pybullet's: those whose coverage by the body differs
        between the ends of the range of shifts (an edge lies within it, so only a render at the exact position
        can say whether it is in), and those near a structure one sample thin.

        :return: bool ``(h, w)`` over the placement's area; None when the range of shifts is too wide to check.
        """
        if placement.bracket is None:
            return None
        low_r, low_c, high_r, high_c = placement.bracket
        span_r, span_c = low_r - high_r, low_c - high_c
        corner = self._read(placement, low_r, low_c)
        if span_r <= self._spans[0] and span_c <= self._spans[1]:
            return (corner & (2 | 1 << (1 + span_r) | 1 << (1 + self._spans[0] + span_c))) != 0
        seen = corner & 1
        return ((corner & 2) != 0) | (seen != (self._read(placement, high_r, low_c) & 1)) \
            | (seen != (self._read(placement, low_r, high_c) & 1))

    def unsure_in_front(self, placement: Placement, limit: np.ndarray, front: np.ndarray) -> np.ndarray:
        """Which pixels of a placement (with a range of shifts, :meth:`unsure`) could be drawn in front of what is
        behind them or not: those where the body's (coarser) depth crosses ``limit`` between the ends of the range.

        :param limit: float32 ``(h, w)``: the linear depth (m) of what is behind the body at each pixel of the area
            minus the reference depth, ``inf`` where nothing but the floor (or what the sprites hold) is.
        :param front: ``placement.depth < limit``, bool ``(h, w)``.
        :return: bool ``(h, w)``.
        """
        low_r, low_c, high_r, high_c = placement.bracket
        (sr, sc), fine = placement.samples, self.fine
        rows = [(sr.start + offset) // fine for offset in (low_r, high_r)]
        cols = [(sc.start + offset) // fine for offset in (low_c, high_c)]
        nearest = sr.start // fine, sc.start // fine

        def in_front(row: int, col: int) -> np.ndarray:
            if (row, col) == nearest:  # the depth the placement reads
                return front
            return self._read_depth(placement, row - nearest[0], col - nearest[1]) < limit

        corner = in_front(rows[0], cols[0])
        crossing = corner != in_front(rows[1], cols[0]) if rows[1] != rows[0] else None
        if cols[1] != cols[0]:
            across = corner != in_front(rows[0], cols[1])
            crossing = across if crossing is None else crossing | across
        return np.zeros(front.shape, dtype=bool) if crossing is None else crossing

    def doubt_terms(self, placement: Placement, unsure: np.ndarray, area: int) -> tuple[list[int], list[int],
                                                                                         list[float], list[int]]:
        """The pixels in doubt (:meth:`unsure`), how far each could move the body's centroid, and the parts an exact
        render of each needs (plain lists: there are a few).

        :param area: the number of pixels where the body is drawn.
        :return: their rows and columns in the placement's area; their distances to the body's centroid over its
            area (px; their sum is how far the centroid could be from pybullet's); the parts that may be seen there
            (those seen at the node within the range of shifts, and a sample more, of the samples they read; all of
            them when that range is unknown), bit ``i`` for part ``i``.
        """
        in_doubt_r, in_doubt_c = np.nonzero(unsure)
        rows, cols = in_doubt_r.tolist(), in_doubt_c.tolist()
        (i, j), (sr, sc), bracket = placement.node, placement.samples, placement.bracket
        if bracket is None:
            return rows, cols, [math.inf] * len(rows), [self.all_parts] * len(rows)
        centre_r, centre_c = self._centroid_list[i][j]
        # positions of the fine samples compared at the low end of the range (as the tables of doubt_of), in pixels
        first_r = (sr.start + bracket[0] - centre_r) / sr.step
        first_c = (sc.start + bracket[1] - centre_c) / sc.step
        area = max(area, 1)
        terms = [math.hypot(first_r + row, first_c + col) / area for row, col in zip(rows, cols)]
        if max(bracket[0], bracket[1], -bracket[2], -bracket[3]) >= self._margin:
            return rows, cols, terms, [self.all_parts] * len(rows)
        fine = self.fine
        near = self._near[i, j, sr.start // fine : (sr.stop - 1) // fine + 1 : sr.step // fine,
                          sc.start // fine : (sc.stop - 1) // fine + 1 : sc.step // fine]
        return rows, cols, terms, near[in_doubt_r, in_doubt_c].tolist()

    def area_of(self, placement: Placement) -> int | None:
        """How many pixels a whole placement covers, from the tables; None when it is cut by the image border."""
        if not placement.whole:
            return None
        (i, j), (sr, sc) = placement.node, placement.samples
        return int(self._phase_area[i, j, sr.start % sr.step, sc.start % sc.step])

    def doubt_of(self, placement: Placement) -> float | None:
        """How far (px) the centroid of a whole placement over the floor alone (its mask drawn as it is) could be
        from pybullet's (the sum of :meth:`doubt_terms`), read from tables made per node, phase and range of shifts;
        None when the placement is cut by the image border or its range of shifts is wider than the tables."""
        if placement.bracket is None or not placement.whole:
            return None
        low_r, low_c, high_r, high_c = placement.bracket
        span_r, span_c = low_r - high_r, low_c - high_c
        if span_r > self._spans[0] or span_c > self._spans[1]:
            return None
        (i, j), (sr, sc) = placement.node, placement.samples
        area = self._phase_area[i, j, sr.start % sr.step, sc.start % sc.step]
        summed = self._phase_doubt[i, j, span_r - 1, span_c - 1, (sr.start + low_r) % sr.step,
                                   (sc.start + low_c) % sc.step]
        return float(summed) / max(int(area), 1)
