"""Omnirobot-v0: gymnasium contract, the original's rewards and bounds, the camera geometry, noise, seeding."""

from __future__ import annotations

import pickle
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs
from envs.omnirobot import (
    BOUND,
    MAX_STEPS,
    START_BOUND,
    TARGET_BOUND,
    OmnirobotEnv,
    floor_texture,
    ground_to_pixel,
    pixel_in_observation,
    robot_marker,
    target_marker,
)
from envs.rendering.lab import (
    Lab8ToRGB,
    level_to_lab8,
    noisy_lab8_to_rgb8,
    rgb_to_lab8,
)
from envs.rendering.omnirobot import OmnirobotCamera
from tests.conftest import run_main

FORWARD, BACKWARD, LEFT, RIGHT = range(4)


def make(**kwargs) -> gym.Env:
    return gym.make("Omnirobot-v0", **kwargs)


@pytest.mark.parametrize("control", ["discrete", "continuous"])
@pytest.mark.parametrize("observation", ["ground_truth", "pixels"])
def test_checkers_pass(observation: str, control: str) -> None:
    env = make(observation=observation, control=control, render_mode="rgb_array")
    check_env(env.unwrapped, skip_render_check=False)
    sb3_check_env(env.unwrapped, warn=False)
    env.close()
    env.close()  # a second close must not raise


def test_registration_and_spaces() -> None:
    assert "Omnirobot-v0" in envs.ENV_IDS
    env = make()
    assert env.spec.max_episode_steps == MAX_STEPS == 251
    assert env.action_space == gym.spaces.Discrete(4)
    assert env.observation_space.shape == (2,) and env.observation_space.dtype == np.float32
    np.testing.assert_allclose(env.observation_space.high, BOUND + TARGET_BOUND)
    assert make(control="continuous").action_space == gym.spaces.Box(-1, 1, (2,), np.float32)
    np.testing.assert_allclose(make(relative_pos=False).observation_space.high, BOUND)
    pixels = make(observation="pixels", image_size=40)
    obs, _ = pixels.reset(seed=0)
    assert pixels.observation_space.shape == obs.shape == (40, 40, 3) and obs.dtype == np.uint8 and obs.std() > 5


def test_discrete_moves_follow_the_original_axes() -> None:
    env = make(relative_pos=False)
    env.reset(seed=0)
    robot = env.unwrapped
    robot.robot = np.zeros(2)
    for action, expected in [(FORWARD, (0.1, 0)), (LEFT, (0.1, 0.1)), (BACKWARD, (0, 0.1)), (RIGHT, (0, 0))]:
        obs, *_ = env.step(action)
        np.testing.assert_allclose(obs, expected, atol=1e-6)


def test_driving_into_the_bound_gives_minus_one_and_cancels_the_move() -> None:
    env = make(random_target=False)
    env.reset(seed=1)
    robot = env.unwrapped
    robot.target = np.array([-0.7, 0.0])  # out of the way
    rewards = []
    for _ in range(20):  # 1.7 m: enough to hit x = 0.85 from anywhere
        _, reward, terminated, truncated, _ = env.step(FORWARD)
        rewards.append(reward)
        assert not terminated and not truncated
    assert rewards[0] == 0.0 and rewards[-1] == -1.0 and set(rewards) == {0.0, -1.0}
    assert BOUND - 0.1 <= robot.robot[0] < BOUND
    before = robot.robot.copy()
    assert env.step(FORWARD)[1] == -1.0
    np.testing.assert_array_equal(robot.robot, before)
    robot.robot = np.array([0.75, 0.0])  # 0.75 + 0.1 is on the bound, which is outside: the bound is strict
    assert env.step(FORWARD)[1] == -1.0 and robot.robot[0] == 0.75


def test_reaching_the_target_gives_plus_one_and_is_checked_before_the_bump() -> None:
    env = make()
    env.reset(seed=2)
    robot = env.unwrapped
    for _ in range(40):  # the original's greedy policy: move along the axis with the larger error
        error = robot.target - robot.robot
        axis = int(np.argmax(np.abs(error)))
        action = (FORWARD if error[0] > 0 else BACKWARD) if axis == 0 else (LEFT if error[1] > 0 else RIGHT)
        _, reward, terminated, *_ = env.step(action)
        assert reward == (1.0 if robot.distance() < 0.2 else 0.0)
        assert not terminated  # reaching the target does not end the episode
    assert reward == 1.0
    robot.robot, robot.target = np.array([0.8, 0.0]), np.array([0.7, 0.0])
    assert env.step(FORWARD)[1] == 1.0  # a bump next to the target still gets +1
    assert robot.robot[0] == 0.8


def test_continuous_actions_are_clipped_and_scaled() -> None:
    env = make(control="continuous")
    env.reset(seed=0)
    robot = env.unwrapped
    robot.robot = np.zeros(2)
    env.step(np.array([0.5, -3.0], dtype=np.float32))
    np.testing.assert_allclose(robot.robot, [0.05, -0.1])


def test_shaped_reward_and_relative_ground_truth() -> None:
    env = make(shape_reward=True)
    obs, _ = env.reset(seed=3)
    robot = env.unwrapped
    np.testing.assert_allclose(obs, robot.robot - robot.target, atol=1e-6)
    obs, reward, *_ = env.step(LEFT)
    assert reward == pytest.approx(-np.hypot(*obs), abs=1e-5)


def test_episode_lasts_251_steps_and_is_truncated() -> None:
    env = make()
    env.reset(seed=0)
    for step in range(1, MAX_STEPS + 1):
        _, _, terminated, truncated, _ = env.step(step % 4)
        assert not terminated
        assert truncated == (step == MAX_STEPS)


def test_starts_and_targets_are_drawn_in_the_original_ranges() -> None:
    env = make()
    starts, targets = [], []
    env.reset(seed=0)
    for _ in range(50):
        env.reset()
        starts.append(env.unwrapped.robot)
        targets.append(env.unwrapped.target)
    assert np.abs(starts).max() <= START_BOUND and np.abs(targets).max() <= TARGET_BOUND
    assert len({tuple(t) for t in targets}) == 50  # random_target is the default, as in the original


def test_fixed_target_changes_only_with_a_seed() -> None:
    env = make(random_target=False).unwrapped
    env.reset(seed=4)
    target = env.target.copy()
    env.reset()
    np.testing.assert_array_equal(env.target, target)
    env.reset(seed=5)
    assert not np.array_equal(env.target, target)


def _robot_mask(env: OmnirobotEnv, image: np.ndarray) -> np.ndarray:
    """Pixels that differ from the floor, outside the target's patch."""
    mask = np.abs(image.astype(float) - env._camera.floor_rgb).sum(axis=2) > 90
    top, left, patch = env._camera.target_patch
    mask[top : top + patch.shape[0], left : left + patch.shape[1]] = False
    return mask


def _marker_centroids(env: OmnirobotEnv, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(column, row) centroids of the robot and of the red target."""
    red = (image[:, :, 0] > 150) & (image[:, :, 1] < 100)
    rows, cols = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]

    def centroid(mask: np.ndarray) -> np.ndarray:
        return np.array([cols[mask].mean(), rows[mask].mean()])

    return centroid(_robot_mask(env, image)), centroid(red)


def test_markers_are_drawn_where_the_calibrated_camera_sees_the_ground_truth() -> None:
    size = 96
    env = make(observation="pixels", image_size=size, relative_pos=False)
    env.reset(seed=6)
    robot = env.unwrapped
    robot.robot, robot.target = np.array([-0.6, 0.5]), np.array([0.5, -0.4])
    robot._camera_episode = -1  # the target moved: place it again
    robot_at, target_at = _marker_centroids(robot, robot.render_image())
    np.testing.assert_allclose(robot_at, pixel_in_observation(-0.6, 0.5, size), atol=1.0)
    np.testing.assert_allclose(target_at, pixel_in_observation(0.5, -0.4, size), atol=1.0)
    # +x goes left and +y goes down in the image: the camera looks down, rotated 180 degrees about y
    assert robot_at[0] > target_at[0] and robot_at[1] > target_at[1]
    assert ground_to_pixel(0.0, 0.0) == (325.81, 251.89)
    u, _ = ground_to_pixel(BOUND, 0.0)
    assert u == pytest.approx(325.81 - 513.25 * 0.85 / 2.9)


def test_robot_size_noise_is_applied() -> None:
    env = make(render_mode="rgb_array", image_size=128)
    areas = []
    for scale in (0.8, 1.25):
        env.reset(seed=7)
        robot = env.unwrapped
        robot.robot_scale = scale
        robot.robot, robot.target = np.array([-0.5, -0.5]), np.array([0.5, 0.5])  # apart
        image = env.render()
        areas.append(int(_robot_mask(robot, image).sum()))
    assert areas[1] / areas[0] == pytest.approx((1.25 / 0.8) ** 2, rel=0.15)
    drawn = []
    for _ in range(20):
        env.reset()
        drawn.append(env.unwrapped.robot_scale)
    assert 0.01 < np.std(drawn) < 0.1 and abs(np.mean(drawn) - 1) < 0.05


def test_images_are_noisy_but_reproducible() -> None:
    def rollout(seed: int) -> list[np.ndarray]:
        env = make(observation="pixels", image_size=48)
        env.action_space.seed(seed)
        first, _ = env.reset(seed=seed)
        return [first] + [env.step(env.action_space.sample())[0] for _ in range(5)]

    a, b, c = rollout(8), rollout(8), rollout(9)
    np.testing.assert_array_equal(np.array(a), np.array(b))
    assert not np.array_equal(a[0], c[0])
    env = make(render_mode="rgb_array", image_size=48)
    env.reset(seed=8)
    assert not np.array_equal(env.render(), env.render())  # new noise at every image, same state


def test_seed_gives_the_same_positions_whatever_the_observation() -> None:
    def positions(observation: str) -> list[np.ndarray]:
        env = make(observation=observation, image_size=48)
        env.reset(seed=10)
        out = [env.unwrapped.target.copy()]
        for action in [0, 2, 2, 1, 3]:
            env.step(action)
            out.append(env.unwrapped.robot.copy())
        env.reset()
        return out + [env.unwrapped.robot.copy(), env.unwrapped.target.copy()]

    np.testing.assert_array_equal(np.array(positions("ground_truth")), np.array(positions("pixels")))


def test_env_pickles() -> None:
    env = make(observation="pixels", image_size=48, random_target=False).unwrapped
    clone = pickle.loads(pickle.dumps(env))
    assert type(clone) is OmnirobotEnv and not clone.random_target and clone.image_size == 48
    np.testing.assert_array_equal(env.reset(seed=11)[0], clone.reset(seed=11)[0])


def test_procedural_images_are_deterministic_and_sized_like_the_originals() -> None:
    assert floor_texture().shape == (640, 640, 3)
    assert robot_marker().shape == (56, 48, 4) and target_marker().shape == (66, 49, 4)
    first = floor_texture()
    floor_texture.cache_clear()
    np.testing.assert_array_equal(floor_texture(), first)  # fixed seeds: the same floor every time


def _camera_centroids(camera: OmnirobotCamera, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(column, row) centroids of the robot (pixels far from the floor, outside the target's patch) and of the red
    target, in a camera's image."""
    robot = np.abs(image.astype(float) - camera.floor_rgb).sum(axis=2) > 90
    top, left, patch = camera.target_patch
    robot[top : top + patch.shape[0], left : left + patch.shape[1]] = False
    red = (image[:, :, 0] > 150) & (image[:, :, 1] < 100)
    rows, cols = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    return tuple(np.array([cols[mask].mean(), rows[mask].mean()]) for mask in (robot, red))


@pytest.mark.parametrize("size", [64, 224])
def test_fast_images_are_the_exact_ones(size: int) -> None:
    """render() against render_exact() with the same generator state: the same draws, the same images to float32
    rounding (a level here and there), the same marker centroids; states apart, overlapping, and at the border."""
    camera = OmnirobotCamera(size)
    largest, differing, centroid_shift = 0, 0, 0.0
    for episode in range(3):
        episode_rng = np.random.default_rng(episode)
        target = episode_rng.uniform(-0.6, 0.6, size=2)
        camera.new_episode(target, float(episode_rng.uniform(-np.pi, np.pi)), *(1 + episode_rng.normal(0, 0.05, 2)))
        robots = [-target, target + 0.05, target - [0.1, 0.12], np.array([0.84, -0.84]), np.array([3.0, 0.0])]
        for step, robot in enumerate(robots):
            rng = np.random.default_rng([size, episode, step])
            twin = np.random.default_rng([size, episode, step])
            fast, exact = camera.render(robot, rng), camera.render_exact(robot, twin)
            assert rng.bit_generator.state == twin.bit_generator.state  # the same number of draws
            assert fast.shape == exact.shape == (size, size, 3) and fast.dtype == np.uint8 and fast.flags.c_contiguous
            difference = np.abs(fast.astype(int) - exact)
            largest, differing = max(largest, difference.max()), differing + np.count_nonzero(difference)
            if step == 0:  # markers apart: compare where each is drawn
                pairs = zip(_camera_centroids(camera, fast), _camera_centroids(camera, exact), strict=True)
                centroid_shift = max([centroid_shift] + [float(np.abs(a - b).max()) for a, b in pairs])
    assert largest <= 2 and differing / (15 * size * size * 3) < 1e-4  # measured: 0 and 0 (the compiled kernel)
    assert centroid_shift < 0.5  # measured: below 0.01 px


def test_fast_images_keep_the_seeds() -> None:
    """A seed gives the same images with render(), image after image, and they change with the noise."""
    def images(seed: int) -> list[np.ndarray]:
        camera = OmnirobotCamera(64)
        camera.new_episode(np.array([0.2, 0.3]), 0.5, 1.03, 0.98)
        rng = np.random.default_rng(seed)
        return [camera.render(np.array([x, -0.4]), rng) for x in (-0.5, -0.4, 0.2, 0.25)]

    np.testing.assert_array_equal(np.array(images(1)), np.array(images(1)))
    assert not np.array_equal(images(1)[0], images(2)[0])


def test_compiled_colour_conversions_are_the_element_wise_ones() -> None:
    """level_to_lab8 and noisy_lab8_to_rgb8 (one colour at a time, compiled) against rgb_to_lab8 then the factors,
    the clip and Lab8ToRGB, with factors that clip L and a, b and push colours across the Lab function's branches:
    the same to float32 rounding."""
    rng = np.random.default_rng(1)
    colours = np.vstack([rng.integers(0, 256, (4090, 3)), [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 0, 255],
                                                            [3, 2, 1], [250, 250, 0]]]).astype(np.uint8)
    lab = rgb_to_lab8(colours)
    compiled = np.array([level_to_lab8(*map(int, colour)) for colour in colours], dtype=np.float32)
    np.testing.assert_allclose(compiled, lab, rtol=0, atol=2e-4)
    to_rgb = Lab8ToRGB(64)
    for factors in ([1.0, 1.0, 1.0], [1.2, 1.15, 0.85], [0.8, 0.9, 1.3], [1.03, 0.97, 1.01]):
        factors = np.array(factors, dtype=np.float32)
        exact = to_rgb(np.clip(lab * factors, 0.0, 255.0).reshape(64, 64, 3)).reshape(-1, 3)
        fast = np.empty(3 * len(lab), dtype=np.uint8)
        for row, (lightness, a, b) in enumerate(lab):
            noisy_lab8_to_rgb8(lightness, a, b, tuple(factors), fast, 3 * row)
        difference = np.abs(fast.reshape(-1, 3).astype(int) - exact)
        assert difference.max() <= 1 and np.count_nonzero(difference) <= 4


def test_a_camera_kept_across_episodes_draws_what_a_new_one_does() -> None:
    """The per-episode state (the target's patch, the robot's last footprint) leaves nothing behind: a camera kept
    over episodes gives the images of a new camera per episode, bit for bit."""
    kept = OmnirobotCamera(64)
    for episode in range(4):
        episode_rng = np.random.default_rng(episode)
        target = episode_rng.uniform(-0.6, 0.6, size=2)
        pose = (target, float(episode_rng.uniform(-np.pi, np.pi)), *(1 + episode_rng.normal(0, 0.05, 2)))
        kept.new_episode(*pose)
        new = OmnirobotCamera(64)
        new.new_episode(*pose)
        for step, robot in enumerate([target + 0.03, -target, np.array([0.84, 0.84]), target - 0.05]):
            rng, twin = np.random.default_rng([episode, step]), np.random.default_rng([episode, step])
            np.testing.assert_array_equal(kept.render(robot, rng), new.render(robot, twin))


def test_gui_is_refused() -> None:
    with pytest.raises(ValueError, match="no GUI"):
        make(gui=True)


def test_launcher_trains_on_omnirobot(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = run_main(["env=Omnirobot", "total_timesteps=256", "n_envs=2", "algo.n_steps=64", "algo.n_minibatches=2",
                       "live_plots=none", f"hydra.run.dir={run_dir}"])
    assert result.returncode == 0, result.stderr[-2000:]
    assert (run_dir / "model.zip").is_file()
