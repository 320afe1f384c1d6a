"""DeepQ: double-DQN targets, dueling aggregation, prioritized replay in train(), learning, save/load."""

import copy

import numpy as np
import pytest
import torch as th
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import FakeImageEnv
from stable_baselines3.dqn.policies import DQNPolicy, QNetwork
from torch.nn import functional as F

from algo_test_helpers import check_save_load, identity_score, make_identity_env
from rlzoo.algos import DeepQ
from rlzoo.algos.deepq.policies import CnnPolicy, DuelingQNetwork, dueling_aggregate
from rlzoo.base import ActionType
from rlzoo.common.buffers import PrioritizedReplayBuffer

TINY = dict(policy_kwargs=dict(net_arch=[32]), device="cpu")
IDENTITY_SETTINGS = dict(
    learning_starts=200, gamma=0.9, learning_rate=3e-3, target_update_interval=100, train_freq=2, exploration_fraction=0.3
)


def set_linear_q(network: QNetwork, weight: list[list[float]], bias: list[float]) -> None:
    """Make a plain Q-network with ``net_arch=[]`` compute ``Q(x, .) = weight @ x + bias``."""
    (layer,) = network.q_net
    with th.no_grad():
        layer.weight.copy_(th.tensor(weight))
        layer.bias.copy_(th.tensor(bias))


@pytest.mark.parametrize("double", [True, False])
def test_double_dqn_target_uses_online_argmax_and_target_value(double):
    env = make_vec_env("CartPole-v1", n_envs=1, seed=0)
    model = DeepQ("auto", env, double=double, dueling=False, policy_kwargs=dict(net_arch=[]), device="cpu")
    # two actions, observations of 4 numbers; only the first two coordinates matter
    set_linear_q(model.q_net, [[1.0, 0.0, 0, 0], [0.0, 1.0, 0, 0]], [0.0, 0.0])  # online: argmax = larger coordinate
    set_linear_q(model.q_net_target, [[0.0, 0.0, 0, 0], [0.0, 0.0, 0, 0]], [10.0, -5.0])  # target: Q = (10, -5)
    next_observations = th.tensor([[1.0, 3.0, 0, 0], [4.0, 2.0, 0, 0]])
    values = model.next_state_values(next_observations)
    assert values.shape == (2, 1)
    if double:
        # online argmax is action 1 then action 0; the target network values them
        th.testing.assert_close(values[:, 0], th.tensor([-5.0, 10.0]))
    else:
        th.testing.assert_close(values[:, 0], th.tensor([10.0, 10.0]))  # max of the target network


def test_dueling_aggregation_on_fixed_numbers():
    value = th.tensor([[1.0], [-2.0]])
    advantage = th.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 6.0]])
    th.testing.assert_close(dueling_aggregate(value, advantage), th.tensor([[0.0, 1.0, 2.0], [-4.0, -4.0, 2.0]]))


def test_dueling_network_combines_its_streams():
    model = DeepQ("auto", make_vec_env("CartPole-v1", n_envs=1, seed=0), dueling=True, seed=0, **TINY)
    network = model.q_net
    assert isinstance(network, DuelingQNetwork) and isinstance(model.q_net_target, DuelingQNetwork)
    assert not hasattr(network, "q_net")
    observations = th.randn(5, 4)
    features = network.extract_features(observations, network.features_extractor)
    value, advantage = network.value_net(features), network.advantage_net(features)
    assert value.shape == (5, 1) and advantage.shape == (5, 2)
    q_values = network(observations)
    th.testing.assert_close(q_values, value + advantage - advantage.mean(dim=1, keepdim=True))
    th.testing.assert_close(q_values.mean(dim=1, keepdim=True), value)  # identifiability: mean_a Q = V
    plain = DeepQ("auto", make_vec_env("CartPole-v1", n_envs=1, seed=0), dueling=False, seed=0, **TINY)
    assert type(plain.q_net) is QNetwork


def test_dueling_cnn_policy_on_images():
    env = make_vec_env(lambda: FakeImageEnv(action_dim=3, screen_height=36, screen_width=36), n_envs=1, seed=0)
    model = DeepQ("auto", env, learning_starts=8, buffer_size=50, batch_size=4, train_freq=2, seed=0, device="cpu")
    assert isinstance(model.policy, CnnPolicy) and isinstance(model.q_net, DuelingQNetwork)
    model.learn(20)
    assert model._n_updates > 0


def test_train_weights_the_loss_and_updates_priorities_from_td_errors():
    env = make_vec_env("CartPole-v1", n_envs=1, seed=0)
    model = DeepQ("auto", env, learning_starts=1000, buffer_size=300, seed=0, **TINY)
    buffer = model.replay_buffer
    assert isinstance(buffer, PrioritizedReplayBuffer) and buffer.alpha == 0.6 and buffer.epsilon == 1e-6
    model.learn(200)  # fills the buffer; learning has not started
    np.testing.assert_array_equal(buffer.tree[np.arange(200)], 1.0)  # every transition entered at priority 1

    model._current_progress_remaining = 0.5
    model.train(gradient_steps=1, batch_size=64)  # a first step makes the priorities differ

    sampled = []
    sample = buffer.sample
    buffer.sample = lambda *args, **kwargs: sampled.append((sample(*args, **kwargs), kwargs)) or sampled[-1][0]
    online, target = copy.deepcopy(model.q_net), copy.deepcopy(model.q_net_target)
    model.train(gradient_steps=1, batch_size=16)

    ((batch, kwargs),) = sampled
    assert kwargs["beta"] == pytest.approx(0.4 + 0.5 * (1.0 - 0.4))  # beta0 annealed linearly to 1
    with th.no_grad():
        next_actions = online(batch.next_observations).argmax(dim=1, keepdim=True)  # double DQN
        target_q = batch.rewards + (1 - batch.dones) * model.gamma * target(batch.next_observations).gather(1, next_actions)
        current_q = online(batch.observations).gather(1, batch.actions.long())
    td_errors = (target_q - current_q).numpy().ravel()
    np.testing.assert_allclose(buffer.tree[batch.indices], (np.abs(td_errors) + 1e-6) ** 0.6, rtol=1e-5)
    weighted_loss = (batch.weights * F.smooth_l1_loss(current_q, target_q, reduction="none")).mean()
    assert model.logger.name_to_value["train/loss"] == pytest.approx(float(weighted_loss), rel=1e-5)
    assert float(batch.weights.min()) < 1.0  # the importance weights are not uniform

    uniform = DeepQ("auto", env, prioritized=False, **TINY)
    assert type(uniform.replay_buffer) is ReplayBuffer


@pytest.mark.parametrize("options", [dict(), dict(double=False, dueling=False, prioritized=False)], ids=["all", "plain"])
def test_deepq_learns_the_identity_env(options):
    model = DeepQ("auto", make_identity_env(1, seed=0), seed=0, **IDENTITY_SETTINGS, **options, **TINY)
    model.learn(1500)
    assert identity_score(model) >= 18.0  # a random policy scores 5, a perfect one 20


@pytest.mark.parametrize("options", [dict(), dict(double=False, dueling=False, prioritized=False)], ids=["all", "plain"])
def test_deepq_save_load_roundtrip(tmp_path, options):
    env = make_vec_env("CartPole-v1", n_envs=1, seed=0)
    model = DeepQ("auto", env, learning_starts=100, seed=0, **options, **TINY)
    model.learn(300)
    loaded = check_save_load(model, tmp_path)
    for option in ("double", "dueling", "prioritized"):
        assert getattr(loaded, option) == getattr(model, option)
    assert type(loaded.q_net) is type(model.q_net)
    assert type(loaded.replay_buffer) is type(model.replay_buffer)


def test_deepq_metadata_and_validation():
    assert DeepQ.action_types == (ActionType.DISCRETE,)
    env = make_vec_env("CartPole-v1", n_envs=1, seed=0)
    defaults = DeepQ("auto", env, device="cpu")
    assert (defaults.buffer_size, defaults.learning_starts, defaults.target_update_interval) == (1000, 500, 500)
    assert defaults.double and defaults.dueling and defaults.prioritized
    with pytest.raises(ValueError, match="contradicts"):
        DeepQ("auto", env, dueling=True, policy_kwargs=dict(dueling=False))
    with pytest.raises(ValueError, match="DeepQPolicy"):
        DeepQ(DQNPolicy, env, dueling=True)
    assert type(DeepQ(DQNPolicy, env, dueling=False).q_net) is QNetwork
    with pytest.raises(ValueError, match="beta0"):
        DeepQ("auto", env, prioritized_replay_beta0=1.5)
