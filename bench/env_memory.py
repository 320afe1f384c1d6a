"""Memory growth per reset of every registered toolbox env: flat means nothing is kept from episode to episode.

    python bench/env_memory.py [--envs MobileRobot-v0 ...] [--resets 2000] [--warm-up 1000]

Each env runs in a fresh process: ``--warm-up`` resets (each followed by one random step) fill the allocator's
pools, then the resident set size is read before and after ``--resets`` more. Prints a Markdown table: env, resets,
growth (MiB) and growth per reset (KB), and the extrapolation to 10,000 resets. The Kuka envs rebuild their
pybullet world every 200 resets (``envs.kuka_button.WORLD_REBUILD_INTERVAL``), and KukaRandButton's process settles
over its first 1,000 resets or so (measured: +5 MiB by then, then flat to 6,000), hence the long warm-up.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import envs  # noqa: E402  (registers the ids)

DEFAULT_ENVS = envs.ENV_IDS


def rss_mib() -> float:
    """This process's resident set size (MiB), from /proc (Linux)."""
    with open("/proc/self/statm") as stream:
        return int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def growth_mib(env_id: str, warm_up: int, resets: int) -> float:
    """Resident memory added by ``resets`` resets (each with one random step) after ``warm_up`` of them (MiB)."""
    import gymnasium as gym

    import envs  # noqa: F401  (a fresh process registers the ids again)

    env = gym.make(env_id)
    env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(warm_up):
        env.reset()
        env.step(env.action_space.sample())
    start = rss_mib()
    for _ in range(resets):
        env.reset()
        env.step(env.action_space.sample())
    growth = rss_mib() - start
    env.close()
    return growth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--envs", nargs="+", default=DEFAULT_ENVS, help="gymnasium ids (default: every toolbox env)")
    parser.add_argument("--resets", type=int, default=2000, help="measured resets per env (default 2000)")
    parser.add_argument("--warm-up", type=int, default=1000, help="resets before the measurement (default 1000)")
    args = parser.parse_args()
    print("| env | resets | growth (MiB) | per reset (KB) | 10,000 resets (MiB) |")
    print("|---|---:|---:|---:|---:|")
    context = multiprocessing.get_context("spawn")
    for env_id in args.envs:
        with context.Pool(1) as pool:
            growth = pool.apply(growth_mib, (env_id, args.warm_up, args.resets))
        per_reset = growth * 1024 / args.resets
        print(f"| {env_id} | {args.resets:,} | {growth:.2f} | {per_reset:.2f} | {per_reset * 10_000 / 1024:.1f} |",
              flush=True)


if __name__ == "__main__":
    main()
