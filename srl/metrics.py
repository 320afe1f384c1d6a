"""How good a learned state space is: KNN-MSE, GTC / GTC_mean (spec srl-zoo.md 4.1-4.2), and plots.

* KNN-MSE (Lesort et al. 2017): for ``n_samples`` random query frames, the mean squared ground-truth distance to
  the frames that are its k nearest neighbours in the learned space (Euclidean). Lower is better. The query
  itself is excluded by index (the original dropped the first neighbour, which is another frame when two states
  coincide).
* GTC (Raffin et al. 2018): for each ground-truth dim g (agent x, y[, z] then target x, y[, z], absolute
  positions, as the original and the paper's Table 2), the largest |Pearson correlation| between g and a learned
  dim; GTC_mean is their mean. Unlike the original, the max runs over learned dims only (the original also
  counted the other ground-truth dims of the same block). A constant ground-truth dim (a fixed target) has no
  correlation: its entry is null and it is left out of the mean.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch


def knn_mse(states: np.ndarray, ground_truth: np.ndarray, n_neighbors: int = 5, n_samples: int = 2000,
            seed: int = 1) -> float:
    """KNN-MSE of learned ``states`` (N, d) against ``ground_truth`` (N, g).

    :param n_neighbors: k. :param n_samples: query frames drawn without replacement (all if fewer frames).
    :param seed: seed of the query draw.
    """
    n = len(states)
    k = min(n_neighbors, n - 1)
    if k < 1:
        raise ValueError(f"KNN-MSE needs at least 2 states, got {n}.")
    queries = np.random.default_rng(seed).choice(n, size=min(n_samples, n), replace=False)
    points = torch.as_tensor(np.asarray(states, dtype=np.float64))
    truth = np.asarray(ground_truth, dtype=np.float64).reshape(n, -1)
    total = 0.0
    for start in range(0, len(queries), 512):
        chunk = torch.as_tensor(queries[start:start + 512])
        distances = torch.cdist(points[chunk], points)
        distances[torch.arange(len(chunk)), chunk] = math.inf  # never its own neighbour
        neighbors = torch.topk(distances, k, largest=False).indices.numpy()
        total += float(((truth[neighbors] - truth[chunk.numpy(), None]) ** 2).sum())
    return total / (len(queries) * k)


def correlation_with(ground_truth: np.ndarray, states: np.ndarray) -> np.ndarray:
    """|Pearson correlation| between every ground-truth dim and every learned dim, shape (g, d); NaN where a
    column is constant."""
    gt = np.asarray(ground_truth, dtype=np.float64)
    s = np.asarray(states, dtype=np.float64)
    gt_c = gt - gt.mean(0)
    s_c = s - s.mean(0)
    gt_norm = np.sqrt((gt_c**2).sum(0))
    s_norm = np.sqrt((s_c**2).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (gt_c.T @ s_c) / np.outer(gt_norm, s_norm)
    corr[(gt_norm < 1e-12)[:, None] | (s_norm < 1e-12)[None, :]] = np.nan
    return np.abs(corr)


def gtc(states: np.ndarray, ground_truth: np.ndarray, targets: np.ndarray | None = None) -> tuple[list[float | None],
                                                                                                   float]:
    """GTC vector and GTC_mean.

    :param states: learned states (N, d).
    :param ground_truth: absolute agent positions (N, g).
    :param targets: per-frame target positions (N, g_t), appended to the ground truth (None: agent only).
    :return: (GTC per ground-truth dim, None for constant dims; mean over the others, NaN if none).
    """
    blocks = [np.asarray(ground_truth, dtype=np.float64).reshape(len(states), -1)]
    if targets is not None:
        blocks.append(np.asarray(targets, dtype=np.float64).reshape(len(states), -1))
    truth = np.concatenate(blocks, axis=1)
    corr = np.nan_to_num(correlation_with(truth, states), nan=0.0)  # a constant learned dim correlates with nothing
    constant = truth.std(0) < 1e-12
    vector: list[float | None] = [None if constant[g] else float(corr[g].max()) for g in range(truth.shape[1])]
    defined = [v for v in vector if v is not None]
    return vector, float(np.mean(defined)) if defined else math.nan


def gt_labels(ground_truth_dim: int, target_dim: int) -> list[str]:
    """Names of the GTC entries: x/y/z robot, then x/y/z target."""
    axes = "xyz"
    return ([f"{axes[i]} robot" for i in range(ground_truth_dim)]
            + [f"{axes[i]} target" for i in range(target_dim)])


def project_2d(states: np.ndarray) -> tuple[np.ndarray, str]:
    """The first two dims of ``states`` (N, d), or their first two principal components when d > 2."""
    states = np.asarray(states, dtype=np.float64)
    if states.shape[1] == 1:
        return np.concatenate([states, np.zeros_like(states)], 1), "state dim 1"
    if states.shape[1] == 2:
        return states, "state dims 1-2"
    centered = states - states.mean(0)
    _, _, vt = np.linalg.svd(centered, full_matrices=False)
    return centered @ vt[:2].T, "first 2 principal components"


def plot_states(states: np.ndarray, ground_truth: np.ndarray, path: Path, title: str = "",
                labels: list[str] | None = None) -> None:
    """Scatter of the learned states (first 2 dims or PCA), one panel per ground-truth dim used as colour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points, what = project_2d(states)
    truth = np.asarray(ground_truth).reshape(len(points), -1)
    labels = labels or [f"ground truth {i}" for i in range(truth.shape[1])]
    fig, axes = plt.subplots(1, truth.shape[1], figsize=(5 * truth.shape[1], 4.5), squeeze=False)
    for i, ax in enumerate(axes[0]):
        scatter = ax.scatter(points[:, 0], points[:, 1], c=truth[:, i], cmap="viridis", s=4, alpha=0.7)
        fig.colorbar(scatter, ax=ax, label=labels[i])
        ax.set_title(f"coloured by {labels[i]}")
        ax.set_xlabel(f"{what} (1)")
        ax.set_ylabel(f"{what} (2)")
    fig.suptitle(title or "learned states")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_losses(history: dict[str, Any], path: Path) -> None:
    """Per-epoch loss curves (train and validation totals, and each weighted term)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, values in history.items():
        if len(values):
            ax.plot(np.arange(1, len(values) + 1), values, label=name, lw=2 if name in ("train_loss", "val_loss")
                    else 1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
