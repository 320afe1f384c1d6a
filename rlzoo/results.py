"""Result tables across sweeps (the original ``replay/gather_results.py``).

One row per method (env x srl_model x algo) over all the run folders found under the given folders. For each
timestep budget, a run's score is the mean reward of its last ``last`` episodes that finished within the budget;
runs that did not reach the budget are left out of that budget's columns. Over the runs (seeds) of a method the
table gives the mean score, its standard error (sample std, ddof=1, / sqrt(n)) and, against a baseline method on
the same env and algo, the p-value of Welch's t-test (``scipy.stats.ttest_ind(equal_var=False)``) on the
per-run scores.

Two deliberate differences from the original: the statistics are over per-run scores (the original pooled all
episodes of all runs for the mean and std, then divided by sqrt(number of runs)), and the test is Welch's test
(the original called ``ttest_ind`` with its default equal variances, i.e. Student's t-test, despite the name).

Command line::

    python -m rlzoo.results <sweep folders...> [--budgets 10000,50000] [--last 100]
        [--baseline srl_model=ground_truth] [--out DIR]

writes ``results.csv`` and ``results.md`` in ``--out`` (default: the first folder) and prints the Markdown table.
Below it, the robust aggregates of :mod:`rlzoo.aggregate` at the largest budget (interquartile mean, median and mean
with stratified-bootstrap confidence intervals, probability of improvement over the baseline), drawn with the
performance profiles in ``aggregates.png`` (``--no-aggregates`` skips them).
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from rlzoo.aggregate import aggregate
from rlzoo.aggregate import plot as plot_aggregates
from rlzoo.aggregate import to_markdown as aggregates_markdown
from rlzoo.monitor import METHOD_KEYS, Episodes, RunInfo, find_runs, group_by_method, load_episodes

logger = logging.getLogger(__name__)

#: the figure of the robust aggregates, next to results.md
AGGREGATES_PNG = "aggregates.png"
#: default number of last episodes averaged into a run's score (the original ``--episode-window``).
DEFAULT_LAST = 100


def run_score(episodes: Episodes, budget: int | None = None, last: int = DEFAULT_LAST, run_timesteps: int = 0) -> float:
    """Mean reward of the last ``last`` episodes that finished within ``budget`` timesteps.

    :param episodes: the run's merged episodes.
    :param budget: timestep budget; None scores the whole run.
    :param last: number of episodes averaged (fewer if fewer finished).
    :param run_timesteps: env steps the run did (from ``metrics.json``); finished episodes alone miss the steps of
        episodes still running, so the larger of the two decides whether the run reached the budget.
    :return: the score, NaN if the run did not reach the budget or has no finished episode within it.
    """
    if last < 1:
        raise ValueError(f"last={last}: must average at least 1 episode")
    rewards = episodes.rewards
    if budget is not None:
        if max(episodes.total_timesteps, run_timesteps) < budget:
            return math.nan
        rewards = rewards[episodes.timesteps + episodes.lengths <= budget]
    if len(rewards) == 0:
        return math.nan
    return float(np.mean(rewards[-last:]))


def mean_stderr(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (sample std with ddof=1, / sqrt(n)) of the finite values.

    :return: (mean, stderr); the stderr is NaN for fewer than 2 values, both are NaN for none.
    """
    finite = np.asarray([v for v in values if math.isfinite(v)], dtype=np.float64)
    if len(finite) == 0:
        return math.nan, math.nan
    if len(finite) == 1:
        return float(finite[0]), math.nan
    return float(finite.mean()), float(finite.std(ddof=1) / math.sqrt(len(finite)))


def welch_pvalue(values: Sequence[float], baseline: Sequence[float]) -> float:
    """Two-sided p-value of Welch's t-test between two samples (NaN values are dropped).

    :return: the p-value, NaN if a sample has fewer than 2 values; with zero variance in both samples, scipy's
        answer (0 if the means differ, NaN if they are equal).
    """
    a = np.asarray([v for v in values if math.isfinite(v)], dtype=np.float64)
    b = np.asarray([v for v in baseline if math.isfinite(v)], dtype=np.float64)
    if len(a) < 2 or len(b) < 2:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # constant samples: scipy warns about precision loss
        return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


@dataclass
class MethodScores:
    """Per-run scores of one method.

    :param method: ``(env, srl_model, algo)``.
    :param runs: the run labels.
    :param scores: per budget key (an int budget, or None for the whole run), the score of each run (NaN for runs
        that did not reach the budget), in the order of ``runs``.
    """

    method: tuple[str, str, str]
    runs: list[RunInfo]
    scores: dict[int | None, list[float]] = field(default_factory=dict)


def collect_scores(
    folders: Sequence[str], budgets: Sequence[int] | None = None, last: int = DEFAULT_LAST
) -> dict[tuple[str, str, str], MethodScores]:
    """Score every run found under ``folders``, grouped by method.

    :param folders: sweep (or run) folders; the same method found in several folders pools its runs.
    :param budgets: timestep budgets; None or empty scores the whole runs.
    :param last: number of last episodes averaged per run.
    :return: the scores per method, in sorted method order.
    """
    keys: list[int | None] = list(budgets) if budgets else [None]
    run_dirs = [run for folder in folders for run in find_runs(folder)]
    table: dict[tuple[str, str, str], MethodScores] = {}
    for method, infos in group_by_method(run_dirs).items():
        entry = MethodScores(method=method, runs=infos, scores={key: [] for key in keys})
        for info in infos:
            episodes = load_episodes(info.path)
            for key in keys:
                entry.scores[key].append(run_score(episodes, key, last, info.timesteps or 0))
        table[method] = entry
    return table


def parse_baseline(text: str | None) -> tuple[int, str] | None:
    """``"srl_model=ground_truth"`` -> (index of ``srl_model`` in the method tuple, ``"ground_truth"``)."""
    if not text:
        return None
    key, sep, value = text.partition("=")
    if not sep or key not in METHOD_KEYS or not value:
        raise ValueError(f"baseline {text!r}: expected KEY=VALUE with KEY one of {', '.join(METHOD_KEYS)}")
    return METHOD_KEYS.index(key), value


def _column_tag(key: int | None) -> str:
    """Column suffix of a budget: the budget itself, or ``final`` for the whole run."""
    return "final" if key is None else str(key)


def build_table(
    scores: dict[tuple[str, str, str], MethodScores], baseline: tuple[int, str] | None = None
) -> tuple[list[str], list[dict[str, object]]]:
    """The result rows.

    Columns: ``env, srl_model, algo, n_seeds``, then per budget ``n_<b>`` (runs that reached it), ``mean_<b>``,
    ``stderr_<b>`` and, with a baseline, ``pvalue_<b>`` (Welch's test against the method that equals this one except
    for the baseline's key, which takes the baseline's value; NaN for the baseline itself or if it is missing).

    :param scores: output of :func:`collect_scores`.
    :param baseline: output of :func:`parse_baseline`.
    :return: (column names, rows as dicts).
    """
    keys: list[int | None] = list(next(iter(scores.values())).scores) if scores else [None]
    columns = list(METHOD_KEYS) + ["n_seeds"]
    for key in keys:
        tag = _column_tag(key)
        columns += [f"n_{tag}", f"mean_{tag}", f"stderr_{tag}"] + ([f"pvalue_{tag}"] if baseline else [])
    rows = []
    for method, entry in scores.items():
        row: dict[str, object] = dict(zip(METHOD_KEYS, method))
        row["n_seeds"] = len(entry.runs)
        reference = None
        if baseline is not None:
            index, value = baseline
            reference_method = tuple(value if i == index else part for i, part in enumerate(method))
            if reference_method != method:
                reference = scores.get(reference_method)  # type: ignore[arg-type]
        for key in keys:
            tag = _column_tag(key)
            values = entry.scores[key]
            row[f"n_{tag}"] = sum(math.isfinite(v) for v in values)
            row[f"mean_{tag}"], row[f"stderr_{tag}"] = mean_stderr(values)
            if baseline is not None:
                row[f"pvalue_{tag}"] = welch_pvalue(values, reference.scores[key]) if reference else math.nan
        rows.append(row)
    return columns, rows


def _cell(value: object) -> str:
    """A CSV cell: floats in full precision, NaN as an empty cell."""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def write_csv(path: str, columns: Sequence[str], rows: Sequence[dict[str, object]]) -> None:
    """Write the rows as CSV (NaN as empty cells)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row[column]) for column in columns])


def to_markdown(
    columns: Sequence[str], rows: Sequence[dict[str, object]], last: int = DEFAULT_LAST, baseline: str | None = None
) -> str:
    """A Markdown table: one "mean \u00b1 stderr" column per budget, with a p-value column beside it."""
    tags = [column[len("mean_") :] for column in columns if column.startswith("mean_")]
    has_p = any(column.startswith("pvalue_") for column in columns)
    header = ["env", "srl_model", "algo", "seeds"]
    for tag in tags:
        header.append(f"reward @ {tag} steps" if tag != "final" else "final reward")
        if has_p:
            header.append(f"p ({tag})")
    lines = [
        f"Mean reward of the last {last} episodes per run, mean \u00b1 standard error over runs"
        + (f"; p: Welch's t-test against {baseline}." if baseline else "."),
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]

    def fmt(value: object, spec: str) -> str:
        return "-" if not isinstance(value, float) or math.isnan(value) else format(value, spec)

    for row in rows:
        cells = [str(row["env"]), str(row["srl_model"]), str(row["algo"]), str(row["n_seeds"])]
        for tag in tags:
            n = row[f"n_{tag}"]
            text = fmt(row[f"mean_{tag}"], ".2f")
            if text != "-" and not (isinstance(row[f"stderr_{tag}"], float) and math.isnan(row[f"stderr_{tag}"])):
                text += " \u00b1 " + fmt(row[f"stderr_{tag}"], ".2f")
            if n != row["n_seeds"]:
                text += f" (n={n})"
            cells.append(text)
            if has_p:
                cells.append(fmt(row[f"pvalue_{tag}"], ".3g"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def parse_budgets(text: str | None) -> list[int]:
    """``"10000,5e4"`` -> ``[10000, 50000]`` (empty for None or "")."""
    if not text:
        return []
    budgets = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        value = float(part)
        if value <= 0 or value != int(value):
            raise ValueError(f"budget {part!r}: must be a positive whole number of timesteps")
        budgets.append(int(value))
    return sorted(set(budgets))


def gather_results(
    folders: Sequence[str],
    budgets: Sequence[int] | None = None,
    last: int = DEFAULT_LAST,
    baseline: str | None = None,
    out_dir: str | None = None,
    aggregates: bool = True,
) -> tuple[str, str, str]:
    """Build the result table of the runs under ``folders`` and write it as ``results.csv`` and ``results.md``.

    :param folders: sweep (or run) folders.
    :param budgets: timestep budgets (empty: whole runs).
    :param last: number of last episodes averaged per run.
    :param baseline: ``KEY=VALUE`` naming the baseline method, e.g. ``srl_model=ground_truth``.
    :param out_dir: output folder (default: the first folder).
    :param aggregates: add the robust aggregates (:mod:`rlzoo.aggregate`) at the largest budget to the Markdown
        and draw them in ``aggregates.png``.
    :return: (CSV path, Markdown path, Markdown text).
    """
    parsed_baseline = parse_baseline(baseline)
    scores = collect_scores(folders, budgets, last)
    if not scores:
        raise FileNotFoundError(f"no run folder found under {', '.join(folders)}")
    columns, rows = build_table(scores, parsed_baseline)
    out_dir = out_dir or folders[0]
    os.makedirs(out_dir, exist_ok=True)
    csv_path = os.path.join(out_dir, "results.csv")
    md_path = os.path.join(out_dir, "results.md")
    write_csv(csv_path, columns, rows)
    markdown = to_markdown(columns, rows, last, baseline)
    if aggregates:
        key = list(next(iter(scores.values())).scores)[-1]  # the largest budget, or the whole runs
        result = aggregate({method: entry.scores[key] for method, entry in scores.items()}, parsed_baseline)
        if result is not None:
            budget = "the end of the runs" if key is None else f"{key} steps"
            markdown += "\n" + aggregates_markdown(result, budget)
            plot_aggregates(result, os.path.join(out_dir, AGGREGATES_PNG), title=f"Aggregates at {budget}")
    with open(md_path, "w", encoding="utf-8") as handle:
        handle.write(markdown)
    return csv_path, md_path, markdown


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point of ``python -m rlzoo.results``; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m rlzoo.results",
        description="Result table per env x srl_model x algo over the runs of one or more sweeps.",
    )
    parser.add_argument("folders", nargs="+", help="sweep (or run) folders")
    parser.add_argument("--budgets", default="", help="comma-separated timestep budgets, e.g. 10000,50000")
    parser.add_argument("--last", type=int, default=DEFAULT_LAST, help="episodes averaged per run (default 100)")
    parser.add_argument(
        "--baseline", default=None, help="baseline method for Welch's t-test, e.g. srl_model=ground_truth"
    )
    parser.add_argument("--out", default=None, help="output folder (default: the first folder)")
    parser.add_argument("--no-aggregates", action="store_true",
                        help="skip the IQM / probability of improvement / performance profiles (rliable)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        budgets = parse_budgets(args.budgets)
        if args.last < 1:
            raise ValueError(f"--last {args.last}: must be at least 1")
        csv_path, md_path, markdown = gather_results(args.folders, budgets, args.last, args.baseline, args.out,
                                                     aggregates=not args.no_aggregates)
    except (FileNotFoundError, ValueError) as exc:
        parser.error(str(exc))
    print(markdown)
    print(csv_path)
    print(md_path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
