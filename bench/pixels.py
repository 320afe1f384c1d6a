"""The pixel path end to end, on one core: renderers, dataset recording, and PPO training on ground truth, raw pixels
and a learned state, side by side.

    python bench/pixels.py [--timesteps 20000] [--seconds 2] [--quick]

Prints three Markdown tables:

1. camera images per CPU second of MobileRobot-v0, composite against pybullet, at 64x64 and 224x224 (the states of
   random-action episodes, as ``bench/render_speed.py``; that script covers every env of the family);
2. dataset recording (``srl.dataset.record_dataset``, random policy, one process): frames per second of wall and of
   CPU time;
3. ``python main.py`` with PPO2 (the original's defaults), MobileRobot at 64x64, 8 envs in one process, one torch
   thread (``OMP_NUM_THREADS=1``): training steps per second and per CPU second (``metrics.json``, training time
   only) of a ``--timesteps`` run, and the steady rate per CPU second without what a run pays once (from a second
   run three times as long: :func:`steady_rate`), for ground truth, raw pixels (NatureCNN) and a learned state (an
   autoencoder with state dimension 200, encoded by the batched encoder); and where the time of a raw-pixel step goes: the 8 envs' stepping
   (measured alone, with the same renderer) against the rest (policy forward passes and PPO updates).

Targets (the issue): recording at least 10,000 frames/s per process; PPO on a learned state at least 2,500 steps/s and
on raw pixels at least 600 (one core).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv  # noqa: E402

import envs  # noqa: E402,F401
from render_speed import images_per_cpu_second, record_states  # noqa: E402
from rlzoo.run_folder import read_metrics  # noqa: E402

ENV_ID = "MobileRobot-v0"


def renderers(seconds: float, sizes: list[int]) -> list[tuple[int, float, float]]:
    """(size, composite images/CPU s, pybullet images/CPU s)."""
    states = record_states(ENV_ID, random_target=True, fresh=False)
    rows = []
    for size in sizes:
        rates = []
        for renderer in ("composite", "pybullet"):
            env = gym.make(ENV_ID, image_size=size, renderer=renderer, random_target=True)
            env.reset(seed=0)
            env.unwrapped.render_image()  # build the pieces first: their cost is paid once per process
            rates.append(images_per_cpu_second(env, states, seconds))
            env.close()
        rows.append((size, *rates))
    return rows


def recording(episodes: int) -> tuple[int, float, float]:
    """(frames, frames per wall second, frames per CPU second) of a one-process random-policy recording."""
    from srl.dataset import record_dataset

    with tempfile.TemporaryDirectory() as tmp:
        wall, cpu = time.perf_counter(), time.process_time()
        folder = record_dataset(Path(tmp) / "data", ENV_ID, {"random_target": True}, episodes=episodes,
                                n_workers=1, progress=False)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        frames = len(np.load(folder / "images.npy", mmap_mode="r"))
    return frames, frames / wall, frames / cpu


def train(overrides: list[str], timesteps: int, folder: Path) -> tuple[float, float, float]:
    """(training steps per second, per CPU second, and training CPU seconds, from metrics.json: training only, the
    first env reset included) of one ``main.py`` run of ``timesteps`` steps in ``folder``."""
    run_dir = folder / f"run_{timesteps}"
    command = [sys.executable, "main.py", f"total_timesteps={timesteps}", "n_envs=8", "vec_env=dummy",
               "torch_threads=1", "live_plots=none", "checkpoint_interval=1000000", f"hydra.run.dir={run_dir}",
               *overrides]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    metrics = read_metrics(run_dir)
    steps, per_cpu = float(metrics["timesteps"]), float(metrics["steps_per_cpu_s"])
    return float(metrics["steps_per_s"]), per_cpu, steps / per_cpu


def steady_rate(overrides: list[str], timesteps: int, folder: Path) -> tuple[float, float, float, float]:
    """(steps/s and steps/CPU s of a ``timesteps`` run, the steady rate in steps/CPU s, the start-up CPU s).

    The steady rate is the difference of two runs, ``timesteps`` and ``3 timesteps`` steps long (same seed):
    (extra steps) / (extra CPU seconds), which leaves out what a run pays once (the composite renderer's pieces,
    about 2.3 CPU s at 64x64, torch's first calls); the start-up is the short run's CPU time minus its steps at
    the steady rate.
    """
    rate, per_cpu, cpu = train(overrides, timesteps, folder)
    _, _, cpu_long = train(overrides, 3 * timesteps, folder)
    steps = read_metrics(folder / f"run_{timesteps}")["timesteps"]
    extra_steps = read_metrics(folder / f"run_{3 * timesteps}")["timesteps"] - steps
    steady = extra_steps / (cpu_long - cpu)
    return rate, per_cpu, steady, cpu - steps / steady


def env_steps_per_cpu_second(seconds: float) -> float:
    """Steps per CPU second of 8 MobileRobot pixel envs stepped together with random actions (no learning)."""
    venv = DummyVecEnv([lambda: gym.make(ENV_ID, observation="pixels", random_target=True) for _ in range(8)])
    venv.seed(0)
    venv.reset()
    actions = np.zeros(8, dtype=np.int64)
    steps, start = 0, time.process_time()
    while time.process_time() - start < seconds:
        venv.step(actions + steps % 4)
        steps += 8
    rate = steps / (time.process_time() - start)
    venv.close()
    return rate


def learned_model(folder: Path) -> Path:
    """A small autoencoder (state dimension 200) trained for one epoch: its encoding costs what any such model's
    does, whatever its quality."""
    from srl.config import train_config
    from srl.dataset import record_dataset
    from srl.train import train_model

    data = record_dataset(folder / "data", ENV_ID, {"random_target": True, "control": "discrete"}, episodes=4,
                          n_workers=1, progress=False)
    cfg = train_config("autoencoder", str(data), {"epochs": 1, "progress": False, "plots": False,
                                                  "knn_samples": 100})
    return train_model(cfg, log_folder=folder / "model")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=20_000, help="PPO steps per training run")
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per renderer figure")
    parser.add_argument("--episodes", type=int, default=40, help="episodes recorded for the recording rate")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2,048 PPO steps, 4 episodes, 0.5 s")
    args = parser.parse_args()
    if args.quick:
        args.timesteps, args.seconds, args.episodes = 2048, 0.5, 4

    print("| size | composite images/CPU s | pybullet images/CPU s | ratio |\n|---:|---:|---:|---:|")
    for size, composite, reference in renderers(args.seconds, [64, 224]):
        print(f"| {size}x{size} | {composite:,.0f} | {reference:,.0f} | {composite / reference:.0f}x |", flush=True)

    frames, per_wall, per_cpu = recording(args.episodes)
    print(f"\n| recording (1 process, {frames:,} frames) | frames/s | frames/CPU s |\n|---|---:|---:|\n"
          f"| random policy, 64x64 | {per_wall:,.0f} | {per_cpu:,.0f} |", flush=True)

    print(f"\n| PPO2, 8 envs, 1 thread | steps/s ({args.timesteps:,} steps) | steps/CPU s ({args.timesteps:,} "
          f"steps) | steady steps/CPU s | start-up CPU s | steady, vs ground truth |\n|---|---:|---:|---:|---:|---:|",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        model = learned_model(Path(tmp) / "srl")
        results = {}
        for label, overrides in (("ground truth", []), ("raw pixels (NatureCNN)", ["srl_model=raw_pixels"]),
                                 ("learned state (autoencoder, 200 dims)",
                                  ["srl_model=autoencoder", f"srl_model.path={model}"])):
            folder = Path(tmp) / label.split()[0]
            folder.mkdir()
            results[label] = steady_rate(overrides, args.timesteps, folder)
            base = results["ground truth"][2]
            rate, per_cpu, steady, start_up = results[label]
            print(f"| {label} | {rate:,.0f} | {per_cpu:,.0f} | {steady:,.0f} | {start_up:.1f} | {steady / base:.2f} |",
                  flush=True)
    env_rate = env_steps_per_cpu_second(args.seconds)
    pixels = results["raw pixels (NatureCNN)"][2]
    share = pixels / env_rate
    print(f"\nRaw pixels: the 8 envs alone step at {env_rate:,.0f} steps/CPU s, so stepping takes {100 * share:.0f} % "
          f"of a training step's CPU time and the policy and PPO updates the other {100 * (1 - share):.0f} %.")


if __name__ == "__main__":
    main()
