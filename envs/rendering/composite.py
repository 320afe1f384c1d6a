"""The composite renderer: pybullet's picture of a fixed camera scene, assembled from pieces rendered once.

Pieces (per process, scene and image size, :func:`scene_pieces`): the static bodies rendered once with their depth
buffer, and a :class:`SpriteBank` of the last moving body (the robot): colour, depth and visual shape per sample.
Per image:

* the bodies that move only at a reset (every moving body but the last: the targets) are drawn into a background
  kept until one of them moves, each by an exact pybullet render of the small window around it (:class:`Studio`,
  which has every body but the floor), depth-composited over the static scene;
* the last body is its sprite, drawn over the floor (and the static bodies drawn into its sprites) as it is and
  over anything else (targets, walls) where its depth is in front. The pixels it is unsure of (on an edge within
  the range of shifts its parts can have, rounding and parallax, or near a gap one sample thin) could move its
  centroid away from pybullet's; when they could move it by more than :data:`CENTROID_DOUBT` px, the groups of them
  that remove the most doubt for the least work are redrawn by an exact pybullet render (:class:`PartStudio`: only
  the robot's visual shapes seen near those pixels, depth-composited over the background) until the doubt left is
  within it; and so are all of those over a target whose own centroid they could move as much. How the body was
  drawn at its last :data:`DRAWN_CACHE` positions is kept until the background changes (moves of 0.1 m revisit
  positions).

So every pixel is either pybullet's own (static scene, windows) or a sprite sample that pybullet rasterised at the
nearest phase; the tests hold the result to pybullet's image (``tests/test_rendering.py``).
"""

from __future__ import annotations

import functools
import math
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from envs.rendering.camera import CameraModel
from envs.rendering.compositor import paste_sprite, paste_window
from envs.rendering.scene import MovingBody, Scene, StaticBody, load_body
from envs.rendering.sprite_cache import cached_bank
from envs.rendering.sprites import Placement, SpriteBank
from envs.rendering.studio import PartStudio, Studio, Window, part_studio_for, studio_for
from envs.sim import Simulation

#: largest distance (m) between the positions the robot's sprites are rendered at: over half a cell, the parallax
#: between its outline's parts (wheels, chassis top, camera box: within 3 cm of the reference height) stays under
#: 0.02 px at 64x64 and 0.08 px at 224x224
GRID_SPACING = 0.5
#: sprite samples (colour, depth) per image pixel along each axis, for images up to ``SMALL_IMAGE`` px and above
SUPERSAMPLE_SMALL, SUPERSAMPLE_LARGE = 24, 8
SMALL_IMAGE = 128
#: fine samples (where the robot is seen) per sprite sample along each axis, for images up to ``FINE_IMAGE`` px (1
#: above): the finer, the fewer pixels in doubt (at 64x64, 48 per pixel leave 23 % of fresh images with pixels to
#: render exactly, 24 leave 36 %), for 4 times the memory and rendering of the masks
FINE, FINE_IMAGE = 2, 64
#: the sprite is drawn alone when the pixels of its outline it is unsure of could move the body's centroid by at
#: most this much (px) away from pybullet's; otherwise enough of them are rendered exactly (a negative value renders
#: the whole sprite's area exactly, for checks)
CENTROID_DOUBT = 0.3
#: how the last body was drawn at its latest positions, kept per renderer until the background changes (an
#: episode's moves of 0.1 m revisit positions, a trained robot stays near its target)
DRAWN_CACHE = 512


class Patch(NamedTuple):
    """Pixels of a window redrawn exactly: the window, the exact image there (background and the last body by depth,
    uint8 ``(h, w, 3)``), which of its pixels replace the sprite's (bool ``(h, w)``) and where among those the body
    is seen (bool ``(h, w)``)."""

    window: Window
    rgb: np.ndarray
    pixels: np.ndarray
    body: np.ndarray


class Drawing(NamedTuple):
    """How the last body is drawn at one position: its sprite where ``mask`` (bool ``(h, w)`` over the placement's
    area) says, then the background and an exact render over ``patch``'s window, if any."""

    placement: Placement
    mask: np.ndarray
    patch: Patch | None


@dataclass(frozen=True)
class ScenePieces:
    """What the composite renderer draws from, for one scene and image size.

    :param rgb: the static bodies alone, uint8 ``(size, size, 3)``. :param depth: their depth, float32 ``(size, size)``.
    :param floor: where the floor (the first static body), or a static body drawn into the sprites, is what is seen,
        bool ``(size, size)``: where a sprite may be drawn without a depth test.
    :param sprites: sprite bank of the last moving body.
    :param seconds: wall time it took to build them, studios included (s).
    """

    rgb: np.ndarray
    depth: np.ndarray
    floor: np.ndarray
    sprites: SpriteBank
    seconds: float

    @property
    def nbytes(self) -> int:
        """Memory held (bytes)."""
        return self.rgb.nbytes + self.depth.nbytes + self.floor.nbytes + self.sprites.nbytes


@functools.lru_cache(maxsize=16)
def sprite_bank(moving: MovingBody, camera: CameraModel, supersample: tuple[int, int], fine: int,
                with_static: tuple[StaticBody, ...]) -> SpriteBank:
    """The sprites of a moving body (cached per process: scenes that differ only in their targets share them; and on
    disk, :mod:`envs.rendering.sprite_cache`: a new process loads them)."""
    return cached_bank(moving, camera, GRID_SPACING, supersample, fine, floor=True, with_static=with_static)


@functools.lru_cache(maxsize=16)
def scene_pieces(scene: Scene, size: int) -> ScenePieces:
    """Render the pieces of ``scene`` at ``size`` px with pybullet (cached per process: every env of a worker with
    the same scene and size shares them)."""
    start = time.perf_counter()
    camera = CameraModel(scene.camera, size)
    sim = Simulation()
    robot = scene.moving[-1]
    try:
        ids = {static.name: load_body(sim, static.name, static.body, static.x, static.y) for static in scene.static}
        rgb, depth, body = sim.render_layers(camera.view, camera.projection, size, size)
    finally:
        sim.close()
    under = [ids[scene.static[0].name]] + [ids[name] for name in robot.sprite_with]
    studio_for(scene, size)  # built now, so that the first image does not pay for them
    part_studio_for(scene, size)
    k = SUPERSAMPLE_SMALL if size <= SMALL_IMAGE else SUPERSAMPLE_LARGE
    fine = FINE if size <= FINE_IMAGE else 1
    with_static = tuple(static for static in scene.static if static.name in robot.sprite_with)
    sprites = sprite_bank(robot, camera, (k, k), fine, with_static)
    floor = np.isin(body, under)
    for array in (rgb, depth, floor):
        array.setflags(write=False)
    return ScenePieces(rgb, depth, floor, sprites, time.perf_counter() - start)


class CompositeRenderer:
    """Images of ``scene`` at ``size`` px for given positions of its moving bodies (see the module docstring).

    :param scene: the camera scene. :param size: side of the square image (px).

    ``counts`` tallies how the last body was drawn: ``sprite`` (alone), ``patch`` (sprite, and an exact render of
    some of the pixels it is unsure of), ``window`` (an exact render of the sprite's whole area: when the range of
    shifts is too wide to check) and ``cached window`` (a patch or window rendered at the same position earlier).
    """

    def __init__(self, scene: Scene, size: int) -> None:
        self.scene = scene
        self.size = size
        self.pieces = scene_pieces(scene, size)
        self.studio: Studio = studio_for(scene, size)
        self.parts: PartStudio = part_studio_for(scene, size)
        self._linear = CameraModel(scene.camera, size).linear_depth
        self._background_key: tuple[tuple[float, float], ...] | None = None
        self._rgb = self.pieces.rgb.copy()
        self._depth = self.pieces.depth.copy()
        self._floor = self.pieces.floor.copy()
        self._not_floor = ~self._floor
        # linear depth (m) of what the background shows where it is not the floor, inf on the floor; and the same minus
        # the last reference depth it was needed for (constant for a camera that looks straight down)
        self._background_depth = np.full((size, size), np.inf, dtype=np.float32)
        self._behind, self._behind_reference = self._background_depth, 0.0
        # summed-area table of the pixels that are not floor: _covered[r][c] counts those above and left of (r, c)
        self._covered: list[list[int]] = []
        # per moving body but the last, the pixels where the background shows it: how many, their centroid (row, col)
        # and their largest distance to it (px)
        self._targets: list[tuple[int, float, float, float]] = []
        self._labels = np.full((size, size), -1, dtype=np.int16)
        self._drawn: OrderedDict[tuple[float, float], Drawing | None] = OrderedDict()
        self.counts = {"sprite": 0, "patch": 0, "window": 0, "cached window": 0}

    @staticmethod
    def _labels_of(body: np.ndarray, studio: Studio) -> np.ndarray:
        """Moving-body indices of a window's pybullet ids in ``studio`` (-1 for static bodies and nothing)."""
        labels = np.full(body.shape, -1, dtype=np.int16)
        for index, pybullet_id in enumerate(studio.body_ids):
            labels[body == pybullet_id] = index
        return labels

    def _draw_background(self, key: tuple[tuple[float, float], ...]) -> None:
        """Static scene plus every moving body but the last, each drawn by an exact render of its window."""
        studio = self.studio
        np.copyto(self._rgb, self.pieces.rgb)
        np.copyto(self._depth, self.pieces.depth)
        np.copyto(self._floor, self.pieces.floor)
        self._labels.fill(-1)
        studio.place(list(key) + [None])
        for index, (x, y) in enumerate(key):
            window = studio.window(index, x, y)
            if window is None:
                continue
            rgb, depth, body = studio.render(window)
            area = window.slices
            drawn = paste_window(self._rgb, self._depth, area, rgb, depth, body >= 0)
            np.copyto(self._depth[area], depth, where=drawn)
            self._floor[area] &= ~drawn
            np.copyto(self._labels[area], self._labels_of(body, studio), where=drawn)
        self._targets = []
        for index in range(len(key)):
            seen_r, seen_c = np.nonzero(self._labels == index)
            if len(seen_r):
                centre_r, centre_c = float(seen_r.mean()), float(seen_c.mean())
                radius = float(np.hypot(seen_r - centre_r, seen_c - centre_c).max())
                self._targets.append((len(seen_r), centre_r, centre_c, radius))
            else:
                self._targets.append((0, 0.0, 0.0, 0.0))
        self._not_floor = ~self._floor
        self._background_depth = np.where(self._floor, np.inf, self._linear(self._depth)).astype(np.float32)
        self._behind, self._behind_reference = self._background_depth, 0.0
        covered = np.zeros((self.size + 1, self.size + 1), dtype=np.int64)
        covered[1:, 1:] = np.cumsum(np.cumsum(self._not_floor, axis=0), axis=1)
        self._covered = covered.tolist()
        self._background_key = key
        self._drawn.clear()

    def render(self, positions: Sequence[tuple[float, float]], labels: np.ndarray | None = None) -> np.ndarray:
        """The image with moving body ``i`` at ``positions[i]`` = (x, y) (m), uint8 ``(size, size, 3)``.

        :param labels: if given, int16 ``(size, size)``, filled with the index of the moving body seen at each pixel
            (-1 for the static scene), for checks.
        :raises ValueError: when the number of positions is not the number of moving bodies.
        """
        if len(positions) != len(self.scene.moving):
            raise ValueError(f"{len(positions)} positions given for {len(self.scene.moving)} moving bodies.")
        key = tuple((float(x), float(y)) for x, y in positions[:-1])
        if key != self._background_key:
            self._draw_background(key)
        x, y = float(positions[-1][0]), float(positions[-1][1])
        image = self._rgb.copy()
        if labels is not None:
            np.copyto(labels, self._labels)
        if (x, y) in self._drawn:
            drawn = self._drawn[(x, y)]
            self.counts["sprite" if drawn is None or drawn.patch is None else "cached window"] += 1
        else:
            drawn = self._draw(x, y)
            self._drawn[(x, y)] = drawn
            if len(self._drawn) > DRAWN_CACHE:
                self._drawn.popitem(last=False)
        if drawn is None:
            return image
        placement = drawn.placement
        paste_sprite(image, placement, drawn.mask)
        if labels is not None:
            labels[placement.rows, placement.cols][drawn.mask] = len(key)
        if drawn.patch is not None:
            window, rgb, pixels, body = drawn.patch
            area = window.slices
            np.copyto(image[area], rgb, where=pixels[:, :, None])
            if labels is not None:
                np.copyto(labels[area], self._labels[area], where=pixels)
                labels[area][body] = len(key)
        return image

    def _target_doubt(self, rows: slice, cols: slice, mask: np.ndarray, area: int,
                      in_doubt: list[tuple[int, int, int]]) -> float:
        """How far (px) the centroid of a target could be from pybullet's because of the sprite's pixels in doubt
        over it (the largest over the targets): their summed distances to the centroid of what the sprite leaves of
        the target, over the pixels left.

        :param rows: image rows of the sprite's area. :param cols: its columns.
        :param mask: where the sprite is drawn, bool ``(h, w)``. :param area: how many pixels that is.
        :param in_doubt: (row, col, target) of each pixel in doubt over a target, in the area.
        """
        worst = 0.0
        for index in {target for _, _, target in in_doubt}:
            count, centre_r, centre_c, radius = self._targets[index]
            doubt = [(row + rows.start, col + cols.start) for row, col, target in in_doubt if target == index]
            summed = sum(math.hypot(row - centre_r, col - centre_c) for row, col in doubt)
            # first a bound: the sprite hides at most `area` of the target's pixels, which moves its centroid by at
            # most area * radius / (count - area)
            left = count - area - len(doubt)
            if left > 0 and (summed + len(doubt) * area * radius / (count - area)) / left <= CENTROID_DOUBT:
                continue
            hidden_r, hidden_c = np.nonzero(mask & (self._labels[rows, cols] == index))
            seen = count - len(hidden_r)
            if seen - len(doubt) <= 0:
                return math.inf
            # the centroid of what is left of the target
            left_r = (count * centre_r - float(hidden_r.sum()) - rows.start * len(hidden_r)) / seen
            left_c = (count * centre_c - float(hidden_c.sum()) - cols.start * len(hidden_c)) / seen
            summed = sum(math.hypot(row - left_r, col - left_c) for row, col in doubt)
            worst = max(worst, summed / (seen - len(doubt)))
        return worst

    def _draw(self, x: float, y: float) -> Drawing | None:
        """How to draw the last body at ``(x, y)`` (m): its sprite, and an exact patch where it is not sure enough;
        None when it is outside the image."""
        sprites = self.pieces.sprites
        placement = sprites.place(x, y)
        if placement is None:
            return None
        rows, cols = placement.rows, placement.cols
        if CENTROID_DOUBT < 0.0:
            return self._whole(x, y, placement, placement.mask)
        covered, (row0, row1, col0, col1) = self._covered, placement.extent
        unsure, over = None, False
        if covered[row1][col1] - covered[row0][col1] - covered[row1][col0] + covered[row0][col0]:
            # another body (target, wall) is near: is it under a pixel the sprite may cover (seen at the nearest
            # shift, or in doubt)?
            unsure = sprites.unsure(placement)
            over = unsure is None or bool(((placement.mask | unsure) & self._not_floor[rows, cols]).any())
        if over:
            # the sprite is drawn where it is in front, and the pixels in doubt could also move the centroid of the
            # targets they lie over
            if placement.reference_depth != self._behind_reference:
                self._behind = self._background_depth - placement.reference_depth
                self._behind_reference = placement.reference_depth
            limit = self._behind[rows, cols]
            front = placement.depth < limit
            mask = placement.mask & front
            if unsure is not None:
                unsure = unsure | sprites.unsure_in_front(placement, limit, front)
            area = int(np.count_nonzero(mask))
        else:
            mask = placement.mask
            doubt = sprites.doubt_of(placement)
            if doubt is not None and doubt <= CENTROID_DOUBT:
                self.counts["sprite"] += 1
                return Drawing(placement, mask, None)
            if unsure is None:
                unsure = sprites.unsure(placement)
            area = sprites.area_of(placement)
            if area is None:
                area = int(np.count_nonzero(mask))
        if unsure is None:  # the range of shifts is too wide to check
            return self._whole(x, y, placement, mask)
        in_doubt_r, in_doubt_c, terms, near = sprites.doubt_terms(placement, unsure, area)
        left = sum(terms)
        targets = [-1] * len(terms)
        over_targets = False
        if mask is not placement.mask and terms:
            targets = self._labels[rows, cols][in_doubt_r, in_doubt_c].tolist()
            in_doubt = [(row, col, target) for row, col, target in zip(in_doubt_r, in_doubt_c, targets) if target >= 0]
            # when pixels are rendered anyway, those over a target are too
            over_targets = bool(in_doubt) and (left > CENTROID_DOUBT
                                               or self._target_doubt(rows, cols, mask, area, in_doubt) > CENTROID_DOUBT)
        if left <= CENTROID_DOUBT and not over_targets:
            self.counts["sprite"] += 1
            return Drawing(placement, mask, None)
        # the pixels in doubt over a target if its centroid is in doubt, then those that bring the body's doubt under
        # CENTROID_DOUBT for little work: groups of pixels that need the same parts, best ratio of doubt removed to cost
        # first; every pixel in doubt whose parts are all rendered is drawn exactly
        parts = 0
        if over_targets:
            for bits, target in zip(near, targets):
                if target >= 0:
                    parts |= bits
        groups: dict[int, float] = {}
        for bits, term in zip(near, terms):
            if bits & ~parts:
                groups[bits] = groups.get(bits, 0.0) + term
            else:
                left -= term
        cost = self.parts.cost
        for bits in sorted(groups, key=lambda bits: groups[bits] / cost(bits), reverse=True):
            if left <= CENTROID_DOUBT:
                break
            parts |= bits  # (a no-op for a group whose parts are already chosen: it comes for free)
            left -= groups[bits]
        chosen = [(row, col) for row, col, bits in zip(in_doubt_r, in_doubt_c, near) if not bits & ~parts]
        chosen_r, chosen_c = [row for row, _ in chosen], [col for _, col in chosen]
        row0, col0 = min(chosen_r), min(chosen_c)
        pixels = np.zeros((max(chosen_r) + 1 - row0, max(chosen_c) + 1 - col0), dtype=bool)
        pixels[[row - row0 for row in chosen_r], [col - col0 for col in chosen_c]] = True
        window = Window(rows.start + row0, cols.start + col0, pixels.shape[0], pixels.shape[1])
        return self._patched(x, y, placement, mask, window, pixels, parts, "patch")

    def _whole(self, x: float, y: float, placement: Placement, mask: np.ndarray) -> Drawing:
        """The whole area of the sprite drawn by an exact render of the body."""
        rows, cols = placement.rows, placement.cols
        window = Window(rows.start, cols.start, rows.stop - rows.start, cols.stop - cols.start)
        return self._patched(x, y, placement, mask, window, np.ones(mask.shape, dtype=bool), -1, "window")

    def _patched(self, x: float, y: float, placement: Placement, mask: np.ndarray, window: Window, pixels: np.ndarray,
                 parts: int, kind: str) -> Drawing:
        """The sprite, with ``pixels`` (bool over ``window``) drawn by an exact render of the body's ``parts`` (bit
        ``i`` for part ``i``; -1 for all of them) over the background; counted as ``kind``."""
        self.counts[kind] += 1
        rgb, depth, seen = self.parts.render(x, y, window, -1 if len(self.parts.part_ids) > 64 else parts)
        area = window.slices
        body = seen & (depth < self._depth[area])
        composed = self._rgb[area].copy()
        np.copyto(composed, rgb, where=body[:, :, None])
        body &= pixels
        return Drawing(placement, mask, Patch(window, composed, pixels, body))
