"""Robust aggregate statistics over runs and tasks (Agarwal et al., "Deep Reinforcement Learning at the Edge of the
Statistical Precipice", NeurIPS 2021), computed with their ``rliable`` library.

A *method* is a (srl_model, algo) pair and a *task* an env; each method gets a score matrix of shape
``(runs, tasks)`` (a run's score: see :func:`rlzoo.results.run_score`). From it:

- the interquartile mean (IQM: mean of the middle 50 % of all runs x tasks), the median and the mean, each with a
  95 % stratified-bootstrap confidence interval (runs resampled within each task);
- the probability of improvement P(X > Y) of a method over its baseline (the method with the baseline's value,
  e.g. ``srl_model=ground_truth``), with its confidence interval;
- performance profiles: the fraction of runs x tasks scoring above each threshold tau.

Scores of several tasks are min-max normalised per task over every run of every method (0: the worst run on that
task, 1: the best) so that no task's scale dominates; with one task the raw rewards are used. Every method keeps
the same number of runs on every task: the smallest number it has on one, the first runs found first (a paired
comparison of two methods uses the smaller of their two numbers).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

#: bootstrap replications of the confidence intervals (rliable's examples use 2,000 to 50,000)
BOOTSTRAP_REPS = 2000
#: seed of the bootstrap (interval estimates are reproducible)
BOOTSTRAP_SEED = 0
#: points of a performance profile
PROFILE_POINTS = 101

Method = tuple[str, str, str]


@dataclass
class Estimate:
    """A point estimate and its 95 % confidence interval."""

    value: float
    low: float
    high: float


@dataclass
class Aggregates:
    """Aggregate statistics of a sweep.

    :param labels: method labels ``srl_model/algo``, in table order.
    :param tasks: the envs, in column order of the score matrices.
    :param runs: per label, the runs per task used.
    :param normalized: scores were min-max normalised per task.
    :param scores: per label, the score matrix ``(runs, tasks)``.
    :param iqm: per label, the interquartile mean. :param median: per label. :param mean: per label.
    :param improvement: per label with a baseline, ``(baseline label, P(label > baseline))``.
    :param taus: the profile thresholds. :param profiles: per label, the fraction of runs above each tau.
    """

    labels: list[str]
    tasks: list[str]
    runs: dict[str, int]
    normalized: bool
    scores: dict[str, np.ndarray]
    iqm: dict[str, Estimate] = field(default_factory=dict)
    median: dict[str, Estimate] = field(default_factory=dict)
    mean: dict[str, Estimate] = field(default_factory=dict)
    improvement: dict[str, tuple[str, Estimate]] = field(default_factory=dict)
    taus: np.ndarray = field(default_factory=lambda: np.zeros(0))
    profiles: dict[str, np.ndarray] = field(default_factory=dict)


def _label(method: Method) -> str:
    return f"{method[1]}/{method[2]}"


def score_matrices(scores: dict[Method, Sequence[float]]) -> tuple[dict[str, np.ndarray], list[str], bool]:
    """Per method label, the ``(runs, tasks)`` matrix of finite run scores, normalised per task when there are
    several tasks; also the task names and whether scores were normalised.

    :param scores: per method ``(env, srl_model, algo)``, the run scores (NaN: the run did not reach the budget).
    """
    by_label: dict[str, dict[str, list[float]]] = {}
    for method, values in scores.items():
        finite = [v for v in values if math.isfinite(v)]
        if finite:
            by_label.setdefault(_label(method), {})[method[0]] = finite
    if not by_label:
        return {}, [], False
    tasks = sorted(set.intersection(*(set(tasks) for tasks in by_label.values())))
    if not tasks:
        return {}, [], False
    matrices = {}
    for label, per_task in by_label.items():
        runs = min(len(per_task[task]) for task in tasks)
        matrices[label] = np.array([[per_task[task][r] for task in tasks] for r in range(runs)])
    normalized = len(tasks) > 1
    if normalized:
        stacked = np.concatenate(list(matrices.values()))
        low, high = stacked.min(axis=0), stacked.max(axis=0)
        span = np.where(high > low, high - low, 1.0)
        matrices = {label: (m - low) / span for label, m in matrices.items()}
    return matrices, tasks, normalized


def aggregate(scores: dict[Method, Sequence[float]], baseline: tuple[int, str] | None = None,
              reps: int = BOOTSTRAP_REPS, seed: int = BOOTSTRAP_SEED) -> Aggregates | None:
    """IQM, median and mean with stratified-bootstrap CIs, probability of improvement over the baseline and
    performance profiles (``rliable``); None when no method has a finite score on a common task.

    :param scores: per method ``(env, srl_model, algo)``, the run scores.
    :param baseline: ``(index in (env, srl_model, algo), value)`` naming each method's baseline (an env baseline
        has no meaning across tasks and is ignored).
    :param reps: bootstrap replications. :param seed: bootstrap seed.
    """
    matrices, tasks, normalized = score_matrices(scores)
    if not matrices:
        return None
    with warnings.catch_warnings():  # arch (rliable's bootstrap) deprecates the RandomState that rliable passes
        warnings.simplefilter("ignore", FutureWarning)
        return _aggregate(matrices, tasks, normalized, baseline, reps, seed)


def _aggregate(matrices: dict[str, np.ndarray], tasks: list[str], normalized: bool,
               baseline: tuple[int, str] | None, reps: int, seed: int) -> Aggregates:
    from rliable import library as rly
    from rliable import metrics

    labels = list(matrices)
    result = Aggregates(labels=labels, tasks=tasks, runs={label: len(m) for label, m in matrices.items()},
                        normalized=normalized, scores=matrices)
    for name, func in (("iqm", metrics.aggregate_iqm), ("median", metrics.aggregate_median),
                       ("mean", metrics.aggregate_mean)):
        points, intervals = rly.get_interval_estimates(
            matrices, lambda x, f=func: np.array([f(x)]), reps=reps, random_state=np.random.RandomState(seed))
        getattr(result, name).update({label: Estimate(float(points[label][0]), float(intervals[label][0, 0]),
                                                      float(intervals[label][1, 0])) for label in labels})
    if baseline is not None and baseline[0] > 0:
        pairs = {}
        for label in labels:
            parts = label.split("/")
            parts[baseline[0] - 1] = baseline[1]
            reference = "/".join(parts)
            if reference != label and reference in matrices:
                runs = min(len(matrices[label]), len(matrices[reference]))  # the paired bootstrap needs equal runs
                pairs[f"{label},{reference}"] = (matrices[label][:runs], matrices[reference][:runs])
        if pairs:
            points, intervals = rly.get_interval_estimates(
                pairs, lambda x, y: np.array([metrics.probability_of_improvement(x, y)]), reps=reps,
                random_state=np.random.RandomState(seed))
            for key in pairs:
                label, reference = key.split(",")
                result.improvement[label] = (reference, Estimate(float(points[key][0]), float(intervals[key][0, 0]),
                                                                 float(intervals[key][1, 0])))
    stacked = np.concatenate(list(matrices.values()))
    result.taus = np.linspace(stacked.min(), stacked.max(), PROFILE_POINTS)
    profiles, _ = rly.create_performance_profile(matrices, result.taus, reps=1)
    result.profiles = {label: np.asarray(profiles[label], dtype=np.float64) for label in labels}
    return result


def _fmt(estimate: Estimate) -> str:
    return f"{estimate.value:.3g} [{estimate.low:.3g}, {estimate.high:.3g}]"


def to_markdown(result: Aggregates, budget: str) -> str:
    """The aggregate statistics as a Markdown table (values with their 95 % CIs in brackets)."""
    unit = "min-max normalised score per task" if result.normalized else "reward"
    lines = [
        f"Aggregates at {budget} over {len(result.tasks)} task(s) ({', '.join(result.tasks)}), {unit}; 95 % "
        f"stratified-bootstrap CIs (rliable, {BOOTSTRAP_REPS} replications).",
        "",
        "| method | runs per task | IQM | median | mean | P(improvement) over |",
        "|---|---|---|---|---|---|",
    ]
    for label in result.labels:
        improvement = result.improvement.get(label)
        over = f"{_fmt(improvement[1])} over {improvement[0]}" if improvement else "-"
        lines.append(f"| {label} | {result.runs[label]} | {_fmt(result.iqm[label])} | {_fmt(result.median[label])} | "
                     f"{_fmt(result.mean[label])} | {over} |")
    return "\n".join(lines) + "\n"


def plot(result: Aggregates, path: str, title: str = "") -> None:
    """IQM with its CI per method (left) and the performance profiles (right), as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = plt.get_cmap("tab10")(np.arange(len(result.labels)) % 10)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 0.5 * len(result.labels) + 3))
    for row, (label, colour) in enumerate(zip(result.labels, colours)):
        estimate = result.iqm[label]
        left.plot([estimate.low, estimate.high], [row, row], color=colour, lw=6, alpha=0.6, solid_capstyle="butt")
        left.plot([estimate.value], [row], "k|", markersize=14)
        right.plot(result.taus, result.profiles[label], color=colour, label=label)
    unit = "normalised score" if result.normalized else "reward"
    left.set_yticks(range(len(result.labels)), result.labels)
    left.invert_yaxis()
    left.set_xlabel(f"IQM ({unit}), 95 % CI")
    right.set_xlabel(f"{unit} threshold tau")
    right.set_ylabel("fraction of runs with score > tau")
    right.set_ylim(-0.02, 1.02)
    right.legend(fontsize="small")
    fig.suptitle(title or f"{len(result.tasks)} task(s): {', '.join(result.tasks)}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
