"""The composite renderer: pybullet's picture of a fixed camera scene, assembled from pieces rendered once.

Pieces (per process, scene and image size, :func:`scene_pieces`): the static bodies rendered once with their depth
buffer, and a :class:`SpriteBank` of the last moving body (the robot). Per image:

* the bodies that move only at a reset (every moving body but the last: the targets) are drawn into a background
  kept until one of them moves, each by an exact pybullet render of the small window around it (:class:`Studio`,
  which has every body but the floor), depth-composited over the static scene;
* the last body is a sprite over a copy of the background when only the floor (or static bodies drawn into its
  sprites) is under it and its outline is sure enough: the image pixels that lie on a sprite edge within the range
  of shifts its parts can have (rounding and parallax) could not move its centroid by more than
  :data:`CENTROID_DOUBT` px. Otherwise its window is rendered exactly with pybullet (with the bodies that are near
  it: alone, with the other moving bodies, or with the whole scene) and depth-composited. How the body was drawn at
  its last :data:`DRAWN_CACHE` positions (sprite placement or window render) is kept until the background changes
  (moves of 0.1 m revisit positions).

So every pixel is either pybullet's own (static scene, windows) or a sprite sample that pybullet rasterised at the
nearest phase; the tests hold the result to pybullet's image (``tests/test_rendering.py``).
"""

from __future__ import annotations

import functools
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from envs.rendering.camera import CameraModel
from envs.rendering.compositor import paste_sprite, paste_window
from envs.rendering.scene import MovingBody, Scene, StaticBody, load_body
from envs.rendering.sprites import Placement, SpriteBank
from envs.rendering.studio import Studio, Window, studio_for
from envs.sim import Simulation

#: largest distance (m) between the positions the robot's sprites are rendered at: over half a cell, the parallax
#: between its outline's parts (wheels, chassis top, camera box: within 3 cm of the reference height) stays under
#: 0.02 px at 64x64 and 0.08 px at 224x224
GRID_SPACING = 0.5
#: sprite samples per image pixel along each axis, for images up to ``SMALL_IMAGE`` px and above
SUPERSAMPLE_SMALL, SUPERSAMPLE_LARGE = 24, 8
SMALL_IMAGE = 128
#: a sprite is used when the pixels of its outline it is unsure of could move the body's centroid by at most this
#: much (px) away from pybullet's; otherwise the body's window is rendered exactly
CENTROID_DOUBT = 0.3
#: how the last body was drawn at its latest positions, kept per renderer until the background changes (an
#: episode's moves of 0.1 m revisit positions, a trained robot stays near its target)
DRAWN_CACHE = 512


#: an exact window render of the last body: window, colours, depth, pybullet ids, the studio that rendered it
WindowRender = tuple[Window, np.ndarray, np.ndarray, np.ndarray, Studio]
Drawing = Placement | WindowRender


@dataclass(frozen=True)
class ScenePieces:
    """What the composite renderer draws from, for one scene and image size.

    :param rgb: the static bodies alone, uint8 ``(size, size, 3)``. :param depth: their depth, float32 ``(size, size)``.
    :param floor: where the floor (the first static body), or a static body drawn into the sprites, is what is seen,
        bool ``(size, size)``: where a sprite may be drawn without a depth test.
    :param walls: where another static body is what is seen, bool ``(size, size)``.
    :param sprites: sprite bank of the last moving body.
    :param seconds: wall time it took to build them, studio included (s).
    """

    rgb: np.ndarray
    depth: np.ndarray
    floor: np.ndarray
    walls: np.ndarray
    sprites: SpriteBank
    seconds: float

    @property
    def nbytes(self) -> int:
        """Memory held (bytes)."""
        return self.rgb.nbytes + self.depth.nbytes + self.floor.nbytes + self.walls.nbytes + self.sprites.nbytes


@functools.lru_cache(maxsize=16)
def sprite_bank(moving: MovingBody, camera: CameraModel, supersample: tuple[int, int],
                with_static: tuple[StaticBody, ...]) -> SpriteBank:
    """The sprites of a moving body (cached per process: scenes that differ only in their targets share them)."""
    return SpriteBank(moving, camera, GRID_SPACING, supersample, floor=True, with_static=with_static)


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
    studio_for(scene, size, statics=False)
    studio_for(scene, size, solo=len(scene.moving) - 1)
    k = SUPERSAMPLE_SMALL if size <= SMALL_IMAGE else SUPERSAMPLE_LARGE
    with_static = tuple(static for static in scene.static if static.name in robot.sprite_with)
    sprites = sprite_bank(robot, camera, (k, k), with_static)
    for array in (rgb, depth):
        array.setflags(write=False)
    floor = np.isin(body, under)
    return ScenePieces(rgb, depth, floor, ~floor & (body >= 0), sprites, time.perf_counter() - start)


class CompositeRenderer:
    """Images of ``scene`` at ``size`` px for given positions of its moving bodies (see the module docstring).

    :param scene: the camera scene. :param size: side of the square image (px).

    ``counts`` tallies how the last body was drawn: ``sprite``, ``solo window`` (exact render of it alone, when no
    other body than the floor, or the static bodies drawn into its sprites, is in its window; the depth test against
    the background hides what they hide) or ``window`` (exact render of the scene around it).
    """

    def __init__(self, scene: Scene, size: int) -> None:
        self.scene = scene
        self.size = size
        self.pieces = scene_pieces(scene, size)
        self.studio: Studio = studio_for(scene, size)
        self.movers: Studio = studio_for(scene, size, statics=False)
        self.solo: Studio = studio_for(scene, size, solo=len(scene.moving) - 1)
        self._background_key: tuple[tuple[float, float], ...] | None = None
        self._rgb = self.pieces.rgb.copy()
        self._depth = self.pieces.depth.copy()
        self._floor = self.pieces.floor.copy()
        self._labels = np.full((size, size), -1, dtype=np.int16)
        # position -> a sprite placement, or an exact window render (window, rgb, depth, body ids, studio)
        self._drawn: OrderedDict[tuple[float, float], Drawing | None] = OrderedDict()
        self.counts = {"sprite": 0, "window": 0, "solo window": 0, "cached window": 0}

    @staticmethod
    def _labels_of(body: np.ndarray, studio: Studio) -> np.ndarray:
        """Moving-body indices of a window's pybullet ids in ``studio`` (-1 for static bodies and nothing)."""
        labels = np.full(body.shape, -1, dtype=np.int16)
        for index, pybullet_id in enumerate(studio.body_ids):
            if pybullet_id >= 0:
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
            drawn = paste_window(self._rgb, self._depth, area, rgb, depth, body)
            np.copyto(self._depth[area], depth, where=drawn)
            self._floor[area] &= ~drawn
            np.copyto(self._labels[area], self._labels_of(body, studio), where=drawn)
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
            self.counts["sprite" if drawn is None or isinstance(drawn, Placement) else "cached window"] += 1
        else:
            drawn = self._draw(key, x, y)
            self._drawn[(x, y)] = drawn
            if len(self._drawn) > DRAWN_CACHE:
                self._drawn.popitem(last=False)
        if isinstance(drawn, Placement):
            paste_sprite(image, drawn)
            if labels is not None:
                labels[drawn.rows, drawn.cols][drawn.mask] = len(key)
        elif drawn is not None:
            window, rgb, depth, body, studio = drawn
            seen = paste_window(image, self._depth, window.slices, rgb, depth, body)
            if labels is not None:
                np.copyto(labels[window.slices], self._labels_of(body, studio), where=seen)
        return image

    def _draw(self, key: tuple[tuple[float, float], ...], x: float, y: float) -> Drawing | None:
        """How to draw the last body at ``(x, y)`` (m): its sprite when sure enough, else an exact window render;
        None when it is outside the image."""
        placement, doubt = self.pieces.sprites.place(x, y, free=self._floor)
        if placement is None or doubt <= CENTROID_DOUBT:
            self.counts["sprite"] += 1
            return placement
        window = self.studio.window(len(key), x, y)
        if window is None:
            return None
        if self._floor[window.slices].all():
            studio, kind = self.solo, "solo window"
        elif not self.pieces.walls[window.slices].any():
            studio, kind = self.movers, "window"
        else:
            studio, kind = self.studio, "window"
        self.counts[kind] += 1
        studio.place(list(key) + [(x, y)])
        rgb, depth, body = studio.render(window)
        return window, rgb, depth, body, studio
