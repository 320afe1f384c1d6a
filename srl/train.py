"""Train an SRL model: ``python -m srl.train dataset=<folder> model=<name> [epochs=30] [image_size=64] ...``.

``model`` is an entry of the catalogue ``srl.config.MODELS`` (autoencoder, vae, dae, inverse, forward, reward,
robotic_priors, srl_combination, srl_splits, supervised, pca, random, and the combinations of the original toolbox);
its keys can be overridden (``model.state_dim=50``, ``'model.losses=[autoencoder:1:48,inverse:2:2]'``).

The model folder (``log_folder``, default ``srl_models/<env id>/<date>_<model>_ST_DIM<d>_SEED<s>/``) receives:
``exp_config.json`` (everything :func:`srl.models.load_model` needs to rebuild the model from the folder alone),
``srl_model.pth`` (state dict of the best validation epoch), ``states_rewards.npz`` (states of every frame and the
rewards), ``loss_history.npz``, ``gt_correlation.json`` and ``knn_mse.json`` (the original's files), ``metrics.json``
(both metrics, best epoch, speed), ``learned_states.png`` and ``losses.png``.

Training (spec srl-zoo.md 1.8): Adam, fixed epochs (or fewer: early stopping, ``patience``), transitions (o_t,
o_t+1) within episodes, a random ``val_size`` fraction of them held out, best-validation checkpoint, seeds for torch,
numpy and the DAE noise.
Differences from the original, on purpose (spec 6.3):

* minibatches are redrawn every epoch (the original fixed their composition once and only reshuffled their order);
  validation holds out samples rather than whole minibatches;
* validation runs under ``no_grad`` (the original also called backward) and its losses are logged apart (the
  original added them into the per-term training history);
* every frame gets a state, the last partial batch included (the original's test loader stalled on an empty last
  batch when N was a multiple of 256);
* a NaN loss stops training with a message (the original exited with code 11); prior pairs are mined per
  minibatch (see :mod:`srl.losses`), so there is no exit code 10 either;
* ``train.py`` computes KNN-MSE as well as GTC (the original's help promised KNN-MSE but only the pipeline ran it);
* the loss list order is kept as given (see :mod:`srl.losses` for the loss fixes).
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from srl.config import (
    cache_root,
    check_device,
    check_lr_schedule,
    check_seed,
    scheduled_learning_rate,
    without_added_defaults,
)
from srl.data import SRLDataset, load_dataset, occlude, preprocess
from srl.errors import ConfigError
from srl.losses import ACTION_LOSSES, Batch, LossSpec, check_views, compute_losses, parse_losses, split_slices
from srl.metrics import gt_labels, gtc, knn_mse, plot_losses, plot_states
from srl.models import (
    EXP_CONFIG,
    INVERSE_MODEL_TYPES,
    METRICS_FILE,
    MODEL_FILE,
    MODEL_TYPES,
    TRAIN_CONFIG,
    PCAModel,
    SRLModel,
)
from srl.progress import progress

log = logging.getLogger(__name__)
PREDICT_BATCH = 256
#: per-epoch training state in a model folder (model, optimizer, random generators, history): an interrupted
#: training resumes from it, and it is deleted when the training completes
TRAINING_STATE = "training_state.pt"


class TrainingInterrupted(KeyboardInterrupt):
    """A training stopped by Ctrl-C (or a signal turned into one), raised from the interrupt.

    :param folder: the model folder. :param resumable: whether it holds a training state (one per finished epoch,
        kept until the model is evaluated), from which a training of the same config into ``folder`` resumes.
    """

    def __init__(self, folder: Path, resumable: bool) -> None:
        super().__init__(f"training interrupted in {folder}")
        self.folder, self.resumable = folder, resumable


@dataclass
class Plan:
    """A checked training config: the loss list, the state size, the dataset."""

    specs: list[LossSpec]
    state_dim: int
    dataset: SRLDataset


def check_config(cfg: DictConfig, key: Callable[[str], str] = str) -> list[LossSpec]:
    """Check every key of a training config that its dataset does not decide, and return the parsed loss list.

    :param key: the name a message gives a config key (``"model.beta"``, ``"epochs"``): a run's on-demand training
        names the run's own keys (``srl_model.spec.beta``), so that it can check them before recording a dataset.
    :raises ConfigError: a one-paragraph message naming the bad value and what is valid.
    """
    model = cfg.model
    if model.model_type not in MODEL_TYPES:
        raise ConfigError(f"{key('model.model_type')}={model.model_type!r} does not exist; valid model types: "
                          f"{', '.join(MODEL_TYPES)}.")
    if model.inverse_model_type not in INVERSE_MODEL_TYPES:
        raise ConfigError(f"{key('model.inverse_model_type')}={model.inverse_model_type!r} does not exist; valid: "
                          f"{', '.join(INVERSE_MODEL_TYPES)}.")
    if cfg.image_size < 16:
        raise ConfigError(f"{key('image_size')}={cfg.image_size} is too small: use at least 16 (64 is the default, "
                          "224 the original's).")
    for name, low in (("epochs", 0), ("batch_size", 2), ("knn_neighbors", 1), ("knn_samples", 1), ("patience", 0)):
        if cfg[name] < low:
            raise ConfigError(f"{key(name)}={cfg[name]} is invalid: it must be at least {low}.")
    check_seed(key("seed"), cfg.seed)
    check_seed(key("knn_seed"), cfg.knn_seed)
    if not 0 <= cfg.val_size < 1:
        raise ConfigError(f"{key('val_size')}={cfg.val_size} is invalid: it is a fraction in [0, 1).")
    for name in ("learning_rate", "encoder_lr_scale"):
        if not 0 < cfg[name] < math.inf:  # nan fails this too
            raise ConfigError(f"{key(name)}={cfg[name]} is invalid: it must be a positive, finite number.")
    for name, value in (("l1_reg", cfg.l1_reg), ("l2_reg", cfg.l2_reg), ("model.beta", model.beta)):
        if not 0 <= value < math.inf:
            raise ConfigError(f"{key(name)}={value} is invalid: it must be a finite number of at least 0.")
    if not 0 <= model.occlusion_percentage <= 1:
        raise ConfigError(f"{key('model.occlusion_percentage')}={model.occlusion_percentage} is invalid: it is a "
                          "fraction of each image axis, in [0, 1].")
    check_lr_schedule(cfg.lr_schedule, key("lr_schedule"))
    check_device(key("device"), cfg.device)
    if not 0 <= cfg.min_delta < 1:
        raise ConfigError(f"{key('min_delta')}={cfg.min_delta} is invalid: it is a fraction of the best validation "
                          "loss, in [0, 1).")
    specs = parse_losses(list(model.losses), model.state_dim)
    names = [spec.name for spec in specs]
    if (model.state_dim is None and names != ["supervised"]) or (model.state_dim is not None and model.state_dim < 1):
        raise ConfigError(f"{key('model.state_dim')}={model.state_dim} is invalid for losses {names}: give a size of "
                          "at least 1.")
    return specs


def plan(cfg: DictConfig, key: Callable[[str], str] = str) -> Plan:
    """Check ``cfg`` (:func:`check_config`, ``key`` as there) and load its dataset; raise :class:`ConfigError` with a
    one-paragraph message on bad input."""
    specs = check_config(cfg, key)
    dataset = load_dataset(cfg.dataset, cfg.image_size)
    check_views(specs, dataset.views, f"dataset {dataset.folder}")
    names = [spec.name for spec in specs]
    state_dim = cfg.model.state_dim
    if names == ["supervised"]:
        gt_dim = dataset.target_ground_truth.shape[1]
        if state_dim not in (None, gt_dim):
            raise ConfigError(f"supervised learning regresses the ground truth, of size {gt_dim} in {dataset.folder}; "
                              f"{key('model.state_dim')}={state_dim} differs (set it to {gt_dim} or null).")
        state_dim = gt_dim
    features = dataset.images.shape[-1] * cfg.image_size ** 2
    if names == ["pca"] and state_dim > features:
        raise ConfigError(f"{key('model.state_dim')}={state_dim} is too large for PCA: the images have {features} "
                          f"values ({dataset.images.shape[-1]} channels of {cfg.image_size}x{cfg.image_size}), the "
                          "most components there are.")
    needing = [name for name in names if name in ACTION_LOSSES]
    if needing and not dataset.discrete_actions:
        raise ConfigError(f"losses {needing} need discrete actions, but {dataset.folder} holds continuous ones; "
                          "record the dataset with control=discrete.")
    if len(dataset.transitions) < 2:
        raise ConfigError(f"dataset {dataset.folder} has {len(dataset.transitions)} transitions; record more "
                          "episodes or longer ones.")
    return Plan(specs=specs, state_dim=state_dim, dataset=dataset)


def default_log_folder(cfg: DictConfig, state_dim: int, dataset: SRLDataset) -> Path:
    """``srl_models/<env id or dataset name>/<YY-MM-DD_HHhMM_SS>_<model>_ST_DIM<d>_SEED<s>``."""
    stamp = datetime.now().strftime("%y-%m-%d_%Hh%M_%S")
    owner = dataset.env_id or dataset.folder.name
    return cache_root() / owner / f"{stamp}_{cfg.model.name}_ST_DIM{state_dim}_SEED{cfg.seed}"


def exp_config(cfg: DictConfig, the_plan: Plan, log_folder: Path, model: torch.nn.Module) -> dict[str, Any]:
    """The original's ``exp_config.json`` keys, plus ours (image-size, loss-specs, model-name, env-id, ...)."""
    specs = the_plan.specs
    slices = split_slices(specs)
    dataset = the_plan.dataset
    return {
        "batch-size": cfg.batch_size, "beta": cfg.model.beta, "data-folder": str(dataset.folder),
        "epochs": cfg.epochs, "learning-rate": cfg.learning_rate, "lr-schedule": cfg.lr_schedule,
        "encoder-lr-scale": cfg.encoder_lr_scale,
        "training-set-size": cfg.training_set_size,
        "log-folder": str(log_folder), "model-type": cfg.model.model_type, "seed": cfg.seed,
        "state-dim": the_plan.state_dim, "knn-samples": cfg.knn_samples, "knn-seed": cfg.knn_seed,
        "l1-reg": cfg.l1_reg, "l2-reg": cfg.l2_reg, "losses": [spec.name for spec in specs],
        "n-neighbors": cfg.knn_neighbors, "n-to-plot": 0,
        "split-dimensions": {spec.name: spec.dims for spec in specs} if slices else -1,
        "inverse-model-type": cfg.model.inverse_model_type, "experiment-name": log_folder.name,
        "n_actions": getattr(model, "n_actions", 0), "multi-view": dataset.views > 1,
        "occlusion-percentage": cfg.model.occlusion_percentage,
        "losses_weights": [[spec.name, spec.weight] for spec in specs],
        # ours
        "image-size": cfg.image_size, "loss-specs": [str(spec) for spec in specs], "model-name": cfg.model.name,
        "env-id": dataset.env_id, "ground-truth-dim": int(dataset.ground_truth.shape[1]),
        "val-size": cfg.val_size,
        "input": f"RGB uint8 -> /255 -> ImageNet mean/std per view -> (N, {3 * dataset.views}, H, W)",
        "dataset-config": dataset.config,
    }


def _write_json(path: Path, payload: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)


class _Batches:
    """Builds preprocessed minibatches of transitions from the dataset."""

    def __init__(self, dataset: SRLDataset, model: torch.nn.Module, device: torch.device, seed: int) -> None:
        self.dataset = dataset
        self.device = device
        self.noise = "dae" in [spec.name for spec in model.losses]
        self.occlusion = getattr(model, "occlusion_percentage", 0.5)
        self.generator = torch.Generator().manual_seed(seed)
        self.discrete = dataset.discrete_actions
        self.truth = torch.as_tensor(dataset.target_ground_truth, dtype=torch.float32)
        self.time_contrastive = getattr(model, "time_contrastive", False)

    def __call__(self, idx: np.ndarray) -> Batch:
        frames = preprocess(self.dataset.images[np.concatenate([idx, idx + 1])], self.device)
        noisy = occlude(frames, self.occlusion, self.generator) if self.noise else frames
        n = len(idx)
        actions = (torch.as_tensor(self.dataset.actions[idx], device=self.device) if self.discrete
                   else torch.zeros(n, dtype=torch.long, device=self.device))
        negatives = None
        if self.time_contrastive:  # view 1 of another frame of the episode, drawn with the seeded generator
            negative_idx = self.dataset.negative_frames(idx, self.generator)
            negatives = preprocess(self.dataset.images[negative_idx][..., :3], self.device)
        return Batch(obs=frames[:n], next_obs=frames[n:], obs_in=noisy[:n], next_obs_in=noisy[n:], actions=actions,
                     rewards=torch.as_tensor(self.dataset.rewards[idx], dtype=torch.float32, device=self.device),
                     ground_truth=self.truth[idx].to(self.device), negatives=negatives)


def _chunks(indices: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(indices), size):
        yield indices[start:start + size]


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def train_model(cfg: DictConfig, log_folder: Path | str | None = None, key: Callable[[str], str] = str) -> Path:
    """Train the model ``cfg`` describes (see :class:`srl.config.TrainConfig`); returns its folder.

    :param log_folder: overrides ``cfg.log_folder``.
    :param key: the names error messages give the config's keys (see :func:`check_config`).
    :raises ConfigError: bad input, before the folder is made.
    :raises TrainingInterrupted: on Ctrl-C, once the folder holds what a resumed training needs.
    """
    the_plan = plan(cfg, key)
    dataset = the_plan.dataset
    folder = Path(log_folder or cfg.log_folder or default_log_folder(cfg, the_plan.state_dim, dataset)).absolute()
    folder.mkdir(parents=True, exist_ok=True)
    previous_threads = torch.get_num_threads()
    if cfg.torch_threads > 0:
        torch.set_num_threads(cfg.torch_threads)
    try:
        return _train(cfg, the_plan, folder)
    except KeyboardInterrupt:
        raise TrainingInterrupted(folder, (folder / TRAINING_STATE).exists()) from None
    finally:
        torch.set_num_threads(previous_threads)


def _train(cfg: DictConfig, the_plan: Plan, folder: Path) -> Path:
    dataset, specs = the_plan.dataset, the_plan.specs
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    device = _device(cfg.device)
    names = [spec.name for spec in specs]
    if names == ["pca"]:
        model: torch.nn.Module = PCAModel(the_plan.state_dim, cfg.image_size, views=dataset.views)
    else:
        model = SRLModel(specs, the_plan.state_dim, cfg.image_size, n_actions=dataset.n_actions,
                         model_type=cfg.model.model_type, inverse_model_type=cfg.model.inverse_model_type,
                         beta=cfg.model.beta, occlusion_percentage=cfg.model.occlusion_percentage,
                         views=dataset.views)
    model.to(device)
    config = exp_config(cfg, the_plan, folder, model)
    _write_json(folder / EXP_CONFIG, {**config, "status": "training"})
    OmegaConf.save(cfg, folder / TRAIN_CONFIG)

    transitions = dataset.transitions
    if cfg.training_set_size > 0:
        transitions = transitions[:cfg.training_set_size]
    shuffled = rng.permutation(transitions)
    n_val = round(cfg.val_size * len(shuffled)) if cfg.val_size > 0 else 0
    n_val = min(n_val, len(shuffled) - 1)
    val_idx, train_idx = np.sort(shuffled[:n_val]), shuffled[n_val:]
    log.info("Training %s (%s, state dim %d, %s) on %s: %d training and %d validation transitions, %d epochs",
             cfg.model.name, " ".join(str(s) for s in specs), the_plan.state_dim, cfg.model.model_type,
             dataset.folder, len(train_idx), len(val_idx), cfg.epochs)
    start = time.perf_counter()
    if names == ["pca"]:
        summary = _fit_pca(cfg, model, dataset, train_idx, device, folder)
    elif all(name == "random" for name in names) or cfg.epochs == 0:
        torch.save(model.state_dict(), folder / MODEL_FILE)
        summary = {"best_epoch": 0, "best_val_loss": None, "train_samples_per_s": None}
        np.savez(folder / "loss_history.npz")
    else:
        summary = _fit(cfg, model, dataset, train_idx, val_idx, device, folder, rng)
    summary["train_time_s"] = time.perf_counter() - start
    model.load_state_dict(torch.load(folder / MODEL_FILE, map_location=device, weights_only=True))
    model.eval()
    states = predict_states(model, dataset.images, device)
    np.savez(folder / "states_rewards.npz", states=states, rewards=dataset.rewards)
    metrics = _evaluate(cfg, states, dataset, folder)
    _write_json(folder / METRICS_FILE, {**summary, **metrics})
    _write_json(folder / EXP_CONFIG, {**config, "status": "trained"})
    (folder / TRAINING_STATE).unlink(missing_ok=True)  # kept until now: an interrupted evaluation resumes to it
    log.info("GTC %s, GTC_mean %.3f, KNN-MSE %.4f; model folder %s",
             [None if v is None else round(v, 3) for v in metrics["gt_corr"]], metrics["gt_corr_mean"],
             metrics["knn_mse"], folder)
    return folder


def parameter_groups(model: SRLModel, encoder_lr_scale: float) -> list[dict[str, Any]]:
    """Adam's parameter groups for ``TrainConfig.encoder_lr_scale``: each with its ``lr_scale``, the multiple of
    the scheduled step size it takes; one group when the scale is 1, else the encoder's
    (:meth:`SRLModel.encoder_parameters`) and the rest's (decoder, loss heads; empty for an encoder-only model)."""
    if encoder_lr_scale == 1.0:
        return [{"params": list(model.parameters()), "lr_scale": 1.0}]
    encoder = {id(p) for p in model.encoder_parameters()}
    return [{"params": [p for p in model.parameters() if id(p) in encoder], "lr_scale": encoder_lr_scale},
            {"params": [p for p in model.parameters() if id(p) not in encoder], "lr_scale": 1.0}]


def _fit(cfg: DictConfig, model: torch.nn.Module, dataset: SRLDataset, train_idx: np.ndarray, val_idx: np.ndarray,
         device: torch.device, folder: Path, rng: np.random.Generator) -> dict[str, Any]:
    batches = _Batches(dataset, model, device, cfg.seed)
    # foreach: Adam's multi-tensor path, the same float32 values as its per-parameter loop (torch's choice on CPU),
    # 0.56 against 0.64 CPU ms per step of the cnn inverse model (python bench/srl_speed.py)
    optimizer = torch.optim.Adam(parameter_groups(model, cfg.encoder_lr_scale), lr=cfg.learning_rate, foreach=True)
    for group in optimizer.param_groups:
        group["lr"] = cfg.learning_rate * group["lr_scale"]
    batch_size = min(cfg.batch_size, len(train_idx))
    per_epoch = max(1, len(train_idx) // batch_size)  # the incomplete last batch is dropped (BatchNorm)
    history: dict[str, list[float]] = {"train_loss": [], "val_loss": []}
    best, best_epoch, samples, train_time, train_cpu = math.inf, 0, 0, 0.0, 0.0
    stale = 0  # epochs in a row without an improvement larger than min_delta (early stopping)
    first = 1
    resumed = _load_training_state(folder / TRAINING_STATE, cfg)
    if resumed is not None:  # an interrupted training of this same config: continue after its last epoch
        model.load_state_dict(resumed["model"])
        optimizer.load_state_dict(resumed["optimizer"])
        for group in optimizer.param_groups:  # a state saved before encoder_lr_scale: one group, at the step size
            group.setdefault("lr_scale", 1.0)
            group["foreach"] = True  # a state saved before it chose the multi-tensor path
        rng.bit_generator.state = resumed["rng"]
        torch.set_rng_state(resumed["torch_rng"])
        batches.generator.set_state(resumed["batch_rng"])
        history, best, best_epoch = resumed["history"], resumed["best"], resumed["best_epoch"]
        samples, train_time, train_cpu = resumed["samples"], resumed["train_time"], resumed["train_cpu"]
        stale, first = resumed["stale_epochs"], resumed["epoch"] + 1
        log.info("Resuming the training in %s after epoch %d of %d", folder, resumed["epoch"], cfg.epochs)
    bar = progress(cfg.epochs * per_epoch, f"training {cfg.model.name}", "batch", enabled=cfg.progress)
    bar.update((first - 1) * per_epoch)
    try:
        for epoch in range(first, cfg.epochs + 1):
            if _stops(cfg, stale):  # a resumed training that had already stopped early
                break
            model.train()
            order = rng.permutation(train_idx)
            sums: dict[str, float] = {}
            tick, cpu_tick = time.perf_counter(), time.process_time()
            for b in range(per_epoch):
                if cfg.lr_schedule != "constant":
                    for group in optimizer.param_groups:
                        group["lr"] = group["lr_scale"] * scheduled_learning_rate(
                            cfg.learning_rate, cfg.lr_schedule, (epoch - 1) * per_epoch + b, cfg.epochs * per_epoch)
                terms = compute_losses(model, batches(order[b * batch_size:(b + 1) * batch_size]), cfg.l1_reg,
                                       cfg.l2_reg)
                loss = sum(terms.values())
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"the training loss became {loss.item()} at epoch {epoch} "
                                             f"({', '.join(f'{k}={v.item():.4g}' for k, v in terms.items())}); "
                                             "lower learning_rate or change the loss weights.")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                for name, value in terms.items():
                    sums[name] = sums.get(name, 0.0) + float(value.detach())
                bar.update()
            train_time += time.perf_counter() - tick
            train_cpu += time.process_time() - cpu_tick
            samples += per_epoch * batch_size
            for name, value in sums.items():
                history.setdefault(name, []).append(value / per_epoch)
            history["train_loss"].append(sum(sums.values()) / per_epoch)
            val = _validate(cfg, model, batches, val_idx) if len(val_idx) else history["train_loss"][-1]
            history["val_loss"].append(val)
            bar.set_postfix(epoch=epoch, train=f"{history['train_loss'][-1]:.4g}", val=f"{val:.4g}")
            stale = 0 if math.isinf(best) or val < best - cfg.min_delta * abs(best) else stale + 1
            if val < best or not len(val_idx):
                best, best_epoch = val, epoch
                _save_state(model, folder / MODEL_FILE)
            _save_state({"config": _defining(cfg), "epoch": epoch, "model": model.state_dict(),
                         "optimizer": optimizer.state_dict(), "rng": rng.bit_generator.state,
                         "torch_rng": torch.get_rng_state(), "batch_rng": batches.generator.get_state(),
                         "history": history, "best": best, "best_epoch": best_epoch, "samples": samples,
                         "train_time": train_time, "train_cpu": train_cpu, "stale_epochs": stale},
                        folder / TRAINING_STATE)
            if _stops(cfg, stale):
                log.info("Early stopping after epoch %d of %d: no validation improvement over %.3g %% in %d epochs; "
                         "keeping epoch %d (validation loss %.4g)", epoch, cfg.epochs, 100 * cfg.min_delta, stale,
                         best_epoch, best)
                break
    finally:
        bar.close()
    np.savez(folder / "loss_history.npz", **{k: np.asarray(v) for k, v in history.items()})
    if cfg.plots:
        plot_losses(history, folder / "losses.png")
    return {"best_epoch": best_epoch, "best_val_loss": best, "epochs_run": len(history["train_loss"]),
            "stopped_early": _stops(cfg, stale), "train_samples_per_s": samples / max(train_time, 1e-9),
            # per second of this process's CPU time (all its threads): what an idle machine would give with one thread
            "train_samples_per_cpu_s": samples / max(train_cpu, 1e-9), "final_train_loss": history["train_loss"][-1]}


def _stops(cfg: DictConfig, stale: int) -> bool:
    """Whether early stopping ends the training after ``stale`` epochs without a large enough improvement."""
    return 0 < cfg.patience <= stale


@torch.no_grad()
def _validate(cfg: DictConfig, model: torch.nn.Module, batches: _Batches, val_idx: np.ndarray) -> float:
    model.eval()
    total = 0.0
    for chunk in _chunks(val_idx, max(cfg.batch_size, PREDICT_BATCH)):
        terms = compute_losses(model, batches(chunk), cfg.l1_reg, cfg.l2_reg)
        total += float(sum(terms.values())) * len(chunk)
    return total / len(val_idx)


def _save_state(state: torch.nn.Module | dict[str, Any], path: Path) -> None:
    """Save a model's weights (or a training state) atomically."""
    tmp = path.with_suffix(".tmp")
    torch.save(state.state_dict() if isinstance(state, torch.nn.Module) else state, tmp)
    os.replace(tmp, path)


def _defining(cfg: DictConfig) -> dict[str, Any]:
    """The keys of a training config that change its result (what a resumed training must share)."""
    return without_added_defaults({k: v for k, v in OmegaConf.to_container(cfg, resolve=True).items()
                                   if k not in ("progress", "plots", "log_folder", "device", "torch_threads")})


def _load_training_state(path: Path, cfg: DictConfig) -> dict[str, Any] | None:
    """The state an interrupted training left in its folder, if it trained this same config."""
    if not path.exists():
        return None
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("config") != _defining(cfg):
        log.warning("%s holds the state of a training with another config: starting over", path.parent)
        return None
    return state


def _fit_pca(cfg: DictConfig, model: PCAModel, dataset: SRLDataset, train_idx: np.ndarray, device: torch.device,
             folder: Path) -> dict[str, Any]:
    frames = np.sort(np.unique(np.concatenate([train_idx, train_idx + 1])))

    def chunks() -> Iterator[torch.Tensor]:
        for chunk in _chunks(frames, 1024):
            yield preprocess(dataset.images[chunk], device)

    tick = time.perf_counter()
    model.fit(chunks, len(frames), seed=cfg.seed)
    _save_state(model, folder / MODEL_FILE)
    return {"best_epoch": 0, "best_val_loss": None,
            "train_samples_per_s": len(frames) / max(time.perf_counter() - tick, 1e-9)}


@torch.no_grad()
def predict_states(model: torch.nn.Module, images: np.ndarray, device: torch.device | str = "cpu",
                   batch_size: int = PREDICT_BATCH) -> np.ndarray:
    """States (N, d) float32 of uint8 images (N, S, S, 3 V), in batches (the last one partial)."""
    model.eval()
    out = [model(preprocess(images[start:start + batch_size], device)).float().cpu().numpy()
           for start in range(0, len(images), batch_size)]
    return np.concatenate(out).astype(np.float32)


def _evaluate(cfg: DictConfig, states: np.ndarray, dataset: SRLDataset, folder: Path) -> dict[str, Any]:
    vector, mean = gtc(states, dataset.ground_truth, dataset.frame_targets)
    labels = gt_labels(dataset.ground_truth.shape[1], dataset.frame_targets.shape[1])
    knn = knn_mse(states, dataset.target_ground_truth, cfg.knn_neighbors, cfg.knn_samples, cfg.knn_seed)
    _write_json(folder / "gt_correlation.json", {"gt_corr": vector, "gt_corr_mean": mean, "labels": labels})
    _write_json(folder / "knn_mse.json", {"knn_mse": round(knn, 5), "n_neighbors": cfg.knn_neighbors,
                                          "n_samples": min(cfg.knn_samples, len(states)), "seed": cfg.knn_seed,
                                          "relative_pos": dataset.relative_pos})
    if cfg.plots:
        plot_states(states, dataset.ground_truth, folder / "learned_states.png",
                    title=f"{cfg.model.name}: GTC_mean {mean:.2f}, KNN-MSE {knn:.3g}",
                    labels=labels[:dataset.ground_truth.shape[1]])
    return {"gt_corr": vector, "gt_corr_mean": mean, "gt_labels": labels, "knn_mse": knn}


# --- command line -------------------------------------------------------------------------------------------------
def main() -> None:
    """``python -m srl.train dataset=<folder> model=<name> [key=value ...]``."""
    import hydra

    from srl.config import SRL_CONF_DIR, register_srl_configs

    register_srl_configs()

    @hydra.main(version_base="1.3", config_path=str(SRL_CONF_DIR), config_name="train")
    def _app(cfg: DictConfig) -> None:
        try:
            folder = train_model(cfg)
        except ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            raise SystemExit(2) from None
        except FloatingPointError as error:
            print(f"error: {error}", file=sys.stderr)
            raise SystemExit(1) from None
        except TrainingInterrupted as stop:
            if stop.resumable:
                log.warning("Interrupted: the training state of the last finished epoch is saved in %s; to resume, "
                            "run the same command with log_folder=%s.", stop.folder, stop.folder)
            else:
                log.warning("Interrupted in the first epoch: nothing to resume in %s.", stop.folder)
            raise SystemExit(130) from None
        print(f"Model folder: {folder}")
        views = " env.kwargs.multi_view=true" if json.loads((folder / EXP_CONFIG).read_text())["multi-view"] else ""
        print(f"Use it:       python main.py srl_model={cfg.model.name} srl_model.path={folder} "
              f"image_size={cfg.image_size}{views}")

    _app()


if __name__ == "__main__":
    main()
