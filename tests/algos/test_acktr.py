"""ACKTR: K-FAC installed on the policy, sampled Fisher statistics, learning, save/load (discrete and continuous)."""

import pytest
import torch as th
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import FakeImageEnv
from torch import nn

from algo_test_helpers import check_save_load, identity_score, make_identity_env
from rlzoo.algos import ACKTR
from rlzoo.base import ActionType
from rlzoo.common.kfac import KFAC

TINY = dict(policy_kwargs=dict(net_arch=[16]), device="cpu")


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_kfac_preconditions_every_linear_layer(env_id):
    model = ACKTR("auto", make_vec_env(env_id, n_envs=2, seed=0), n_steps=5, seed=0, **TINY)
    optimizer = model.policy.optimizer
    assert isinstance(optimizer, KFAC)
    model.learn(10)
    linear_layers = [m for m in model.policy.modules() if isinstance(m, nn.Linear)]
    assert len(linear_layers) == 4  # policy and value hidden layers, action head, value head
    assert optimizer.layers == linear_layers
    for layer in linear_layers:
        a_factor, g_factor = optimizer.factors(layer)
        assert a_factor.shape == (layer.in_features + 1,) * 2 and g_factor.shape == (layer.out_features,) * 2
    assert optimizer.param_groups[0]["kfac_steps"] == 1


def test_kfac_preconditions_the_cnn_of_image_policies():
    env = make_vec_env(lambda: FakeImageEnv(action_dim=3, screen_height=36, screen_width=36), n_envs=2, seed=0)
    model = ACKTR("auto", env, n_steps=4, seed=0, device="cpu")
    model.learn(8)
    convolutions = [m for m in model.policy.modules() if isinstance(m, nn.Conv2d)]
    assert len(convolutions) == 3  # NatureCNN
    for conv in convolutions:
        a_factor, g_factor = model.policy.optimizer.factors(conv)
        patch = conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
        assert a_factor.shape == (patch + 1, patch + 1) and g_factor.shape == (conv.out_channels, conv.out_channels)


def test_vf_fisher_coef_weights_the_critic_fisher_block():
    def value_head_g(vf_fisher_coef: float) -> th.Tensor:
        model = ACKTR(
            "auto", make_vec_env("CartPole-v1", n_envs=2, seed=0), n_steps=5, vf_fisher_coef=vf_fisher_coef, seed=0, **TINY
        )
        model.learn(10)
        return model.policy.optimizer.factors(model.policy.value_net)[1]

    th.testing.assert_close(value_head_g(0.25), 0.25 * value_head_g(1.0))


def test_acktr_learns_the_identity_env():
    model = ACKTR("auto", make_identity_env(4, seed=0), n_steps=5, gamma=0.9, learning_rate=0.1, seed=0, **TINY)
    model.learn(2000)
    assert identity_score(model) >= 18.0  # a random policy scores 5, a perfect one 20


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_acktr_save_load_roundtrip(tmp_path, env_id):
    model = ACKTR("auto", make_vec_env(env_id, n_envs=2, seed=0), n_steps=5, learning_rate=0.05, seed=0, **TINY)
    model.learn(300)
    loaded = check_save_load(model, tmp_path)  # also compares the K-FAC factors and momentum buffers
    assert isinstance(loaded.policy.optimizer, KFAC)


def test_acktr_metadata_and_validation():
    assert ACKTR.action_types == (ActionType.DISCRETE, ActionType.CONTINUOUS)
    env = make_vec_env("CartPole-v1", n_envs=1, seed=0)
    with pytest.raises(ValueError, match="kfac_clip"):
        ACKTR("auto", env, kfac_clip=0.0)
    with pytest.raises(ValueError, match="vf_fisher_coef"):
        ACKTR("auto", env, vf_fisher_coef=-1.0)
