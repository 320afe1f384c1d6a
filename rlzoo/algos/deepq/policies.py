"""DeepQ's Q-network policies: SB3's ``DQNPolicy`` with an optional dueling Q-network."""

from __future__ import annotations

from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, FlattenExtractor, NatureCNN, create_mlp
from stable_baselines3.common.type_aliases import PyTorchObs, Schedule
from stable_baselines3.dqn.policies import DQNPolicy, QNetwork
from torch import nn


def dueling_aggregate(value: th.Tensor, advantage: th.Tensor) -> th.Tensor:
    """Dueling aggregation ``Q(x, a) = V(x) + A(x, a) - mean_a' A(x, a')`` (Wang et al. 2016, eq. (9)).

    :param value: ``V(x)``, shape ``(N, 1)``.
    :param advantage: ``A(x, .)``, shape ``(N, n_actions)``.
    :return: ``Q(x, .)``, shape ``(N, n_actions)``.
    """
    return value + advantage - advantage.mean(dim=1, keepdim=True)


class DuelingQNetwork(QNetwork):
    """Dueling Q-network (Wang et al. 2016, https://arxiv.org/abs/1511.06581): two streams over shared features.

    The value stream ``V(x)`` and the advantage stream ``A(x, .)`` each have the hidden layers ``net_arch``; the
    outputs are combined by :func:`dueling_aggregate`. SB3's single ``q_net`` stream is replaced by these two.

    :param observation_space: observation space.
    :param action_space: a ``Discrete`` action space.
    :param features_extractor: shared features extractor.
    :param features_dim: its output size.
    :param net_arch: hidden layer sizes of each stream (default ``[64, 64]``).
    :param activation_fn: activation after each hidden layer.
    :param normalize_images: divide image observations by 255.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        features_extractor: BaseFeaturesExtractor,
        features_dim: int,
        net_arch: list[int] | None = None,
        activation_fn: type[nn.Module] = nn.ReLU,
        normalize_images: bool = True,
    ) -> None:
        super().__init__(
            observation_space, action_space, features_extractor, features_dim, net_arch, activation_fn, normalize_images
        )
        del self.q_net
        n_actions = int(self.action_space.n)
        self.value_net = nn.Sequential(*create_mlp(self.features_dim, 1, self.net_arch, self.activation_fn))
        self.advantage_net = nn.Sequential(*create_mlp(self.features_dim, n_actions, self.net_arch, self.activation_fn))

    def forward(self, obs: PyTorchObs) -> th.Tensor:
        """Q-values ``(N, n_actions)`` of a batch of observations."""
        features = self.extract_features(obs, self.features_extractor)
        return dueling_aggregate(self.value_net(features), self.advantage_net(features))


class DeepQPolicy(DQNPolicy):
    """SB3's DQN policy (online and target Q-networks) whose networks are dueling when ``dueling`` is True.

    :param observation_space: observation space.
    :param action_space: a ``Discrete`` action space.
    :param lr_schedule: learning rate schedule (progress remaining 1 to 0).
    :param net_arch: hidden layer sizes (of each stream when dueling); default ``[64, 64]``, ``[]`` after NatureCNN.
    :param activation_fn: activation after each hidden layer.
    :param features_extractor_class: FlattenExtractor for vectors, NatureCNN for images.
    :param features_extractor_kwargs: keyword arguments of the features extractor.
    :param normalize_images: divide image observations by 255.
    :param optimizer_class: optimizer (Adam, as stable-baselines' DQN).
    :param optimizer_kwargs: keyword arguments of the optimizer, besides the learning rate.
    :param dueling: build :class:`DuelingQNetwork` instead of SB3's ``QNetwork``.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        lr_schedule: Schedule,
        net_arch: list[int] | None = None,
        activation_fn: type[nn.Module] = nn.ReLU,
        features_extractor_class: type[BaseFeaturesExtractor] = FlattenExtractor,
        features_extractor_kwargs: dict[str, Any] | None = None,
        normalize_images: bool = True,
        optimizer_class: type[th.optim.Optimizer] = th.optim.Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
        dueling: bool = True,
    ) -> None:
        self.dueling = dueling  # read by make_q_net, which DQNPolicy.__init__ calls
        super().__init__(
            observation_space,
            action_space,
            lr_schedule,
            net_arch,
            activation_fn,
            features_extractor_class,
            features_extractor_kwargs,
            normalize_images,
            optimizer_class,
            optimizer_kwargs,
        )

    def make_q_net(self) -> QNetwork:
        """A fresh (dueling or plain) Q-network with its own features extractor."""
        net_args = self._update_features_extractor(self.net_args, features_extractor=None)
        network_class = DuelingQNetwork if self.dueling else QNetwork
        return network_class(**net_args).to(self.device)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        """Arguments that rebuild this policy (used by ``BasePolicy.save``/``load``)."""
        data = super()._get_constructor_parameters()
        data.update(dueling=self.dueling)
        return data


MlpPolicy = DeepQPolicy


class CnnPolicy(DeepQPolicy):
    """DeepQ policy for images: NatureCNN features (images divided by 255).

    :param observation_space: observation space (images).
    :param action_space: a ``Discrete`` action space.
    :param lr_schedule: learning rate schedule.
    :param net_arch: hidden layer sizes after the CNN (default none).
    :param activation_fn: activation after each hidden layer.
    :param features_extractor_class: NatureCNN by default.
    :param features_extractor_kwargs: keyword arguments of the features extractor.
    :param normalize_images: divide images by 255.
    :param optimizer_class: optimizer.
    :param optimizer_kwargs: keyword arguments of the optimizer.
    :param dueling: dueling Q-networks.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        lr_schedule: Schedule,
        net_arch: list[int] | None = None,
        activation_fn: type[nn.Module] = nn.ReLU,
        features_extractor_class: type[BaseFeaturesExtractor] = NatureCNN,
        features_extractor_kwargs: dict[str, Any] | None = None,
        normalize_images: bool = True,
        optimizer_class: type[th.optim.Optimizer] = th.optim.Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
        dueling: bool = True,
    ) -> None:
        super().__init__(
            observation_space,
            action_space,
            lr_schedule,
            net_arch,
            activation_fn,
            features_extractor_class,
            features_extractor_kwargs,
            normalize_images,
            optimizer_class,
            optimizer_kwargs,
            dueling,
        )
