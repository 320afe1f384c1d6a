"""Colour conversion between RGB and OpenCV's 8-bit Lab (L scaled to 0-255, a and b offset by 128), D65 white."""

from __future__ import annotations

import numpy as np

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


class Lab8ToRGB:
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


# --- both conversions with a factor on each Lab channel in between, fused into a few matrix products ---------------
# The Lab function f has a cube-root branch and a linear branch (slope 7.787) that meet at _LAB_EPS: with
# p = max(x, _LAB_EPS), f(x) = cbrt(p) + 7.787 (x - p) on both branches (to 2e-7: the rounding of the constants
# 7.787 and 16 / 116). Likewise its inverse: with u = max(f, 6 / 29), f^-1(f) = u^3 + (f - u) / 7.787. So one matrix
# product of the rows [cbrt(p), xyz, p, 1] gives 8-bit Lab, and one of [u^3, f, u, 1] linear RGB, with no masked
# writes. The values are planar: one row per component, one column per colour.
_LAB8_FROM_F = np.array([[0.0, 2.55 * 116, 0.0], [500.0, -500.0, 0.0], [0.0, 200.0, -200.0]])  # times (fx, fy, fz)
#: this @ [cbrt(p), xyz, p, 1] = 8-bit L, a, b (xyz: XYZ / white, p = max(xyz, eps))
_LAB8_FROM_XYZ_PARTS = np.hstack(
    [_LAB8_FROM_F, 7.787 * _LAB8_FROM_F, -7.787 * _LAB8_FROM_F, [[-2.55 * 16], [128.0], [128.0]]]
).astype(np.float32)
_XYZ_WHITE_FROM_RGB = np.ascontiguousarray(_RGB_TO_XYZ_WHITE.T)  # this @ linear RGB = XYZ / white
_F_THRESHOLD = 6 / 29  # f(_LAB_EPS), where the inverse changes branch
#: this @ [L8, a8, b8, 1] = fx, fy, fz
_F_FROM_LAB8 = np.array([
    [100 / 255 / 116, 1 / 500, 0.0, 16 / 116 - 128 / 500],
    [100 / 255 / 116, 0.0, 0.0, 16 / 116],
    [100 / 255 / 116, 0.0, -1 / 200, 16 / 116 + 128 / 200],
]).astype(np.float32)
_XYZ_WHITE_TO_STEPS = np.zeros((3, 4))  # XYZ / white (a row) @ this = linear RGB in encoding steps, and 0
_XYZ_WHITE_TO_STEPS[:, :3] = (_ENCODE_STEPS - 1) * _XYZ_WHITE_TO_RGB.astype(np.float64)
#: [u^3, f, u, 1] (a row per colour) @ this = linear R, G, B in encoding steps plus 0.5 (so that truncating rounds),
#: and 0.25 (truncated to 0: the zero byte after each colour)
_STEPS_FROM_F_PARTS = np.vstack(
    [_XYZ_WHITE_TO_STEPS, _XYZ_WHITE_TO_STEPS / 7.787, -_XYZ_WHITE_TO_STEPS / 7.787, [[0.5, 0.5, 0.5, 0.25]]]
).astype(np.float32)
# float32 scalars: cheaper than Python floats in float32 ufuncs
_LAB_EPS32, _F_THRESHOLD32, _MAX_LEVEL = np.float32(_LAB_EPS), np.float32(_F_THRESHOLD), np.float32(255)


class LabNoiseTable:
    """The original's Lab noise on a batch of colours: RGB levels -> 8-bit Lab -> each channel times its factor,
    clipped to 255 (the original multiplied a uint8 image) -> uint8 RGB. The same as :func:`rgb_to_lab8` then
    :class:`Lab8ToRGB` to float32 rounding, in 16 array operations whatever the batch size.

    The batch is ``K`` fixed colours whose 8-bit Lab is computed once (an image's background: its distinct colours,
    expanded to pixels by :func:`expand_palette`) followed by per-call pixels, which the caller writes into
    :attr:`pixels`. Lab's lower clip at 0 is left out: the 8-bit Lab of an 8-bit colour is never negative (L8 >= 0,
    a8 >= 41, b8 >= 20), so a scaled one is negative only if a factor is, a 33-sigma draw. Work buffers are
    allocated once, grown by :meth:`reserve`.

    :param colours: uint8 ``(K, 3)``, the fixed colours.
    """

    def __init__(self, colours: np.ndarray) -> None:
        self.fixed = len(colours)
        self._fixed_lab = rgb_to_lab8(colours).T
        self._factors = np.ones((4, 1), dtype=np.float32)  # the L, a and b factors of the call, then 1
        self.capacity = -1
        self.reserve(0)

    def reserve(self, pixels: int) -> None:
        """Make room for ``pixels`` per-call pixels (the buffers only grow; growing clears :attr:`pixels`)."""
        if pixels <= self.capacity:
            return
        rows = self.fixed + pixels
        self.capacity = pixels
        #: float32 ``(3, capacity)``: the per-call pixels' R, G and B levels plus 0.5 (so that truncating rounds
        #: them to 8 bits), written by the caller
        self.pixels = np.zeros((3, pixels), dtype=np.float32)
        self._linear = np.empty((3, pixels), dtype=np.float32)
        self._xyz_parts = np.ones((10, pixels), dtype=np.float32)  # [cbrt(p), xyz, p, 1]
        self._lab = np.ones((4, rows), dtype=np.float32)  # [L8, a8, b8, 1]
        self._lab[:3, : self.fixed] = self._fixed_lab
        self._scaled = np.empty((4, rows), dtype=np.float32)
        self._f_parts = np.ones((10, rows), dtype=np.float32)  # [u^3, f, u, 1]
        self._steps = np.empty((rows, 4), dtype=np.float32)
        self.table = np.zeros((rows, 4), dtype=np.uint8)
        #: the rows of :attr:`table` as uint32 (R, G, B and a zero byte in memory order), for expand_palette
        self.packed = self.table.view(np.uint32)[:, 0]

    def __call__(self, pixels: int, factors: np.ndarray) -> np.ndarray:
        """Convert the fixed colours and the first ``pixels`` columns of :attr:`pixels`.

        :param factors: float32 ``(3,)``, the factors of L, a and b.
        :return: uint8 ``(K + pixels, 4)``: RGB and a zero byte per colour, the fixed colours first: a view of
            :attr:`table`, which the next call overwrites.
        """
        rows = self.fixed + pixels
        # RGB levels -> 8-bit Lab of the per-call pixels; mode="clip" clips the levels to 0-255
        linear = np.take(_SRGB_TO_LINEAR, self.pixels[:, :pixels].astype(np.intp), out=self._linear[:, :pixels],
                         mode="clip")
        parts = self._xyz_parts[:, :pixels]
        xyz, high = parts[3:6], parts[6:9]
        np.matmul(_XYZ_WHITE_FROM_RGB, linear, out=xyz)
        np.cbrt(np.maximum(xyz, _LAB_EPS32, out=high), out=parts[:3])
        np.matmul(_LAB8_FROM_XYZ_PARTS, parts, out=self._lab[:3, self.fixed : rows])
        # the noise, then 8-bit Lab -> linear RGB in encoding steps -> 8-bit RGB
        self._factors[:3, 0] = factors
        scaled = np.multiply(self._lab[:, :rows], self._factors, out=self._scaled[:, :rows])
        np.minimum(scaled, _MAX_LEVEL, out=scaled)
        parts = self._f_parts[:, :rows]
        f, high, cube = parts[3:6], parts[6:9], parts[:3]
        np.matmul(_F_FROM_LAB8, scaled, out=f)
        np.maximum(f, _F_THRESHOLD32, out=high)
        np.multiply(np.multiply(high, high, out=cube), high, out=cube)
        steps = np.matmul(parts.T, _STEPS_FROM_F_PARTS, out=self._steps[:rows])
        # mode="clip" clips the linear values to 0-1
        return np.take(_LINEAR_TO_SRGB, steps.astype(np.intp), out=self.table[:rows], mode="clip")


def expand_palette(packed: np.ndarray, index: np.ndarray, gathered: np.ndarray) -> np.ndarray:
    """A new uint8 RGB image ``(*index.shape, 3)`` whose pixel ``i`` is colour ``index[i]`` of ``packed``.

    :param packed: uint32 (K,), each colour's R, G, B and a fourth byte in memory order (little or big endian alike).
    :param index: intp, the colour of every pixel, all within 0..K-1 (not checked).
    :param gathered: uint32 scratch of ``index.size`` elements.

    Gathering 4-byte words is several times faster than gathering 3-byte pixels; each word is then stored at a
    3-byte stride, in increasing address order, so its fourth byte is overwritten by the next pixel's red (the last
    one lands in a spare byte). Numpy copies a one-dimensional strided array in increasing address order;
    ``tests/test_omnirobot.py`` checks the result against plain indexing.
    """
    count = index.size
    np.take(packed, index.reshape(-1), out=gathered, mode="wrap")
    buffer = np.empty(3 * count + 1, dtype=np.uint8)
    np.ndarray((count,), dtype=np.uint32, buffer=buffer, strides=(3,))[...] = gathered
    return buffer[: 3 * count].reshape(*index.shape, 3)
