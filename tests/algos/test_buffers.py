"""Prioritized replay (sum tree, proportional sampling, importance weights) and ACER's trajectory replay."""

import numpy as np
import pytest
import torch as th
from gymnasium import spaces

from rlzoo.common.buffers import PrioritizedReplayBuffer, SumTree, TrajectoryReplayBuffer

OBS_SPACE = spaces.Box(-np.inf, np.inf, shape=(1,), dtype=np.float32)
ACTION_SPACE = spaces.Discrete(2)


def make_buffer(n_transitions: int, alpha: float = 0.6, n_envs: int = 1, capacity: int | None = None):
    """A buffer whose transition ``i`` (flat index) has observation ``i``."""
    size = capacity or n_transitions
    buffer = PrioritizedReplayBuffer(size, OBS_SPACE, ACTION_SPACE, device="cpu", n_envs=n_envs, alpha=alpha)
    for step in range(n_transitions // n_envs):
        index = step * n_envs + np.arange(n_envs, dtype=np.float32)
        buffer.add(index[:, None], index[:, None] + 0.5, np.zeros(n_envs), np.ones(n_envs), np.zeros(n_envs), [{}] * n_envs)
    return buffer


def test_sum_tree_prefix_search_matches_cumsum():
    rng = np.random.default_rng(0)
    values = rng.uniform(0.0, 3.0, size=13)  # not a power of two
    tree = SumTree(13)
    tree.update(np.arange(13), values)
    assert tree.total == pytest.approx(values.sum())
    assert tree.min == pytest.approx(values.min())
    masses = rng.uniform(0.0, values.sum(), size=1000)
    expected = np.searchsorted(np.cumsum(values), masses, side="right")
    np.testing.assert_array_equal(tree.find_prefix_sum(masses), expected)
    tree.update(np.array([4]), np.array([0.0]))
    assert tree.total == pytest.approx(values.sum() - values[4])


def test_sampling_frequencies_are_proportional_to_priority_power_alpha():
    alpha = 0.6
    buffer = make_buffer(8, alpha=alpha)
    td_errors = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    buffer.update_priorities(np.arange(8), td_errors)
    np.random.seed(0)
    counts = np.zeros(8)
    for _ in range(1000):
        samples = buffer.sample(32)
        # the observation stored at flat index i is i: the returned indices point at the returned data
        np.testing.assert_array_equal(samples.observations.numpy().ravel(), samples.indices)
        counts += np.bincount(samples.indices, minlength=8)
    expected = (td_errors + buffer.epsilon) ** alpha
    expected /= expected.sum()
    np.testing.assert_allclose(counts / counts.sum(), expected, atol=0.004)


def test_importance_weights_are_normalised_inverse_probabilities():
    beta = 0.4
    buffer = make_buffer(6, alpha=0.5)
    td_errors = np.array([0.5, 1.0, 2.0, 4.0, 8.0, 16.0])
    buffer.update_priorities(np.arange(6), td_errors)
    np.random.seed(1)
    samples = buffer.sample(64, beta=beta)
    probabilities = (td_errors + buffer.epsilon) ** 0.5
    probabilities /= probabilities.sum()
    weights = (6 * probabilities) ** (-beta)
    expected = weights[samples.indices] / weights.max()  # the max over the buffer: the least likely transition
    np.testing.assert_allclose(samples.weights.numpy().ravel(), expected, rtol=1e-5)
    assert samples.weights.shape == (64, 1)
    assert float(samples.weights.max()) <= 1.0


def test_priority_updates_change_sampling_and_new_transitions_get_max_priority():
    buffer = make_buffer(4, alpha=1.0, capacity=5)
    np.random.seed(2)
    uniform = np.bincount(np.concatenate([buffer.sample(40).indices for _ in range(50)]), minlength=4)
    np.testing.assert_allclose(uniform / uniform.sum(), 0.25, atol=0.02)  # all start at the same (max) priority

    buffer.update_priorities(np.array([0, 1, 2, 3]), np.array([9.0, 1.0, 1.0, 1.0]))
    skewed = np.bincount(np.concatenate([buffer.sample(40).indices for _ in range(50)]), minlength=4)
    assert skewed[0] / skewed.sum() == pytest.approx(0.75, abs=0.02)

    # a new transition enters with the largest priority seen so far (9 + eps)
    buffer.add(np.array([[4.0]]), np.array([[4.5]]), np.zeros(1), np.ones(1), np.zeros(1), [{}])
    assert buffer.tree[np.array([4])][0] == pytest.approx(9.0 + buffer.epsilon)


def test_prioritized_buffer_with_several_envs_returns_the_indexed_transition():
    buffer = make_buffer(12, n_envs=3)
    buffer.update_priorities(np.arange(12), np.arange(1.0, 13.0))
    np.random.seed(3)
    samples = buffer.sample(50)
    np.testing.assert_array_equal(samples.observations.numpy().ravel(), samples.indices)
    np.testing.assert_array_equal(samples.next_observations.numpy().ravel(), samples.indices + 0.5)
    assert samples.dones.shape == samples.rewards.shape == (50, 1)


def test_prioritized_buffer_rejects_memory_optimisation():
    with pytest.raises(ValueError, match="optimize_memory_usage"):
        PrioritizedReplayBuffer(10, OBS_SPACE, ACTION_SPACE, optimize_memory_usage=True, handle_timeout_termination=False)


def test_trajectory_replay_is_time_major_and_fifo():
    n_steps, n_envs = 3, 2
    buffer = TrajectoryReplayBuffer(12, n_steps, OBS_SPACE, spaces.Discrete(4), device="cpu", n_envs=n_envs)
    assert buffer.buffer_size == 4  # segments
    for rollout in range(3):
        obs = np.arange(n_steps * n_envs, dtype=np.float32).reshape(n_steps, n_envs, 1) + 100 * rollout
        probs = np.full((n_steps, n_envs, 4), 0.25, dtype=np.float32)
        actions = np.full((n_steps, n_envs), rollout)
        buffer.add(obs, actions, np.ones((n_steps, n_envs)), np.zeros((n_steps, n_envs)), probs, obs[-1] + 1)
    assert buffer.n_transitions == 12
    np.random.seed(0)
    batch = buffer.sample(5)
    assert batch.observations.shape == (n_steps, 5, 1)
    assert batch.behaviour_probs.shape == (n_steps, 5, 4)
    assert batch.actions.dtype == th.int64 and batch.actions.shape == (n_steps, 5)
    assert batch.last_observations.shape == (5, 1)
    # rollout 0 was overwritten by rollout 2 (capacity 4 segments); each segment is one env's consecutive steps
    assert set(batch.actions[0].tolist()) <= {1, 2}
    first = batch.observations[:, :, 0]
    np.testing.assert_array_equal((first[1:] - first[:-1]).numpy(), n_envs)
    np.testing.assert_array_equal(batch.last_observations[:, 0].numpy(), first[-1].numpy() + 1)
