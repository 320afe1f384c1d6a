"""The mobile robot family: a car teleported on a 4 m x 4 m arena toward a target.

Behaviour follows the original toolbox (``environments/mobile_robot/``); the differences are listed in the README.
The robot never rotates and is teleported, so without a camera observation the env never starts pybullet: the
scene only exists to be rendered. The scene is described once (:meth:`MobileRobotEnv.camera_scene`) and drawn either
by the composite renderer (the default: pieces rendered once per process, composited per image) or by pybullet in
the env's own client (``renderer="pybullet"``, the reference).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from envs import MOBILE_ROBOT_STEPS as MAX_STEPS  # noqa: F401  (the episode limit lives with the ids)
from envs.base import SRLEnv
from envs.rendering import Body, MovingBody, Scene, StaticBody
from envs.sim import Camera

ARENA_SIZE = 4.0  # m, the arena is [0, 4] x [0, 4]
DELTA_POS = 0.1  # m moved per discrete action (and per unit of continuous action)
REWARD_DIST_THRESHOLD = 0.4  # m, +1 when the robot is this close to the target
ROBOT_WIDTH, ROBOT_LENGTH = 0.2, 0.65  # m
WALL_MARGIN = 0.1  # m
X_MIN, X_MAX = WALL_MARGIN + ROBOT_LENGTH / 2, ARENA_SIZE - WALL_MARGIN - ROBOT_LENGTH / 2  # 0.425, 3.575
Y_MIN, Y_MAX = WALL_MARGIN + ROBOT_WIDTH / 2, ARENA_SIZE - WALL_MARGIN - ROBOT_WIDTH / 2  # 0.2, 3.8
START_HALF_RANGE = 4.0 / 3.0  # m, the robot starts at 2 + U(-4/3, 4/3) on each axis
TARGET_LOW, TARGET_HIGH = 0.4, 3.6  # m, range of random targets
# heights (m) of what the camera sees of a moving body; bodies are moved by their centre of mass, so the robot's frame
# is 5 cm below the floor (chassis top at 3 cm) and the disc is half sunk (top at 1.5 cm)
ROBOT_REFERENCE_HEIGHT = 0.03
TARGET_REFERENCE_HEIGHT = 0.015

RED, GREEN, BLUE, YELLOW = (0.8, 0, 0, 1), (0, 0.8, 0, 1), (0, 0, 0.8, 1), (1, 1, 0, 1)
#: (name, position, yaw, colour) of the four walls
WALLS = (
    ("wall_left", (2.0, 0.0, 0.0), 0.0, RED),
    ("wall_bottom", (4.0, 2.0, 0.0), math.pi / 2, None),
    ("wall_right", (2.0, 4.0, 0.0), 0.0, GREEN),
    ("wall_top", (0.0, 2.0, 0.0), math.pi / 2, BLUE),
)
#: discrete action -> (dx, dy) in units of DELTA_POS
MOVES_2D = ((-1.0, 0.0), (1.0, 0.0), (0.0, -1.0), (0.0, 1.0))


class MobileRobotEnv(SRLEnv):
    """Drive a car to a fixed (or random) yellow disc.

    ## Action Space
    ``discrete``: Discrete(4): 0 x-0.1 m, 1 x+0.1 m, 2 y-0.1 m, 3 y+0.1 m. ``continuous``: Box(-1, 1, (2,)),
    clipped then scaled by 0.1 m into (dx, dy).

    ## Observation Space
    ``ground_truth``: Box(2,) float32, robot (x, y) minus target (x, y) in m (absolute with
    ``relative_pos=False``), in [-4, 4]. ``pixels``: the top-down camera image, uint8 (image_size, image_size, 3).

    ## Rewards
    +1 while the robot is within 0.4 m of the target (not terminal), -1 when a move would hit a wall (the move is
    cancelled), 0 otherwise. ``shape_reward``: minus the distance to the target (m).

    ## Starting State
    Robot at 2 + U(-4/3, 4/3) m on each axis; target at (3.6, 3.0), or U(0.4, 3.6)^2 with ``random_target``.

    ## Episode End
    Never terminates; truncated after 251 steps (registered ``max_episode_steps``), so a perfect return is ~250.

    ## Arguments
    The :class:`~envs.base.SRLEnv` arguments. ``renderer="composite"`` (default) draws the camera image from pieces
    rendered once per process (:mod:`envs.rendering`, tested to match pybullet's picture); ``renderer="pybullet"``
    renders the scene in the env's own pybullet client at every image (the reference).
    """

    camera: ClassVar[Camera] = Camera(target=(2.0, 2.0, 0.0), distance=4.4, yaw=90.0, pitch=-90.0, fov=60.0)
    default_targets: ClassVar[tuple[tuple[float, float], ...]] = ((3.6, 3.0),)
    moves: ClassVar[tuple[tuple[float, float], ...]] = MOVES_2D
    reward_threshold: ClassVar[float] = REWARD_DIST_THRESHOLD

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        dim = self.ground_truth_dim
        if self.control == "discrete":
            self.action_space = spaces.Discrete(len(self.moves))
        else:
            self.action_space = spaces.Box(-1.0, 1.0, (dim,), dtype=np.float32)
        if self.observation_kind == "pixels":
            self.observation_space = self._pixel_space()
        else:
            low = -ARENA_SIZE if self.relative_pos else 0.0
            self.observation_space = spaces.Box(low, ARENA_SIZE, (dim,), dtype=np.float32)
        self.x, self.y = 2.0, 2.0
        self.targets = np.array(self.default_targets, dtype=np.float64)
        self.target_index = 0

    @property
    def ground_truth_dim(self) -> int:
        """Number of ground-truth coordinates (2: x and y)."""
        return 2

    # --- state ------------------------------------------------------------------------------------------------
    def ground_truth(self) -> np.ndarray:
        return np.array([self.x, self.y])

    def target_position(self) -> np.ndarray:
        return self.targets[self.target_index].copy()

    def _draw_start(self) -> None:
        self.x, self.y = 2.0 + self.np_random.uniform(-START_HALF_RANGE, START_HALF_RANGE, size=2)

    def _draw_targets(self) -> np.ndarray:
        if self.random_target:
            return self.np_random.uniform(TARGET_LOW, TARGET_HIGH, size=(len(self.default_targets), 2))
        return np.array(self.default_targets, dtype=np.float64)

    def _in_bounds(self, x: float, y: float) -> bool:
        return X_MIN <= x <= X_MAX and Y_MIN <= y <= Y_MAX

    def _distance(self) -> float:
        """Distance (m) from the robot to the current target."""
        tx, ty = self.targets[self.target_index]
        return math.hypot(tx - self.x, ty - self.y)

    # --- gymnasium API ----------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._draw_start()
        self.targets = self._draw_targets()
        self.target_index = 0
        return self._observe(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        dx, dy = self._delta(action)
        x, y = self.x + dx, self.y + dy
        bumped = not self._in_bounds(x, y)
        if not bumped:
            self.x, self.y = x, y
        reward = self._reward(bumped)  # may switch the target: the observation is of the state after the step
        return self._observe(), reward, False, False, {}

    def _delta(self, action: Any) -> tuple[float, float]:
        """The (dx, dy) move in m of an action."""
        if self.control == "discrete":
            mx, my = self.moves[int(action)]
            return mx * DELTA_POS, my * DELTA_POS
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(-1), -1.0, 1.0) * DELTA_POS
        return float(a[0]), float(a[1]) if len(a) > 1 else 0.0

    def _reward(self, bumped: bool) -> float:
        """The reward of the step to the current position; reaching the current target (within
        ``reward_threshold``) switches to the next one whatever the reward mode, as the original."""
        distance = self._distance()
        reached = distance <= self.reward_threshold
        if reached and self.target_index < len(self.targets) - 1:
            self.target_index += 1
        if self.shape_reward:
            return -distance
        if bumped:
            return -1.0
        return 1.0 if reached else 0.0

    # --- rendering --------------------------------------------------------------------------------------------
    def camera_scene(self) -> Scene:
        """Plane and walls (static), the target(s) and the robot (moving, drawn in that order)."""
        static = (StaticBody("plane", Body("plane.urdf"), 0.0, 0.0),) + tuple(
            StaticBody(name, Body("wall.urdf", color=color, yaw=yaw), x, y) for name, (x, y, _), yaw, color in self._walls()
        )
        robot = MovingBody("robot", Body("racecar_lowpoly.urdf"), self._robot_range(0), self._robot_range(1),
                           ROBOT_REFERENCE_HEIGHT)
        return Scene(self.camera, static, self._target_bodies() + (robot,))

    def scene_positions(self) -> list[tuple[float, float]]:
        """(x, y) (m) of each target, then of the robot."""
        return [(tx, ty) for tx, ty in self.targets.tolist()] + [(float(self.x), float(self.y))]

    def _robot_range(self, axis: int) -> tuple[float, float]:
        """Where the robot can be along x (0) or y (1) (m)."""
        return (X_MIN, X_MAX) if axis == 0 else (Y_MIN, Y_MAX)

    def _target_range(self, index: int, axis: int) -> tuple[float, float]:
        """Where target ``index`` can be along x (0) or y (1) (m): the random range, or its fixed position."""
        if self.random_target:
            return TARGET_LOW, TARGET_HIGH
        value = float(self.default_targets[index][axis])
        return value, value

    def _target_bodies(self) -> tuple[MovingBody, ...]:
        return tuple(
            MovingBody(f"target_{i}", Body("cylinder.urdf", color=YELLOW if i == 0 else RED),
                       self._target_range(i, 0), self._target_range(i, 1), TARGET_REFERENCE_HEIGHT)
            for i in range(len(self.default_targets))
        )

    def _walls(self) -> tuple[tuple[str, tuple[float, float, float], float, Any], ...]:
        return WALLS


class MobileRobot2TargetEnv(MobileRobotEnv):
    """Two targets in sequence: yellow (3.6, 3.0) then red (0.4, 3.0), or both U(0.4, 3.6)^2.

    +1 within 0.4 m of the current target, which then switches to the next (the last one stays). The observation is
    relative to the current target. Episodes last 251 steps like the other variants (the original's 1500-step
    constant was never used, see the README).
    """

    default_targets = ((3.6, 3.0), (0.4, 3.0))


class MobileRobot1DEnv(MobileRobotEnv):
    """The robot moves along x only (y = 0, on the red wall's line); the target is (3.6, 0) or x ~ U(0.4, 3.6).

    Discrete(2): 0 x-0.1 m, 1 x+0.1 m; ``continuous``: Box(-1, 1, (1,)). Ground truth is x (dim 1).
    """

    camera = Camera(target=(2.0, 0.0, 0.0), distance=4.4, yaw=90.0, pitch=-90.0, fov=60.0)
    default_targets = ((3.6, 0.0),)
    moves = ((-1.0, 0.0), (1.0, 0.0))

    @property
    def ground_truth_dim(self) -> int:
        return 1

    def ground_truth(self) -> np.ndarray:
        return np.array([self.x])

    def target_position(self) -> np.ndarray:
        return self.targets[self.target_index, :1].copy()

    def _draw_start(self) -> None:
        self.x, self.y = 2.0 + self.np_random.uniform(-START_HALF_RANGE, START_HALF_RANGE), 0.0

    def _draw_targets(self) -> np.ndarray:
        x = self.np_random.uniform(TARGET_LOW, TARGET_HIGH) if self.random_target else self.default_targets[0][0]
        return np.array([[x, 0.0]])

    def _in_bounds(self, x: float, y: float) -> bool:
        return X_MIN <= x <= X_MAX

    def _robot_range(self, axis: int) -> tuple[float, float]:
        return (X_MIN, X_MAX) if axis == 0 else (0.0, 0.0)

    def camera_scene(self) -> Scene:
        """As the 2D scene with one wall; the robot rides on that wall along its whole range, so its sprites show it
        over the wall."""
        scene = super().camera_scene()
        robot = dataclasses.replace(scene.moving[-1], sprite_with=(WALLS[0][0],))
        return dataclasses.replace(scene, moving=scene.moving[:-1] + (robot,))

    def _target_range(self, index: int, axis: int) -> tuple[float, float]:
        return super()._target_range(index, 0) if axis == 0 else (0.0, 0.0)

    def _walls(self) -> tuple[tuple[str, tuple[float, float, float], float, Any], ...]:
        return WALLS[:1]


LINE_TARGET_THRESHOLD = 0.1  # m
LINE_TARGET_OFFSET = 0.2  # m, the rewarded line is this far before the band's centre
BAND_Z = -0.045  # m, height of the band's centre: its top is 5 mm above the floor
BAND_REFERENCE_HEIGHT = 0.005  # m, the band's top


class MobileRobotLineTargetEnv(MobileRobotEnv):
    """Reach a yellow band spanning the arena in y: +1 when |x_t - 0.2 - x| <= 0.1 m.

    The band's centre is x_t = 3.6 or U(0.4, 3.6). The target point is (x_t - 0.2, 2.0), so the relative ground
    truth is (x - x_t + 0.2, y - 2) (the original subtracted x_t - 0.2 from both coordinates, see the README).
    """

    default_targets = ((3.6, 2.0),)
    reward_threshold = LINE_TARGET_THRESHOLD

    def target_position(self) -> np.ndarray:
        tx, ty = self.targets[0]
        return np.array([tx - LINE_TARGET_OFFSET, ty])

    def _draw_targets(self) -> np.ndarray:
        x = self.np_random.uniform(TARGET_LOW, TARGET_HIGH) if self.random_target else self.default_targets[0][0]
        return np.array([[x, 2.0]])

    def _distance(self) -> float:
        return abs(self.targets[0, 0] - LINE_TARGET_OFFSET - self.x)

    def _target_bodies(self) -> tuple[MovingBody, ...]:
        """The band: a 4 m x 0.5 m x 0.1 m box turned to span y, centred on x_t, mostly sunk in the floor like the
        original."""
        band = Body("wall_target.urdf", color=YELLOW, yaw=math.pi / 2, z=BAND_Z)
        return (MovingBody("target_0", band, self._target_range(0, 0), (2.0, 2.0), BAND_REFERENCE_HEIGHT),)
