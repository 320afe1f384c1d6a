"""ACER: Retrace targets, trust region, behaviour probabilities in the replay, learning, save/load."""

import copy

import numpy as np
import pytest
import torch as th
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import FakeImageEnv

from algo_test_helpers import check_save_load, identity_score, make_identity_env
from rlzoo.algos import ACER
from rlzoo.algos.acer.acer import retrace_targets, trust_region_step
from rlzoo.algos.acer.policies import CnnPolicy
from rlzoo.base import ActionType

TINY = dict(policy_kwargs=dict(net_arch=[32]), device="cpu")


def test_retrace_targets_on_a_hand_computed_example():
    gamma = 0.9
    # two segments of 3 steps, column 1 ends its episode after step 1
    rewards = th.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    dones = th.tensor([[0.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    q_taken = th.tensor([[0.5, 0.5], [1.0, 1.0], [1.5, 1.5]])
    values = th.tensor([[0.4, 0.4], [0.8, 0.8], [1.2, 1.2]])
    rho_bar = th.tensor([[1.0, 1.0], [0.5, 0.5], [0.2, 0.2]])
    last_values = th.tensor([10.0, 10.0])
    # Q^ret_t = r_t + gamma * (rho_bar_{t+1} (Q^ret_{t+1} - Q_{t+1}) + V_{t+1}), Q^ret after the segment = V(x_3)
    q_ret_2 = 3.0 + gamma * 10.0  # 12.0
    q_ret_1 = 2.0 + gamma * (0.2 * (q_ret_2 - 1.5) + 1.2)  # 4.97
    q_ret_0 = 1.0 + gamma * (0.5 * (q_ret_1 - 1.0) + 0.8)  # 3.5065
    terminal_q_ret_1 = 2.0  # the episode ended: nothing is bootstrapped
    terminal_q_ret_0 = 1.0 + gamma * (0.5 * (terminal_q_ret_1 - 1.0) + 0.8)  # 2.17
    expected = th.tensor([[q_ret_0, terminal_q_ret_0], [q_ret_1, terminal_q_ret_1], [q_ret_2, q_ret_2]])
    th.testing.assert_close(expected, th.tensor([[3.5065, 2.17], [4.97, 2.0], [12.0, 12.0]]))
    th.testing.assert_close(retrace_targets(rewards, dones, q_taken, values, rho_bar, last_values, gamma), expected)


def test_retrace_on_policy_with_exact_q_is_the_n_step_return():
    """rho_bar = 1 and Q = V = 0: Q^ret is the discounted sum of rewards plus the discounted bootstrap."""
    rewards = th.tensor([[1.0], [0.0], [2.0]])
    zeros = th.zeros(3, 1)
    q_ret = retrace_targets(rewards, zeros, zeros, zeros, th.ones(3, 1), th.tensor([4.0]), gamma=0.5)
    th.testing.assert_close(q_ret[:, 0], th.tensor([1.0 + 0.25 * 2.0 + 0.125 * 4.0, 2.0 * 0.5 + 0.25 * 4.0, 2.0 + 0.5 * 4.0]))


def test_trust_region_step():
    g = th.tensor([[1.0, 2.0], [3.0, -1.0]])
    k = th.tensor([[0.1, 0.1], [2.0, 1.0]])
    z = trust_region_step(g, k, delta=1.0)
    th.testing.assert_close(z[0], g[0])  # k^T g = 0.3 <= delta: unchanged
    assert float((k[1] * z[1]).sum()) == pytest.approx(1.0)  # k^T g = 5 > delta: projected onto k^T z = delta
    th.testing.assert_close(z[1], g[1] - (5.0 - 1.0) / 5.0 * k[1])


def test_replay_stores_the_behaviour_policy_of_each_rollout():
    class SnapshotPolicy(BaseCallback):
        def _on_rollout_start(self) -> None:
            self.snapshot = copy.deepcopy(self.model.policy)

        def _on_step(self) -> bool:
            return True

    env = make_vec_env("CartPole-v1", n_envs=2, seed=0)
    model = ACER("auto", env, n_steps=4, replay_ratio=0.0, learning_rate=1e-2, seed=0, **TINY)
    callback = SnapshotPolicy()
    model.learn(8, callback=callback)  # one rollout of 4 steps x 2 envs, one update
    replay = model.replay_buffer
    assert replay.n_transitions == 8
    stored_obs = th.as_tensor(replay.observations[:2]).reshape(8, -1)
    with th.no_grad():
        acting = th.softmax(callback.snapshot.logits_and_q(stored_obs)[0], dim=1)
        updated = th.softmax(model.policy.logits_and_q(stored_obs)[0], dim=1)
    stored = th.as_tensor(replay.behaviour_probs[:2]).reshape(8, -1)
    th.testing.assert_close(stored, acting)
    assert not th.allclose(stored, updated)  # the update changed the policy after it acted
    np.testing.assert_allclose(replay.behaviour_probs[:2].sum(axis=-1), 1.0, rtol=1e-5)


def test_average_network_follows_the_policy():
    env = make_vec_env("CartPole-v1", n_envs=2, seed=0)
    model = ACER("auto", env, n_steps=4, alpha=0.5, replay_ratio=0.0, learning_rate=1e-2, seed=0, **TINY)
    before = copy.deepcopy(model.policy.average_net.state_dict())
    model.learn(8)
    weight = "action_net.weight"
    expected = 0.5 * before[weight] + 0.5 * model.policy.net.state_dict()[weight]
    th.testing.assert_close(model.policy.average_net.state_dict()[weight], expected)
    assert not any(p.requires_grad for p in model.policy.average_net.parameters())


@pytest.mark.parametrize("trust_region", [True, False])
def test_acer_learns_the_identity_env(trust_region):
    model = ACER(
        "auto",
        make_identity_env(4, seed=0),
        n_steps=5,
        gamma=0.9,
        learning_rate=3e-3,
        buffer_size=1000,
        replay_start=100,
        trust_region=trust_region,
        seed=0,
        **TINY,
    )
    model.learn(2000)
    assert identity_score(model) >= 18.0  # a random policy scores 5, a perfect one 20


def test_acer_cnn_policy_sees_images_divided_by_255():
    env = make_vec_env(lambda: FakeImageEnv(action_dim=3, screen_height=36, screen_width=36), n_envs=2, seed=0)
    model = ACER("auto", env, n_steps=4, buffer_size=40, replay_start=8, seed=0, device="cpu")
    assert isinstance(model.policy, CnnPolicy)
    model.learn(24)
    images = th.as_tensor(np.stack([model.observation_space.sample() for _ in range(3)]))  # uint8, channel first
    with th.no_grad():
        logits, q_values = model.policy.logits_and_q(images)
        expected_logits, expected_q = model.policy.net(images.float() / 255.0)
    th.testing.assert_close(logits, expected_logits)
    th.testing.assert_close(q_values, expected_q)


def test_acer_save_load_roundtrip(tmp_path):
    model = ACER("auto", make_vec_env("CartPole-v1", n_envs=2, seed=0), n_steps=5, replay_start=20, seed=0, **TINY)
    model.learn(300)
    assert model.replay_buffer.n_transitions > 0
    loaded = check_save_load(model, tmp_path)
    # the replay is not saved: after loading it holds only the 7 rollouts of 5 steps x 2 envs of learn(64)
    assert loaded.replay_buffer.n_transitions == 70


def test_acer_metadata_and_validation():
    assert ACER.action_types == (ActionType.DISCRETE,)
    env = make_vec_env("CartPole-v1", n_envs=1, seed=0)
    with pytest.raises(ValueError, match="buffer_size"):
        ACER("auto", env, n_steps=20, buffer_size=10)
    with pytest.raises(ValueError, match="lr_schedule"):
        ACER("auto", env, lr_schedule="cosine")
    with pytest.raises(AssertionError):  # SB3 checks supported_action_spaces
        ACER("auto", make_vec_env("Pendulum-v1", n_envs=1, seed=0))
