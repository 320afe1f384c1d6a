"""ARS (sb3-contrib) on one env; ``conf/algo/ars.yaml`` holds the original toolbox's defaults."""

from __future__ import annotations

from typing import Any, ClassVar

from sb3_contrib import ARS as ContribARS
from stable_baselines3.common.callbacks import BaseCallback

from rlzoo.algos.helpers import OneEnvAlgorithm
from rlzoo.base import AlgoType, SearchParam


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
    * discrete actions are the argmax of the linear outputs (the original sampled a softmax unless
      ``--deterministic``).
    """

    algo_type: ClassVar[AlgoType] = AlgoType.EVOLUTION_STRATEGY

    def _trigger_callback(self, _locals: dict[str, Any], _globals: dict[str, Any], callback: BaseCallback,
                          n_envs: int) -> None:
        """Hand the evaluation step's locals (``infos`` with the Monitor's ``episode``) to the callbacks, then step."""
        callback.update_locals(_locals)
        super()._trigger_callback(_locals, _globals, callback, n_envs)

    @classmethod
    def search_space(cls) -> dict[str, SearchParam]:
        """The original's ``getOptParam`` ranges, renamed (step size on a log scale; 0 ends excluded).

        ``max_step_amplitude`` has no equivalent and is left out.
        """
        return {
            "n_top": SearchParam("int", 1, 5),
            "delta_std": SearchParam("float", 1e-3, 0.1, log=True),
            "learning_rate": SearchParam("float", 1e-4, 0.1, log=True),
        }
