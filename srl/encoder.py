"""Learned state representations in RL: a batched encoder wrapper and the model cache that trains on demand.

:class:`SRLEncoder` is a ``VecEnvWrapper`` that runs in the learner process: at every step it encodes the images
of all envs (and the terminal observations of the envs whose episode just ended) in **one** batched forward pass,
turning uint8 (S, S, 3 x views) pixels into float32 states of shape (state_dim,). The original toolbox ran the model in a
separate process fed by one queue per env; there is neither here.

:func:`make_encoder` is what the RL trainer puts into ``envs.vec.EnvFactory.encoder``. It finds the model
``srl_model`` asks for:

* ``srl_model.path=<folder>`` (or a file inside it, e.g. ``.../srl_model.pth``): that model;
* ``srl_model.path=latest``: the newest model of this ``srl_model.model`` trained for the env under
  ``srl_models/<env id>/`` (the original ``--latest``, which took the newest model whatever its kind);
* ``srl_model.path=null`` (default): the cached model for this env and config, recorded and trained on demand
  the first time (:func:`ensure_model`), under ``srl_models/<env id>/<model>_<hash>/``, with its dataset under
  ``srl_models/<env id>/datasets/<hash>/``. A file lock makes parallel sweep jobs wait for one training instead
  of training twice. ``SRL_MODELS_DIR`` moves the cache.

When a record file is given (the run folder's, which ``rlzoo.run_folder`` names), the model folder used is written
to it, and a resumed run or a replay reads it back, so ``latest`` cannot change under a run.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from omegaconf import OmegaConf
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn

from srl.config import MODELS, cache_root, check_episodes, config_hash, train_config, without_added_defaults
from srl.errors import ConfigError
from srl.inference import inference_encoder
from srl.losses import has_decoder, parse_losses
from srl.models import EXP_CONFIG, MODEL_FILE, load_model, read_exp_config

log = logging.getLogger(__name__)
#: keys of the SRL training config (``srl.config.TrainConfig``) that do not change the trained model (left out
#: of the cache hash)
_NOT_DEFINING = ("dataset", "log_folder", "device", "torch_threads", "progress", "plots", "knn_samples",
                 "knn_neighbors", "knn_seed")
#: env kwargs that recording sets itself
#: (on-demand datasets are recorded with the fast renderer whatever the run's: its images agree with the reference's
#: within the tested tolerance, so one cached model serves runs of either renderer)
_RECORDING_OWN = ("observation", "image_size", "render_mode", "gui", "renderer")
#: how a model with a decoder (an autoencoder, dae or vae loss) is trained on demand, where ``python -m srl.train``
#: (``srl.config.TrainConfig``) differs: the run waits for it, so the epochs are capped (8, about 2.5 minutes with
#: recording on 2 idle cores), at twice the default's batch (2 threads scale better on it) and under a one-cycle
#: schedule (a peak step size 8 times the default's, decayed to 0 by the last epoch), which converges further in them
#: than the default's constant step size; no early stopping, which would cut the schedule before its decay
#: (``bench/srl_on_demand.py`` and trainings of seeds 0-5 measured these against the 30-epoch default: the
#: autoencoder's, the VAE's and, with :data:`ON_DEMAND_BY_LOSS`, srl_splits' GTC_mean and KNN-MSE within 0.05 of it;
#: README, Performance, "SRL training on demand")
ON_DEMAND_TRAINING: dict[str, Any] = {"epochs": 8, "batch_size": 64, "learning_rate": 0.008,
                                      "lr_schedule": "one_cycle", "patience": 0}
#: where a model with a decoder and one of these losses is trained on demand otherwise:
#: - vae: at a larger peak step size the VAE's means shrink and its KNN-MSE with them (0.33 with a peak of 0.008, 0.31
#:   with 0.003, 0.026 with 0.001; the default's 0.008), so it keeps the default's step size under the same schedule;
#: - inverse: at the peak step size the inverse head's gradients steer the encoder it shares with the decoder, which
#:   then loses the target's position (srl_splits' KNN-MSE 0.14-0.53 on seeds 0-2, its reconstruction block alone up to
#:   0.74); with the encoder at half the heads' and decoder's step size, a mean of 0.147 over seeds 0-5 against the
#:   30-epoch default's 0.134 (a quarter: 0.220 over seeds 0-4; README, Performance, "SRL training on demand")
ON_DEMAND_BY_LOSS: dict[str, dict[str, Any]] = {"vae": {"learning_rate": 0.001}, "inverse": {"encoder_lr_scale": 0.5}}
#: how a model without a decoder (inverse, forward, reward, priors, triplet, supervised losses) is trained on demand:
#: the default's own recipe (batch 32, constant step size 0.001, best-validation checkpoint) for 16 of its 30
#: epochs, about 2.3 minutes with recording on 2 idle cores (30 epochs took 255 s). On inverse's KNN-MSE over seeds
#: 0-13 this recipe is 0.048 above the 30-epoch default's mean (standard error 0.032), GTC_mean 0.005 below; the
#: one-cycle recipe of :data:`ON_DEMAND_TRAINING` was 0.13 above it over seeds 1-4 (README, Performance, "SRL
#: training on demand")
ON_DEMAND_DECODER_FREE: dict[str, Any] = {"epochs": 16, "batch_size": 32, "learning_rate": 0.001,
                                          "lr_schedule": "constant", "patience": 0}
#: random-policy episodes of an on-demand dataset (``srl_model.episodes``' default: 80 x 251 steps, about the paper's
#: 20,000 frames)
ON_DEMAND_EPISODES = 80
#: the most torch threads of an on-demand training (see :func:`on_demand_threads`)
ON_DEMAND_THREADS = 2


def on_demand_threads(seconds: float = 0.5) -> int:
    """Torch threads for an on-demand training: up to :data:`ON_DEMAND_THREADS`, one per core that other processes
    leave free (idle over the next ``seconds``, rounded), at least 1.

    The training runs before RL starts, so on a machine of its own the cores are free, and 2 threads train 1.3-2x
    faster than 1 on 2 idle cores (more on the larger minibatches); on cores other processes hold, threads that wait for each other make it several
    times slower than 1 thread (README, Performance).
    """
    return max(1, min(ON_DEMAND_THREADS, round(_free_cores(seconds))))


def _free_cores(seconds: float) -> float:
    """Cores idle over the next ``seconds`` (from Linux's ``/proc/stat``); elsewhere, cores minus the 1-minute load
    average (which also counts this process's own recent work)."""
    cores = os.cpu_count() or 1
    try:
        idle_before, total_before = _cpu_ticks()
        time.sleep(seconds)
        idle_after, total_after = _cpu_ticks()
    except OSError:
        return cores - os.getloadavg()[0]
    total = total_after - total_before
    return cores * (idle_after - idle_before) / total if total > 0 else float(cores)


def _cpu_ticks() -> tuple[int, int]:
    """Idle (idle + iowait) and total CPU ticks of all cores since boot (the ``cpu`` line of ``/proc/stat``)."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return ticks[3] + ticks[4], sum(ticks)


class SRLEncoder(VecEnvWrapper):
    """Encode the pixel observations of every env with a trained SRL model, in one batched forward pass.

    :param venv: a VecEnv of pixel observations, uint8 of shape (image_size, image_size, 3).
    :param model_folder: folder of the trained model (``exp_config.json`` + ``srl_model.pth``).
    :param model: the loaded model (None: load it from ``model_folder``).
    :param device: torch device of the forward pass.
    """

    def __init__(self, venv: VecEnv, model_folder: Path | str, model: torch.nn.Module | None = None,
                 device: str = "cpu") -> None:
        self.model_folder = str(model_folder)
        self.device = device
        if model is None:
            model, _ = load_model(self.model_folder, device)
        self.model = model.eval()
        self._encode = inference_encoder(self.model, device)
        self.state_dim = int(model.state_dim)
        self.image_size = int(model.image_size)
        _check_pixels(venv.observation_space, self.image_size, self.model_folder, int(getattr(model, "in_channels", 3)))
        space = gym.spaces.Box(-np.inf, np.inf, (self.state_dim,), dtype=np.float32)
        super().__init__(venv, observation_space=space)

    @torch.no_grad()
    def encode(self, images: np.ndarray) -> np.ndarray:
        """States (N, state_dim) float32 of uint8 images (N, S, S, 3 x views), in one forward pass."""
        images = np.asarray(images)
        tensor = torch.from_numpy(images if images.flags.writeable else images.copy()).to(self.device)
        return self._encode(tensor).float().cpu().numpy()

    def reset(self) -> np.ndarray:
        return self.encode(self.venv.reset())

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, dones, infos = self.venv.step_wait()
        ended = [i for i, info in enumerate(infos) if info.get("terminal_observation") is not None]
        images = obs if not ended else np.concatenate([obs, np.stack([infos[i]["terminal_observation"]
                                                                      for i in ended])])
        states = self.encode(images)
        for k, i in enumerate(ended):
            infos[i]["terminal_observation"] = states[len(obs) + k]
        return states[:len(obs)], rewards, dones, infos

    # --- pickled without venv and weights, like VecNormalize; the model reloads from its folder ----------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key in ("venv", "model", "_encode", "class_attributes"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.model, _ = load_model(self.model_folder, self.device)
        self._encode = inference_encoder(self.model.eval(), self.device)


def _check_pixels(space: gym.Space, image_size: int, folder: str, channels: int = 3) -> None:
    shape = getattr(space, "shape", None)
    if not isinstance(space, gym.spaces.Box) or shape is None or len(shape) != 3 or shape[2] % 3:
        raise ConfigError(f"the SRL model {folder} encodes camera images, but the env observes {space}; learned "
                          "srl_models need observation: pixels.")
    if shape[2] != channels:
        raise ConfigError(f"the SRL model {folder} encodes {channels // 3} camera view(s) per image, but the env "
                          f"renders {shape[2] // 3}: set env.kwargs.multi_view={str(channels > 3).lower()} (a "
                          "multi-view model needs the Kuka envs' two cameras).")
    if shape[0] != image_size or shape[1] != image_size:
        raise ConfigError(f"the SRL model {folder} was trained on {image_size}x{image_size} images, but the env "
                          f"renders {shape[0]}x{shape[1]}: run with image_size={image_size}, or use a model "
                          f"trained at {shape[0]} (srl_model.path=null trains one).")


# --- finding the model --------------------------------------------------------------------------------------------
def _get(cfg: Any, key: str, default: Any = None) -> Any:
    value = cfg.get(key, default) if hasattr(cfg, "get") else getattr(cfg, key, default)
    return default if value is None else value


def make_encoder(srl_model_cfg: Any, env_id: str, image_size: int, seed: int, env_kwargs: dict[str, Any] | None = None,
                 record: Path | str | None = None, device: str = "cpu") -> Callable[[VecEnv], VecEnv] | None:
    """The ``EnvFactory.encoder`` of a run: wraps the raw VecEnv in an :class:`SRLEncoder` of the right model.

    Returns None for observations the env produces itself (``srl_model.model`` null: ground_truth, raw_pixels...).

    :param srl_model_cfg: the run's ``srl_model`` config (``model``, ``spec``, ``path``, ...).
    :param env_id: the run's gymnasium id. :param image_size: the run's image size (pixels).
    :param seed: the run's seed (seeds the on-demand dataset and training when ``srl_model.seed`` is null).
    :param env_kwargs: the run's env kwargs (``random_target`` ... shape the on-demand dataset).
    :param record: the run's record of its SRL model (a JSON file): the model used is written there, and read
        back when already recorded.
    :param device: torch device of the encoder (``cpu``, ``cuda``, ``auto``).
    :raises ConfigError: no such model, model of another env or image size, bad loss list.
    """
    name = _get(srl_model_cfg, "model")
    if not name:
        return None
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    folder = resolve_model(srl_model_cfg, env_id, image_size, seed, env_kwargs, record)
    model, exp = load_model(folder, device)
    trained_on = exp.get("env-id")
    if trained_on is not None and trained_on != env_id:
        raise ConfigError(f"the SRL model {folder} was trained on {trained_on}, not on env {env_id}; use a model "
                          f"trained on {env_id} (srl_model.path=latest, or null to train one on demand).")
    if int(exp["image-size"]) != image_size:
        raise ConfigError(f"the SRL model {folder} was trained on {exp['image-size']}x{exp['image-size']} images, "
                          f"but image_size={image_size}: run with image_size={exp['image-size']}, or use a model "
                          f"trained at {image_size} (srl_model.path=null trains one).")
    if exp.get("model-name") not in (None, name):
        log.warning("srl_model=%s but %s is a %s model; its exp_config.json decides what it is", name, folder,
                    exp.get("model-name"))
    ignored = _ignored_training_keys(srl_model_cfg, exp) if _get(srl_model_cfg, "path") else []
    if ignored:
        log.warning("srl_model.path=%s names a trained model, so %s (what an on-demand training would use, set "
                    "differently from that model's) %s ignored: the model's folder defines it",
                    _get(srl_model_cfg, "path"), ", ".join(ignored), "is" if len(ignored) == 1 else "are")
    trained_renderer = (exp.get("dataset-config") or {}).get("renderer")
    run_renderer = (env_kwargs or {}).get("renderer")
    if trained_renderer and run_renderer and trained_renderer != run_renderer:
        log.warning("the SRL model %s was trained on images of the %s renderer, and this run renders with %s: the "
                    "two agree within the tested tolerance (README, 'Camera images'), but its states are not the "
                    "ones of its training images", folder, trained_renderer, run_renderer)
    if record is not None and not Path(record).exists():
        Path(record).parent.mkdir(parents=True, exist_ok=True)
        Path(record).write_text(json.dumps({"path": str(folder), "model": name, "env_id": env_id,
                                            "state_dim": exp["state-dim"], "losses": exp.get("loss-specs")}, indent=2))
    log.info("SRL model %s: %s (losses %s, state dim %d, %dx%d images)", name, folder,
             " ".join(exp.get("loss-specs") or exp["losses"]), exp["state-dim"], image_size, image_size)

    def wrap(venv: VecEnv) -> VecEnv:
        return SRLEncoder(venv, folder, model=model, device=device)

    return wrap


def resolve_model(srl_model_cfg: Any, env_id: str, image_size: int, seed: int,
                  env_kwargs: dict[str, Any] | None = None, record: Path | str | None = None) -> Path:
    """The model folder ``srl_model`` designates (see the module docstring); trains it when needed."""
    if record is not None and Path(record).exists():
        recorded = Path(json.loads(Path(record).read_text())["path"])
        read_exp_config(recorded)
        return recorded
    path = _get(srl_model_cfg, "path")
    if path == "latest":
        return latest_model(env_id, _get(srl_model_cfg, "model"))
    if path:
        folder = Path(path)
        if folder.is_file():
            folder = folder.parent
        if not folder.exists():
            raise ConfigError(f"srl_model.path={path} does not exist; give a model folder of python -m srl.train, "
                              "latest (the newest for this env), or null (train one on demand).")
        read_exp_config(folder)
        return folder.absolute()
    return ensure_model(srl_model_cfg, env_id, image_size, seed, env_kwargs)


def _ignored_training_keys(srl_model_cfg: Any, exp: dict[str, Any]) -> list[str]:
    """The keys of ``srl_model`` that only an on-demand training uses, set away from their defaults (the catalogue's
    spec of the model, :data:`ON_DEMAND_EPISODES` episodes, null seed, epochs and batch size) and away from what
    the model of ``exp`` (its ``exp_config.json``) was trained with: what a run given that model ignores."""
    trained = {"seed": exp.get("seed"), "epochs": exp.get("epochs"), "batch_size": exp.get("batch-size"),
               "episodes": (exp.get("dataset-config") or {}).get("episodes")}
    keys = [f"srl_model.{key}" for key in ("seed", "epochs", "batch_size")
            if _get(srl_model_cfg, key) not in (None, trained[key])]
    if _get(srl_model_cfg, "episodes", ON_DEMAND_EPISODES) not in (ON_DEMAND_EPISODES, trained["episodes"]):
        keys.append("srl_model.episodes")
    spec, name = _get(srl_model_cfg, "spec"), _get(srl_model_cfg, "model")
    if spec is not None and name in MODELS:
        default = OmegaConf.to_container(OmegaConf.structured(MODELS[name]))
        given = OmegaConf.to_container(OmegaConf.create(spec))
        trained_spec = {key: exp.get(key.replace("_", "-")) for key in given}
        trained_spec["name"] = exp.get("model-name")
        if _loss_specs(given.get("losses"), given.get("state_dim")) == exp.get("loss-specs"):
            trained_spec["losses"] = given["losses"]
        keys += [f"srl_model.spec.{key}" for key, value in given.items()
                 if value != default.get(key) and value != trained_spec.get(key)]
    return keys


def _loss_specs(losses: Any, state_dim: int | None) -> list[str] | None:
    """``losses`` as a model's ``exp_config.json`` writes them (``name:weight[:dims]``); None if they do not parse."""
    try:
        return [str(spec) for spec in parse_losses(list(losses or []), state_dim)]
    except ConfigError:
        return None


def latest_model(env_id: str, name: str | None = None) -> Path:
    """The most recently trained model folder for ``env_id`` (of model ``name`` when given)."""
    root = cache_root() / env_id
    found = []
    for config in root.glob(f"*/{EXP_CONFIG}"):
        folder = config.parent
        if not (folder / MODEL_FILE).exists() or ".tmp-" in folder.name:
            continue
        try:
            exp = json.loads(config.read_text())
        except json.JSONDecodeError:
            continue
        if exp.get("status", "trained") != "trained" or (name and exp.get("model-name") != name):
            continue
        found.append(((folder / MODEL_FILE).stat().st_mtime, folder))
    if not found:
        what = f"{name} model" if name else "model"
        others = sorted({p.parent.name for p in root.glob(f"*/{EXP_CONFIG}")})
        listing = f" (models there: {', '.join(others)})" if others else ""
        raise ConfigError(f"srl_model.path=latest: no trained {what} for {env_id} under {root}{listing}; train one "
                          f"with python -m srl.train, or set srl_model.path=null to train it on demand.")
    return max(found)[1]


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created if needed), held for the ``with`` block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def on_demand_configs(srl_model_cfg: Any, env_id: str, image_size: int, seed: int,
                      env_kwargs: dict[str, Any] | None = None) -> tuple[dict[str, Any], Any]:
    """What defines the on-demand dataset (a dict) and the training config (its ``dataset`` still unset).

    The training config is ``python -m srl.train``'s with :data:`ON_DEMAND_TRAINING` (capped epochs, a one-cycle
    schedule) for a model with a decoder, and for one with a loss of :data:`ON_DEMAND_BY_LOSS` too, that loss's
    settings; :data:`ON_DEMAND_DECODER_FREE` (the default's recipe, fewer epochs) for a model without a decoder
    (:func:`ensure_model` sets the torch threads when it trains); the run's ``srl_model.epochs`` and
    ``srl_model.batch_size``, when set, override those two keys (a schedule then spans the epochs given).
    """
    srl_seed = _get(srl_model_cfg, "seed", seed)
    kwargs = {k: v for k, v in (env_kwargs or {}).items() if k not in _RECORDING_OWN}
    kwargs["control"] = "discrete"  # action classes for the SRL losses, whatever the agent's action space
    dataset = {"env_id": env_id, "env_kwargs": dict(sorted(kwargs.items())),
               "episodes": _get(srl_model_cfg, "episodes", ON_DEMAND_EPISODES), "seed": srl_seed,
               "image_size": image_size, "policy": "random"}
    # a run's config composes the spec; one saved before specs were composed names a catalogue model
    spec = _get(srl_model_cfg, "spec") or _get(srl_model_cfg, "model")
    model = train_config(spec).model
    losses = {loss.name for loss in parse_losses(list(model.losses), model.state_dim)}
    decoder = has_decoder(losses)
    recipe = ON_DEMAND_TRAINING if decoder else ON_DEMAND_DECODER_FREE
    overrides: dict[str, Any] = {**recipe, "image_size": image_size, "seed": srl_seed, "progress": True}
    for loss, settings in ON_DEMAND_BY_LOSS.items():
        if decoder and loss in losses:
            overrides.update(settings)
    for key in ("epochs", "batch_size"):
        if _get(srl_model_cfg, key) is not None:
            overrides[key] = _get(srl_model_cfg, key)
    return dataset, train_config(spec, overrides=overrides)


def _run_key(key: str) -> str:
    """The run's name of an on-demand training's config key (``model.beta`` -> ``srl_model.spec.beta``, ``epochs``
    -> ``srl_model.epochs``), for error messages; a key the run cannot set is marked as the on-demand training's."""
    if key.startswith("model."):
        return f"srl_model.spec.{key.removeprefix('model.')}"
    if key in ("epochs", "batch_size", "seed"):
        return f"srl_model.{key}"
    return f"{key} (of the on-demand training)"


def ensure_model(srl_model_cfg: Any, env_id: str, image_size: int, seed: int,
                 env_kwargs: dict[str, Any] | None = None) -> Path:
    """The cached model for this env and config; records its dataset and trains it first when missing.

    The model is trained with the run's ``srl_model.spec``. The cache key hashes the dataset (env, env kwargs,
    episodes, seed, image size) and every training key that changes the model (the spec: losses, state dim,
    architecture; epochs, batch size, learning rate, seed, ...).
    """
    from srl.losses import check_views
    from srl.train import TrainingInterrupted, check_config, train_model

    dataset_desc, cfg = on_demand_configs(srl_model_cfg, env_id, image_size, seed, env_kwargs)
    specs = check_config(cfg, _run_key)  # bad keys fail before any recording, named as the run names them
    check_episodes("srl_model.episodes", dataset_desc["episodes"])
    check_views(specs, 2 if dataset_desc["env_kwargs"].get("multi_view") else 1, f"env {env_id}")
    train_desc = without_added_defaults({k: v for k, v in OmegaConf.to_container(cfg).items()
                                         if k not in _NOT_DEFINING})
    dataset_hash = config_hash(dataset_desc)
    name = cfg.model.name
    folder = cache_root() / env_id / f"{name}_{config_hash({'dataset': dataset_hash, 'train': train_desc})}"
    if (folder / MODEL_FILE).exists():
        log.info("Using the cached SRL model %s", folder)
        return folder
    with file_lock(folder.with_name(f".{folder.name}.lock")):
        if (folder / MODEL_FILE).exists():  # another job trained it while this one waited
            log.info("Using the SRL model %s (trained meanwhile by another job)", folder)
            return folder
        log.info("No trained %s model for %s with this config (%s): recording a dataset of %d random-policy "
                 "episodes and training it once; cached in %s for later runs", name, env_id,
                 ", ".join(str(s) for s in cfg.model.losses), dataset_desc["episodes"], folder)
        dataset = ensure_dataset(dataset_desc, dataset_hash)
        cfg.dataset = str(dataset)
        # under the lock no other process trains this model: a temporary folder of another process is what a killed
        # one left; the one of this name holds an interrupted training, which resumes after its last epoch
        tmp = folder.with_name(f"{folder.name}.tmp-training")
        for stale in folder.parent.glob(f"{folder.name}.tmp-*"):
            if stale != tmp:
                log.info("Removing %s, left by an interrupted training", stale)
                shutil.rmtree(stale, ignore_errors=True)
        cfg.torch_threads = on_demand_threads()  # measured now: the recording's workers have ended
        try:
            train_model(cfg, log_folder=tmp, key=_run_key)
        except TrainingInterrupted as stop:
            log.warning("Interrupted the %s training of %s%s", name, env_id,
                        ": the same command resumes it after its last finished epoch" if stop.resumable
                        else " in its first epoch: the same command starts it again")
            raise
        exp = json.loads((tmp / EXP_CONFIG).read_text())
        exp["log-folder"], exp["experiment-name"] = str(folder), folder.name
        (tmp / EXP_CONFIG).write_text(json.dumps(exp, indent=2, sort_keys=True, default=str))
        os.rename(tmp, folder)
    return folder


def ensure_dataset(dataset_desc: dict[str, Any], dataset_hash: str) -> Path:
    """The cached on-demand dataset ``dataset_desc`` describes; recorded (random policy) when missing."""
    from srl.data import PREPROCESSED
    from srl.dataset import record_dataset

    folder = cache_root() / dataset_desc["env_id"] / "datasets" / dataset_hash
    with file_lock(folder.with_name(f".{folder.name}.lock")):
        if not (folder / PREPROCESSED).exists():
            record_dataset(folder, dataset_desc["env_id"], dataset_desc["env_kwargs"],
                           episodes=dataset_desc["episodes"], n_workers=min(os.cpu_count() or 1, 8),
                           seed=dataset_desc["seed"], image_size=dataset_desc["image_size"])
    return folder
