"""The simulated Omnirobot: an omnidirectional robot seen by a fixed ceiling camera, composed like a photo montage.

Behaviour follows the original toolbox's simulator (``real_robots/omnirobot_simulator_server.py`` with the Omnirobot
constants of ``real_robots/constants.py``). There is no physics: the robot is teleported by 0.1 m per action, and the
camera image is composed from a floor image and two marker sprites placed where the calibrated camera would see them.

The original used photographs of the real arena (floor, robot tag, red target), which we do not have. The images here
are generated procedurally with numpy from fixed seeds, once per process, the first time an image is rendered (no
files are read or written). Their pixel sizes and the whole geometry are the original's: a 640x640 floor resized to
480x480, pasted at the centre of the 640x480 camera frame and undistorted with the calibration, markers of 48x56 and
49x66 camera pixels projected through the pinhole model, then a 480x480 centre crop resized to ``image_size``.
"""

from __future__ import annotations

import functools
import math
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from gymnasium.utils import EzPickle

from envs.base import SRLEnv

# --- task (Omnirobot branch of the original real_robots/constants.py) -------------------------------------------
REWARD_TARGET_REACH, REWARD_NOTHING, REWARD_BUMP_WALL = 1.0, 0.0, -1.0
MAX_STEPS = 251  # the original ends an episode when its step counter exceeds 250
BOUND = 0.85  # m, the robot centre must stay strictly inside (-0.85, 0.85) on both axes
START_BOUND = 0.7  # m, the robot starts at U(-0.7, 0.7)^2
TARGET_BOUND = 0.7  # m, the target is drawn in U(-0.7, 0.7)^2
DIST_TO_TARGET_THRESHOLD = 0.2  # m, +1 when the robot is closer than this to the target
STEP_DISTANCE = 0.1  # m moved per discrete action (and per unit of continuous action)
#: discrete action -> (dx, dy) in units of STEP_DISTANCE: FORWARD (+x), BACKWARD (-x), LEFT (+y), RIGHT (-y)
MOVES = ((1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0))

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


def area_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize ``image`` (H, W, C) to ``(height, width, C)`` by area averaging (box filter), in float64."""

    def weights(n_in: int, n_out: int) -> np.ndarray:
        scale = n_in / n_out
        edges = np.arange(n_out + 1) * scale
        pixels = np.arange(n_in)
        overlap = np.minimum(edges[1:, None], pixels[None, :] + 1) - np.maximum(edges[:-1, None], pixels[None, :])
        return np.clip(overlap, 0.0, None) / scale

    rows, cols = weights(image.shape[0], height), weights(image.shape[1], width)
    return np.einsum("ij,jkc,lk->ilc", rows, image.astype(np.float64), cols, optimize=True)


def _bilinear(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Sample ``image`` (H, W, C) at fractional pixel positions, zero outside; output shape ``rows.shape + (C,)``."""
    padded = np.pad(image, ((1, 1), (1, 1), (0, 0)))
    r = np.clip(rows + 1.0, 0.0, padded.shape[0] - 1.001)
    c = np.clip(cols + 1.0, 0.0, padded.shape[1] - 1.001)
    r0, c0 = r.astype(np.intp), c.astype(np.intp)
    fr, fc = (r - r0)[..., None], (c - c0)[..., None]
    top = padded[r0, c0] * (1 - fc) + padded[r0, c0 + 1] * fc
    bottom = padded[r0 + 1, c0] * (1 - fc) + padded[r0 + 1, c0 + 1] * fc
    return top * (1 - fr) + bottom * fr


def _box_blur(image: np.ndarray, width: int) -> np.ndarray:
    """Average ``image`` (H, W, C) over ``width`` x ``width`` pixels (odd width, centred, zero outside)."""
    if width <= 1:
        return image
    half = width // 2
    for axis in (0, 1):
        pad = [(0, 0)] * image.ndim
        pad[axis] = (half + 1, half)
        summed = np.cumsum(np.pad(image, pad), axis=axis)
        image = (np.take(summed, range(width, summed.shape[axis]), axis=axis)
                 - np.take(summed, range(0, summed.shape[axis] - width), axis=axis)) / width
    return image


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
    return _bilinear(frame, FY * yd + CY, FX * xd + CX)


# --- colour: OpenCV's 8-bit Lab (L scaled to 0-255, a and b offset by 128), D65 --------------------------------------
_RGB_TO_XYZ = np.array([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]])
_WHITE = np.array([0.950456, 1.0, 1.088754])
_RGB_TO_XYZ_WHITE = (_RGB_TO_XYZ / _WHITE[:, None]).T.astype(np.float32)  # rgb_row @ this = XYZ / white
_XYZ_WHITE_TO_RGB = np.linalg.inv(_RGB_TO_XYZ_WHITE.astype(np.float64)).astype(np.float32)
_LAB_EPS = 0.008856
#: sRGB decoding of every 8-bit level
_SRGB_TO_LINEAR = np.where(
    np.arange(256) / 255 <= 0.04045, np.arange(256) / 255 / 12.92, ((np.arange(256) / 255 + 0.055) / 1.055) ** 2.4
).astype(np.float32)
_ENCODE_STEPS = 4096
#: 8-bit sRGB encoding of linear values 0, 1/4095, ..., 1
_LINEAR_TO_SRGB = np.rint(
    [255 * (12.92 * t if t <= 0.0031308 else 1.055 * t ** (1 / 2.4) - 0.055) for t in np.linspace(0, 1, _ENCODE_STEPS)]
).astype(np.uint8)


def rgb_to_lab8(rgb: np.ndarray) -> np.ndarray:
    """RGB levels (..., 3) in 0-255 (rounded to 8 bits) to 8-bit Lab, float32 (..., 3)."""
    linear = _SRGB_TO_LINEAR[np.clip(np.rint(rgb), 0, 255).astype(np.uint8)]
    xyz = linear @ _RGB_TO_XYZ_WHITE
    f = np.where(xyz > _LAB_EPS, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    lab = np.empty_like(xyz)
    lab[..., 0] = np.where(xyz[..., 1] > _LAB_EPS, 116 * f[..., 1] - 16, 903.3 * xyz[..., 1]) * (255 / 100)
    lab[..., 1] = 500 * (f[..., 0] - f[..., 1]) + 128
    lab[..., 2] = 200 * (f[..., 1] - f[..., 2]) + 128
    return lab


class _Lab8ToRGB:
    """8-bit Lab to uint8 RGB for one image size, with its full-size work buffers allocated once.

    :param size: side of the square image (px).
    """

    def __init__(self, size: int) -> None:
        self.f = np.empty((size, size, 3), dtype=np.float32)
        self.cube = np.empty_like(self.f)
        self.linear = np.empty_like(self.f)
        self.index = np.empty((size, size, 3), dtype=np.intp)

    def __call__(self, lab8: np.ndarray) -> np.ndarray:
        f, cube, linear = self.f, self.cube, self.linear
        np.multiply(lab8[..., 0], 100 / 255 / 116, out=f[..., 1])
        f[..., 1] += 16 / 116
        np.multiply(lab8[..., 1], 1 / 500, out=f[..., 0])
        f[..., 0] += f[..., 1] - 128 / 500
        np.multiply(lab8[..., 2], -1 / 200, out=f[..., 2])
        f[..., 2] += f[..., 1] + 128 / 200
        np.power(f, 3, out=cube)
        small = f <= 6 / 29  # the linear branch of the Lab function, inverted
        cube[small] = (f[small] - 16 / 116) / 7.787
        np.matmul(cube, _XYZ_WHITE_TO_RGB, out=linear)
        np.clip(linear, 0.0, 1.0, out=linear)
        linear *= _ENCODE_STEPS - 1
        np.rint(linear, out=linear)
        self.index[:] = linear
        return _LINEAR_TO_SRGB[self.index]


class _Sprite:
    """A marker ready to be drawn at one scale: premultiplied, low-pass filtered for that scale, zero-padded.

    :param rgba: straight RGBA (h, w, 4), colour and alpha in [0, 1].
    :param scale: image pixels per sprite pixel.
    """

    def __init__(self, rgba: np.ndarray, scale: float) -> None:
        premultiplied = rgba.astype(np.float64)
        premultiplied[:, :, :3] *= 255.0 * premultiplied[:, :, 3:]
        # one image pixel covers 1/scale sprite pixels: average over that many before point sampling
        blurred = _box_blur(premultiplied, 2 * int(1 / (2 * scale)) + 1)
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
        self.to_rgb = _Lab8ToRGB(size)
        self.robot_sprite: _Sprite | None = None
        self.target_patch: tuple[int, int, np.ndarray] | None = None

    def new_episode(self, target: np.ndarray, target_yaw: float, robot_scale: float, target_scale: float) -> None:
        """Place the target marker for the episode and set both markers' size factors."""
        self.robot_sprite = _Sprite(robot_marker(), self.scale * robot_scale)
        col, row = pixel_in_observation(target[0], target[1], self.size)
        self.target_patch = _Sprite(target_marker(), self.scale * target_scale).warp(col, row, target_yaw, self.size)

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


class OmnirobotEnv(SRLEnv):
    """Move an omnidirectional robot, seen from a ceiling camera, onto a red target.

    ## Description
    The original's simulator of its real Omnirobot setup: a 1.7 m x 1.7 m arena watched by a camera 2.9 m above its
    centre. The robot is teleported by each action (no physics, no rotation); the image is composed from a floor
    picture and two markers, with the original's noise model: robot position N(0, 1 cm) and yaw N(0, 2.5 deg) in the
    drawing, marker pixels N(0, 2) levels, marker size factors 1 + N(0, 0.05) per episode (robot and target: the
    original forgot to apply the robot's), and each 8-bit Lab channel multiplied by 1 + N(0, 0.03). The noise only
    affects the image, never the ground truth, and comes from a generator derived from ``np_random`` at each reset,
    so a seed gives the same positions and targets whatever the observation kind.

    ## Action Space
    ``discrete``: Discrete(4): 0 forward (x + 0.1 m), 1 backward (x - 0.1 m), 2 left (y + 0.1 m), 3 right (y - 0.1 m).
    ``continuous``: Box(-1, 1, (2,)) float32, clipped then scaled by 0.1 m into (dx, dy).

    ## Observation Space
    ``ground_truth``: Box(2,) float32, robot (x, y) minus target (x, y) in m, in [-1.55, 1.55] (with
    ``relative_pos=False`` the absolute robot (x, y), in [-0.85, 0.85]).
    ``pixels``: the top-down camera image, uint8 ``(image_size, image_size, 3)`` (the original used 224).

    ## Rewards
    +1 when the robot ends the step closer than 0.2 m to the target (checked first, not terminal), -1 when the move
    would leave the open square (-0.85, 0.85)^2 (the robot then stays where it was), 0 otherwise.
    ``shape_reward``: minus the distance to the target (m) (the original stored this flag without using it).

    ## Starting State
    Robot at U(-0.7, 0.7)^2 m, yaw 0. Target at U(-0.7, 0.7)^2 m with yaw U(-pi, pi): drawn at every reset with
    ``random_target`` (the default, as in the original), otherwise at the first reset and at every seeded reset.

    ## Episode End
    Never terminates; truncated after 251 steps (registered ``max_episode_steps``, the original's off-by-one).

    ## Arguments
    ``random_target`` (default True) and the :class:`~envs.base.SRLEnv` arguments. ``gui`` is not supported (the
    original showed the image in matplotlib): use ``render_mode="rgb_array"``.

    ## Version History
    * v0: the original's ``OmnirobotEnv-v0`` with its simulator, procedural images instead of photographs.
    """

    moves: ClassVar[tuple[tuple[float, float], ...]] = MOVES

    def __init__(self, random_target: bool = True, **kwargs: Any) -> None:
        if kwargs.get("gui"):
            raise ValueError("Omnirobot has no GUI window; use render_mode='rgb_array' and show the images yourself.")
        super().__init__(random_target=random_target, **kwargs)
        EzPickle.__init__(self, random_target=random_target, **kwargs)
        if self.control == "discrete":
            self.action_space = spaces.Discrete(len(self.moves))
        else:
            self.action_space = spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
        if self.observation_kind == "pixels":
            self.observation_space = self._pixel_space()
        else:
            high = BOUND + TARGET_BOUND if self.relative_pos else BOUND
            self.observation_space = spaces.Box(-high, high, (2,), dtype=np.float32)
        self.robot = np.zeros(2)
        self.target = np.zeros(2)
        self.target_yaw = 0.0
        self.robot_scale, self.target_scale = 1.0, 1.0
        self._has_target = False
        self._noise_rng = np.random.default_rng(0)
        self._camera: OmnirobotCamera | None = None
        self._camera_episode = -1  # the episode whose target the camera has placed
        self._episode = 0

    # --- state ------------------------------------------------------------------------------------------------
    def ground_truth(self) -> np.ndarray:
        return self.robot.copy()

    def target_position(self) -> np.ndarray:
        return self.target.copy()

    def distance(self) -> float:
        """Distance (m) from the robot to the target."""
        return float(np.hypot(*(self.robot - self.target)))

    # --- gymnasium API ----------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.robot = self.np_random.uniform(-START_BOUND, START_BOUND, size=2)
        if self.random_target or not self._has_target or seed is not None:
            self.target = self.np_random.uniform(-TARGET_BOUND, TARGET_BOUND, size=2)
            self.target_yaw = float(self.np_random.uniform(-np.pi, np.pi))
            self._has_target = True
        self._noise_rng = np.random.default_rng(self.np_random.integers(2**63))
        self.robot_scale, self.target_scale = 1.0 + self._noise_rng.normal(0.0, SIZE_NOISE_STD, size=2)
        self._episode += 1
        return self._observe(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        moved = self.robot + self._delta(action)
        bumped = not bool(np.all(np.abs(moved) < BOUND))
        if not bumped:
            self.robot = moved
        return self._observe(), self._reward(bumped), False, False, {}

    def _delta(self, action: Any) -> np.ndarray:
        """The (dx, dy) move in m of an action."""
        if self.control == "discrete":
            return np.asarray(self.moves[int(action)]) * STEP_DISTANCE
        return np.clip(np.asarray(action, dtype=np.float64).reshape(2), -1.0, 1.0) * STEP_DISTANCE

    def _reward(self, bumped: bool) -> float:
        distance = self.distance()
        if self.shape_reward:
            return -distance
        if distance < DIST_TO_TARGET_THRESHOLD:
            return REWARD_TARGET_REACH
        return REWARD_BUMP_WALL if bumped else REWARD_NOTHING

    def _observe(self) -> np.ndarray:
        return self.render_image() if self.observation_kind == "pixels" else self.srl_state()

    # --- rendering --------------------------------------------------------------------------------------------
    def render_image(self) -> np.ndarray:
        """The camera image of the current state, uint8 ``(image_size, image_size, 3)`` (new noise every call)."""
        if self._camera is None:
            self._camera = OmnirobotCamera(self.image_size)
        if self._camera_episode != self._episode:
            self._camera.new_episode(self.target, self.target_yaw, self.robot_scale, self.target_scale)
            self._camera_episode = self._episode
        return self._camera.render(self.robot, self._noise_rng)

    def render_camera(self) -> np.ndarray:
        """The renderer alone (here the whole image composition), for benchmarks."""
        return self.render_image()

    def close(self) -> None:
        """Free the image buffers; safe to call twice."""
        self._camera = None
        self._camera_episode = -1
        super().close()
