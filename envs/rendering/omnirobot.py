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

from envs.rendering.lab import Lab8ToRGB, rgb_to_lab8
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
        padded = np.pad(blurred, ((1, 1), (1, 1), (0, 0))).astype(np.float32)
        self.padded_width = padded.shape[1]
        self.flat = padded.reshape(-1, 4)

    def warp(self, col: float, row: float, yaw: float, size: int) -> tuple[int, int, np.ndarray]:
        """Rotate and place the sprite with sub-pixel accuracy (bilinear sampling).

        :param col: column of the sprite centre in the image (px, pixel centres at integers). :param row: its row.
        :param yaw: rotation (rad), counter-clockwise as seen on screen.
        :param size: side of the image (px); the patch is clipped to it.
        :return: (top row, left column, premultiplied RGBA patch (ph, pw, 4)) of the area the sprite covers.
        """
        cos, sin = math.cos(yaw), math.sin(yaw)
        half_w = self.scale * (abs(cos) * self.width + abs(sin) * self.height) / 2 + 1
        half_h = self.scale * (abs(sin) * self.width + abs(cos) * self.height) / 2 + 1
        top, left = max(0, math.floor(row - half_h)), max(0, math.floor(col - half_w))
        bottom, right = min(size, math.ceil(row + half_h) + 1), min(size, math.ceil(col + half_w) + 1)
        if bottom <= top or right <= left:
            return 0, 0, np.zeros((0, 0, 4), dtype=np.float32)
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


class OmnirobotCamera:
    """Composes the top-down camera image at one size: floor, target and robot markers, then the noise.

    What does not change during an episode (floor and its Lab version per size; target patch and filtered robot
    sprite per episode) is prepared once; an image costs one small sprite warp, two marker blends, two Lab
    conversions of the marker areas and one Lab-to-RGB conversion of the image.

    :param size: side of the square observation (px).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.scale = size / CROPPED_SIZE  # observation px per camera px
        self.floor_rgb = area_resize(floor_view(), size, size).astype(np.float32)
        self.floor_lab = rgb_to_lab8(self.floor_rgb)
        self.rgb = np.empty_like(self.floor_rgb)
        self.lab = np.empty_like(self.floor_lab)
        self.to_rgb = Lab8ToRGB(size)
        self.robot_sprite: MarkerSprite | None = None
        self.target_patch: tuple[int, int, np.ndarray] | None = None

    def new_episode(self, target: np.ndarray, target_yaw: float, robot_scale: float, target_scale: float) -> None:
        """Place the target marker for the episode and set both markers' size factors."""
        self.robot_sprite = MarkerSprite(robot_marker(), self.scale * robot_scale)
        col, row = pixel_in_observation(target[0], target[1], self.size)
        self.target_patch = MarkerSprite(target_marker(), self.scale * target_scale).warp(col, row, target_yaw, self.size)

    def _blend(self, patch: tuple[int, int, np.ndarray], rng: np.random.Generator) -> tuple[slice, slice]:
        """Alpha-blend a marker patch with per-pixel noise into ``self.rgb``; returns its area."""
        top, left, rgba = patch
        area = slice(top, top + rgba.shape[0]), slice(left, left + rgba.shape[1])
        alpha = rgba[:, :, 3:]
        noise = np.rint(rng.normal(0.0, PIXEL_NOISE_STD, size=rgba.shape[:2] + (3,)))
        region = self.rgb[area]
        region *= 1.0 - alpha
        region += rgba[:, :, :3] + noise * alpha
        return area

    def render(self, robot: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The observation with the robot at ``robot`` (m), uint8 ``(size, size, 3)``; draws the noise from ``rng``."""
        if self.target_patch is None or self.robot_sprite is None:
            raise RuntimeError("OmnirobotCamera.new_episode() must be called before render().")
        x, y = robot + rng.normal(0.0, POSITION_NOISE_STD, size=2)
        yaw = rng.normal(0.0, YAW_NOISE_STD)
        col, row = pixel_in_observation(x, y, self.size)
        robot_patch = self.robot_sprite.warp(col, row, yaw, self.size)
        np.copyto(self.rgb, self.floor_rgb)
        np.copyto(self.lab, self.floor_lab)
        areas = [self._blend(self.target_patch, rng), self._blend(robot_patch, rng)]
        for area in areas:  # after both blends, so an overlap is converted with both markers in it
            self.lab[area] = rgb_to_lab8(self.rgb[area])
        self.lab *= 1.0 + rng.normal(0.0, LAB_NOISE_STD, size=3).astype(np.float32)
        np.clip(self.lab, 0.0, 255.0, out=self.lab)  # the original multiplied a uint8 image, which saturates
        return self.to_rgb(self.lab)
