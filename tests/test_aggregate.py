"""Robust aggregates (rliable): IQM, probability of improvement and profiles against values computed by hand."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from scipy import stats

from rlzoo.aggregate import aggregate, score_matrices
from rlzoo.results import AGGREGATES_PNG, gather_results
from tests.test_results import SCORES_1000, sweep  # noqa: F401  (the fixture)

NAN = math.nan


def test_iqm_is_the_mean_of_the_middle_half_and_its_ci_holds_it() -> None:
    result = aggregate({("Env", "vae", "ppo2"): [8, 1, 7, 2, 6, 3, 5, 4]})
    assert result is not None and result.runs == {"vae/ppo2": 8} and not result.normalized
    iqm = result.iqm["vae/ppo2"]
    assert iqm.value == pytest.approx(4.5) == stats.trim_mean(np.arange(1, 9), 0.25)  # mean of 3, 4, 5, 6
    assert iqm.low <= iqm.value <= iqm.high and iqm.high - iqm.low > 0
    assert result.median["vae/ppo2"].value == pytest.approx(4.5)
    assert result.mean["vae/ppo2"].value == pytest.approx(4.5)


def test_probability_of_improvement_over_the_baseline_by_hand() -> None:
    """P(X > Y) + P(X = Y) / 2 over all pairs: x = [1, 2, 3], y = [0, 2, 5] wins 4 pairs and ties 1 of 9: 0.5."""
    scores = {("Env", "vae", "ppo2"): [1, 2, 3], ("Env", "ground_truth", "ppo2"): [0, 2, 5]}
    result = aggregate(scores, baseline=(1, "ground_truth"))
    reference, estimate = result.improvement["vae/ppo2"]
    assert reference == "ground_truth/ppo2" and estimate.value == pytest.approx(0.5)
    assert 0 <= estimate.low <= 0.5 <= estimate.high <= 1
    assert "ground_truth/ppo2" not in result.improvement  # the baseline has none over itself


def test_tasks_are_normalised_and_runs_equalised() -> None:
    scores = {("A", "vae", "ppo2"): [10, 20, NAN], ("A", "gt", "ppo2"): [30, 40, 50],
              ("B", "vae", "ppo2"): [100, 300, 200], ("B", "gt", "ppo2"): [500, 400, 900]}
    matrices, tasks, normalized = score_matrices(scores)
    assert tasks == ["A", "B"] and normalized
    assert matrices["vae/ppo2"].shape == (2, 2) and matrices["gt/ppo2"].shape == (3, 2)  # A/vae: 2 finite runs
    # per task, over the runs kept: A spans 10..50, B spans 100..900
    assert np.allclose(matrices["vae/ppo2"][:, 0], [0, 0.25]) and np.allclose(matrices["gt/ppo2"][:, 0], [0.5, 0.75, 1])
    assert np.allclose(matrices["vae/ppo2"][:, 1], [0, 0.25]) and np.allclose(matrices["gt/ppo2"][:, 1], [0.5, 0.375, 1])


def test_performance_profile_counts_runs_above_each_threshold() -> None:
    result = aggregate({("Env", "vae", "ppo2"): [1, 2, 3, 4]})
    taus, profile = result.taus, result.profiles["vae/ppo2"]
    for tau, fraction in zip(taus, profile):
        assert fraction == pytest.approx(np.mean(np.array([1, 2, 3, 4]) > tau))


def test_result_table_holds_the_aggregates_and_their_figure(sweep: str, tmp_path) -> None:  # noqa: F811
    _, md_path, markdown = gather_results([sweep], [1000], last=2, baseline="srl_model=ground_truth",
                                          out_dir=str(tmp_path))
    assert "Aggregates at 1000 steps over 1 task(s) (MobileRobot)" in markdown
    # ppo2 on ground truth scores 9.5, 8.0, 7.0 and on raw pixels 1.0, 3.0; every raw-pixel run is below every
    # ground-truth run, so P(raw pixels > ground truth) is 0 in every bootstrap sample
    expected = stats.trim_mean(SCORES_1000["gt_ppo2"], 0.25)
    assert f"| ground_truth/ppo2 | 3 | {expected:.3g} [" in markdown
    assert "| raw_pixels/ppo2 | 2 | 2 [" in markdown and "0 [0, 0] over ground_truth/ppo2" in markdown
    assert os.path.getsize(tmp_path / AGGREGATES_PNG) > 10_000
    assert open(md_path).read() == markdown
