"""Our rerun of the paper's comparison, side by side with its published numbers.

``python -m rlzoo.paper <sweep folder> [more folders] [--out DIR] [--last 100]`` reads the runs of an
``experiment=paper_*`` sweep (``conf/experiment/``) and writes, next to the published values of
``rlzoo/paper_tables.yaml`` (arXiv 1901.08651, Tables 1 and 2):

- per method (srl_model): the number of seeds, the mean reward of the last ``last`` episodes of each run, mean +-
  standard error over seeds, and the paper's;
- for the methods with a learned model: the GTC of each ground-truth dimension, GTC_mean and KNN-MSE of the model the
  runs used (its ``metrics.json``), and the paper's GTC (Table 2; the paper gives no KNN-MSE);

as ``paper_table.md`` and ``paper_table.csv``, and the learning curves (mean +- standard error over seeds per method)
as ``learning_curves_<env>.png``. The experiment of the runs is read from their ``.hydra`` record.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from rlzoo.monitor import find_runs, group_by_method, load_episodes
from rlzoo.plots import plot_sweep
from rlzoo.results import DEFAULT_LAST, mean_stderr, run_score
from rlzoo.run_folder import read_choices, read_srl_model
from srl.errors import ConfigError
from srl.models import METRICS_FILE as SRL_METRICS_FILE

#: the published numbers and their source
PUBLISHED = Path(__file__).with_name("paper_tables.yaml")


def published() -> dict[str, Any]:
    """The paper's tables (``rlzoo/paper_tables.yaml``)."""
    return yaml.safe_load(PUBLISHED.read_text())


def _model_metrics(run_dirs: Sequence[str]) -> dict[str, Any]:
    """GTC, GTC_mean and KNN-MSE of the learned model the runs used (the first run's that has one)."""
    for run_dir in run_dirs:
        folder = read_srl_model(run_dir)
        if folder is not None and (folder / SRL_METRICS_FILE).exists():
            metrics = json.loads((folder / SRL_METRICS_FILE).read_text())
            return {"gtc": metrics.get("gt_corr"), "gtc_mean": metrics.get("gt_corr_mean"),
                    "knn_mse": metrics.get("knn_mse"), "model": str(folder)}
    return {}


def collect(folders: Sequence[str], last: int = DEFAULT_LAST) -> tuple[str, list[dict[str, Any]]]:
    """The experiment of the runs under ``folders`` and one row per method, ours next to the paper's.

    :raises ConfigError: no run, runs of several experiments, or runs of no ``paper_*`` experiment.
    """
    runs = [run for folder in folders for run in find_runs(folder)]
    if not runs:
        raise ConfigError(f"no run folder found under {', '.join(folders)}.")
    table = published()
    experiments = {read_choices(run).get("experiment") for run in runs}
    if len(experiments) != 1 or next(iter(experiments)) not in table["columns"]:
        raise ConfigError(f"the runs under {', '.join(folders)} come from the experiment(s) "
                          f"{sorted(str(e) for e in experiments)}; this table needs runs of one of "
                          f"{', '.join(table['columns'])} (python main.py -m experiment=paper_nav2d).")
    experiment = next(iter(experiments))
    rows = []
    for (env, srl_model, algo), infos in group_by_method(runs).items():
        scores = [run_score(load_episodes(info.path), None, last, info.timesteps or 0) for info in infos]
        mean, stderr = mean_stderr(scores)
        paper_reward = table["reward"].get(srl_model, {}).get(experiment)
        paper_gtc = table.get("gtc", {}).get(experiment, {}).get(srl_model)
        rows.append({"method": table["methods"].get(srl_model, srl_model), "srl_model": srl_model, "env": env,
                     "algo": algo, "seeds": sum(math.isfinite(s) for s in scores),
                     "timesteps": min((info.timesteps or 0) for info in infos), "reward_mean": mean,
                     "reward_stderr": stderr, "paper_reward_mean": paper_reward[0] if paper_reward else None,
                     "paper_reward_stderr": paper_reward[1] if paper_reward else None,
                     "paper_gtc": paper_gtc, **_model_metrics([info.path for info in infos])})
    order = list(table["methods"])
    rows.sort(key=lambda row: order.index(row["srl_model"]) if row["srl_model"] in order else len(order))
    return experiment, rows


def _pm(mean: float | None, stderr: float | None, spec: str = ".1f") -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "-"
    if stderr is None or (isinstance(stderr, float) and math.isnan(stderr)):
        return format(mean, spec)
    return f"{format(mean, spec)} \u00b1 {format(stderr, spec)}"


def _values(values: Sequence[float | None] | None) -> str:
    """GTC values as ``a / b / c``; a dimension without one (a ground truth that never varies: the fixed target of
    the 1D task) as ``-``."""
    return "-" if not values else " / ".join("-" if v is None else f"{v:.2f}" for v in values)


def to_markdown(experiment: str, rows: Sequence[dict[str, Any]], last: int = DEFAULT_LAST) -> str:
    """The table as Markdown: ours next to the paper's, reward and model metrics."""
    table = published()
    steps = min(row["timesteps"] for row in rows)
    lines = [
        f"{experiment} ({table['columns'][experiment]}): ours at {steps:,} steps (mean reward of the last {last} "
        f"episodes per run, mean \u00b1 standard error over seeds) next to the paper's at 5 M steps over 10 seeds.",
        f"GTC per ground-truth dimension (robot, then target coordinates: {' / '.join(table['gtc_labels'])} in 2D) "
        "and KNN-MSE of the SRL model the runs used.",
        "",
        "| method | seeds | reward (ours) | reward (paper) | GTC (ours) | GTC (paper) | GTC_mean (ours) | "
        "GTC_mean (paper) | KNN-MSE (ours) |",
        "|---|---:|---:|---:|---|---|---:|---:|---:|",
    ]
    for row in rows:
        paper_gtc = row["paper_gtc"]
        lines.append(
            f"| {row['method']} | {row['seeds']} | {_pm(row['reward_mean'], row['reward_stderr'])} | "
            f"{_pm(row['paper_reward_mean'], row['paper_reward_stderr'])} | {_values(row.get('gtc'))} | "
            f"{_values(paper_gtc[:-1] if paper_gtc else None)} | {_pm(row.get('gtc_mean'), None, '.2f')} | "
            f"{_pm(paper_gtc[-1] if paper_gtc else None, None, '.2f')} | {_pm(row.get('knn_mse'), None, '.3f')} |")
    lines += ["", f"Source of the paper's numbers: {' '.join(table['source'].split())}"]
    return "\n".join(lines) + "\n"


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """One line per method; lists (GTC per dimension) as ``a;b;c`` cells, missing values empty."""
    columns = ["method", "srl_model", "env", "algo", "seeds", "timesteps", "reward_mean", "reward_stderr",
               "paper_reward_mean", "paper_reward_stderr", "gtc", "paper_gtc", "gtc_mean", "knn_mse", "model"]

    def cell(value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return ""
        if isinstance(value, list):  # GTC per dimension; an empty cell where a dimension has none
            return ";".join("" if v is None else repr(float(v)) for v in value)
        return repr(value) if isinstance(value, float) else str(value)

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([cell(row.get(column)) for column in columns])


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point of ``python -m rlzoo.paper``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m rlzoo.paper", description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="sweep folders of an experiment=paper_* run")
    parser.add_argument("--out", type=Path, help="output folder (default: the first folder)")
    parser.add_argument("--last", type=int, default=DEFAULT_LAST, help="episodes averaged per run (default 100)")
    args = parser.parse_args(argv)
    try:
        experiment, rows = collect(args.folders, args.last)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    out = args.out or Path(args.folders[0])
    os.makedirs(out, exist_ok=True)
    markdown = to_markdown(experiment, rows, args.last)
    (out / "paper_table.md").write_text(markdown)
    write_csv(out / "paper_table.csv", rows)
    curves = [path for path in plot_sweep(args.folders, str(out)) if path.endswith(".png")]  # all folders' runs
    print(markdown)
    for path in [out / "paper_table.md", out / "paper_table.csv", *curves]:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
