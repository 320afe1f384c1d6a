"""End-to-end PPO training throughput on MobileRobot ground truth, for the choices that set it.

    python bench/train_speed.py [--timesteps 100000]

Each configuration is a real ``python main.py`` run; its ``metrics.json`` gives steps/s (training time only, start-up
excluded, which is printed separately). The first line is the original's setting (one env, minibatches of 32) for
reference; the speed-up column is relative to it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rlzoo.run_folder import read_metrics  # noqa: E402
CONFIGS = [
    ("original setting: 1 env, dummy, 1 thread", ["n_envs=1", "vec_env=dummy", "torch_threads=1"]),
    ("8 envs, dummy, 1 thread (default)", ["n_envs=8", "vec_env=dummy", "torch_threads=1"]),
    ("8 envs, dummy, 2 threads", ["n_envs=8", "vec_env=dummy", "torch_threads=2"]),
    ("8 envs, subproc, 1 thread", ["n_envs=8", "vec_env=subproc", "torch_threads=1"]),
    ("16 envs, dummy, 1 thread", ["n_envs=16", "vec_env=dummy", "torch_threads=1"]),
    ("2 envs, subproc, 1 thread", ["n_envs=2", "vec_env=subproc", "torch_threads=1"]),
]


def measure(overrides: list[str], timesteps: int) -> tuple[float, float]:
    """(training steps/s, process wall time in s) of one run."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([sys.executable, "main.py", *overrides, f"total_timesteps={timesteps}", "live_plots=none",
                        f"checkpoint_interval={timesteps}", f"hydra.run.dir={tmp}/run"], cwd=ROOT, check=True,
                       capture_output=True)
        wall = time.perf_counter() - start
        return read_metrics(Path(tmp) / "run")["steps_per_s"], wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=100_000)
    args = parser.parse_args()
    print(f"PPO (ppo2, original hyperparameters), MobileRobot ground truth, {args.timesteps} timesteps per run\n")
    print("| configuration | steps/s | speed-up | process wall time (s) |")
    print("|---|---:|---:|---:|")
    baseline = None
    for name, overrides in CONFIGS:
        rate, wall = measure(overrides, args.timesteps)
        baseline = baseline or rate
        print(f"| {name} | {rate:,.0f} | {rate / baseline:.2f}x | {wall:.1f} |", flush=True)


if __name__ == "__main__":
    main()
