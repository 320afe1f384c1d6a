"""The Kuka button family: push a button on a table with the Kuka arm (``envs/kuka.py``).

Behaviour follows the original toolbox (``environments/kuka_gym/kuka_*button_gym_env.py``); every intended
difference is listed in ``envs/KUKA_DIFFERENCES.md``. Each module-level Task owns the scene (table, buttons, clutter),
the target point and the reward; the env classes only assemble a :class:`~envs.kuka.Kuka` with a Task.

The reset is the original's (500 settling physics steps with the arm holding still, then 5 random single-step
moves), but the arm settles the same way in every episode: the settled joint states are simulated once per process
and configuration, and each env saves its settled world once and restores it (pybullet ``restoreState``) at every
reset. :meth:`KukaButtonEnv.step` makes three pybullet calls per physics step (inverse kinematics, motor targets,
step) and two per env step (the gripper's link state, the arm's contact points), and renders only for ``pixels``.

Images come from :class:`KukaCompositeRenderer` (``renderer="composite"``, the default: the resting scene drawn once
per episode, the arm with low-polygon meshes drawn per image, merged by depth; about 5x faster per step) or from
pybullet's full render of the physics world (``renderer="pybullet"``, the reference); ``multi_view`` adds the
original's second camera (``CAMERA_2``), each view drawn by its own renderer. KukaRandButton loads its clutter
at every reset, and pybullet keeps part of every removed mesh body until its world goes, so that env builds a new
world every ``WORLD_REBUILD_INTERVAL`` resets (episodes do not depend on earlier ones; memory stays flat).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils import EzPickle

from envs import KUKA_LONG_STEPS as MAX_STEPS_LONG  # noqa: F401  (episode limits live with the ids)
from envs import KUKA_STEPS as MAX_STEPS  # noqa: F401
from envs.base import SRLEnv
from envs.kuka import Kuka, lowpoly_mesh, lowpoly_texture
from envs.sim import Camera, Simulation, pybullet

N_CONTACTS_BEFORE_TERMINATION = 5  # steps in contact with the (last) button before the episode ends
N_STEPS_OUTSIDE_SAFETY_SPHERE = 5000  # consecutive "too far" steps before the episode ends
N_SETTLE_STEPS = 500  # physics steps of a zero action at reset
N_RANDOM_ACTIONS_AT_INIT = 5  # random single-physics-step moves after settling
TABLE_POSITION = (0.5, 0.0, -0.82)  # m, table.urdf: the top is at z = -0.195
PLANE_POSITION = (0.0, 0.0, -1.0)
BUTTON_Z = -0.195  # m, the button stands on the table top
BUTTON_XY = (0.5, 0.0)  # m
BUTTON_RANDOM_HALF_RANGE = (0.15, 0.3)  # m, random_target: x, y += U(-1, 1) times these
BUTTON_RADIUS = 0.1  # m, of the base disc
BUTTON_LINK = 1  # the cap
BUTTON_GLIDER = 1  # the cap's prismatic joint
BUTTON_GLIDER_TOP = 0.01  # m, its upper limit
BUTTON_DISTANCE_HEIGHT = 0.28  # m, the target point is this far above the cap
SHAPED_SUCCESS, SHAPED_FAILURE = 50.0, -250.0
GT_BOUND = 3.0  # m, bound of the ground-truth observation (the arm reaches about 1.6 m from its shoulder)
JOINT_BOUND = 2.0 * math.pi  # rad, bound of the joint observations

#: resets between two rebuilds of the pybullet world when the task loads bodies at every reset (KukaRandButton);
#: pybullet frees what it keeps of removed bodies (about 57 KB per duck) only with the world
WORLD_REBUILD_INTERVAL = 200

#: (env class, control, time step, solver iterations) -> body name -> (position, velocity) of each joint once settled
_SETTLED_JOINTS: dict[tuple[str, str, float, int], dict[str, tuple[tuple[float, float], ...]]] = {}

CAMERA = Camera(target=(0.316, -0.2, -0.1), distance=1.1, yaw=145.0, pitch=-36.0, fov=60.0, near=0.1, far=100.0)
#: the second camera of ``multi_view`` (the original's): from the other side of the table (+y), lower, same projection
CAMERA_2 = Camera(target=(0.316, 0.316, -0.105), distance=1.05, yaw=32.0, pitch=-13.0, fov=60.0, near=0.1, far=100.0)
GUI_CAMERA = (1.3, 180.0, -41.0, (0.52, -0.2, -0.33))  # distance (m), yaw, pitch (degrees), target (m)


#: image renderers of the family: ``composite`` (the fast default, see :class:`KukaCompositeRenderer`) and ``pybullet``
#: (the reference: pybullet's tiny renderer draws the whole physics world at every step)
RENDERERS = ("composite", "pybullet")
#: a resting body whose link frames moved less than this since the background was drawn stays in the background:
#: 0.1 mm, and 0.002 in each quaternion component (about 0.004 rad: 0.2 mm at 5 cm from the centre), where a pixel
#: spans at least 3 mm of the scene at 224x224 (clutter placed at rest still settles by about 1e-4 after a reset)
REST_POSITION_TOLERANCE = 1e-4  # m
REST_ORIENTATION_TOLERANCE = 2e-3
#: visual shape specification: (geometry type, dimensions, mesh file, local position, local orientation, RGBA)
_VisualSpec = tuple[int, tuple[float, ...], str, tuple[float, ...], tuple[float, ...], tuple[float, ...]]


class VisualCopy:
    """The visual shapes of one body of a physics client, drawn in another (render-only) client.

    Each visual shape becomes a body without mass or collision; :meth:`sync` puts them where the source body's links
    are, and :meth:`show` hides them (alpha 0, which pybullet's tiny renderer skips at no cost) or shows them. Visual
    shapes are created once per render client and specification (``shape_cache``), and a hidden copy can be attached
    to another source body that looks the same (:attr:`specs`), so that the copies of the bodies loaded at every reset
    are reused rather than made again (``createMultiBody`` costs about 0.7 ms).

    :param source: client id of the physics world. :param body: the source body's unique id.
    :param target: client id of the render client. :param shape_cache: spec -> visual shape id in ``target``.
    :param lowpoly: draw the meshes that have one with their low-polygon stand-ins (:func:`envs.kuka.lowpoly_mesh`).
    :param textures: texture file -> texture id in ``target``, shared by the copies of one render client.
    :param visible: shown from the start.
    """

    def __init__(self, source: int, body: int, target: int, shape_cache: dict[_VisualSpec, int],
                 lowpoly: bool = False, textures: dict[str, int] | None = None, visible: bool = True) -> None:
        self.source, self.target = source, target
        textures = {} if textures is None else textures
        #: (link, visual shape specification) of each visual shape of the source body
        self.specs = visual_specs(source, body, lowpoly)
        self.link_of_copy = [link for link, _ in self.specs]
        self.copies: list[int] = []
        for _, spec in self.specs:
            if spec not in shape_cache:
                shape_cache[spec] = _create_visual_shape(spec, target)
            copy = pybullet.createMultiBody(baseMass=0.0, baseVisualShapeIndex=shape_cache[spec],
                                            physicsClientId=target)
            texture = lowpoly_texture(spec[2])
            if texture is not None:  # a low-polygon stand-in whose material names no texture
                if texture not in textures:
                    textures[texture] = pybullet.loadTexture(texture, physicsClientId=target)
                pybullet.changeVisualShape(copy, -1, textureUniqueId=textures[texture], physicsClientId=target)
            self.copies.append(copy)
        self.visible = True
        self.show(visible)
        self.attach(body)

    def attach(self, body: int) -> None:
        """Follow source body ``body`` (whose :func:`visual_specs` must equal :attr:`specs`)."""
        self.body = body
        inertial = pybullet.getDynamicsInfo(body, -1, physicsClientId=self.source)
        #: base inertial frame -> base link frame (visual frames are given in link frames)
        self._base_offset = pybullet.invertTransform(inertial[3], inertial[4])
        self._links = list(range(pybullet.getNumJoints(body, physicsClientId=self.source)))

    def show(self, visible: bool) -> None:
        """Show the copies in their own colours, or hide them (alpha 0: the tiny renderer skips them)."""
        if visible == self.visible:
            return
        for copy, (_, spec) in zip(self.copies, self.specs):
            rgba = list(spec[5]) if visible else [*spec[5][:3], 0.0]
            pybullet.changeVisualShape(copy, -1, rgbaColor=rgba, physicsClientId=self.target)
        self.visible = visible

    def frames(self) -> list[tuple[Sequence[float], Sequence[float]]]:
        """World frames (position m, quaternion) of the source body's base link and links, base first."""
        position, orientation = pybullet.getBasePositionAndOrientation(self.body, physicsClientId=self.source)
        frames = [pybullet.multiplyTransforms(position, orientation, *self._base_offset)]
        if self._links:
            states = pybullet.getLinkStates(self.body, self._links, physicsClientId=self.source)
            frames.extend((state[4], state[5]) for state in states)
        return frames

    def sync(self, frames: list[tuple[Sequence[float], Sequence[float]]] | None = None) -> None:
        """Move the copies to ``frames`` (from :meth:`frames`; read now if None)."""
        frames = self.frames() if frames is None else frames
        target = self.target
        for copy, link in zip(self.copies, self.link_of_copy):
            position, orientation = frames[link + 1]
            pybullet.resetBasePositionAndOrientation(copy, position, orientation, physicsClientId=target)

    def remove(self) -> None:
        """Remove the copies from the render client (the cached visual shapes stay for the next copies)."""
        for copy in self.copies:
            pybullet.removeBody(copy, physicsClientId=self.target)
        self.copies = []


def visual_specs(source: int, body: int, lowpoly: bool = False) -> tuple[tuple[int, _VisualSpec], ...]:
    """(link, specification) of each visual shape of ``body`` in client ``source`` (low-polygon stand-ins if
    ``lowpoly``)."""
    specs = []
    for entry in pybullet.getVisualShapeData(body, physicsClientId=source):
        link, geometry, dimensions, mesh, position, orientation, rgba = entry[1:8]
        mesh_file = mesh.decode() if isinstance(mesh, bytes) else str(mesh)
        if lowpoly and geometry == pybullet.GEOM_MESH:
            mesh_file = lowpoly_mesh(mesh_file)
        specs.append((link, (geometry, tuple(dimensions), mesh_file, tuple(position), tuple(orientation), tuple(rgba))))
    return tuple(specs)


def _create_visual_shape(spec: _VisualSpec, client: int) -> int:
    geometry, dimensions, mesh_file, position, orientation, rgba = spec
    kwargs: dict[str, Any] = {"shapeType": geometry, "rgbaColor": list(rgba), "visualFramePosition": list(position),
                              "visualFrameOrientation": list(orientation), "physicsClientId": client}
    if geometry == pybullet.GEOM_MESH:
        kwargs.update(fileName=mesh_file, meshScale=list(dimensions))
    elif geometry == pybullet.GEOM_BOX:
        kwargs.update(halfExtents=[d / 2.0 for d in dimensions])
    elif geometry == pybullet.GEOM_SPHERE:
        kwargs.update(radius=dimensions[0])
    elif geometry in (pybullet.GEOM_CYLINDER, pybullet.GEOM_CAPSULE):
        kwargs.update(length=dimensions[0], radius=dimensions[1])
    else:
        raise ValueError(f"cannot copy visual geometry type {geometry} ({mesh_file or 'no mesh'})")
    return pybullet.createVisualShape(**kwargs)


def _moved(a: list[tuple[Sequence[float], Sequence[float]]], b: list[tuple[Sequence[float], Sequence[float]]]) -> bool:
    """Whether two :meth:`VisualCopy.frames` lists differ by more than the rest tolerances."""
    for (pa, oa), (pb, ob) in zip(a, b):
        if (abs(pa[0] - pb[0]) > REST_POSITION_TOLERANCE or abs(pa[1] - pb[1]) > REST_POSITION_TOLERANCE
                or abs(pa[2] - pb[2]) > REST_POSITION_TOLERANCE):
            return True
        if max(abs(x - y) for x, y in zip(oa, ob)) > REST_ORIENTATION_TOLERANCE:
            return True
    return False


class _RenderWorld:
    """A render-only pybullet client (DIRECT, never stepped) shared by the composite renderers of a process.

    A pybullet client costs about 30 MiB, and the copies' meshes and textures are the same for every env, so the
    renderers share one world (and its visual shapes and textures) and keep their copies hidden while another
    renderer draws. Counted references: the client is disconnected when the last renderer lets it go.
    """

    _shared: ClassVar[_RenderWorld | None] = None

    def __init__(self) -> None:
        self.sim = Simulation()
        self.client_id = self.sim.client_id
        self.shapes: dict[_VisualSpec, int] = {}
        self.textures: dict[str, int] = {}
        self.users = 0

    @classmethod
    def acquire(cls) -> _RenderWorld:
        """The process's render world, created on first use."""
        if cls._shared is None:
            cls._shared = cls()
        cls._shared.users += 1
        return cls._shared

    def release(self) -> None:
        """Let the world go; the last user disconnects it."""
        self.users -= 1
        if self.users <= 0:
            self.sim.close()
            if type(self)._shared is self:
                type(self)._shared = None


class KukaCompositeRenderer:
    """The camera image of a physics world: a background drawn once per episode, and the moving bodies each time.

    pybullet's tiny renderer draws no shadows (the envs do not ask for them) and lights every triangle on its own, so
    a picture of some bodies and a picture of the others, merged pixel by pixel by depth, is the picture of them all.
    A render-only pybullet client (DIRECT, never stepped, shared by the renderers of a process) holds visual copies
    (:class:`VisualCopy`) of the physics bodies, hidden but while they are drawn, in two layers:

    - the background: the ``static`` bodies (never moved: floor, table) and every other body while it rests where it
      was when the background was drawn (buttons, clutter); its colour and depth images are kept;
    - the foreground: the ``always_moving`` bodies (the arm) and the bodies that moved since the background was
      drawn, with low-polygon stand-ins of the meshes that have one (:func:`envs.kuka.lowpoly_mesh`: the arm's links
      and fingers, the rolling ball) unless ``lowpoly=False``.

    Each :meth:`render` reads the link frames of the physics bodies, moves a body that left its rest pose from the
    background to the foreground (the background is then drawn again, without it), draws the foreground and keeps,
    at each pixel, the nearer of the two. A body counts as resting while its link frames stay within
    ``REST_POSITION_TOLERANCE`` and ``REST_ORIENTATION_TOLERANCE`` of where they were drawn. :meth:`invalidate` (at
    every reset) puts every body back in the background, drawn again at the next render; the hidden background copies
    of removed bodies are reused for the next bodies that look the same.

    What it costs per image: reading the physics bodies' link frames (two pybullet calls per body), moving the copies,
    one tiny-renderer call with the arm's 1,967 low-polygon triangles instead of 15,434 (and no table, floor or
    resting body), and a numpy merge. Memory: one pybullet client (about 30 MiB) per process, shared by the envs,
    and a few MiB per env. The physics world is only read, so the physics is that of ``renderer="pybullet"``.

    :param source: the physics simulation. :param static: names of its bodies that never move.
    :param always_moving: names of its bodies drawn in the foreground at every render.
    :param view: view matrix (16 floats). :param projection: projection matrix (16 floats).
    :param size: side of the square image (pixels). :param lowpoly: low-polygon stand-ins in the foreground.
    """

    def __init__(self, source: Simulation, static: Sequence[str], always_moving: Sequence[str], view: Sequence[float],
                 projection: Sequence[float], size: int, lowpoly: bool = True) -> None:
        self.source = source
        self.static = tuple(static)
        self.always_moving = tuple(always_moving)
        self.view, self.projection, self.size = list(view), list(projection), size
        self.lowpoly = lowpoly
        self._world: _RenderWorld | None = _RenderWorld.acquire()
        self._client = self._world.client_id
        self._static_copies: dict[int, VisualCopy] = {}
        self._moving_copies: dict[int, VisualCopy] = {}
        #: source body -> (background copy, its frames when the background was drawn)
        self._resting: dict[int, tuple[VisualCopy, list]] = {}
        #: source body -> foreground copy, for bodies that left their rest pose
        self._moved: dict[int, VisualCopy] = {}
        #: unused hidden background copies, by :attr:`VisualCopy.specs`
        self._spare: dict[tuple, list[VisualCopy]] = {}
        self._background: tuple[np.ndarray, np.ndarray] | None = None
        self._valid = False

    def invalidate(self) -> None:
        """Put every body back in the background, drawn again at the next :meth:`render` (call after a reset)."""
        self._valid = False

    def _copy(self, body: int, lowpoly: bool) -> VisualCopy:
        assert self._world is not None, "the renderer is closed"
        return VisualCopy(self.source.client_id, body, self._client, self._world.shapes, lowpoly=lowpoly,
                          textures=self._world.textures, visible=False)

    def _retire(self, copy: VisualCopy) -> None:
        """Hide a background copy and keep it for a body that looks the same."""
        copy.show(False)
        self._spare.setdefault(copy.specs, []).append(copy)

    def _rebuild(self) -> None:
        source = self.source.client_id
        for copy, _ in self._resting.values():
            self._retire(copy)
        for copy in self._moved.values():
            copy.remove()
        self._resting, self._moved = {}, {}
        static = {self.source.body(name) for name in self.static}
        moving = {self.source.body(name) for name in self.always_moving}
        for body in static - set(self._static_copies):
            self._static_copies[body] = copy = self._copy(body, lowpoly=False)
            copy.sync()
        for body in moving - set(self._moving_copies):
            self._moving_copies[body] = self._copy(body, lowpoly=self.lowpoly)
        for index in range(pybullet.getNumBodies(physicsClientId=source)):
            body = pybullet.getBodyUniqueId(index, physicsClientId=source)
            if body not in static and body not in moving:
                spare = self._spare.get(visual_specs(source, body))
                if spare:
                    copy = spare.pop()
                    copy.attach(body)
                else:
                    copy = self._copy(body, lowpoly=False)
                frames = copy.frames()
                copy.sync(frames)
                self._resting[body] = (copy, frames)
        self._background = None
        self._valid = True

    def _layers(self) -> tuple[list[VisualCopy], list[VisualCopy]]:
        background = list(self._static_copies.values()) + [copy for copy, _ in self._resting.values()]
        return background, list(self._moving_copies.values()) + list(self._moved.values())

    def _draw(self, segmentation: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The render client's picture: RGBA pixels packed in uint32 (or the segmentation mask, int64) and the depth
        (float32), both ``(size, size)``."""
        size = self.size
        _, _, rgba, depth, seg = pybullet.getCameraImage(
            size, size, viewMatrix=self.view, projectionMatrix=self.projection, renderer=pybullet.ER_TINY_RENDERER,
            flags=0 if segmentation else pybullet.ER_NO_SEGMENTATION_MASK, physicsClientId=self._client,
        )
        depth = np.asarray(depth, dtype=np.float32).reshape(size, size)
        if segmentation:
            return np.asarray(seg, dtype=np.int64).reshape(size, size), depth
        pixels = np.ascontiguousarray(np.asarray(rgba, dtype=np.uint8).reshape(size, size, 4))
        return pixels.view(np.uint32).reshape(size, size), depth

    def _draw_layer(self, copies: list[VisualCopy], segmentation: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``copies`` alone (every other copy in the render world is hidden)."""
        for copy in copies:
            copy.show(True)
        try:
            return self._draw(segmentation)
        finally:
            for copy in copies:
                copy.show(False)

    def render(self) -> np.ndarray:
        """The camera image of the physics world as it is, uint8 of shape ``(size, size, 3)``."""
        if not self._valid:
            self._rebuild()
        for body, (copy, rest) in list(self._resting.items()):
            frames = copy.frames()
            if _moved(frames, rest):
                self._retire(copy)
                del self._resting[body]
                self._moved[body] = self._copy(body, lowpoly=self.lowpoly)
                self._background = None
        for copy in self._moving_copies.values():
            copy.sync()
        for copy in self._moved.values():
            copy.sync()
        background, foreground = self._layers()
        if self._background is None:
            self._background = self._draw_layer(background)
        pixels, depth = self._draw_layer(foreground)
        background_pixels, background_depth = self._background
        merged = np.where(depth < background_depth, pixels, background_pixels)  # whole RGBA pixels: 15x faster
        return merged.view(np.uint8).reshape(self.size, self.size, 4)[:, :, :3]

    def segmentation(self) -> np.ndarray:
        """Which physics body and link each pixel of the last :meth:`render` shows (for measurements, not fast).

        :return: int64 ``(size, size)``, pybullet's ``ER_SEGMENTATION_MASK_OBJECT_AND_LINKINDEX`` code of the source
            body: ``body + ((link + 1) << 24)`` (link -1 for the base), -1 where no body is.
        """
        background, foreground = self._layers()
        code = {copy_id: copy.body + ((link + 1) << 24)
                for copy in background + foreground for copy_id, link in zip(copy.copies, copy.link_of_copy)}
        layers = []
        for seg, depth in (self._draw_layer(background, True), self._draw_layer(foreground, True)):
            values, index = np.unique(seg, return_inverse=True)
            source_codes = np.array([code.get(int(value), -1) for value in values], dtype=np.int64)
            layers.append((source_codes[index].reshape(self.size, self.size), depth))
        (back, back_depth), (front, front_depth) = layers
        return np.where(front_depth < back_depth, front, back)

    def close(self) -> None:
        """Remove this renderer's copies and let the shared render world go; safe to call twice."""
        if self._world is not None:
            copies = [*self._static_copies.values(), *self._moving_copies.values(), *self._moved.values(),
                      *(copy for copy, _ in self._resting.values()),
                      *(copy for spare in self._spare.values() for copy in spare)]
            if self._world.users > 1:  # the last user disconnects, which removes everything at once
                for copy in copies:
                    copy.remove()
            self._world.release()
            self._world = None
        self._static_copies, self._moving_copies, self._resting, self._moved, self._spare = {}, {}, {}, {}, {}
        self._background = None
        self._valid = False


class ButtonTask:
    """One yellow button on a table, fixed at (0.5, 0) or drawn around it with ``random_target``.

    The target point is the cap's position plus 0.28 m in z (the gripper link is about 0.11 m below it when the
    fingers touch the cap). Sparse reward: +1 per step in contact with the cap, -1 when the gripper is farther than
    ``max_distance`` from the target or the arm touches the table (that -1 wins). The episode ends after 5 contact
    steps, on table contact, or after 5000 consecutive steps too far. Shaped reward: minus the distance with
    discrete actions; otherwise +50 on a successful end, -250 on a failed one, else minus the distance.

    :param sim: the env's simulation.
    :param random_target: draw the button position at every reset.
    :param shape_reward: the shaped reward instead of the sparse one.
    :param max_distance: distance (m) beyond which the gripper is "too far".
    :param distance_shaping_only: the shaped reward is only minus the distance (the original's discrete case).
    """

    button_urdfs: ClassVar[tuple[str, ...]] = ("simple_button.urdf",)
    #: whether :meth:`reset` loads bodies (then the env rebuilds its world every ``WORLD_REBUILD_INTERVAL`` resets)
    loads_bodies_at_reset: ClassVar[bool] = False
    #: (x, y) of each button without ``random_target`` (m)
    default_buttons: ClassVar[tuple[tuple[float, float], ...]] = (BUTTON_XY,)

    def __init__(self, sim: Simulation, random_target: bool, shape_reward: bool, max_distance: float,
                 distance_shaping_only: bool) -> None:
        self.sim = sim
        self.random_target = random_target
        self.shape_reward = shape_reward
        self.max_distance = max_distance
        self.distance_shaping_only = distance_shaping_only
        self.button_positions = np.zeros((len(self.button_urdfs), 3))
        self.targets = np.zeros((len(self.button_urdfs), 3))
        self.goal = 0
        self.n_contacts = [0] * len(self.button_urdfs)
        self.n_steps_outside = 0
        self._table = -1
        self._buttons: tuple[int, ...] = ()

    # --- scene ------------------------------------------------------------------------------------------------
    def build(self) -> None:
        """Load the plane, the table and the buttons."""
        self.sim.load("plane", "plane.urdf", PLANE_POSITION)
        self._table = self.sim.load("table", "table/table.urdf", TABLE_POSITION)
        buttons = []
        for i, (urdf, xy) in enumerate(zip(self.button_urdfs, self.default_buttons)):
            button = self.sim.load(f"button_{i}", urdf, (*xy, BUTTON_Z), fixed=True)
            for link in (0, BUTTON_LINK):  # the ring and the cap cannot reach the table through the base
                self.sim.client.setCollisionFilterPair(self._table, button, -1, link, 0)
            # the cap is held at the top of its travel with pybullet's default maximum force (the original pushed
            # it toward 0.1 m, beyond the 0.01 m limit, at every step; see KUKA_DIFFERENCES.md)
            self.sim.client.setJointMotorControl2(button, BUTTON_GLIDER, pybullet.POSITION_CONTROL,
                                                  targetPosition=BUTTON_GLIDER_TOP)
            buttons.append(button)
        self._buttons = tuple(buttons)

    def clear(self) -> None:
        """Remove what :meth:`reset` added to the scene (before the settled world is restored)."""

    def reset(self, np_random: np.random.Generator) -> None:
        """Place the buttons for a new episode (right after the settled world is restored)."""
        self.goal = 0
        self.n_contacts = [0] * len(self.button_urdfs)
        self.n_steps_outside = 0
        self.button_positions = self._draw_buttons(np_random)
        for i, position in enumerate(self.button_positions):
            self.sim.set_position(f"button_{i}", position)

    def _draw_buttons(self, np_random: np.random.Generator) -> np.ndarray:
        x, y = self.default_buttons[0]
        if self.random_target:
            x += BUTTON_RANDOM_HALF_RANGE[0] * np_random.uniform(-1.0, 1.0)
            y += BUTTON_RANDOM_HALF_RANGE[1] * np_random.uniform(-1.0, 1.0)
        return np.array([[x, y, BUTTON_Z]])

    def read_targets(self) -> None:
        """Set the target points from the scene (after the random moves at reset)."""
        cap = pybullet.getLinkState(self._buttons[0], BUTTON_LINK, physicsClientId=self.sim.client_id)[0]
        self.targets[0] = (cap[0], cap[1], cap[2] + BUTTON_DISTANCE_HEIGHT)

    def before_step(self, step_index: int, np_random: np.random.Generator) -> None:
        """Move the scene before the arm acts (``step_index`` counts env steps from 0)."""

    def target_position(self) -> np.ndarray:
        """The current target point (m), shape ``(3,)``."""
        return self.targets[self.goal]

    # --- reward -----------------------------------------------------------------------------------------------
    def _touches(self, contacts: Sequence[tuple]) -> tuple[list[bool], bool]:
        """Which button caps and whether the table the arm touches, from ``getContactPoints(bodyA=arm)``.

        A button counts as pressed only when the arm touches its cap (link ``BUTTON_LINK``), for every button of
        every task: touching the ring or the base disc from the side is not pressing it. (The original's
        Kuka2Button counted any link of the button body; its KukaButton counted the cap only.)
        """
        touched = [False] * len(self._buttons)
        table = False
        for contact in contacts:
            body = contact[2]
            if body == self._table:
                table = True
            elif contact[4] == BUTTON_LINK and body in self._buttons:
                touched[self._buttons.index(body)] = True
        return touched, table

    def evaluate(self, gripper: Sequence[float], contacts: Sequence[tuple]) -> tuple[float, bool]:
        """The reward and termination of a step, given the gripper position (m) and the arm's contact points."""
        touched, table = self._touches(contacts)
        distance = math.dist(gripper, self.targets[0])
        reward = 1.0 if touched[0] else 0.0
        self.n_contacts[0] += touched[0]
        if distance > self.max_distance or table:
            reward = -1.0
            self.n_steps_outside += 1
        else:
            self.n_steps_outside = 0
        terminated = (table or self.n_contacts[0] >= N_CONTACTS_BEFORE_TERMINATION
                      or self.n_steps_outside >= N_STEPS_OUTSIDE_SAFETY_SPHERE)
        if not self.shape_reward:
            return reward, terminated
        if terminated and not self.distance_shaping_only:
            return (SHAPED_SUCCESS if reward > 0 else SHAPED_FAILURE), terminated
        return -distance, terminated


CLUTTER_OBJECTS = ("duck_vhacd.urdf", "lego/lego.urdf", "cube_small.urdf")
BALL_URDF = "sphere_small.urdf"
CLUTTER_DROP_Z = BUTTON_Z + 0.1  # m, the original dropped the clutter from 10 cm above the table...
BALL_DROP = (0.25, -0.2, 0.1)  # m, ...and the ball from 30 cm


@dataclass(frozen=True)
class RestPose:
    """Where a dropped object comes to rest on the table.

    :param offset: rest position minus drop position (m).
    :param orientation: rest orientation (quaternion x, y, z, w).
    :param footprint: (x min, y min, x max, y max) of its bounding box at rest, relative to its rest position (m).
    """

    offset: tuple[float, float, float]
    orientation: tuple[float, float, float, float]
    footprint: tuple[float, float, float, float]


@functools.cache
def clutter_rest_poses(time_step: float, solver_iterations: int) -> dict[str, RestPose]:
    """Drop each clutter object (and the ball) alone on a table for 500 steps, in a scratch world; record its rest.

    The fall on a flat table does not depend on where it happens, so an env places its clutter directly at rest
    instead of simulating the 500 settling steps of every reset (which cost about 0.5 s with ten objects).
    """
    scratch = Simulation(time_step=time_step, solver_iterations=solver_iterations)
    try:
        scratch.load("table", "table/table.urdf", TABLE_POSITION)
        drops = {urdf: (0.3 * i, 0.0, CLUTTER_DROP_Z) for i, urdf in enumerate(CLUTTER_OBJECTS)}
        drops[BALL_URDF] = (0.9, 0.0, BALL_DROP[2])
        for urdf, drop in drops.items():
            scratch.load(urdf, urdf, drop, fixed=False)
        for _ in range(N_SETTLE_STEPS):
            scratch.step()
        poses = {}
        for urdf, drop in drops.items():
            position, orientation = scratch.client.getBasePositionAndOrientation(scratch.body(urdf))
            low, high = scratch.client.getAABB(scratch.body(urdf))
            footprint = (low[0] - position[0], low[1] - position[1], high[0] - position[0], high[1] - position[1])
            offset = (position[0] - drop[0], position[1] - drop[1], position[2] - drop[2])
            poses[urdf] = RestPose(offset=offset, orientation=tuple(orientation), footprint=footprint)
        return poses
    finally:
        scratch.close()


class RandButtonTask(ButtonTask):
    """:class:`ButtonTask` plus clutter: up to 10 random objects on the table and a ball pushed at step 11.

    Each of 10 attempts draws a duck, a lego brick or a small cube at x = 0.5 + 0.15 U(-1, 1), y = 0.3 U(-1, 1),
    skipped within a 0.1 m square around the button or where it would overlap the button or an object already
    placed. Objects
    are placed where a drop from 10 cm brings them to rest (see :func:`clutter_rest_poses`). A small ball rests
    below (0.25, -0.2) and receives a 10 N horizontal push (random direction with positive components) at the 11th
    step.
    """

    n_attempts: ClassVar[int] = 10
    loads_bodies_at_reset = True
    ball_force: ClassVar[float] = 10.0  # N
    push_step: ClassVar[int] = 10

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clutter: list[str] = []

    def build(self) -> None:
        super().build()
        self._clutter = []

    def clear(self) -> None:
        for name in self._clutter:
            self.sim.remove(name)
        self._clutter = []

    def reset(self, np_random: np.random.Generator) -> None:
        super().reset(np_random)
        poses = clutter_rest_poses(self.sim.time_step, self.sim.solver_iterations)
        bx, by, _ = self.button_positions[0]
        footprints = [(bx - BUTTON_RADIUS, by - BUTTON_RADIUS, bx + BUTTON_RADIUS, by + BUTTON_RADIUS)]
        for i in range(self.n_attempts):
            urdf = CLUTTER_OBJECTS[int(np_random.integers(len(CLUTTER_OBJECTS)))]
            x = BUTTON_XY[0] + 0.15 * np_random.uniform(-1.0, 1.0)
            y = 0.3 * np_random.uniform(-1.0, 1.0)
            if abs(x - bx) < 0.1 and abs(y - by) < 0.1:
                continue
            pose = poses[urdf]
            position = (x + pose.offset[0], y + pose.offset[1], CLUTTER_DROP_Z + pose.offset[2])
            footprint = (position[0] + pose.footprint[0], position[1] + pose.footprint[1],
                         position[0] + pose.footprint[2], position[1] + pose.footprint[3])
            if any(_overlap(footprint, other) for other in footprints):
                continue
            footprints.append(footprint)
            self._place(f"object_{i}", urdf, position, pose.orientation)
        pose = poses[BALL_URDF]
        self._place("ball", BALL_URDF, np.add(BALL_DROP, pose.offset).tolist(), pose.orientation)

    def _place(self, name: str, urdf: str, position: Sequence[float], orientation: Sequence[float]) -> None:
        body = self.sim.load(name, urdf, position, fixed=False)
        self.sim.client.resetBasePositionAndOrientation(body, list(position), list(orientation))
        self._clutter.append(name)

    def before_step(self, step_index: int, np_random: np.random.Generator) -> None:
        if step_index != self.push_step:
            return
        direction = np_random.normal(size=2)
        direction *= self.ball_force / max(float(np.linalg.norm(direction)), 1e-12)
        force = [abs(float(direction[0])), abs(float(direction[1])), 1.0]
        position = self.sim.position("ball").tolist()
        self.sim.client.applyExternalForce(self.sim.body("ball"), -1, force, position, pybullet.WORLD_FRAME)


def _overlap(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether two (x min, y min, x max, y max) rectangles overlap."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


class MovingButtonTask(ButtonTask):
    """:class:`ButtonTask` with a button sliding along y at 1 mm per step, turning back beyond |y| = 0.3 m.

    The initial direction is drawn at reset; the target point follows the button. The shaped reward is always
    +50 / -250 / minus the distance (no discrete special case).
    """

    speed: ClassVar[float] = 0.001  # m per env step
    y_limit: ClassVar[float] = 0.3  # m

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.distance_shaping_only = False
        self.direction = 1.0
        self._cap_offset = np.zeros(3)

    def reset(self, np_random: np.random.Generator) -> None:
        super().reset(np_random)
        self.direction = 1.0 if np_random.integers(2) else -1.0

    def read_targets(self) -> None:
        super().read_targets()
        self._cap_offset = self.targets[0] - self.button_positions[0]

    def before_step(self, step_index: int, np_random: np.random.Generator) -> None:
        position = self.button_positions[0]
        position[1] += self.direction * self.speed
        if abs(position[1]) > self.y_limit:
            self.direction = -self.direction
        pybullet.resetBasePositionAndOrientation(self._buttons[0], position.tolist(), (0.0, 0.0, 0.0, 1.0),
                                                 physicsClientId=self.sim.client_id)
        self.targets[0] = position + self._cap_offset


class TwoButtonTask(ButtonTask):
    """Press the yellow button at (0.5, 0.125) five times, then the blue one at (0.5, -0.125).

    With ``random_target`` the blue button is drawn at x = 0.5 + 0.15 U(-1, 1), y = -0.125 + 0.175 U(-1, 0). The
    target points are the button bases plus 0.28 m in z; the goal (and the relative ground truth) switches to the
    blue button after 5 contact steps with the yellow one. Sparse reward: +1 per step in contact with the current
    goal's cap, -1 when farther than ``max_distance`` from the goal or touching the table. The episode ends after 5
    contact steps with the blue button, on table contact or after 5000 steps too far. Shaped reward: +50 on success,
    -250 on table contact, +25 while touching the goal, -20 when too far, else minus the distance.
    """

    button_urdfs = ("simple_button.urdf", "simple_button_2.urdf")
    default_buttons = ((0.5, 0.125), (0.5, -0.125))

    def _draw_buttons(self, np_random: np.random.Generator) -> np.ndarray:
        (x1, y1), (x, y) = self.default_buttons
        if self.random_target:
            x += 0.15 * np_random.uniform(-1.0, 1.0)
            y += 0.175 * np_random.uniform(-1.0, 0.0)
        return np.array([[x1, y1, BUTTON_Z], [x, y, BUTTON_Z]])

    def read_targets(self) -> None:
        self.targets = self.button_positions + (0.0, 0.0, BUTTON_DISTANCE_HEIGHT)

    def evaluate(self, gripper: Sequence[float], contacts: Sequence[tuple]) -> tuple[float, bool]:
        touched, table = self._touches(contacts)
        goal, last = self.goal, len(self._buttons) - 1
        distance = math.dist(gripper, self.targets[goal])
        reward = 1.0 if touched[goal] else 0.0
        self.n_contacts[goal] += touched[goal]
        if goal < last and self.n_contacts[goal] >= N_CONTACTS_BEFORE_TERMINATION:
            self.goal += 1
        if distance > self.max_distance or table:
            reward = -1.0
            self.n_steps_outside += 1
        else:
            self.n_steps_outside = 0
        terminated = (table or self.n_contacts[last] >= N_CONTACTS_BEFORE_TERMINATION
                      or self.n_steps_outside >= N_STEPS_OUTSIDE_SAFETY_SPHERE)
        if not self.shape_reward:
            return reward, terminated
        if terminated and reward > 0:
            return SHAPED_SUCCESS, terminated
        if table:
            return SHAPED_FAILURE, terminated
        if touched[goal]:
            return 25.0, terminated
        if distance > self.max_distance:
            return -20.0, terminated
        return -distance, terminated


class KukaButtonEnv(SRLEnv):
    """Push a button on a table with a Kuka iiwa arm.

    ## Description
    The arm starts above the table and must touch the yellow cap of a button at (0.5, 0) m (or drawn around it
    with ``random_target``) with its gripper. Physics: pybullet, 1/240 s steps, 150 solver iterations, gravity 10.

    ## Action Space
    ``discrete``: Discrete(6), moves the commanded end-effector point by about 0.03 m per physics step:
    0 x-, 1 x+, 2 y-, 3 y+, 4 z-, 5 z+ (z- with ``force_down``). ``continuous``: Box(-1, 1, (3,)) float32, scaled
    to 0.0035 m per unit and physics step (z forced downward with ``force_down``). ``joints``: Box(-1, 1, (7,))
    float32, 0.1 rad per unit added to the commanded arm joint positions. The step sizes carry Gaussian noise
    (std 0.01 m, 0.0001 m, 0.002 rad). See :class:`~envs.kuka.Kuka`.

    ## Observation Space
    | observation | shape | content | bounds |
    |---|---|---|---|
    | ``ground_truth`` | (3,) float32 | gripper (x, y, z) minus target point (m; absolute if not relative_pos) | ±3 |
    | ``joints`` | (14,) float32 | joint positions, rad (arm 0-6, wrist 7, fingers 8-13; 9 and 12 are fixed) | ±2π |
    | ``joints_position`` | (17,) float32 | ``ground_truth`` then ``joints`` | ±3, ±2π |
    | ``pixels`` | (image_size, image_size, 3) uint8 | the camera image | [0, 255] |
    | ``pixels``, ``multi_view`` | (image_size, image_size, 6) uint8 | camera 1 (channels 0-2), camera 2 (3-5) | [0, 255] |

    The gripper position is the centre of mass of link 8 (finger A); the target point is the cap plus 0.28 m in z.

    ## Rewards
    Sparse: +1 per step in contact with the cap, -1 when the gripper is farther than ``max_distance`` from the
    target or the arm touches the table. Shaped (``shape_reward``): minus the distance (m) with discrete actions;
    otherwise +50 on success, -250 on failure, else minus the distance.

    ## Starting State
    The arm's rest pose, 500 settling physics steps with a zero action, then 5 random single-step moves.

    ## Episode End
    Terminates after 5 contact steps with the cap, on table contact, or after 5000 consecutive steps too far;
    truncated after 1001 steps (registered ``max_episode_steps``).

    ## Arguments
    :param observation: ``ground_truth``, ``pixels``, ``joints`` or ``joints_position``.
    :param control: ``discrete``, ``continuous`` or ``joints``.
    :param image_size: side of the square camera image (pixels).
    :param relative_pos: ground truth relative to the target point.
    :param random_target: draw the button position at every reset (also widens the workspace box).
    :param shape_reward: the shaped reward.
    :param force_down: discrete action 5 and continuous z moves go down (the original's default).
    :param max_distance: distance (m) from the target beyond which a step gets -1.
    :param physics_substeps: physics steps (1/240 s each) per env step, the command moving at each (the
        original called it ``action_repeat``; the run-level ``action_repeat`` repeats whole env steps instead).
    :param render_mode: ``rgb_array`` or None.
    :param gui: show the simulation in the pybullet GUI (needs a display).
    :param renderer: how ``pixels`` and ``rgb_array`` images are made: ``composite`` (default) draws the static
        scene once and, per image, only the moving bodies, the arm with low-polygon link meshes, merged by depth
        (:class:`KukaCompositeRenderer`; about 5x faster, mean difference under 1/255); ``pybullet`` renders the
        whole physics world with pybullet's tiny renderer every time (the reference). Physics is the same with both.
    :param multi_view: a second camera (``CAMERA_2``, the original's: from the +y side of the table, lower); the
        ``pixels`` observation and :meth:`render_views` are then both views stacked on the channel axis,
        ``(image_size, image_size, 6)``, camera 1 in channels 0-2. :meth:`render_image` and ``render()`` stay the
        first camera's RGB image (for videos), whatever ``multi_view``. Both renderers draw both views.
    :raises ValueError: an unknown observation, control, render mode or renderer, ``physics_substeps < 1``,
        ``max_distance <= 0`` or ``image_size < 36``.
    :raises TypeError: a ``multi_view`` that is not a bool.

    ## Version History
    v0: the original toolbox's KukaButtonGymEnv-v0, with the differences listed in ``envs/KUKA_DIFFERENCES.md``.
    """

    observation_kinds: ClassVar[tuple[str, ...]] = ("ground_truth", "pixels", "joints", "joints_position")
    controls: ClassVar[tuple[str, ...]] = ("discrete", "continuous", "joints")
    camera: ClassVar[Camera] = CAMERA
    task_class: ClassVar[type[ButtonTask]] = ButtonTask
    #: clip the commanded point to the small workspace when the target is fixed (the original's rule)
    small_workspace_when_fixed: ClassVar[bool] = True
    #: the original's joint damping in the inverse kinematics
    ik_damping: ClassVar[bool] = True

    def __init__(
        self,
        observation: str = "ground_truth",
        control: str = "discrete",
        image_size: int = 64,
        relative_pos: bool = True,
        random_target: bool = False,
        shape_reward: bool = False,
        force_down: bool = True,
        max_distance: float = 0.8,
        physics_substeps: int = 1,
        render_mode: str | None = None,
        gui: bool = False,
        renderer: str = "composite",
        multi_view: bool = False,
    ) -> None:
        if not isinstance(multi_view, (bool, np.bool_)):
            raise TypeError(f"multi_view must be true or false (a second camera view on the channel axis), got "
                            f"{multi_view!r}.")
        if renderer not in RENDERERS:
            raise ValueError(f"{type(self).__name__} cannot use renderer={renderer!r}; the choices are "
                             f"{', '.join(RENDERERS)}.")
        super().__init__(observation=observation, control=control, image_size=image_size, relative_pos=relative_pos,
                         random_target=random_target, shape_reward=shape_reward, render_mode=render_mode, gui=gui)
        EzPickle.__init__(self, observation=observation, control=control, image_size=image_size,
                          relative_pos=relative_pos, random_target=random_target, shape_reward=shape_reward,
                          force_down=force_down, max_distance=max_distance, physics_substeps=physics_substeps,
                          render_mode=render_mode, gui=gui, renderer=renderer, multi_view=multi_view)
        if physics_substeps < 1:
            raise ValueError(f"physics_substeps must be at least 1 physics step per env step, got {physics_substeps}.")
        if max_distance <= 0:
            raise ValueError(f"max_distance must be positive (m), got {max_distance}.")
        self.force_down = force_down
        self.max_distance = max_distance
        self.physics_substeps = physics_substeps
        self.renderer = renderer
        self.multi_view = bool(multi_view)
        #: the cameras of the images: the main one, and ``CAMERA_2`` with ``multi_view``
        self.cameras: tuple[Camera, ...] = (self.camera, CAMERA_2) if multi_view else (self.camera,)
        #: composite renderer of each camera, made on first use (see :meth:`composite_renderer`)
        self._kuka_renderers: dict[int, KukaCompositeRenderer] = {}
        #: (view, projection) matrices of each camera but the first, for ``renderer="pybullet"``
        self._view_matrices: dict[int, tuple[list[float], list[float]]] = {}
        self.robot = Kuka(self.sim, control=control, force_down=force_down,
                          small_workspace=self.small_workspace_when_fixed and not random_target,
                          ik_damping=self.ik_damping)
        self.task = self.task_class(self.sim, random_target=random_target, shape_reward=shape_reward,
                                    max_distance=max_distance, distance_shaping_only=control == "discrete")
        self.action_space = self.robot.action_space
        if observation == "pixels":
            shape = (image_size, image_size, 3 * len(self.cameras))
            self.observation_space = spaces.Box(0, 255, shape, dtype=np.uint8)
        else:
            low = {"ground_truth": [-GT_BOUND] * 3, "joints": [-JOINT_BOUND] * 14,
                   "joints_position": [-GT_BOUND] * 3 + [-JOINT_BOUND] * 14}[observation]
            high = -np.array(low, dtype=np.float32)
            self.observation_space = spaces.Box(-high, high, dtype=np.float32)
        self._settled: int | None = None  # pybullet state id of the settled world
        self._resets_in_world = 0  # resets since the pybullet world was built
        self._settled_command: tuple[list[float], list[float]] | None = None
        self._gripper: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self._steps = 0
        self._terminated = False

    # --- state ------------------------------------------------------------------------------------------------
    def ground_truth(self) -> np.ndarray:
        """The gripper position (m): centre of mass of link 8, shape ``(3,)``."""
        return np.array(self._gripper)

    def target_position(self) -> np.ndarray:
        """The current target point (m): the goal button's cap (or base) plus 0.28 m in z, shape ``(3,)``."""
        return self.task.target_position().copy()

    def srl_state(self) -> np.ndarray:
        if self.relative_pos:
            return (np.array(self._gripper) - self.task.target_position()).astype(np.float32)
        return np.array(self._gripper, dtype=np.float32)

    def _observe(self) -> np.ndarray:
        kind = self.observation_kind
        if kind == "ground_truth":
            return self.srl_state()
        if kind == "pixels":
            return self.render_views()
        joints = self.robot.joint_positions().astype(np.float32)
        if kind == "joints":
            return joints
        return np.concatenate([self.srl_state(), joints])

    # --- scene ------------------------------------------------------------------------------------------------
    def _build_scene(self) -> None:
        self.task.build()
        self.robot.load()
        self.robot.reset_pose()
        if self.sim.gui:
            distance, yaw, pitch, target = GUI_CAMERA
            self.sim.client.resetDebugVisualizerCamera(distance, yaw, pitch, list(target))

    def _sync_scene(self) -> None:
        """Nothing to do: the pybullet world is the state."""

    def _settle_step(self) -> None:
        self.robot.move((0.0,) * (7 if self.control == "joints" else 3))
        pybullet.stepSimulation(physicsClientId=self.sim.client_id)

    def _settle(self) -> None:
        """The 500 settling steps from the rest pose, simulated once per process and configuration.

        The settled joint states are the same for every instance of a configuration, so later instances (a vectorised
        env's copies, the checkers' second env) teleport the joints there instead of simulating again.
        """
        key = (type(self).__qualname__, self.control, self.sim.time_step, self.sim.solver_iterations)
        settled = _SETTLED_JOINTS.get(key)
        cid = self.sim.client_id
        articulated = ["robot"] + [f"button_{i}" for i in range(len(self.task.button_urdfs))]
        if settled is None:
            for _ in range(N_SETTLE_STEPS):
                self._settle_step()
            settled = {}
            for name in articulated:
                body = self.sim.body(name)
                states = pybullet.getJointStates(body, range(pybullet.getNumJoints(body, physicsClientId=cid)),
                                                 physicsClientId=cid)
                settled[name] = tuple((state[0], state[1]) for state in states)
            _SETTLED_JOINTS[key] = settled
        for name in articulated:  # also in the simulating instance, so that every instance starts from equal states
            body = self.sim.body(name)
            for joint, (position, velocity) in enumerate(settled[name]):
                pybullet.resetJointState(body, joint, position, velocity, physicsClientId=cid)

    def _restore_settled_world(self) -> None:
        """The world after the settling steps: settled on the first reset, restored on the next ones.

        When the task loads bodies at every reset, the world is built anew (a new pybullet client) every
        ``WORLD_REBUILD_INTERVAL`` resets, except in the GUI: pybullet frees the collision meshes of removed bodies
        only with their world (KukaRandButton grew by about 66 KB per reset), and an episode does not depend on
        the episodes before it in the same world (``tests/test_env_memory.py`` checks both).
        """
        if (self._settled is not None and self.task.loads_bodies_at_reset and not self.sim.gui
                and self._resets_in_world >= WORLD_REBUILD_INTERVAL):
            self._discard_world()
        if self._settled is None:
            if not self.sim.has_body("robot"):
                self._build_scene()
            self._settle()
            self._settled = self.sim.client.saveState()
            self._settled_command = self.robot.command_state()
            self._resets_in_world = 0
        else:
            self.task.clear()
        self.sim.client.restoreState(stateId=self._settled)
        assert self._settled_command is not None
        self.robot.restore_command(self._settled_command)
        self._resets_in_world += 1

    def _discard_world(self) -> None:
        """Close the pybullet world (and the renderer's copies of it); the next reset builds and settles a new one."""
        self.sim.close()
        self._close_renderers()
        self._settled = None
        self._settled_command = None

    # --- gymnasium API ----------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._restore_settled_world()
        self.task.reset(self.np_random)
        cid = self.sim.client_id
        for _ in range(N_RANDOM_ACTIONS_AT_INIT):
            self.robot.move(self.robot.random_delta(self.np_random))
            pybullet.stepSimulation(physicsClientId=cid)
        self.task.read_targets()
        self._gripper = self.robot.gripper_position()
        self._steps = 0
        self._terminated = False
        for renderer in self._kuka_renderers.values():
            renderer.invalidate()
        return self._observe(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self._terminated:
            gym.logger.warn("step() called after the episode terminated; call reset() first.")
        robot = self.robot
        cid = robot._cid
        self.task.before_step(self._steps, self.np_random)
        delta = robot.action_delta(action, self.np_random)
        for _ in range(self.physics_substeps):
            robot.move(delta)
            pybullet.stepSimulation(physicsClientId=cid)
        self._gripper = gripper = robot.gripper_position()
        contacts = pybullet.getContactPoints(bodyA=robot.uid, physicsClientId=cid)
        reward, terminated = self.task.evaluate(gripper, contacts)
        self._steps += 1
        self._terminated = terminated
        return self._observe(), reward, terminated, False, {}

    # --- images -----------------------------------------------------------------------------------------------
    def render_image(self) -> np.ndarray:
        """The first camera's view, uint8 of shape ``(image_size, image_size, 3)``, from the configured ``renderer``
        (with ``multi_view`` too: this is the image of videos and ``render()``; see :meth:`render_views`).

        Builds the scene on first use (and the composite renderer, whose render-only pybullet client is shared).
        """
        return self.render_view(0)

    def render_view(self, view: int) -> np.ndarray:
        """Camera ``view`` (0: ``camera``; 1: ``CAMERA_2``, with ``multi_view``), uint8
        ``(image_size, image_size, 3)``.

        :raises ValueError: no such camera (``view`` 1 without ``multi_view``).
        """
        if not 0 <= view < len(self.cameras):
            raise ValueError(f"{type(self).__name__} has {len(self.cameras)} camera(s) (multi_view="
                             f"{self.multi_view}); there is no view {view}.")
        if self.renderer == "pybullet":
            if view == 0:
                return super().render_image()
            self._update_scene()
            if view not in self._view_matrices:
                self._view_matrices[view] = self.sim.camera_matrices(self.cameras[view])
            return self.sim.render(*self._view_matrices[view], self.image_size)
        self._update_scene()
        return self.composite_renderer(view).render()

    def render_views(self) -> np.ndarray:
        """The ``pixels`` observation: every camera's view stacked on the channel axis, uint8
        ``(image_size, image_size, 3 * n_views)`` (channels ``3 v .. 3 v + 2`` are camera ``v``'s RGB); one view
        without ``multi_view``, two with it."""
        if len(self.cameras) == 1:
            return self.render_view(0)
        return np.concatenate([self.render_view(view) for view in range(len(self.cameras))], axis=2)

    def render_camera(self) -> np.ndarray:
        """The renderer alone: the first camera's image of the scene as it is (for benchmarks)."""
        if self.renderer == "pybullet":
            return super().render_camera()
        if not self.sim.has_body("robot"):
            return self.render_image()
        return self.composite_renderer().render()

    def composite_renderer(self, view: int = 0) -> KukaCompositeRenderer:
        """The composite renderer of camera ``view`` (made on first use; used by ``renderer="composite"``)."""
        if view not in self._kuka_renderers:
            matrices, projection = self.sim.camera_matrices(self.cameras[view])
            self._kuka_renderers[view] = KukaCompositeRenderer(
                self.sim, static=("plane", "table"), always_moving=("robot",), view=matrices, projection=projection,
                size=self.image_size)
        return self._kuka_renderers[view]

    def _close_renderers(self) -> None:
        for renderer in self._kuka_renderers.values():
            renderer.close()
        self._kuka_renderers = {}
        self._view_matrices = {}

    def close(self) -> None:
        super().close()
        self._close_renderers()
        self._settled = None
        self._settled_command = None


class KukaRandButtonEnv(KukaButtonEnv):
    """:class:`KukaButtonEnv` with clutter on the table and a ball pushed at step 11 (see :class:`RandButtonTask`).

    Episodes are truncated after 1001 steps. Version History: v0, the original's KukaRandButtonGymEnv-v0.
    """

    task_class = RandButtonTask


class KukaMovingButtonEnv(KukaButtonEnv):
    """:class:`KukaButtonEnv` with a button sliding along y (see :class:`MovingButtonTask`).

    Episodes are truncated after 1501 steps. Version History: v0, the original's KukaMovingButtonGymEnv-v0.
    """

    task_class = MovingButtonTask


class Kuka2ButtonEnv(KukaButtonEnv):
    """Press two buttons in order (see :class:`TwoButtonTask`).

    Defaults differ from :class:`KukaButtonEnv`: ``force_down=False`` (the arm must go up between the buttons) and
    ``max_distance=2``; the workspace box is always the large one and the inverse kinematics uses pybullet's default
    damping, as the original effectively did. Episodes are truncated after 1501 steps. Version History: v0, the
    original's Kuka2ButtonGymEnv-v0.
    """

    task_class = TwoButtonTask
    small_workspace_when_fixed = False
    ik_damping = False

    def __init__(
        self,
        observation: str = "ground_truth",
        control: str = "discrete",
        image_size: int = 64,
        relative_pos: bool = True,
        random_target: bool = False,
        shape_reward: bool = False,
        force_down: bool = False,
        max_distance: float = 2.0,
        physics_substeps: int = 1,
        render_mode: str | None = None,
        gui: bool = False,
        renderer: str = "composite",
        multi_view: bool = False,
    ) -> None:
        super().__init__(observation=observation, control=control, image_size=image_size, relative_pos=relative_pos,
                         random_target=random_target, shape_reward=shape_reward, force_down=force_down,
                         max_distance=max_distance, physics_substeps=physics_substeps,
                         render_mode=render_mode, gui=gui, renderer=renderer, multi_view=multi_view)

