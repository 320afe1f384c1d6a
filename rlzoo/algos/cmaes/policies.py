"""CMA-ES policies: small networks whose flattened parameters are one CMA-ES solution vector."""

from __future__ import annotations

from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.preprocessing import get_action_dim, preprocess_obs
from stable_baselines3.common.type_aliases import PyTorchObs
from torch import nn


class CMAESPolicy(BasePolicy):
    """Base of the CMA-ES policies: a network from observations to action outputs, no optimizer, no noise.

    Continuous actions are the raw outputs (``predict`` clips them to the action bounds); discrete actions are the
    argmax of the outputs (``deterministic``) or a sample of their softmax.

    :param observation_space: observation space.
    :param action_space: ``Discrete`` or ``Box`` action space.
    """

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space) -> None:
        if not isinstance(action_space, (spaces.Discrete, spaces.Box)):
            raise TypeError(f"CMA-ES policies drive Discrete or Box action spaces, not {action_space}.")
        super().__init__(observation_space, action_space)
        discrete = isinstance(action_space, spaces.Discrete)
        self.n_outputs = int(action_space.n) if discrete else get_action_dim(action_space)  # logits or actions

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {"observation_space": self.observation_space, "action_space": self.action_space}

    def forward(self, obs: PyTorchObs) -> th.Tensor:
        """Outputs ``(batch, n_outputs)``: logits (discrete) or actions before clipping (continuous)."""
        raise NotImplementedError

    def _predict(self, observation: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        outputs = self(observation)
        if isinstance(self.action_space, spaces.Box):
            return outputs
        if deterministic:
            return outputs.argmax(dim=1)
        return th.distributions.Categorical(logits=outputs).sample()

    def action_proba(self, observation: PyTorchObs) -> th.Tensor:
        """Action probabilities ``(batch, n_actions)`` (discrete) or raw outputs (continuous)."""
        outputs = self(observation)
        return th.softmax(outputs, dim=1) if isinstance(self.action_space, spaces.Discrete) else outputs


class CMAESMlpPolicy(CMAESPolicy):
    """The original's MLP for states: observation -> 100 (ReLU) -> one output per action.

    :param observation_space: observation space (flattened).
    :param action_space: ``Discrete`` or ``Box`` action space.
    :param hidden_size: width of the hidden layer.
    """

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, hidden_size: int = 100) -> None:
        super().__init__(observation_space, action_space)
        self.hidden_size = hidden_size
        n_inputs = int(spaces.flatdim(observation_space))
        self.net = nn.Sequential(nn.Linear(n_inputs, hidden_size), nn.ReLU(), nn.Linear(hidden_size, self.n_outputs))

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {**super()._get_constructor_parameters(), "hidden_size": self.hidden_size}

    def forward(self, obs: PyTorchObs) -> th.Tensor:
        """Outputs ``(batch, n_outputs)`` of a batch of observations ``(batch, *obs_shape)``."""
        features = preprocess_obs(obs, self.observation_space, normalize_images=self.normalize_images)
        return self.net(features.flatten(start_dim=1).float())


class CMAESCnnPolicy(CMAESPolicy):
    """The original's CNN for images, without its BatchNorm layers.

    Three blocks of convolution (8 5x5 filters stride 2, 16 3x3 stride 2, 32 3x3 stride 2), ReLU and 2x2 max pooling,
    then one linear layer to the actions. Images ``(batch, channels, height, width)`` in [0, 255] are divided by 255
    here. The original's BatchNorm ran in training mode on batches of one image (each action normalised its own
    features, so the layers did nothing useful and made actions depend on the batch); convolutions get a bias
    instead. Pooling rounds up, so small images (40 pixels) keep a 1x1 map.

    :param observation_space: image observation space, channels first.
    :param action_space: ``Discrete`` or ``Box`` action space.
    """

    def __init__(self, observation_space: spaces.Box, action_space: spaces.Space) -> None:
        super().__init__(observation_space, action_space)
        n_channels = observation_space.shape[0]
        self.cnn = nn.Sequential(
            nn.Conv2d(n_channels, 8, kernel_size=5, stride=2, padding=2), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
            nn.Conv2d(8, 16, kernel_size=3, stride=2, padding=1), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
            nn.Conv2d(16, 32, kernel_size=3, stride=2, padding=1), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
            nn.Flatten(),
        )
        with th.no_grad():
            n_features = self.cnn(th.zeros(1, *observation_space.shape)).shape[1]
        self.linear = nn.Linear(n_features, self.n_outputs)

    def forward(self, obs: PyTorchObs) -> th.Tensor:
        """Outputs ``(batch, n_outputs)`` of a batch of images ``(batch, channels, height, width)``."""
        images = preprocess_obs(obs, self.observation_space, normalize_images=self.normalize_images)
        return self.linear(self.cnn(images.float()))
