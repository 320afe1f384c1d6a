"""CarRacing: gymnasium's Box2D top-down racing car behind the toolbox's SRL interface.

Behaviour follows the original toolbox (``environments/car_racing/car_env.py``, a subclass of gym 0.11's CarRacing);
the differences are listed in :class:`CarRacingEnv`. The track, physics and reward are gymnasium's; this module only
drives them (:class:`_Race` wraps gymnasium's class without copying it) and adds the ground truth, the target and the
observation size. Rendering is pygame on an off-screen surface: no display is needed (``SDL_VIDEODRIVER=dummy`` is
set when none is available).
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from gymnasium.utils import EzPickle

from envs.base import SRLEnv
from envs.sim import display_available

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
if not display_available():
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import Box2D  # noqa: E402  (box2d-py, installed with gymnasium[box2d])
from gymnasium.envs.box2d import car_dynamics  # noqa: E402
from gymnasium.envs.box2d import car_racing as gym_car_racing  # noqa: E402  (needs box2d and pygame-ce)

from envs import CAR_RACING_STEPS as MAX_STEPS  # noqa: E402, F401  (the episode limit lives with the ids)
PLAYFIELD = gym_car_racing.PLAYFIELD  # m (Box2D units), leaving [-PLAYFIELD, PLAYFIELD]^2 ends the episode: 333.3
OUT_OF_BOUNDS_REWARD = -100.0  # the step reward when the car leaves the playfield
STEP_REWARD = -0.1  # per step, plus 1000 / n_tiles for each new track tile
LOOKAHEAD = 5  # track points between the one nearest the car and the target
TRACK_POINT_SPACING = gym_car_racing.TRACK_DETAIL_STEP  # m between consecutive track points: 3.5
POSITION_BOUND = 2 * PLAYFIELD  # m, bound of the (relative) position observations: 666.7
#: discrete action -> gymnasium's continuous controls (steer, gas, brake); steer -1 is left
DISCRETE_CONTROLS = ((-1.0, 0.0, 0.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))


def wrap_angle(angle: np.ndarray | float) -> np.ndarray | float:
    """Angle(s) in rad wrapped to [-pi, pi)."""
    return (angle + np.pi) % (2 * np.pi) - np.pi


@functools.lru_cache(maxsize=1)
def _grass_patches() -> tuple[tuple[tuple[float, float], ...], ...]:
    """gymnasium's grass patches: squares of side GRASS_DIM on every other cell of a 40x40 grid (m)."""
    side = gym_car_racing.GRASS_DIM
    return tuple(
        ((side * (x + 1), side * y), (side * x, side * y), (side * x, side * (y + 1)), (side * (x + 1), side * (y + 1)))
        for x in range(-20, 20, 2)
        for y in range(-20, 20, 2)
    )


@functools.cache
def _polygon_shape(vertices: tuple[tuple[float, float], ...]) -> Box2D.b2PolygonShape:
    """One Box2D polygon per vertex list (m), made once per process."""
    return Box2D.b2PolygonShape(vertices=list(vertices))


@functools.cache
def _fixture_def(shape: Box2D.b2PolygonShape, settings: tuple[tuple[str, Any], ...]) -> Box2D.b2FixtureDef:
    """One Box2D fixture definition per shape and settings (density, collision bits, ...), made once per process."""
    return Box2D.b2FixtureDef(shape=shape, **dict(settings))


@contextlib.contextmanager
def _car_definitions_reused() -> Iterator[None]:
    """While active, gymnasium's ``Car`` builds its hull and wheels from definitions made once per process.

    pybox2d never frees a ``fixtureDef`` made with a shape (measured: about 340 bytes each, 40 of them the polygon's),
    and gymnasium's ``Car`` makes eight per car, one car per reset: 2.4 of the 2.6 KB CarRacing grew by per reset
    (``bench/env_memory.py``). A fixture copies its definition's shape when it is created (Box2D's ``CreateFixture``;
    gymnasium reuses its road tiles' definition the same way), so the bodies are identical (tested). The names are
    those gymnasium's ``car_dynamics`` module reads when a car is built; they are restored on exit.
    """
    saved = car_dynamics.fixtureDef, car_dynamics.polygonShape
    car_dynamics.polygonShape = lambda vertices: _polygon_shape(tuple(map(tuple, vertices)))
    car_dynamics.fixtureDef = lambda shape, **settings: _fixture_def(shape, tuple(sorted(settings.items())))
    try:
        yield
    finally:
        car_dynamics.fixtureDef, car_dynamics.polygonShape = saved


class _Race(gym_car_racing.CarRacing):
    """gymnasium's CarRacing, drawing its ``state_pixels`` view at the SRL image size, and only when asked.

    gymnasium draws ``state_pixels`` (road, car without skid particles, indicator bar and score, with the first
    second's zoom-in) at every step and shrinks it to 96x96. Here it is shrunk straight to ``pixel_size`` squared, and
    skipped when the observation is the ground truth.

    :param pixel_size: side of the square observation image (px).
    :param draw_every_step: draw the view at every step (pixel observations).
    :param render_mode: gymnasium's render mode (``human`` opens its pygame window).
    """

    def __init__(self, pixel_size: int, draw_every_step: bool, render_mode: str | None = None) -> None:
        # lap_complete_percent=1: the episode ends when every tile is visited, as in the original (gym 0.11)
        super().__init__(render_mode=render_mode, lap_complete_percent=1.0, continuous=True)
        self.pixel_size = pixel_size
        self.draw_every_step = draw_every_step
        self._polygons = np.zeros((0, 4, 2))  # grass then road polygons (m), shape (n, 4, 2)
        self._polygons_of: list | None = None  # the road_poly list they were built from

    def _render(self, mode: str) -> Any:
        if mode == "state_pixels" and not self.draw_every_step:
            return None
        return super()._render(mode)

    def draw(self) -> np.ndarray | None:
        """The ``state_pixels`` view of the current state, uint8 ``(pixel_size, pixel_size, 3)``; None before reset."""
        return super()._render("state_pixels")

    def _create_image_array(self, screen: Any, size: tuple[int, int]) -> np.ndarray:
        if size == (gym_car_racing.STATE_W, gym_car_racing.STATE_H):
            size = (self.pixel_size, self.pixel_size)
        return super()._create_image_array(screen, size)

    def _render_road(self, zoom: float, translation: Any, angle: float) -> None:
        """gymnasium's road drawing (background, grass patches, road and kerb polygons, same order, same culling),
        with the ~800 polygons transformed and culled in one numpy operation instead of one by one in Python: the
        image is identical (tested) and a frame costs about half as much."""
        bound = gym_car_racing.PLAYFIELD
        field = [(bound, bound), (bound, -bound), (-bound, -bound), (-bound, bound)]
        self._draw_colored_polygon(self.surf, field, self.bg_color, zoom, translation, angle, clip=False)
        if self._polygons_of is not self.road_poly:
            self._polygons = np.array([*_grass_patches(), *(poly for poly, _ in self.road_poly)], dtype=np.float64)
            self._polygons_of = self.road_poly
        cos, sin = np.cos(angle), np.sin(angle)
        points = self._polygons @ (zoom * np.array([[cos, sin], [-sin, cos]])) + np.asarray(translation)
        margin = gym_car_racing.MAX_SHAPE_DIM
        inside = (
            (points[..., 0] >= -margin) & (points[..., 0] <= gym_car_racing.WINDOW_W + margin)
            & (points[..., 1] >= -margin) & (points[..., 1] <= gym_car_racing.WINDOW_H + margin)
        ).any(axis=1)
        n_grass = len(_grass_patches())
        for index in np.flatnonzero(inside):
            if index < n_grass:
                color = self.grass_color
            else:  # read at every frame: a tile's colour changes when the car first touches it
                color = [int(c) for c in self.road_poly[index - n_grass][1]]
            polygon = [tuple(point) for point in points[index].tolist()]
            gym_car_racing.gfxdraw.aapolygon(self.surf, polygon, color)
            gym_car_racing.gfxdraw.filled_polygon(self.surf, polygon, color)


class CarRacingEnv(SRLEnv):
    """Drive a car around a random track as fast as possible (gymnasium's CarRacing) with SRL observations.

    ## Description
    A new random track every episode; the car starts on its first tile. The target is the track point ``lookahead``
    points ahead of the point nearest to the car (5 points of about 3.5 m: about 17.5 m ahead along the track, the
    original's choice), so the relative ground truth says where the road goes.

    ## Action Space
    ``discrete``: Discrete(4), the original's: 0 steer left, 1 steer right, 2 accelerate, 3 brake (each at full
    strength, one control at a time). ``continuous``: Box(-1, 1, (3,)) float32: steering (-1 left, +1 right;
    the original inverted it), gas and brake (clipped to [0, 1]).

    ## Observation Space
    ``ground_truth``: Box(3,) float32: car x, y (m), heading (rad, direction of travel from the x axis, in
    [-pi, pi)) minus the target's x, y and the track's direction there (heading difference wrapped to [-pi, pi)),
    positions in [-666.7, 666.7]; absolute values with ``relative_pos=False``.
    ``pixels``: gymnasium's ``state_pixels`` view (car-centred, rotating with the car, indicator bar at the bottom)
    resized to uint8 ``(image_size, image_size, 3)``.

    ## Rewards
    gymnasium's: -0.1 every step, +1000/N for each of the N track tiles the first time the car touches it; a step
    that ends outside [-333.3, 333.3]^2 gets -100 instead and terminates.

    ## Starting State
    The car stands still on the first tile, facing along the track; the track is drawn from ``np_random``.

    ## Episode End
    Terminates when every tile has been visited or the car leaves the playfield; truncated after 10000 steps
    (registered ``max_episode_steps``).

    ## Arguments
    ``lookahead``: track points from the nearest one to the target (default 5). ``gui``: show gymnasium's pygame
    window (needs a display). ``random_target`` has no effect (the track is new every episode) and ``shape_reward``
    is refused (the reward is already dense).

    ## Version History
    * v0: the original's ``CarRacingGymEnv-v0`` on gymnasium 1.x CarRacing; ground truth reduced to position and
      heading (the original's dim 5 had the hull's inertia where its comment said speed), continuous steering no
      longer inverted, observation from ``state_pixels`` rather than the 600x400 ``rgb_array``.
    """

    #: gymnasium draws the image itself: there is one renderer, and no pybullet reference
    renderers: ClassVar[tuple[str, ...]] = ("composite",)

    def __init__(self, lookahead: int = LOOKAHEAD, **kwargs: Any) -> None:
        if kwargs.get("shape_reward"):
            raise ValueError("CarRacing has no shaped reward (its tile reward is dense): set shape_reward=false.")
        if lookahead < 0:
            raise ValueError(f"lookahead={lookahead} must be a number of track points, at least 0.")
        super().__init__(**kwargs)
        EzPickle.__init__(self, lookahead=lookahead, **kwargs)
        self.lookahead = lookahead
        if self.control == "discrete":
            self.action_space = spaces.Discrete(len(DISCRETE_CONTROLS))
        else:
            self.action_space = spaces.Box(-1.0, 1.0, (3,), dtype=np.float32)
        if self.observation_kind == "pixels":
            self.observation_space = self._pixel_space()
        else:
            bound = np.array([POSITION_BOUND, POSITION_BOUND, np.pi], dtype=np.float32)
            self.observation_space = spaces.Box(-bound, bound, dtype=np.float32)
        self.race = _Race(self.image_size, self.observation_kind == "pixels", "human" if self.sim.gui else None)
        self._track = np.zeros((1, 2))
        self._track_heading = np.zeros(1)

    # --- state ------------------------------------------------------------------------------------------------
    def ground_truth(self) -> np.ndarray:
        """Car (x, y) in m and heading in rad (direction of travel, from the x axis, in [-pi, pi))."""
        hull = self.race.car.hull
        # Box2D's body angle is 0 when the car faces +y
        return np.array([hull.position[0], hull.position[1], wrap_angle(hull.angle + np.pi / 2)])

    def nearest_track_point(self) -> int:
        """Index of the track point nearest to the car."""
        position = np.asarray(self.race.car.hull.position)
        return int(np.argmin(np.sum((self._track - position) ** 2, axis=1)))

    def target_position(self) -> np.ndarray:
        """The track point ``lookahead`` points ahead of the nearest one: (x, y) in m and the track's direction."""
        index = (self.nearest_track_point() + self.lookahead) % len(self._track)
        return np.array([*self._track[index], self._track_heading[index]])

    def srl_state(self) -> np.ndarray:
        state = self.ground_truth()
        if self.relative_pos:
            state = state - self.target_position()
            state[2] = wrap_angle(state[2])
        return state.astype(np.float32)

    # --- gymnasium API ----------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.race.np_random = self.np_random  # one generator: the track follows this env's seed
        with _car_definitions_reused():
            image, _ = self.race.reset()
        track = np.array(self.race.track)  # rows: (alpha, beta, x, y); beta is the track's Box2D angle there
        self._track = track[:, 2:4]
        self._track_heading = wrap_angle(track[:, 1] + np.pi / 2)
        return self._observation(image), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        image, reward, terminated, _, info = self.race.step(self._controls(action))
        return self._observation(image), float(reward), terminated, False, info

    def _controls(self, action: Any) -> np.ndarray:
        """gymnasium's (steer, gas, brake) for an action."""
        if self.control == "discrete":
            return np.array(DISCRETE_CONTROLS[int(action)])
        steer, gas, brake = np.asarray(action, dtype=np.float64).reshape(3)
        return np.array([np.clip(steer, -1.0, 1.0), np.clip(gas, 0.0, 1.0), np.clip(brake, 0.0, 1.0)])

    def _observation(self, image: np.ndarray | None) -> np.ndarray:
        return np.ascontiguousarray(image) if self.observation_kind == "pixels" else self.srl_state()

    # --- rendering --------------------------------------------------------------------------------------------
    def render_image(self) -> np.ndarray:
        """The ``state_pixels`` view, uint8 ``(image_size, image_size, 3)`` (black before the first reset)."""
        image = self.race.draw()
        if image is None:
            return np.zeros((self.image_size, self.image_size, 3), dtype=np.uint8)
        return np.ascontiguousarray(image)

    def render_camera(self) -> np.ndarray:
        """The renderer alone (pygame drawing and resizing), for benchmarks."""
        return self.render_image()

    def close(self) -> None:
        """Free the Box2D bodies and pygame's window if any; safe to call twice."""
        self.race._destroy()
        self.race.close()
        super().close()

