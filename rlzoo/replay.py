"""The replay library: a trained run's agent in an env built like its training env, and the evaluation loop.

``python -m rlzoo.enjoy`` is its command line; SRL dataset recording with a trained agent receives
``functools.partial(load_run, run_dir)`` as its agent factory.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from rlzoo.run_env import env_factory, load_model, restore_normalization, saved_run_config
from rlzoo.run_folder import model_files, read_choices
from rlzoo.validation import validate
from srl.dataset import record_dataset
from srl.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass
class Replay:
    """A trained agent and an env built like its training env (one copy, no monitor file, frozen statistics).

    :param model: the loaded algorithm (a :class:`rlzoo.base.ToolboxAlgorithm`).
    :param env: one env, wrapped as in training (SRL encoder, frame stack, normalisation).
    :param num_stack: frames stacked into one observation.
    """

    model: Any
    env: VecEnv
    num_stack: int = 1

    def seed(self, seed: int) -> None:
        """Seed the env's next reset and the agent's action sampling (torch, numpy, ``random``)."""
        self.model.set_random_seed(seed)
        self.env.seed(seed)

    def act(self, observation: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """The agent's action for a batch of one observation, shape ``(1, *action_shape)``."""
        return self.model.get_action(observation, deterministic=deterministic)

    @property
    def robot(self) -> Any:
        """The toolbox env itself (``SRLEnv``), below every VecEnv and gymnasium wrapper."""
        inner = self.env
        while hasattr(inner, "venv"):  # VecNormalize, the SRL encoder, the frame stack
            inner = inner.venv
        if not isinstance(inner, DummyVecEnv):
            raise TypeError(f"the replay env is a {type(inner).__name__}; its env is not in this process")
        return inner.envs[0].unwrapped


def load_run(run_dir: Path | str, best: bool = False, seed: int = 0, **env_overrides: Any) -> Replay:
    """Load a run folder's model (``model.zip``, or ``best_model.zip`` with ``best``) and a matching env.

    :param run_dir: a run folder of ``python main.py``.
    :param best: the best model (and its statistics) instead of the final one.
    :param seed: seed of the replay env.
    :param env_overrides: extra env constructor arguments (e.g. ``render_mode="rgb_array"``, ``gui=True``).
    :raises ConfigError: not a run folder, no such model, or its normalisation statistics are missing.
    """
    run_dir = Path(run_dir)
    cfg = saved_run_config(run_dir)
    model_file, stats_file = model_files(best)
    if not (run_dir / model_file).exists():
        hint = " (the best model is saved once 100 episodes are done)" if best else ""
        raise ConfigError(f"{run_dir} has no {model_file}{hint}.")
    plan = validate(cfg, read_choices(run_dir))
    env = env_factory(cfg, plan, run_dir, seed, **env_overrides).make(1)
    env = restore_normalization(env, run_dir / stats_file, training=False)
    model = load_model(run_dir, plan, run_dir / model_file, env)
    return Replay(model=model, env=env, num_stack=int(cfg.num_stack))


#: called before each step with (observation seen by the policy, step index in the episode, episode index)
StepObserver = Callable[[np.ndarray, int, int], None]


def evaluate(replay: Replay, episodes: int, deterministic: bool = True,
             observers: list[StepObserver] | None = None) -> list[float]:
    """Run ``episodes`` whole episodes and return their rewards.

    :param observers: called before every step with the observation the policy acts on, the step index within the
        episode and the episode index (recorders of frames, states and action probabilities).
    """
    rewards: list[float] = []
    obs = replay.env.reset()
    total, step = 0.0, 0
    while len(rewards) < episodes:
        for observer in observers or ():
            observer(obs, step, len(rewards))
        action = replay.act(obs, deterministic=deterministic)
        obs, reward, done, _ = replay.env.step(action)
        replay.model.episode_ended(done)
        total += float(reward[0])
        step += 1
        if done[0]:
            rewards.append(total)
            total, step = 0.0, 0
    return rewards


def env_call(env: VecEnv, method: str) -> Any:
    """Call a method of the single env behind the VecEnv wrappers (the toolbox env, through the gym wrappers)."""
    return env.env_method(method, indices=0)[0]


def env_attr(env: VecEnv, name: str) -> Any:
    """An attribute of the single env behind the VecEnv wrappers."""
    return env.get_attr(name, indices=0)[0]


def record_agent_dataset(run_dir: Path | str, out_dir: Path | str, episodes: int, n_workers: int = 1, seed: int = 0,
                         image_size: int = 64, best: bool = False, max_steps: int | None = None,
                         save_jpg: bool = False, force: bool = False) -> Path:
    """Record an SRL dataset (:func:`srl.dataset.record_dataset`) with the run's agent acting, stochastically.

    Each recording process builds the agent and its env with :func:`load_run`. An agent that observes camera images
    records at its own image size (``image_size`` is then ignored, with a warning).

    :raises ConfigError: not a run folder, no such model, missing normalisation statistics, or a bad setting of
        the recording.
    """
    run_dir = Path(run_dir).absolute()
    cfg = saved_run_config(run_dir)
    plan = validate(cfg, read_choices(run_dir))
    overrides: dict[str, Any] = {"image_size": image_size}
    if cfg.srl_model.observation == "pixels":
        if image_size != cfg.image_size:
            log.warning("the agent of %s sees %dx%d images: recording at that size, not %d", run_dir, cfg.image_size,
                        cfg.image_size, image_size)
        image_size, overrides = int(cfg.image_size), {}
    load_run(run_dir, best=best, **overrides).env.close()  # a clear error here rather than in every process
    return record_dataset(out_dir, str(cfg.env.id), plan.env_kwargs, episodes=episodes, n_workers=n_workers,
                          seed=seed, image_size=image_size, max_steps=max_steps,
                          agent=partial(load_run, run_dir, best, **overrides), policy=str(run_dir),
                          save_jpg=save_jpg, force=force)
