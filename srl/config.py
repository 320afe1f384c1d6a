"""Schemas of ``python -m srl.dataset`` and ``python -m srl.train``, the catalogue of learned models, and where
their files go.

``srl/conf/`` is the config root of both commands (``dataset.yaml`` and ``train.yaml``). The model catalogue,
:data:`MODELS`, is registered with Hydra's ConfigStore: as the ``model`` group of ``python -m srl.train``
(:func:`register_srl_configs`) and, by ``rlzoo.config``, as the spec of each learned ``srl_model`` option of
``python main.py``. Both commands therefore compose the same spec, and no YAML is read by hand. The schemas below
are registered too, so an unknown key or a wrong type fails at compose.

The RL trainer does not run Hydra a second time when it needs a model trained on demand: :func:`train_config`
builds the config ``python -m srl.train model=<spec>`` composes (a test checks the two agree).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from srl.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
#: the config root of ``python main.py`` (its ``env`` group names the envs a dataset can be recorded on)
CONF_DIR = ROOT / "conf"
#: the config root of ``python -m srl.train`` and ``python -m srl.dataset``
SRL_CONF_DIR = Path(__file__).resolve().parent / "conf"
#: environment variable that moves the model cache (default ``<repository>/srl_models``)
CACHE_ENV_VAR = "SRL_MODELS_DIR"


#: the largest seed: numpy's legacy seeding (SB3's ``set_random_seed``, ``np.random.seed``) takes [0, 2**32)
MAX_SEED = 2**32 - 1


def check_seed(key: str, seed: int) -> None:
    """Raise :class:`ConfigError` when ``seed`` (named ``key`` in the message) is outside [0, 2**32 - 1]."""
    if not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"{key}={seed} is out of range: a seed is an integer from 0 to {MAX_SEED} (2**32 - 1, "
                          "the range of numpy's seeding).")


def check_episodes(key: str, episodes: int) -> None:
    """Raise :class:`ConfigError` when a dataset's ``episodes`` (named ``key`` in the message) is below 1."""
    if episodes < 1:
        raise ConfigError(f"{key}={episodes} is invalid: record at least 1 episode.")


def derived_seed(seed: int, offset: int) -> int:
    """``seed + offset`` wrapped into [0, 2**32): the seed of a resumed session (offset: timesteps done), of an
    episode (offset: its index); valid for numpy, torch and gymnasium whatever the base seed."""
    return (seed + offset) % (MAX_SEED + 1)


def cache_root() -> Path:
    """Where trained SRL models live, one folder per env id: ``srl_models/<env id>/<model folder>/``."""
    return Path(os.environ.get(CACHE_ENV_VAR, ROOT / "srl_models")).absolute()


def options(group: str) -> list[str]:
    """The option names of a config group under ``conf/`` (e.g. ``env``)."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


@dataclass
class ModelSpec:
    """What defines a learned model: an entry of :data:`MODELS`, which overrides may change.

    :param name: the option name (recorded in ``exp_config.json``; ``srl_model.path=latest`` matches it).
    :param losses: ordered list of ``name``, ``name:weight`` or ``name:weight:dims`` (see :mod:`srl.losses`);
        ``supervised``, ``pca`` and ``random`` are methods of their own.
    :param state_dim: size of the state vector; null for ``supervised`` (the ground truth's size).
    :param model_type: encoder: ``cnn`` (small 4-layer CNN, fast at 64x64), ``custom_cnn`` (the original's),
        ``mlp`` or ``linear``.
    :param inverse_model_type: inverse-dynamics head, ``linear`` or ``mlp``.
    :param beta: weight of the VAE's KL term.
    :param occlusion_percentage: the DAE's largest occluded fraction of each image axis.
    """

    name: str = MISSING
    losses: list[str] = MISSING
    state_dim: int | None = 200
    model_type: str = "cnn"
    inverse_model_type: str = "linear"
    beta: float = 1.0
    occlusion_percentage: float = 0.5


@dataclass
class TrainConfig:
    """``python -m srl.train``: one model from one dataset (``srl/conf/train.yaml``); these are its defaults.

    :param dataset: dataset folder (a path, or a name under ``data/``).
    :param model: what the model is (the ``model`` group: an entry of :data:`MODELS`).
    :param image_size: side of the images the model sees (pixels); the dataset's images are resized to it.
    :param epochs: passes over the training samples (0: save the initial model); the most when ``patience`` is set.
    :param batch_size: transitions per minibatch.
    :param learning_rate: Adam's step size (with ``lr_schedule=one_cycle``, its peak).
    :param lr_schedule: how the step size changes over the training, per minibatch: ``constant`` (the default,
        ``learning_rate`` throughout), ``cosine`` (from ``learning_rate`` down to 0 along a half cosine over all
        ``epochs``) or ``one_cycle`` (from ``learning_rate / 10`` up to ``learning_rate`` linearly over the first
        15 % of the minibatches, then down to 0 along a half cosine: Smith and Topin 2019's one-cycle policy). The schedule
        spans ``epochs``: early stopping ends it before the end.
    :param encoder_lr_scale: the encoder's step size (its trunk, state head and VAE log-variance head) as a multiple
        of ``learning_rate`` (0.5: half), which the decoder and the loss heads (inverse, forward, reward) keep: two Adam
        parameter groups under the same schedule (1: one step size for all, the original's). A model whose decoder
        shares the encoder with an inverse head learns the target's position in its reconstruction block at a large
        step size only with the encoder slower than the heads (README, Performance, "SRL training on demand").
    :param val_size: fraction of the transitions held out for validation (best-validation checkpoint).
    :param patience: early stopping: stop after this many epochs in a row without a validation-loss improvement
        larger than ``min_delta`` (0: off, all ``epochs`` run). The model kept is the best-validation epoch's either way.
    :param min_delta: the smallest improvement that resets ``patience``, as a fraction of the best validation loss so
        far (0.01: an epoch must lower it by more than 1 %); a fraction, because the losses' scales differ by model.
    :param training_set_size: use only the first N transitions (-1: all), as the original.
    :param seed: seed of torch, numpy, the split and the DAE noise.
    :param l1_reg: weight of the L1 norm of the weights. :param l2_reg: weight of their L2 norm.
    :param knn_samples: query points of KNN-MSE. :param knn_neighbors: k of KNN-MSE. :param knn_seed: its seed.
    :param log_folder: where the model goes (null: ``srl_models/<env id>/<date>_<model>_ST_DIM<d>_SEED<s>``).
    :param device: torch device (``cpu``, ``cuda``, ``auto``).
    :param torch_threads: torch CPU threads (0: leave torch's setting, all cores in a new process). 1 by default:
        small convolutions on minibatches of 32 gain little from more, and threads that spin while other processes
        hold the cores make a busy machine several times slower.
    :param progress: show progress bars.
    :param plots: write ``learned_states.png`` and ``losses.png``.
    """

    dataset: str = MISSING
    model: ModelSpec = MISSING
    image_size: int = 64
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 0.001
    lr_schedule: str = "constant"
    encoder_lr_scale: float = 1.0
    val_size: float = 0.2
    patience: int = 0
    min_delta: float = 0.0
    training_set_size: int = -1
    seed: int = 1
    l1_reg: float = 0.0
    l2_reg: float = 0.0
    knn_samples: int = 2000
    knn_neighbors: int = 5
    knn_seed: int = 1
    log_folder: str | None = None
    device: str = "cpu"
    torch_threads: int = 1
    progress: bool = True
    plots: bool = True


@dataclass
class DatasetConfig:
    """``python -m srl.dataset``: record a dataset (``srl/conf/dataset.yaml``); these are its defaults.

    :param env: an option of ``conf/env`` (e.g. ``MobileRobot``), or a gymnasium id.
    :param episodes: episodes to record.
    :param n_workers: processes recording in parallel (the original ``--num-cpu``).
    :param seed: base seed; episode ``i`` is seeded from it and ``i``, whatever the number of workers.
    :param image_size: side of the stored images (pixels).
    :param name: dataset folder name under ``save_path`` (null: ``<env>_seed<seed>``).
    :param save_path: parent folder of datasets.
    :param force: overwrite an existing dataset folder.
    :param random_target: draw the target at every reset.
    :param shape_reward: dense reward.
    :param control: the env's control mode (``discrete`` for the SRL losses that need action classes).
    :param max_steps: cut episodes to this many steps (null: the env's own limit).
    :param agent: a run folder of ``python main.py`` whose agent acts instead of the random policy.
    :param save_jpg: also write the original's per-frame JPEGs (``record_XXX/frameXXXXXX.jpg``).
    :param renderer: how the images are made: ``composite`` (the env's fastest renderer) or ``pybullet`` (the
        reference); recorded in ``dataset_config.json``.
    :param progress: show a progress bar.
    :param env_kwargs: more env constructor arguments (beyond the ``conf/env`` option's).
    """

    env: str = "MobileRobot"
    episodes: int = 50
    n_workers: int = 2
    seed: int = 0
    image_size: int = 64
    name: str | None = None
    save_path: str = "data"
    force: bool = False
    random_target: bool = False
    shape_reward: bool = False
    control: str = "discrete"
    max_steps: int | None = None
    agent: str | None = None
    save_jpg: bool = False
    renderer: str = "composite"
    progress: bool = True
    env_kwargs: dict[str, Any] = field(default_factory=dict)


#: the values of ``TrainConfig.lr_schedule``
LR_SCHEDULES = ("constant", "cosine", "one_cycle")
#: ``lr_schedule=one_cycle``: the share of the minibatches that warm the step size up, and its start (a fraction of
#: ``learning_rate``)
ONE_CYCLE_WARMUP = 0.15
ONE_CYCLE_START = 0.1


#: training keys added after models and training states were first saved, with the value that trains as before the
#: key existed: a config at that value is compared and hashed without the key (:func:`without_added_defaults`), so
#: that on-demand models cached and trainings interrupted before are still found
TRAIN_KEYS_ADDED: dict[str, Any] = {"encoder_lr_scale": 1.0}


def without_added_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """A training config (a dict) without the keys of :data:`TRAIN_KEYS_ADDED` that hold their added value."""
    return {k: v for k, v in config.items() if k not in TRAIN_KEYS_ADDED or v != TRAIN_KEYS_ADDED[k]}


def check_lr_schedule(schedule: str, key: str = "lr_schedule") -> None:
    """Raise a :class:`ConfigError` naming ``schedule`` (the value of ``key``) and the valid ones unless it is one of
    :data:`LR_SCHEDULES`."""
    if schedule not in LR_SCHEDULES:
        raise ConfigError(f"{key}={schedule!r} does not exist; valid schedules: {', '.join(LR_SCHEDULES)}.")


def check_device(key: str, name: str) -> None:
    """Raise a :class:`ConfigError` naming ``name`` (the value of ``key``) unless it is ``auto`` (CUDA when there is
    one, else the CPU), ``cpu`` or a CUDA device this machine's torch has (``cuda``, ``cuda:<index>``)."""
    import torch

    valid = "auto, cpu, cuda or cuda:<index>"
    if name == "auto":
        return
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(f"{key}={name!r} is not a torch device; valid: {valid}.") from None
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"{key}={name!r} is not supported; valid: {valid}.")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{key}={name} needs CUDA, which this machine's torch does not have; use {key}=cpu (or "
                          "auto, which picks CUDA when there is one).")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"{key}={name}: this machine has {torch.cuda.device_count()} CUDA device(s), numbered from "
                          "0.")


def scheduled_learning_rate(learning_rate: float, schedule: str, step: int, total_steps: int) -> float:
    """The step size of minibatch ``step`` (0-based) of ``total_steps`` under ``schedule`` (``TrainConfig``'s
    ``lr_schedule``); a function of the step alone, so that a resumed training continues the same schedule."""
    check_lr_schedule(schedule)
    if schedule == "constant":
        return learning_rate
    fraction = min(max(step / max(total_steps, 1), 0.0), 1.0)
    if schedule == "cosine":
        return learning_rate * 0.5 * (1.0 + math.cos(math.pi * fraction))
    if fraction < ONE_CYCLE_WARMUP:  # one_cycle
        return learning_rate * (ONE_CYCLE_START + (1.0 - ONE_CYCLE_START) * fraction / ONE_CYCLE_WARMUP)
    fraction = (fraction - ONE_CYCLE_WARMUP) / (1.0 - ONE_CYCLE_WARMUP)
    return learning_rate * 0.5 * (1.0 + math.cos(math.pi * fraction))


#: The learned models, by option name (``python -m srl.train model=<name>``, ``python main.py srl_model=<name>``).
#: A new model is one entry here (and, for a new loss, its term in :mod:`srl.losses`).
MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in [
    # reconstruction of the image through a state_dim bottleneck (the paper's Auto-Encoder row)
    ModelSpec("autoencoder", ["autoencoder"]),
    # variational auto-encoder; beta scales the KL term (beta-VAE)
    ModelSpec("vae", ["vae"], beta=1.0),
    # denoising auto-encoder: the encoder sees images with a random rectangle occluded
    ModelSpec("dae", ["dae"], occlusion_percentage=0.5),
    # inverse dynamics: predict a_t from (s_t, s_t+1); learns what the agent controls
    ModelSpec("inverse", ["inverse"], inverse_model_type="linear"),
    # forward dynamics: predict s_t+1 from (s_t, a_t); alone it can collapse to constant states
    ModelSpec("forward", ["forward"]),
    # reward prediction: classify r_t > 0 from (s_t, s_t+1)
    ModelSpec("reward", ["reward"]),
    # the 4 robotic priors (Jonschkowski & Brock 2015); a small state, as the toolbox's priors models
    ModelSpec("robotic_priors", ["priors"], state_dim=3),
    # regress the ground truth (relative to the target when the dataset's relative_pos) from images
    ModelSpec("supervised", ["supervised"], state_dim=None),
    # principal components of the preprocessed images (the toolbox's pca_ST_DIM models)
    ModelSpec("pca", ["pca"], state_dim=32),
    # random features: the encoder keeps its seeded random initialisation (never trained)
    ModelSpec("random", ["random"]),
    # the paper's SRL Combination: reconstruction 1 + reward 1 + inverse 2 on one 200-d state
    ModelSpec("srl_combination", ["autoencoder:1", "reward:1", "inverse:2"]),
    # the paper's SRL Splits: reconstruction + reward on dims 0-197, inverse on dims 198-199 (weights 1/1/2)
    ModelSpec("srl_splits", ["autoencoder:1:198", "reward:1:-1", "inverse:2:2"]),
    # one split per loss: reconstruction 196 dims, reward 2, inverse 2 (the toolbox's ablation; sizes are ours)
    ModelSpec("srl_3_splits", ["autoencoder:1:196", "reward:1:2", "inverse:2:2"]),
    # SRL Splits with forward dynamics on the inverse split (the toolbox's ablation; its recipe is not recorded)
    ModelSpec("srl_split_forward", ["autoencoder:1:198", "reward:1:-1", "inverse:2:2", "forward:1:-1"]),
    # the original's combinations, one state: reconstruction 1 + forward 1, + inverse 2, + reward 1
    ModelSpec("autoencoder_forward", ["autoencoder:1", "forward:1"]),
    ModelSpec("autoencoder_inverse", ["autoencoder:1", "inverse:2"]),
    ModelSpec("autoencoder_reward", ["autoencoder:1", "reward:1"]),
    # reward 1 + inverse 2 on one state
    ModelSpec("reward_inverse", ["reward:1", "inverse:2"]),
    # as the original: random adds no term, so this is inverse training under another name
    ModelSpec("random_inverse", ["random", "inverse:2"]),
    # multi-view SRL (two cameras, Kuka envs with multi_view=true): the time-contrastive triplet loss (Sermanet et
    # al. 2018), anchor view 1 at t, positive view 2 at t, negative view 1 at another time of the episode; the state
    # is view 1's embedding; 10 dims, the size of the original toolbox's multi_view_srl model
    ModelSpec("multi_view_srl", ["triplet"], state_dim=10),
]}


def register_srl_configs() -> None:
    """Register the schemas of ``srl/conf`` and the ``model`` group, one option per :data:`MODELS` entry.

    Only ``python -m srl.train`` and ``python -m srl.dataset`` call this: in ``python main.py`` a ``model`` group
    would be listed among the run's groups.
    """
    store = ConfigStore.instance()
    store.store(name="base_srl_train", node=TrainConfig)
    store.store(name="base_srl_dataset", node=DatasetConfig)
    for name, spec in MODELS.items():
        store.store(group="model", name=name, node=spec)


def model_spec(name: str) -> ModelSpec:
    """The catalogue's spec of ``name``; a clear error for an unknown name."""
    if name not in MODELS:
        raise ConfigError(f"srl model {name!r} does not exist in the catalogue (srl.config.MODELS); available "
                          f"models: {', '.join(sorted(MODELS))}.")
    return MODELS[name]


def train_config(model: str | ModelSpec | DictConfig, dataset: str = MISSING,
                 overrides: dict[str, Any] | None = None) -> DictConfig:
    """The config ``python -m srl.train dataset=<dataset> model=<model> <overrides>`` composes.

    :param model: a name of :data:`MODELS`, or a spec (the ``srl_model.spec`` a run composed).
    :param overrides: dotted keys to values, e.g. ``{"epochs": 1, "model.state_dim": 10}``.
    """
    cfg = OmegaConf.structured(TrainConfig)
    cfg.model = model_spec(model) if isinstance(model, str) else model
    cfg.dataset = dataset
    for key, value in (overrides or {}).items():
        try:
            OmegaConf.update(cfg, key, value, merge=False)
        except OmegaConfBaseException as error:
            raise ConfigError(f"cannot set {key}={value!r} in the SRL training config: {error.msg}") from None
    return cfg


def config_hash(payload: Any, length: int = 10) -> str:
    """A short stable hash of a JSON-serialisable description (sorted keys)."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]
