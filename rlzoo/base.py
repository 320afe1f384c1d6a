"""The algorithm interface every toolbox algorithm implements.

Every algorithm is a Stable-Baselines3 ``BaseAlgorithm`` subclass (so ``learn``, ``save``, ``load`` and ``predict``
keep SB3's meaning and files stay loadable by plain SB3) that also mixes in :class:`ToolboxAlgorithm`, which adds:

* registry metadata: :attr:`ToolboxAlgorithm.algo_type` and :attr:`ToolboxAlgorithm.action_types`;
* ``policy="auto"``, resolved for every algorithm by :meth:`ToolboxAlgorithm.resolve_policy` before SB3's
  constructor runs (from the launcher and from Python alike);
* ``get_action`` / ``get_action_proba`` for replay and plots;
* ``make_env``: the hook that builds the training environment (override it for algorithms that need, say,
  one env per population member).

The hyperparameter ranges for tuning live in ``conf/hparams_search/<name>.yaml``, where the Optuna sweeper reads them.

SB3 already uses ``train()`` for one gradient update, so the toolbox's "train" is SB3's ``learn()``.
"""

from __future__ import annotations

import enum
import functools
import inspect
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from stable_baselines3.common.type_aliases import GymEnv
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


class ToolboxAlgorithm:
    """Mixin for SB3 algorithm classes: registry metadata and the toolbox's uniform helpers."""

    algo_type: ClassVar[AlgoType] = AlgoType.RL
    action_types: ClassVar[tuple[ActionType, ...]] = (ActionType.DISCRETE, ActionType.CONTINUOUS)
    #: the policies ``policy="auto"`` stands for: (for vector observations, for image observations)
    auto_policies: ClassVar[tuple[str, str]] = ("MlpPolicy", "CnnPolicy")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Make the constructor of every algorithm class resolve ``policy`` (:meth:`resolve_policy`) before it runs.

        The constructor is wrapped, not replaced: its signature (what the launcher checks YAML keys against, and
        what ``help()`` shows) is its own, whether the class writes it out or inherits SB3's.
        """
        super().__init_subclass__(**kwargs)
        init = cls.__init__
        # a mixin (no constructor yet), or a constructor inherited from a toolbox class that already resolves
        if init is object.__init__ or getattr(init, "resolves_policy", False):
            return
        signature = inspect.signature(init)

        @functools.wraps(init)
        def resolving_init(self: ToolboxAlgorithm, *args: Any, **kwargs: Any) -> None:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            if "policy" in bound.arguments:
                bound.arguments["policy"] = self.resolve_policy(bound.arguments["policy"], bound.arguments.get("env"))
            init(*bound.args, **bound.kwargs)

        resolving_init.resolves_policy = True  # type: ignore[attr-defined]
        cls.__init__ = resolving_init  # type: ignore[method-assign]

    @classmethod
    def resolve_policy(cls, policy: Any, env: GymEnv | str | None) -> Any:
        """``"auto"`` becomes :attr:`auto_policies`' image policy when ``env`` observes images (SB3's
        ``is_image_space``) and its vector policy otherwise; any other policy (a name, a class) is returned as is.

        :raises ValueError: ``"auto"`` without an env object to read the observations from.
        """
        if not isinstance(policy, str) or policy != "auto":
            return policy
        if env is None or isinstance(env, str):
            raise ValueError(f"policy='auto' chooses the policy from the env's observations, so it needs an env "
                             f"object (got {env!r}); pass one, or name the policy ({' or '.join(cls.auto_policies)}).")
        from stable_baselines3.common.preprocessing import is_image_space

        vector_policy, image_policy = cls.auto_policies
        return image_policy if is_image_space(env.observation_space) else vector_policy

    @classmethod
    def make_env(cls, env_factory: Any, n_envs: int) -> "VecEnv":
        """Build the vectorised training environment.

        :param env_factory: an ``envs.vec.EnvFactory`` that knows the env id, kwargs, wrappers and run folder.
        :param n_envs: number of environment copies requested by the run.
        :return: the vectorised env the algorithm trains on.
        """
        return env_factory.make(n_envs)

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

    def action_view(self, observation: np.ndarray) -> tuple[np.ndarray, str]:
        """What replay plots of the agent's choice before a step (the original's ``--plot-actions``, for every
        algorithm): ``(values of shape (n_envs, k), label)``.

        The policy's distribution where it has one (:meth:`get_action_proba`: ``action probability`` or
        ``action distribution mean``); otherwise the deterministic action itself, ``action (deterministic
        policy)``. DQN-like agents override it with the softmax of their Q-values.
        """
        proba = self.get_action_proba(observation)
        if proba is not None:
            discrete = hasattr(self.action_space, "n")  # type: ignore[attr-defined]
            return proba, "action probability" if discrete else "action distribution mean"
        action = np.asarray(self.get_action(observation, deterministic=True), dtype=np.float64)
        return action.reshape(len(action), -1), "action (deterministic)"


def learning_rate_schedule(learning_rate: float, lr_schedule: str) -> Any:
    """A learning rate for SB3: ``constant`` keeps it, ``linear`` decays it to 0 over training."""
    from stable_baselines3.common.utils import LinearSchedule

    if lr_schedule == "constant":
        return learning_rate
    if lr_schedule == "linear":
        return LinearSchedule(learning_rate, 0.0, 1.0)
    raise ValueError(f"lr_schedule={lr_schedule!r} is not one of: constant, linear.")
