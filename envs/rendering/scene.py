"""Declarative scene descriptions shared by the pybullet renderer and the composite renderer.

An env describes its camera scene once (static bodies, and the bodies that move between images with the range they
move in); :func:`load_body` builds the same bodies in any :class:`~envs.sim.Simulation`, so the per-step pybullet
reference and the pieces of the composite renderer are rendered from one description. :func:`load_parts` builds a
body as one pybullet body per visual shape (the same pixels, but each shape can be shown or hidden on its own).
"""

from __future__ import annotations

import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from envs.sim import Camera, Simulation, urdf_path

RGBA = tuple[float, float, float, float]


@dataclass(frozen=True)
class Body:
    """A rigid body of the camera scene.

    :param urdf: file name in ``envs/assets`` (else ``pybullet_data``).
    :param color: RGBA override of the base visual, or None for the URDF's own colours.
    :param yaw: rotation about z (rad); bodies never rotate while the env runs.
    :param z: height of the body frame (m); moving bodies keep it.
    """

    urdf: str
    color: RGBA | None = None
    yaw: float = 0.0
    z: float = 0.0


@dataclass(frozen=True)
class StaticBody:
    """A body that never moves: ``body`` placed at ``(x, y)`` (m) and ``body.z``."""

    name: str
    body: Body
    x: float
    y: float


@dataclass(frozen=True)
class MovingBody:
    """A body that is teleported in the plane between images (never rotated).

    :param name: the body's name in the simulation.
    :param body: what it looks like.
    :param x_range: (min, max) of its x coordinate (m); a single value when it never moves along x.
    :param y_range: same for y (m).
    :param reference_height: height (m) whose image displacement moves the body's pre-rendered sprites (when it is
        drawn from sprites: the last moving body); the middle of what the camera sees of it (parallax makes higher
        parts move more).
    :param sprite_with: names of static bodies drawn into the body's sprites: bodies it always overlaps the same way
        wherever it is (the 1D robot rides on a wall that runs along its whole range), so that sprites can show it
        over them.
    """

    name: str
    body: Body
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    reference_height: float
    sprite_with: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scene:
    """Everything the camera sees: a fixed camera, static bodies, and the moving bodies drawn in order."""

    camera: Camera
    static: tuple[StaticBody, ...]
    moving: tuple[MovingBody, ...]


def load_body(sim: Simulation, name: str, body: Body, x: float, y: float) -> int:
    """Load ``body`` into ``sim`` at ``(x, y, body.z)`` (m) under ``name``; returns its pybullet id."""
    return sim.load(name, body.urdf, (x, y, body.z), yaw=body.yaw, color=body.color)


def load_parts(sim: Simulation, name: str, body: Body, x: float, y: float) -> tuple[int, ...]:
    """Load ``body`` into ``sim`` at ``(x, y, body.z)`` (m) as one pybullet body per visual shape of its URDF.

    Each part is a copy of the URDF that keeps one ``<visual>`` (links, joints and inertial frames unchanged, so
    :meth:`Simulation.set_position <envs.sim.Simulation.set_position>` places every part as it places the whole
    body), registered as ``f"{name}/{index}"``; together they render the body's pixels exactly.

    :return: the parts' pybullet ids, in the URDF's visual order.
    """
    source = urdf_path(body.urdf)
    count = sum(len(link.findall("visual")) for link in ET.parse(source).getroot().iter("link"))
    ids = []
    with tempfile.TemporaryDirectory() as folder:
        for index in range(count):
            tree = ET.parse(source)
            visuals = [(link, visual) for link in tree.getroot().iter("link") for visual in link.findall("visual")]
            for other, (link, visual) in enumerate(visuals):
                if other != index:
                    link.remove(visual)
            for mesh in tree.getroot().iter("mesh"):  # relative mesh paths stay relative to the original URDF
                filename = mesh.get("filename", "")
                if "://" not in filename and not Path(filename).is_absolute():
                    mesh.set("filename", str(source.parent / filename))
            part = Path(folder) / f"part_{index}.urdf"
            tree.write(part)
            ids.append(sim.load(f"{name}/{index}", str(part), (x, y, body.z), yaw=body.yaw, color=body.color))
    return tuple(ids)
