"""Learning-curve figures from run folders (the original ``replay/plots.py``, ``aggregate_plots.py`` and
``compare_plots.py`` in one module).

Three figures, all PNG, drawn with matplotlib's Agg canvas (no display, no global backend switch):

* one run: episode rewards (raw, thin) and their moving average over ``smooth`` episodes;
* one sweep: for each env, one curve per method (srl_model x algo) with the mean +- standard error over its runs
  (seeds), each run's moving average interpolated on a common x grid that stops where the shortest run stops;
* several folders: the same aggregate for every folder on one figure per env, labelled by folder.

Next to every aggregate figure a CSV (same name, ``.csv``) holds the plotted numbers: ``label, x, mean, stderr,
n_runs``.

Command line::

    python -m rlzoo.plot <run or sweep folder> [more folders] [--out DIR] [--x timesteps|episodes] [--smooth N]
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import re
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from rlzoo.monitor import Episodes, RunInfo, find_runs, group_by_method, load_episodes, read_run_info

logger = logging.getLogger(__name__)

#: x-axis choices: cumulative env steps before each episode, or the episode number (1-based).
X_AXES = ("timesteps", "episodes")
X_LABELS = {"timesteps": "Number of Timesteps", "episodes": "Number of Episodes"}
#: default moving-average window, in episodes (the original's ``--episode_window``).
DEFAULT_SMOOTH = 40
#: points of the common grid of an aggregate in timesteps mode.
GRID_POINTS = 200


class Curve(NamedTuple):
    """A learning curve; both arrays have shape ``(n_points,)``."""

    x: np.ndarray  #: timesteps before the episode, or episode number
    y: np.ndarray  #: episode reward (raw or averaged)


class Aggregate(NamedTuple):
    """Runs of one method on a common grid.

    ``x``, ``mean`` and ``stderr`` have shape ``(n_points,)``; ``curves`` has shape ``(n_runs, n_points)``.
    """

    x: np.ndarray
    mean: np.ndarray
    stderr: np.ndarray  #: sample std (ddof=1) / sqrt(n_runs); 0 for a single run
    curves: np.ndarray

    @property
    def n_runs(self) -> int:
        """Number of runs aggregated."""
        return int(self.curves.shape[0])


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of each ``window`` consecutive values ("valid" convolution).

    :param values: shape ``(n,)``.
    :param window: number of values averaged, ``1 <= window <= n``.
    :return: shape ``(n - window + 1,)``; element ``j`` is the mean of ``values[j : j + window]``.
    """
    if not 1 <= window <= len(values):
        raise ValueError(f"window={window} must be between 1 and the number of values ({len(values)})")
    cumsum = np.concatenate([[0.0], np.cumsum(values, dtype=np.float64)])
    return (cumsum[window:] - cumsum[:-window]) / window


def episode_x(episodes: Episodes, x: str) -> np.ndarray:
    """The x value of every episode: timesteps before it, or its 1-based number."""
    if x == "timesteps":
        return episodes.timesteps.astype(np.float64)
    if x == "episodes":
        return np.arange(1, len(episodes) + 1, dtype=np.float64)
    raise ValueError(f"x={x!r}: choose one of {X_AXES}")


def raw_curve(episodes: Episodes, x: str = "timesteps") -> Curve:
    """One point per episode: (x of the episode, its reward)."""
    return Curve(episode_x(episodes, x), episodes.rewards.astype(np.float64))


def smoothed_curve(episodes: Episodes, x: str = "timesteps", window: int = DEFAULT_SMOOTH) -> Curve:
    """Moving average of the episode rewards, plotted at the x of the last episode of each window.

    :param episodes: a run's episodes (at least one).
    :param x: ``"timesteps"`` or ``"episodes"``.
    :param window: episodes per average; shrunk to the number of episodes if the run is shorter.
    :return: ``n - window + 1`` points.
    """
    window = max(1, min(window, len(episodes)))
    return Curve(episode_x(episodes, x)[window - 1 :], moving_average(episodes.rewards, window))


def aggregate_runs(
    runs: Sequence[Episodes], x: str = "timesteps", window: int = DEFAULT_SMOOTH, n_points: int = GRID_POINTS
) -> Aggregate | None:
    """Mean and standard error over runs of their moving-average curves, on a common grid.

    Every run is smoothed with the same window (``window``, or fewer episodes if a run is shorter), and each smoothed
    curve is linearly interpolated on the grid. The grid covers the x range that all runs share (from the latest
    start to the earliest end, as the original truncated every run to the shortest): ``n_points`` evenly spaced
    timesteps, or every episode number (at most ``n_points`` of them, evenly spaced).

    :param runs: the episodes of each run; runs without any episode are left out.
    :param x: ``"timesteps"`` or ``"episodes"``.
    :param window: moving-average window in episodes.
    :param n_points: size of the grid.
    :return: the aggregate, or None if no run has an episode.
    """
    runs = [episodes for episodes in runs if len(episodes) > 0]
    if not runs:
        return None
    window = max(1, min([window] + [len(episodes) for episodes in runs]))
    curves = [smoothed_curve(episodes, x, window) for episodes in runs]
    low = max(curve.x[0] for curve in curves)
    high = min(curve.x[-1] for curve in curves)
    if high <= low:
        grid = np.array([low])
    elif x == "episodes":
        grid = np.unique(np.round(np.linspace(low, high, min(n_points, int(high - low) + 1))))
    else:
        grid = np.linspace(low, high, n_points)
    values = np.stack([np.interp(grid, curve.x, curve.y) for curve in curves])
    n_runs = values.shape[0]
    stderr = values.std(axis=0, ddof=1) / np.sqrt(n_runs) if n_runs > 1 else np.zeros_like(grid)
    return Aggregate(x=grid, mean=values.mean(axis=0), stderr=stderr, curves=values)


# ----------------------------------------------------------------------------------------------------------------------
# Figures


def _format_steps(value: float, _position: int = 0) -> str:
    """Axis tick text: 1.5M, 20k, 500."""
    if abs(value) >= 1e6:
        return f"{value / 1e6:.1f}M"
    if abs(value) >= 1e3:
        return f"{value / 1e3:g}k"
    return f"{value:g}"


def _new_axes(title: str, x: str):
    """A figure and its single axes, labelled; the figure is not attached to pyplot."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    figure = Figure(figsize=(8, 5), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(title)
    axes.set_xlabel(X_LABELS[x])
    axes.set_ylabel("Rewards")
    axes.grid(alpha=0.3)
    if x == "timesteps":
        axes.xaxis.set_major_formatter(FuncFormatter(_format_steps))
    return figure, axes


def _safe_name(text: str) -> str:
    """``text`` reduced to characters that are safe in a file name."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", text).strip("_") or "unnamed"


def plot_run(run_dir: str, out_dir: str | None = None, x: str = "timesteps", smooth: int = DEFAULT_SMOOTH) -> str:
    """Plot one run: raw episode rewards and their moving average.

    :param run_dir: the run folder.
    :param out_dir: where to write ``learning_curve.png`` (default: the run folder).
    :param x: ``"timesteps"`` or ``"episodes"``.
    :param smooth: moving-average window in episodes.
    :return: path of the PNG.
    """
    info = read_run_info(run_dir)
    episodes = load_episodes(run_dir)
    title = "/".join(info.method) + ("" if info.seed is None else f" (seed {info.seed})")
    figure, axes = _new_axes(title, x)
    if len(episodes) == 0:
        logger.warning("%s: no finished episode yet", run_dir)
        axes.text(0.5, 0.5, "no finished episode yet", ha="center", va="center", transform=axes.transAxes)
    else:
        raw = raw_curve(episodes, x)
        smoothed = smoothed_curve(episodes, x, smooth)
        window = len(episodes) - len(smoothed.x) + 1
        axes.plot(raw.x, raw.y, color="tab:blue", alpha=0.3, linewidth=0.8, label="episode reward")
        axes.plot(smoothed.x, smoothed.y, color="tab:blue", linewidth=2.0, label=f"mean of {window} episodes")
        axes.legend(loc="lower right")
    out_dir = out_dir or run_dir
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "learning_curve.png")
    figure.savefig(path)
    return path


def _aggregate_folder(folders: Sequence[str], x: str, smooth: int
                      ) -> dict[tuple[str, str, str], tuple[list[RunInfo], Aggregate]]:
    """Aggregate every method found under ``folders`` (their runs pooled); methods whose runs have no episode are
    left out."""
    result = {}
    runs = [run for one in folders for run in find_runs(one)]
    for method, infos in group_by_method(runs).items():
        aggregate = aggregate_runs([load_episodes(info.path) for info in infos], x=x, window=smooth)
        if aggregate is None:
            logger.warning("%s: no finished episode for %s", ", ".join(folders), "/".join(method))
            continue
        result[method] = (infos, aggregate)
    return result


def _draw_aggregates(entries: Sequence[tuple[str, Aggregate]], title: str, x: str, png_path: str) -> tuple[str, str]:
    """One figure with a mean line and a +- standard error band per entry; also writes the numbers as CSV.

    :param entries: (legend label, aggregate) pairs.
    :return: paths of the PNG and the CSV.
    """
    figure, axes = _new_axes(title, x)
    colors = [f"C{i % 10}" for i in range(len(entries))]
    for (label, aggregate), color in zip(entries, colors):
        axes.plot(aggregate.x, aggregate.mean, color=color, linewidth=2.0, label=f"{label} (n={aggregate.n_runs})")
        axes.fill_between(
            aggregate.x, aggregate.mean - aggregate.stderr, aggregate.mean + aggregate.stderr, color=color, alpha=0.2
        )
    if entries:
        axes.legend(loc="lower right", fontsize="small")
    figure.savefig(png_path)
    csv_path = os.path.splitext(png_path)[0] + ".csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["label", "x", "mean", "stderr", "n_runs"])
        for label, aggregate in entries:
            for x_value, mean, stderr in zip(aggregate.x, aggregate.mean, aggregate.stderr):
                writer.writerow([label, repr(float(x_value)), repr(float(mean)), repr(float(stderr)), aggregate.n_runs])
    return png_path, csv_path


def plot_sweep(
    folder: str | Sequence[str], out_dir: str | None = None, x: str = "timesteps", smooth: int = DEFAULT_SMOOTH
) -> list[str]:
    """Plot a sweep: per env, one mean +- standard error curve per method (srl_model x algo) over its seeds.

    :param folder: the sweep folder (or any folder with runs under it), or several whose runs are pooled (a grid
        run in parts: one figure per env for all of them).
    :param out_dir: where to write ``learning_curves_<env>.png`` and ``.csv`` (default: ``folder``, the first one).
    :param x: ``"timesteps"`` or ``"episodes"``.
    :param smooth: moving-average window in episodes.
    :return: paths of the files written.
    """
    folders = [folder] if isinstance(folder, str) else list(folder)
    out_dir = out_dir or folders[0]
    os.makedirs(out_dir, exist_ok=True)
    by_env: dict[str, list[tuple[str, Aggregate]]] = {}
    for (env, srl_model, algo), (_infos, aggregate) in _aggregate_folder(folders, x, smooth).items():
        by_env.setdefault(env, []).append((f"{srl_model} {algo}", aggregate))
    paths: list[str] = []
    for env, entries in by_env.items():
        title = f"{env}: mean \u00b1 standard error over seeds"
        png_path = os.path.join(out_dir, f"learning_curves_{_safe_name(env)}.png")
        paths.extend(_draw_aggregates(entries, title, x, png_path))
    if not paths:
        logger.warning("%s: no run with a finished episode, nothing plotted", ", ".join(folders))
    return paths


def _folder_labels(folders: Sequence[str]) -> list[str]:
    """Short distinct names for folders: their base names, or more path components where base names collide."""
    parts = [os.path.normpath(os.path.abspath(folder)).split(os.sep) for folder in folders]
    depth = 1
    while True:
        labels = ["/".join(p[-depth:]) for p in parts]
        if len(set(labels)) == len(labels) or depth >= max(len(p) for p in parts):
            return labels
        depth += 1


def plot_compare(
    folders: Sequence[str], out_dir: str = ".", x: str = "timesteps", smooth: int = DEFAULT_SMOOTH
) -> list[str]:
    """Compare several sweeps (or runs): every method of every folder on one figure per env.

    :param folders: sweep or run folders.
    :param out_dir: where to write ``comparison_<env>.png`` and ``.csv``.
    :param x: ``"timesteps"`` or ``"episodes"``.
    :param smooth: moving-average window in episodes.
    :return: paths of the files written.
    """
    os.makedirs(out_dir, exist_ok=True)
    by_env: dict[str, list[tuple[str, Aggregate]]] = {}
    for folder, folder_label in zip(folders, _folder_labels(folders)):
        for (env, srl_model, algo), (_infos, aggregate) in _aggregate_folder([folder], x, smooth).items():
            by_env.setdefault(env, []).append((f"{folder_label}: {srl_model} {algo}", aggregate))
    paths: list[str] = []
    for env, entries in by_env.items():
        title = f"{env}: learning curves (mean \u00b1 standard error)"
        png_path = os.path.join(out_dir, f"comparison_{_safe_name(env)}.png")
        paths.extend(_draw_aggregates(entries, title, x, png_path))
    return paths


def plot_folders(
    folders: Sequence[str], out_dir: str | None = None, x: str = "timesteps", smooth: int = DEFAULT_SMOOTH
) -> list[str]:
    """What the command line does: a run plot, a sweep plot or a comparison, depending on the folders given.

    :param folders: one run folder, one sweep folder, or several folders of either kind.
    :param out_dir: output folder (default: the folder itself for one folder, the current folder for several).
    :param x: ``"timesteps"`` or ``"episodes"``.
    :param smooth: moving-average window in episodes.
    :return: paths of the files written.
    """
    if x not in X_AXES:
        raise ValueError(f"x={x!r}: choose one of {X_AXES}")
    if smooth < 1:
        raise ValueError(f"smooth={smooth}: the moving-average window must be at least 1 episode")
    for folder in folders:
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"{folder}: no such folder")
    if len(folders) > 1:
        return plot_compare(folders, out_dir or ".", x, smooth)
    folder = folders[0]
    runs = find_runs(folder)
    if runs == [folder]:
        return [plot_run(folder, out_dir, x, smooth)]
    if not runs:
        raise FileNotFoundError(f"{folder}: no run folder (with .hydra/config.yaml or *.monitor.csv) found")
    return plot_sweep(folder, out_dir, x, smooth)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point of ``python -m rlzoo.plot``; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m rlzoo.plot",
        description="Learning curves of a run, of a sweep (mean +- standard error over seeds) or of several folders.",
    )
    parser.add_argument("folders", nargs="+", help="run or sweep folders; several folders are compared on one figure")
    parser.add_argument("--out", default=None, help="output folder (default: the folder, or . for several folders)")
    parser.add_argument("--x", choices=X_AXES, default="timesteps", help="x axis (default: timesteps)")
    parser.add_argument(
        "--smooth",
        type=int,
        default=DEFAULT_SMOOTH,
        help=f"moving-average window in episodes (default {DEFAULT_SMOOTH})",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        paths = plot_folders(args.folders, args.out, args.x, args.smooth)
    except (FileNotFoundError, ValueError) as exc:
        parser.error(str(exc))
    for path in paths:
        print(path)
    return 0 if paths else 1


if __name__ == "__main__":
    raise SystemExit(main())
