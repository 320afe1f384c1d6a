"""ARS (sb3-contrib) on one env; ``conf/algo/ars.yaml`` holds the original toolbox's defaults."""

from __future__ import annotations

from typing import Any, ClassVar

import torch as th
from gymnasium import spaces
from sb3_contrib import ARS as ContribARS
from sb3_contrib.ars.policies import ARSLinearPolicy, ARSPolicy
from sb3_contrib.common.vec_env.async_eval import AsyncEval
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, Schedule

from rlzoo.algos.helpers import OneEnvAlgorithm
from rlzoo.base import AlgoType


class _SoftmaxDiscreteActions:
    """Discrete actions sampled from the softmax of the policy's outputs (the original ARS's), rather than their argmax.

    ``predict(deterministic=False)`` samples; ``deterministic=True`` takes the argmax, unless ``sample_discrete`` is
    set: ARS sets it while it evaluates its candidates, because sb3-contrib evaluates them with ``evaluate_policy``,
    which always asks for deterministic actions.
    """

    sample_discrete: bool = False

    def _predict(self, observation: th.Tensor, deterministic: bool = True) -> th.Tensor:
        if isinstance(self.action_space, spaces.Discrete) and (self.sample_discrete or not deterministic):
            logits = self.action_net(self.extract_features(observation, self.features_extractor))
            return th.distributions.Categorical(logits=logits).sample()
        return super()._predict(observation, deterministic)  # type: ignore[misc]


class SoftmaxMlpPolicy(_SoftmaxDiscreteActions, ARSPolicy):
    """sb3-contrib's ``MlpPolicy`` for ARS, with softmax-sampled discrete actions."""


class SoftmaxLinearPolicy(_SoftmaxDiscreteActions, ARSLinearPolicy):
    """sb3-contrib's ``LinearPolicy`` for ARS, with softmax-sampled discrete actions."""


class ARS(OneEnvAlgorithm, ContribARS):
    """Augmented Random Search (Mania et al. 2018, https://arxiv.org/abs/1803.07055), sb3-contrib's.

    The constructor is sb3-contrib's ``ARS``; the original's (numpy) names map as: ``num_population`` -> ``n_delta``
    (directions per update, each tried with +delta and -delta), ``top_population`` -> ``n_top``,
    ``exploration_noise`` -> ``delta_std``, ``step_size`` -> ``learning_rate``; the policy is linear, started at zero
    (``LinearPolicy``, ``zero_policy``). Differences from the original:

    * a candidate's return is its whole episode's, terminal reward included (the original dropped the reward of the
      step that ended the episode);
    * candidates are evaluated one after the other on one env (the original used ``2 * num_population`` worker
      processes), and every env step goes through the run's callbacks;
    * the step is divided by ``n_top * std(returns)``; the original's ``max_step_amplitude`` floor is not used;
    * ``conf/algo/ars.yaml`` gives the linear policy a bias (``policy_kwargs.with_bias``): with states normalised by
      a running mean, a policy without bias has every decision boundary through that mean rather than through the
      target (relative position 0), and on MobileRobot it learnt to avoid walls but not to reach the target;
    * exploration noise and step size default to 0.1/0.1 in ``conf/algo/ars.yaml`` (the original's 0.02/0.02 barely
      move the softmax policy away from uniform within a 250k-step budget).

    Discrete actions are, as in the original, a sample of the softmax of the linear outputs while candidates are
    evaluated (``deterministic=True``, the original's ``--deterministic``: their argmax). sb3-contrib's own policies
    take the argmax (``evaluate_policy`` asks for deterministic actions), and that broke learning: from the zero
    policy every candidate is a near-constant action that drives into a wall (returns around -240 or 0), argmax is
    blind to the weights' scale, and once the weights outgrow ``delta_std`` the +/- candidates act alike, give equal
    returns and the update is zero: the policy freezes (the same rewards whatever ``delta_std``/``learning_rate``).
    Replays (``predict(deterministic=True)``) take the argmax.
    """

    algo_type: ClassVar[AlgoType] = AlgoType.EVOLUTION_STRATEGY
    #: sb3-contrib's ARS has no CNN policy: ``auto`` is the linear policy, on flattened images too
    auto_policies: ClassVar[tuple[str, str]] = ("LinearPolicy", "LinearPolicy")
    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": SoftmaxMlpPolicy,
        "LinearPolicy": SoftmaxLinearPolicy,
    }

    def get_action_proba(self, observation: Any) -> Any:
        """Discrete actions: the softmax of the linear outputs, which the policy samples from; continuous: None."""
        if not isinstance(self.action_space, spaces.Discrete):
            return None
        obs_tensor, _ = self.policy.obs_to_tensor(observation)
        with th.no_grad():
            logits = self.policy.action_net(self.policy.extract_features(obs_tensor, self.policy.features_extractor))
            return th.softmax(logits, dim=1).cpu().numpy()

    def __init__(self, policy: str | type[ARSPolicy], env: GymEnv | str, n_delta: int = 8, n_top: int | None = None,
                 learning_rate: float | Schedule = 0.02, delta_std: float | Schedule = 0.05, zero_policy: bool = True,
                 alive_bonus_offset: float = 0, n_eval_episodes: int = 1, deterministic: bool = False,
                 policy_kwargs: dict[str, Any] | None = None, stats_window_size: int = 100,
                 tensorboard_log: str | None = None, seed: int | None = None, verbose: int = 0,
                 device: th.device | str = "cpu", _init_setup_model: bool = True) -> None:
        """sb3-contrib's constructor, plus ``deterministic`` (the original's ``--deterministic``): evaluate the
        candidates with the argmax of the policy's outputs instead of a softmax sample (discrete actions only)."""
        self.deterministic = deterministic
        super().__init__(policy, env, n_delta=n_delta, n_top=n_top, learning_rate=learning_rate, delta_std=delta_std,
                         zero_policy=zero_policy, alive_bonus_offset=alive_bonus_offset,
                         n_eval_episodes=n_eval_episodes, policy_kwargs=policy_kwargs,
                         stats_window_size=stats_window_size, tensorboard_log=tensorboard_log, seed=seed,
                         verbose=verbose, device=device, _init_setup_model=_init_setup_model)

    def evaluate_candidates(self, candidate_weights: th.Tensor, callback: BaseCallback,
                            async_eval: AsyncEval | None) -> th.Tensor:
        """sb3-contrib's evaluation, with softmax-sampled discrete actions unless ``deterministic``."""
        self.policy.sample_discrete = not self.deterministic  # copied into the candidates' policy
        try:
            return super().evaluate_candidates(candidate_weights, callback, async_eval)
        finally:
            self.policy.sample_discrete = False

    def _trigger_callback(self, _locals: dict[str, Any], _globals: dict[str, Any], callback: BaseCallback,
                          n_envs: int) -> None:
        """Hand the evaluation step's locals (``infos`` with the Monitor's ``episode``) to the callbacks, then step."""
        callback.update_locals(_locals)
        super()._trigger_callback(_locals, _globals, callback, n_envs)
