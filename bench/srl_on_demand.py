"""On-demand SRL training: the on-demand setting against ``python -m srl.train``'s 30-epoch default, on one dataset.

    python bench/srl_on_demand.py                                         # srl_splits, autoencoder, vae, inverse
    python bench/srl_on_demand.py --models srl_splits autoencoder --out /tmp/srl_on_demand
    python bench/srl_on_demand.py --reference-epochs 10                   # shorter reference, times extrapolated
    python bench/srl_on_demand.py --quick                                 # smoke run: 4 episodes, 1-2 epochs

Each step runs in a process of its own, timed by wall clock and by CPU time (the process and the children it
waited for), so that figures taken on a shared machine can be read per CPU second (the recording's workers are
children of multiprocessing's forkserver, so only its wall time is reported):

1. **record**: the on-demand dataset of ``python main.py srl_model=<model> random_target=true`` (MobileRobot, random
   targets, 80 random-policy episodes, seed 0, 64x64) into an empty model cache (``SRL_MODELS_DIR=<out>/cache``),
   recorded once for all models;
2. **on demand**: ``srl.encoder.ensure_model`` on that cache, per model: the training a run waits for, with the
   on-demand settings (``srl.encoder.ON_DEMAND_TRAINING`` and ``ON_DEMAND_BY_LOSS`` for a model with a decoder,
   ``ON_DEMAND_DECODER_FREE`` for one without; ``srl.encoder.on_demand_threads()``); step 1 + step 2 is the
   end-to-end time of a fresh cache. Every model's step 2 runs before any step 3, so that the timed trainings find
   the machine as the user's run would, not behind an hour of references;
3. **default**: ``python -m srl.train`` on the same dataset with ``TrainConfig``'s defaults (30 epochs, batch 32, lr
   1e-3, 1 torch thread), the reference for GTC_mean and KNN-MSE. With ``--reference-epochs N < 30`` its quality is
   the N-epoch model's and its times are extrapolated to 30 epochs (the training loop scaled by 30/N, the rest kept).

A step whose result is already in ``<out>`` is reused, marked "reused" (a reference left running in the
background is picked up this way); delete ``<out>`` to measure everything again. The result is one Markdown table,
printed and written to ``<out>/table.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ENV_ID = "MobileRobot-v0"
ENV_KWARGS = {"random_target": True, "shape_reward": False}
IMAGE_SIZE = 64
SEED = 0
#: the epochs of ``srl.config.TrainConfig``: the reference
DEFAULT_EPOCHS = 30
BENCH_FILE = "bench.json"


@dataclass
class Timed:
    """One step's cost: wall-clock seconds and CPU seconds (user + system, its children included)."""

    wall_s: float
    cpu_s: float


def run_timed(command: list[str], log_file: Path, env: dict[str, str] | None = None) -> Timed:
    """Run ``command`` from the repository root, its output into ``log_file``; raise if it fails."""
    with open(log_file, "w") as log:
        tick = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - tick
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed (exit {process.returncode}); see {log_file}")
    return Timed(wall, usage.ru_utime + usage.ru_stime)


def srl_model_config(model: str, episodes: int, epochs: int | None) -> Any:
    """The ``srl_model`` node ``python main.py srl_model=<model> [srl_model.epochs=<epochs>]`` composes."""
    from omegaconf import OmegaConf

    from rlzoo.config import SRLModelConfig
    from srl.config import MODELS

    return OmegaConf.merge(OmegaConf.structured(SRLModelConfig),
                           {"observation": "pixels", "model": model, "spec": OmegaConf.structured(MODELS[model]),
                            "episodes": episodes, "epochs": epochs})


def child(args: argparse.Namespace) -> None:
    """Inside a timed process: record the on-demand dataset, or train one model on demand; print the folder."""
    import logging

    from srl.config import config_hash
    from srl.encoder import ensure_dataset, ensure_model, on_demand_configs

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    cfg = srl_model_config(args.model, args.episodes, args.on_demand_epochs)
    if args.child == "record":
        desc, _ = on_demand_configs(cfg, ENV_ID, IMAGE_SIZE, SEED, ENV_KWARGS)
        folder = ensure_dataset(desc, config_hash(desc))
    else:
        folder = ensure_model(cfg, ENV_ID, IMAGE_SIZE, SEED, ENV_KWARGS)
    print(json.dumps({"folder": str(folder)}))


def step(out: Path, name: str, command: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run a timed step once: its result (``bench.json`` in ``<out>/<name>``) is reused when present."""
    folder = out / name
    result_file = folder / BENCH_FILE
    if result_file.exists():
        return {**json.loads(result_file.read_text()), "reused": True}
    folder.mkdir(parents=True, exist_ok=True)
    print(f"{name}: {' '.join(command)}", flush=True)
    timed = run_timed(command, folder / "log.txt", env)
    lines = (folder / "log.txt").read_text().strip().splitlines()
    result = {"wall_s": timed.wall_s, "cpu_s": timed.cpu_s, "command": " ".join(command)}
    if lines and lines[-1].startswith("{"):
        result.update(json.loads(lines[-1]))
    result_file.write_text(json.dumps(result, indent=2))
    return {**result, "reused": False}


def model_metrics(folder: Path) -> dict[str, Any]:
    """GTC_mean, KNN-MSE, epochs run, best epoch, torch threads and training-loop seconds of a trained model folder."""
    import numpy as np
    from omegaconf import OmegaConf

    from srl.models import METRICS_FILE as SRL_METRICS_FILE
    from srl.models import TRAIN_CONFIG

    metrics = json.loads((folder / SRL_METRICS_FILE).read_text())
    with np.load(folder / "loss_history.npz") as history:
        epochs_run = len(history["train_loss"]) if "train_loss" in history.files else 0
    return {"gtc": metrics["gt_corr_mean"], "knn": metrics["knn_mse"], "epochs_run": epochs_run,
            "best_epoch": metrics["best_epoch"], "train_time_s": metrics["train_time_s"],
            "threads": OmegaConf.load(folder / TRAIN_CONFIG).torch_threads}


def extrapolate(result: dict[str, Any], quality: dict[str, Any], epochs: int) -> tuple[float, float]:
    """Wall and CPU seconds of a ``DEFAULT_EPOCHS``-epoch training from one of ``epochs`` epochs: the training loop
    scaled by ``DEFAULT_EPOCHS / epochs``, the rest (start-up, loading, the states of every frame, metrics) kept."""
    scale = DEFAULT_EPOCHS / epochs
    loop_share = quality["train_time_s"] / result["wall_s"]
    return (result["wall_s"] * (1 + loop_share * (scale - 1)), result["cpu_s"] * (1 + loop_share * (scale - 1)))


def main() -> None:
    """Run the steps (module docstring) and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["srl_splits", "autoencoder", "vae", "inverse"])
    parser.add_argument("--out", type=Path, default=Path("/tmp/srl_on_demand"), help="results and model folders")
    parser.add_argument("--episodes", type=int, default=80, help="episodes of the dataset (about 251 frames each)")
    parser.add_argument("--reference-epochs", type=int, default=DEFAULT_EPOCHS,
                        help=f"epochs of the reference training (below {DEFAULT_EPOCHS}: times extrapolated)")
    parser.add_argument("--on-demand-epochs", type=int, default=None,
                        help="override the on-demand epochs (srl_model.epochs; default: ON_DEMAND_TRAINING's)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 4 episodes, reference 2 epochs, on demand 1")
    parser.add_argument("--child", choices=["record", "train"], help=argparse.SUPPRESS)
    parser.add_argument("--model", default="srl_splits", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.episodes, args.reference_epochs, args.on_demand_epochs = 4, 2, 1
    if args.child:
        child(args)
        return

    from srl.encoder import ON_DEMAND_BY_LOSS, ON_DEMAND_DECODER_FREE, ON_DEMAND_THREADS, ON_DEMAND_TRAINING

    out = args.out.absolute()
    env = {**os.environ, "SRL_MODELS_DIR": str(out / "cache"), "PYTHONUNBUFFERED": "1"}
    me = [sys.executable, str(Path(__file__).resolve()), "--episodes", str(args.episodes)]
    if args.on_demand_epochs is not None:
        me += ["--on-demand-epochs", str(args.on_demand_epochs)]
    record = step(out, "record", me + ["--child", "record"], env)
    dataset = record["folder"]
    rows, end_to_end = [], []
    # every on-demand training first: they are the timed figures, and the long references must not delay them
    on_demands = {model: step(out, f"on_demand_{model}", me + ["--child", "train", "--model", model], env)
                  for model in args.models}
    for model in args.models:
        on_demand = on_demands[model]
        reference = step(out, f"default_{model}", [
            sys.executable, "-m", "srl.train", f"dataset={dataset}", f"model={model}", f"image_size={IMAGE_SIZE}",
            f"epochs={args.reference_epochs}", "progress=false", "plots=false",
            f"log_folder={out / f'default_{model}'}", f"hydra.run.dir={out / 'hydra' / model}"])
        new, old = model_metrics(Path(on_demand["folder"])), model_metrics(out / f"default_{model}")
        old_wall, old_cpu = reference["wall_s"], reference["cpu_s"]
        note = " (reused)" if reference["reused"] else ""
        if args.reference_epochs < DEFAULT_EPOCHS:
            old_wall, old_cpu = extrapolate(reference, old, args.reference_epochs)
            note += f" ({args.reference_epochs} epochs; times extrapolated to {DEFAULT_EPOCHS})"
        rows.append(f"| {model} | default{note} | {old['epochs_run']} ({old['best_epoch']}) | {old_wall:.0f} | "
                    f"{old_cpu:.0f} | {old['threads']} | {old['gtc']:.3f} | {old['knn']:.4f} | | |")
        rows.append(f"| {model} | on demand{' (reused)' if on_demand['reused'] else ''} | {new['epochs_run']} "
                    f"({new['best_epoch']}) | {on_demand['wall_s']:.0f} | {on_demand['cpu_s']:.0f} | "
                    f"{new['threads']} | {new['gtc']:.3f} | "
                    f"{new['knn']:.4f} | {new['gtc'] - old['gtc']:+.3f} | {new['knn'] - old['knn']:+.4f} |")
        end_to_end.append(f"| {model} | {record['wall_s']:.0f} | {on_demand['wall_s']:.0f} | "
                          f"{record['wall_s'] + on_demand['wall_s']:.0f} | {on_demand['cpu_s']:.0f} |")
    settings = "with a decoder: " + ", ".join(f"{k} {v}" for k, v in ON_DEMAND_TRAINING.items())
    for loss, keys in ON_DEMAND_BY_LOSS.items():
        settings += f" (with {loss} among the losses: {', '.join(f'{k} {v}' for k, v in keys.items())})"
    settings += (f"; without a decoder: {', '.join(f'{k} {v}' for k, v in ON_DEMAND_DECODER_FREE.items())}; torch "
                 f"threads: up to {ON_DEMAND_THREADS}, one per free core")
    if args.on_demand_epochs is not None:
        settings += f" (epochs overridden: {args.on_demand_epochs})"
    table = "\n".join([
        (f"{ENV_ID}, {args.episodes} random-policy episodes, random targets, seed {SEED}, {IMAGE_SIZE}x{IMAGE_SIZE}; "
         f"on demand: {settings}; default: {DEFAULT_EPOCHS} epochs, batch 32, lr 0.001, 1 thread."),
        "",
        ("| model | setting | epochs run (best) | wall s | CPU s | threads | GTC_mean | KNN-MSE | GTC_mean diff | "
         "KNN-MSE diff |"),
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        ("End to end, from an empty model cache (the recording's CPU time is not counted: its workers are children "
         "of multiprocessing's forkserver, outside the timed process):"),
        "",
        "| model | recording wall s | on-demand training wall s | total wall s | training CPU s |",
        "|---|---:|---:|---:|---:|",
        *end_to_end,
    ])
    print(table)
    (out / "table.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
