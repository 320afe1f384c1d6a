"""The Kuka envs' composite renderer: agreement with pybullet's full render, the ``renderer`` argument, same physics."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from envs.kuka import lowpoly_mesh, read_obj
from envs.kuka_button import CAMERA_2, RENDERERS, KukaButtonEnv, KukaCompositeRenderer
from envs.sim import pybullet

KUKA_IDS = ("KukaButton-v0", "KukaRandButton-v0", "Kuka2Button-v0", "KukaMovingButton-v0")
#: (seed, discrete actions) of the compared states: a reset, then the actions
STATES = ((0, ()), (1, (4,) * 6 + (1,) * 4), (2, (0, 2) * 6 + (5,) * 3))


def reference(env: KukaButtonEnv) -> np.ndarray:
    """pybullet's full render of the env's physics world (what ``renderer="pybullet"`` returns)."""
    view, projection = env.sim.camera_matrices(env.camera)
    return env.sim.render(view, projection, env.image_size)


def differences(fast: np.ndarray, slow: np.ndarray) -> tuple[float, float]:
    """Mean absolute difference (in 1/255) and the share of pixels within 10/255 on every channel."""
    difference = np.abs(fast.astype(np.int16) - slow.astype(np.int16))
    return float(difference.mean()), float((difference.max(axis=2) <= 10).mean())


@pytest.mark.parametrize("env_id", KUKA_IDS)
def test_composite_agrees_with_pybullet(env_id: str) -> None:
    env = gym.make(env_id, image_size=64, random_target=True).unwrapped
    for seed, actions in STATES:
        env.reset(seed=seed)
        for action in actions:
            env.step(action)
        fast, slow = env.render_image(), reference(env)
        assert fast.shape == slow.shape == (64, 64, 3) and fast.dtype == np.uint8
        mean, within = differences(fast, slow)
        assert mean <= 2.0 and within >= 0.98, (seed, mean, within)
    env.close()


def test_composite_with_the_original_meshes_is_nearly_exact() -> None:
    """Without the low-polygon arm, the composite differs from pybullet's render only by rounding at edges."""
    env = gym.make("KukaRandButton-v0", image_size=96, random_target=True).unwrapped
    env.reset(seed=3)
    for action in (4, 4, 1, 1, 3):
        env.step(action)
    view, projection = env.sim.camera_matrices(env.camera)
    exact = KukaCompositeRenderer(env.sim, static=("plane", "table"), always_moving=("robot",), view=view,
                                  projection=projection, size=96, lowpoly=False)
    mean, within = differences(exact.render(), reference(env))
    assert mean < 0.3 and within > 0.995
    exact.close()
    exact.close()  # a second close must not raise
    env.close()


def test_moved_bodies_leave_the_background() -> None:
    """The ball pushed at the 11th step is drawn where it rolls, the resting clutter stays in the background."""
    env = gym.make("KukaRandButton-v0", image_size=64).unwrapped
    env.reset(seed=0)
    renderer = env.composite_renderer()
    env.render_image()
    ball = env.sim.body("ball")
    assert ball in renderer._resting and not renderer._moved
    for _ in range(25):
        env.step(5)
        mean, within = differences(env.render_image(), reference(env))
        assert mean <= 2.0 and within >= 0.98
    assert ball in renderer._moved and ball not in renderer._resting
    env.reset(seed=1)
    env.render_image()
    assert not renderer._moved  # a reset puts every body back in the background
    env.close()


def test_envs_share_the_render_world() -> None:
    """Several envs draw in one render client without seeing each other's bodies, and survive each other's close."""
    first = gym.make("KukaButton-v0", image_size=64, random_target=True).unwrapped
    second = gym.make("KukaRandButton-v0", image_size=64, random_target=True).unwrapped
    third = gym.make("KukaButton-v0", image_size=64, renderer="composite").unwrapped
    for env, seed in ((first, 1), (second, 2), (third, 3)):
        env.reset(seed=seed)
    renderers = [env.composite_renderer() for env in (first, second, third)]
    assert len({renderer._client for renderer in renderers}) == 1 and renderers[0]._world.users >= 3
    for step in range(12):
        for env in (first, second, third):
            env.step(step % 6)
            mean, within = differences(env.render_image(), reference(env))
            assert mean <= 2.0 and within >= 0.98
    first.close()
    third.reset(seed=4)
    for env in (second, third):
        env.step(0)
        mean, within = differences(env.render_image(), reference(env))
        assert mean <= 2.0 and within >= 0.98
    second.close()
    third.close()
    third.close()


def test_segmentation_matches_pybullet() -> None:
    env = gym.make("Kuka2Button-v0", image_size=64).unwrapped
    env.reset(seed=0)
    env.render_image()
    view, projection = env.sim.camera_matrices(env.camera)
    _, _, _, _, seg = env.sim.client.getCameraImage(64, 64, viewMatrix=view, projectionMatrix=projection,
                                                    renderer=pybullet.ER_TINY_RENDERER,
                                                    flags=pybullet.ER_SEGMENTATION_MASK_OBJECT_AND_LINKINDEX)
    fast = env.composite_renderer().segmentation()
    slow = np.asarray(seg).reshape(64, 64)
    assert fast.shape == (64, 64)
    assert (fast == slow).mean() > 0.98
    for i in range(2):  # both buttons' caps are seen, in the same place
        cap = env.sim.body(f"button_{i}") + (2 << 24)
        assert (fast == cap).sum() > 5
        np.testing.assert_allclose(np.argwhere(fast == cap).mean(0), np.argwhere(slow == cap).mean(0), atol=0.25)
    env.close()


@pytest.mark.parametrize("env_id", KUKA_IDS)
def test_renderer_argument(env_id: str) -> None:
    assert RENDERERS == ("composite", "pybullet")
    env = gym.make(env_id).unwrapped
    assert env.renderer == "composite" and env._ezpickle_kwargs["renderer"] == "composite"
    slow = gym.make(env_id, renderer="pybullet", observation="pixels", image_size=36).unwrapped
    clone = pickle.loads(pickle.dumps(slow))
    assert clone.renderer == "pybullet" and clone.image_size == 36
    obs, _ = clone.reset(seed=0)
    assert not clone._kuka_renderers and obs.shape == (36, 36, 3)  # pybullet renders in the physics world
    with pytest.raises(ValueError, match=r"renderer='opengl'; the choices are composite, pybullet"):
        gym.make(env_id, renderer="opengl")
    for e in (env, slow, clone):
        e.close()


@pytest.mark.parametrize("env_id", KUKA_IDS)
def test_physics_is_the_same_with_both_renderers(env_id: str) -> None:
    rollouts = []
    for renderer in RENDERERS:
        env = gym.make(env_id, observation="pixels", image_size=36, renderer=renderer, random_target=True)
        env.reset(seed=7)
        robot = env.unwrapped
        rng = np.random.default_rng(7)
        record = []
        for _ in range(30):
            _, reward, terminated, truncated, _ = env.step(int(rng.integers(6)))
            record.append((reward, terminated, truncated, *robot.ground_truth(), *robot.robot.joint_positions(),
                           *robot.target_position()))
        rollouts.append(np.array(record))
        env.close()
    np.testing.assert_array_equal(rollouts[0], rollouts[1])


def test_render_mode_uses_the_renderer() -> None:
    env = gym.make("KukaButton-v0", render_mode="rgb_array", image_size=48)
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (48, 48, 3) and list(env.unwrapped._kuka_renderers) == [0]
    assert differences(frame, reference(env.unwrapped))[0] <= 2.0
    env.close()
    env.close()


def reference_view(env: KukaButtonEnv, view: int) -> np.ndarray:
    """pybullet's full render of the env's physics world from camera ``view``."""
    matrices, projection = env.sim.camera_matrices(env.cameras[view])
    return env.sim.render(matrices, projection, env.image_size)


@pytest.mark.parametrize("renderer", RENDERERS)
@pytest.mark.parametrize("env_id", ["KukaButton-v0", "Kuka2Button-v0"])
def test_multi_view_observation_stacks_both_cameras(env_id: str, renderer: str) -> None:
    """Two views on the channel axis, camera 1 first; each is that camera's single-view render; videos get view 1."""
    env = gym.make(env_id, observation="pixels", multi_view=True, renderer=renderer, image_size=48,
                   render_mode="rgb_array")
    assert env.observation_space.shape == (48, 48, 6) and env.observation_space.dtype == np.uint8
    robot = env.unwrapped
    assert robot.cameras == (robot.camera, CAMERA_2)
    obs, _ = env.reset(seed=0)
    for action in (4, 4, 1, 3):
        obs, *_ = env.step(action)
    assert obs.shape == (48, 48, 6) and env.observation_space.contains(obs)
    first, second = obs[..., :3], obs[..., 3:]
    assert np.abs(first.astype(np.int16) - second.astype(np.int16)).mean() > 20  # two different viewpoints
    np.testing.assert_array_equal(first, robot.render_view(0))
    np.testing.assert_array_equal(second, robot.render_view(1))
    np.testing.assert_array_equal(robot.render_views(), obs)
    np.testing.assert_array_equal(env.render(), first)  # render() and videos: the first camera's RGB image
    for view in (0, 1):  # both renderers draw each camera as pybullet's full render of it (the reference)
        mean, within = differences(obs[..., 3 * view:3 * view + 3], reference_view(robot, view))
        assert mean <= 2.0 and within >= 0.98, (view, mean, within)
    single = gym.make(env_id, observation="pixels", renderer=renderer, image_size=48)
    single_obs, _ = single.reset(seed=0)
    for action in (4, 4, 1, 3):
        single_obs, *_ = single.step(action)
    np.testing.assert_array_equal(single_obs, first)  # view 1 is the single-view env's image
    with pytest.raises(ValueError, match="has 1 camera"):
        single.unwrapped.render_view(1)
    env.close()
    single.close()


def test_multi_view_argument() -> None:
    env = gym.make("KukaRandButton-v0", multi_view=True)
    clone = pickle.loads(pickle.dumps(env.unwrapped))
    assert clone.multi_view and clone._ezpickle_kwargs["multi_view"] is True
    assert env.unwrapped.observation_space.shape == (3,)  # multi_view changes camera images only
    assert gym.make("KukaMovingButton-v0", observation="pixels", image_size=40).observation_space.shape == (40, 40, 3)
    with pytest.raises(TypeError, match="multi_view must be true or false"):
        gym.make("KukaButton-v0", multi_view="yes")
    for e in (env, clone):
        e.close()


def test_lowpoly_meshes_replace_only_the_arm() -> None:
    import pybullet_data

    link = f"{pybullet_data.getDataPath()}/kuka_iiwa/meshes/link_3.obj"
    small = lowpoly_mesh(link)
    assert small != link and small.endswith("kuka_lowpoly/link_3.obj")
    assert lowpoly_mesh(f"{pybullet_data.getDataPath()}/kuka_iiwa/meshes/finger_tip_left.stl").endswith(
        "kuka_lowpoly/finger_tip_left.obj")
    assert lowpoly_mesh(f"{pybullet_data.getDataPath()}/duck.obj").endswith("duck.obj")
    assert len(read_obj(small)[2]) < len(read_obj(link)[2]) / 5
