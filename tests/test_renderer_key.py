"""The ``renderer`` key round-trips through the config, the run's env, replay, datasets and SRL models."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from conftest import FAST, compose_run, run_main
from rlzoo.replay import env_attr, load_run
from rlzoo.validation import validate
from srl.dataset import record_dataset
from srl.errors import ConfigError


@pytest.mark.parametrize("env, renderer", [("MobileRobot", "pybullet"), ("MobileRobot", "composite"),
                                           ("KukaButton", "pybullet"), ("Omnirobot", "composite")])
def test_the_key_reaches_the_env(env: str, renderer: str) -> None:
    cfg, choices = compose_run([f"env={env}", "srl_model=raw_pixels", f"renderer={renderer}"])
    assert validate(cfg, choices).env_kwargs["renderer"] == renderer


def test_an_env_without_that_renderer_is_refused_before_it_starts() -> None:
    cfg, choices = compose_run(["env=Omnirobot", "renderer=pybullet"])
    with pytest.raises(ConfigError, match="renderer=pybullet is not available for env=Omnirobot; it supports: "
                                          "composite"):
        validate(cfg, choices)
    cfg, choices = compose_run(["renderer=opengl"])
    with pytest.raises(ConfigError, match="renderer=opengl .* supports: composite, pybullet"):
        validate(cfg, choices)


def test_a_run_replays_and_records_with_its_renderer(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = run_main([*FAST, "srl_model=raw_pixels", "renderer=pybullet", f"hydra.run.dir={run_dir}"])
    assert result.returncode == 0, result.stderr[-2000:]
    replay = load_run(run_dir)
    try:
        assert env_attr(replay.env, "renderer") == "pybullet"
    finally:
        replay.env.close()
    from rlzoo.replay import record_agent_dataset

    data = record_agent_dataset(run_dir, tmp_path / "data", episodes=1, max_steps=3)
    assert json.loads((data / "dataset_config.json").read_text())["renderer"] == "pybullet"


def test_datasets_say_which_renderer_made_them_and_a_run_that_mixes_is_warned(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from srl.config import train_config
    from srl.encoder import make_encoder
    from srl.train import train_model

    data = record_dataset(tmp_path / "data", "MobileRobot-v0", {"renderer": "composite"}, episodes=1, max_steps=20,
                          progress=False)
    assert json.loads((data / "dataset_config.json").read_text())["renderer"] == "composite"
    folder = train_model(train_config("autoencoder", str(data), {"epochs": 1, "batch_size": 8, "progress": False,
                                                                  "plots": False, "knn_samples": 10,
                                                                  "model.state_dim": 4}), log_folder=tmp_path / "m")
    cfg = compose_run(["srl_model=autoencoder", "srl_model.spec.state_dim=4", f"srl_model.path={folder}"])[0].srl_model
    with caplog.at_level(logging.WARNING, logger="srl.encoder"):
        assert make_encoder(cfg, "MobileRobot-v0", 64, 0, {"renderer": "composite"}) is not None
        assert not caplog.records
        make_encoder(cfg, "MobileRobot-v0", 64, 0, {"renderer": "pybullet"})
    assert "trained on images of the composite renderer, and this run renders with pybullet" in caplog.text
    shutil.rmtree(folder)
