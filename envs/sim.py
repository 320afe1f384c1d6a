"""One pybullet physics client per environment instance (no global pybullet state)."""

from __future__ import annotations

import ctypes
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np


@contextmanager
def quiet_stdout() -> Iterator[None]:
    """Silence what C code prints (pybullet's build banner on stderr, its ``argv[0]=`` lines on stdout)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    with open(os.devnull, "wb") as devnull:
        for fd in saved:
            os.dup2(devnull.fileno(), fd)
    try:
        yield
    finally:
        ctypes.CDLL(None).fflush(None)
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)


with quiet_stdout():
    import pybullet
    import pybullet_data
    from pybullet_utils.bullet_client import BulletClient

ASSETS_DIR = Path(__file__).resolve().parent / "assets"


def urdf_path(urdf: str) -> Path:
    """Where a URDF named by :meth:`Simulation.load` is: ``envs/assets`` (ours), else ``pybullet_data``."""
    path = ASSETS_DIR / urdf
    return path if path.exists() else Path(pybullet_data.getDataPath()) / urdf


def display_available() -> bool:
    """Whether an X display is reachable for the pybullet GUI."""
    return bool(os.environ.get("DISPLAY"))


@dataclass(frozen=True)
class Camera:
    """A fixed pybullet camera given as the original's yaw/pitch/roll around a target point.

    :param target: the point the camera looks at (m).
    :param distance: distance from the target (m).
    :param yaw: degrees. :param pitch: degrees. :param roll: degrees.
    :param fov: vertical field of view (degrees).
    :param near: near plane (m). :param far: far plane (m).
    """

    target: tuple[float, float, float]
    distance: float
    yaw: float
    pitch: float
    roll: float = 0.0
    fov: float = 60.0
    near: float = 0.1
    far: float = 100.0


class Simulation:
    """A pybullet world owned by one env: the client, named bodies, a camera renderer.

    The client is created lazily, so an env that never renders nor simulates never starts pybullet.

    :param gui: connect to the pybullet GUI instead of the headless DIRECT server.
    :param time_step: physics time step (s).
    :param solver_iterations: constraint-solver iterations per step.
    """

    def __init__(self, gui: bool = False, time_step: float = 1.0 / 240.0, solver_iterations: int = 150) -> None:
        if gui and not display_available():
            raise RuntimeError(
                "gui=true needs a display, but DISPLAY is not set. Run on a machine with a screen, use X forwarding "
                "(ssh -X) or a virtual display (xvfb-run), or train headless with gui=false."
            )
        self.gui = gui
        self.time_step = time_step
        self.solver_iterations = solver_iterations
        self._client: BulletClient | None = None
        self._bodies: dict[str, int] = {}

    @property
    def client(self) -> BulletClient:
        """The pybullet client, connected on first use."""
        if self._client is None:
            with quiet_stdout():
                self._client = BulletClient(connection_mode=pybullet.GUI if self.gui else pybullet.DIRECT)
            self._client.setAdditionalSearchPath(pybullet_data.getDataPath())
            self._client.setPhysicsEngineParameter(numSolverIterations=self.solver_iterations)
            self._client.setTimeStep(self.time_step)
            self._client.setGravity(0, 0, -10)
        return self._client

    @property
    def client_id(self) -> int:
        """The raw pybullet client id (connects on first use).

        Hot loops call ``pybullet.<function>(..., physicsClientId=sim.client_id)`` directly: going through the
        ``BulletClient`` wrapper builds a ``functools.partial`` on every attribute access (about 1 us per call).
        """
        return self.client._client

    @property
    def started(self) -> bool:
        """Whether the pybullet client has been created."""
        return self._client is not None

    def load(
        self,
        name: str,
        urdf: str,
        position: Sequence[float],
        yaw: float = 0.0,
        fixed: bool = True,
        color: Sequence[float] | None = None,
    ) -> int:
        """Load a URDF (ours from ``envs/assets``, else from ``pybullet_data``) and register it under ``name``.

        :param yaw: rotation about z (rad).
        :param color: RGBA override for the base visual.
        """
        orientation = self.client.getQuaternionFromEuler([0.0, 0.0, yaw])
        body = self.client.loadURDF(str(urdf_path(urdf)), list(position), orientation, useFixedBase=fixed)
        if color is not None:
            self.client.changeVisualShape(body, -1, rgbaColor=list(color))
        self._bodies[name] = body
        return body

    def load_sdf(self, name: str, sdf: str, position: Sequence[float]) -> int:
        """Load the first body of an SDF file from ``pybullet_data``, place it at ``position`` (m) and register it."""
        body = self.client.loadSDF(sdf)[0]
        self.client.resetBasePositionAndOrientation(body, list(position), [0.0, 0.0, 0.0, 1.0])
        self._bodies[name] = body
        return body

    def remove(self, name: str) -> None:
        """Remove a registered body from the world."""
        self.client.removeBody(self._bodies.pop(name))

    def body(self, name: str) -> int:
        """The pybullet id of a registered body."""
        return self._bodies[name]

    def step(self) -> None:
        """Advance the physics by one time step."""
        pybullet.stepSimulation(physicsClientId=self.client_id)

    def has_body(self, name: str) -> bool:
        """Whether a body of that name is loaded."""
        return name in self._bodies

    def set_position(self, name: str, position: Sequence[float], yaw: float = 0.0) -> None:
        """Teleport a body (m, rad)."""
        orientation = self.client.getQuaternionFromEuler([0.0, 0.0, yaw])
        self.client.resetBasePositionAndOrientation(self._bodies[name], list(position), orientation)

    def position(self, name: str) -> np.ndarray:
        """A body's base position (m), shape ``(3,)``."""
        return np.asarray(self.client.getBasePositionAndOrientation(self._bodies[name])[0])

    def camera_matrices(self, camera: Camera) -> tuple[list[float], list[float]]:
        """The (view, projection) matrices of a camera for a square image."""
        view = self.client.computeViewMatrixFromYawPitchRoll(
            cameraTargetPosition=list(camera.target),
            distance=camera.distance,
            yaw=camera.yaw,
            pitch=camera.pitch,
            roll=camera.roll,
            upAxisIndex=2,
        )
        projection = self.client.computeProjectionMatrixFOV(fov=camera.fov, aspect=1.0, nearVal=camera.near,
                                                            farVal=camera.far)
        return view, projection

    def render(self, view: list[float], projection: list[float], size: int) -> np.ndarray:
        """An RGB image from the CPU renderer, uint8 of shape ``(size, size, 3)``."""
        _, _, rgba, _, _ = self.client.getCameraImage(
            size, size, viewMatrix=view, projectionMatrix=projection, renderer=pybullet.ER_TINY_RENDERER,
            flags=pybullet.ER_NO_SEGMENTATION_MASK,
        )
        return np.asarray(rgba, dtype=np.uint8).reshape(size, size, 4)[:, :, :3]

    def render_layers(
        self, view: Sequence[float], projection: Sequence[float], width: int, height: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The CPU renderer's colour, depth and body-id buffers for any (possibly off-centre) projection.

        :param view: view matrix, 16 floats column-major. :param projection: projection matrix, same layout.
        :param width: image width (px). :param height: image height (px).
        :return: ``rgb`` uint8 ``(height, width, 3)``; ``depth`` float32 ``(height, width)``, the renderer's
            non-linear depth in [0, 1] (1 where nothing was drawn); ``body`` int32 ``(height, width)``, the pybullet
            id of the body seen at each pixel, -1 where none.
        """
        _, _, rgba, depth, body = self.client.getCameraImage(
            width, height, viewMatrix=list(view), projectionMatrix=list(projection),
            renderer=pybullet.ER_TINY_RENDERER,
        )
        rgb = np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4)[:, :, :3].copy()
        depth = np.asarray(depth, dtype=np.float32).reshape(height, width)
        return rgb, depth, np.asarray(body, dtype=np.int32).reshape(height, width)

    def close(self) -> None:
        """Disconnect; safe to call twice."""
        if self._client is not None:
            try:
                self._client.disconnect()
            except pybullet.error:
                pass
            self._client = None
            self._bodies.clear()
