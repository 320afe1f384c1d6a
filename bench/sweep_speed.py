"""Throughput of a sweep with each launcher: sequential (basic), joblib, submitit local, SLURM (local cluster).

    python bench/sweep_speed.py [--runs 4] [--timesteps 30000] [--n-envs 2] [--jobs 2] [--rounds 1]
                                [--launchers sequential joblib local slurm] [--out DIR]

Each launcher runs the same sweep, ``python main.py -m seed='range(<runs>)'`` of PPO2 on MobileRobot ground truth
(one torch thread per job, ``torch_threads=1``), and the script prints a Markdown table: wall time of the whole
command, runs per minute, speed-up over sequential, and the per-job start-up overhead: the time from the moment a
job could start (the command's start for the first ``--jobs`` jobs, or the end of the job whose slot it takes) to
its first training step (the "Training ..." line of its main.log), which is the launcher's cost (process start,
imports, scheduling), and the training speed of one job.

On a shared machine a sweep does not get all the cores: "CPU used" is the CPU time of the sweep's processes (the
command, its workers and its SLURM jobs, sampled from /proc) over its wall time, in cores, and the 1-minute load
average before each sweep says how busy the machine was. ``--rounds 2`` runs the launchers in alternating order
twice and reports each launcher's fastest round (the one least disturbed by other work).

SLURM runs on the local single-node cluster of ``scripts/slurm-local.sh``, started (and stopped again) here when
it is not running; it is left out, with the reason, when it cannot start.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rlzoo.run_folder import HYDRA_DIR, LOG_FILE  # noqa: E402
SLURM_SCRIPT = ROOT / "scripts" / "slurm-local.sh"
STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]")


@dataclass
class Result:
    launcher: str
    wall_s: float
    runs: int
    finished: int
    overheads_s: list[float]
    first_start_s: float
    load: float
    steps_per_s: float
    cpu_s: float


def launcher_overrides(name: str, jobs: int) -> list[str]:
    return {
        "sequential": [],
        "joblib": ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={jobs}"],
        "local": ["hydra/launcher=local"],
        "slurm": ["hydra/launcher=slurm", "hydra.launcher.mem_gb=1"],
    }[name]


def log_time(line: str) -> float | None:
    match = STAMP.match(line)
    return datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp() if match else None


def job_times(run_dir: Path) -> tuple[float, float, float] | None:
    """(first training step, end, training steps/s) of a run, from its main.log."""
    start = end = rate = None
    for line in (run_dir / LOG_FILE).read_text().splitlines():
        if start is None and "] - Training " in line:
            start = log_time(line)
        elif "] - Finished after " in line:
            end = log_time(line)
            found = re.search(r"\((\d+) steps/s\)", line)
            rate = float(found.group(1)) if found else float("nan")
    return (start, end, rate) if start is not None and end is not None else None


def overheads(t0: float, times: list[tuple[float, float, float]], slots: int) -> list[float]:
    """Per job: first training step minus the moment it could start (a free slot out of ``slots``)."""
    times = sorted(times)
    ends: list[float] = []
    result = []
    for index, (start, end, _) in enumerate(times):
        ready = t0 if index < slots else sorted(ends)[index - slots]
        result.append(start - ready)
        ends.append(end)
    return result


class CpuSampler(threading.Thread):
    """CPU time (s) of a process tree plus the processes whose command line names ``marker``, sampled from /proc."""

    def __init__(self, root_pid: int, marker: str, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.root_pid, self.marker, self.interval = root_pid, marker.encode(), interval
        self.cpu: dict[int, float] = {}
        self.done = threading.Event()
        self.tick = os.sysconf("SC_CLK_TCK")

    def _sample(self) -> None:
        parents: dict[int, int] = {}
        stats: dict[int, float] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
                with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            pid = int(entry.name)
            parents[pid] = int(fields[1])
            stats[pid] = (int(fields[11]) + int(fields[12])) / self.tick
            if self.marker in cmdline:
                self.cpu[pid] = stats[pid]
        for pid, cpu in stats.items():
            ancestor = pid
            while ancestor > 1 and ancestor != self.root_pid:
                ancestor = parents.get(ancestor, 0)
            if ancestor == self.root_pid:
                self.cpu[pid] = cpu

    def run(self) -> None:
        while not self.done.is_set():
            self._sample()
            self.done.wait(self.interval)

    def stop(self) -> float:
        self.done.set()
        self.join()
        return sum(self.cpu.values())


def run_sweep(name: str, args: argparse.Namespace, out: Path) -> Result:
    sweep_dir = out / name
    shutil.rmtree(sweep_dir, ignore_errors=True)
    command = [sys.executable, "main.py", "-m", f"seed=range({args.runs})", f"total_timesteps={args.timesteps}",
               f"n_envs={args.n_envs}", "torch_threads=1", "live_plots=none", f"hydra.sweep.dir={sweep_dir}",
               *launcher_overrides(name, args.jobs)]
    load = os.getloadavg()[0]
    t0 = time.time()
    with open(out / f"{name}.log", "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, "OMP_NUM_THREADS": "1"})
        sampler = CpuSampler(process.pid, str(sweep_dir))
        sampler.start()
        code = process.wait()
        cpu = sampler.stop()
    wall = time.time() - t0
    runs = sorted(p.parent for p in sweep_dir.glob(f"*/{HYDRA_DIR}"))
    times = [t for t in (job_times(run) for run in runs) if t is not None]
    if code != 0 or len(times) != args.runs:
        print(f"warning: {name}: exit status {code}, {len(times)}/{args.runs} runs finished; see {out / name}.log",
              file=sys.stderr)
    slots = {"sequential": 1, "local": args.runs}.get(name, args.jobs)
    rates = [rate for _, _, rate in times]
    return Result(name, wall, args.runs, len(times), overheads(t0, times, slots),
                  min((s for s, _, _ in times), default=t0) - t0, load, sum(rates) / max(len(rates), 1), cpu)


def slurm_up() -> tuple[bool, bool, str]:
    """(available, started here, message)."""
    if subprocess.run([str(SLURM_SCRIPT), "status"], capture_output=True).returncode == 0:
        started_here = False
    else:
        started_here = True
    result = subprocess.run([str(SLURM_SCRIPT), "start"], capture_output=True, text=True)
    if result.returncode != 0:
        return False, False, (result.stderr or result.stdout).strip()
    conf = re.search(r"SLURM_CONF=(\S+)", result.stdout)
    if conf:
        os.environ["SLURM_CONF"] = conf.group(1)
    return True, started_here, ""


def table(results: list[Result], cores: int) -> str:
    """The fastest round of each launcher, in the order first run."""
    best: dict[str, Result] = {}
    walls: dict[str, list[float]] = {}
    for r in results:
        walls.setdefault(r.launcher, []).append(r.wall_s)
        if r.launcher not in best or r.wall_s < best[r.launcher].wall_s:
            best[r.launcher] = r
    sequential = best["sequential"].wall_s if "sequential" in best else None
    rounds = max(len(w) for w in walls.values()) if walls else 1
    lines = ["| launcher | runs finished | wall time (s) | runs/min | speed-up | start-up overhead per job (s) "
             "| first training step (s) | training steps/s per job | CPU used (cores) | load avg at start |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in best.items():
        mean = sum(r.overheads_s) / len(r.overheads_s) if r.overheads_s else float("nan")
        speedup = f"{sequential / r.wall_s:.2f}x" if sequential else "n/a"
        wall = f"{r.wall_s:.1f}" + (f" (rounds: {', '.join(f'{w:.0f}' for w in walls[name])})" if rounds > 1 else "")
        lines.append(f"| {name} | {r.finished}/{r.runs} | {wall} | {r.runs / r.wall_s * 60:.2f} | {speedup} | "
                     f"{mean:.1f} (max {max(r.overheads_s, default=float('nan')):.1f}) | {r.first_start_s:.1f} | "
                     f"{r.steps_per_s:.0f} | {r.cpu_s / r.wall_s:.2f} of {cores} | {r.load:.1f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--timesteps", type=int, default=30_000)
    parser.add_argument("--n-envs", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="parallel jobs (joblib; SLURM: cores)")
    parser.add_argument("--launchers", nargs="+", default=["sequential", "joblib", "local", "slurm"],
                        choices=["sequential", "joblib", "local", "slurm"])
    parser.add_argument("--rounds", type=int, default=1, help="run every launcher this many times (alternating "
                        "order) and report its fastest round")
    parser.add_argument("--out", type=Path, help="keep the sweep folders and logs here (default: a temporary folder)")
    args = parser.parse_args()

    started_slurm = False
    launchers = list(args.launchers)
    if "slurm" in launchers:
        available, started_slurm, why = slurm_up()
        if not available:
            print(f"note: SLURM left out: {why}", file=sys.stderr)
            launchers.remove("slurm")
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="sweep_speed_") as tmp:
            out = args.out or Path(tmp)
            out.mkdir(parents=True, exist_ok=True)
            for round_ in range(args.rounds):
                for name in launchers if round_ % 2 == 0 else launchers[::-1]:
                    print(f"round {round_ + 1}, {name}: {args.runs} runs of {args.timesteps} timesteps ...",
                          file=sys.stderr, flush=True)
                    results.append(run_sweep(name, args, out))
    finally:
        if started_slurm:
            subprocess.run([str(SLURM_SCRIPT), "stop"], capture_output=True)
    print(f"Sweep of {args.runs} PPO2 runs x {args.timesteps} timesteps on MobileRobot ground truth "
          f"(n_envs={args.n_envs}, torch_threads=1), {os.cpu_count()} cores:\n")
    print(table(results, os.cpu_count() or 0))
    return 0 if all(r.finished == r.runs for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
