"""A fixed pinhole camera as pybullet's TinyRenderer sees it: matrices, projection to pixels, sub-window frusta.

Pixel coordinates used throughout ``envs.rendering``: ``(row, col)`` with pixel ``(r, c)`` of an image rasterised by
TinyRenderer sampling the scene exactly at ``(row=r, col=c)`` (TinyRenderer samples each pixel at an integer point of
its viewport, with rows counted from the bottom; :meth:`CameraModel.project` folds both conventions in).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from envs.sim import Camera, pybullet


@dataclass(frozen=True)
class CameraModel:
    """A :class:`~envs.sim.Camera` rendering square images of ``size`` pixels.

    :param camera: the fixed camera (pose, field of view, near and far planes).
    :param size: side of the square image (px).
    """

    camera: Camera
    size: int

    @cached_property
    def view(self) -> tuple[float, ...]:
        """pybullet's view matrix (16 floats, column-major)."""
        c = self.camera
        return tuple(pybullet.computeViewMatrixFromYawPitchRoll(
            cameraTargetPosition=list(c.target), distance=c.distance, yaw=c.yaw, pitch=c.pitch, roll=c.roll,
            upAxisIndex=2,
        ))

    @cached_property
    def projection(self) -> tuple[float, ...]:
        """pybullet's projection matrix for a square image (16 floats, column-major)."""
        c = self.camera
        return tuple(pybullet.computeProjectionMatrixFOV(fov=c.fov, aspect=1.0, nearVal=c.near, farVal=c.far))

    @cached_property
    def clip_from_world(self) -> np.ndarray:
        """Row-major 4x4 matrix taking homogeneous world points (m) to clip coordinates."""
        view = np.array(self.view, dtype=np.float64).reshape(4, 4).T
        projection = np.array(self.projection, dtype=np.float64).reshape(4, 4).T
        return projection @ view

    def project(self, points: np.ndarray) -> np.ndarray:
        """Where world points land in the image.

        :param points: world coordinates (m), shape ``(..., 3)``.
        :return: ``(row, col)`` pixel coordinates (float64), shape ``(..., 2)``; pixel ``(r, c)`` samples ``(r, c)``.
        """
        points = np.asarray(points, dtype=np.float64)
        clip = points @ self.clip_from_world[:3, :3].T + self.clip_from_world[:3, 3]
        w = points @ self.clip_from_world[3, :3] + self.clip_from_world[3, 3]
        x_ndc, y_ndc = clip[..., 0] / w, clip[..., 1] / w
        col = (x_ndc + 1.0) / 2.0 * self.size
        row = (1.0 - y_ndc) / 2.0 * self.size - 1.0
        return np.stack([row, col], axis=-1)

    def linear_depth(self, depth: np.ndarray) -> np.ndarray:
        """Distance along the view axis (m) of pybullet depth-buffer values (non-linear, in [0, 1]), float32 of the
        same shape; ``inf`` where nothing was drawn (1)."""
        near, far = self.camera.near, self.camera.far
        depth = np.asarray(depth, dtype=np.float64)
        with np.errstate(divide="ignore"):
            linear = np.where(depth < 1.0, far * near / (far - (far - near) * depth), np.inf)
        return linear.astype(np.float32)

    def ground_depth(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Linear depth (m along the view axis) of the plane z = 0 where the camera sees it at image coordinates
        ``(rows, cols)`` (px, broadcastable arrays), float64; ``inf`` where the plane is not in front of the camera."""
        m = self.clip_from_world
        x = 2.0 * np.asarray(cols, dtype=np.float64) / self.size - 1.0
        y = 1.0 - 2.0 * (np.asarray(rows, dtype=np.float64) + 1.0) / self.size
        # the point (X, Y, 0) whose normalised device coordinates are (x, y): two linear equations in X and Y
        a11, a12, b1 = m[0, 0] - x * m[3, 0], m[0, 1] - x * m[3, 1], x * m[3, 3] - m[0, 3]
        a21, a22, b2 = m[1, 0] - y * m[3, 0], m[1, 1] - y * m[3, 1], y * m[3, 3] - m[1, 3]
        determinant = a11 * a22 - a12 * a21
        with np.errstate(divide="ignore", invalid="ignore"):
            ground_x = (b1 * a22 - a12 * b2) / determinant
            ground_y = (a11 * b2 - b1 * a21) / determinant
            w = m[3, 0] * ground_x + m[3, 1] * ground_y + m[3, 3]
        return np.where(w > 0.0, w, np.inf)

    def window_projection(
        self, row0: float, col0: float, n_rows: int, n_cols: int, supersample: tuple[int, int] = (1, 1)
    ) -> list[float]:
        """A projection matrix that renders only a window of the image, possibly finer than the image.

        Rendering ``n_rows x n_cols`` pixels with it (same view matrix) gives pixel ``(i, j)`` the scene sample at
        image coordinates ``(row0 + i / k_r, col0 + j / k_c)`` with ``(k_r, k_c) = supersample``; with ``(1, 1)``
        and integer ``row0, col0`` the pixels are exactly those of the full render. Depth values are those of the
        full render.

        :param row0: image row sampled by the window's first row (px). :param col0: its column (px).
        :param n_rows: window height in window pixels. :param n_cols: its width.
        :param supersample: window pixels per image pixel along rows and columns (each >= 1).
        :return: 16 floats, column-major, for ``getCameraImage(projectionMatrix=...)``.
        :raises ValueError: when a supersampling factor is below 1.
        """
        if min(supersample) < 1:
            raise ValueError(f"supersample factors must be at least 1, got {supersample}.")
        k_r, k_c = float(supersample[0]), float(supersample[1])
        n = float(self.size)
        # x: window column j samples NDC 2 * j / n_cols - 1, which must be image NDC 2 * (col0 + j / k_c) / n - 1
        x_scale = (n_cols / k_c) / n  # image NDC span of the window divided by 2
        x_left = 2.0 * col0 / n - 1.0
        # y: window row i samples NDC 1 - 2 * (i + 1) / n_rows, image row r samples NDC 1 - 2 * (r + 1) / n
        y_scale = (n_rows / k_r) / n
        y_top = 1.0 - 2.0 * (row0 + 1.0 - 1.0 / k_r) / n  # image NDC of the window's upper edge
        # the window matrix scales and offsets NDC x and y: row 0 of the result is a * P[0] + b * P[3], row 1 is
        # c * P[1] + d * P[3] (w is row 3 and NDC = clip / w); plain floats, as this runs once per window render
        a, b = 1.0 / x_scale, -(x_left + x_scale) / x_scale
        c, d = 1.0 / y_scale, -(y_top - y_scale) / y_scale
        p = self.projection  # column-major: p[4 * col + row]
        out = list(p)
        for col in range(4):
            out[4 * col] = a * p[4 * col] + b * p[4 * col + 3]
            out[4 * col + 1] = c * p[4 * col + 1] + d * p[4 * col + 3]
        return out
