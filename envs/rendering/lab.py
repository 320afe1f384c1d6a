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
