"""Learning benchmark of every registered algorithm: real ``python main.py`` runs, a Markdown table of final rewards.

Each algorithm trains on MobileRobot ground truth with its YAML defaults (the original toolbox's) for a fixed budget,
with several seeds: discrete actions for the algorithms that have them, continuous ones for DDPG, SAC, TD3 and TQC.
The random agent is the baseline line of each action space. Optionally (``--references``) the same algorithms run on
CartPole-v1 (discrete) and Pendulum-v1 (continuous), with the same defaults (not tuned for them).

Reported per row, as mean ± standard error over seeds: the mean reward of the last 100 training episodes
(``mean_reward_last_100`` of the run's ``metrics.json``; for ARS and CMA-ES these are the exploring candidates'
episodes) and the wall time of the whole ``main.py`` process. A MobileRobot episode lasts 251 steps; the reward is +1
per step within 0.4 m of the target and -1 per wall hit, so a good policy scores about 200-245.

Usage (from the repository root; runs are sequential unless ``--workers``)::

    nice -n 10 python bench/learning.py                               # everything, seeds 0 1 2
    nice -n 10 python bench/learning.py --algos a2c random --seeds 0 --timesteps 20000
    nice -n 10 python bench/learning.py --references --out bench/learning.md

Expected duration of the default set (14 algorithms + 2 baselines, 3 seeds, MobileRobot only, ``--workers 1``):
about 5 hours at the training rates measured on the shared 2-core development machine under load (one seed of
everything is about 1.7 h), roughly half that on an idle machine. TD3 and TQC (big default networks, one gradient
step per env step, about 17 steps/s there) take half of it; ``--references`` adds about as much again.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rlzoo.run_folder import read_metrics  # noqa: E402

#: training budget (env steps over all envs) per algorithm on MobileRobot, and the run overrides it needs
BUDGETS: dict[str, int] = {
    "a2c": 200_000,
    "acer": 200_000,
    "acktr": 200_000,
    "ppo1": 200_000,
    "ppo2": 200_000,
    "trpo": 200_000,
    "deepq": 100_000,
    "ddpg": 50_000,
    "sac": 50_000,
    "td3": 30_000,
    "tqc": 20_000,
    "ars": 250_000,
    "cmaes": 300_000,
    "random": 50_000,
}
DEFAULT_BUDGET = 100_000
#: run overrides per algorithm (the original ran DQN on one env)
OVERRIDES: dict[str, list[str]] = {"deepq": ["n_envs=1"]}
#: drop the robot envs' constructor arguments (what a plain gymnasium env does not take)
NO_ROBOT_KWARGS = ["~env.kwargs.random_target", "~env.kwargs.shape_reward"]
#: reference envs: gymnasium id -> (action space, extra overrides)
REFERENCES: dict[str, tuple[str, list[str]]] = {
    "CartPole-v1": ("discrete", ["env.id=CartPole-v1", *NO_ROBOT_KWARGS]),
    "Pendulum-v1": ("continuous", ["env.id=Pendulum-v1", *NO_ROBOT_KWARGS]),
}


@dataclass(frozen=True)
class Job:
    """One benchmark row: an algorithm on an env with an action space, trained with several seeds."""

    algo: str
    env: str
    action_space: str
    timesteps: int
    overrides: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.algo} {self.env} {self.action_space}"


@dataclass
class Result:
    """The figures of one run: mean reward of the last 100 episodes (None: no episode), process wall time (s)."""

    reward: float | None
    wall_s: float
    timesteps: int


def run_once(job: Job, seed: int, runs_dir: Path) -> Result:
    """Train one seed with ``python main.py`` and read its ``metrics.json``."""
    run_dir = runs_dir / f"{job.env}_{job.action_space}_{job.algo}_seed{seed}"
    args = [f"algo={job.algo}", f"action_space={job.action_space}", f"total_timesteps={job.timesteps}",
            f"seed={seed}", "live_plots=none", f"checkpoint_interval={job.timesteps}", f"hydra.run.dir={run_dir}",
            *job.overrides]
    start = time.perf_counter()
    process = subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(f"{job.label} seed {seed} failed:\n{process.stderr[-3000:]}")
    metrics = read_metrics(run_dir)
    return Result(reward=metrics["mean_reward_last_100"], wall_s=wall, timesteps=metrics["timesteps"])


def mean_se(values: list[float], digits: int = 1) -> str:
    """``mean ± standard error`` over seeds (± 0 for one seed); ``n/a`` without values."""
    if not values:
        return "n/a"
    array = np.asarray(values, dtype=float)
    se = array.std(ddof=1) / np.sqrt(len(array)) if len(array) > 1 else 0.0
    return f"{array.mean():.{digits}f} ± {se:.{digits}f}"


def plan(algos: list[str], timesteps: int | None, references: bool) -> list[Job]:
    """The rows: each algorithm on MobileRobot (and the reference envs), random baselines first."""
    from rlzoo.registry import algorithms

    registry = algorithms()
    unknown = sorted(set(algos) - set(registry))
    if unknown:
        raise SystemExit(f"unknown algorithm(s) {', '.join(unknown)}; registered: {', '.join(registry)}")
    envs: dict[str, tuple[list[str], list[str]]] = {"MobileRobot": (["discrete", "continuous"], [])}
    if references:
        envs.update({env_id: ([action], overrides) for env_id, (action, overrides) in REFERENCES.items()})
    jobs = []
    ordered = (["random"] if "random" in algos else []) + [a for a in algos if a != "random"]
    for env, (actions, env_overrides) in envs.items():
        for algo in ordered:
            supported = [t.value for t in registry[algo].action_types]
            chosen = [a for a in actions if a in supported]
            if algo != "random":  # learners: discrete when they can, else continuous
                chosen = chosen[:1]
            for action in chosen:
                budget = timesteps or BUDGETS.get(algo, DEFAULT_BUDGET)
                jobs.append(Job(algo, env, action, budget, (*OVERRIDES.get(algo, []), *env_overrides)))
    return jobs


def table(jobs: list[Job], results: dict[Job, list[Result]], seeds: list[int]) -> str:
    """The Markdown table of all rows."""
    lines = [
        (f"Seeds {' '.join(map(str, seeds))}; mean ± standard error over seeds. Reward: mean of the last 100 "
         "training episodes (metrics.json). Wall time: the whole `python main.py` process."),
        "",
        "| algorithm | env | action space | timesteps | mean final reward | wall time per run (s) |",
        "|---|---|---|---:|---:|---:|",
    ]
    for job in jobs:
        rows = results.get(job, [])
        rewards = [r.reward for r in rows if r.reward is not None]
        name = f"{job.algo} (baseline)" if job.algo == "random" else job.algo
        lines.append(f"| {name} | {job.env} | {job.action_space} | {job.timesteps} | {mean_se(rewards)} "
                     f"| {mean_se([r.wall_s for r in rows], 0)} |")
    return "\n".join(lines)


def main() -> None:
    from rlzoo.registry import algo_names

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algos", nargs="+", default=algo_names(), help="registry names (default: all)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--timesteps", type=int, default=None, help="one budget for every run (default: per algo)")
    parser.add_argument("--references", action="store_true", help="also CartPole-v1 and Pendulum-v1")
    parser.add_argument("--workers", type=int, default=1, help="runs at a time (each uses one torch thread)")
    parser.add_argument("--runs-dir", type=Path, default=None, help="keep the run folders here (default: temporary)")
    parser.add_argument("--out", type=Path, default=None, help="also write the table to this file")
    args = parser.parse_args()

    jobs = plan(args.algos, args.timesteps, args.references)
    with tempfile.TemporaryDirectory() as tmp:
        runs_dir = args.runs_dir or Path(tmp)
        runs_dir.mkdir(parents=True, exist_ok=True)
        tasks = [(job, seed) for job in jobs for seed in args.seeds]
        results: dict[Job, list[Result]] = {}
        with ThreadPoolExecutor(max_workers=args.workers) as pool:  # threads wait on subprocesses
            futures = {pool.submit(run_once, job, seed, runs_dir): (job, seed) for job, seed in tasks}
            for future, (job, seed) in futures.items():
                result = future.result()
                results.setdefault(job, []).append(result)
                print(f"# {job.label} seed {seed}: reward {result.reward}, {result.wall_s:.0f} s", file=sys.stderr,
                      flush=True)
    report = table(jobs, results, args.seeds)
    print(report)
    if args.out:
        args.out.write_text(report + "\n")


if __name__ == "__main__":
    main()
