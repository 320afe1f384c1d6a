"""SRLCarRacing-v0: gymnasium contract, the original's actions and rewards, ground truth and target, seeding."""

from __future__ import annotations

import functools
import pickle
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

pytest.importorskip("Box2D", reason="CarRacing needs box2d (and pygame-ce)")

import envs  # noqa: E402
from gymnasium.envs.box2d import car_racing as gym_car_racing  # noqa: E402

from envs.car_racing import (  # noqa: E402
    LOOKAHEAD,
    MAX_STEPS,
    OUT_OF_BOUNDS_REWARD,
    PLAYFIELD,
    STEP_REWARD,
    TRACK_POINT_SPACING,
    CarRacingEnv,
    wrap_angle,
)
from tests.conftest import run_main  # noqa: E402

LEFT, RIGHT, GAS, BRAKE = range(4)



def make(**kwargs) -> gym.Env:
    return gym.make("SRLCarRacing-v0", **kwargs)


@pytest.mark.parametrize("control", ["discrete", "continuous"])
@pytest.mark.parametrize("observation", ["ground_truth", "pixels"])
def test_checkers_pass(observation: str, control: str) -> None:
    env = make(observation=observation, control=control, image_size=48, render_mode="rgb_array")
    check_env(env.unwrapped, skip_render_check=False)
    sb3_check_env(env.unwrapped, warn=False)
    env.close()
    env.close()  # a second close must not raise


def test_registration_and_spaces() -> None:
    assert "SRLCarRacing-v0" in envs.ENV_IDS
    assert make().spec.max_episode_steps == MAX_STEPS == envs.CAR_RACING_STEPS == 10_000
    env = make()
    assert env.action_space == gym.spaces.Discrete(4)
    assert env.observation_space.shape == (3,) and env.observation_space.dtype == np.float32
    assert make(control="continuous").action_space == gym.spaces.Box(-1, 1, (3,), np.float32)
    pixels = make(observation="pixels", image_size=40)
    obs, _ = pixels.reset(seed=0)
    assert pixels.observation_space.shape == obs.shape == (40, 40, 3) and obs.dtype == np.uint8 and obs.std() > 5


def test_actions_map_to_the_original_controls() -> None:
    env = CarRacingEnv()
    expected = {LEFT: (-1, 0, 0), RIGHT: (1, 0, 0), GAS: (0, 1, 0), BRAKE: (0, 0, 1)}  # gymnasium: -1 steers left
    for action, controls in expected.items():
        np.testing.assert_array_equal(env._controls(action), controls)
    continuous = CarRacingEnv(control="continuous")
    np.testing.assert_array_equal(continuous._controls(np.array([0.5, -0.5, 2.0])), (0.5, 0.0, 1.0))


def _heading_change(env: gym.Env, turn: object, gas: object) -> float:
    """Heading change (rad) over 20 turning steps after 30 steps of gas, on the same track."""
    env.reset(seed=0)
    for _ in range(30):
        env.step(gas)
    start = env.unwrapped.ground_truth()[2]
    for _ in range(20):
        env.step(turn)
    return float(wrap_angle(env.unwrapped.ground_truth()[2] - start))


def test_steering_directions() -> None:
    discrete = make()
    assert _heading_change(discrete, LEFT, GAS) > 0.05  # left: counter-clockwise
    assert _heading_change(discrete, RIGHT, GAS) < -0.05
    continuous = make(control="continuous")
    gas = np.array([0, 1, 0], dtype=np.float32)
    # +1 steers right: the original sent -a0 to gym, which inverted it
    assert _heading_change(continuous, np.array([1, 0.2, 0], dtype=np.float32), gas) < -0.05
    assert _heading_change(continuous, np.array([-1, 0.2, 0], dtype=np.float32), gas) > 0.05


def test_tile_reward_and_step_penalty() -> None:
    env = make()
    env.reset(seed=1)
    race = env.unwrapped.race
    rewards = [env.step(GAS)[1] for _ in range(60)]
    tiles = race.tile_visited_count
    assert tiles > 5
    assert sum(rewards) == pytest.approx(STEP_REWARD * 60 + 1000 / len(race.track) * tiles, abs=1e-6)
    new_tiles = (np.array(rewards) - STEP_REWARD) / (1000 / len(race.track))  # per step
    np.testing.assert_allclose(new_tiles, np.rint(new_tiles), atol=1e-6)
    assert new_tiles.min() == pytest.approx(0, abs=1e-6) and new_tiles.max() >= 1
    for _ in range(80):  # stop, then stand still: no new tile
        env.step(BRAKE)
    assert env.step(BRAKE)[1] == pytest.approx(STEP_REWARD)


def test_leaving_the_playfield_costs_100_and_terminates() -> None:
    env = make()
    env.reset(seed=2)
    car = env.unwrapped.race.car
    shift = np.array([PLAYFIELD + 5.0, 0.0]) - np.asarray(car.hull.position)
    for body in [car.hull, *car.wheels]:  # teleport the whole car out
        body.position = (body.position[0] + shift[0], body.position[1] + shift[1])
    _, reward, terminated, truncated, info = env.step(GAS)
    assert reward == OUT_OF_BOUNDS_REWARD and terminated and not truncated and not info["lap_finished"]


def test_visiting_every_tile_terminates() -> None:
    env = make()
    env.reset(seed=3)
    race = env.unwrapped.race
    race.tile_visited_count = len(race.track)
    _, _, terminated, _, info = env.step(BRAKE)
    assert terminated and info["lap_finished"]


def test_ground_truth_and_target_follow_the_simulator() -> None:
    env = make(relative_pos=False)
    env.reset(seed=4)
    car = env.unwrapped
    for _ in range(40):
        obs, *_ = env.step(GAS)
    hull = car.race.car.hull
    np.testing.assert_allclose(obs, [hull.position[0], hull.position[1], wrap_angle(hull.angle + np.pi / 2)], atol=1e-4)
    # the target is LOOKAHEAD track points past the nearest one, about 17.5 m along the track
    track = np.array(car.race.track)
    nearest = int(np.argmin(np.hypot(*(track[:, 2:4] - np.asarray(hull.position)).T)))
    target = car.target_position()
    np.testing.assert_allclose(target[:2], track[(nearest + LOOKAHEAD) % len(track), 2:4])
    ahead = np.hypot(*(target[:2] - track[nearest, 2:4]))
    assert 0.6 * LOOKAHEAD * TRACK_POINT_SPACING < ahead < 1.2 * LOOKAHEAD * TRACK_POINT_SPACING
    car.relative_pos = True
    relative = car.srl_state()
    np.testing.assert_allclose(relative[:2], obs[:2] - target[:2], atol=1e-3)
    assert relative[2] == pytest.approx(wrap_angle(obs[2] - target[2]), abs=1e-5)
    # at the start the car faces along the track, so the heading error is small
    obs, _ = make().reset(seed=4)
    assert abs(obs[2]) < 0.5 and np.hypot(*obs[:2]) == pytest.approx(LOOKAHEAD * TRACK_POINT_SPACING, rel=0.3)


def test_seeding_is_reproducible() -> None:
    def rollout(seed: int, observation: str = "ground_truth") -> list[np.ndarray]:
        env = make(observation=observation, image_size=40)
        env.action_space.seed(seed)
        first, _ = env.reset(seed=seed)
        return [first] + [env.step(env.action_space.sample())[0] for _ in range(10)]

    np.testing.assert_array_equal(np.array(rollout(5)), np.array(rollout(5)))
    assert not np.array_equal(rollout(5)[0], rollout(6)[0])  # another track
    np.testing.assert_array_equal(np.array(rollout(5, "pixels")[:3]), np.array(rollout(5, "pixels")[:3]))


def test_render_is_the_observation() -> None:
    env = make(observation="pixels", image_size=48, render_mode="rgb_array")
    env.reset(seed=7)
    obs, *_ = env.step(GAS)
    np.testing.assert_array_equal(env.render(), obs)
    gt = make(render_mode="rgb_array", image_size=48)
    gt.reset(seed=7)
    assert gt.unwrapped.race.state is None  # ground truth: nothing drawn per step
    image = gt.render()
    assert image.shape == (48, 48, 3) and image.dtype == np.uint8 and image.std() > 5


def test_fast_road_drawing_matches_gymnasium() -> None:
    env = make(image_size=96)  # ground truth: only the draws below render
    env.reset(seed=9)
    race = env.unwrapped.race
    for step in range(90):
        env.step(GAS if step < 50 else step % 4)  # visited tiles change colour
        if step % 30 == 29:
            fast = race.draw()
            race._render_road = functools.partial(gym_car_racing.CarRacing._render_road, race)  # gymnasium's own
            reference = race.draw()
            del race._render_road
            np.testing.assert_array_equal(fast, reference)


def test_env_pickles() -> None:
    env = make(lookahead=3, control="continuous").unwrapped
    clone = pickle.loads(pickle.dumps(env))
    assert type(clone) is CarRacingEnv and clone.lookahead == 3 and clone.control == "continuous"
    np.testing.assert_array_equal(env.reset(seed=8)[0], clone.reset(seed=8)[0])


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="no shaped reward"):
        make(shape_reward=True)
    with pytest.raises(ValueError, match="lookahead"):
        make(lookahead=-1)


def test_launcher_trains_on_car_racing(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = run_main(["env=CarRacing", "action_space=continuous", "total_timesteps=256", "n_envs=2",
                       "algo.n_steps=64", "algo.n_minibatches=2", "live_plots=none", f"hydra.run.dir={run_dir}"])
    assert result.returncode == 0, result.stderr[-2000:]
    assert (run_dir / "model.zip").is_file()
