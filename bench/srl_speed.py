"""Speed of the SRL pieces, with the targets of the issue "State representation learning".

    python bench/srl_speed.py [--n-envs 8] [--seconds 5] [--threads 1 2] [--episodes 40]

1. RL encoding: the batched encoder's cost per env step (one forward pass for all envs), against one step of a
   64x64 pixel env; target <= 10 %. Measured two ways: the encoder alone on batches of ``n_envs`` images, and end to
   end (a DummyVecEnv of pixel envs with and without ``SRLEncoder``). Torch uses 1 thread, the RL learner's default.
2. Dataset recording: frames/s of ``srl.dataset.record_dataset`` per process, against the env's own pixel step
   rate on one core (the renderer dominates both); target: close to 1.
3. SRL training: samples (transitions) per second at 64x64 for encoder-only losses (inverse, reward + inverse,
   priors) and, for reference, the autoencoder; target >= 1,000 on 2 cores for encoder-only losses. Also per
   second of CPU time, which a shared machine does not distort (with 1 thread: the rate of one idle core).
4. The decoder's last layer (``srl.models.ImageConvTranspose2d``, the image's 3 channels) against oneDNN's
   ``nn.ConvTranspose2d``: CPU ms per forward and backward pass of the layer, and of a whole autoencoder training
   step (encode, decode, MSE, Adam), one thread, the two alternated over rounds so that load drifts hit both.
5. A minibatch's input and optimizer step, as ``srl.train`` runs them now against before: ``srl.data.preprocess``
   looking the uint8 levels up against computing them in torch, Adam's multi-tensor path (``foreach=True``) against
   its per-parameter loop (torch's choice on CPU), and a whole training step of the decoder-free ``inverse`` model
   with each pair; CPU ms, one thread, alternated over rounds. Both give the same float32 values (tested).

Prints Markdown tables. Run it on an idle machine: on a shared one, torch threads spin while other processes hold
the cores and multi-threaded figures collapse (the load average is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.vec_env import DummyVecEnv

import envs  # noqa: F401
from srl.config import train_config
from srl.data import preprocess
from srl.dataset import record_dataset
from srl.encoder import SRLEncoder
from srl.losses import inverse_loss, parse_losses
from srl.models import METRICS_FILE as SRL_METRICS_FILE
from srl.models import Decoder, SRLModel, build_trunk
from srl.train import train_model

ENV_ID = "MobileRobot-v0"


def _steps_per_second(venv: DummyVecEnv, seconds: float) -> tuple[float, float]:
    """Env steps per second (all envs counted) with random actions, and CPU ms of this process per env step."""
    venv.reset()
    n = venv.num_envs
    rng = np.random.default_rng(0)
    steps, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        venv.step(rng.integers(0, 4, n))
        steps += n
    return steps / (time.perf_counter() - start), (time.process_time() - cpu) / steps * 1e3


def encoding(n_envs: int, seconds: float, model_type: str) -> dict[str, float]:
    """Per-env-step costs (ms) of the pixel env, of the encoder alone, and of the two together."""
    torch.set_num_threads(1)
    model = SRLModel(parse_losses(["autoencoder"], 200), 200, 64, model_type=model_type).eval()

    def make() -> gym.Env:
        return gym.make(ENV_ID, observation="pixels", image_size=64)

    raw = DummyVecEnv([make for _ in range(n_envs)])
    cpu = time.process_time()
    raw_rate, raw_cpu = _steps_per_second(raw, seconds)
    wrapped = SRLEncoder(DummyVecEnv([make for _ in range(n_envs)]), "(benchmark)", model=model)
    images = np.random.default_rng(0).integers(0, 255, (n_envs, 64, 64, 3), dtype=np.uint8)
    wrapped.encode(images)
    calls, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        wrapped.encode(images)
        calls += 1
    encode_ms = (time.perf_counter() - start) / calls / n_envs * 1e3
    encode_cpu_ms = (time.process_time() - cpu) / calls / n_envs * 1e3
    wrapped_rate, wrapped_cpu = _steps_per_second(wrapped, seconds)
    raw.close()
    wrapped.close()
    return {"env_ms": 1e3 / raw_rate, "encode_ms": encode_ms, "wrapped_ms": 1e3 / wrapped_rate,
            "env_cpu_ms": raw_cpu, "encode_cpu_ms": encode_cpu_ms, "wrapped_cpu_ms": wrapped_cpu}


def recording(folder: Path, episodes: int, seconds: float) -> list[tuple[str, float]]:
    """Recording frames/s with 1 and 2 processes, and the pixel env's steps/s on one core."""
    env = gym.make(ENV_ID, observation="pixels", image_size=64)
    env_rate, _ = _steps_per_second(DummyVecEnv([lambda: env]), seconds)
    rows = [("pixel env step, 1 core (reference)", env_rate)]
    for workers in (1, 2):
        start = time.perf_counter()
        out = record_dataset(folder / f"rec{workers}", ENV_ID, {"random_target": True}, episodes=episodes,
                             n_workers=workers, seed=0, image_size=64, progress=False, force=True)
        n = len(np.load(out / "images.npy", mmap_mode="r"))
        rows.append((f"record_dataset, {workers} process{'es' if workers > 1 else ''}",
                     n / (time.perf_counter() - start)))
    return rows


def training(dataset: Path, threads: list[int], epochs: int) -> list[tuple[str, int, float]]:
    """Training samples/s (over all epochs, validation and metrics excluded) per model and torch thread count."""
    rows = []
    for name in ("inverse", "reward_inverse", "robotic_priors", "autoencoder"):
        for n in threads:
            cfg = train_config(name, str(dataset), {"epochs": epochs, "torch_threads": n, "progress": False,
                                                    "plots": False, "knn_samples": 100, "val_size": 0.1})
            with tempfile.TemporaryDirectory() as tmp:
                folder = train_model(cfg, log_folder=Path(tmp) / name)
                metrics = json.loads((folder / SRL_METRICS_FILE).read_text())
            rate, cpu_rate = metrics["train_samples_per_s"], metrics["train_samples_per_cpu_s"]
            rows.append((name, n, rate))
            print(f"| {name} | {n} | {rate:,.0f} | {cpu_rate:,.0f} |", flush=True)
    return rows


def _cpu_ms(step: Callable[[], None], rounds: int, repeats: int) -> list[float]:
    """CPU ms per call of ``step``, one figure per round (each round: a warm-up call, then ``repeats`` timed)."""
    figures = []
    for _ in range(rounds):
        step()
        start = time.process_time()
        for _ in range(repeats):
            step()
        figures.append(1000 * (time.process_time() - start) / repeats)
    return figures


def _onednn_copy(layer: torch.nn.ConvTranspose2d) -> torch.nn.ConvTranspose2d:
    """A plain ``nn.ConvTranspose2d`` (oneDNN's on CPU) with ``layer``'s geometry and parameters."""
    plain = torch.nn.ConvTranspose2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                                     layer.padding)
    plain.load_state_dict(layer.state_dict())
    return plain


def _alternated(steps: dict[str, Callable[[], None]], rounds: int) -> dict[str, float]:
    """Median CPU ms per call of each step, the steps alternated over ``rounds`` rounds of 3 timed calls."""
    figures: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            figures[name] += _cpu_ms(step, 1, 3)
    return {name: float(np.median(values)) for name, values in figures.items()}


def decoder_last_layer(rounds: int = 6) -> list[tuple[str, float, float]]:
    """(what, oneDNN CPU ms, ImageConvTranspose2d CPU ms): the decoder's last layer, forward and backward, for the
    ``cnn`` decoder on 128 images (a batch of 64 transitions) at 64x64 and the ``custom_cnn`` decoder on 16 at
    224x224, and a whole training step of a ``cnn`` autoencoder on 64 transitions."""
    torch.set_num_threads(1)
    rows = []
    for model_type, size, batch, side in (("cnn", 64, 128, 16), ("custom_cnn", 224, 16, 111)):
        ours = Decoder(model_type, 200, size, build_trunk(model_type, size)[2]).deconv[-1]
        z = torch.randn(batch, ours.in_channels, side, side, requires_grad=True)
        grad = torch.randn_like(ours(z))
        ms = _alternated({name: lambda layer=layer, z=z, grad=grad: layer(z).backward(grad)
                          for name, layer in (("oneDNN", _onednn_copy(ours)), ("ours", ours))}, rounds)
        rows.append((f"last layer, {model_type}, {batch} images {size}x{size}", ms["oneDNN"], ms["ours"]))
    ours_model = SRLModel(parse_losses(["autoencoder"], 200), 200, image_size=64)
    plain_model = SRLModel(parse_losses(["autoencoder"], 200), 200, image_size=64)
    plain_model.load_state_dict(ours_model.state_dict())
    plain_model.decoder.deconv[-1] = _onednn_copy(ours_model.decoder.deconv[-1])
    images = torch.randn(128, 3, 64, 64)

    def training_step(net: SRLModel) -> Callable[[], None]:
        optimizer = torch.optim.Adam(net.parameters(), 1e-3)

        def step() -> None:
            loss = ((net.decode(net.encode(images).states) - images) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return step

    ms = _alternated({"oneDNN": training_step(plain_model), "ours": training_step(ours_model)}, rounds)
    rows.append(("autoencoder training step, cnn, 64 transitions 64x64", ms["oneDNN"], ms["ours"]))
    return rows


def input_and_optimizer(rounds: int = 6) -> list[tuple[str, float, float]]:
    """(what, before CPU ms, now CPU ms), one thread: preprocessing the 64 images (64x64) of a minibatch of 32
    transitions, Adam's step on the ``cnn`` inverse model, and that model's whole training step (preprocess, encode
    both frames, inverse loss, backward, Adam)."""
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (64, 64, 64, 3), dtype=np.uint8)
    actions = torch.as_tensor(rng.integers(0, 4, 32))
    rows = [("preprocess, 64 images 64x64", *_pair(_alternated({
        "before": lambda: preprocess(torch.from_numpy(images)), "now": lambda: preprocess(images)}, rounds)))]
    models = {}
    for name, foreach in (("before", False), ("now", True)):
        torch.manual_seed(0)
        model = SRLModel(parse_losses(["inverse"], 200), 200, image_size=64, n_actions=4)
        models[name] = (model, torch.optim.Adam(model.parameters(), 1e-3, foreach=foreach))
        for p in model.parameters():
            p.grad = torch.randn_like(p)
    rows.append(("Adam step, cnn inverse model", *_pair(_alternated(
        {name: optimizer.step for name, (_, optimizer) in models.items()}, rounds))))

    def training_step(name: str) -> Callable[[], None]:
        model, optimizer = models[name]
        batch = torch.from_numpy(images) if name == "before" else images  # a tensor takes the computed path

        def step() -> None:
            states = model.encode(preprocess(batch)).states
            loss = inverse_loss(model.inverse_net(torch.cat([states[:32], states[32:]], 1)), actions)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return step

    rows.append(("inverse training step, 32 transitions 64x64", *_pair(_alternated(
        {name: training_step(name) for name in models}, rounds))))
    return rows


def _pair(ms: dict[str, float]) -> tuple[float, float]:
    return ms["before"], ms["now"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--episodes", type=int, default=40, help="episodes (251 steps) recorded per measurement")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")

    print(f"## RL encoding, {args.n_envs} envs, 64x64, torch 1 thread (target: encoder <= 10 % of an env step)\n")
    print("Wall clock, then CPU time of this process (robust to other processes on the machine), per env step.\n")
    print("| encoder | env step (ms) | encoder alone (ms) | ratio | env + encoder (ms) | end to end | env step CPU ms |"
          " encoder CPU ms | CPU ratio | env + encoder CPU ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for model_type in ("cnn", "custom_cnn"):
        r = encoding(args.n_envs, args.seconds, model_type)
        print(f"| {model_type} | {r['env_ms']:.3f} | {r['encode_ms']:.3f} | {r['encode_ms'] / r['env_ms']:.1%} | "
              f"{r['wrapped_ms']:.3f} | {r['wrapped_ms'] / r['env_ms'] - 1:+.1%} | {r['env_cpu_ms']:.3f} | "
              f"{r['encode_cpu_ms']:.3f} | {r['encode_cpu_ms'] / r['env_cpu_ms']:.1%} | {r['wrapped_cpu_ms']:.3f} |",
              flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        print(f"\n## Dataset recording, MobileRobot 64x64, {args.episodes} episodes\n")
        print("| what | frames/s |\n|---|---:|")
        rows = recording(Path(tmp), args.episodes, args.seconds)
        for what, rate in rows:
            print(f"| {what} | {rate:,.0f} |")
        print(f"\nper process / env step rate: {rows[1][1] / rows[0][1]:.2f}")

        print("\n## SRL training at 64x64 (samples/s; target >= 1,000 on 2 cores for encoder-only losses)\n")
        print("| model | torch threads | samples/s (wall clock) | samples per CPU second |\n|---|---:|---:|---:|",
              flush=True)
        training(Path(tmp) / "rec2", args.threads, args.epochs)

    print("\n## The decoder's last layer: oneDNN against ImageConvTranspose2d (CPU ms, 1 thread, medians)\n")
    print("| what | oneDNN | ImageConvTranspose2d | speed-up |\n|---|---:|---:|---:|", flush=True)
    for what, plain, ours in decoder_last_layer():
        print(f"| {what} | {plain:.1f} | {ours:.1f} | {plain / ours:.2f}x |", flush=True)

    print("\n## A minibatch's input and Adam's step: before (computed, per-parameter loop) against now (looked up, "
          "multi-tensor) (CPU ms, 1 thread, medians)\n")
    print("| what | before | now | speed-up |\n|---|---:|---:|---:|", flush=True)
    for what, before, now in input_and_optimizer():
        print(f"| {what} | {before:.2f} | {now:.2f} | {before / now:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
