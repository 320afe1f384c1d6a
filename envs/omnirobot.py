"""The simulated Omnirobot: an omnidirectional robot seen by a fixed ceiling camera, composed like a photo montage.

Behaviour follows the original toolbox's simulator (``real_robots/omnirobot_simulator_server.py`` with the Omnirobot
constants of ``real_robots/constants.py``). There is no physics: the robot is teleported by 0.1 m per action, and the
camera image is composed from a floor image and two marker sprites placed where the calibrated camera would see them
(:mod:`envs.rendering.omnirobot`, which also makes the procedural pictures that stand in for the original's photos).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from gymnasium.utils import EzPickle

from envs import OMNIROBOT_STEPS as MAX_STEPS  # noqa: F401  (the episode limit lives with the ids)
from envs.base import SRLEnv
from envs.rendering.omnirobot import (  # the env's camera model and pictures are re-exported from here
    SIZE_NOISE_STD,
    OmnirobotCamera,
    floor_texture,  # noqa: F401
    ground_to_pixel,  # noqa: F401
    pixel_in_observation,  # noqa: F401
    robot_marker,  # noqa: F401
    target_marker,  # noqa: F401
)

# --- task (Omnirobot branch of the original real_robots/constants.py) -------------------------------------------
REWARD_TARGET_REACH, REWARD_NOTHING, REWARD_BUMP_WALL = 1.0, 0.0, -1.0
BOUND = 0.85  # m, the robot centre must stay strictly inside (-0.85, 0.85) on both axes
START_BOUND = 0.7  # m, the robot starts at U(-0.7, 0.7)^2
TARGET_BOUND = 0.7  # m, the target is drawn in U(-0.7, 0.7)^2
DIST_TO_TARGET_THRESHOLD = 0.2  # m, +1 when the robot is closer than this to the target
STEP_DISTANCE = 0.1  # m moved per discrete action (and per unit of continuous action)
#: discrete action -> (dx, dy) in units of STEP_DISTANCE: FORWARD (+x), BACKWARD (-x), LEFT (+y), RIGHT (-y)
MOVES = ((1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0))

class OmnirobotEnv(SRLEnv):
    """Move an omnidirectional robot, seen from a ceiling camera, onto a red target.

    ## Description
    The original's simulator of its real Omnirobot setup: a 1.7 m x 1.7 m arena watched by a camera 2.9 m above its
    centre. The robot is teleported by each action (no physics, no rotation); the image is composed from a floor
    picture and two markers, with the original's noise model: robot position N(0, 1 cm) and yaw N(0, 2.5 deg) in the
    drawing, marker pixels N(0, 2) levels, marker size factors 1 + N(0, 0.05) per episode (robot and target: the
    original forgot to apply the robot's), and each 8-bit Lab channel multiplied by 1 + N(0, 0.03). The noise only
    affects the image, never the ground truth, and comes from a generator derived from ``np_random`` at each reset,
    so a seed gives the same positions and targets whatever the observation kind.

    ## Action Space
    ``discrete``: Discrete(4): 0 forward (x + 0.1 m), 1 backward (x - 0.1 m), 2 left (y + 0.1 m), 3 right (y - 0.1 m).
    ``continuous``: Box(-1, 1, (2,)) float32, clipped then scaled by 0.1 m into (dx, dy).

    ## Observation Space
    ``ground_truth``: Box(2,) float32, robot (x, y) minus target (x, y) in m, in [-1.55, 1.55] (with
    ``relative_pos=False`` the absolute robot (x, y), in [-0.85, 0.85]).
    ``pixels``: the top-down camera image, uint8 ``(image_size, image_size, 3)`` (the original used 224).

    ## Rewards
    +1 when the robot ends the step closer than 0.2 m to the target (checked first, not terminal), -1 when the move
    would leave the open square (-0.85, 0.85)^2 (the robot then stays where it was), 0 otherwise.
    ``shape_reward``: minus the distance to the target (m) (the original stored this flag without using it).

    ## Starting State
    Robot at U(-0.7, 0.7)^2 m, yaw 0. Target at U(-0.7, 0.7)^2 m with yaw U(-pi, pi): drawn at every reset with
    ``random_target`` (the default, as in the original), otherwise at the first reset and at every seeded reset.

    ## Episode End
    Never terminates; truncated after 251 steps (registered ``max_episode_steps``, the original's off-by-one).

    ## Arguments
    ``random_target`` (default True) and the :class:`~envs.base.SRLEnv` arguments. ``gui`` is not supported (the
    original showed the image in matplotlib): use ``render_mode="rgb_array"``. ``renderer`` accepts only
    ``composite`` (the default): the image is a montage by design and there is no pybullet scene to render.

    ## Version History
    * v0: the original's ``OmnirobotEnv-v0`` with its simulator, procedural images instead of photographs.
    """

    moves: ClassVar[tuple[tuple[float, float], ...]] = MOVES
    renderers: ClassVar[tuple[str, ...]] = ("composite",)

    def __init__(self, random_target: bool = True, **kwargs: Any) -> None:
        if kwargs.get("gui"):
            raise ValueError("Omnirobot has no GUI window; use render_mode='rgb_array' and show the images yourself.")
        super().__init__(random_target=random_target, **kwargs)
        EzPickle.__init__(self, random_target=random_target, **kwargs)
        if self.control == "discrete":
            self.action_space = spaces.Discrete(len(self.moves))
        else:
            self.action_space = spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
        if self.observation_kind == "pixels":
            self.observation_space = self._pixel_space()
        else:
            high = BOUND + TARGET_BOUND if self.relative_pos else BOUND
            self.observation_space = spaces.Box(-high, high, (2,), dtype=np.float32)
        self.robot = np.zeros(2)
        self.target = np.zeros(2)
        self.target_yaw = 0.0
        self.robot_scale, self.target_scale = 1.0, 1.0
        self._has_target = False
        self._noise_rng = np.random.default_rng(0)
        self._camera: OmnirobotCamera | None = None
        self._camera_episode = -1  # the episode whose target the camera has placed
        self._episode = 0

    # --- state ------------------------------------------------------------------------------------------------
    def ground_truth(self) -> np.ndarray:
        return self.robot.copy()

    def target_position(self) -> np.ndarray:
        return self.target.copy()

    def distance(self) -> float:
        """Distance (m) from the robot to the target."""
        return float(np.hypot(*(self.robot - self.target)))

    # --- gymnasium API ----------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.robot = self.np_random.uniform(-START_BOUND, START_BOUND, size=2)
        if self.random_target or not self._has_target or seed is not None:
            self.target = self.np_random.uniform(-TARGET_BOUND, TARGET_BOUND, size=2)
            self.target_yaw = float(self.np_random.uniform(-np.pi, np.pi))
            self._has_target = True
        self._noise_rng = np.random.default_rng(self.np_random.integers(2**63))
        self.robot_scale, self.target_scale = 1.0 + self._noise_rng.normal(0.0, SIZE_NOISE_STD, size=2)
        self._episode += 1
        return self._observe(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        moved = self.robot + self._delta(action)
        bumped = not bool(np.all(np.abs(moved) < BOUND))
        if not bumped:
            self.robot = moved
        return self._observe(), self._reward(bumped), False, False, {}

    def _delta(self, action: Any) -> np.ndarray:
        """The (dx, dy) move in m of an action."""
        if self.control == "discrete":
            return np.asarray(self.moves[int(action)]) * STEP_DISTANCE
        return np.clip(np.asarray(action, dtype=np.float64).reshape(2), -1.0, 1.0) * STEP_DISTANCE

    def _reward(self, bumped: bool) -> float:
        distance = self.distance()
        if self.shape_reward:
            return -distance
        if distance < DIST_TO_TARGET_THRESHOLD:
            return REWARD_TARGET_REACH
        return REWARD_BUMP_WALL if bumped else REWARD_NOTHING

    def _observe(self) -> np.ndarray:
        return self.render_image() if self.observation_kind == "pixels" else self.srl_state()

    # --- rendering --------------------------------------------------------------------------------------------
    def render_image(self) -> np.ndarray:
        """The camera image of the current state, uint8 ``(image_size, image_size, 3)`` (new noise every call)."""
        if self._camera is None:
            self._camera = OmnirobotCamera(self.image_size)
        if self._camera_episode != self._episode:
            self._camera.new_episode(self.target, self.target_yaw, self.robot_scale, self.target_scale)
            self._camera_episode = self._episode
        return self._camera.render(self.robot, self._noise_rng)

    def render_camera(self) -> np.ndarray:
        """The renderer alone (here the whole image composition), for benchmarks."""
        return self.render_image()

    def close(self) -> None:
        """Free the image buffers; safe to call twice."""
        self._camera = None
        self._camera_episode = -1
        super().close()
