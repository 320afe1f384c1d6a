"""The Kuka button family: gymnasium contract, controls, rewards, termination, ground truth, seeding, training."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from conftest import compose_run, run_main
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs
from envs.base import CONTROLS, OBSERVATIONS
from envs.kuka import GRIPPER_LINK, N_JOINTS, REST_POSE
from envs.kuka_button import BUTTON_DISTANCE_HEIGHT, BUTTON_LINK, MAX_STEPS, MAX_STEPS_LONG
from envs.sim import pybullet
from rlzoo.validation import validate

KUKA_IDS = [env_id for env_id in envs.ENV_IDS if env_id.startswith("Kuka")]
EPISODE_STEPS = {"KukaButton-v0": MAX_STEPS, "KukaRandButton-v0": MAX_STEPS, "Kuka2Button-v0": MAX_STEPS_LONG,
                 "KukaMovingButton-v0": MAX_STEPS_LONG}
X_MINUS, X_PLUS, Y_MINUS, Y_PLUS, Z_DOWN, Z_UP = range(6)


def make(env_id: str = "KukaButton-v0", **kwargs) -> gym.Env:
    return gym.make(env_id, **kwargs)


def steer(env: gym.Env, tolerance: float = 0.02) -> int:
    """A discrete action bringing the commanded point over the target point, then down (the command is exact, the
    arm lags behind it)."""
    robot = env.unwrapped
    x, y, _ = robot.robot.ee_target
    tx, ty, _ = robot.target_position()
    if abs(x - tx) > tolerance:
        return X_MINUS if x > tx else X_PLUS
    if abs(y - ty) > tolerance:
        return Y_MINUS if y > ty else Y_PLUS
    return Z_DOWN


@pytest.mark.parametrize("control", CONTROLS)
@pytest.mark.parametrize("observation", OBSERVATIONS)
@pytest.mark.parametrize("env_id", KUKA_IDS)
def test_checkers_pass(env_id: str, observation: str, control: str) -> None:
    env = make(env_id, observation=observation, control=control, image_size=36)
    # the render check builds a second env: once per env id is enough
    check_env(env.unwrapped, skip_render_check=not (observation == "pixels" and control == "discrete"))
    sb3_check_env(env.unwrapped, warn=False)
    env.close()
    env.close()  # a second close must not raise


@pytest.mark.parametrize("env_id", KUKA_IDS)
def test_spaces_and_registration(env_id: str) -> None:
    assert gym.spec(env_id).max_episode_steps == EPISODE_STEPS[env_id]
    assert make(env_id).action_space == gym.spaces.Discrete(6)
    assert make(env_id, control="continuous").action_space == gym.spaces.Box(-1, 1, (3,), np.float32)
    assert make(env_id, control="joints").action_space == gym.spaces.Box(-1, 1, (7,), np.float32)
    for observation, shape in [("ground_truth", (3,)), ("joints", (N_JOINTS,)), ("joints_position", (3 + N_JOINTS,))]:
        space = make(env_id, observation=observation).observation_space
        assert space.shape == shape and space.dtype == np.float32
    env = make(env_id, observation="pixels", image_size=48)
    assert env.observation_space.shape == (48, 48, 3) and env.observation_space.dtype == np.uint8
    obs, info = env.reset(seed=0)
    assert obs.shape == (48, 48, 3) and obs.dtype == np.uint8 and obs.std() > 0 and info == {}
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert env.observation_space.contains(obs) and isinstance(reward, float)
    assert truncated is False and terminated is False and info == {}
    env.close()


def test_ground_truth_env_never_renders(monkeypatch: pytest.MonkeyPatch) -> None:
    env = make()

    def no_render(*args, **kwargs):
        raise AssertionError("a ground-truth step rendered")

    monkeypatch.setattr(env.unwrapped.sim, "render", no_render)
    env.reset(seed=0)
    for _ in range(5):
        env.step(env.action_space.sample())


def test_ground_truth_and_target_match_pybullet() -> None:
    env = make(relative_pos=False)
    obs, _ = env.reset(seed=2)
    robot = env.unwrapped
    cid = robot.sim.client_id
    for action in [X_PLUS, Z_DOWN, Y_MINUS, Z_DOWN]:
        obs, *_ = env.step(action)
    gripper = pybullet.getLinkState(robot.sim.body("robot"), GRIPPER_LINK, physicsClientId=cid)[0]
    np.testing.assert_allclose(robot.ground_truth(), gripper, atol=1e-12)
    np.testing.assert_allclose(obs, gripper, atol=1e-6)  # absolute with relative_pos=False
    cap = pybullet.getLinkState(robot.sim.body("button_0"), BUTTON_LINK, physicsClientId=cid)[0]
    np.testing.assert_allclose(robot.target_position(), np.add(cap, (0, 0, BUTTON_DISTANCE_HEIGHT)), atol=1e-6)
    relative = make(observation="joints_position")
    obs, _ = relative.reset(seed=2)
    unwrapped = relative.unwrapped
    np.testing.assert_allclose(obs[:3], unwrapped.ground_truth() - unwrapped.target_position(), atol=1e-6)
    joints = pybullet.getJointStates(unwrapped.sim.body("robot"), range(N_JOINTS),
                                     physicsClientId=unwrapped.sim.client_id)
    np.testing.assert_allclose(obs[3:], [state[0] for state in joints], atol=1e-6)


def test_pressing_the_button_rewards_contacts_and_ends_after_five() -> None:
    env = make()
    obs, _ = env.reset(seed=0)
    rewards = []
    for _ in range(900):
        obs, reward, terminated, truncated, _ = env.step(steer(env))
        rewards.append(reward)
        if terminated:
            break
    assert terminated and not truncated
    assert rewards.count(1.0) == 5 and rewards[-1] == 1.0 and -1.0 not in rewards
    assert env.unwrapped.task.n_contacts == [5]
    assert obs[2] < -0.05  # the gripper is below the target point, on the cap


def test_driving_into_the_table_gives_minus_one_and_ends_the_episode() -> None:
    env = make(random_target=True)  # the large workspace reaches the table beside the button
    env.reset(seed=0)
    for action in [Y_MINUS] * 40 + [X_MINUS] * 40 + [Z_DOWN] * 900:
        _, reward, terminated, _, _ = env.step(action)
        if terminated:
            break
    assert terminated and reward == -1.0
    robot = env.unwrapped
    table = robot.sim.body("table")
    contacts = pybullet.getContactPoints(robot.sim.body("robot"), table, physicsClientId=robot.sim.client_id)
    assert contacts


def test_too_far_gives_minus_one_without_ending() -> None:
    env = make(max_distance=0.1)  # the gripper starts about 0.28 m above the target point
    env.reset(seed=0)
    for _ in range(3):
        _, reward, terminated, _, _ = env.step(Z_UP)
        assert reward == -1.0 and not terminated
    assert env.unwrapped.task.n_steps_outside == 3


def test_episode_is_truncated_by_the_time_limit() -> None:
    env = make(force_down=False)
    env.reset(seed=0)
    for step in range(1, MAX_STEPS + 1):
        _, reward, terminated, truncated, _ = env.step(Z_UP)  # up: never touches anything
        assert not terminated and reward == 0.0
        assert truncated == (step == MAX_STEPS)


def test_shaped_rewards() -> None:
    env = make(shape_reward=True)  # discrete: minus the distance at every step
    obs, _ = env.reset(seed=0)
    for _ in range(900):
        obs, reward, terminated, _, _ = env.step(steer(env))
        assert reward == pytest.approx(-float(np.linalg.norm(obs)), abs=1e-5)
        if terminated:
            break
    assert terminated
    continuous = make(control="continuous", shape_reward=True)  # +50 on success
    obs, _ = continuous.reset(seed=0)
    rewards = []
    for _ in range(900):
        direction = {X_MINUS: (-1, 0, 0), X_PLUS: (1, 0, 0), Y_MINUS: (0, -1, 0), Y_PLUS: (0, 1, 0),
                     Z_DOWN: (0, 0, -1)}[steer(continuous, tolerance=0.004)]
        obs, reward, terminated, _, _ = continuous.step(np.array(direction, dtype=np.float32))
        rewards.append(reward)
        if terminated:
            break
    assert terminated and rewards[-1] == 50.0 and all(r < 0 for r in rewards[:-1])


def test_seeding_is_reproducible() -> None:
    def rollout(seed: int, **kwargs) -> tuple[np.ndarray, np.ndarray]:
        env = make(random_target=True, **kwargs)
        first, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        observations = [first] + [env.step(env.action_space.sample())[0] for _ in range(30)]
        target = env.unwrapped.target_position()
        env.close()
        return target, np.array(observations)

    target_a, obs_a = rollout(5)
    target_b, obs_b = rollout(5)
    target_c, _ = rollout(6)
    np.testing.assert_array_equal(target_a, target_b)
    np.testing.assert_array_equal(obs_a, obs_b)
    assert not np.array_equal(target_a, target_c)
    _, pixels_a = rollout(1, observation="pixels", image_size=36, control="continuous")
    _, pixels_b = rollout(1, observation="pixels", image_size=36, control="continuous")
    np.testing.assert_array_equal(pixels_a, pixels_b)


@pytest.mark.parametrize("env_id", KUKA_IDS)
def test_envs_pickle(env_id: str) -> None:
    env = make(env_id, random_target=True, force_down=False, max_distance=1.5, control="continuous").unwrapped
    clone = pickle.loads(pickle.dumps(env))
    assert type(clone) is type(env) and clone.random_target and clone.control == "continuous"
    assert clone.force_down is False and clone.max_distance == 1.5
    obs_a, _ = env.reset(seed=4)
    obs_b, _ = clone.reset(seed=4)
    np.testing.assert_array_equal(obs_a, obs_b)


def test_joints_observation_follows_the_arm() -> None:
    env = make(observation="joints")
    obs, _ = env.reset(seed=0)
    np.testing.assert_allclose(obs[:7], REST_POSE[:7], atol=0.5)  # near the rest pose, but live
    first = obs
    for _ in range(20):
        obs, *_ = env.step(X_PLUS)
    assert np.abs(obs - first).max() > 1e-3
    assert obs[9] == 0.0 and obs[12] == 0.0  # fixed joints


def test_joint_control_is_incremental() -> None:
    env = make(control="joints")
    env.reset(seed=0)
    robot = env.unwrapped.robot
    start = np.array(robot.joint_target)
    action = np.zeros(7, dtype=np.float32)
    action[0] = 1.0
    for _ in range(3):
        env.step(action)
    moved = np.array(robot.joint_target) - start
    assert moved[0] == pytest.approx(0.3, abs=0.02) and np.all(moved[1:] == 0.0)  # 3 steps of about 0.1 rad
    env.step(np.zeros(7, dtype=np.float32))
    assert np.array(robot.joint_target)[0] == pytest.approx(start[0] + moved[0])  # a zero action holds the command


def test_position_controls_force_down_and_physics_substeps() -> None:
    env = make(control="continuous")
    env.reset(seed=0)
    robot = env.unwrapped.robot
    z = robot.ee_target[2]
    env.step(np.array([0, 0, 1], dtype=np.float32))  # force_down: z moves down whatever the sign
    assert robot.ee_target[2] == pytest.approx(z - 0.0035, abs=5e-4)
    up = make(force_down=False)
    up.reset(seed=0)
    up.step(Z_DOWN)  # the command starts at the top of the workspace
    z = up.unwrapped.robot.ee_target[2]
    up.step(Z_UP)
    assert up.unwrapped.robot.ee_target[2] > z
    repeated = make(physics_substeps=3)
    repeated.reset(seed=0)
    unwrapped = repeated.unwrapped
    y = unwrapped.robot.ee_target[1]
    expected = unwrapped.robot.action_delta(Y_PLUS, copy.deepcopy(unwrapped.np_random))[1]
    repeated.step(Y_PLUS)  # the command moves at each of the 3 physics steps
    assert unwrapped.robot.ee_target[1] == pytest.approx(y + 3 * expected)
    assert unwrapped.physics_substeps == 3 and unwrapped._ezpickle_kwargs["physics_substeps"] == 3


def test_two_buttons_switch_goal_after_five_contacts() -> None:
    env = make("Kuka2Button-v0")
    obs, _ = env.reset(seed=0)
    robot = env.unwrapped
    first, second = robot.task.targets.copy()
    np.testing.assert_allclose(first[:2], [0.5, 0.125])
    np.testing.assert_allclose(second[:2], [0.5, -0.125])
    np.testing.assert_allclose(robot.target_position(), first)
    rewards = []
    for _ in range(800):
        obs, reward, terminated, _, _ = env.step(steer(env))
        rewards.append(reward)
        if robot.task.goal == 1:
            break
    assert rewards.count(1.0) == 5 and not terminated  # the first button rewards its contacts too
    np.testing.assert_allclose(robot.target_position(), second)
    np.testing.assert_allclose(obs, robot.ground_truth() - second, atol=1e-6)


def press(env: gym.Env, button: int, offset: tuple[float, float], steps: int,
          stop_on_switch: bool = False) -> list[tuple[set[int], float, bool]]:
    """Bring the commanded point over button ``button``'s centre plus ``offset`` (m), then down; per step the
    button's links the arm touches, the reward and whether the arm touches the table."""
    robot = env.unwrapped
    cid = robot.sim.client_id
    bx, by, _ = robot.task.button_positions[button]
    tx, ty = bx + offset[0], by + offset[1]
    log = []
    for _ in range(steps):
        x, y, _ = robot.robot.ee_target
        if abs(x - tx) > 0.02:
            action = X_MINUS if x > tx else X_PLUS
        elif abs(y - ty) > 0.02:
            action = Y_MINUS if y > ty else Y_PLUS
        else:
            action = Z_DOWN
        goal = robot.task.goal
        _, reward, terminated, _, _ = env.step(action)
        button_contacts = pybullet.getContactPoints(bodyA=robot.robot.uid, bodyB=robot.sim.body(f"button_{button}"),
                                                    physicsClientId=cid)
        table = pybullet.getContactPoints(bodyA=robot.robot.uid, bodyB=robot.sim.body("table"), physicsClientId=cid)
        log.append(({contact[4] for contact in button_contacts}, reward, bool(table)))
        if terminated or (stop_on_switch and robot.task.goal != goal):
            break
    return log


def test_two_buttons_count_only_their_cap() -> None:
    """Pressing a button is touching its cap: the arm on the green ring or base of either button gets no reward."""
    env = make("Kuka2Button-v0")
    env.reset(seed=0)
    ring_only = [step for step in press(env, 0, (0.1, 0.0), 700) if step[0] and BUTTON_LINK not in step[0]]
    assert len(ring_only) >= 3 and all(reward == 0.0 for _, reward, table in ring_only if not table)
    assert env.unwrapped.task.n_contacts == [0, 0]
    env.reset(seed=0)
    log = press(env, 0, (0.0, 0.0), 700, stop_on_switch=True)
    assert [reward for links, reward, _ in log if BUTTON_LINK in links] == [1.0] * 5  # the cap counts
    assert env.unwrapped.task.goal == 1
    for _ in range(60):  # up, over the second button's ring
        env.step(Z_UP)
    log = press(env, 1, (0.0, -0.1), 900)
    ring_only = [step for step in log if step[0] and BUTTON_LINK not in step[0]]
    assert len(ring_only) >= 3 and all(reward == 0.0 for _, reward, table in ring_only if not table)
    assert env.unwrapped.task.n_contacts == [5, 0]


def test_moving_button_slides_and_turns_back() -> None:
    env = make("KukaMovingButton-v0")
    env.reset(seed=0)
    robot = env.unwrapped
    task = robot.task
    target = robot.target_position()
    env.step(Z_UP)
    np.testing.assert_allclose(robot.target_position() - target, [0, 0.001 * task.direction, 0], atol=1e-12)
    np.testing.assert_allclose(robot.sim.position("button_0")[1], task.button_positions[0][1], atol=1e-9)
    task.button_positions[0][1] = 0.2995
    task.direction = 1.0
    env.step(Z_UP)  # y = 0.3005 > 0.3: turns back
    assert task.direction == -1.0
    env.step(Z_UP)
    assert task.button_positions[0][1] == pytest.approx(0.2995)


def test_rand_button_has_clutter_and_pushes_the_ball() -> None:
    env = make("KukaRandButton-v0")
    env.reset(seed=0)
    robot = env.unwrapped
    clutter = [name for name in robot.task._clutter if name.startswith("object_")]
    assert 1 <= len(clutter) <= 10
    ball = robot.sim.body("ball")
    speeds = []
    for _ in range(12):
        env.step(Z_UP)
        speeds.append(np.linalg.norm(pybullet.getBaseVelocity(ball, physicsClientId=robot.sim.client_id)[0]))
    assert max(speeds[:10]) < 0.05 and speeds[10] > 0.2  # pushed at the 11th step
    env.reset(seed=1)  # the previous clutter is removed
    assert all(not robot.sim.has_body(name) or name in robot.task._clutter for name in clutter)


def test_step_after_termination_warns() -> None:
    env = make(max_distance=0.8).unwrapped
    env.reset(seed=0)
    env._terminated = True
    with pytest.warns(UserWarning, match="after the episode terminated"):
        env.step(Z_UP)


def test_bad_arguments_and_gui_without_display(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="physics_substeps must be at least 1"):
        make(physics_substeps=0)
    with pytest.raises(ValueError, match="cannot take control 'foo'"):
        make(control="foo")
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(RuntimeError, match="needs a display"):
        make(gui=True)


@pytest.mark.parametrize(("srl_model", "action_space"), [("joints", "joints"), ("joints_position", "continuous"),
                                                         ("raw_pixels", "discrete")])
def test_launcher_accepts_kuka_observations_and_controls(srl_model: str, action_space: str) -> None:
    cfg, choices = compose_run(["env=KukaButton", f"srl_model={srl_model}", f"action_space={action_space}"])
    plan = validate(cfg, choices)
    assert plan.env_kwargs["control"] == action_space and plan.env_kwargs["force_down"] is True


def test_smoke_training(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = run_main(["env=KukaButton", "total_timesteps=256", "n_envs=2", "algo.n_steps=64", "algo.n_minibatches=2",
                       "live_plots=none", f"hydra.run.dir={run_dir}"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert (run_dir / "model.zip").exists()
