"""Replay a trained run: ``python -m rlzoo.enjoy <run folder> [--episodes 10] [--best] [--stochastic] [--gui]``.

Loads the run's config, its model and normalisation statistics, runs whole episodes and prints each episode's
reward and the mean. Optional outputs: a video of the camera view (``--video x.gif|x.mp4``), the action
probabilities over time (``--plot-actions x.png``, live with ``--live``) and the state trajectory
(``--plot-states x.png``).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from omegaconf import OmegaConf
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from envs.sim import display_available
from envs.vec import EnvFactory
from rlzoo.callbacks import (BEST_MODEL_FILE, BEST_NORMALIZATION_FILE, FINAL_MODEL_FILE, FINAL_NORMALIZATION_FILE,
                             METRICS_FILE)
from rlzoo.registry import load_algo_class
from rlzoo.validation import ConfigError, validate
from srl.encoder import make_encoder

VIDEO_SUFFIXES = (".gif", ".mp4")
#: frames per second of the written videos
VIDEO_FPS = 25


@dataclass
class Replay:
    """A trained agent and an env built like its training env (one copy, no monitor file)."""

    model: object
    env: VecEnv
    num_stack: int = 1


def load_run(run_dir: Path, best: bool = False, seed: int = 0, **env_overrides: object) -> Replay:
    """Load a run folder's model (``model.zip``, or ``best_model.zip`` with ``best``) and a matching env.

    :param env_overrides: extra env constructor arguments (e.g. ``render_mode="rgb_array"``, ``gui=True``).
    """
    config_path = run_dir / ".hydra" / "config.yaml"
    if not config_path.exists():
        raise ConfigError(f"{run_dir} is not a run folder: .hydra/config.yaml is missing.")
    model_file, stats_file = (BEST_MODEL_FILE, BEST_NORMALIZATION_FILE) if best else (FINAL_MODEL_FILE,
                                                                                      FINAL_NORMALIZATION_FILE)
    if not (run_dir / model_file).exists():
        hint = " (the best model is saved once 100 episodes are done)" if best else ""
        raise ConfigError(f"{run_dir} has no {model_file}{hint}.")
    cfg = OmegaConf.load(config_path)
    choices = dict(OmegaConf.load(run_dir / ".hydra" / "hydra.yaml").hydra.runtime.choices)
    plan = validate(cfg, choices)
    factory = EnvFactory(env_id=cfg.env.id, env_kwargs={**plan.env_kwargs, **env_overrides}, seed=seed,
                         action_repeat=cfg.action_repeat, num_stack=cfg.num_stack, normalize=False,
                         encoder=make_encoder(cfg.srl_model, cfg.env.id, cfg.image_size, seed, plan.env_kwargs,
                                              run_dir))
    env = factory.make(1)
    if (run_dir / stats_file).exists():
        env = VecNormalize.load(str(run_dir / stats_file), env)
        env.training = False
    metrics_path = run_dir / METRICS_FILE
    model_class = json.loads(metrics_path.read_text()).get("model_class") if metrics_path.exists() else None
    model = (load_algo_class(model_class) if model_class else plan.algo_class).load(run_dir / model_file, env=env,
                                                                                    device="cpu")
    return Replay(model=model, env=env, num_stack=int(cfg.num_stack))


#: called before each step with (observation seen by the policy, step index in the episode, episode index)
StepObserver = Callable[[np.ndarray, int, int], None]


def evaluate(replay: Replay, episodes: int, deterministic: bool = True,
             observers: list[StepObserver] | None = None) -> list[float]:
    """Run ``episodes`` whole episodes and return their rewards.

    :param observers: called before every step with the observation the policy acts on, the step index within the
        episode and the episode index (recorders of frames, states and action probabilities).
    """
    rewards: list[float] = []
    obs = replay.env.reset()
    total, step = 0.0, 0
    while len(rewards) < episodes:
        for observer in observers or ():
            observer(obs, step, len(rewards))
        action = replay.model.get_action(obs, deterministic=deterministic)
        obs, reward, done, _ = replay.env.step(action)
        replay.model.episode_ended(done)
        total += float(reward[0])
        step += 1
        if done[0]:
            rewards.append(total)
            total, step = 0.0, 0
    return rewards


def _env_call(env: VecEnv, method: str) -> Any:
    """Call a method of the single env behind the VecEnv wrappers (the toolbox env, through the gym wrappers)."""
    return env.env_method(method, indices=0)[0]


def _env_attr(env: VecEnv, name: str) -> Any:
    return env.get_attr(name, indices=0)[0]


# --- recorders --------------------------------------------------------------------------------------------------
class FrameRecorder:
    """Collects the camera view (``render_image()``) of the env before every step."""

    def __init__(self, env: VecEnv) -> None:
        self.env = env
        self.frames: list[np.ndarray] = []

    def __call__(self, obs: np.ndarray, step: int, episode: int) -> None:
        self.frames.append(np.asarray(_env_call(self.env, "render_image"), dtype=np.uint8))


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


def _mp4_available() -> bool:
    try:
        import imageio  # noqa: F401
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return False
    return True


class ActionProbaRecorder:
    """Collects ``get_action_proba`` (probabilities, never re-normalised) of the policy before every step."""

    def __init__(self, model: Any, live: bool = False) -> None:
        self.model = model
        self.probas: list[np.ndarray] = []
        self.episode_starts: list[int] = []
        self.available = True
        self.live = live
        self._live_plot: Any = None

    def __call__(self, obs: np.ndarray, step: int, episode: int) -> None:
        if not self.available:
            return
        proba = self.model.get_action_proba(obs)
        if proba is None:
            self.available = False
            return
        if step == 0:
            self.episode_starts.append(len(self.probas))
        self.probas.append(np.asarray(proba, dtype=np.float64)[0].reshape(-1))
        if self.live and len(self.probas) % 5 == 1:
            self._draw_live()

    def _draw_live(self) -> None:
        import matplotlib.pyplot as plt

        if self._live_plot is None:
            plt.ion()
            fig, ax = plt.subplots(figsize=(6, 3.5))
            bars = ax.bar(np.arange(len(self.probas[-1])), self.probas[-1],
                          color=plt.get_cmap("viridis")(np.linspace(0, 1, len(self.probas[-1]))))
            ax.set_xlabel("action")
            ax.set_ylabel(self.ylabel)
            if self.discrete:
                ax.set_ylim(0, 1)
            self._live_plot = (fig, ax, bars)
        fig, ax, bars = self._live_plot
        for bar, value in zip(bars, self.probas[-1]):
            bar.set_height(value)
        if not self.discrete:
            low = min(0.0, float(np.min(self.probas[-1])))
            high = max(0.0, float(np.max(self.probas[-1])))
            ax.set_ylim(min(-1.0, low * 1.2), max(1.0, high * 1.2))
        fig.canvas.draw_idle()
        plt.pause(0.001)

    @property
    def discrete(self) -> bool:
        from gymnasium import spaces

        return isinstance(self.model.action_space, spaces.Discrete)

    @property
    def ylabel(self) -> str:
        return "probability" if self.discrete else "action mean"

    def plot(self, path: Path, title: str = "") -> None:
        """One line per action (discrete: probabilities; continuous: distribution means) over the replay's steps."""
        import matplotlib.pyplot as plt

        probas = np.stack(self.probas)
        fig, ax = plt.subplots(figsize=(9, 4))
        colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, probas.shape[1]))
        for action in range(probas.shape[1]):
            ax.plot(np.arange(len(probas)), probas[:, action], color=colours[action], lw=1.2,
                    label=f"action {action}")
        for start in self.episode_starts[1:]:
            ax.axvline(start, color="0.6", ls="--", lw=0.8)
        if self.discrete:
            ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("step (dashed lines: new episode)")
        ax.set_ylabel(self.ylabel)
        ax.set_title(title or ("Action probabilities" if self.discrete else "Action distribution means"))
        ax.legend(loc="upper right", fontsize="small", ncol=min(probas.shape[1], 6))
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
            self.states.append(np.asarray(_env_call(self.env, "ground_truth"), dtype=np.float64).reshape(-1))
        else:
            self.states.append(self._observed(obs))
        self.targets.append(np.asarray(_env_call(self.env, "target_position"), dtype=np.float64).reshape(-1))
        self.steps.append(step)
        self.episodes.append(episode)

    def _target_in_state_space(self) -> np.ndarray | None:
        """Where the target lies in the plotted state space (None: it has no place there, e.g. images)."""
        targets = np.stack(self.targets)
        if self.source == "ground_truth":
            return targets
        if _env_attr(self.env, "observation_kind") != "ground_truth" or self.states[0].shape != targets[0].shape:
            return None
        # the observed ground truth is relative to the target when relative_pos: the target is then the origin
        return np.zeros_like(targets) if _env_attr(self.env, "relative_pos") else targets

    def plot(self, path: Path, title: str = "") -> None:
        """Trajectory in 2D (3D when the ground truth has 3 dimensions), coloured by time step, target marked."""
        import matplotlib.pyplot as plt

        states = np.stack(self.states)
        n_dims = 3 if np.asarray(_env_call(self.env, "ground_truth")).size == 3 else 2
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


# --- command line -------------------------------------------------------------------------------------------------
def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a run folder (outputs/<env>/<srl_model>/<algo>/<date>)")
    parser.add_argument("--episodes", type=int, default=10, help="episodes to run (default 10)")
    parser.add_argument("--best", action="store_true", help="replay best_model.zip instead of model.zip")
    parser.add_argument("--stochastic", action="store_true", help="sample actions instead of the most likely")
    parser.add_argument("--seed", type=int, default=0, help="seed of the replay env (default 0)")
    parser.add_argument("--gui", action="store_true", help="show the replay in the pybullet GUI (needs a display)")
    parser.add_argument("--video", type=Path, metavar="PATH", help="write the camera view to a .gif or .mp4")
    parser.add_argument("--video-size", type=int, metavar="PIXELS",
                        help="side of the video frames (default: the env's image_size; not for pixel observations)")
    parser.add_argument("--plot-actions", type=Path, metavar="PNG",
                        help="plot the action probabilities (discrete) or means (continuous) over time")
    parser.add_argument("--plot-states", type=Path, metavar="PNG",
                        help="plot the state trajectory (2D, or 3D for 3D ground truths), coloured by time step")
    parser.add_argument("--state-source", choices=("ground_truth", "observation"), default="ground_truth",
                        help="--plot-states: the env's ground truth (default) or the agent's observed state "
                             "(projected with PCA when it has more than 3 dimensions)")
    parser.add_argument("--live", action="store_true", help="also show the action probabilities live (needs a display)")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        return _error("--episodes must be at least 1.")
    if args.video is not None:
        if args.video.suffix.lower() not in VIDEO_SUFFIXES:
            return _error(f"--video {args.video}: the file must end with {' or '.join(VIDEO_SUFFIXES)}.")
        if args.video.suffix.lower() == ".mp4" and not _mp4_available():
            return _error("--video *.mp4 needs imageio and imageio-ffmpeg (pip install imageio imageio-ffmpeg); "
                          "or write a .gif.")
    if args.video_size is not None and args.video is None:
        return _error("--video-size needs --video.")
    if args.live and args.plot_actions is None:
        return _error("--live shows the action probabilities: it needs --plot-actions.")
    live = args.live and display_available()
    if args.live and not live:
        print("note: no display (DISPLAY is not set): --live is ignored, the plot is only written to the file.",
              file=sys.stderr)

    overrides: dict[str, object] = {"gui": True} if args.gui else {}
    try:
        replay = load_run(args.run_dir, best=args.best, seed=args.seed, **overrides)
    except ConfigError as error:
        return _error(str(error))
    except RuntimeError as error:
        if args.gui:  # the env's own message (no display, ...)
            return _error(str(error))
        raise
    if args.video_size is not None and args.video_size != _env_attr(replay.env, "image_size"):
        if _env_attr(replay.env, "observation_kind") == "pixels":
            size = _env_attr(replay.env, "image_size")
            replay.env.close()
            return _error(f"--video-size {args.video_size}: the agent observes {size}x{size} camera images, so the "
                          "video has that size (drop --video-size).")
        replay.env.close()
        try:  # the camera size only changes the recording: the ground-truth observations are the same
            replay = load_run(args.run_dir, best=args.best, seed=args.seed, image_size=args.video_size, **overrides)
        except ValueError as error:
            return _error(f"--video-size {args.video_size}: {error}")

    observers: list[StepObserver] = []
    frames = FrameRecorder(replay.env) if args.video is not None else None
    actions = ActionProbaRecorder(replay.model, live=live) if args.plot_actions is not None else None
    states = StateRecorder(replay.env, args.state_source, replay.num_stack) if args.plot_states is not None else None
    observers += [r for r in (frames, actions, states) if r is not None]

    try:
        rewards = evaluate(replay, args.episodes, deterministic=not args.stochastic, observers=observers)
    except KeyboardInterrupt:
        replay.env.close()
        print("interrupted", file=sys.stderr)
        return 130

    for i, reward in enumerate(rewards, start=1):
        print(f"episode {i}: reward {reward:.6g}")
    sem = np.std(rewards, ddof=1) / np.sqrt(len(rewards)) if len(rewards) > 1 else 0.0
    print(f"{len(rewards)} episodes: mean reward {np.mean(rewards):.2f} +- {sem:.2f} (standard error)")

    status = 0
    if frames is not None:
        write_video(frames.frames, args.video)
        print(f"video: {args.video} ({len(frames.frames)} frames of {frames.frames[0].shape[1]}x"
              f"{frames.frames[0].shape[0]} pixels)")
    if states is not None:
        states.plot(args.plot_states)
        print(f"state plot: {args.plot_states}")
    if actions is not None:
        if actions.available and actions.probas:
            actions.plot(args.plot_actions)
            print(f"action plot: {args.plot_actions}")
        else:
            status = _error(f"{type(replay.model).__name__} has no action distribution: no --plot-actions.")
    replay.env.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
