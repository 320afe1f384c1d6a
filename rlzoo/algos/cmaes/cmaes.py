"""CMA-ES over the weights of a small policy network (the original toolbox's ``cma-es``), with the ``cma`` package."""

from __future__ import annotations

import copy
from typing import Any, ClassVar, TypeVar

import cma
import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from rlzoo.algos.cmaes.policies import CMAESCnnPolicy, CMAESMlpPolicy, CMAESPolicy
from rlzoo.base import AlgoType, ToolboxAlgorithm

SelfCMAES = TypeVar("SelfCMAES", bound="CMAES")

#: above this many policy parameters, ``diagonal_covariance=None`` uses a diagonal covariance (sep-CMA-ES): a full
#: one holds n^2 numbers and needs an O(n^3) eigendecomposition
DIAGONAL_ABOVE_N_PARAMS = 2000
#: marks an env that runs no population member (it finishes its episode with the distribution mean)
NO_MEMBER = -1


class CMAES(ToolboxAlgorithm, BaseAlgorithm):
    """Covariance Matrix Adaptation Evolution Strategy (Hansen 2016, https://arxiv.org/abs/1604.00772) over the
    flattened weights of a policy network.

    Each generation, ``population_size`` weight vectors are drawn (``es.ask()``); each is one policy, scored by the
    return of one whole episode, terminal reward included (the original dropped the reward of the step that ended the
    episode). Members are evaluated in parallel, one per env: an env that ends an episode takes the next member not
    yet evaluated; when none is left, it runs an episode with the distribution mean (its return is not used) and
    joins the next generation at the end of that episode. Returns go back negated (``es.tell``: CMA-ES minimises).
    Every vectorised step goes through the callbacks with the env's ``infos``.

    The model's :attr:`policy` (what ``predict``, replay and ``save`` use) holds the best solution evaluated so far,
    ``es.result.xbest`` (the original replayed whichever member it had evaluated last). The ``cma`` search state is
    saved with the model, so a resumed run continues the same search; it dominates the file size (a full covariance
    of n weights is n^2 numbers: about 12 MB for the 704 weights of the MLP on MobileRobot ground truth).

    :param policy: ``MlpPolicy`` (observation -> 100 ReLU -> actions), ``CnnPolicy`` (a small CNN for images), a
        :class:`CMAESPolicy` subclass, or ``auto`` (CNN for images, else MLP).
    :param env: the vectorised env; members are spread over its ``n_envs`` copies.
    :param population_size: solutions per generation (CMA-ES's lambda).
    :param mu: initial mean of every weight.
    :param sigma: initial step size (standard deviation of the search distribution, in weight units).
    :param deterministic: during training, take the argmax of discrete action outputs instead of sampling their
        softmax (continuous actions are always the network outputs, clipped to the action bounds).
    :param diagonal_covariance: adapt only a diagonal covariance (sep-CMA-ES); None: only above
        ``DIAGONAL_ABOVE_N_PARAMS`` weights, e.g. for CNN policies.
    :param policy_kwargs: extra arguments of the policy (``hidden_size`` of the MLP).
    :param stats_window_size: episodes averaged in SB3's rollout logs.
    :param seed: seed of numpy (CMA-ES samples with it), torch and the env.
    :param device: torch device of the policy.
    :param verbose: SB3 logging level (1: a log table per generation).
    """

    algo_type: ClassVar[AlgoType] = AlgoType.EVOLUTION_STRATEGY
    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {"MlpPolicy": CMAESMlpPolicy, "CnnPolicy": CMAESCnnPolicy}
    policy: CMAESPolicy

    def __init__(
        self,
        policy: str | type[CMAESPolicy] = "auto",
        env: GymEnv | None = None,
        population_size: int = 20,
        mu: float = 0.0,
        sigma: float = 0.14,
        deterministic: bool = False,
        diagonal_covariance: bool | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        stats_window_size: int = 100,
        seed: int | None = None,
        device: str = "cpu",
        verbose: int = 0,
        _init_setup_model: bool = True,
    ) -> None:
        if population_size < 2:
            raise ValueError(f"population_size={population_size} is too small: CMA-ES needs at least 2 solutions.")
        if sigma <= 0:
            raise ValueError(f"sigma={sigma} must be > 0 (the initial standard deviation of the search).")
        super().__init__(
            policy,
            env,
            learning_rate=0.0,  # no gradient step: CMA-ES adapts its own step size sigma
            policy_kwargs=policy_kwargs,
            stats_window_size=stats_window_size,
            verbose=verbose,
            device=device,
            support_multi_env=True,
            seed=seed,
            supported_action_spaces=(spaces.Discrete, spaces.Box),
        )
        self.population_size = population_size
        self.mu = mu
        self.sigma = sigma
        self.deterministic = deterministic
        self.diagonal_covariance = diagonal_covariance
        self.es: cma.CMAEvolutionStrategy | None = None
        #: best episode return seen (the fitness of ``es.result.xbest``), None before the first generation
        self.best_return: float | None = None
        self.n_generations = 0
        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        self._setup_lr_schedule()
        self.set_random_seed(self.seed)
        self.policy = self.policy_class(self.observation_space, self.action_space, **self.policy_kwargs)
        self.policy = self.policy.to(self.device).requires_grad_(False)  # CMA-ES moves the weights, not gradients
        self.policy.set_training_mode(False)
        self.n_params = int(parameters_to_vector(self.policy.parameters()).numel())
        if self.es is None:  # (``load`` restores the saved search state)
            x0 = np.full(self.n_params, self.mu, dtype=np.float64)
            self.es = cma.CMAEvolutionStrategy(x0, self.sigma, self._cma_options())
            self._load_vector(self.policy, x0)

    def _cma_options(self) -> dict[str, Any]:
        diagonal = self.diagonal_covariance
        if diagonal is None:
            diagonal = self.n_params > DIAGONAL_ABOVE_N_PARAMS
        return {
            "popsize": self.population_size,
            "CMA_diagonal": bool(diagonal),
            "seed": np.nan,  # cma samples with numpy's global generator, which set_random_seed seeds
            "verbose": -9,  # no console output and no outcmaes/ files
            "verb_log": 0,
            "verb_disp": 0,
        }

    def _load_vector(self, policy: CMAESPolicy, vector: np.ndarray | th.Tensor) -> None:
        vector_to_parameters(th.as_tensor(vector, dtype=th.float32, device=self.device), policy.parameters())

    def learn(
        self: SelfCMAES,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str = "CMAES",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfCMAES:
        """Run whole generations until ``total_timesteps`` env steps (all envs) are reached.

        The budget is checked between generations, so the last generation may end past it.

        :param total_timesteps: env steps to train for, over all envs.
        :param callback: called after every vectorised step, with ``infos`` in its locals.
        :param log_interval: generations between SB3 log dumps (verbose >= 1).
        :param tb_log_name: name of the TensorBoard run.
        :param reset_num_timesteps: start counting from 0 (False: continue the count, and the envs' episodes).
        :param progress_bar: show a progress bar.
        """
        fresh = reset_num_timesteps or self._last_obs is None  # True: every env starts an episode now
        total_timesteps, callback = self._setup_learn(total_timesteps, callback, reset_num_timesteps, tb_log_name,
                                                      progress_bar)
        callback.on_training_start(locals(), globals())
        assert self.env is not None
        n_envs = self.env.num_envs
        #: whether env i is at the start of an episode, free to take a member (else it finishes its episode first)
        at_start = np.full(n_envs, fresh)
        member_policy = copy.deepcopy(self.policy)
        while self.num_timesteps < total_timesteps:
            callback.on_rollout_start()
            finished = self._run_generation(callback, member_policy, at_start)
            callback.on_rollout_end()
            if not finished:
                break
            if self.verbose >= 1 and log_interval is not None and self.n_generations % log_interval == 0:
                self.dump_logs()
        callback.on_training_end()
        return self

    def _run_generation(self, callback: BaseCallback, member_policy: CMAESPolicy, at_start: np.ndarray) -> bool:
        """Evaluate one population, tell CMA-ES, keep the best solution; False if a callback stopped training.

        :param callback: the run's callbacks.
        :param member_policy: a network to load each member's weights into.
        :param at_start: ``(n_envs,)`` whether each env starts an episode (updated in place).
        """
        assert self.env is not None and self.es is not None
        n_envs = self.env.num_envs
        solutions = self.es.ask()
        candidates = th.as_tensor(np.array(solutions), dtype=th.float32, device=self.device)  # (pop, n_params)
        mean = th.as_tensor(self.es.mean, dtype=th.float32, device=self.device)  # (n_params,)
        returns = np.zeros(self.population_size)  # episode return of each member, terminal reward included
        evaluated = np.zeros(self.population_size, dtype=bool)
        member = np.full(n_envs, NO_MEMBER)  # member evaluated by each env
        next_member = 0
        while not evaluated.all():
            for i in np.flatnonzero(at_start):
                if next_member < self.population_size:
                    member[i], next_member = next_member, next_member + 1
                at_start[i] = False  # with no member left, env i finishes an episode with the mean first
            actions = self._member_actions(member_policy, candidates, mean, member)
            new_obs, rewards, dones, infos = self.env.step(actions)
            self.num_timesteps += n_envs
            self._update_info_buffer(infos, dones)
            for i in range(n_envs):
                if member[i] != NO_MEMBER:
                    returns[member[i]] += rewards[i]
                if dones[i]:
                    if member[i] != NO_MEMBER:
                        evaluated[member[i]] = True
                    member[i], at_start[i] = NO_MEMBER, True
            self._last_obs = new_obs  # type: ignore[assignment]
            callback.update_locals(locals())
            if not callback.on_step():
                return False
        self.es.tell(solutions, (-returns).tolist())
        self.n_generations += 1
        self.best_return = -float(self.es.result.fbest)
        self._load_vector(self.policy, self.es.result.xbest)
        self.logger.record("train/generations", self.n_generations)
        self.logger.record("train/sigma", float(self.es.sigma))
        self.logger.record("rollout/generation_mean_return", float(returns.mean()))
        self.logger.record("rollout/best_return", self.best_return)
        return True

    def _member_actions(self, member_policy: CMAESPolicy, candidates: th.Tensor, mean: th.Tensor,
                        member: np.ndarray) -> np.ndarray:
        """Actions ``(n_envs, *action_shape)``: env i acts with member ``member[i]``'s weights (or the mean's)."""
        obs_tensor, _ = self.policy.obs_to_tensor(self._last_obs)  # type: ignore[arg-type]
        actions = []
        with th.no_grad():
            for i, k in enumerate(member):
                self._load_vector(member_policy, mean if k == NO_MEMBER else candidates[k])
                actions.append(member_policy._predict(obs_tensor[i : i + 1], deterministic=self.deterministic)[0])
        stacked = th.stack(actions).cpu().numpy()
        if isinstance(self.action_space, spaces.Box):
            return np.clip(stacked, self.action_space.low, self.action_space.high)
        return stacked

    def get_action_proba(self, observation: np.ndarray) -> np.ndarray:
        """Softmax of the best policy's outputs (discrete) or its raw outputs (continuous), ``(n_envs, n_outputs)``."""
        obs_tensor, _ = self.policy.obs_to_tensor(observation)
        with th.no_grad():
            return self.policy.action_proba(obs_tensor).cpu().numpy()

    def action_view(self, observation: np.ndarray) -> tuple[np.ndarray, str]:
        """The best policy's outputs: their softmax for discrete actions, the action itself for continuous ones."""
        discrete = isinstance(self.action_space, spaces.Discrete)
        return self.get_action_proba(observation), ("softmax of the policy's outputs" if discrete
                                                    else "action (deterministic)")
