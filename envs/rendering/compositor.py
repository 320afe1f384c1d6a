"""Drawing pre-rendered pieces into an image: sprites where they are seen, exact windows by depth."""

from __future__ import annotations

import numpy as np

from envs.rendering.sprites import Placement


def paste_sprite(image: np.ndarray, placement: Placement, mask: np.ndarray) -> None:
    """Draw a placed sprite where ``mask`` says its body is seen.

    :param image: uint8 ``(size, size, 3)``, modified in place.
    :param placement: the sprite and the image area it covers (:meth:`SpriteBank.place`).
    :param mask: bool ``(h, w)`` over that area: the placement's mask, less the pixels where another body hides it.
    """
    np.copyto(image[placement.rows, placement.cols], placement.rgb, where=mask[:, :, None])


def paste_window(image: np.ndarray, depth: np.ndarray, area: tuple[slice, slice], rgb: np.ndarray,
                 window_depth: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Draw a window rendered without the floor over an image, where it shows a body nearer than the image's depth.

    :param image: uint8 ``(size, size, 3)``, modified in place. :param depth: the image's depth, float32
        ``(size, size)`` (pybullet's non-linear depth), not modified.
    :param area: (rows, cols) slices of the window in the image.
    :param rgb: the window's colours, uint8 ``(h, w, 3)``. :param window_depth: its depth, float32 ``(h, w)``.
    :param seen: where the window shows a body, bool ``(h, w)``.
    :return: where the window was drawn, bool ``(h, w)``.
    """
    drawn = seen & (window_depth < depth[area])
    np.copyto(image[area], rgb, where=drawn[:, :, None])
    return drawn
