"""The algorithm interface every toolbox algorithm implements.

Every algorithm is a Stable-Baselines3 ``BaseAlgorithm`` subclass (so ``learn``, ``save``, ``load`` and ``predict``
keep SB3's meaning and files stay loadable by plain SB3) that also mixes in :class:`ToolboxAlgorithm`, which adds:

* registry metadata: :attr:`ToolboxAlgorithm.algo_type` and :attr:`ToolboxAlgorithm.action_types`;
* ``get_action`` / ``get_action_proba`` for replay and plots;
* ``make_env``: the hook that builds the training environment (override it for algorithms that need, say,
  one env per population member);
* ``search_space``: the hyperparameter ranges for tuning (the original toolbox's ``getOptParam``).

SB3 already uses ``train()`` for one gradient update, so the toolbox's "train" is SB3's ``learn()``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import numpy as np

if TYPE_CHECKING:
    from stable_baselines3.common.vec_env import VecEnv


class AlgoType(enum.Enum):
    """What kind of learner an algorithm is (the original ``AlgoType``)."""

    RL = "reinforcement learning"
    EVOLUTION_STRATEGY = "evolution strategy"
    OTHER = "other"


class ActionType(enum.Enum):
    """The kind of action space an algorithm can drive."""

    DISCRETE = "discrete"
    CONTINUOUS = "continuous"


@dataclass(frozen=True)
class SearchParam:
    """One tunable hyperparameter: a numeric range or a list of choices.

    :param kind: ``"float"``, ``"int"`` or ``"categorical"``.
    :param low: lower bound (numeric kinds).
    :param high: upper bound (numeric kinds).
    :param log: sample the range on a log scale.
    :param choices: the options (categorical kind).
    """

    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: Sequence[Any] | None = None


class ToolboxAlgorithm:
    """Mixin for SB3 algorithm classes: registry metadata and the toolbox's uniform helpers."""

    algo_type: ClassVar[AlgoType] = AlgoType.RL
    action_types: ClassVar[tuple[ActionType, ...]] = (ActionType.DISCRETE, ActionType.CONTINUOUS)
    #: whether ``policy=lstm`` gives a recurrent policy
    supports_lstm: ClassVar[bool] = False

    @classmethod
    def make_env(cls, env_factory: Any, n_envs: int) -> "VecEnv":
        """Build the vectorised training environment.

        :param env_factory: an ``envs.vec.EnvFactory`` that knows the env id, kwargs, wrappers and run folder.
        :param n_envs: number of environment copies requested by the run.
        :return: the vectorised env the algorithm trains on.
        """
        return env_factory.make(n_envs)

    @classmethod
    def search_space(cls) -> dict[str, SearchParam]:
        """Hyperparameter ranges for tuning, keyed by constructor argument name (empty: nothing to tune)."""
        return {}

    def get_action(self, observation: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Actions for a batch of observations, shape ``(n_envs, *action_shape)``."""
        action, _ = self.predict(observation, deterministic=deterministic)  # type: ignore[attr-defined]
        return action

    def episode_ended(self, dones: np.ndarray) -> None:
        """Called by replay after each step with the envs' done flags (recurrent policies reset their state)."""

    def get_action_proba(self, observation: np.ndarray) -> np.ndarray | None:
        """Action probabilities (discrete) or distribution means (continuous), shape ``(n_envs, n_actions)``.

        Returns None when the algorithm has no explicit action distribution.
        """
        import torch as th

        policy = self.policy  # type: ignore[attr-defined]
        if not hasattr(policy, "get_distribution"):
            return None
        obs_tensor, _ = policy.obs_to_tensor(observation)
        with th.no_grad():
            distribution = policy.get_distribution(obs_tensor).distribution
        if isinstance(distribution, th.distributions.Categorical):
            return distribution.probs.cpu().numpy()
        return distribution.mean.cpu().numpy()


def resolve_policy(policy: Any, observation_space: Any) -> Any:
    """``"auto"`` becomes ``CnnPolicy`` for image observations and ``MlpPolicy`` otherwise; anything else is kept."""
    if policy != "auto":
        return policy
    from stable_baselines3.common.preprocessing import is_image_space

    return "CnnPolicy" if is_image_space(observation_space) else "MlpPolicy"


def learning_rate_schedule(learning_rate: float, lr_schedule: str) -> Any:
    """A learning rate for SB3: ``constant`` keeps it, ``linear`` decays it to 0 over training."""
    from stable_baselines3.common.utils import LinearSchedule

    if lr_schedule == "constant":
        return learning_rate
    if lr_schedule == "linear":
        return LinearSchedule(learning_rate, 0.0, 1.0)
    raise ValueError(f"lr_schedule={lr_schedule!r} is not one of: constant, linear.")
