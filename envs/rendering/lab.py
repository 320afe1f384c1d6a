"""Colour conversion between RGB and OpenCV's 8-bit Lab (L scaled to 0-255, a and b offset by 128), D65 white."""

from __future__ import annotations

import numba
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


# --- the same conversions one colour at a time, compiled (numba), for the Omnirobot camera's kernel ----------------
# Each mirrors rgb_to_lab8 and Lab8ToRGB operation by operation in float32 (the constants rounded to float32, as numpy
# rounds a Python float against a float32 array), so they differ from them only where numpy's vectorised cbrt, power
# and 3x3 products round differently (computed here in float64 and rounded once, so within half a float32 ulp).
_EPS32 = np.float32(_LAB_EPS)
_F_THRESHOLD32 = np.float32(6 / 29)  # f(_LAB_EPS), where the inverse changes branch
_MAX_LEVEL = np.float32(255)
_LINEAR_SLOPE32, _LINEAR_OFFSET32 = np.float32(7.787), np.float32(16 / 116)
_L_SLOPE32, _L_OFFSET32, _L_DARK32, _L_SCALE32 = np.float32(116), np.float32(16), np.float32(903.3), np.float32(2.55)
_A_SCALE32, _B_SCALE32, _AB_OFFSET32 = np.float32(500), np.float32(200), np.float32(128)
_FY_FROM_L32, _FX_FROM_A32, _FZ_FROM_B32 = np.float32(100 / 255 / 116), np.float32(1 / 500), np.float32(-1 / 200)
_FX_OFFSET32, _FZ_OFFSET32 = np.float32(128 / 500), np.float32(128 / 200)
_ZERO32, _ONE32, _STEPS32 = np.float32(0), np.float32(1), np.float32(_ENCODE_STEPS - 1)


@numba.njit(cache=True)
def _lab_f(t: np.float32) -> np.float32:
    """The Lab function of one float32 component of XYZ / white."""
    if t > _EPS32:
        return np.float32(np.cbrt(np.float64(t)))
    return _LINEAR_SLOPE32 * t + _LINEAR_OFFSET32


@numba.njit(cache=True)
def level_to_lab8(red: int, green: int, blue: int) -> tuple[np.float32, np.float32, np.float32]:
    """:func:`rgb_to_lab8` of one colour of 8-bit levels (ints in 0-255): its float32 8-bit L, a and b."""
    r, g, b = _SRGB_TO_LINEAR[red], _SRGB_TO_LINEAR[green], _SRGB_TO_LINEAR[blue]
    m = _RGB_TO_XYZ_WHITE
    x = np.float32(np.float64(r) * m[0, 0] + np.float64(g) * m[1, 0] + np.float64(b) * m[2, 0])
    y = np.float32(np.float64(r) * m[0, 1] + np.float64(g) * m[1, 1] + np.float64(b) * m[2, 1])
    z = np.float32(np.float64(r) * m[0, 2] + np.float64(g) * m[1, 2] + np.float64(b) * m[2, 2])
    fx, fy, fz = _lab_f(x), _lab_f(y), _lab_f(z)
    lightness = (_L_SLOPE32 * fy - _L_OFFSET32) if y > _EPS32 else _L_DARK32 * y
    return (lightness * _L_SCALE32, _A_SCALE32 * (fx - fy) + _AB_OFFSET32, _B_SCALE32 * (fy - fz) + _AB_OFFSET32)


@numba.njit(cache=True)
def _lab_f_inverse(f: np.float32) -> np.float32:
    """The inverse of the Lab function, float32 (Lab8ToRGB's branches)."""
    if f <= _F_THRESHOLD32:
        return (f - _LINEAR_OFFSET32) / _LINEAR_SLOPE32
    wide = np.float64(f)
    return np.float32(wide * wide * wide)


@numba.njit(cache=True)
def _encode(linear: float) -> np.uint8:
    """Linear float32 value -> 8-bit sRGB level, as Lab8ToRGB: clipped to 0-1, rounded to 4095 steps, looked up."""
    clipped = min(max(np.float32(linear), _ZERO32), _ONE32) * _STEPS32
    return _LINEAR_TO_SRGB[int(np.rint(clipped))]


@numba.njit(cache=True)
def noisy_lab8_to_rgb8(lightness: np.float32, a: np.float32, b: np.float32, factors: tuple, out: np.ndarray,
                       at: int) -> None:
    """One 8-bit Lab colour times the float32 ``factors`` (L, a, b), clipped to 0-255, to 8-bit R, G and B written
    in ``out[at : at + 3]`` (uint8, one-dimensional): the original's Lab noise, then :class:`Lab8ToRGB`, for one
    colour."""
    lightness = min(max(lightness * factors[0], _ZERO32), _MAX_LEVEL)
    a = min(max(a * factors[1], _ZERO32), _MAX_LEVEL)
    b = min(max(b * factors[2], _ZERO32), _MAX_LEVEL)
    fy = lightness * _FY_FROM_L32 + _LINEAR_OFFSET32
    fx = a * _FX_FROM_A32 + (fy - _FX_OFFSET32)
    fz = b * _FZ_FROM_B32 + (fy + _FZ_OFFSET32)
    x, y, z = np.float64(_lab_f_inverse(fx)), np.float64(_lab_f_inverse(fy)), np.float64(_lab_f_inverse(fz))
    m = _XYZ_WHITE_TO_RGB
    out[at] = _encode(x * m[0, 0] + y * m[1, 0] + z * m[2, 0])
    out[at + 1] = _encode(x * m[0, 1] + y * m[1, 1] + z * m[2, 1])
    out[at + 2] = _encode(x * m[0, 2] + y * m[1, 2] + z * m[2, 2])
