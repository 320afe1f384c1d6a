"""Replay recorders: observers of :func:`rlzoo.replay.evaluate` that collect what a replay shows.

Each recorder is called before every step with ``(observation, step in episode, episode)`` and writes its output
when the replay ends: camera frames (a video), the policy's action probabilities (a plot), the state trajectory
(a plot). A new recorder is a callable of that signature, added to the observers in :mod:`rlzoo.enjoy`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from rlzoo.replay import env_attr, env_call

#: frames per second of the written videos
VIDEO_FPS = 25


class FrameRecorder:
    """Collects the camera view (``render_image()``) of the env before every step."""

    def __init__(self, env: VecEnv) -> None:
        self.env = env
        self.frames: list[np.ndarray] = []

    def __call__(self, obs: np.ndarray, step: int, episode: int) -> None:
        self.frames.append(np.asarray(env_call(self.env, "render_image"), dtype=np.uint8))


def write_video(frames: list[np.ndarray], path: Path, fps: int = VIDEO_FPS) -> None:
    """Write uint8 ``(H, W, 3)`` frames as a gif (pillow) or mp4 (imageio-ffmpeg)."""
    if not frames:
        raise ValueError("no frames to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".gif":
        from PIL import Image

        images = [Image.fromarray(frame) for frame in frames]
        images[0].save(path, save_all=True, append_images=images[1:], duration=int(round(1000 / fps)), loop=0,
                       optimize=False, disposal=1)
        return
    import imageio.v2 as imageio  # optional dependency, checked before the replay starts

    with imageio.get_writer(str(path), fps=fps, codec="libx264", macro_block_size=1) as writer:
        for frame in frames:
            writer.append_data(frame)


def mp4_available() -> bool:
    try:
        import imageio  # noqa: F401
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return False
    return True


class ActionRecorder:
    """Collects the agent's view of its action choice before every step (:meth:`ToolboxAlgorithm.action_view`):
    the policy's probabilities (never re-normalised) or distribution means, the softmax of a DQN's Q-values, or a
    deterministic policy's action; the plot is labelled with which it is."""

    def __init__(self, model: Any, live: bool = False) -> None:
        self.model = model
        self.values: list[np.ndarray] = []
        self.label = ""
        self.episode_starts: list[int] = []
        self.live = live
        self._live_plot: Any = None

    def __call__(self, obs: np.ndarray, step: int, episode: int) -> None:
        values, self.label = self.model.action_view(obs)
        if step == 0:
            self.episode_starts.append(len(self.values))
        self.values.append(np.asarray(values, dtype=np.float64)[0].reshape(-1))
        if self.live and len(self.values) % 5 == 1:
            self._draw_live()

    @property
    def bounded(self) -> bool:
        """The values are probabilities (in [0, 1], summing to 1)."""
        return "probability" in self.label or "softmax" in self.label

    def _draw_live(self) -> None:
        import matplotlib.pyplot as plt

        if self._live_plot is None:
            plt.ion()
            fig, ax = plt.subplots(figsize=(6, 3.5))
            bars = ax.bar(np.arange(len(self.values[-1])), self.values[-1],
                          color=plt.get_cmap("viridis")(np.linspace(0, 1, len(self.values[-1]))))
            ax.set_xlabel("action" if self.bounded else "action dimension")
            ax.set_ylabel(self.label)
            if self.bounded:
                ax.set_ylim(0, 1)
            self._live_plot = (fig, ax, bars)
        fig, ax, bars = self._live_plot
        for bar, value in zip(bars, self.values[-1]):
            bar.set_height(value)
        if not self.bounded:
            low = min(0.0, float(np.min(self.values[-1])))
            high = max(0.0, float(np.max(self.values[-1])))
            ax.set_ylim(min(-1.0, low * 1.2), max(1.0, high * 1.2))
        fig.canvas.draw_idle()
        plt.pause(0.001)

    def plot(self, path: Path, title: str = "") -> None:
        """One line per action (or action dimension) over the replay's steps, labelled with what is plotted."""
        import matplotlib.pyplot as plt

        values = np.stack(self.values)
        fig, ax = plt.subplots(figsize=(9, 4))
        colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, values.shape[1]))
        name = "action" if self.bounded else "dimension"
        for column in range(values.shape[1]):
            ax.plot(np.arange(len(values)), values[:, column], color=colours[column], lw=1.2, label=f"{name} {column}")
        for start in self.episode_starts[1:]:
            ax.axvline(start, color="0.6", ls="--", lw=0.8)
        if self.bounded:
            ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("step (dashed lines: new episode)")
        ax.set_ylabel(self.label)
        ax.set_title(title or f"{type(self.model).__name__}: {self.label}")
        ax.legend(loc="upper right", fontsize="small", ncol=min(values.shape[1], 6))
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
        plt.close(fig)


def pca_project(points: np.ndarray, n_components: int, extra: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Project ``points`` (n, d) on their first ``n_components`` principal axes (numpy SVD).

    Missing components (fewer samples or dimensions than asked) are zero. ``extra`` points (e.g. the target) are
    projected with the same axes. Returns the projections and the explained variance ratio of each component.
    """
    points = np.asarray(points, dtype=np.float64).reshape(len(points), -1)
    mean = points.mean(axis=0)
    centred = points - mean
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(n_components, vt.shape[0])
    axes = vt[:k]
    variance = singular ** 2
    ratio = np.zeros(n_components)
    if variance.sum() > 0:
        ratio[:k] = variance[:k] / variance.sum()

    def project(x: np.ndarray) -> np.ndarray:
        out = np.zeros((len(x), n_components))
        out[:, :k] = (np.asarray(x, dtype=np.float64).reshape(len(x), -1) - mean) @ axes.T
        return out

    return project(points), (None if extra is None else project(extra)), ratio


class StateRecorder:
    """Collects the state trajectory before every step: the env's ``ground_truth()`` or the observed state."""

    def __init__(self, env: VecEnv, source: str, num_stack: int = 1) -> None:
        self.env = env
        self.source = source
        self.num_stack = num_stack
        self.states: list[np.ndarray] = []
        self.targets: list[np.ndarray] = []
        self.steps: list[int] = []
        self.episodes: list[int] = []

    def _observed(self, obs: np.ndarray) -> np.ndarray:
        """The agent's observation, unnormalised, last stacked frame only, flattened."""
        raw = self.env.get_original_obs() if isinstance(self.env, VecNormalize) else obs
        raw = np.asarray(raw)[0]
        if self.num_stack > 1:
            raw = raw[..., -(raw.shape[-1] // self.num_stack):]
        return raw.astype(np.float32).reshape(-1)

    def __call__(self, obs: np.ndarray, step: int, episode: int) -> None:
        if self.source == "ground_truth":
            self.states.append(np.asarray(env_call(self.env, "ground_truth"), dtype=np.float64).reshape(-1))
        else:
            self.states.append(self._observed(obs))
        self.targets.append(np.asarray(env_call(self.env, "target_position"), dtype=np.float64).reshape(-1))
        self.steps.append(step)
        self.episodes.append(episode)

    def _target_in_state_space(self) -> np.ndarray | None:
        """Where the target lies in the plotted state space (None: it has no place there, e.g. images)."""
        targets = np.stack(self.targets)
        if self.source == "ground_truth":
            return targets
        if env_attr(self.env, "observation_kind") != "ground_truth" or self.states[0].shape != targets[0].shape:
            return None
        # the observed ground truth is relative to the target when relative_pos: the target is then the origin
        return np.zeros_like(targets) if env_attr(self.env, "relative_pos") else targets

    def plot(self, path: Path, title: str = "") -> None:
        """Trajectory in 2D (3D when the ground truth has 3 dimensions), coloured by time step, target marked."""
        import matplotlib.pyplot as plt

        states = np.stack(self.states)
        n_dims = 3 if np.asarray(env_call(self.env, "ground_truth")).size == 3 else 2
        targets = self._target_in_state_space()
        dims = states.shape[1]
        if dims <= 3:
            coords = np.zeros((len(states), n_dims))
            coords[:, :min(dims, n_dims)] = states[:, :n_dims]
            target_coords = None
            if targets is not None:
                target_coords = np.zeros((len(targets), n_dims))
                target_coords[:, :min(targets.shape[1], n_dims)] = targets[:, :n_dims]
            labels = [f"state[{i}]" if i < dims else "(none)" for i in range(n_dims)]
            if self.source == "ground_truth":
                labels = ["x (m)", "y (m)", "z (m)"][:n_dims]
        else:
            coords, target_coords, ratio = pca_project(states, n_dims, targets)
            labels = [f"PC{i + 1} ({100 * r:.0f}% var.)" for i, r in enumerate(ratio)]
        steps = np.asarray(self.steps)
        episodes = np.asarray(self.episodes)

        fig = plt.figure(figsize=(7, 6))
        ax = fig.add_subplot(111, projection="3d" if n_dims == 3 else None)
        scatter = None
        for episode in np.unique(episodes):
            mask = episodes == episode
            xyz = coords[mask].T
            ax.plot(*xyz, color="0.75", lw=0.8, zorder=1)
            scatter = ax.scatter(*xyz, c=steps[mask], cmap="viridis", s=10, vmin=0, vmax=max(steps.max(), 1),
                                 zorder=2)
            ax.scatter(*coords[mask][0], marker="o", facecolors="none", edgecolors="k", s=60, zorder=3,
                       label="start" if episode == episodes[0] else None)
            if target_coords is not None:
                for target in np.unique(np.round(target_coords[mask], 6), axis=0):
                    ax.scatter(*target, marker="*", color="red", s=250, edgecolors="k", zorder=4,
                               label="target" if episode == episodes[0] else None)
        fig.colorbar(scatter, ax=ax, label="time step in episode", shrink=0.8)
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
        if n_dims == 3:
            ax.set_zlabel(labels[2])
        source = "ground truth" if self.source == "ground_truth" else "observed state"
        projected = " (PCA)" if dims > 3 else ""
        ax.set_title(title or f"State trajectory: {source}{projected}, {len(np.unique(episodes))} episode(s)")
        ax.legend(loc="best", fontsize="small")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
        plt.close(fig)
