"""``python main.py srl_model=<learned model>`` end to end: the model is recorded, trained, cached and encodes.

Needs the encoder wired into ``rlzoo/train.py`` (``EnvFactory(..., encoder=make_encoder(...))``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from stable_baselines3 import PPO

ROOT = Path(__file__).resolve().parents[2]
TINY_SRL = ["srl_model.episodes=1", "srl_model.epochs=1", "srl_model.spec.state_dim=8", "srl_model.seed=0"]


def test_ppo_on_an_autoencoder_trained_on_demand(tmp_path: Path) -> None:
    run_dir, cache = tmp_path / "run", tmp_path / "srl_models"
    env = {**os.environ, "PYTHONHASHSEED": "0", "HYDRA_FULL_ERROR": "0", "SRL_MODELS_DIR": str(cache)}
    result = subprocess.run(
        [sys.executable, "main.py", "srl_model=autoencoder", *TINY_SRL, "total_timesteps=256", "n_envs=2",
         "algo.n_steps=64", "algo.n_minibatches=2", "live_plots=none", f"hydra.run.dir={run_dir}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "No trained autoencoder model for MobileRobot-v0" in output  # it says it trains one
    models = list((cache / "MobileRobot-v0").glob("autoencoder_*/srl_model.pth"))
    assert len(models) == 1
    model = PPO.load(run_dir / "model.zip")
    assert model.observation_space.shape == (8,)  # the agent saw encoded states, not pixels
    assert type(model.policy).__name__ == "ActorCriticPolicy"
    assert (run_dir / "vecnormalize.pkl").exists()  # encoded states are normalised like other states
    assert json.loads((run_dir / "srl_model.json").read_text())["path"] == str(models[0].parent)
