"""Replay a trained run: ``python -m rlzoo.enjoy <run folder> [--episodes 10] [--best] [--stochastic]``.

Loads the run's config, its model and normalisation statistics, runs whole episodes and prints the mean reward.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from envs.vec import EnvFactory
from rlzoo.callbacks import (BEST_MODEL_FILE, BEST_NORMALIZATION_FILE, FINAL_MODEL_FILE, FINAL_NORMALIZATION_FILE,
                             METRICS_FILE)
from rlzoo.registry import load_algo_class
from rlzoo.validation import ConfigError, validate


@dataclass
class Replay:
    """A trained agent and an env built like its training env (one copy, no monitor file)."""

    model: object
    env: VecEnv


def load_run(run_dir: Path, best: bool = False, seed: int = 0, **env_overrides: object) -> Replay:
    """Load a run folder's model (``model.zip``, or ``best_model.zip`` with ``best``) and a matching env.

    :param env_overrides: extra env constructor arguments (e.g. ``render_mode="rgb_array"``).
    """
    config_path = run_dir / ".hydra" / "config.yaml"
    if not config_path.exists():
        raise ConfigError(f"{run_dir} is not a run folder: .hydra/config.yaml is missing.")
    model_file, stats_file = (BEST_MODEL_FILE, BEST_NORMALIZATION_FILE) if best else (FINAL_MODEL_FILE,
                                                                                      FINAL_NORMALIZATION_FILE)
    if not (run_dir / model_file).exists():
        hint = " (the best model is saved once 100 episodes are done)" if best else ""
        raise ConfigError(f"{run_dir} has no {model_file}{hint}.")
    cfg = OmegaConf.load(config_path)
    choices = dict(OmegaConf.load(run_dir / ".hydra" / "hydra.yaml").hydra.runtime.choices)
    plan = validate(cfg, choices)
    factory = EnvFactory(env_id=cfg.env.id, env_kwargs={**plan.env_kwargs, **env_overrides}, seed=seed,
                         action_repeat=cfg.action_repeat, num_stack=cfg.num_stack, normalize=False)
    env = factory.make(1)
    if (run_dir / stats_file).exists():
        env = VecNormalize.load(str(run_dir / stats_file), env)
        env.training = False
    metrics_path = run_dir / METRICS_FILE
    model_class = json.loads(metrics_path.read_text()).get("model_class") if metrics_path.exists() else None
    model = (load_algo_class(model_class) if model_class else plan.algo_class).load(run_dir / model_file, env=env,
                                                                                    device="cpu")
    return Replay(model=model, env=env)


def evaluate(replay: Replay, episodes: int, deterministic: bool = True) -> list[float]:
    """Run ``episodes`` whole episodes and return their rewards."""
    rewards: list[float] = []
    obs = replay.env.reset()
    total = 0.0
    while len(rewards) < episodes:
        action = replay.model.get_action(obs, deterministic=deterministic)
        obs, reward, done, _ = replay.env.step(action)
        replay.model.episode_ended(done)
        total += float(reward[0])
        if done[0]:
            rewards.append(total)
            total = 0.0
    return rewards


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a run folder (outputs/<env>/<srl_model>/<algo>/<date>)")
    parser.add_argument("--episodes", type=int, default=10, help="episodes to run (default 10)")
    parser.add_argument("--best", action="store_true", help="replay best_model.zip instead of model.zip")
    parser.add_argument("--stochastic", action="store_true", help="sample actions instead of the most likely")
    parser.add_argument("--seed", type=int, default=0, help="seed of the replay env (default 0)")
    args = parser.parse_args(argv)
    try:
        replay = load_run(args.run_dir, best=args.best, seed=args.seed)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    rewards = evaluate(replay, args.episodes, deterministic=not args.stochastic)
    replay.env.close()
    sem = np.std(rewards, ddof=1) / np.sqrt(len(rewards)) if len(rewards) > 1 else 0.0
    print(f"{len(rewards)} episodes: mean reward {np.mean(rewards):.2f} +- {sem:.2f} (standard error)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
