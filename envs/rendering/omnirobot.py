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

import numba
import numpy as np

from envs.rendering.lab import Lab8ToRGB, level_to_lab8, noisy_lab8_to_rgb8, rgb_to_lab8
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
_MAX_LEVEL = np.float32(255.0)


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

    :meth:`warp` rotates and places it element-wise (the reference, and the target once per episode); the camera's
    compiled kernel repeats its operations per pixel.

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


@numba.njit(cache=True)
def _compose(image: np.ndarray, words: np.ndarray, draws: np.ndarray, floor_lab: np.ndarray,
             floor_index: np.ndarray, floor_rgb: np.ndarray, table: np.ndarray, packed: np.ndarray, target: np.ndarray,
             target_values: np.ndarray, visible: np.ndarray, target_box: tuple, flat: np.ndarray, sprite_box: tuple,
             robot_box: tuple, pose: tuple, size: int) -> None:
    """:meth:`OmnirobotCamera.render`'s image from its draws, element-wise and compiled, in the reference's order.

    :param image: uint8 ``(3 * size * size + 1,)``, receives the image's R, G, B bytes pixel after pixel (the last
        byte is spare); ``words``: the same memory as uint32 ``(size * size,)`` at a stride of 3 bytes.
    :param draws: float64, the standard normal draws: three per pixel of the target's patch then of the robot's
        footprint (row-major), then the three Lab factors'.
    :param floor_lab: float32 ``(K, 3)``, the floor's distinct colours in 8-bit Lab; ``floor_index``: intp
        ``(size * size,)``, each pixel's colour; ``floor_rgb``: float32 ``(size * size, 3)``, the floor (levels).
    :param table: uint8 ``(4 * K,)`` scratch: the floor's colours with this image's Lab noise, R, G, B and a zero
        byte each; ``packed``: the same memory as uint32 ``(K,)``.
    :param target: float64 ``(target pixels, 7)``: the floor times 1 - alpha (rounded to float32), the premultiplied
        colour (levels) and alpha of the target's patch; ``target_values``: float32 ``(target pixels, 3)``, the
        patch blended (its floor where the target is transparent; this writes the visible pixels); ``visible``:
        intp, the patch's pixels the target draws on.
    :param target_box: (top, left, width) of the target's patch (px); ``flat``: float32 ``(padded pixels, 4)``,
        the robot sprite (:attr:`MarkerSprite.flat`); ``sprite_box``: its (height, width, padded width);
        ``robot_box``: (top, left, height, width) of the robot's footprint (px).
    :param pose: (row, column, cos(yaw), sin(yaw), scale) of the robot's sprite (px, image px per sprite px), float64
        (the reference's sampling positions are float64: its row and column are numpy float64 scalars).
    :param size: side of the image (px).
    """
    target_pixels = target.shape[0]
    top, left, height, width = robot_box
    factor_at = 3 * (target_pixels + height * width)
    factors = (np.float32(np.float32(LAB_NOISE_STD * draws[factor_at]) + _ONE),
               np.float32(np.float32(LAB_NOISE_STD * draws[factor_at + 1]) + _ONE),
               np.float32(np.float32(LAB_NOISE_STD * draws[factor_at + 2]) + _ONE))
    # the floor: its colours with the noise, then every pixel, a 4-byte word each in increasing address order, so
    # that a word's fourth byte is overwritten by the next pixel's red (the last one lands in the spare byte)
    for colour in range(floor_lab.shape[0]):
        noisy_lab8_to_rgb8(floor_lab[colour, 0], floor_lab[colour, 1], floor_lab[colour, 2], factors, table,
                           4 * colour)
    for pixel in range(floor_index.size):
        words[pixel] = packed[floor_index[pixel]]
    # the target: region * (1 - alpha) + colour + rint(N(0, 2)) * alpha, in float64 and rounded to float32 like the
    # reference's in-place float32 operations
    target_top, target_left, target_width = target_box
    for patch_pixel in visible:
        for channel in range(3):
            noise = np.rint(PIXEL_NOISE_STD * draws[3 * patch_pixel + channel])
            target_values[patch_pixel, channel] = np.float32(
                target[patch_pixel, channel] + (target[patch_pixel, 3 + channel] + noise * target[patch_pixel, 6]))
        pixel = (target_top + patch_pixel // target_width) * size + target_left + patch_pixel % target_width
        _draw_marker_pixel(target_values[patch_pixel], factors, image, pixel)
    # the robot: MarkerSprite.warp's bilinear sample of each footprint pixel, blended over the floor or the target
    sprite_height, sprite_width, padded_width = sprite_box
    row, col, cos, sin, scale = pose
    centre_col, centre_row = (sprite_width + 1) / 2, (sprite_height + 1) / 2
    last_col, last_row = sprite_width + 0.9999, sprite_height + 0.9999
    target_height = target_pixels // target_width if target_width > 0 else 0
    values = np.empty(3, dtype=np.float32)
    for i in range(height):
        dy = (np.float64(top + i) - row) / scale
        for j in range(width):
            dx = (np.float64(left + j) - col) / scale
            src_col = min(max(dx * cos - dy * sin + centre_col, 0.0), last_col)
            src_row = min(max(dx * sin + dy * cos + centre_row, 0.0), last_row)
            r0, c0 = int(src_row), int(src_col)
            fr, fc = src_row - r0, src_col - c0
            at = r0 * padded_width + c0
            below = at + padded_width
            alpha = ((flat[at, 3] * (1 - fc) + flat[at + 1, 3] * fc) * (1 - fr)
                     + (flat[below, 3] * (1 - fc) + flat[below + 1, 3] * fc) * fr)
            red = ((flat[at, 0] * (1 - fc) + flat[at + 1, 0] * fc) * (1 - fr)
                   + (flat[below, 0] * (1 - fc) + flat[below + 1, 0] * fc) * fr)
            green = ((flat[at, 1] * (1 - fc) + flat[at + 1, 1] * fc) * (1 - fr)
                     + (flat[below, 1] * (1 - fc) + flat[below + 1, 1] * fc) * fr)
            blue = ((flat[at, 2] * (1 - fc) + flat[at + 1, 2] * fc) * (1 - fr)
                    + (flat[below, 2] * (1 - fc) + flat[below + 1, 2] * fc) * fr)
            if alpha == 0.0 and red == 0.0 and green == 0.0 and blue == 0.0:
                continue  # the reference blends nothing there: the pixel keeps the floor's or the target's colour
            pixel = (top + i) * size + left + j
            patch_row, patch_col = top + i - target_top, left + j - target_left
            if 0 <= patch_row < target_height and 0 <= patch_col < target_width:
                under = target_values[patch_row * target_width + patch_col]
            else:
                under = floor_rgb[pixel]
            noise_at = 3 * (target_pixels + i * width + j)
            colour = (red, green, blue)
            for channel in range(3):
                noise = np.rint(PIXEL_NOISE_STD * draws[noise_at + channel])
                blended = np.float32(np.float64(under[channel]) * (1.0 - alpha))
                values[channel] = np.float32(np.float64(blended) + (colour[channel] + noise * alpha))
            _draw_marker_pixel(values, factors, image, pixel)


@numba.njit(cache=True)
def _draw_marker_pixel(values: np.ndarray, factors: tuple, image: np.ndarray, pixel: int) -> None:
    """A blended marker pixel (float32 levels (3,)) rounded to 8 bits, to 8-bit Lab, with the Lab noise, into
    pixel ``pixel`` of ``image`` (uint8 R, G, B bytes pixel after pixel)."""
    red = int(min(max(np.rint(values[0]), _ZERO), _MAX_LEVEL))
    green = int(min(max(np.rint(values[1]), _ZERO), _MAX_LEVEL))
    blue = int(min(max(np.rint(values[2]), _ZERO), _MAX_LEVEL))
    lightness, a, b = level_to_lab8(red, green, blue)
    noisy_lab8_to_rgb8(lightness, a, b, factors, image, 3 * pixel)


class OmnirobotCamera:
    """Composes the top-down camera image at one size: floor, target and robot markers, then the noise.

    The original's noise model, drawn from ``rng`` in the original's order: robot position N(0, 1 cm) per axis and
    yaw N(0, 2.5 deg), rounded N(0, 2) levels on every pixel of the target's then of the robot's patch (weighted by
    the marker's alpha), and each 8-bit Lab channel of the image multiplied by 1 + N(0, 0.03), clipped to 0-255.

    :meth:`render_exact` is the element-wise reference: warp the robot sprite, blend both markers on a copy of the
    floor, convert the marker areas to 8-bit Lab, apply the factors to the whole Lab image and convert it back.
    :meth:`render` computes the same image from the same draws with two numpy calls (the draws) and one compiled
    (numba) kernel, which converts only what it has to:

    * The floor's pixels take only ``K`` distinct 8-bit colours (459 at 64 px, 1014 at 224 px; the Lab conversion
      rounds to 8 bits first), whose 8-bit Lab is computed once per camera, so the Lab noise is applied to those
      ``K`` colours and the floor is a palette lookup.
    * The target's visible pixels and the robot's footprint (bilinear warp of :class:`MarkerSprite` per pixel) are
      blended, converted and written over it; where the robot's sample is empty the reference blends nothing, and
      the pixel keeps its colour.
    * What is fixed for the episode is prepared in :meth:`new_episode`: the target's patch and the floor under it.
    * The random draws are two calls: position and yaw, then (once the robot's footprint is known) the pixel and
      Lab noise; consecutive draws from a numpy ``Generator`` are the same numbers however they are grouped, and
      ``rng.normal(0, std)`` is ``std`` times ``rng.standard_normal()``.

    The kernel repeats the reference's float32 and float64 operations in its order, so nothing is approximated: the
    two paths differ only where numpy's vectorised cube root, cube and 3x3 products round differently by an ulp
    (here computed in float64 and rounded once), which moves a value across a rounding boundary now and then.
    Measured by ``bench/omnirobot_render.py`` (200 images per size, a tenth with the markers overlapping): mean
    absolute difference 4e-6 levels at 64 px and 1e-6 at 224 px (a few pixel channels in 200 images), at most 1
    level, marker centroids within 0.0002 px. The draws being the same, a seed gives the same episodes as with
    :meth:`render_exact`. The kernel is compiled on first use and cached next to this file (``cache=True``): the
    first image of a process costs about 0.25 s of CPU with the cache, 1.8 s without.

    :param size: side of the square observation (px).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.scale = size / CROPPED_SIZE  # observation px per camera px
        self.floor_rgb = area_resize(floor_view(), size, size).astype(np.float32)
        self._floor_flat = self.floor_rgb.reshape(-1, 3)  # float32 (size * size, 3), levels
        levels = np.clip(np.rint(self._floor_flat), 0, 255).astype(np.uint8)
        _, first, palette_index = np.unique(levels, axis=0, return_index=True, return_inverse=True)
        #: float32 (K, 3): the floor's distinct colours in 8-bit Lab, those of rgb_to_lab8 on the whole floor
        self._floor_lab = np.ascontiguousarray(rgb_to_lab8(self.floor_rgb).reshape(-1, 3)[first])
        self._floor_index = palette_index.reshape(-1).astype(np.intp)  # (size * size,): each pixel's colour
        self._table = np.zeros(4 * len(first), dtype=np.uint8)  # the colours with an image's noise, RGB and 0
        self._packed = self._table.view(np.uint32)
        #: (rows, columns) of the robot's footprint in the last image
        self.robot_area = (slice(0, 0), slice(0, 0))
        self.robot_sprite: MarkerSprite | None = None
        self.target_patch: tuple[int, int, np.ndarray] | None = None
        self._target_box = (0, 0, 0)  # top, left, width of the target's patch (px)
        #: float64 (target pixels, 7): the floor times 1 - alpha (float32 values), premultiplied colour, alpha
        self._target = np.zeros((0, 7))
        self._target_values = np.zeros((0, 3), dtype=np.float32)  # (target pixels, 3): the blended patch, levels
        self._target_visible = np.zeros(0, dtype=np.intp)  # the patch's pixels the target draws on

    def new_episode(self, target: np.ndarray, target_yaw: float, robot_scale: float, target_scale: float) -> None:
        """Place the target marker for the episode and set both markers' size factors."""
        self.robot_sprite = MarkerSprite(robot_marker(), self.scale * robot_scale)
        col, row = pixel_in_observation(target[0], target[1], self.size)
        self.target_patch = MarkerSprite(target_marker(), self.scale * target_scale).warp(col, row, target_yaw, self.size)
        top, left, rgba = self.target_patch
        height, width = rgba.shape[:2]
        self._target_box = top, left, width
        rgba = rgba.reshape(-1, 4).astype(np.float64)
        floor = self.floor_rgb[top : top + height, left : left + width].reshape(-1, 3)
        self._target = np.empty((height * width, 7))
        # the reference's float32 region *= 1 - alpha (computed in float64, stored in float32)
        self._target[:, :3] = (floor * (1.0 - rgba[:, 3:])).astype(np.float32)
        self._target[:, 3:] = rgba
        self._target_values = floor.copy()
        # where the sample is all zero, the reference blends nothing
        self._target_visible = np.flatnonzero(np.any(rgba != 0.0, axis=1)).astype(np.intp)
        self.robot_area = (slice(0, 0), slice(0, 0))

    def render(self, robot: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The observation with the robot at ``robot`` (m), uint8 ``(size, size, 3)``; draws the noise from ``rng``."""
        sprite = self.robot_sprite
        if self.target_patch is None or sprite is None:
            raise RuntimeError("OmnirobotCamera.new_episode() must be called before render().")
        x, y, yaw = rng.standard_normal(3).tolist()  # N(0, 1), scaled like rng.normal(0, std) does: the same numbers
        col, row = pixel_in_observation(robot[0] + POSITION_NOISE_STD * x, robot[1] + POSITION_NOISE_STD * y, self.size)
        yaw *= YAW_NOISE_STD
        top, left, bottom, right = sprite.footprint(col, row, yaw, self.size)
        height, width = bottom - top, right - left
        if height <= 0 or width <= 0:  # outside the image: no patch, no draws
            top = left = height = width = 0
        draws = rng.standard_normal(3 * (len(self._target) + height * width) + 3)
        pixels = self.size * self.size
        image = np.empty(3 * pixels + 1, dtype=np.uint8)
        words = np.ndarray((pixels,), dtype=np.uint32, buffer=image, strides=(3,))
        _compose(image, words, draws, self._floor_lab, self._floor_index, self._floor_flat, self._table, self._packed,
                 self._target, self._target_values, self._target_visible, self._target_box, sprite.flat,
                 (sprite.height, sprite.width, sprite.padded_width), (top, left, height, width),
                 (row, col, math.cos(yaw), math.sin(yaw), sprite.scale), self.size)
        self.robot_area = slice(top, top + height), slice(left, left + width)
        return image[: 3 * pixels].reshape(self.size, self.size, 3)

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
