"""Camera images without rasterising the scene every step.

A fixed camera over a static scene and a few bodies teleported in the plane (the mobile robot family) is drawn by
:class:`CompositeRenderer` (``composite.py``) from pieces rendered once with pybullet: the static scene with its
depth, and a sprite bank of the robot with colour, depth and visual shape per sample (``sprites.py``), drawn by
``compositor.py`` over the floor or by depth over the other bodies; the few pixels a sprite cannot vouch for are
rendered exactly, with only the robot's visual shapes that reach into them (``studio.py``, which also renders the
targets). ``camera.py`` holds the camera geometry and ``scene.py`` the scene description shared with the per-step
pybullet renderer; ``agreement.py`` measures how closely the two agree. The Omnirobot's photo-montage images are
composed in ``omnirobot.py``, with ``lab.py`` (colour) and ``resample.py`` (resizing and sampling).
"""

from __future__ import annotations

from envs.rendering.camera import CameraModel
from envs.rendering.composite import CompositeRenderer, ScenePieces, scene_pieces
from envs.rendering.scene import Body, MovingBody, Scene, StaticBody, load_body

#: values of an env's ``renderer`` argument: ``composite`` (the fastest the env has, the default) and ``pybullet``
#: (pybullet's TinyRenderer draws the whole scene for every image: the reference)
RENDERERS: tuple[str, ...] = ("composite", "pybullet")

__all__ = [
    "RENDERERS",
    "Body",
    "CameraModel",
    "CompositeRenderer",
    "MovingBody",
    "Scene",
    "ScenePieces",
    "StaticBody",
    "load_body",
    "scene_pieces",
]
