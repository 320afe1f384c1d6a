"""``python -m srl.train``: the model folder, rebuilding from it alone, each method, and bad input."""

from __future__ import annotations

import itertools
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf
from srl_helpers import make_synthetic_dataset

from srl.config import MODELS, SRL_CONF_DIR, register_srl_configs, train_config
from srl.errors import ConfigError
from srl.models import load_model
from srl.train import predict_states, train_model

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[2]
FAST = {"epochs": 1, "batch_size": 16, "knn_samples": 100, "torch_threads": 1, "progress": False, "plots": False}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synthetic_dataset(tmp_path_factory.mktemp("data") / "synthetic", episodes=4, steps=40, size=32)


def test_command_line_writes_a_complete_model_folder(dataset: Path, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    result = subprocess.run(
        [sys.executable, "-m", "srl.train", f"dataset={dataset}", "model=srl_splits", "model.state_dim=12",
         "model.losses=[autoencoder:1:10,reward:1:-1,inverse:2:2]", "image_size=32", "epochs=2", "batch_size=16",
         "knn_samples=100", "torch_threads=1", f"log_folder={folder}", f"hydra.run.dir={tmp_path}/hydra"],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert f"Model folder: {folder}" in result.stdout
    for name in ("exp_config.json", "srl_model.pth", "states_rewards.npz", "loss_history.npz", "gt_correlation.json",
                 "knn_mse.json", "metrics.json", "learned_states.png", "losses.png", "config.yaml"):
        assert (folder / name).is_file(), name
    exp = json.loads((folder / "exp_config.json").read_text())
    assert exp["losses"] == ["autoencoder", "reward", "inverse"]
    assert exp["split-dimensions"] == {"autoencoder": 10, "reward": -1, "inverse": 2}
    assert exp["state-dim"] == 12 and exp["image-size"] == 32 and exp["n_actions"] == 4
    assert exp["model-name"] == "srl_splits" and exp["env-id"] == "MobileRobot-v0" and exp["status"] == "trained"
    correlation = json.loads((folder / "gt_correlation.json").read_text())
    assert len(correlation["gt_corr"]) == 4 and 0 <= correlation["gt_corr_mean"] <= 1
    assert json.loads((folder / "knn_mse.json").read_text())["knn_mse"] >= 0
    history = np.load(folder / "loss_history.npz")
    assert len(history["train_loss"]) == len(history["val_loss"]) == 2
    assert {"reconstruction_loss", "reward_loss", "inverse_loss"} <= set(history.files)

    model, _ = load_model(folder)  # from the folder alone
    saved = np.load(folder / "states_rewards.npz")
    images = np.load(dataset / "images.npy")
    assert saved["states"].shape == (len(images), 12)  # every frame, the last partial batch included
    np.testing.assert_allclose(predict_states(model, images[:50]), saved["states"][:50], atol=1e-5)


@pytest.mark.parametrize("name", ["supervised", "pca", "random", "vae", "dae", "robotic_priors", "forward"])
def test_each_method_trains_and_reports(name: str, dataset: Path, tmp_path: Path) -> None:
    overrides = {**FAST, "image_size": 32}
    if name not in ("supervised", "robotic_priors"):
        overrides["model.state_dim"] = 6
    folder = train_model(train_config(name, str(dataset), overrides), log_folder=tmp_path / name)
    exp = json.loads((folder / "exp_config.json").read_text())
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["knn_mse"] >= 0 and len(metrics["gt_corr"]) == 4
    if name == "supervised":
        assert exp["state-dim"] == 2  # the ground truth's size
    model, _ = load_model(folder)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, exp["state-dim"])


def test_supervised_learns_the_ground_truth(dataset: Path, tmp_path: Path) -> None:
    cfg = train_config("supervised", str(dataset), {**FAST, "image_size": 32, "epochs": 15, "learning_rate": 0.003})
    folder = train_model(cfg, log_folder=tmp_path / "supervised")
    gt_corr = json.loads((folder / "gt_correlation.json").read_text())["gt_corr"]
    assert min(gt_corr[:2]) > 0.6, gt_corr  # robot x and y


@pytest.mark.parametrize("overrides, message", [
    ({"model.losses": ["autoencoder", "teleport"]}, r"loss 'teleport' .* does not exist; valid losses: "),
    ({"model.losses": ["autoencoder:1:150", "inverse:2:2"]}, ("split dims do not add up: .* = 152, but "
                                                              "state_dim=200")),
    ({"image_size": 8}, "image_size=8 is too small"),
    ({"model.model_type": "resnet"}, "model_type='resnet' does not exist"),
    ({"val_size": 1.5}, r"val_size=1.5 is invalid"),
    ({"encoder_lr_scale": 0}, r"encoder_lr_scale=0.0 is invalid: it must be a positive, finite number"),
    ({"encoder_lr_scale": float("nan")}, r"encoder_lr_scale=nan is invalid: it must be a positive, finite number"),
    ({"encoder_lr_scale": float("inf")}, r"encoder_lr_scale=inf is invalid"),
    ({"learning_rate": -0.1}, r"learning_rate=-0.1 is invalid: it must be a positive, finite number"),
    ({"learning_rate": float("nan")}, r"learning_rate=nan is invalid"),
    ({"l1_reg": float("nan")}, r"l1_reg=nan is invalid: it must be a finite number of at least 0"),
    ({"l2_reg": -1.0}, r"l2_reg=-1.0 is invalid"),
    ({"model.beta": float("inf")}, r"model.beta=inf is invalid"),
    ({"model.occlusion_percentage": 1.5}, r"model.occlusion_percentage=1.5 is invalid: it is a fraction"),
    ({"model.losses": ["autoencoder:nan"]}, r"loss item 'autoencoder:nan': the weight must be a finite number"),
    ({"model.inverse_model_type": "rnn"}, r"^model.inverse_model_type='rnn' does not exist; valid: linear, mlp"),
    ({"device": "gpu0"}, r"^device='gpu0' is not a torch device; valid: auto, cpu, cuda or cuda:<index>"),
    ({"device": "mps"}, r"^device='mps' is not supported; valid: auto, cpu, cuda"),
    ({"lr_schedule": "linear"}, r"^lr_schedule='linear' does not exist; valid schedules: constant"),
])
def test_bad_training_configs_are_explained(overrides: dict, message: str, dataset: Path) -> None:
    with pytest.raises(ConfigError, match=message):
        train_model(train_config("autoencoder", str(dataset), {**FAST, **overrides}))


def test_unknown_model_and_missing_dataset(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="srl model 'autoencodr' does not exist .* available models: autoencoder"):
        train_config("autoencodr", "x")
    with pytest.raises(ConfigError, match="does not exist"):
        train_model(train_config("autoencoder", str(tmp_path / "missing"), FAST))


def test_command_line_errors_have_no_traceback(dataset: Path, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "srl.train", f"dataset={dataset}", "model=srl_splits",
                             "model.state_dim=10", f"hydra.run.dir={tmp_path}"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 2
    assert "error: split dims do not add up: 198 (autoencoder) + 2 (inverse) = 200, but state_dim=10" in result.stderr
    assert "Traceback" not in result.stderr


def test_manual_composition_matches_hydra() -> None:
    """The RL side builds the training config without a second Hydra run; it must equal python -m srl.train's."""
    register_srl_configs()
    with initialize_config_dir(config_dir=str(SRL_CONF_DIR), version_base="1.3"):
        for name in MODELS:
            composed = compose(config_name="train", overrides=[f"model={name}", "dataset=d", "epochs=3"])
            manual = train_config(name, "d", {"epochs": 3})
            assert OmegaConf.to_container(composed) == OmegaConf.to_container(manual), name
            assert manual.model.name == name


def test_the_catalogue_holds_the_originals_models_with_valid_losses() -> None:
    from srl.losses import parse_losses

    for name, spec in MODELS.items():
        assert spec.name == name
        parse_losses(list(spec.losses), spec.state_dim)
    original = {"autoencoder", "vae", "dae", "inverse", "forward", "reward", "robotic_priors", "srl_combination",
                "srl_splits", "supervised", "pca", "random", "autoencoder_inverse", "autoencoder_reward",
                "autoencoder_forward", "random_inverse", "reward_inverse", "srl_split_forward", "srl_3_splits"}
    assert original <= set(MODELS)


def _interrupt_in_epoch_3(cfg: DictConfig, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Train ``cfg`` into ``folder`` until a KeyboardInterrupt in epoch 3 (at its validation), as a killed run; the
    training's own validation is back in place afterwards."""
    import srl.train as training

    validate, calls = training._validate, []

    def interrupting(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return validate(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(training, "_validate", interrupting)
        with pytest.raises(training.TrainingInterrupted) as stop:
            train_model(cfg, log_folder=folder)
    assert stop.value.folder == folder.absolute() and stop.value.resumable


def _assert_same_weights(folder: Path, reference: Path) -> None:
    for key, weight in torch.load(reference / "srl_model.pth").items():
        torch.testing.assert_close(torch.load(folder / "srl_model.pth")[key], weight, msg=key)


@pytest.mark.parametrize(("schedule", "encoder_lr_scale"), [("constant", 1.0), ("one_cycle", 1.0), ("one_cycle", 0.25)])
def test_an_interrupted_training_resumes_after_its_last_epoch(schedule: str, encoder_lr_scale: float, dataset: Path,
                                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed after epoch 2 of 3, then started again on the same folder: the same model as an uninterrupted run (the
    step-size schedule continues where it was, with the encoder's own step size)."""
    import srl.train as training

    cfg = train_config("autoencoder", str(dataset), {**FAST, "epochs": 3, "model.state_dim": 4,
                                                     "lr_schedule": schedule, "encoder_lr_scale": encoder_lr_scale})
    whole = train_model(cfg, log_folder=tmp_path / "whole")
    _interrupt_in_epoch_3(cfg, tmp_path / "cut", monkeypatch)
    state = torch.load(tmp_path / "cut" / training.TRAINING_STATE, weights_only=False)
    assert state["epoch"] == 2
    cut = train_model(cfg, log_folder=tmp_path / "cut")
    assert not (cut / training.TRAINING_STATE).exists()
    _assert_same_weights(cut, whole)
    a, b = np.load(whole / "loss_history.npz"), np.load(cut / "loss_history.npz")
    assert a.files == b.files and all(np.allclose(a[k], b[k]) for k in a.files)
    # a different config does not resume from that state: it starts over
    other = train_config("autoencoder", str(dataset), {**FAST, "epochs": 3, "model.state_dim": 5})
    torch.save({**state, "config": {"another": "config"}}, tmp_path / "cut" / training.TRAINING_STATE)
    assert train_model(other, log_folder=tmp_path / "cut") == cut


def test_a_training_interrupted_before_encoder_lr_scale_existed_resumes(dataset: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    """A training state saved before the key existed (its config without ``encoder_lr_scale``, its optimizer's one
    group without ``lr_scale``) is this config's at scale 1: the training resumes, to the uninterrupted run's model."""
    import srl.train as training

    cfg = train_config("autoencoder", str(dataset), {**FAST, "epochs": 3, "model.state_dim": 4,
                                                     "lr_schedule": "one_cycle"})
    whole = train_model(cfg, log_folder=tmp_path / "whole")
    caplog.set_level(logging.INFO, logger="srl.train")
    _interrupt_in_epoch_3(cfg, tmp_path / "cut", monkeypatch)
    path = tmp_path / "cut" / training.TRAINING_STATE
    state = torch.load(path, weights_only=False)
    assert "encoder_lr_scale" not in state["config"]  # at its added value, the config is saved as before the key
    for group in state["optimizer"]["param_groups"]:
        group.pop("lr_scale")
        group["foreach"] = None  # torch's own choice then: the per-parameter loop on CPU
    torch.save(state, path)
    cut = train_model(cfg, log_folder=tmp_path / "cut")
    assert "Resuming the training" in caplog.text and "starting over" not in caplog.text
    _assert_same_weights(cut, whole)


def test_a_training_interrupted_in_its_evaluation_resumes_to_it(dataset: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    """Ctrl-C after the last epoch, while the states of every frame are computed: the training state is still there,
    and the next start goes straight to the evaluation, to the uninterrupted run's model and metrics."""
    import srl.train as training

    cfg = train_config("inverse", str(dataset), {**FAST, "epochs": 2, "model.state_dim": 4, "image_size": 32})
    whole = train_model(cfg, log_folder=tmp_path / "whole")
    with monkeypatch.context() as patch:
        patch.setattr(training, "predict_states", lambda *args, **kwargs: (_ for _ in ()).throw(KeyboardInterrupt))
        with pytest.raises(training.TrainingInterrupted) as stop:
            train_model(cfg, log_folder=tmp_path / "cut")
    assert stop.value.resumable and (tmp_path / "cut" / training.TRAINING_STATE).exists()
    caplog.set_level(logging.INFO, logger="srl.train")
    cut = train_model(cfg, log_folder=tmp_path / "cut")
    assert "Resuming the training in" in caplog.text and "after epoch 2 of 2" in caplog.text
    assert not (cut / training.TRAINING_STATE).exists()
    _assert_same_weights(cut, whole)
    a, b = (json.loads((folder / "metrics.json").read_text()) for folder in (whole, cut))
    assert a["knn_mse"] == pytest.approx(b["knn_mse"]) and a["best_epoch"] == b["best_epoch"]


def test_pca_state_dim_is_bounded_by_the_pixels(dataset: Path) -> None:
    with pytest.raises(ConfigError, match=r"^model.state_dim=100000 is too large for PCA: the images have 3072 values"):
        train_model(train_config("pca", str(dataset), {**FAST, "model.state_dim": 100000, "image_size": 32}))


def test_adams_multi_tensor_path_trains_the_per_parameter_loops_model(dataset: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The training asks Adam for its multi-tensor path (faster on CPU) and gets the same float32 weights, bit for
    bit, as with the per-parameter loop torch takes on CPU by default (two parameter groups)."""
    cfg = train_config("autoencoder", str(dataset), {**FAST, "epochs": 2, "model.state_dim": 4,
                                                     "encoder_lr_scale": 0.5})
    asked: list[object] = []
    adam = torch.optim.Adam

    class LoopAdam(adam):
        def __init__(self, params: object, **kwargs: object) -> None:
            asked.append(kwargs.get("foreach"))
            super().__init__(params, **{**kwargs, "foreach": False})

    multi = train_model(cfg, log_folder=tmp_path / "multi")
    monkeypatch.setattr(torch.optim, "Adam", LoopAdam)
    loop = train_model(cfg, log_folder=tmp_path / "loop")
    assert asked == [True]
    weights = torch.load(loop / "srl_model.pth")
    assert all(torch.equal(weight, weights[key]) for key, weight in torch.load(multi / "srl_model.pth").items())


class ScriptedValidation:
    """Stands in for ``srl.train._validate``: returns the given validation losses in turn, and keeps a copy of the
    weights each epoch ended with (the model a validation sees), so a test knows which epoch was restored."""

    def __init__(self, losses: list[float], interrupt_at: int | None = None) -> None:
        self.losses, self.interrupt_at = list(losses), interrupt_at
        self.weights: list[dict[str, torch.Tensor]] = []

    def __call__(self, cfg, model: torch.nn.Module, batches, val_idx) -> float:
        if len(self.weights) + 1 == self.interrupt_at:
            raise KeyboardInterrupt
        self.weights.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return self.losses[len(self.weights) - 1]


@pytest.mark.parametrize("losses, patience, min_delta, epochs_run, best_epoch", [
    ([1.0, 0.5, 0.6, 0.55, 0.4, 0.3], 2, 0.0, 4, 2),  # 2 epochs without improvement after epoch 2
    ([1.0, 0.995, 0.99, 0.9, 0.8, 0.7], 2, 0.01, 3, 3),  # improvements under 1 % do not count, but are kept
    ([1.0, 0.5, 0.6, 0.55, 0.4, 0.3], 0, 0.0, 6, 6),  # patience 0: off
])
def test_early_stopping_stops_and_keeps_the_best_epoch(losses: list[float], patience: int, min_delta: float,
                                                      epochs_run: int, best_epoch: int, dataset: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import srl.train as training

    scripted = ScriptedValidation(losses)
    monkeypatch.setattr(training, "_validate", scripted)
    cfg = train_config("autoencoder", str(dataset), {**FAST, "epochs": len(losses), "model.state_dim": 4,
                                                     "patience": patience, "min_delta": min_delta})
    folder = train_model(cfg, log_folder=tmp_path / "model")
    metrics = json.loads((folder / "metrics.json").read_text())
    assert (metrics["epochs_run"], metrics["best_epoch"]) == (epochs_run, best_epoch)
    assert metrics["stopped_early"] == (epochs_run < len(losses))
    assert len(scripted.weights) == epochs_run
    np.testing.assert_allclose(np.load(folder / "loss_history.npz")["val_loss"], losses[:epochs_run])
    saved = torch.load(folder / "srl_model.pth")
    for key, weight in scripted.weights[best_epoch - 1].items():  # the best epoch's weights, not the last epoch's
        torch.testing.assert_close(saved[key], weight, msg=key)
    assert not (folder / training.TRAINING_STATE).exists()


def test_early_stopping_counts_across_an_interruption(dataset: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Interrupted in epoch 4, one epoch without improvement into a patience of 2: the resumed training stops after
    epoch 4, as an uninterrupted one, instead of starting the count again (and then improving in epoch 5)."""
    import srl.train as training

    losses = [1.0, 0.5, 0.6, 0.55, 0.4, 0.3]
    cfg = train_config("autoencoder", str(dataset), {**FAST, "epochs": 6, "model.state_dim": 4, "patience": 2})
    monkeypatch.setattr(training, "_validate", ScriptedValidation(losses, interrupt_at=4))
    with pytest.raises(KeyboardInterrupt):
        train_model(cfg, log_folder=tmp_path / "cut")
    state = torch.load(tmp_path / "cut" / training.TRAINING_STATE, weights_only=False)
    assert (state["epoch"], state["stale_epochs"], state["best_epoch"]) == (3, 1, 2)
    monkeypatch.setattr(training, "_validate", ScriptedValidation(losses[3:]))
    metrics = json.loads((train_model(cfg, log_folder=tmp_path / "cut") / "metrics.json").read_text())
    assert (metrics["epochs_run"], metrics["best_epoch"], metrics["stopped_early"]) == (4, 2, True)


def test_early_stopping_from_the_command_line_and_bad_values(dataset: Path, tmp_path: Path) -> None:
    """A min_delta no epoch can reach (a 90 % drop) stops a real training after epoch 1 + patience."""
    result = subprocess.run(
        [sys.executable, "-m", "srl.train", f"dataset={dataset}", "model=autoencoder", "model.state_dim=4",
         "image_size=32", "epochs=10", "batch_size=16", "patience=1", "min_delta=0.9", "knn_samples=100",
         "torch_threads=1", "plots=false", f"log_folder={tmp_path / 'model'}", f"hydra.run.dir={tmp_path}/hydra"],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert metrics["epochs_run"] == 2 and metrics["stopped_early"] and metrics["best_epoch"] in (1, 2)
    for overrides, message in (({"patience": -1}, "patience=-1 is invalid"), ({"min_delta": 1.0}, "min_delta=1.0")):
        with pytest.raises(ConfigError, match=message):
            train_model(train_config("autoencoder", str(dataset), {**FAST, **overrides}))


def test_learning_rate_schedules_by_minibatch() -> None:
    """constant keeps learning_rate; cosine falls from it to 0; one_cycle climbs from a tenth of it to it over the
    first 15 % of the minibatches, then falls to 0 (values at the ends and in between)."""
    from srl.config import scheduled_learning_rate as lr

    assert [lr(0.01, "constant", step, 100) for step in (0, 50, 100)] == [0.01, 0.01, 0.01]
    assert [round(lr(0.01, "cosine", step, 100), 6) for step in (0, 25, 50, 75, 100)] == [
        0.01, 0.008536, 0.005, 0.001464, 0.0]
    one_cycle = [round(lr(0.01, "one_cycle", step, 100), 6) for step in (0, 5, 15, 50, 100)]
    assert one_cycle == [0.001, 0.004, 0.01, 0.006368, 0.0]  # 0.1 + 0.9 * 5/15; 0.5 (1 + cos(pi 35/85))
    steps = [lr(0.01, "one_cycle", step, 1000) for step in range(1001)]
    assert max(steps) == pytest.approx(0.01) and int(np.argmax(steps)) == 150
    assert all(a <= b for a, b in itertools.pairwise(steps[:151]))  # rising, then falling
    assert all(a >= b for a, b in itertools.pairwise(steps[150:]))
    with pytest.raises(ConfigError, match="lr_schedule='linear' does not exist"):
        lr(0.01, "linear", 0, 100)


@pytest.mark.parametrize("schedule", ["constant", "one_cycle"])
def test_a_training_follows_its_lr_schedule(schedule: str, dataset: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The optimizer's step size at every minibatch is the schedule's (2 epochs of 7 minibatches: 112 transitions of
    the 4 x 40-frame dataset's 156, 80 % of them, in batches of 16 = 7 per epoch), and exp_config.json records it."""
    import srl.train as training

    seen: list[float] = []
    step = torch.optim.Adam.step

    def recording_step(self: torch.optim.Adam, *args: object, **kwargs: object) -> object:
        seen.append(self.param_groups[0]["lr"])
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", recording_step)
    cfg = train_config("autoencoder", str(dataset), {**FAST, "epochs": 2, "model.state_dim": 4,
                                                     "learning_rate": 0.004, "lr_schedule": schedule})
    folder = training.train_model(cfg, log_folder=tmp_path / "model")
    from srl.config import scheduled_learning_rate

    assert len(seen) == 14
    assert seen == pytest.approx([scheduled_learning_rate(0.004, schedule, i, 14) for i in range(14)])
    if schedule == "one_cycle":
        assert seen[0] == pytest.approx(0.0004) and max(seen) <= 0.004 and seen[-1] < 0.0004
    else:
        assert seen == [0.004] * 14
    assert json.loads((folder / "exp_config.json").read_text())["lr-schedule"] == schedule


@pytest.mark.parametrize("schedule", ["constant", "one_cycle"])
def test_the_encoder_takes_its_share_of_the_step_size(schedule: str, dataset: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """encoder_lr_scale=0.25: two Adam groups, the encoder's (trunk, state head, VAE log-variance head) at a quarter
    of the scheduled step size at every minibatch, the decoder's and loss heads' at all of it; exp_config.json records
    it; a scale of 1 keeps the original's single group."""
    import srl.train as training
    from srl.config import scheduled_learning_rate
    from srl.losses import parse_losses
    from srl.models import SRLModel

    seen: list[tuple[float, ...]] = []
    step = torch.optim.Adam.step

    def recording_step(self: torch.optim.Adam, *args: object, **kwargs: object) -> object:
        seen.append(tuple(group["lr"] for group in self.param_groups))
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", recording_step)
    cfg = train_config("srl_splits", str(dataset), {**FAST, "epochs": 2, "model.state_dim": 6,
                                                    "model.losses": ["autoencoder:1:3", "reward:1:-1", "inverse:2:3"],
                                                    "learning_rate": 0.004, "lr_schedule": schedule,
                                                    "encoder_lr_scale": 0.25})
    folder = training.train_model(cfg, log_folder=tmp_path / "model")
    scheduled = [scheduled_learning_rate(0.004, schedule, i, 14) for i in range(14)]
    assert [encoder for encoder, _ in seen] == pytest.approx([0.25 * lr for lr in scheduled])
    assert [rest for _, rest in seen] == pytest.approx(scheduled)
    assert json.loads((folder / "exp_config.json").read_text())["encoder-lr-scale"] == 0.25

    vae = SRLModel(parse_losses(["vae:1:2", "inverse:1:2"], 4), 4, 32, n_actions=4)
    groups = training.parameter_groups(vae, 0.25)
    encoder = {id(p) for module in (vae.trunk, vae.state_head, vae.logvar_head) for p in module.parameters()}
    assert [group["lr_scale"] for group in groups] == [0.25, 1.0]
    assert {id(p) for p in groups[0]["params"]} == encoder
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in vae.parameters()} - encoder
    assert {id(p) for p in vae.decoder.parameters()} | {id(p) for p in vae.inverse_net.parameters()} <= {
        id(p) for p in groups[1]["params"]}
    assert [group["lr_scale"] for group in training.parameter_groups(vae, 1.0)] == [1.0]  # the original's: one group


def test_a_bad_lr_schedule_fails_before_training(dataset: Path) -> None:
    with pytest.raises(ConfigError, match="lr_schedule='cyclic' does not exist; valid schedules: constant, cosine"):
        train_model(train_config("autoencoder", str(dataset), {**FAST, "lr_schedule": "cyclic"}))
