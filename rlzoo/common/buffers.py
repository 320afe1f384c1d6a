"""Replay buffers that SB3 does not ship: proportional prioritized replay and ACER's trajectory replay.

* :class:`PrioritizedReplayBuffer` is a drop-in ``replay_buffer_class`` for SB3's off-policy algorithms (Schaul et al.
  2015, https://arxiv.org/abs/1511.05952, proportional variant). It keeps SB3's ``ReplayBuffer`` storage and adds a
  :class:`SumTree` over the transitions' priorities.
* :class:`TrajectoryReplayBuffer` stores whole on-policy rollout segments of ``n_steps`` transitions together with the
  behaviour policy's action probabilities, as ACER needs them for Retrace and importance weights (Wang et al. 2016,
  https://arxiv.org/abs/1611.01224).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import BaseBuffer, ReplayBuffer
from stable_baselines3.common.vec_env import VecNormalize


class SumTree:
    """Binary segment tree over ``capacity`` non-negative leaf values, keeping subtree sums and minimums.

    Node 1 is the root and node ``i`` has children ``2i`` and ``2i + 1``; the leaves are nodes ``[size, 2 * size)`` where
    ``size`` is ``capacity`` rounded up to a power of two. Updates and prefix-sum searches are vectorised over batches of
    indices and cost ``O(batch * log(capacity))``. Unused leaves hold 0 in the sum tree and ``+inf`` in the min tree.

    :param capacity: number of leaves (transitions) the tree indexes.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"SumTree capacity must be at least 1, got {capacity}.")
        self.capacity = capacity
        self._size = 1 << (capacity - 1).bit_length()
        self._sum = np.zeros(2 * self._size, dtype=np.float64)
        self._min = np.full(2 * self._size, np.inf, dtype=np.float64)

    @property
    def total(self) -> float:
        """Sum of all leaf values."""
        return float(self._sum[1])

    @property
    def min(self) -> float:
        """Smallest leaf value that was ever set (``inf`` for an empty tree)."""
        return float(self._min[1])

    def __getitem__(self, indices: np.ndarray) -> np.ndarray:
        """Leaf values at ``indices`` (shape kept)."""
        return self._sum[np.asarray(indices) + self._size]

    def update(self, indices: np.ndarray, values: np.ndarray) -> None:
        """Set leaves ``indices`` (shape ``(batch,)``) to ``values`` (same shape) and refresh their ancestors.

        With duplicate indices, the last value wins (numpy assignment order).
        """
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        values = np.broadcast_to(np.asarray(values, dtype=np.float64), indices.shape)
        if indices.size == 0:
            return
        if np.any(values < 0):
            raise ValueError("SumTree values must be non-negative.")
        if (indices.min() < 0 or indices.max() >= self.capacity):
            raise IndexError(f"SumTree indices must lie in [0, {self.capacity}).")
        nodes = indices + self._size
        self._sum[nodes] = values
        self._min[nodes] = values
        nodes = np.unique(nodes // 2)
        while nodes[0] >= 1:
            self._sum[nodes] = self._sum[2 * nodes] + self._sum[2 * nodes + 1]
            self._min[nodes] = np.minimum(self._min[2 * nodes], self._min[2 * nodes + 1])
            if nodes[0] == 1:
                break
            nodes = np.unique(nodes // 2)

    def find_prefix_sum(self, masses: np.ndarray) -> np.ndarray:
        """For each mass ``m`` in ``[0, total)``, the smallest leaf ``i`` with ``sum(leaves[: i + 1]) > m``.

        :param masses: shape ``(batch,)``.
        :return: leaf indices, shape ``(batch,)``, int64.
        """
        masses = np.array(masses, dtype=np.float64).reshape(-1)
        nodes = np.ones(masses.shape, dtype=np.int64)
        while nodes[0] < self._size:  # every query descends one level per iteration, so all stay at the same depth
            left = 2 * nodes
            left_sum = self._sum[left]
            go_right = masses >= left_sum
            masses = np.where(go_right, masses - left_sum, masses)
            nodes = np.where(go_right, left + 1, left)
        return nodes - self._size


class PrioritizedReplayBufferSamples(NamedTuple):
    """A minibatch of prioritized replay; the fields of SB3's ``ReplayBufferSamples`` plus the weights and indices.

    Tensors have a leading batch dimension ``B``.
    """

    observations: th.Tensor  #: ``(B, *obs_shape)``
    actions: th.Tensor  #: ``(B, action_dim)``
    next_observations: th.Tensor  #: ``(B, *obs_shape)``
    dones: th.Tensor  #: ``(B, 1)``, 1.0 where the episode terminated (timeouts excluded)
    rewards: th.Tensor  #: ``(B, 1)``
    weights: th.Tensor  #: ``(B, 1)``, importance-sampling weights ``(N P(i))^-beta / max_j w_j``, in (0, 1]
    indices: np.ndarray  #: ``(B,)``, flat transition indices to pass back to ``update_priorities``
    discounts: th.Tensor | None = None  #: n-step discounts (unused here; kept for SB3's DQN ``train()``)


class PrioritizedReplayBuffer(ReplayBuffer):
    """Proportional prioritized experience replay (Schaul et al. 2015, https://arxiv.org/abs/1511.05952, Sec. 3.3).

    Transition ``i`` is sampled with probability ``P(i) = p_i^alpha / sum_k p_k^alpha`` (eq. 1) where the priority
    ``p_i = |delta_i| + epsilon`` is its last absolute TD error; new transitions get the largest priority seen so far, so
    each is replayed at least once. Sampling is stratified: ``[0, total)`` is cut into ``batch_size`` equal ranges and one
    transition is drawn from each (Appendix B.2.1). The bias is corrected with the importance-sampling weights
    ``w_i = (N P(i))^-beta``, divided by the largest weight over the whole buffer so that they only scale updates down.

    Storage is SB3's ``ReplayBuffer`` layout ``(buffer_size // n_envs, n_envs, ...)``; the tree indexes the flattened
    ``pos * n_envs + env`` transitions. Randomness comes from numpy's global generator, like SB3's buffers, so
    ``set_random_seed`` makes sampling reproducible.

    :param buffer_size: maximum number of transitions (over all envs).
    :param observation_space: observation space.
    :param action_space: action space.
    :param device: torch device of the sampled tensors.
    :param n_envs: number of parallel envs adding one transition each per ``add``.
    :param optimize_memory_usage: not supported (must be False): it makes index ``pos`` invalid, which the tree ignores.
    :param handle_timeout_termination: treat time-limit truncations as non-terminal (see SB3 issue #284).
    :param alpha: prioritization exponent (0: uniform sampling, 1: fully proportional).
    :param epsilon: added to absolute TD errors so that no transition gets priority 0.
    """

    def __init__(
        self,
        buffer_size: int,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        device: th.device | str = "auto",
        n_envs: int = 1,
        optimize_memory_usage: bool = False,
        handle_timeout_termination: bool = True,
        alpha: float = 0.6,
        epsilon: float = 1e-6,
    ) -> None:
        if optimize_memory_usage:
            raise ValueError("PrioritizedReplayBuffer does not support optimize_memory_usage=True; set it to False.")
        if alpha < 0:
            raise ValueError(f"alpha={alpha} must be non-negative (0 means uniform sampling).")
        if epsilon <= 0:
            raise ValueError(f"epsilon={epsilon} must be positive so that every transition can be sampled.")
        super().__init__(
            buffer_size,
            observation_space,
            action_space,
            device=device,
            n_envs=n_envs,
            optimize_memory_usage=False,
            handle_timeout_termination=handle_timeout_termination,
        )
        self.alpha = alpha
        self.epsilon = epsilon
        self.max_priority = 1.0
        self.tree = SumTree(self.buffer_size * self.n_envs)

    def add(
        self,
        obs: np.ndarray,
        next_obs: np.ndarray,
        action: np.ndarray,
        reward: np.ndarray,
        done: np.ndarray,
        infos: list[dict[str, Any]],
    ) -> None:
        """Store one transition per env (arrays shaped ``(n_envs, ...)``) with the maximal priority seen so far."""
        first = self.pos * self.n_envs
        super().add(obs, next_obs, action, reward, done, infos)
        self.tree.update(np.arange(first, first + self.n_envs), self.max_priority**self.alpha)

    def sample(  # type: ignore[override]
        self, batch_size: int, env: VecNormalize | None = None, beta: float = 1.0
    ) -> PrioritizedReplayBufferSamples:
        """Draw ``batch_size`` transitions with probability proportional to ``priority^alpha``.

        :param batch_size: number of transitions.
        :param env: VecNormalize to normalise observations and rewards with, if any.
        :param beta: importance-sampling exponent (0: no correction, 1: full correction).
        :return: the minibatch, its importance weights and its flat indices.
        """
        n_stored = self.size() * self.n_envs
        if n_stored == 0:
            raise ValueError("Cannot sample from an empty PrioritizedReplayBuffer.")
        total = self.tree.total
        segment = total / batch_size
        masses = (np.arange(batch_size) + np.random.random(batch_size)) * segment
        # rounding can push a mass onto the empty leaves past the stored transitions
        indices = np.minimum(self.tree.find_prefix_sum(masses), n_stored - 1)

        probabilities = self.tree[indices] / total
        weights = (n_stored * probabilities) ** (-beta)
        max_weight = (n_stored * self.tree.min / total) ** (-beta)
        weights = weights / max_weight

        batch_inds, env_inds = np.divmod(indices, self.n_envs)
        obs = self._normalize_obs(self.observations[batch_inds, env_inds, :], env)
        next_obs = self._normalize_obs(self.next_observations[batch_inds, env_inds, :], env)
        # dones that are time-limit truncations are not terminal (timeouts stays 0 if not handled)
        dones = self.dones[batch_inds, env_inds] * (1 - self.timeouts[batch_inds, env_inds])
        rewards = self._normalize_reward(self.rewards[batch_inds, env_inds].reshape(-1, 1), env)
        return PrioritizedReplayBufferSamples(
            observations=self.to_torch(obs),
            actions=self.to_torch(self.actions[batch_inds, env_inds, :]),
            next_observations=self.to_torch(next_obs),
            dones=self.to_torch(dones.reshape(-1, 1)),
            rewards=self.to_torch(rewards),
            weights=self.to_torch(weights.reshape(-1, 1).astype(np.float32)),
            indices=indices,
        )

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        """Set the priorities of sampled transitions from their new TD errors: ``p_i = |delta_i| + epsilon``.

        :param indices: flat indices from :attr:`PrioritizedReplayBufferSamples.indices`, shape ``(B,)``.
        :param td_errors: TD errors of those transitions, shape ``(B,)`` (any sign).
        """
        priorities = np.abs(np.asarray(td_errors, dtype=np.float64).reshape(-1)) + self.epsilon
        self.tree.update(indices, priorities**self.alpha)
        self.max_priority = max(self.max_priority, float(priorities.max()))


class TrajectorySamples(NamedTuple):
    """A batch of ``B`` trajectory segments of ``T = n_steps`` consecutive transitions each, time-major.

    ``dones[t, b]`` is 1.0 when the episode ended after step ``t`` (so ``x_{t+1}`` starts a new episode and is not
    bootstrapped from); ``last_observations`` are the observations ``x_T`` that follow each segment.
    """

    observations: th.Tensor  #: ``(T, B, *obs_shape)``
    actions: th.Tensor  #: ``(T, B)``, int64
    rewards: th.Tensor  #: ``(T, B)``
    dones: th.Tensor  #: ``(T, B)``, 1.0 where the episode ended after that step
    behaviour_probs: th.Tensor  #: ``(T, B, n_actions)``, mu(.|x_t) of the policy that acted
    last_observations: th.Tensor  #: ``(B, *obs_shape)``


class TrajectoryReplayBuffer(BaseBuffer):
    """ACER's experience replay: a FIFO of past rollout segments with the behaviour policy's probabilities.

    Each ``add`` stores one segment of ``n_steps`` transitions per env; segments are kept whole because Retrace runs
    backwards through them. Capacity is ``buffer_size`` transitions, i.e. ``buffer_size // n_steps`` segments (the
    base class's ``buffer_size`` attribute counts segments). Segments are sampled uniformly with numpy's global
    generator. Observations are stored as the algorithm saw them (after any VecNormalize), as in the rollout buffer.

    :param buffer_size: capacity in transitions (at least ``n_steps``).
    :param n_steps: length ``T`` of each segment (the algorithm's steps per env per rollout).
    :param observation_space: observation space.
    :param action_space: a ``Discrete`` action space.
    :param device: torch device of the sampled tensors.
    :param n_envs: number of envs, i.e. segments added per ``add``.
    """

    def __init__(
        self,
        buffer_size: int,
        n_steps: int,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        device: th.device | str = "auto",
        n_envs: int = 1,
    ) -> None:
        if not isinstance(action_space, spaces.Discrete):
            raise TypeError(f"TrajectoryReplayBuffer needs a Discrete action space, got {action_space}.")
        if buffer_size < n_steps:
            raise ValueError(f"buffer_size={buffer_size} transitions cannot hold one segment of n_steps={n_steps}.")
        super().__init__(buffer_size // n_steps, observation_space, action_space, device, n_envs=n_envs)
        self.n_steps = n_steps
        self.n_actions = int(action_space.n)
        capacity, obs_dtype = self.buffer_size, observation_space.dtype
        self.observations = np.zeros((capacity, n_steps, *self.obs_shape), dtype=obs_dtype)
        self.last_observations = np.zeros((capacity, *self.obs_shape), dtype=obs_dtype)
        self.actions = np.zeros((capacity, n_steps), dtype=np.int64)
        self.rewards = np.zeros((capacity, n_steps), dtype=np.float32)
        self.dones = np.zeros((capacity, n_steps), dtype=np.float32)
        self.behaviour_probs = np.zeros((capacity, n_steps, self.n_actions), dtype=np.float32)

    @property
    def n_transitions(self) -> int:
        """Number of transitions currently stored."""
        return self.size() * self.n_steps

    def add(  # type: ignore[override]
        self,
        observations: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        dones: np.ndarray,
        behaviour_probs: np.ndarray,
        last_observations: np.ndarray,
    ) -> None:
        """Store one rollout: arrays time-major ``(n_steps, n_envs, ...)``, ``last_observations`` ``(n_envs, ...)``."""
        for env_idx in range(observations.shape[1]):
            self.observations[self.pos] = observations[:, env_idx].reshape(self.n_steps, *self.obs_shape)
            self.last_observations[self.pos] = last_observations[env_idx].reshape(self.obs_shape)
            self.actions[self.pos] = actions[:, env_idx].reshape(self.n_steps)
            self.rewards[self.pos] = rewards[:, env_idx]
            self.dones[self.pos] = dones[:, env_idx]
            self.behaviour_probs[self.pos] = behaviour_probs[:, env_idx]
            self.pos += 1
            if self.pos == self.buffer_size:
                self.full = True
                self.pos = 0

    def sample(self, batch_size: int, env: VecNormalize | None = None) -> TrajectorySamples:  # type: ignore[override]
        """``batch_size`` segments drawn uniformly (with replacement), time-major."""
        if self.size() == 0:
            raise ValueError("Cannot sample from an empty TrajectoryReplayBuffer.")
        return super().sample(batch_size, env=env)  # type: ignore[return-value]

    def _get_samples(  # type: ignore[override]
        self, batch_inds: np.ndarray, env: VecNormalize | None = None
    ) -> TrajectorySamples:
        """Segments ``batch_inds`` (shape ``(B,)``), transposed to time-major tensors."""
        del env  # observations are stored already normalised
        return TrajectorySamples(
            observations=self.to_torch(self.observations[batch_inds].swapaxes(0, 1)),
            actions=self.to_torch(self.actions[batch_inds].T),
            rewards=self.to_torch(self.rewards[batch_inds].T),
            dones=self.to_torch(self.dones[batch_inds].T),
            behaviour_probs=self.to_torch(self.behaviour_probs[batch_inds].swapaxes(0, 1)),
            last_observations=self.to_torch(self.last_observations[batch_inds]),
        )
