"""The Kuka iiwa arm with its two-finger gripper (pybullet_data ``kuka_iiwa/kuka_with_gripper2.sdf``).

The robot half of the Kuka button family (``envs/kuka_button.py`` holds the tasks): the rest pose, the three control
modes and their action spaces, the inverse kinematics to a commanded end-effector point clipped to a workspace box,
the motors, and the readouts (gripper position, joint positions). Behaviour follows the original toolbox
(``environments/kuka_gym/kuka.py``); ``envs/KUKA_DIFFERENCES.md`` lists every intended difference.

The hot path (one call of :meth:`Kuka.move` per physics step) calls ``pybullet`` functions directly with the client
id, keeps the commanded point as Python floats and sends the seven arm motors in one ``setJointMotorControlArray``:
the per-joint speed limit (``maxVelocity``), which only ``setJointMotorControl2`` accepts, is set once per episode
and pybullet keeps it while later commands change the targets.

The fast image renderer (``renderer="composite"`` in ``envs/kuka_button.py``) draws the arm with low-polygon copies of
its link and finger meshes (``envs/assets/kuka_lowpoly/``, 1,967 triangles instead of 15,434): visual geometry
only, the physics keeps pybullet_data's collision shapes. :func:`write_lowpoly_meshes` makes them from pybullet_data's
meshes (``python -m envs.kuka`` rewrites them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces

from envs.sim import ASSETS_DIR, Simulation, pybullet, pybullet_data

KUKA_SDF = "kuka_iiwa/kuka_with_gripper2.sdf"
BASE_POSITION = (-0.1, 0.0, -0.15)  # m
#: the 14 joints: 7 arm joints, the wrist rotation (7), then the two fingers (8-13; 9 and 12 are fixed joints)
N_JOINTS = 14
ARM_JOINTS = tuple(range(7))
ALL_JOINTS = tuple(range(N_JOINTS))
#: the original's initial joint positions (rad), the arm's rest pose
REST_POSE = (0.006418, 0.113184, -0.011401, -1.289317, 0.005379, 1.737684, -0.006539, 0.000048, -0.299912, 0.0,
             -0.000043, 0.299960, 0.0, -0.000200)
#: arm joint limits of the SDF (rad), used to clip joint targets
ARM_LIMITS = ((-2.96706, 2.96706), (-2.0944, 2.0944), (-2.96706, 2.96706), (-2.0944, 2.0944), (-2.96706, 2.96706),
              (-2.0944, 2.0944), (-3.05433, 3.05433))
EE_LINK = 6  # the inverse kinematics moves this link
GRIPPER_LINK = 8  # finger A: its centre of mass is the ground truth
INITIAL_EE_POSITION = (0.537, 0.0, 0.5)  # m, the commanded point after a reset
EE_EULER = (0.0, -math.pi, 0.0)  # the gripper points down
IK_DAMPING = (1e-5,) * N_JOINTS
#: one damped-least-squares step from the current joints per call, as the original's pybullet (1.8.6) computed; since
#: mid-2018 pybullet iterates up to 20 times by default. Solved again at every physics step, it converges over time.
IK_ITERATIONS = 1
#: the commanded point is clipped to this box (m): ``small`` when the target is fixed, ``large`` otherwise
WORKSPACE_SMALL = ((0.50, 0.65), (-0.17, 0.22), (0.0, 0.5))
WORKSPACE_LARGE = ((0.35, 0.65), (-0.30, 0.30), (0.0, 0.5))
ARM_FORCE = 200.0  # N m
ARM_MAX_VELOCITY = 0.35  # rad/s
ARM_POSITION_GAIN, ARM_VELOCITY_GAIN = 0.3, 1.0
#: (joint, target position, force) of the gripper motors: wrist angle 0, fingers closed
GRIPPER_MOTORS = ((7, 0.0, 200.0), (8, 0.0, 2.0), (11, 0.0, 2.5), (10, 0.0, 2.0), (13, 0.0, 2.0))

N_DISCRETE_ACTIONS = 6
DELTA_V = 0.03  # m per physics step, discrete actions
DELTA_V_CONTINUOUS = 0.0035  # m per physics step and unit of continuous action
DELTA_THETA = 0.1  # rad per physics step and unit of joint action
NOISE_STD = 0.01  # m, Gaussian noise on DELTA_V (one draw per env step)
NOISE_STD_CONTINUOUS = 0.0001  # m
NOISE_STD_JOINTS = 0.002  # rad
#: discrete action -> (axis, sign): 0 x-, 1 x+, 2 y-, 3 y+, 4 z-, 5 z+ (z- with ``force_down``)
DISCRETE_MOVES = ((0, -1.0), (0, 1.0), (1, -1.0), (1, 1.0), (2, -1.0), (2, 1.0))

_ZEROS7 = (0.0,) * 7
_FORCES7 = (ARM_FORCE,) * 7
_KP7 = (ARM_POSITION_GAIN,) * 7
_KD7 = (ARM_VELOCITY_GAIN,) * 7


class Kuka:
    """The Kuka arm: loads itself into a :class:`~envs.sim.Simulation`, moves, and reports its state.

    Controls (``control``):

    - ``discrete``: Discrete(6), moves the commanded end-effector point by ``0.03 + N(0, 0.01)`` m along one axis
      (0 x-, 1 x+, 2 y-, 3 y+, 4 z-, 5 z+, or z- again with ``force_down``).
    - ``continuous``: Box(-1, 1, (3,)), moves the commanded point by ``a * (0.0035 + N(0, 0.0001))`` m (the z move
      is forced downward with ``force_down``).
    - ``joints``: Box(-1, 1, (7,)), moves the seven commanded arm joint positions by ``a * (0.1 + N(0, 0.002))``
      rad, clipped to the joint limits.

    The step-size noise is drawn once per env step; every physics step of that step moves the command again.
    Position controls solve the inverse kinematics of link 6 toward the commanded point (clipped to the workspace
    box) with the gripper pointing down; the arm motors then follow at most 0.35 rad/s per joint, so the command can
    run ahead of the arm.

    :param sim: the simulation the arm lives in.
    :param control: ``discrete``, ``continuous`` or ``joints``.
    :param force_down: discrete action 5 moves down instead of up; continuous z moves are made downward.
    :param small_workspace: clip the commanded point to ``WORKSPACE_SMALL`` instead of ``WORKSPACE_LARGE``.
    :param ik_damping: pass the original's joint damping (1e-5) to the inverse kinematics; False solves it with
        pybullet's default damping and no null space, as the original's 2-button env effectively did (pybullet
        ignored its 7-entry null-space lists).
    """

    def __init__(
        self,
        sim: Simulation,
        control: str = "discrete",
        force_down: bool = True,
        small_workspace: bool = True,
        ik_damping: bool = True,
    ) -> None:
        self.sim = sim
        self.control = control
        self.force_down = force_down
        self.workspace = WORKSPACE_SMALL if small_workspace else WORKSPACE_LARGE
        self.ik_damping = ik_damping
        self.uid = -1
        self._cid = -1
        self._orientation: tuple[float, ...] = (0.0, 0.0, 0.0, 1.0)
        self._ee_target = list(INITIAL_EE_POSITION)
        self._joint_target = list(REST_POSE[:7])

    # --- spaces -----------------------------------------------------------------------------------------------
    @property
    def action_space(self) -> spaces.Space:
        """The action space of the control mode (continuous ones are float32 in [-1, 1], scaled here)."""
        if self.control == "discrete":
            return spaces.Discrete(N_DISCRETE_ACTIONS)
        return spaces.Box(-1.0, 1.0, (3 if self.control == "continuous" else 7,), dtype=np.float32)

    # --- setup ------------------------------------------------------------------------------------------------
    def load(self) -> None:
        """Load the arm at ``BASE_POSITION`` and register it in the simulation as ``robot``."""
        self.uid = self.sim.load_sdf("robot", KUKA_SDF, BASE_POSITION)
        self._cid = self.sim.client_id
        self._orientation = tuple(pybullet.getQuaternionFromEuler(EE_EULER))

    def reset_pose(self) -> None:
        """Teleport the joints to the rest pose and reset the commands (start of the settling steps)."""
        for joint, angle in enumerate(REST_POSE):
            pybullet.resetJointState(self.uid, joint, angle, physicsClientId=self._cid)
        self.reset_command()

    def reset_command(self) -> None:
        """Command the rest targets: the initial end-effector point (or the rest pose), gripper closed.

        Sends every motor's parameters, including the arm's speed limit, which later :meth:`move` calls keep.
        """
        self._ee_target = list(INITIAL_EE_POSITION)
        self._joint_target = list(REST_POSE[:7])
        self._send_all(self._arm_targets())

    def _send_all(self, targets: Sequence[float]) -> None:
        """Send every motor's target and parameters; :meth:`move` then only updates the arm targets."""
        for joint in ARM_JOINTS:
            pybullet.setJointMotorControl2(
                self.uid, joint, pybullet.POSITION_CONTROL, targetPosition=targets[joint], targetVelocity=0.0,
                force=ARM_FORCE, maxVelocity=ARM_MAX_VELOCITY, positionGain=ARM_POSITION_GAIN,
                velocityGain=ARM_VELOCITY_GAIN, physicsClientId=self._cid,
            )
        for joint, target, force in GRIPPER_MOTORS:
            pybullet.setJointMotorControl2(self.uid, joint, pybullet.POSITION_CONTROL, targetPosition=target,
                                           force=force, physicsClientId=self._cid)

    def command_state(self) -> tuple[list[float], list[float]]:
        """The commanded end-effector point and joint targets (restored with :meth:`restore_command`)."""
        return list(self._ee_target), list(self._joint_target)

    def restore_command(self, state: tuple[list[float], list[float]]) -> None:
        """Put back a command saved by :meth:`command_state` (after ``restoreState``) and resend every motor."""
        self._ee_target, self._joint_target = list(state[0]), list(state[1])
        self._send_all(self._arm_targets())

    # --- actions ----------------------------------------------------------------------------------------------
    def action_delta(self, action: Any, np_random: np.random.Generator) -> tuple[float, ...]:
        """The command change of one physics step for ``action``: (dx, dy, dz) in m, or 7 joint deltas in rad.

        Draws the step-size noise from ``np_random``.
        """
        if self.control == "discrete":
            axis, sign = DISCRETE_MOVES[int(action)]
            if axis == 2 and self.force_down:
                sign = -1.0
            step = sign * (DELTA_V + np_random.normal(0.0, NOISE_STD))
            return (step, 0.0, 0.0) if axis == 0 else (0.0, step, 0.0) if axis == 1 else (0.0, 0.0, step)
        values = action.tolist() if isinstance(action, np.ndarray) else list(action)  # floats: cheaper than numpy
        if self.control == "continuous":
            scale = DELTA_V_CONTINUOUS + np_random.normal(0.0, NOISE_STD_CONTINUOUS)
            dx, dy, dz = (min(max(v, -1.0), 1.0) * scale for v in values)
            return dx, dy, -abs(dz) if self.force_down else dz
        scale = DELTA_THETA + np_random.normal(0.0, NOISE_STD_JOINTS)
        return tuple(min(max(v, -1.0), 1.0) * scale for v in values)

    def random_delta(self, np_random: np.random.Generator) -> tuple[float, ...]:
        """A random command change for the moves after a reset.

        Discrete: one random axis and sign, 0.03 m (up is possible even with ``force_down``). Continuous: a random
        unit direction times 0.0035 m. Joints: a random unit direction in joint space times 0.1 rad.
        """
        if self.control == "discrete":
            axis, sign = DISCRETE_MOVES[int(np_random.integers(N_DISCRETE_ACTIONS))]
            delta = [0.0, 0.0, 0.0]
            delta[axis] = sign * DELTA_V
            return tuple(delta)
        direction = np_random.normal(size=3 if self.control == "continuous" else 7)
        direction /= max(float(np.linalg.norm(direction)), 1e-12)
        return tuple((direction * (DELTA_V_CONTINUOUS if self.control == "continuous" else DELTA_THETA)).tolist())

    def move(self, delta: Sequence[float]) -> None:
        """Move the command by ``delta`` (clipped to the workspace or the joint limits) and send it to the motors.

        Call once per physics step; the position controls solve the inverse kinematics from the current joints.
        """
        if self.control == "joints":
            self._joint_target = [min(max(t + d, lo), hi) for t, d, (lo, hi) in
                                  zip(self._joint_target, delta, ARM_LIMITS)]
        else:
            self._ee_target = [min(max(t + d, lo), hi) for t, d, (lo, hi) in
                               zip(self._ee_target, delta, self.workspace)]
        self._send_arm(self._arm_targets())

    def _arm_targets(self) -> Sequence[float]:
        """The seven arm joint targets (rad) of the current command."""
        if self.control == "joints":
            return self._joint_target
        if self.ik_damping:
            solution = pybullet.calculateInverseKinematics(
                self.uid, EE_LINK, self._ee_target, self._orientation, jointDamping=IK_DAMPING,
                maxNumIterations=IK_ITERATIONS, physicsClientId=self._cid,
            )
        else:
            solution = pybullet.calculateInverseKinematics(self.uid, EE_LINK, self._ee_target, self._orientation,
                                                           maxNumIterations=IK_ITERATIONS, physicsClientId=self._cid)
        return solution[:7]

    def _send_arm(self, targets: Sequence[float]) -> None:
        pybullet.setJointMotorControlArray(
            self.uid, ARM_JOINTS, pybullet.POSITION_CONTROL, targetPositions=targets, targetVelocities=_ZEROS7,
            forces=_FORCES7, positionGains=_KP7, velocityGains=_KD7, physicsClientId=self._cid,
        )

    # --- readouts ---------------------------------------------------------------------------------------------
    @property
    def ee_target(self) -> tuple[float, float, float]:
        """The commanded end-effector point (m)."""
        return tuple(self._ee_target)  # type: ignore[return-value]

    @property
    def joint_target(self) -> tuple[float, ...]:
        """The commanded arm joint positions (rad) of the ``joints`` control."""
        return tuple(self._joint_target)

    def gripper_position(self) -> tuple[float, float, float]:
        """World position (m) of the gripper link's centre of mass, as of the last physics step."""
        return pybullet.getLinkState(self.uid, GRIPPER_LINK, physicsClientId=self._cid)[0]

    def joint_positions(self) -> np.ndarray:
        """The 14 joint positions (rad; the fixed joints 9 and 12 read 0), shape ``(14,)``."""
        states = pybullet.getJointStates(self.uid, ALL_JOINTS, physicsClientId=self._cid)
        return np.array([state[0] for state in states])


# --- low-polygon visual meshes ----------------------------------------------------------------------------------------
#: the arm's low-polygon visual meshes: ``link_0.obj`` ... ``link_7.obj`` and the four fingers' ``finger_*.obj``
LOWPOLY_DIR = ASSETS_DIR / "kuka_lowpoly"
#: edge of the clustering grid (m) and cosine of the crease angle that keeps normals apart (see :func:`simplify_mesh`)
LOWPOLY_CELL = 0.04
LOWPOLY_CREASE_COS = 0.7
_LINK_MTL = "newmtl None\nNs 0\nKa 0 0 0\nKd 0.8 0.8 0.8\nKs 0.8 0.8 0.8\nd 1\nillum 2\n"  # pybullet_data's values


#: a mesh thinner than this many grid cells along an axis gets a finer grid (the flange, the fingers)
LOWPOLY_CELLS_PER_THICKNESS = 3
#: pybullet_data's finger meshes (binary STL)
FINGER_MESHES = ("finger_base_left", "finger_base_right", "finger_tip_left", "finger_tip_right")


#: pybullet_data's textured sphere (KukaRandButton's ball: 1,856 triangles) and its texture; its low-polygon stand-in
#: ``ball.obj`` is a UV sphere with the same texture mapping, textured at run time (see :func:`lowpoly_texture`)
BALL_MESH, BALL_TEXTURE = "textured_sphere_smooth.obj", "checker_huge.gif"
BALL_SEGMENTS, BALL_RINGS = 16, 10


def lowpoly_mesh(mesh_file: str) -> str:
    """The low-polygon replacement of a visual mesh (a path): the arm's links and fingers, the textured ball; else
    ``mesh_file``."""
    path = Path(mesh_file)
    candidate = None
    if path.parent.name == "meshes" and path.parent.parent.name == "kuka_iiwa":
        candidate = LOWPOLY_DIR / f"{path.stem}.obj"
    elif path.name == BALL_MESH and path.parent == Path(pybullet_data.getDataPath()):
        candidate = LOWPOLY_DIR / "ball.obj"
    return str(candidate) if candidate is not None and candidate.exists() else mesh_file


def lowpoly_texture(mesh_file: str) -> str | None:
    """The texture image (a path) to put on a body drawn with low-polygon mesh ``mesh_file``, or None."""
    if Path(mesh_file) == LOWPOLY_DIR / "ball.obj":
        return str(Path(pybullet_data.getDataPath()) / BALL_TEXTURE)
    return None


def uv_sphere(segments: int, rings: int) -> str:
    """A unit sphere as OBJ text, mapped like pybullet_data's ``textured_sphere_smooth.obj``.

    That mesh's texture coordinates are ``u = 0.5 - atan2(z, x) / 2 pi`` and ``v = 0.5 + asin(y) / pi`` (poles on
    the y axis, seam at x < 0, z = 0); this sphere has ``segments`` columns around y and ``rings`` rows from pole
    to pole, with smooth normals, using material ``None`` of ``ball.mtl``.
    """
    lines = ["mtllib ball.mtl", "usemtl None"]
    for ring in range(rings + 1):
        latitude = math.pi * (ring / rings - 0.5)
        for column in range(segments + 1):  # the seam column twice, with u = 1 and u = 0
            angle = math.pi - 2.0 * math.pi * column / segments  # atan2(z, x), from pi down to -pi
            x, y, z = math.cos(latitude) * math.cos(angle), math.sin(latitude), math.cos(latitude) * math.sin(angle)
            lines.append(f"v {x:.6f} {y:.6f} {z:.6f}")
            lines.append(f"vn {x:.6f} {y:.6f} {z:.6f}")
            lines.append(f"vt {0.5 - angle / (2.0 * math.pi):.6f} {ring / rings:.6f}")
    for ring in range(rings):
        for column in range(segments):
            a = ring * (segments + 1) + column + 1
            b, c, d = a + 1, a + segments + 1, a + segments + 2
            corners = ([(a, b, d), (a, d, c)] if 0 < ring < rings - 1 else
                       [(a, b, d)] if ring == 0 else [(a, d, c)])  # one triangle per column at the poles
            lines.extend("f " + " ".join(f"{i}/{i}/{i}" for i in triangle) for triangle in corners)
    return "\n".join(lines) + "\n"


def read_stl(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The triangles of a binary STL file, as :func:`read_obj` returns them (one normal per facet).

    :raises ValueError: a file whose size does not match its triangle count (an ASCII STL, say).
    """
    data = Path(path).read_bytes()
    count = int(np.frombuffer(data, dtype="<u4", count=1, offset=80)[0])
    if len(data) != 84 + 50 * count:
        raise ValueError(f"{path}: not a binary STL file of {count} triangles")
    record = np.dtype([("normal", "<f4", 3), ("corners", "<f4", (3, 3)), ("attribute", "<u2")])
    facets = np.frombuffer(data, dtype=record, count=count, offset=84)
    vertices, index = np.unique(facets["corners"].reshape(-1, 3).astype(np.float64), axis=0, return_inverse=True)
    normals = facets["normal"].astype(np.float64)
    corners = np.stack([index.reshape(-1, 3), np.repeat(np.arange(count), 3).reshape(-1, 3)], axis=-1)
    return vertices, normals, corners


def read_obj(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The triangles of a Wavefront OBJ file with per-corner normals (``f v//vn``; polygons are fanned).

    :return: vertices (n, 3) and normals (k, 3), float64, and triangles (m, 3, 2) int64 of (vertex, normal) indices.
    :raises ValueError: a face without normal indices.
    """
    vertices, normals, triangles = [], [], []
    with open(path) as stream:
        for line in stream:
            fields = line.split()
            if not fields:
                continue
            if fields[0] == "v":
                vertices.append([float(x) for x in fields[1:4]])
            elif fields[0] == "vn":
                normals.append([float(x) for x in fields[1:4]])
            elif fields[0] == "f":
                corners = []
                for corner in fields[1:]:
                    parts = corner.split("/")
                    if len(parts) < 3 or not parts[2]:
                        raise ValueError(f"{path}: face corner {corner!r} has no normal index")
                    corners.append((int(parts[0]) - 1, int(parts[2]) - 1))
                triangles.extend((corners[0], corners[i], corners[i + 1]) for i in range(1, len(corners) - 1))
    return np.array(vertices), np.array(normals), np.array(triangles, dtype=np.int64).reshape(-1, 3, 2)


def simplify_mesh(vertices: np.ndarray, normals: np.ndarray, triangles: np.ndarray, cell: float,
                  crease_cos: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertex-clustering simplification that keeps creases.

    The vertices are grouped on a grid of ``cell`` metres; each occupied cell becomes one position, the point that
    minimises the summed squared distances to the planes of the original triangles touching the cell (area-weighted
    quadrics, slightly pulled toward the cell's centroid). Within a cell, corners whose normals differ by more than
    the crease angle keep separate normals (same position, so no cracks). Triangles whose corners fall into fewer
    than three cells, and duplicates, are dropped.

    :param vertices: (n, 3) positions (m). :param normals: (k, 3) normals.
    :param triangles: (m, 3, 2) (vertex, normal) indices of each corner.
    :param cell: grid edge (m). :param crease_cos: corners with normals closer than this cosine share a normal.
    :return: vertices (p, 3), unit normals (p, 3) (one per vertex) and triangles (q, 3) of vertex indices.
    """
    cells = np.floor(vertices / cell).astype(np.int64)
    _, cell_of_vertex = np.unique(cells, axis=0, return_inverse=True)
    cell_of_vertex = cell_of_vertex.ravel()
    n_cells = int(cell_of_vertex.max()) + 1
    counts = np.bincount(cell_of_vertex, minlength=n_cells)
    centroid = np.zeros((n_cells, 3))
    np.add.at(centroid, cell_of_vertex, vertices)
    centroid /= counts[:, None]
    # quadric-optimal position of each cell
    p0, p1, p2 = (vertices[triangles[:, k, 0]] for k in range(3))
    face_normal = np.cross(p1 - p0, p2 - p0)
    area = np.linalg.norm(face_normal, axis=1)
    face_normal /= np.maximum(area, 1e-30)[:, None]
    offset = -(face_normal * p0).sum(axis=1)
    quadric = np.zeros((n_cells, 3, 3))
    linear = np.zeros((n_cells, 3))
    outer = area[:, None, None] * face_normal[:, :, None] * face_normal[:, None, :]
    for k in range(3):
        owner = cell_of_vertex[triangles[:, k, 0]]
        np.add.at(quadric, owner, outer)
        np.add.at(linear, owner, -(area * offset)[:, None] * face_normal)
    pull = (1e-3 * np.trace(quadric, axis1=1, axis2=2) + 1e-12)[:, None, None] * np.eye(3)
    position = np.linalg.solve(quadric + pull, (linear + np.einsum("kij,kj->ki", pull, centroid))[..., None])[..., 0]
    # corners grouped by (cell, normal direction)
    corners = triangles.reshape(-1, 2)
    corner_normal = normals[corners[:, 1]] / np.linalg.norm(normals[corners[:, 1]], axis=1, keepdims=True)
    corner_cell = cell_of_vertex[corners[:, 0]]
    group = np.empty(len(corners), dtype=np.int64)
    group_normal: list[np.ndarray] = []
    group_cell: list[int] = []
    order = np.argsort(corner_cell, kind="stable")
    for chunk in np.split(order, np.flatnonzero(np.diff(corner_cell[order])) + 1):
        sums: list[np.ndarray] = []
        first = len(group_normal)
        for index in chunk:
            normal = corner_normal[index]
            for k, total in enumerate(sums):
                if total @ normal > crease_cos * np.linalg.norm(total):
                    sums[k] = total + normal
                    group[index] = first + k
                    break
            else:
                sums.append(normal.copy())
                group[index] = first + len(sums) - 1
        group_normal.extend(total / np.linalg.norm(total) for total in sums)
        group_cell.extend([int(corner_cell[chunk[0]])] * len(sums))
    group_cells = np.array(group_cell)
    faces = group.reshape(-1, 3)
    face_cells = group_cells[faces]
    keep = ((face_cells[:, 0] != face_cells[:, 1]) & (face_cells[:, 1] != face_cells[:, 2])
            & (face_cells[:, 0] != face_cells[:, 2]))
    faces, face_cells = faces[keep], face_cells[keep]
    # one triangle per (cells, orientation): rotate each so that its smallest cell comes first
    shift = np.argmin(face_cells, axis=1)
    rows = np.arange(len(faces))[:, None]
    canonical = face_cells[rows, (np.arange(3)[None, :] + shift[:, None]) % 3]
    _, first_seen = np.unique(canonical, axis=0, return_index=True)
    faces = faces[np.sort(first_seen)]
    used = np.unique(faces)
    remap = np.full(len(group_normal), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return position[group_cells[used]], np.array(group_normal)[used], remap[faces]


def write_obj(path: str | Path, vertices: np.ndarray, normals: np.ndarray, faces: np.ndarray, mtl: str) -> None:
    """Write a triangle mesh with one normal per vertex (``f i//i j//j k//k``) that uses material ``None`` of ``mtl``."""
    with open(path, "w") as out:
        out.write(f"mtllib {mtl}\nusemtl None\n")
        out.writelines(f"v {x:.6f} {y:.6f} {z:.6f}\n" for x, y, z in vertices)
        out.writelines(f"vn {x:.5f} {y:.5f} {z:.5f}\n" for x, y, z in normals)
        out.writelines(f"f {a + 1}//{a + 1} {b + 1}//{b + 1} {c + 1}//{c + 1}\n" for a, b, c in faces)


def write_lowpoly_meshes(directory: Path = LOWPOLY_DIR, cell: float = LOWPOLY_CELL,
                         crease_cos: float = LOWPOLY_CREASE_COS) -> dict[str, tuple[int, int]]:
    """Write low-polygon copies of pybullet_data's Kuka link and finger meshes (and their material) to ``directory``.

    Each mesh is simplified (:func:`simplify_mesh`) on a grid of ``cell`` metres, or of a third of its smallest
    extent if that is smaller (``LOWPOLY_CELLS_PER_THICKNESS``), so that thin parts keep their shape.

    :return: file name -> (triangles before, triangles after).
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "link.mtl").write_text(_LINK_MTL)
    source = Path(pybullet_data.getDataPath()) / "kuka_iiwa" / "meshes"
    counts = {}
    for name in [f"link_{link}.obj" for link in range(8)] + [f"{finger}.stl" for finger in FINGER_MESHES]:
        vertices, normals, triangles = (read_obj if name.endswith(".obj") else read_stl)(source / name)
        grid = min(cell, float(np.ptp(vertices, axis=0).min()) / LOWPOLY_CELLS_PER_THICKNESS)
        small = simplify_mesh(vertices, normals, triangles, grid, crease_cos)
        write_obj(directory / f"{Path(name).stem}.obj", *small, mtl="link.mtl")
        counts[name] = (len(triangles), len(small[2]))
    (directory / "ball.mtl").write_text(_LINK_MTL)
    (directory / "ball.obj").write_text(uv_sphere(BALL_SEGMENTS, BALL_RINGS))
    counts[BALL_MESH] = (len(read_obj(Path(pybullet_data.getDataPath()) / BALL_MESH)[2]),
                         2 * BALL_SEGMENTS * (BALL_RINGS - 1))
    return counts


if __name__ == "__main__":
    for mesh, (before, after) in write_lowpoly_meshes().items():
        print(f"{mesh}: {before} -> {after} triangles")
