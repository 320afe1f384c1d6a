"""The batched encoder wrapper, finding models (path, latest, run record), and the on-demand training cache."""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
import threading
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from omegaconf import DictConfig, OmegaConf
from srl_helpers import make_synthetic_dataset
from stable_baselines3.common.vec_env import DummyVecEnv

import srl.encoder
import srl.train
from rlzoo.config import SRLModelConfig
from srl.config import MODELS, train_config
from srl.data import preprocess
from srl.encoder import (
    ON_DEMAND_BY_LOSS,
    ON_DEMAND_DECODER_FREE,
    ON_DEMAND_THREADS,
    ON_DEMAND_TRAINING,
    SRLEncoder,
    ensure_model,
    latest_model,
    make_encoder,
    on_demand_configs,
    on_demand_threads,
)
from srl.errors import ConfigError
from srl.inference import inference_encoder
from srl.losses import parse_losses
from srl.models import SRLModel, load_model
from srl.train import predict_states, train_model

torch.set_num_threads(1)
FAST = {"epochs": 1, "batch_size": 16, "knn_samples": 50, "torch_threads": 1, "progress": False, "plots": False,
        "image_size": 32, "model.state_dim": 6}


class ImageEnv(gym.Env):
    """Random uint8 images; an episode lasts 3 steps."""

    def __init__(self, size: int = 32) -> None:
        self.observation_space = gym.spaces.Box(0, 255, (size, size, 3), dtype=np.uint8)
        self.action_space = gym.spaces.Discrete(2)
        self.t = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        return self.observation_space.sample(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        return self.observation_space.sample(), 0.0, False, self.t >= 3, {}


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("srl_models")
    os.environ["SRL_MODELS_DIR"] = str(root)
    yield root
    os.environ.pop("SRL_MODELS_DIR", None)


@pytest.fixture(scope="module")
def trained(cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dataset = make_synthetic_dataset(tmp_path_factory.mktemp("data") / "synthetic", episodes=2, steps=20, size=32)
    return train_model(train_config("srl_splits", str(dataset), {**FAST, "model.losses": [
        "autoencoder:1:4", "reward:1:-1", "inverse:2:2"]}), log_folder=cache / "MobileRobot-v0" / "splits")


def srl_cfg(model: str | None = None, spec: dict[str, object] | None = None, **values: object) -> DictConfig:
    """An ``srl_model`` config as ``python main.py srl_model=<model> srl_model.spec.<key>=<value>`` composes it: the
    catalogue's spec of ``model``, changed by ``spec``."""
    node: dict[str, object] = {"observation": "pixels", **values}
    if model is not None:
        node.update(model=model, spec=OmegaConf.merge(OmegaConf.structured(MODELS[model]), spec or {}))
    return OmegaConf.merge(OmegaConf.structured(SRLModelConfig), node)


def test_batched_encoding_equals_per_image_encoding(trained: Path) -> None:
    model, _ = load_model(trained)
    venv = SRLEncoder(DummyVecEnv([ImageEnv for _ in range(4)]), trained, model=model)
    assert venv.observation_space.shape == (6,) and venv.observation_space.dtype == np.float32
    states = venv.reset()
    assert states.shape == (4, 6) and states.dtype == np.float32
    images = np.stack([venv.venv.buf_obs[None][i] for i in range(4)])
    single = np.concatenate([venv.encode(image[None]) for image in images])
    np.testing.assert_allclose(venv.encode(images), single, atol=1e-5)
    np.testing.assert_allclose(predict_states(model, images), single, atol=1e-5)
    for _ in range(3):
        states, _, dones, infos = venv.step(np.zeros(4, dtype=int))
    assert dones.all() and all(info["terminal_observation"].shape == (6,) for info in infos)


def test_one_forward_pass_per_step(trained: Path) -> None:
    venv = SRLEncoder(DummyVecEnv([ImageEnv for _ in range(3)]), trained)
    calls = []
    venv._encode.register_forward_hook(lambda module, args, out: calls.append(len(args[0])))
    venv.reset()
    for _ in range(3):
        venv.step(np.zeros(3, dtype=int))
    assert calls == [3, 3, 3, 6]  # the last step also encodes the 3 terminal observations, in the same pass


@pytest.mark.parametrize("model_type", ["cnn", "custom_cnn", "mlp"])
def test_inference_encoder_equals_the_model_on_preprocessed_images(model_type: str) -> None:
    """BatchNorm and the ImageNet normalisation folded into the convolutions change nothing but rounding."""
    model = SRLModel(parse_losses(["autoencoder"], 8), 8, 64, model_type=model_type)
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():  # statistics far from the identity, so that a missed fold shows
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1, generator=generator)
            module.running_var.uniform_(0.5, 2, generator=generator)
            module.weight.data.uniform_(0.5, 2, generator=generator)
            module.bias.data.uniform_(-1, 1, generator=generator)
    model.eval()
    images = torch.randint(0, 256, (5, 64, 64, 3), dtype=torch.uint8, generator=generator)
    fast = inference_encoder(model)
    assert isinstance(fast, torch.nn.Module) or model_type == "mlp"
    with torch.no_grad():
        expected = model(preprocess(images))
        np.testing.assert_allclose(fast(images).numpy(), expected.numpy(), atol=1e-4, rtol=1e-4)
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in getattr(fast, "modules", list)())


def test_encoder_pickles_without_env_and_weights(trained: Path) -> None:
    venv = SRLEncoder(DummyVecEnv([ImageEnv]), trained)
    data = pickle.dumps(venv)
    assert len(data) < 10_000
    again = pickle.loads(data)  # the weights reload from the model folder
    images = np.random.default_rng(0).integers(0, 255, (2, 32, 32, 3), dtype=np.uint8)
    np.testing.assert_allclose(again.encode(images), venv.encode(images), atol=1e-6)


def test_env_provided_observations_need_no_encoder() -> None:
    cfg = OmegaConf.merge(OmegaConf.structured(SRLModelConfig), {"observation": "ground_truth"})
    assert make_encoder(cfg, "MobileRobot-v0", 64, 0) is None


def test_explicit_path_latest_and_the_run_record(trained: Path, cache: Path, tmp_path: Path) -> None:
    wrap = make_encoder(srl_cfg(model="srl_splits", path=str(trained / "srl_model.pth")), "MobileRobot-v0", 32, 0,
                        record=tmp_path / "run" / "srl_model.json")
    assert wrap(DummyVecEnv([ImageEnv])).observation_space.shape == (6,)
    assert json.loads((tmp_path / "run" / "srl_model.json").read_text())["path"] == str(trained)
    newer = cache / "MobileRobot-v0" / "splits_newer"
    shutil.copytree(trained, newer)
    time.sleep(0.01)
    os.utime(newer / "srl_model.pth")
    assert latest_model("MobileRobot-v0", "srl_splits") == newer
    # a resumed run keeps the model it started with, even if a newer one appeared
    latest_cfg = srl_cfg(model="srl_splits", path="latest")
    make_encoder(latest_cfg, "MobileRobot-v0", 32, 0, record=tmp_path / "run" / "srl_model.json")
    assert json.loads((tmp_path / "run" / "srl_model.json").read_text())["path"] == str(trained)
    with pytest.raises(ConfigError, match="no trained autoencoder model for MobileRobot-v0 .* srl_model.path=null"):
        latest_model("MobileRobot-v0", "autoencoder")
    shutil.rmtree(newer)


def test_training_keys_beside_a_path_are_reported_as_ignored(trained: Path, caplog: pytest.LogCaptureFixture) -> None:
    """With srl_model.path the model's folder defines the model: the keys only an on-demand training uses, set away
    from their defaults and from the model's own config, get one warning that names them; left at their defaults or
    set to what the model was trained with, none."""
    caplog.set_level(logging.WARNING, logger="srl.encoder")
    make_encoder(srl_cfg("srl_splits", path=str(trained)), "MobileRobot-v0", 32, 0)
    make_encoder(srl_cfg("srl_splits", {"state_dim": 6}, path=str(trained)), "MobileRobot-v0", 32, 0)  # the model's
    assert "ignored" not in caplog.text
    make_encoder(srl_cfg("srl_splits", {"beta": 0.5, "state_dim": 300}, path=str(trained), epochs=3, episodes=20),
                 "MobileRobot-v0", 32, 0)
    assert (f"srl_model.path={trained} names a trained model, so srl_model.epochs, srl_model.episodes, "
            "srl_model.spec.state_dim, srl_model.spec.beta (what an on-demand training would use, set differently "
            "from that model's) are ignored") in caplog.text


def test_models_of_another_env_or_image_size_are_refused(trained: Path) -> None:
    cfg = srl_cfg(model="srl_splits", path=str(trained))
    with pytest.raises(ConfigError, match="was trained on MobileRobot-v0, not on env MobileRobot2Target-v0"):
        make_encoder(cfg, "MobileRobot2Target-v0", 32, 0)
    with pytest.raises(ConfigError, match="trained on 32x32 images, but image_size=64: run with image_size=32"):
        make_encoder(cfg, "MobileRobot-v0", 64, 0)
    with pytest.raises(ConfigError, match="trained on 32x32 images, but the env renders 40x40"):
        SRLEncoder(DummyVecEnv([lambda: ImageEnv(40)]), trained)
    with pytest.raises(ConfigError, match="srl_model.path=.*nowhere does not exist"):
        make_encoder(srl_cfg(model="srl_splits", path="/nowhere"), "MobileRobot-v0", 32, 0)


@pytest.mark.parametrize(("model", "spec", "values", "message"), [
    ("autoencoder", {"losses": ["autoencoder", "warp"]}, {}, "loss 'warp' .* does not exist"),
    ("srl_splits", {"state_dim": 100}, {}, "split dims do not add up"),
    ("vae", {"beta": float("nan")}, {}, r"^srl_model.spec.beta=nan is invalid: it must be a finite number"),
    ("vae", {"state_dim": 0}, {}, r"^srl_model.spec.state_dim=0 is invalid for losses \['vae'\]"),
    ("vae", {"model_type": "resnet"}, {}, r"^srl_model.spec.model_type='resnet' does not exist; valid model types: cnn"),
    ("inverse", {"inverse_model_type": "rnn"}, {}, r"^srl_model.spec.inverse_model_type='rnn' does not exist; valid: "),
    ("dae", {"occlusion_percentage": 2.0}, {}, r"^srl_model.spec.occlusion_percentage=2.0 is invalid: .* in \[0, 1\]"),
    ("vae", None, {"epochs": -1}, r"^srl_model.epochs=-1 is invalid: it must be at least 0"),
    ("vae", None, {"batch_size": 1}, r"^srl_model.batch_size=1 is invalid: it must be at least 2"),
    ("vae", None, {"episodes": 0}, r"^srl_model.episodes=0 is invalid: record at least 1 episode"),
])
def test_bad_training_keys_fail_before_recording(model: str, spec: dict[str, object] | None,
                                                 values: dict[str, object], message: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Every key of the on-demand training is checked before a dataset is recorded or a folder made, named as the
    run names it."""
    monkeypatch.setenv("SRL_MODELS_DIR", str(tmp_path / "srl_models"))
    with pytest.raises(ConfigError, match=message):
        make_encoder(srl_cfg(model, spec, **values), "MobileRobot-v0", 64, 0)
    assert not (tmp_path / "srl_models").exists()


def test_what_only_the_dataset_decides_is_named_as_the_run_names_it(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A supervised state size that differs from the ground truth's is known once the dataset is recorded (kept for
    the next run); the message then names the run's key too."""
    monkeypatch.setenv("SRL_MODELS_DIR", str(tmp_path / "srl_models"))
    with pytest.raises(ConfigError, match=r"of size 2 .*; srl_model.spec.state_dim=5 differs \(set it to 2 or null\)"):
        make_encoder(srl_cfg("supervised", {"state_dim": 5}, episodes=1), "MobileRobot-v0", 64, 0)


def test_on_demand_model_is_trained_once_and_cached(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = srl.train.train_model

    def counting(cfg, log_folder=None, **kwargs):
        calls.append(log_folder)
        return real(cfg, log_folder=log_folder, **kwargs)

    monkeypatch.setattr(srl.train, "train_model", counting)
    cfg = srl_cfg("inverse", {"state_dim": 4}, episodes=1, epochs=1, batch_size=32, seed=5)
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(ensure_model(cfg, "MobileRobot-v0", 64, 0)))
               for _ in range(2)]  # two sweep jobs at once: the file lock makes one wait for the other
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(results) == 2 and results[0] == results[1]
    folder = results[0]
    assert folder.parent == cache / "MobileRobot-v0" and folder.name.startswith("inverse_")
    exp = json.loads((folder / "exp_config.json").read_text())
    assert exp["log-folder"] == str(folder) and exp["dataset-config"]["episodes"] == 1
    assert exp["state-dim"] == 4  # trained with the run's spec, not the catalogue's 200
    assert ensure_model(cfg, "MobileRobot-v0", 64, 0) == folder and len(calls) == 1  # reused, not retrained
    wrap = make_encoder(cfg, "MobileRobot-v0", 64, 7)  # the run's seed does not matter: srl_model.seed=5
    assert len(calls) == 1 and wrap is not None
    other = ensure_model(srl_cfg("inverse", {"state_dim": 4}, episodes=1, epochs=1, batch_size=32, seed=6),
                         "MobileRobot-v0", 64, 0)
    assert other != folder and len(calls) == 2  # another seed is another model


def test_on_demand_training_settings_and_free_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """A model trained on demand gets the on-demand settings (capped epochs, a one-cycle schedule, no early stopping,
    which would cut the schedule) unless the run sets srl_model.epochs / batch_size, the same keys as
    python -m srl.train, and a torch thread per free core."""
    _, cfg = on_demand_configs(srl_cfg("srl_splits"), "MobileRobot-v0", 64, 0, {"random_target": True})
    assert {key: cfg[key] for key in ON_DEMAND_TRAINING} == ON_DEMAND_TRAINING
    default = train_config("srl_splits")
    assert (cfg.epochs, cfg.batch_size, cfg.learning_rate, cfg.lr_schedule, cfg.patience) == (8, 64, 0.008,
                                                                                             "one_cycle", 0)
    assert (default.epochs, default.batch_size, default.learning_rate, default.lr_schedule) == (30, 32, 0.001,
                                                                                               "constant")
    _, cfg = on_demand_configs(srl_cfg("srl_splits", epochs=3, batch_size=16), "MobileRobot-v0", 64, 0)
    assert (cfg.epochs, cfg.batch_size, cfg.lr_schedule) == (3, 16, "one_cycle")
    # a VAE (any spec with a vae loss) keeps the default's step size: a larger one collapses its states; a decoder
    # beside an inverse head takes the encoder to half the step size, which keeps the target in the state
    assert ON_DEMAND_BY_LOSS == {"vae": {"learning_rate": 0.001}, "inverse": {"encoder_lr_scale": 0.5}}
    for name, spec, rate, scale in (("vae", {}, 0.001, 1.0), ("autoencoder", {}, 0.008, 1.0),
                                    ("srl_splits", {}, 0.008, 0.5), ("autoencoder_reward", {}, 0.008, 1.0),
                                    ("autoencoder_inverse", {}, 0.008, 0.5),
                                    ("autoencoder", {"losses": ["vae:1", "inverse:2"]}, 0.001, 0.5)):
        _, cfg = on_demand_configs(srl_cfg(name, spec), "MobileRobot-v0", 64, 0)
        assert (cfg.learning_rate, cfg.batch_size, cfg.lr_schedule, cfg.epochs, cfg.encoder_lr_scale) == (
            rate, 64, "one_cycle", 8, scale), name
    # a model without a decoder trains the default's recipe, for fewer epochs; the run's keys still win
    assert ON_DEMAND_DECODER_FREE == {"epochs": 16, "batch_size": 32, "learning_rate": 0.001,
                                      "lr_schedule": "constant", "patience": 0}
    for name, spec in (("inverse", {}), ("robotic_priors", {}), ("autoencoder", {"losses": ["inverse:1", "reward:1"]})):
        _, cfg = on_demand_configs(srl_cfg(name, spec), "MobileRobot-v0", 64, 0)
        assert (cfg.learning_rate, cfg.batch_size, cfg.lr_schedule, cfg.epochs, cfg.patience,
                cfg.encoder_lr_scale) == (0.001, 32, "constant", 16, 0, 1.0), name
    _, cfg = on_demand_configs(srl_cfg("inverse", epochs=3, batch_size=16), "MobileRobot-v0", 64, 0)
    assert (cfg.epochs, cfg.batch_size, cfg.lr_schedule) == (3, 16, "constant")
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert 1 <= on_demand_threads(0.05) <= ON_DEMAND_THREADS  # this machine's /proc/stat
    for idle_share, threads in ((0.95, ON_DEMAND_THREADS), (0.6, 1), (0.1, 1)):  # of the 2 cores' ticks
        ticks = iter([(0, 0), (int(1000 * idle_share), 1000)])
        monkeypatch.setattr(srl.encoder, "_cpu_ticks", lambda ticks=ticks: next(ticks))
        assert on_demand_threads(0.0) == threads, idle_share

    def no_proc() -> tuple[int, int]:
        raise FileNotFoundError("/proc/stat")

    monkeypatch.setattr(srl.encoder, "_cpu_ticks", no_proc)  # not Linux: the load average
    monkeypatch.setattr(os, "getloadavg", lambda: (0.2, 0.5, 0.5))
    assert on_demand_threads(0.0) == 2
    monkeypatch.setattr(os, "getloadavg", lambda: (1.8, 0.5, 0.5))
    assert on_demand_threads(0.0) == 1


#: cache folders of on-demand models: the spec composed by Hydra hashes as the hand-read one did, and a change of
#: these names is deliberate (it retrains every cached model): the last one came with the on-demand settings
#: (srl.encoder.ON_DEMAND_TRAINING: one-cycle schedule, batch 64; ON_DEMAND_BY_LOSS) and the training key lr_schedule;
#: models without a decoder (supervised below) changed once more with ON_DEMAND_DECODER_FREE, models with a decoder and
#: an inverse loss (srl_splits) with ON_DEMAND_BY_LOSS's encoder_lr_scale (a key left out of the hash at its default,
#: so the others did not change)
CACHE_KEYS = [
    ({}, {}, "MobileRobot-v0", 0, {"random_target": True, "shape_reward": False}, "srl_splits",
     "srl_splits_16bd5ff1cb"),
    ({"state_dim": 8}, {"epochs": 1, "episodes": 1, "seed": 0}, "MobileRobot-v0", 3,
     {"random_target": False, "shape_reward": False}, "vae", "vae_6ee6b50f7a"),
    ({}, {"batch_size": 16}, "KukaButton-v0", 0, {}, "supervised", "supervised_61eeca4f61"),
]


@pytest.mark.parametrize(("spec", "values", "env_id", "seed", "env_kwargs", "model", "folder"), CACHE_KEYS,
                         ids=[case[-1] for case in CACHE_KEYS])
def test_cache_key_of_a_spec_is_unchanged(spec: dict, values: dict, env_id: str, seed: int, env_kwargs: dict,
                                          model: str, folder: str, cache: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The composed spec hashes as the hand-read one does, to the names above, so models cached by runs of either
    kind are found; so does a run config saved before specs were composed (``model`` and no ``spec``)."""
    trained: list[Path] = []
    monkeypatch.setattr("srl.encoder.ensure_dataset", lambda *args: cache / "no_dataset")
    monkeypatch.setattr(srl.train, "train_model", lambda cfg, log_folder, key: trained.append(log_folder))
    configs = [srl_cfg(model, spec, **values)] + ([{"model": model, **values}] if not spec else [])
    for cfg in configs:
        with pytest.raises(FileNotFoundError):  # train_model was a stub: no exp_config.json is written
            ensure_model(cfg, env_id, 64, seed, {"observation": "pixels", "image_size": 64, **env_kwargs})
    assert [path.name.split(".tmp-")[0] for path in trained] == [folder] * len(configs)


def test_an_interrupted_on_demand_training_leaves_nothing_behind(cache: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """A run killed while it trained its SRL model: the next run removes what older processes left and continues
    the interrupted training in its own temporary folder."""
    real = srl.train.train_model

    def killed(cfg, log_folder=None, key=str):
        Path(log_folder).mkdir(parents=True)
        (Path(log_folder) / "partial").write_text("")
        raise srl.train.TrainingInterrupted(Path(log_folder), resumable=True)

    monkeypatch.setattr(srl.train, "train_model", killed)
    cfg = srl_cfg("inverse", {"state_dim": 4}, episodes=1, epochs=1, batch_size=32, seed=9)
    with pytest.raises(KeyboardInterrupt):
        ensure_model(cfg, "MobileRobot-v0", 64, 0)
    assert "Interrupted the inverse training of MobileRobot-v0: the same command resumes it" in caplog.text
    root = cache / "MobileRobot-v0"
    [interrupted] = root.glob("inverse_*.tmp-training")
    stale = interrupted.with_name(interrupted.name.replace(".tmp-training", ".tmp-4242"))  # an older version's
    stale.mkdir()
    monkeypatch.setattr(srl.train, "train_model", real)
    folder = ensure_model(cfg, "MobileRobot-v0", 64, 0)
    assert folder.name == interrupted.name.removesuffix(".tmp-training") and (folder / "srl_model.pth").exists()
    assert not list(root.glob("*.tmp-*"))
