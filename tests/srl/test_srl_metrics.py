"""KNN-MSE and GTC on synthetic states with known answers, and the states plot."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from srl.metrics import gt_labels, gtc, knn_mse, plot_states, project_2d


def test_gtc_is_one_when_states_are_the_ground_truth() -> None:
    rng = np.random.default_rng(0)
    agent, target = rng.uniform(0, 4, (500, 2)), rng.uniform(0, 4, (500, 2))
    states = np.concatenate([agent, -3 * target + 1, rng.normal(size=(500, 5))], axis=1)  # sign and scale free
    vector, mean = gtc(states, agent, target)
    assert vector == pytest.approx([1, 1, 1, 1])
    assert mean == pytest.approx(1)


def test_gtc_of_unrelated_states_is_small() -> None:
    rng = np.random.default_rng(1)
    vector, mean = gtc(rng.normal(size=(2000, 3)), rng.uniform(0, 4, (2000, 2)), rng.uniform(0, 4, (2000, 2)))
    assert max(vector) < 0.1 and mean < 0.1


def test_gtc_ignores_correlation_between_ground_truth_dims() -> None:
    # the original's max also ran over the other ground-truth dims: x and y identical gave GTC 1 for both
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 4, 1000)
    vector, _ = gtc(rng.normal(size=(1000, 2)), np.stack([x, x], 1))
    assert max(vector) < 0.15


def test_gtc_leaves_constant_ground_truth_out() -> None:
    rng = np.random.default_rng(3)
    agent = rng.uniform(0, 4, (300, 2))
    fixed_target = np.tile([[3.6, 3.0]], (300, 1))
    vector, mean = gtc(agent.copy(), agent, fixed_target)
    assert vector[2:] == [None, None] and mean == pytest.approx(1)
    collapsed, collapsed_mean = gtc(np.ones((300, 4)), agent)  # constant states correlate with nothing
    assert collapsed == [0.0, 0.0] and collapsed_mean == 0.0
    assert gt_labels(2, 2) == ["x robot", "y robot", "x target", "y target"]


def test_knn_mse_on_a_line() -> None:
    # states = ground truth = 0..9, k = 2: the ends have neighbours at 1 and 2 (1 + 4), the 8 others at +-1 (1 + 1)
    line = np.arange(10, dtype=float)[:, None]
    assert knn_mse(line, line, n_neighbors=2, n_samples=10) == pytest.approx((2 * 5 + 8 * 2) / 20)


def test_knn_mse_excludes_the_query_itself_not_its_twin() -> None:
    # two frames share a state; the original dropped "the first neighbour", which can be the twin, not the query
    states = np.array([[0.0], [0.0], [5.0], [9.0]])
    truth = np.array([[0.0], [1.0], [2.0], [3.0]])
    # neighbours: 0 <-> 1 (the twins), 2 -> 3 (distance 4 < 5), 3 -> 2: every ground-truth gap is 1
    assert knn_mse(states, truth, n_neighbors=1, n_samples=4) == pytest.approx(1.0)


def test_knn_mse_prefers_good_representations() -> None:
    rng = np.random.default_rng(4)
    truth = rng.uniform(0, 4, (1000, 2))
    good = knn_mse(truth + 0.01 * rng.normal(size=truth.shape), truth, n_samples=200)
    bad = knn_mse(rng.normal(size=(1000, 2)), truth, n_samples=200)
    assert good < 0.1 and bad > 1
    assert math.isclose(knn_mse(truth, truth, n_samples=200, seed=3), knn_mse(truth, truth, n_samples=200, seed=3))


def test_states_plot_is_written(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    truth = rng.uniform(0, 4, (200, 2))
    plot_states(rng.normal(size=(200, 10)), truth, tmp_path / "states.png", labels=["x robot", "y robot"])
    assert (tmp_path / "states.png").stat().st_size > 1000
    points, what = project_2d(rng.normal(size=(50, 1)))
    assert points.shape == (50, 2) and what == "state dim 1"
