"""Multi-view SRL: two-camera Kuka datasets, 6-channel preprocessing and models, the time-contrastive triplet loss."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from conftest import run_main
from srl_helpers import make_synthetic_dataset
from stable_baselines3.common.vec_env import DummyVecEnv

import envs  # noqa: F401  (registers the ids)
from srl.config import MODELS, train_config
from srl.data import IMAGENET_MEAN, IMAGENET_STD, load_dataset, preprocess
from srl.dataset import record_dataset
from srl.encoder import SRLEncoder
from srl.errors import ConfigError
from srl.inference import inference_encoder
from srl.losses import TRIPLET_MARGIN, parse_losses, triplet_loss
from srl.models import SRLModel, load_model
from srl.train import train_model

SIZE = 48
FAST = {"epochs": 4, "batch_size": 16, "image_size": SIZE, "progress": False, "plots": False, "knn_samples": 50}


def record(folder: Path, multi_view: bool, save_jpg: bool = False) -> Path:
    """3 random-policy episodes of 30 steps of KukaButton at 48x48."""
    return record_dataset(folder, "KukaButton-v0", {"control": "discrete", "multi_view": multi_view}, episodes=3,
                          n_workers=1, seed=5, image_size=SIZE, max_steps=30, save_jpg=save_jpg, progress=False)


@pytest.fixture(scope="module")
def two_views(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record(tmp_path_factory.mktemp("data") / "two_views", multi_view=True, save_jpg=True)


@pytest.fixture(scope="module")
def triplet_model(two_views: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models") / "multi_view_srl"
    return train_model(train_config("multi_view_srl", str(two_views), {**FAST, "seed": 3}), log_folder=folder)


def test_a_two_view_dataset_is_recorded_and_loaded(two_views: Path, tmp_path: Path) -> None:
    data = load_dataset(two_views)
    assert data.images.shape == (len(data), SIZE, SIZE, 6) and data.views == 2
    assert json.loads((two_views / "dataset_config.json").read_text())["views"] == 2
    single = load_dataset(record(tmp_path / "one_view", multi_view=False))
    assert single.images.shape == (len(data), SIZE, SIZE, 3) and single.views == 1
    # the same seeded episodes: view 1 is the single-camera image, view 2 another camera's
    np.testing.assert_array_equal(data.images[..., :3], single.images)
    assert np.abs(data.images[..., :3].astype(np.int16) - data.images[..., 3:].astype(np.int16)).mean() > 20
    assert (two_views / "record_000" / "frame000000_1.jpg").exists()  # the original's multi-view JPEG names
    assert (two_views / "record_000" / "frame000000_2.jpg").exists()


def test_the_originals_two_view_jpegs_load(two_views: Path, tmp_path: Path) -> None:
    copy = tmp_path / two_views.name  # the same name: images_path is "<name>/record_XXX/frameXXXXXX"
    shutil.copytree(two_views, copy)
    (copy / "images.npy").unlink()
    jpegs = load_dataset(copy)
    assert jpegs.images.shape == (len(jpegs), SIZE, SIZE, 6)
    difference = np.abs(jpegs.images.astype(np.int16) - load_dataset(two_views).images.astype(np.int16))
    assert difference.mean() < 3  # JPEG compression only


def test_preprocess_normalises_each_view_with_imagenet_statistics() -> None:
    images = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 6), dtype=np.uint8)
    x = preprocess(images)
    assert x.shape == (2, 6, 8, 8)
    torch.testing.assert_close(x, torch.cat([preprocess(images[..., :3]), preprocess(images[..., 3:])], dim=1))
    expected = (images[0, 0, 0, 4] / 255.0 - IMAGENET_MEAN[1]) / IMAGENET_STD[1]
    assert float(x[0, 4, 0, 0]) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="4 channels"):
        preprocess(np.zeros((1, 8, 8, 4), dtype=np.uint8))


def test_preprocess_looks_up_the_values_it_would_compute() -> None:
    """The CPU's table of levels gives the same float32 values, strides included, as the formula computed in torch
    (the path of tensors and other devices), for every uint8 level of every channel of two views."""
    levels = np.repeat(np.arange(256, dtype=np.uint8), 6).reshape(1, 16, 16, 6)  # every level on every channel
    images = np.concatenate([levels, levels[:, ::-1], np.random.default_rng(0).permutation(levels, axis=1)])
    looked_up, computed = preprocess(images), preprocess(torch.from_numpy(images))
    assert torch.equal(looked_up, computed) and looked_up.stride() == computed.stride()
    assert looked_up.dtype == torch.float32 and looked_up.shape == (3, 6, 16, 16)
    with pytest.raises(ValueError, match="4 channels"):
        preprocess(torch.zeros((1, 8, 8, 4), dtype=torch.uint8))
    floats = images.astype(np.float32)  # computed, never in place: the caller's array is left as it was
    assert torch.equal(preprocess(floats), computed) and np.array_equal(floats, images)


def test_triplet_loss_by_hand() -> None:
    anchors = torch.zeros(2, 2)
    positives = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    negatives = torch.tensor([[0.0, 2.0], [0.5, 0.0]])
    # |a-p|^2 = 1 for both; |a-n|^2 = 4 (satisfied, 0) and 0.25 (1 - 0.25 + 0.2 = 0.95)
    assert float(triplet_loss(anchors, positives, negatives)) == pytest.approx(0.95 / 2)
    assert TRIPLET_MARGIN == 0.2


def test_negative_sampling_is_seeded_and_stays_in_the_episode(two_views: Path) -> None:
    data = load_dataset(two_views)
    idx = data.transitions
    first = data.negative_frames(idx, torch.Generator().manual_seed(1))
    again = data.negative_frames(idx, torch.Generator().manual_seed(1))
    other = data.negative_frames(idx, torch.Generator().manual_seed(2))
    np.testing.assert_array_equal(first, again)
    assert (first != other).any()
    assert (first != idx).all() and (data.episode_index[first] == data.episode_index[idx]).all()
    draws = np.concatenate([data.negative_frames(np.zeros(200, dtype=np.int64), torch.Generator().manual_seed(s))
                            for s in range(5)])
    episode_length = int((data.episode_index == 0).sum())
    assert set(draws) == set(range(1, episode_length))  # every other frame of the episode, never frame 0 itself


def test_the_triplet_model_learns_and_states_are_view_1_embeddings(two_views: Path, triplet_model: Path) -> None:
    history = np.load(triplet_model / "loss_history.npz")
    losses = history["triplet_loss"]
    assert len(losses) == FAST["epochs"] and losses[-1] < 0.5 * losses[0]
    model, exp = load_model(triplet_model)
    assert exp["multi-view"] is True and exp["loss-specs"] == ["triplet:1"] and exp["state-dim"] == 10
    assert model.time_contrastive and model.in_channels == 6 and model.trunk[0][0].in_channels == 3
    images = torch.from_numpy(np.array(load_dataset(two_views).images[:16]))
    with torch.no_grad():
        states = model(preprocess(images))
        torch.testing.assert_close(states, model.embed(preprocess(images[..., :3])))
        torch.testing.assert_close(inference_encoder(model)(images), states, atol=1e-4, rtol=1e-4)
    assert states.shape == (16, 10)


def test_the_same_seed_trains_the_same_triplet_model(two_views: Path, triplet_model: Path, tmp_path: Path) -> None:
    again = train_model(train_config("multi_view_srl", str(two_views), {**FAST, "seed": 3}),
                        log_folder=tmp_path / "again")
    np.testing.assert_array_equal(np.load(again / "loss_history.npz")["triplet_loss"],
                                  np.load(triplet_model / "loss_history.npz")["triplet_loss"])


def test_a_six_channel_autoencoder_reconstructs_both_views(two_views: Path, tmp_path: Path) -> None:
    folder = train_model(train_config("autoencoder", str(two_views), {**FAST, "epochs": 1, "model.state_dim": 8}),
                         log_folder=tmp_path / "ae")
    model, exp = load_model(folder)
    assert exp["multi-view"] is True and model.in_channels == 6 and model.trunk[0][0].in_channels == 6
    images = torch.from_numpy(np.array(load_dataset(two_views).images[:4]))
    with torch.no_grad():
        assert model.decode(model(preprocess(images))).shape == (4, 6, SIZE, SIZE)
        torch.testing.assert_close(inference_encoder(model)(images), model(preprocess(images)), atol=1e-4,
                                   rtol=1e-4)


def test_bad_combinations_are_refused(tmp_path: Path, triplet_model: Path) -> None:
    assert MODELS["multi_view_srl"].losses == ["triplet"]
    one_view = make_synthetic_dataset(tmp_path / "one_view", size=32)
    with pytest.raises(ConfigError, match="the triplet loss needs two camera views per frame"):
        train_model(train_config("multi_view_srl", str(one_view), FAST), log_folder=tmp_path / "m")
    with pytest.raises(ConfigError, match="cannot be combined with the decoder loss 'autoencoder'"):
        parse_losses(["triplet", "autoencoder"], 10)
    with pytest.raises(ConfigError, match="cannot be combined with split dims"):
        parse_losses(["triplet:1:8", "inverse:2:2"], 10)
    with pytest.raises(ConfigError, match="needs two camera views"):
        SRLModel(parse_losses(["triplet"], 4), 4, 32)
    single = DummyVecEnv([lambda: gym.make("KukaButton-v0", observation="pixels", image_size=SIZE)])
    with pytest.raises(ConfigError, match="encodes 2 camera view.*renders 1: set env.kwargs.multi_view=true"):
        SRLEncoder(single, triplet_model)
    single.close()


def test_the_batched_encoder_encodes_two_view_observations(triplet_model: Path) -> None:
    venv = DummyVecEnv([lambda: gym.make("KukaButton-v0", observation="pixels", image_size=SIZE, multi_view=True)
                        for _ in range(2)])
    encoder = SRLEncoder(venv, triplet_model)
    venv.seed(0)
    states = encoder.reset()
    assert states.shape == (2, 10) and encoder.observation_space.shape == (10,)
    images = np.stack([env.unwrapped.render_views() for env in venv.envs])
    with torch.no_grad():
        expected = encoder.model(preprocess(images)).numpy()
    np.testing.assert_allclose(states, expected, atol=1e-4)
    states, *_ = encoder.step(np.array([4, 1]))
    assert states.shape == (2, 10) and np.isfinite(states).all()
    encoder.close()


def test_rl_runs_on_the_multi_view_model(triplet_model: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = run_main(["env=KukaButton", "srl_model=multi_view_srl", "env.kwargs.multi_view=true",
                       f"srl_model.path={triplet_model}", f"image_size={SIZE}", "total_timesteps=128", "n_envs=2",
                       "algo.n_steps=64", "algo.n_minibatches=2", "live_plots=none", f"hydra.run.dir={run_dir}"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert (run_dir / "model.zip").exists()
