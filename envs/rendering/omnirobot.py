"""The Omnirobot's camera images, composed like the original simulator's photo montage.

The original (``real_robots/omnirobot_simulator_server.py``) composed each image from photographs of the real arena
(floor, robot tag, red target), which we do not have. The pictures here are generated procedurally with numpy from
fixed seeds, once per process, the first time an image is rendered (no files are read or written). Their pixel
sizes and the whole geometry are the original's: a 640x640 floor resized to 480x480, pasted at the centre of the
640x480 camera frame and undistorted with the calibration, markers of 48x56 and 49x66 camera pixels projected
through the pinhole model, then a 480x480 centre crop resized to the image size. :class:`OmnirobotCamera` draws an
image per state with the original's noise model.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from envs.rendering.lab import Lab8ToRGB, LabNoiseTable, expand_palette, rgb_to_lab8
from envs.rendering.resample import area_resize, bilinear, box_blur

# --- camera (the original's cam_calib_info.yaml and simulator pose) ----------------------------------------------
ORIGIN_WIDTH, ORIGIN_HEIGHT = 640, 480  # camera frame (px)
CROPPED_SIZE = 480  # centre crop of the camera frame (px) that becomes the observation
CROP_LEFT = (ORIGIN_WIDTH - CROPPED_SIZE) // 2  # 80 px
FX, FY, CX, CY = 513.25, 514.20, 325.81, 251.89  # intrinsics (px)
DISTORTION = (0.0804, -0.1307, 0.0043, 0.0006, 0.0)  # plumb bob k1, k2, p1, p2, k3
CAMERA_HEIGHT = 2.9  # m; the camera is at (0, 0, 2.9) rotated 180 deg about y, so it looks straight down
FLOOR_SOURCE_SIZE = 640  # px, side of the floor picture (resized to CROPPED_SIZE before pasting)

# --- markers (px of the camera frame) ----------------------------------------------------------------------------
ROBOT_MARKER_SIZE = (56, 48)  # (height, width), robot_margin3_pixel_only_tag.png
ROBOT_MARKER_MARGIN = 3
TARGET_MARKER_SIZE = (66, 49)  # (height, width), red_target_margin4_pixel_480x480.png
TARGET_MARKER_MARGIN = 4
MARGIN_MAX_WEIGHT = 0.3  # blending weight at the inner edge of a marker's margin (0 at its outer edge)

# --- simulator noise (the original names them VAR but uses them as standard deviations) ----------------------------
POSITION_NOISE_STD = 0.01  # m, drawn robot position = true position + N(0, std) per axis, every image
YAW_NOISE_STD = math.radians(2.5)  # rad, drawn robot yaw = 0 + N(0, std), every image
PIXEL_NOISE_STD = 2.0  # 0-255 levels, rounded, on every marker pixel, every image
SIZE_NOISE_STD = 0.05  # marker scale = 1 + N(0, std), robot and target, every episode
LAB_NOISE_STD = 0.03  # each of L, a, b (8-bit Lab) multiplied by 1 + N(0, std), every image

_ZERO, _ONE = np.float32(0.0), np.float32(1.0)  # float32 scalars: cheaper than Python floats in float32 ufuncs


def ground_to_pixel(x: float, y: float) -> tuple[float, float]:
    """Pinhole projection (no distortion) of the floor point ``(x, y, 0)`` (m) to camera-frame pixels ``(u, v)``.

    The camera sits at ``(0, 0, CAMERA_HEIGHT)`` rotated by 180 deg about y, so a floor point is at ``(-x, y, 2.9)``
    in the camera frame: +x goes left in the image and +y goes down.
    """
    return CX - FX * x / CAMERA_HEIGHT, CY + FY * y / CAMERA_HEIGHT


def pixel_in_observation(x: float, y: float, size: int) -> tuple[float, float]:
    """Where the floor point ``(x, y)`` (m) lands in a ``size``-pixel observation, as (column, row), pixel centres at
    integers (the crop is resized like an area resampling, which maps pixel edges onto pixel edges)."""
    u, v = ground_to_pixel(x, y)
    scale = size / CROPPED_SIZE
    return (u - CROP_LEFT + 0.5) * scale - 0.5, (v + 0.5) * scale - 0.5


# --- procedural images -------------------------------------------------------------------------------------------
def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], waves: int) -> np.ndarray:
    """A sum of random low-frequency sinusoids in about [-1, 1], shape ``shape``."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    total = np.zeros(shape)
    for _ in range(waves):
        kr, kc = rng.uniform(-0.05, 0.05, size=2)
        total += np.sin(kr * rows + kc * cols + rng.uniform(0, 2 * np.pi))
    return total / math.sqrt(waves)


@functools.lru_cache(maxsize=1)
def floor_texture() -> np.ndarray:
    """The floor picture (our stand-in for the original ``back_ground.jpg``), uint8 ``(640, 640, 3)``.

    Square floor tiles (80 px) of slightly varying warm grey, darker grout lines, a soft mottling and a fine grain.
    """
    rng = np.random.default_rng(2018)
    n = FLOOR_SOURCE_SIZE
    tile = 80
    shades = rng.uniform(-12, 12, size=(n // tile, n // tile))
    image = np.empty((n, n, 3))
    image[:] = (176.0, 168.0, 152.0)
    image += np.kron(shades, np.ones((tile, tile)))[:, :, None]
    image += 10 * _smooth_noise(rng, (n, n), 6)[:, :, None]
    image += rng.normal(0, 4, size=(n, n, 1))
    grout = (np.arange(n) % tile) < 3
    image[grout, :] *= 0.6
    image[:, grout] *= 0.6
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _margin_weight(height: int, width: int, margin: int) -> np.ndarray:
    """Blending weight of a marker: 1 inside, ramping from 0 (outer edge) to MARGIN_MAX_WEIGHT across the margin."""
    rows = np.minimum(np.arange(height) + 0.5, height - np.arange(height) - 0.5)
    cols = np.minimum(np.arange(width) + 0.5, width - np.arange(width) - 0.5)
    depth = np.minimum(rows[:, None], cols[None, :])
    return np.where(depth < margin, MARGIN_MAX_WEIGHT * depth / margin, 1.0)


@functools.lru_cache(maxsize=1)
def robot_marker() -> np.ndarray:
    """The robot seen from above (stand-in for ``robot_margin3_pixel_only_tag.png``), float32 RGBA ``(56, 48, 4)``
    in [0, 1]: a dark body with a blue front bar (at the top of the image at yaw 0) and an asymmetric black-and-white
    tag whose 4x4 bits show the orientation."""
    height, width = ROBOT_MARKER_SIZE
    image = np.zeros((height, width, 4))
    image[:, :, :3] = (48, 48, 54)
    image[3:11, 3:-3, :3] = (40, 110, 210)
    bits = np.array([[1, 0, 1, 1], [0, 1, 0, 0], [1, 1, 0, 1], [0, 0, 1, 0]], dtype=bool)
    cells = np.zeros((6, 6), dtype=bool)  # black border cells around the bits
    cells[1:5, 1:5] = bits
    tag = np.where(np.kron(cells, np.ones((5, 5), dtype=bool))[:, :, None], 245.0, 15.0)
    image[16:46, 9:39, :3] = tag
    image[:, :, 3] = _margin_weight(height, width, ROBOT_MARKER_MARGIN)
    image[:, :, :3] /= 255.0
    return image.astype(np.float32)


@functools.lru_cache(maxsize=1)
def target_marker() -> np.ndarray:
    """The target (stand-in for ``red_target_margin4_pixel_480x480.png``), float32 RGBA ``(66, 49, 4)`` in [0, 1]:
    a red ellipse filling the sprite, with a white ring, transparent in the corners (edges anti-aliased by 4x4
    supersampling)."""
    height, width = TARGET_MARKER_SIZE
    sub = 4
    rows = (np.arange(height * sub) + 0.5) / sub - height / 2
    cols = (np.arange(width * sub) + 0.5) / sub - width / 2
    radius = np.sqrt((rows[:, None] / (height / 2)) ** 2 + (cols[None, :] / (width / 2)) ** 2)

    def coverage(mask: np.ndarray) -> np.ndarray:
        return mask.reshape(height, sub, width, sub).mean(axis=(1, 3))

    inside = coverage(radius <= 1.0)
    ring = coverage((radius > 0.45) & (radius <= 0.62))
    red, white = np.array([200.0, 20.0, 25.0]), np.array([250.0, 245.0, 240.0])
    image = np.zeros((height, width, 4))
    image[:, :, :3] = (red + (white - red) * ring[:, :, None]) / 255.0
    image[:, :, 3] = inside * _margin_weight(height, width, TARGET_MARKER_MARGIN)
    return image.astype(np.float32)


@functools.lru_cache(maxsize=1)
def floor_view() -> np.ndarray:
    """The floor as the camera delivers it: the 480x480 centre crop of the undistorted camera frame, float64
    ``(480, 480, 3)`` in 0-255 (the original pasted the resized floor on a black 640x480 frame, ran
    ``cv2.undistort`` with the calibration, then cropped)."""
    frame = np.zeros((ORIGIN_HEIGHT, ORIGIN_WIDTH, 3))
    frame[:, CROP_LEFT : CROP_LEFT + CROPPED_SIZE] = area_resize(floor_texture(), CROPPED_SIZE, CROPPED_SIZE)
    # undistort: each output pixel samples the frame where the distortion model sends its ideal ray
    v, u = np.mgrid[0:ORIGIN_HEIGHT, CROP_LEFT : CROP_LEFT + CROPPED_SIZE].astype(np.float64)
    x, y = (u - CX) / FX, (v - CY) / FY
    k1, k2, p1, p2, k3 = DISTORTION
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return bilinear(frame, FY * yd + CY, FX * xd + CX)


class MarkerSprite:
    """A marker ready to be drawn at one scale: premultiplied, low-pass filtered for that scale, zero-padded.

    :meth:`warp` rotates and places it element-wise (the reference, and the target once per episode);
    :meth:`place` computes the same patch in a few whole-patch operations, laid out for :class:`OmnirobotCamera`.

    :param rgba: straight RGBA (h, w, 4), colour and alpha in [0, 1].
    :param scale: image pixels per sprite pixel.
    """

    def __init__(self, rgba: np.ndarray, scale: float) -> None:
        premultiplied = rgba.astype(np.float64)
        premultiplied[:, :, :3] *= 255.0 * premultiplied[:, :, 3:]
        # one image pixel covers 1/scale sprite pixels: average over that many before point sampling
        blurred = box_blur(premultiplied, 2 * int(1 / (2 * scale)) + 1)
        self.height, self.width = rgba.shape[:2]
        self.scale = scale
        padded = np.zeros((self.height + 2, self.width + 2, 4), dtype=np.float32)
        padded[1:-1, 1:-1] = blurred
        self.padded_width = padded.shape[1]
        self.flat = padded.reshape(-1, 4)
        #: sampling positions are clipped to the zero border: (row, column) at most this, in padded sprite pixels
        self._last_position = np.array([[self.height + 0.9999], [self.width + 0.9999]], dtype=np.float32)
        self._transform = np.zeros((2, 3), dtype=np.float32)  # this @ [row, col, 1] of an image pixel = sprite position
        self._grids: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        self._cell_strides = np.array([self.padded_width, 1])  # this @ (row, col) of a padded pixel = its index

    def footprint(self, col: float, row: float, yaw: float, size: int) -> tuple[int, int, int, int]:
        """(top, left, bottom, right) image pixels (end excluded, clipped to the image) that the sprite can cover when
        centred at ``(col, row)`` (px, pixel centres at integers) and rotated by ``yaw`` (rad): its rotated bounding
        box and a pixel more for the bilinear sampling. Empty (bottom <= top or right <= left) outside the image."""
        cos, sin = abs(math.cos(yaw)), abs(math.sin(yaw))
        half_w = self.scale * (cos * self.width + sin * self.height) / 2 + 1
        half_h = self.scale * (sin * self.width + cos * self.height) / 2 + 1
        top, left = max(0, math.floor(row - half_h)), max(0, math.floor(col - half_w))
        return top, left, min(size, math.ceil(row + half_h) + 1), min(size, math.ceil(col + half_w) + 1)

    def warp(self, col: float, row: float, yaw: float, size: int) -> tuple[int, int, np.ndarray]:
        """Rotate and place the sprite with sub-pixel accuracy (bilinear sampling), element-wise (the reference).

        :param col: column of the sprite centre in the image (px, pixel centres at integers). :param row: its row.
        :param yaw: rotation (rad), counter-clockwise as seen on screen.
        :param size: side of the image (px); the patch is clipped to it.
        :return: (top row, left column, premultiplied RGBA patch (ph, pw, 4)) of the area the sprite covers.
        """
        top, left, bottom, right = self.footprint(col, row, yaw, size)
        if bottom <= top or right <= left:
            return 0, 0, np.zeros((0, 0, 4), dtype=np.float32)
        cos, sin = math.cos(yaw), math.sin(yaw)
        dy = (np.arange(top, bottom, dtype=np.float32) - row)[:, None] / self.scale
        dx = (np.arange(left, right, dtype=np.float32) - col)[None, :] / self.scale
        # inverse rotation (counter-clockwise on screen is clockwise in array coordinates, rows pointing down), in
        # padded sprite pixels, clipped to the zero border
        src_col = np.clip(dx * cos - dy * sin + (self.width + 1) / 2, 0.0, self.width + 0.9999)
        src_row = np.clip(dx * sin + dy * cos + (self.height + 1) / 2, 0.0, self.height + 0.9999)
        r0, c0 = src_row.astype(np.intp), src_col.astype(np.intp)
        fr, fc = (src_row - r0)[..., None], (src_col - c0)[..., None]
        index = r0 * self.padded_width + c0
        flat = self.flat
        top_row = flat[index] * (1 - fc) + flat[index + 1] * fc
        index += self.padded_width
        bottom_row = flat[index] * (1 - fc) + flat[index + 1] * fc
        return top, left, top_row * (1 - fr) + bottom_row * fr

    @functools.cached_property
    def _bilinear_terms(self) -> np.ndarray:
        """float32 ``(4, 5, padded pixels)``: for the cell whose top-left corner is each padded sprite pixel, the
        terms ``[A, C - A, B - A, D - C - B + A]`` of ``A + fr (C - A) + fc (B - A) + fr fc (D - C - B + A)``, the
        bilinear value at fractions ``(fr, fc)`` between the corners A (top left), B (top right), C (bottom left) and
        D, of five channels: the premultiplied colour plus 0.5 alpha (levels plus one half once blended over a
        background carrying the half), alpha and 1 - alpha."""
        height, width = self.height + 2, self.padded_width
        corners = np.zeros((5, height + 1, width + 1))  # one more zero row and column for B, C and D
        corners[:4, :height, :width] = self.flat.T.reshape(4, height, width)
        corners[:3] += 0.5 * corners[3]
        corners[4] = 1.0 - corners[3]
        a, b = corners[:, :-1, :-1], corners[:, :-1, 1:]
        c, d = corners[:, 1:, :-1], corners[:, 1:, 1:]
        return np.stack([a, c - a, b - a, d - c - b + a]).reshape(4, 5, -1).astype(np.float32)

    def _grid(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """For a ``height`` x ``width`` patch (cached per shape): float32 ``(3, height * width)``, the rows, columns
        and ones of its pixels in row-major order, and a float32 ``(4, height * width)`` buffer for the bilinear
        weights, the first at 1."""
        key = (height, width)
        if key not in self._grids:
            rows, cols = np.mgrid[0:height, 0:width]
            grid = np.stack([rows.ravel(), cols.ravel(), np.ones(height * width)]).astype(np.float32)
            self._grids[key] = grid, np.ones((4, height * width), dtype=np.float32)
        return self._grids[key]

    def place(self, col: float, row: float, yaw: float, size: int, out: np.ndarray) -> tuple[int, int, int, int]:
        """:meth:`warp` in nine array operations: the sampling positions are one matrix product, the bilinear
        interpolation a gather of precomputed per-cell terms and their weighted sum. Agrees with :meth:`warp` to
        float32 rounding.

        :param out: float32 ``(5, n)``, n at least the footprint's pixels: receives, for the pixels of
            :meth:`footprint` in row-major order, the premultiplied colour plus 0.5 alpha (3 rows), alpha and
            1 - alpha.
        :return: (top, left, height, width) of the footprint.
        """
        top, left, bottom, right = self.footprint(col, row, yaw, size)
        height, width = max(0, bottom - top), max(0, right - left)
        grid, weights = self._grid(height, width)
        cos, sin, step = math.cos(yaw), math.sin(yaw), 1 / self.scale
        dy, dx = (top - row) * step, (left - col) * step  # the patch's top-left pixel from the centre, sprite px
        transform = self._transform
        transform[0] = cos * step, sin * step, dx * sin + dy * cos + (self.height + 1) / 2
        transform[1] = -sin * step, cos * step, dx * cos - dy * sin + (self.width + 1) / 2
        position = np.matmul(transform, grid)  # (2, pixels): row and column in padded sprite pixels
        np.minimum(np.maximum(position, _ZERO, out=position), self._last_position, out=position)
        cell = position.astype(np.intp)
        np.subtract(position, cell, out=weights[1:3])
        np.multiply(weights[1], weights[2], out=weights[3])
        terms = np.take(self._bilinear_terms, self._cell_strides @ cell, axis=2)  # (4, 5, pixels)
        np.einsum("kp,kcp->cp", weights, terms, out=out[:, : height * width])
        return top, left, height, width


class OmnirobotCamera:
    """Composes the top-down camera image at one size: floor, target and robot markers, then the noise.

    The original's noise model, drawn from ``rng`` in the original's order: robot position N(0, 1 cm) per axis and
    yaw N(0, 2.5 deg), rounded N(0, 2) levels on every pixel of the target's then of the robot's patch (weighted by
    the marker's alpha), and each 8-bit Lab channel of the image multiplied by 1 + N(0, 0.03), clipped to 0-255.

    :meth:`render_exact` is the element-wise reference: warp the robot sprite, blend both markers on a copy of the
    floor, convert the marker areas to 8-bit Lab, apply the factors to the whole Lab image and convert it back.
    :meth:`render` computes the same image from the same draws in about 45 array operations whatever the size:

    * The floor's pixels take only ``K`` distinct 8-bit colours (459 at 64 px, 1014 at 224 px; the Lab conversion
      rounds to 8 bits first), so the factors are applied to those ``K`` colours, in one batch with the markers'
      visible pixels (:class:`~envs.rendering.lab.LabNoiseTable`), and the image is one palette lookup
      (:func:`~envs.rendering.lab.expand_palette`) through a per-pixel index kept from image to image: the floor's
      colour, or the batch row of a marker's pixel.
    * The robot's bilinear warp is a matrix product and a gather of per-cell terms (:meth:`MarkerSprite.place`).
    * What is fixed for the episode is prepared in :meth:`new_episode`: the target blended over the floor (an image
      only adds its noise times alpha) and its visible pixels, the robot sprite's interpolation terms.
    * The random draws are two calls: position and yaw, then (once the robot's patch size is known) the pixel and
      Lab noise; consecutive draws from a numpy ``Generator`` are the same numbers however they are grouped, and
      ``rng.normal(0, std)`` is ``std`` times ``rng.standard_normal()``.

    Nothing is approximated: the two paths differ only by float32 rounding (the order of operations, and the
    constants 7.787 and 16 / 116, with which the Lab function's two branches meet to 2e-7), which moves a value
    across a rounding boundary now and then. Measured by ``bench/omnirobot_render.py`` (200 images per size, a tenth
    with the markers overlapping): mean absolute difference 1.5e-5 levels at 64 px and 1.1e-5 at 224 px, at most
    1 level (2 in a single pixel channel of the 224 px images), marker centroids within 0.002 px.
    The draws being the same, a seed gives the same episodes as with :meth:`render_exact`.

    :param size: side of the square observation (px).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.scale = size / CROPPED_SIZE  # observation px per camera px
        self.floor_rgb = area_resize(floor_view(), size, size).astype(np.float32)
        # planar (3, size, size), levels plus 0.5: markers are blended in levels plus 0.5 (see LabNoiseTable)
        self._floor_half = np.ascontiguousarray(self.floor_rgb.transpose(2, 0, 1)) + 0.5
        levels = np.clip(np.rint(self.floor_rgb), 0, 255).astype(np.uint8).reshape(-1, 3)
        colours, palette_index = np.unique(levels, axis=0, return_inverse=True)
        self._lab_noise = LabNoiseTable(colours)
        self._floor_index = palette_index.reshape(size, size).astype(np.intp)  # each pixel's row of the batch
        self._base_index = self._floor_index.copy()  # and the target's rows where it covers the floor
        self._index = self._floor_index.copy()  # and the robot's rows where it covers the image
        #: (rows, columns) of the robot's patch in the last image (where self._index holds its rows)
        self.robot_area = (slice(0, 0), slice(0, 0))
        self._gathered = np.empty(size * size, dtype=np.uint32)
        self._factors = np.empty(3, dtype=np.float32)
        self._rows: dict[tuple[int, int], np.ndarray] = {}  # intp (h, w) arange per patch shape
        #: float32 (5, pixels): the target's visible pixels then the robot's: colour plus 0.5 alpha (3 rows, the
        #: target's blended over the floor plus 0.5), alpha and (the robot's) 1 - alpha
        self._layers = np.zeros((5, 0), dtype=np.float32)
        #: intp: the noise's pixels (in draw order) of the target's visible pixels, then 0, 1, ... after the target's
        self._noise_pixels = np.zeros(0, dtype=np.intp)
        self.robot_sprite: MarkerSprite | None = None
        self.target_patch: tuple[int, int, np.ndarray] | None = None
        self._target_area = (slice(0, 0), slice(0, 0))
        self._target_pixels = 0  # in the target's patch, visible or not: its noise draws
        self._target_visible = 0  # pixels with alpha > 0
        #: float32 (4, target's pixels): the whole patch's blend over the floor plus 0.5, and alpha (for overlaps)
        self._target_layers = np.zeros((4, 0), dtype=np.float32)

    def new_episode(self, target: np.ndarray, target_yaw: float, robot_scale: float, target_scale: float) -> None:
        """Place the target marker for the episode and set both markers' size factors."""
        self.robot_sprite = MarkerSprite(robot_marker(), self.scale * robot_scale)
        col, row = pixel_in_observation(target[0], target[1], self.size)
        self.target_patch = MarkerSprite(target_marker(), self.scale * target_scale).warp(col, row, target_yaw, self.size)
        top, left, rgba = self.target_patch
        height, width = rgba.shape[:2]
        self._target_area = slice(top, top + height), slice(left, left + width)
        self._target_pixels = height * width
        planar = rgba.transpose(2, 0, 1).reshape(4, -1).astype(np.float32)
        alpha = planar[3]
        self._target_layers = np.concatenate(
            [self._floor_half[:, top : top + height, left : left + width].reshape(3, -1) * (1.0 - alpha)
             + planar[:3] + 0.5 * alpha, alpha[None]]
        )
        visible = np.flatnonzero(alpha > 0)
        self._target_visible = len(visible)
        # the robot's footprint is at most its diagonal plus 5 pixels on a side
        robot = (math.ceil(self.robot_sprite.scale * math.hypot(*ROBOT_MARKER_SIZE)) + 5) ** 2
        self._lab_noise.reserve(len(visible) + robot)
        if self._layers.shape[1] < len(visible) + robot:
            self._layers = np.zeros((5, len(visible) + robot), dtype=np.float32)
        self._layers[:4, : len(visible)] = self._target_layers[:, visible]
        self._noise_pixels = np.concatenate([visible, self._target_pixels + np.arange(robot)])
        rows = np.full(height * width, -1, dtype=np.intp)  # the visible pixels' batch rows
        rows[visible] = self._lab_noise.fixed + np.arange(len(visible))
        rows = rows.reshape(height, width)
        np.copyto(self._base_index, self._floor_index)
        self._base_index[self._target_area] = np.where(rows >= 0, rows, self._floor_index[self._target_area])
        np.copyto(self._index, self._base_index)
        self.robot_area = (slice(0, 0), slice(0, 0))

    def _patch_rows(self, height: int, width: int) -> np.ndarray:
        """intp ``(height, width)``: 0, 1, ... in row-major order (cached per shape)."""
        if (height, width) not in self._rows:
            self._rows[height, width] = np.arange(height * width, dtype=np.intp).reshape(height, width)
        return self._rows[height, width]

    def render(self, robot: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The observation with the robot at ``robot`` (m), uint8 ``(size, size, 3)``; draws the noise from ``rng``."""
        if self.target_patch is None or self.robot_sprite is None:
            raise RuntimeError("OmnirobotCamera.new_episode() must be called before render().")
        x, y, yaw = rng.standard_normal(3).tolist()  # N(0, 1), scaled like rng.normal(0, std) does: the same numbers
        col, row = pixel_in_observation(robot[0] + POSITION_NOISE_STD * x, robot[1] + POSITION_NOISE_STD * y, self.size)
        layers, lab_noise, visible = self._layers, self._lab_noise, self._target_visible
        top, left, height, width = self.robot_sprite.place(col, row, YAW_NOISE_STD * yaw, self.size,
                                                            layers[:, visible:])
        robot_pixels, pixels = height * width, visible + height * width
        drawn = self._target_pixels + robot_pixels  # every pixel of both patches gets a noise draw
        draws = rng.standard_normal(3 * drawn + 3)
        factors = np.multiply(draws[-3:], LAB_NOISE_STD, out=self._factors)  # rounded to float32, then plus 1
        factors += _ONE
        noise = draws[:-3].reshape(drawn, 3).T  # (3, drawn)
        # the robot over the floor, or over the target (with its noise) where they overlap
        robot_area = slice(top, top + height), slice(left, left + width)
        under = self._floor_half[:, top : top + height, left : left + width]
        target_rows, target_cols = self._target_area
        rows = slice(max(top, target_rows.start), min(top + height, target_rows.stop))
        cols = slice(max(left, target_cols.start), min(left + width, target_cols.stop))
        if rows.start < rows.stop and cols.start < cols.stop:
            target = np.rint(noise[:, : self._target_pixels] * PIXEL_NOISE_STD)
            target *= self._target_layers[3]
            target += self._target_layers[:3]
            under = under.copy()
            under[:, rows.start - top : rows.stop - top, cols.start - left : cols.stop - left] = target.reshape(
                3, target_rows.stop - target_rows.start, -1
            )[:, rows.start - target_rows.start : rows.stop - target_rows.start,
              cols.start - target_cols.start : cols.stop - target_cols.start]
        rgb = lab_noise.pixels
        robot_rgb = np.multiply(under, layers[4:, visible:pixels].reshape(1, height, width),
                                out=rgb[:, visible:pixels].reshape(3, height, width))
        layers[:3, visible:pixels] += robot_rgb.reshape(3, -1)
        # the noise of the visible pixels (rounded N(0, 2) levels) times alpha, plus the blend
        noise = np.take(noise, self._noise_pixels[:pixels], axis=1)
        np.rint(np.multiply(noise, PIXEL_NOISE_STD, out=noise), out=noise)
        np.multiply(noise, layers[3, :pixels], out=rgb[:, :pixels])
        rgb[:, :pixels] += layers[:3, :pixels]
        # the Lab noise on the floor's colours and the markers' pixels; the robot's rows replace the last image's
        lab_noise(pixels, factors)
        index = self._index
        index[self.robot_area] = self._base_index[self.robot_area]
        np.add(self._patch_rows(height, width), lab_noise.fixed + visible, out=index[robot_area])
        self.robot_area = robot_area
        return expand_palette(lab_noise.packed, index, self._gathered)

    @functools.cached_property
    def _exact_buffers(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, Lab8ToRGB]:
        """:meth:`render_exact`'s full-size buffers (made on first use): the floor's 8-bit Lab, RGB and Lab work
        images, and the Lab-to-RGB converter."""
        floor_lab = rgb_to_lab8(self.floor_rgb)
        return floor_lab, np.empty_like(self.floor_rgb), np.empty_like(floor_lab), Lab8ToRGB(self.size)

    @staticmethod
    def _blend_exact(rgb: np.ndarray, patch: tuple[int, int, np.ndarray], rng: np.random.Generator
                     ) -> tuple[slice, slice]:
        """Alpha-blend a marker patch with per-pixel noise into ``rgb``; returns its area."""
        top, left, rgba = patch
        area = slice(top, top + rgba.shape[0]), slice(left, left + rgba.shape[1])
        alpha = rgba[:, :, 3:]
        noise = np.rint(rng.normal(0.0, PIXEL_NOISE_STD, size=rgba.shape[:2] + (3,)))
        region = rgb[area]
        region *= 1.0 - alpha
        region += rgba[:, :, :3] + noise * alpha
        return area

    def render_exact(self, robot: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """:meth:`render` computed element-wise on the whole image, each draw as its own call (the reference): the
        sprite warped by :meth:`MarkerSprite.warp`, both markers blended on a copy of the floor, the marker areas
        converted to 8-bit Lab, the noise applied to the whole Lab image, and the whole image converted back."""
        if self.target_patch is None or self.robot_sprite is None:
            raise RuntimeError("OmnirobotCamera.new_episode() must be called before render_exact().")
        floor_lab, rgb, lab, to_rgb = self._exact_buffers
        x, y = robot + rng.normal(0.0, POSITION_NOISE_STD, size=2)
        yaw = rng.normal(0.0, YAW_NOISE_STD)
        col, row = pixel_in_observation(x, y, self.size)
        robot_patch = self.robot_sprite.warp(col, row, yaw, self.size)
        np.copyto(rgb, self.floor_rgb)
        np.copyto(lab, floor_lab)
        areas = [self._blend_exact(rgb, self.target_patch, rng), self._blend_exact(rgb, robot_patch, rng)]
        for area in areas:  # after both blends, so an overlap is converted with both markers in it
            lab[area] = rgb_to_lab8(rgb[area])
        lab *= 1.0 + rng.normal(0.0, LAB_NOISE_STD, size=3).astype(np.float32)
        np.clip(lab, 0.0, 255.0, out=lab)  # the original multiplied a uint8 image, which saturates
        return to_rgb(lab)
