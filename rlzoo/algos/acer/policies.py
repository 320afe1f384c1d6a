"""ACER's network: a shared trunk with a softmax policy head and a Q head, plus the average policy network."""

from __future__ import annotations

import math
from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3.common.distributions import CategoricalDistribution
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.preprocessing import preprocess_obs
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, FlattenExtractor, NatureCNN, create_mlp
from stable_baselines3.common.type_aliases import PyTorchObs, Schedule
from stable_baselines3.common.utils import polyak_update
from torch import nn


class ACERNetwork(nn.Module):
    """Features extractor, MLP trunk, and two linear heads over the trunk's output.

    :param features_extractor: maps preprocessed observations ``(N, *obs_shape)`` to ``(N, features_dim)``.
    :param net_arch: hidden layer sizes of the trunk (empty: the heads read the features directly).
    :param activation_fn: activation after each trunk layer.
    :param n_actions: number of discrete actions.
    """

    def __init__(
        self,
        features_extractor: BaseFeaturesExtractor,
        net_arch: list[int],
        activation_fn: type[nn.Module],
        n_actions: int,
    ) -> None:
        super().__init__()
        self.features_extractor = features_extractor
        self.trunk = nn.Sequential(*create_mlp(features_extractor.features_dim, -1, net_arch, activation_fn))
        latent_dim = net_arch[-1] if net_arch else features_extractor.features_dim
        self.action_net = nn.Linear(latent_dim, n_actions)  # logits of pi(.|x)
        self.q_net = nn.Linear(latent_dim, n_actions)  # Q(x, .)

    def forward(self, preprocessed_obs: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        """Policy logits and Q-values, both ``(N, n_actions)``."""
        latent = self.trunk(self.features_extractor(preprocessed_obs))
        return self.action_net(latent), self.q_net(latent)


class ACERPolicy(BasePolicy):
    """ACER's discrete actor-critic: ``pi(.|x)`` (softmax) and ``Q(x, .)`` from one shared network.

    The state value is ``V(x) = sum_a pi(a|x) Q(x, a)``. The *average policy network* (Wang et al. 2016, Sec. 3.3)
    is a copy of the network without gradients, moved towards it after every update by :meth:`update_average`; ACER's
    trust region keeps the policy close to it. Images are divided by 255 in ``extract_features`` (SB3's
    ``preprocess_obs``), so the CNN sees floats in [0, 1].

    :param observation_space: observation space.
    :param action_space: a ``Discrete`` action space.
    :param lr_schedule: learning rate as a function of progress remaining (1 to 0); ``lr_schedule(1)`` is used here.
    :param net_arch: trunk hidden layer sizes (default ``[64, 64]``, or ``[]`` after NatureCNN's 512 features).
    :param activation_fn: trunk activation (default Tanh, as stable-baselines' MLP policies).
    :param features_extractor_class: FlattenExtractor for vectors, NatureCNN for images.
    :param features_extractor_kwargs: keyword arguments of the features extractor.
    :param normalize_images: divide image observations by 255.
    :param optimizer_class: optimizer of the network (the average network is not optimised).
    :param optimizer_kwargs: keyword arguments of the optimizer, besides the learning rate.
    :param ortho_init: orthogonal initialisation (gains sqrt(2) in the trunk, 0.01 for the policy head, 1 for Q).
    :param use_sde: must be False (passed by ``OnPolicyAlgorithm``; gSDE is for continuous actions).
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        lr_schedule: Schedule,
        net_arch: list[int] | None = None,
        activation_fn: type[nn.Module] = nn.Tanh,
        features_extractor_class: type[BaseFeaturesExtractor] = FlattenExtractor,
        features_extractor_kwargs: dict[str, Any] | None = None,
        normalize_images: bool = True,
        optimizer_class: type[th.optim.Optimizer] = th.optim.RMSprop,
        optimizer_kwargs: dict[str, Any] | None = None,
        ortho_init: bool = True,
        use_sde: bool = False,
    ) -> None:
        if use_sde:
            raise ValueError("ACER's policy is categorical; gSDE (use_sde=True) does not apply.")
        super().__init__(
            observation_space,
            action_space,
            features_extractor_class,
            features_extractor_kwargs,
            normalize_images=normalize_images,
            optimizer_class=optimizer_class,
            optimizer_kwargs=optimizer_kwargs,
        )
        if net_arch is None:
            net_arch = [] if issubclass(features_extractor_class, NatureCNN) else [64, 64]
        self.net_arch = net_arch
        self.activation_fn = activation_fn
        self.ortho_init = ortho_init
        n_actions = int(action_space.n)
        self.net = ACERNetwork(self.make_features_extractor(), net_arch, activation_fn, n_actions)
        if ortho_init:
            self.net.trunk.apply(lambda module: self.init_weights(module, gain=math.sqrt(2)))
            self.net.features_extractor.apply(lambda module: self.init_weights(module, gain=math.sqrt(2)))
            self.init_weights(self.net.action_net, gain=0.01)
            self.init_weights(self.net.q_net, gain=1.0)
        self.average_net = ACERNetwork(self.make_features_extractor(), net_arch, activation_fn, n_actions)
        self.average_net.load_state_dict(self.net.state_dict())
        self.average_net.requires_grad_(False)
        self.action_dist = CategoricalDistribution(n_actions)
        self.optimizer = self.optimizer_class(self.net.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        """Arguments that rebuild this policy (used by ``BasePolicy.save``/``load``)."""
        data = super()._get_constructor_parameters()
        data.update(
            dict(
                net_arch=self.net_arch,
                activation_fn=self.activation_fn,
                lr_schedule=self._dummy_schedule,
                features_extractor_class=self.features_extractor_class,
                features_extractor_kwargs=self.features_extractor_kwargs,
                optimizer_class=self.optimizer_class,
                optimizer_kwargs=self.optimizer_kwargs,
                ortho_init=self.ortho_init,
            )
        )
        return data

    def logits_and_q(self, obs: PyTorchObs) -> tuple[th.Tensor, th.Tensor]:
        """Policy logits and Q-values of the trained network, both ``(N, n_actions)``."""
        return self.net(preprocess_obs(obs, self.observation_space, normalize_images=self.normalize_images))

    def average_logits(self, obs: PyTorchObs) -> th.Tensor:
        """Policy logits of the average policy network, ``(N, n_actions)``, without gradient."""
        with th.no_grad():
            preprocessed = preprocess_obs(obs, self.observation_space, normalize_images=self.normalize_images)
            return self.average_net(preprocessed)[0]

    def update_average(self, alpha: float) -> None:
        """Average network update ``theta_a <- alpha * theta_a + (1 - alpha) * theta`` (Sec. 3.3)."""
        polyak_update(self.net.parameters(), self.average_net.parameters(), tau=1.0 - alpha)

    def forward(self, obs: PyTorchObs, deterministic: bool = False) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
        """Actions ``(N,)``, values ``V(x) = sum_a pi(a|x) Q(x, a)`` ``(N, 1)`` and log-probabilities ``(N,)``."""
        logits, q_values = self.logits_and_q(obs)
        distribution = self.action_dist.proba_distribution(action_logits=logits)
        actions = distribution.get_actions(deterministic=deterministic)
        values = (distribution.distribution.probs * q_values).sum(dim=1, keepdim=True)
        return actions, values, distribution.log_prob(actions)

    def get_distribution(self, obs: PyTorchObs) -> CategoricalDistribution:
        """The categorical distribution ``pi(.|x)``."""
        return self.action_dist.proba_distribution(action_logits=self.logits_and_q(obs)[0])

    def predict_values(self, obs: PyTorchObs) -> th.Tensor:
        """``V(x) = sum_a pi(a|x) Q(x, a)``, shape ``(N, 1)``."""
        logits, q_values = self.logits_and_q(obs)
        return (th.softmax(logits, dim=1) * q_values).sum(dim=1, keepdim=True)

    def _predict(self, observation: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        """Actions ``(N,)``: sampled from ``pi(.|x)``, or its mode when ``deterministic``."""
        return self.get_distribution(observation).get_actions(deterministic=deterministic)


MlpPolicy = ACERPolicy


class CnnPolicy(ACERPolicy):
    """ACER policy for image observations: NatureCNN features (images divided by 255) and no extra trunk layer.

    :param observation_space: observation space (images).
    :param action_space: a ``Discrete`` action space.
    :param lr_schedule: learning rate schedule.
    :param net_arch: trunk hidden layer sizes after the CNN's 512 features (default none).
    :param activation_fn: trunk activation.
    :param features_extractor_class: NatureCNN by default.
    :param features_extractor_kwargs: keyword arguments of the features extractor.
    :param normalize_images: divide images by 255.
    :param optimizer_class: optimizer of the network.
    :param optimizer_kwargs: keyword arguments of the optimizer.
    :param ortho_init: orthogonal initialisation.
    :param use_sde: must be False.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        lr_schedule: Schedule,
        net_arch: list[int] | None = None,
        activation_fn: type[nn.Module] = nn.Tanh,
        features_extractor_class: type[BaseFeaturesExtractor] = NatureCNN,
        features_extractor_kwargs: dict[str, Any] | None = None,
        normalize_images: bool = True,
        optimizer_class: type[th.optim.Optimizer] = th.optim.RMSprop,
        optimizer_kwargs: dict[str, Any] | None = None,
        ortho_init: bool = True,
        use_sde: bool = False,
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
            ortho_init,
            use_sde,
        )
