"""The MobileRobot family: gymnasium contract, rewards, termination, ground truth, seeding."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs
from envs.mobile_robot import MAX_STEPS, X_MAX, X_MIN, Y_MAX

MOBILE_IDS = [env_id for env_id in envs.ENV_IDS if env_id.startswith("MobileRobot")]


def make(env_id: str = "MobileRobot-v0", **kwargs) -> gym.Env:
    return gym.make(env_id, **kwargs)


@pytest.mark.parametrize("control", ["discrete", "continuous"])
@pytest.mark.parametrize("observation", ["ground_truth", "pixels"])
@pytest.mark.parametrize("env_id", MOBILE_IDS)
def test_checkers_pass(env_id: str, observation: str, control: str) -> None:
    env = make(env_id, observation=observation, control=control)
    check_env(env.unwrapped, skip_render_check=False)
    sb3_check_env(env.unwrapped, warn=False)
    env.close()
    env.close()  # a second close must not raise


@pytest.mark.parametrize("env_id", MOBILE_IDS)
def test_spaces(env_id: str) -> None:
    env = make(env_id, observation="pixels", image_size=48)
    assert env.observation_space.shape == (48, 48, 3) and env.observation_space.dtype == np.uint8
    obs, _ = env.reset(seed=0)
    assert obs.shape == (48, 48, 3) and obs.dtype == np.uint8 and obs.std() > 0
    dim = 1 if "1D" in env_id else 2
    gt = make(env_id)
    assert gt.observation_space.shape == (dim,)
    assert gt.action_space == gym.spaces.Discrete(2 if "1D" in env_id else 4)
    assert make(env_id, control="continuous").action_space.shape == (dim,)


def test_ground_truth_env_never_starts_pybullet() -> None:
    env = make()
    env.reset(seed=0)
    for _ in range(10):
        env.step(env.action_space.sample())
    assert not env.unwrapped.sim.started


def test_driving_into_a_wall_gives_minus_one_and_cancels_the_move() -> None:
    env = make()
    env.reset(seed=3)
    robot = env.unwrapped
    rewards = []
    for _ in range(40):  # action 0 moves x by -0.1 m
        _, reward, terminated, truncated, _ = env.step(0)
        rewards.append(reward)
        assert not terminated and not truncated
    assert rewards[-1] == -1.0 and rewards[0] == 0.0
    assert X_MIN <= robot.x < X_MIN + 0.1
    x_before = robot.x
    assert env.step(0)[1] == -1.0 and robot.x == x_before


def test_reaching_the_target_gives_plus_one_every_step() -> None:
    env = make()
    env.reset(seed=0)
    robot = env.unwrapped
    target = robot.target_position()
    np.testing.assert_allclose(target, [3.6, 3.0])
    rewards = []
    for step in range(60):  # walk toward the target, then wiggle next to it
        dx, dy = target - robot.ground_truth()
        if np.hypot(dx, dy) <= 0.3:
            action = 2 + step % 2
        elif abs(dy) > 0.05:
            action = 3 if dy > 0 else 2
        else:
            action = 1 if dx > 0 else 0
        rewards.append(env.step(action)[1])
    assert rewards[-10:] == [1.0] * 10
    assert np.hypot(*(robot.ground_truth() - target)) <= 0.4


def test_episode_lasts_251_steps_and_is_truncated() -> None:
    env = make()
    env.reset(seed=0)
    for step in range(1, MAX_STEPS + 1):
        _, _, terminated, truncated, _ = env.step(1)
        assert not terminated
        assert truncated == (step == MAX_STEPS)


def test_relative_ground_truth_and_shaped_reward() -> None:
    env = make(shape_reward=True)
    obs, _ = env.reset(seed=1)
    robot = env.unwrapped
    np.testing.assert_allclose(obs, robot.ground_truth() - np.array([3.6, 3.0]), atol=1e-6)
    obs, reward, *_ = env.step(3)
    assert reward == pytest.approx(-np.hypot(*obs), abs=1e-5)
    absolute = make(relative_pos=False)
    obs, _ = absolute.reset(seed=1)
    np.testing.assert_allclose(obs, absolute.unwrapped.ground_truth(), atol=1e-6)


def test_continuous_actions_are_clipped_and_scaled() -> None:
    env = make(control="continuous")
    env.reset(seed=0)
    robot = env.unwrapped
    x, y = robot.x, robot.y
    env.step(np.array([0.5, -3.0], dtype=np.float32))
    assert robot.x == pytest.approx(x + 0.05) and robot.y == pytest.approx(y - 0.1)


def test_ground_truth_matches_the_rendered_scene() -> None:
    env = make(observation="pixels", renderer="pybullet")  # the per-step reference moves pybullet's bodies
    env.reset(seed=2)
    for action in [1, 1, 3, 0]:
        env.step(action)
    robot = env.unwrapped
    np.testing.assert_allclose(robot.sim.position("robot")[:2], robot.ground_truth(), atol=1e-6)
    np.testing.assert_allclose(robot.sim.position("target_0")[:2], robot.target_position(), atol=1e-6)


def test_random_targets_and_seeding_are_reproducible() -> None:
    def rollout(seed: int) -> tuple[np.ndarray, list[np.ndarray]]:
        env = make(random_target=True)
        env.reset(seed=seed)
        target = env.unwrapped.target_position()
        env.action_space.seed(seed)
        return target, [env.step(env.action_space.sample())[0] for _ in range(20)]

    target_a, obs_a = rollout(5)
    target_b, obs_b = rollout(5)
    target_c, _ = rollout(6)
    np.testing.assert_array_equal(target_a, target_b)
    np.testing.assert_array_equal(np.array(obs_a), np.array(obs_b))
    assert not np.array_equal(target_a, target_c)
    assert ((0.4 <= target_a) & (target_a <= 3.6)).all()


def test_two_targets_switch_after_the_first_is_reached() -> None:
    env = make("MobileRobot2Target-v0")
    env.reset(seed=0)
    robot = env.unwrapped
    robot.x, robot.y = 3.5, 2.9  # next to the first target (3.6, 3.0)
    assert env.step(3)[1] == 1.0
    np.testing.assert_allclose(robot.target_position(), [0.4, 3.0])
    obs = robot.srl_state()
    np.testing.assert_allclose(obs, robot.ground_truth() - np.array([0.4, 3.0]), atol=1e-6)


@pytest.mark.parametrize("shape_reward", [False, True])
def test_two_targets_switch_in_both_reward_modes(shape_reward: bool) -> None:
    """Driven greedily toward the current target, the robot reaches the first and the observation jumps to the
    second (the original switches whatever the reward mode); the shaped reward is minus the distance to the target
    the step was taken toward."""
    env = make("MobileRobot2Target-v0", shape_reward=shape_reward)
    obs, _ = env.reset(seed=3)
    robot = env.unwrapped
    first, second = robot.targets[0].copy(), robot.targets[1].copy()
    for _ in range(60):
        target = robot.target_position().copy()
        dx, dy = target - robot.ground_truth()
        action = (1 if dx > 0 else 0) if abs(dx) >= abs(dy) else (3 if dy > 0 else 2)
        obs, reward, *_ = env.step(action)
        distance = float(np.linalg.norm(robot.ground_truth() - target))
        assert reward == pytest.approx(-distance) if shape_reward else reward in (0.0, 1.0)
        if not np.allclose(robot.target_position(), first):
            break
    np.testing.assert_allclose(robot.target_position(), second)
    np.testing.assert_allclose(obs, robot.ground_truth() - second, atol=1e-6)
    assert np.linalg.norm(robot.ground_truth() - first) <= 0.4


def test_1d_robot_moves_on_x_only() -> None:
    env = make("MobileRobot1D-v0")
    obs, _ = env.reset(seed=0)
    robot = env.unwrapped
    x = robot.x
    env.step(1)
    assert robot.x == pytest.approx(x + 0.1) and robot.y == 0.0
    assert obs.shape == (1,)
    robot.x = X_MAX
    assert env.step(1)[1] == -1.0


def test_line_target_rewards_the_line_before_the_band() -> None:
    env = make("MobileRobotLineTarget-v0")
    env.reset(seed=0)
    robot = env.unwrapped
    np.testing.assert_allclose(robot.target_position(), [3.4, 2.0])
    robot.x, robot.y = 3.2, Y_MAX - 0.05
    assert env.step(1)[1] == 1.0  # x = 3.3, within 0.1 m of 3.4 whatever y is
    np.testing.assert_allclose(robot.srl_state(), [3.3 - 3.4, Y_MAX - 0.05 - 2.0], atol=1e-6)
    assert env.step(0)[1] == 0.0  # x = 3.2: 0.2 m away


@pytest.mark.parametrize("env_id", MOBILE_IDS)
def test_envs_pickle(env_id: str) -> None:
    env = make(env_id, random_target=True).unwrapped
    clone = pickle.loads(pickle.dumps(env))
    assert clone.random_target and type(clone) is type(env)
    obs_a, _ = env.reset(seed=4)
    obs_b, _ = clone.reset(seed=4)
    np.testing.assert_array_equal(obs_a, obs_b)


def test_bad_env_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot take control 'joints'"):
        make(control="joints")
    with pytest.raises(ValueError, match="cannot observe 'joints'"):
        make(observation="joints")
    with pytest.raises(ValueError, match="too small"):
        make(observation="pixels", image_size=16)


def test_gui_without_display_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(RuntimeError, match="needs a display"):
        make(gui=True)
