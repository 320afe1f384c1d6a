"""Image resampling in numpy: area (box-filter) resizing, bilinear sampling, box blur."""

from __future__ import annotations

import numpy as np


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


def bilinear(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Sample ``image`` (H, W, C) at fractional pixel positions, zero outside; output shape ``rows.shape + (C,)``."""
    padded = np.pad(image, ((1, 1), (1, 1), (0, 0)))
    r = np.clip(rows + 1.0, 0.0, padded.shape[0] - 1.001)
    c = np.clip(cols + 1.0, 0.0, padded.shape[1] - 1.001)
    r0, c0 = r.astype(np.intp), c.astype(np.intp)
    fr, fc = (r - r0)[..., None], (c - c0)[..., None]
    top = padded[r0, c0] * (1 - fc) + padded[r0, c0 + 1] * fc
    bottom = padded[r0 + 1, c0] * (1 - fc) + padded[r0 + 1, c0 + 1] * fc
    return top * (1 - fr) + bottom * fr


def box_blur(image: np.ndarray, width: int) -> np.ndarray:
    """Average ``image`` (H, W, C) over ``width`` x ``width`` pixels (odd width, centred, zero outside)."""
    if width <= 1:
        return image
    half = width // 2
    for axis in (0, 1):
        # running sums with half + 1 zeros before and half after, then differences ``width`` apart
        length = image.shape[axis]
        padded = np.zeros(image.shape[:axis] + (length + width,) + image.shape[axis + 1 :], dtype=image.dtype)
        padded[(slice(None),) * axis + (slice(half + 1, half + 1 + length),)] = image
        summed = np.cumsum(padded, axis=axis)
        later = summed[(slice(None),) * axis + (slice(width, None),)]
        earlier = summed[(slice(None),) * axis + (slice(None, length),)]
        image = (later - earlier) / width
    return image
