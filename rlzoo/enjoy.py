"""Replay a trained run: ``python -m rlzoo.enjoy <run folder> [--episodes 10] [--best] [--stochastic] [--gui]``.

Loads the run's config, its model and normalisation statistics (:mod:`rlzoo.replay`), runs whole episodes and
prints each episode's reward and the mean. Optional outputs (:mod:`rlzoo.recorders`): a video of the camera view
(``--video x.gif|x.mp4``), the action probabilities over time (``--plot-actions x.png``, live with ``--live``), the
state trajectory (``--plot-states x.png``); and an SRL dataset recorded with the agent acting
(``--record-dataset <folder>``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from envs.sim import display_available
from rlzoo.recorders import (ActionRecorder, FrameRecorder, StateRecorder, mp4_available, write_video)
from rlzoo.replay import StepObserver, env_attr, evaluate, load_run, record_agent_dataset
from srl.config import check_seed
from srl.errors import ConfigError

VIDEO_SUFFIXES = (".gif", ".mp4")


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _record(args: argparse.Namespace) -> int:
    """``--record-dataset``: an SRL dataset recorded with the run's agent acting."""
    try:
        folder = record_agent_dataset(args.run_dir, args.record_dataset, args.episodes, n_workers=args.n_workers,
                                      seed=args.seed, image_size=args.image_size, best=args.best,
                                      max_steps=args.max_steps, save_jpg=args.save_jpg, force=args.force)
    except ConfigError as error:
        return _error(str(error))
    print(f"Dataset: {folder}")
    print(f"Train:   python -m srl.train dataset={folder} model=autoencoder")
    return 0


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
    dataset = parser.add_argument_group("recording an SRL dataset with the agent acting (instead of replaying)")
    dataset.add_argument("--record-dataset", type=Path, metavar="FOLDER",
                         help="record --episodes episodes of the agent (stochastic actions) as an SRL dataset")
    dataset.add_argument("--n-workers", type=int, default=1, help="recording processes (default 1)")
    dataset.add_argument("--image-size", type=int, default=64,
                         help="side of the recorded images (default 64; an agent that sees images records its own)")
    dataset.add_argument("--max-steps", type=int, help="cut every episode to this many steps")
    dataset.add_argument("--save-jpg", action="store_true", help="also write the original's per-frame JPEGs")
    dataset.add_argument("--force", action="store_true", help="replace an existing dataset folder")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        return _error("--episodes must be at least 1.")
    try:
        check_seed("--seed", args.seed)
    except ConfigError as error:
        return _error(str(error))
    if args.record_dataset is not None:
        return _record(args)
    if args.video is not None:
        if args.video.suffix.lower() not in VIDEO_SUFFIXES:
            return _error(f"--video {args.video}: the file must end with {' or '.join(VIDEO_SUFFIXES)}.")
        if args.video.suffix.lower() == ".mp4" and not mp4_available():
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
    if args.video_size is not None and args.video_size != env_attr(replay.env, "image_size"):
        if env_attr(replay.env, "observation_kind") == "pixels":
            size = env_attr(replay.env, "image_size")
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
    actions = ActionRecorder(replay.model, live=live) if args.plot_actions is not None else None
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

    if frames is not None:
        write_video(frames.frames, args.video)
        print(f"video: {args.video} ({len(frames.frames)} frames of {frames.frames[0].shape[1]}x"
              f"{frames.frames[0].shape[0]} pixels)")
    if states is not None:
        states.plot(args.plot_states)
        print(f"state plot: {args.plot_states}")
    if actions is not None:
        actions.plot(args.plot_actions)
        print(f"action plot: {args.plot_actions} ({actions.label})")
    replay.env.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
