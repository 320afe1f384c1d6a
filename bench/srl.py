"""Representations on MobileRobot with random targets, next to the paper's Table 2 (arXiv 1901.08651).

    nice -n 10 python bench/srl.py [--quick] [--out outputs/bench_srl] [--jobs 1] [--skip-rl]

1. Records a random-policy dataset (``--episodes`` x 251 steps; 80 = 20 080 samples, the paper's 20 000) at 64x64.
2. Trains the autoencoder, SRL Splits (autoencoder:1:198 reward:1:-1 inverse:2:2), supervised and random-features
   encoders (state dim 200; supervised: 2) and reports GTC per ground-truth dim, GTC_mean and KNN-MSE.
3. Trains PPO (``python main.py`` subprocesses, ``--seeds`` seeds, ``--timesteps`` each) on every representation and
   on ground truth and raw pixels, and reports the mean reward of the last 100 episodes, mean +- standard error
   over seeds.

Everything lands in ``--out`` (``dataset/``, ``models/<name>/``, ``rl/<representation>/seed<s>/``, ``report.md``,
``results.json``); finished pieces are reused, so an interrupted run continues where it stopped. The full version
(1M timesteps per PPO run, 3 seeds: 18 runs, 15 of them on pixels) takes hours on a few cores; ``--quick`` (6
episodes, 1 epoch, 2 seeds of 2048 timesteps) only checks that everything runs. Differences from the paper's
setting: 64x64 images and our small ``cnn`` encoder instead of 224x224 and the original's CustomCNN (pass
``--image-size 224 --model-type custom_cnn`` for theirs), and 1M PPO timesteps instead of 5M.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from rlzoo.run_folder import SRL_MODEL_RECORD, read_metrics  # noqa: E402
from srl.models import METRICS_FILE as SRL_METRICS_FILE  # noqa: E402

#: the paper's Table 2 (mobile navigation, 2D random target): GTC x/y robot, x/y target, GTC_mean, PPO reward
PAPER = {
    "ground_truth": ([1, 1, 1, 1], 1.0, "234.4 +- 1.3"),
    "supervised": ([0.69, 0.73, 0.70, 0.72], 0.71, "213.5 +- 6.0"),
    "random": ([0.68, 0.65, 0.34, 0.31], 0.50, "208 +- 6.1"),
    "autoencoder": ([0.52, 0.51, 0.24, 0.23], 0.38, "192.6 +- 8.9"),
    "srl_splits": ([0.81, 0.84, 0.64, 0.39], 0.67, "232.1 +- 2.2"),
    "raw_pixels": (None, None, "231.5 +- 3.1"),
}
MODELS = ("autoencoder", "srl_splits", "supervised", "random")
REPRESENTATIONS = ("ground_truth", "raw_pixels", *MODELS)


def record(out: Path, args: argparse.Namespace) -> Path:
    from srl.data import PREPROCESSED
    from srl.dataset import record_dataset

    folder = out / "dataset"
    if (folder / PREPROCESSED).exists():
        print(f"dataset: reusing {folder}", flush=True)
        return folder
    return record_dataset(folder, "MobileRobot-v0", {"random_target": True, "control": "discrete"},
                          episodes=args.episodes, n_workers=os.cpu_count() or 1, seed=0,
                          image_size=args.image_size)


def train(out: Path, dataset: Path, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    from srl.config import train_config
    from srl.train import train_model

    results = {}
    for name in MODELS:
        folder = out / "models" / name
        if not (folder / SRL_METRICS_FILE).exists():
            overrides: dict[str, Any] = {"epochs": args.epochs, "image_size": args.image_size,
                                         "model.model_type": args.model_type, "torch_threads": args.threads}
            print(f"training {name} ...", flush=True)
            train_model(train_config(name, str(dataset), overrides), log_folder=folder)
        metrics = json.loads((folder / SRL_METRICS_FILE).read_text())
        results[name] = {"folder": str(folder), "gt_corr": metrics["gt_corr"], "gt_corr_mean": metrics["gt_corr_mean"],
                         "knn_mse": metrics["knn_mse"], "train_time_s": metrics["train_time_s"]}
    return results


def ground_truth_metrics(dataset: Path) -> dict[str, Any]:
    """KNN-MSE with the ground truth itself as the embedding (the original's baselines/ground_truth)."""
    from srl.data import load_dataset
    from srl.metrics import knn_mse

    data = load_dataset(dataset)
    return {"gt_corr": [1.0, 1.0, 1.0, 1.0], "gt_corr_mean": 1.0, "knn_mse": knn_mse(data.target_ground_truth,
                                                                                    data.target_ground_truth)}


def rl_run(out: Path, representation: str, seed: int, models: dict[str, Any], args: argparse.Namespace
           ) -> dict[str, Any]:
    run_dir = out / "rl" / representation / f"seed{seed}"
    if read_metrics(run_dir).get("status") != "finished":
        command = [sys.executable, "main.py", "env=MobileRobot", "random_target=true", f"srl_model={representation}",
                   f"seed={seed}", f"total_timesteps={args.timesteps}", f"n_envs={args.n_envs}", "live_plots=none",
                   f"image_size={args.image_size}", f"hydra.run.dir={run_dir}"]
        if args.quick:
            command += ["algo.n_steps=64", "checkpoint_interval=100000"]
        if representation in MODELS:
            command.append(f"srl_model.path={models[representation]['folder']}")
        print(f"PPO on {representation}, seed {seed} ...", flush=True)
        start = time.perf_counter()
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        if result.returncode != 0:
            return {"error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"}
        print(f"PPO on {representation}, seed {seed}: {time.perf_counter() - start:.0f} s", flush=True)
    metrics = read_metrics(run_dir)
    encoded = representation not in MODELS or (run_dir / SRL_MODEL_RECORD).exists()
    return {"reward": metrics.get("mean_reward_last_100"), "steps_per_s": metrics.get("steps_per_s"),
            "encoded": encoded}


def mean_se(values: list[float]) -> str:
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{np.mean(values):.1f} +- {np.std(values, ddof=1) / math.sqrt(len(values)):.1f}"


def report(srl: dict[str, Any], rl: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> str:
    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    lines = [f"MobileRobot, random target, {args.image_size}x{args.image_size}, dataset {args.episodes} episodes, "
             f"{args.epochs} epochs, model_type {args.model_type}; PPO {args.timesteps:,} timesteps x {args.seeds} "
             f"seeds, {args.n_envs} envs. Paper: 224x224, 20k samples, PPO 5M steps x 10 seeds.", "",
             "| method | x robot | y robot | x target | y target | GTC_mean | KNN-MSE | paper GTC | paper GTC_mean | "
             "PPO reward | paper reward |", "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|"]
    for name in REPRESENTATIONS:
        paper_gtc, paper_mean, paper_reward = PAPER[name]
        ours = srl.get(name)
        gtc = ours["gt_corr"] if ours else [None] * 4
        runs = rl.get(name, [])
        rewards = [r.get("reward") for r in runs if "error" not in r]
        note = ""
        if any(not r.get("encoded", True) for r in runs):
            note = f" (not encoded: no {SRL_MODEL_RECORD} in the run folder)"
        errors = [r["error"] for r in runs if "error" in r]
        if errors:
            note += f" (failed: {errors[0]})"
        cells = [*(fmt(v) for v in gtc), fmt(ours["gt_corr_mean"]) if ours else "-",
                 f"{ours['knn_mse']:.3f}" if ours else "-", "/".join(str(v) for v in paper_gtc) if paper_gtc else "-",
                 "-" if paper_mean is None else str(paper_mean), (mean_se(rewards) if runs else "-") + note,
                 paper_reward]
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets: checks that everything runs")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default outputs/bench_srl[_quick])")
    parser.add_argument("--episodes", type=int, default=None, help="dataset episodes of 251 steps (80)")
    parser.add_argument("--epochs", type=int, default=None, help="SRL training epochs (30)")
    parser.add_argument("--timesteps", type=int, default=None, help="PPO timesteps per run (1,000,000)")
    parser.add_argument("--seeds", type=int, default=None, help="PPO seeds per representation (3)")
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--model-type", default="cnn", help="encoder of the trained models (cnn, custom_cnn)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for SRL training (0: all cores)")
    parser.add_argument("--jobs", type=int, default=1, help="PPO runs in parallel")
    parser.add_argument("--skip-rl", action="store_true", help="only the dataset, the models and their metrics")
    args = parser.parse_args()
    quick = {"episodes": 6, "epochs": 1, "timesteps": 2048, "seeds": 2}
    full = {"episodes": 80, "epochs": 30, "timesteps": 1_000_000, "seeds": 3}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.quick:
        args.n_envs = min(args.n_envs, 4)
    out = (args.out or ROOT / "outputs" / ("bench_srl_quick" if args.quick else "bench_srl")).absolute()
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SRL_MODELS_DIR", str(out / "srl_models"))

    start = time.perf_counter()
    dataset = record(out, args)
    srl = train(out, dataset, args)
    srl["ground_truth"] = ground_truth_metrics(dataset)
    rl: dict[str, list[dict[str, Any]]] = {}
    if not args.skip_rl:
        jobs = [(name, seed) for name in REPRESENTATIONS for seed in range(args.seeds)]
        with ThreadPoolExecutor(args.jobs) as pool:
            results = list(pool.map(lambda job: rl_run(out, job[0], job[1], srl, args), jobs))
        for (name, _), result in zip(jobs, results):
            rl.setdefault(name, []).append(result)
    text = report(srl, rl, args)
    elapsed = time.perf_counter() - start
    text += f"\n\nWall time {elapsed / 60:.1f} min; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores."
    (out / "report.md").write_text(text + "\n")
    (out / "results.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "srl": srl,
                                                  "rl": rl}, indent=2, default=str))
    print(text)
    print(f"\n{out / 'report.md'}")


if __name__ == "__main__":
    main()
