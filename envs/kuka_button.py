"""The Kuka button family: push a button on a table with the Kuka arm (``envs/kuka.py``).

Behaviour follows the original toolbox (``environments/kuka_gym/kuka_*button_gym_env.py``); every intended
difference is listed in ``envs/KUKA_DIFFERENCES.md``. Each module-level Task owns the scene (table, buttons, clutter),
the target point and the reward; the env classes only assemble a :class:`~envs.kuka.Kuka` with a Task.

The reset is the original's (500 settling physics steps with the arm holding still, then 5 random single-step
moves), but the arm settles the same way in every episode: the settled joint states are simulated once per process
and configuration, and each env saves its settled world once and restores it (pybullet ``restoreState``) at every
reset. :meth:`KukaButtonEnv.step` makes three pybullet calls per physics step (inverse kinematics, motor targets,
step) and two per env step (the gripper's link state, the arm's contact points), and renders only for ``pixels``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils import EzPickle

from envs.base import SRLEnv
from envs.kuka import Kuka
from envs.sim import Camera, Simulation, pybullet

MAX_STEPS = 1001  # the original ends an episode when its step counter exceeds 1000
MAX_STEPS_LONG = 1501  # Kuka2Button and KukaMovingButton: counter > 1500
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

#: (env class, control, time step, solver iterations) -> body name -> (position, velocity) of each joint once settled
_SETTLED_JOINTS: dict[tuple[str, str, float, int], dict[str, tuple[tuple[float, float], ...]]] = {}

CAMERA = Camera(target=(0.316, -0.2, -0.1), distance=1.1, yaw=145.0, pitch=-36.0, fov=60.0, near=0.1, far=100.0)
GUI_CAMERA = (1.3, 180.0, -41.0, (0.52, -0.2, -0.33))  # distance (m), yaw, pitch (degrees), target (m)


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
        """Which button caps and whether the table the arm touches, from ``getContactPoints(bodyA=arm)``."""
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


@functools.lru_cache(maxsize=None)
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
    :param action_repeat: physics steps per env step, the command moving at each (the original's
        ``action_repeat``; the run-level ``action_repeat`` repeats whole env steps instead).
    :param render_mode: ``rgb_array`` or None.
    :param gui: show the simulation in the pybullet GUI (needs a display).

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
        action_repeat: int = 1,
        render_mode: str | None = None,
        gui: bool = False,
    ) -> None:
        super().__init__(observation=observation, control=control, image_size=image_size, relative_pos=relative_pos,
                         random_target=random_target, shape_reward=shape_reward, render_mode=render_mode, gui=gui)
        EzPickle.__init__(self, observation=observation, control=control, image_size=image_size,
                          relative_pos=relative_pos, random_target=random_target, shape_reward=shape_reward,
                          force_down=force_down, max_distance=max_distance, action_repeat=action_repeat,
                          render_mode=render_mode, gui=gui)
        if action_repeat < 1:
            raise ValueError(f"action_repeat must be at least 1 physics step per env step, got {action_repeat}.")
        if max_distance <= 0:
            raise ValueError(f"max_distance must be positive (m), got {max_distance}.")
        self.force_down = force_down
        self.max_distance = max_distance
        self.action_repeat = action_repeat
        self.robot = Kuka(self.sim, control=control, force_down=force_down,
                          small_workspace=self.small_workspace_when_fixed and not random_target,
                          ik_damping=self.ik_damping)
        self.task = self.task_class(self.sim, random_target=random_target, shape_reward=shape_reward,
                                    max_distance=max_distance, distance_shaping_only=control == "discrete")
        self.action_space = self.robot.action_space
        if observation == "pixels":
            self.observation_space = self._pixel_space()
        else:
            low = {"ground_truth": [-GT_BOUND] * 3, "joints": [-JOINT_BOUND] * 14,
                   "joints_position": [-GT_BOUND] * 3 + [-JOINT_BOUND] * 14}[observation]
            high = -np.array(low, dtype=np.float32)
            self.observation_space = spaces.Box(-high, high, dtype=np.float32)
        self._settled: int | None = None  # pybullet state id of the settled world
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
            return self.render_image()
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
        """The world after the settling steps: settled on the first reset, restored on the next ones."""
        if self._settled is None:
            if not self.sim.has_body("robot"):
                self._build_scene()
            self._settle()
            self._settled = self.sim.client.saveState()
            self._settled_command = self.robot.command_state()
        else:
            self.task.clear()
        self.sim.client.restoreState(stateId=self._settled)
        assert self._settled_command is not None
        self.robot.restore_command(self._settled_command)

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
        return self._observe(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self._terminated:
            gym.logger.warn("step() called after the episode terminated; call reset() first.")
        robot = self.robot
        cid = robot._cid
        self.task.before_step(self._steps, self.np_random)
        delta = robot.action_delta(action, self.np_random)
        for _ in range(self.action_repeat):
            robot.move(delta)
            pybullet.stepSimulation(physicsClientId=cid)
        self._gripper = gripper = robot.gripper_position()
        contacts = pybullet.getContactPoints(bodyA=robot.uid, physicsClientId=cid)
        reward, terminated = self.task.evaluate(gripper, contacts)
        self._steps += 1
        self._terminated = terminated
        return self._observe(), reward, terminated, False, {}

    def close(self) -> None:
        super().close()
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
        action_repeat: int = 1,
        render_mode: str | None = None,
        gui: bool = False,
    ) -> None:
        super().__init__(observation=observation, control=control, image_size=image_size, relative_pos=relative_pos,
                         random_target=random_target, shape_reward=shape_reward, force_down=force_down,
                         max_distance=max_distance, action_repeat=action_repeat, render_mode=render_mode, gui=gui)
