"""Train one agent from a composed config: validate, build env and algorithm, learn, save (or resume)."""

from __future__ import annotations

import logging
import math
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.logger import configure as configure_logger
from stable_baselines3.common.vec_env import VecEnv

from rlzoo.callbacks import MEAN_WINDOW, RunCallback, RunRecorder
from rlzoo.checkpoints import CheckpointState, load_state
from rlzoo.cluster import checkpoint_on_preemption, resume_if_requeued
from rlzoo.files import remove_stale_temporaries
from rlzoo.monitor import Episodes, load_episodes, truncate_monitor
from rlzoo.run_env import env_factory, load_model, restore_normalization, saved_run_config
from rlzoo.run_folder import (MODEL_FILE, NORMALIZATION_FILE, TENSORBOARD_DIR, config_path, is_started,
                              latest_checkpoint, monitor_path, read_choices)
from rlzoo.signals import deferred_signals, ignore_stop_signals
from rlzoo.sweep import record_failure
from rlzoo.validation import RunPlan, check_writable, validate
from rlzoo.visdom_plot import VisdomPlotter
from srl.config import derived_seed
from srl.errors import ConfigError

log = logging.getLogger(__name__)


#: keys a resuming command may change: they change how a run is watched, not what it trains
WATCH_KEYS = ("live_plots", "visdom_host", "visdom_port", "log_interval")


def resumed_config(cfg: DictConfig, run_dir: Path, overrides: list[str]) -> tuple[DictConfig, dict[str, str]]:
    """The saved config and group choices of the run being resumed.

    Command-line overrides must agree with the saved run (resuming continues the same experiment), except
    ``hydra.*`` and the keys of :data:`WATCH_KEYS`, which change how the run is watched, not what it trains.
    """
    if not config_path(run_dir).exists():
        raise ConfigError(f"resume=true but {config_path(run_dir)} is missing: {run_dir} is not a run folder of this "
                          "toolbox. Point hydra.run.dir at the folder of the run to resume.")
    saved = saved_run_config(run_dir)
    for override in overrides:
        key = override.lstrip("+~").split("=", 1)[0]
        if key == "resume" or key.startswith("hydra."):
            continue
        if key in WATCH_KEYS:
            saved[key] = cfg[key]
            continue
        new, old = OmegaConf.select(cfg, key), OmegaConf.select(saved, key)
        as_plain = (lambda node: OmegaConf.to_container(node) if OmegaConf.is_config(node) else node)
        if as_plain(new) != as_plain(old):
            raise ConfigError(f"resume=true continues the saved run, but {override!r} differs from it ({key} was "
                              f"{as_plain(old)!r}). Resume without that override, or start a new run.")
    saved.resume = True
    return saved, read_choices(run_dir)


def run(cfg: DictConfig, run_dir: Path, choices: dict[str, str], overrides: list[str] = ()) -> float:
    """Train (or resume) the run described by ``cfg`` in ``run_dir``; returns the mean reward of the last 100
    episodes (the metric hyperparameter search optimises).

    :param cfg: the composed run config.
    :param run_dir: the run folder.
    :param choices: the chosen option of each config group, e.g. ``{"algo": "ppo2", "env": "MobileRobot"}``.
    :param overrides: the command-line overrides (checked against the saved config when resuming).
    """
    checkpoint, state = None, None
    if cfg.resume:
        cfg, saved_choices = resumed_config(cfg, run_dir, list(overrides))
        choices = {**choices, **saved_choices}
        checkpoint = latest_checkpoint(run_dir)
        if checkpoint is None:
            raise ConfigError(f"resume=true but {run_dir} has no checkpoint (checkpoints/step_* is missing): the run "
                              "was stopped before its first checkpoint. Start it again without resume.")
        state = load_state(checkpoint)
    plan = validate(cfg, choices)
    check_writable(run_dir)
    torch.set_num_threads(cfg.torch_threads)

    history = None
    if state is not None:
        remove_stale_temporaries(run_dir)
        for rank, episodes in enumerate(state.episodes_per_env):
            truncate_monitor(monitor_path(run_dir, rank), episodes)
        history = load_episodes(str(run_dir))
    monitor_time = float(history.wall_times.max()) if history is not None and len(history) else 0.0
    factory = env_factory(cfg, plan, run_dir, cfg.seed, monitors=True,
                          monitor_time_offset=max(monitor_time, state.wall_time_s if state else 0.0))
    venv = plan.algo_class.make_env(factory, cfg.n_envs)
    if venv.num_envs != cfg.n_envs:
        log.info("%s trains on %d env(s); n_envs=%d is not used", choices.get("algo"), venv.num_envs, cfg.n_envs)
    try:
        model = _build_model(cfg, plan, run_dir, venv, checkpoint, state)
        return _learn(cfg, run_dir, choices, model, state, history)
    finally:
        venv.close()


def _build_model(cfg: DictConfig, plan: RunPlan, run_dir: Path, venv: VecEnv, checkpoint: Path | None,
                 state: CheckpointState | None) -> Any:
    if checkpoint is None or state is None:
        return instantiate(cfg.algo, env=venv, seed=cfg.seed, device=cfg.device, _convert_="all")
    venv = restore_normalization(venv, checkpoint / NORMALIZATION_FILE, training=True)
    model = load_model(run_dir, plan, checkpoint / MODEL_FILE, venv, device=cfg.device)
    model.set_random_seed(derived_seed(cfg.seed, state.timesteps))
    return model


def _callbacks(cfg: DictConfig, run_dir: Path, choices: dict[str, str], recorder: RunRecorder,
               history: Episodes | None) -> list[BaseCallback]:
    """The run's recorder callback, plus the live visdom plot when enabled."""
    callbacks: list[BaseCallback] = [
        RunCallback(recorder, cfg.checkpoint_interval, cfg.checkpoints_kept, cfg.best_model_min_episodes,
                    cfg.log_interval, cfg.total_timesteps)
    ]
    if cfg.live_plots in ("visdom", "both"):
        callbacks.append(VisdomPlotter(
            env_name=choices.get("env", cfg.env.id), srl_model=choices.get("srl_model", cfg.srl_model.observation),
            run_label=f"{choices.get('algo')} seed={cfg.seed} ({run_dir.name})", host=cfg.visdom_host,
            port=cfg.visdom_port, previous_episodes=history,
        ))
    return callbacks


def _learn(cfg: DictConfig, run_dir: Path, choices: dict[str, str], model: Any, state: CheckpointState | None,
           history: Episodes | None) -> float:
    recent = [] if history is None else history.rewards[-MEAN_WINDOW:].tolist()
    recorder = RunRecorder(run_dir, model, state, recent)
    if cfg.live_plots in ("tensorboard", "both"):  # SB3's logger writes its scalars as TensorBoard events
        model.set_logger(configure_logger(str(run_dir / TENSORBOARD_DIR), ["tensorboard"]))
    callback = CallbackList(_callbacks(cfg, run_dir, choices, recorder, history))
    what = f"{choices.get('algo')} on {choices.get('env')} ({choices.get('srl_model')}, {choices.get('action_space')})"
    start = model.num_timesteps
    log.info("%s %s: run folder %s", "Resuming" if state else "Training", what, run_dir)
    if state:
        log.info("resumed from checkpoint at %d timesteps", start)
    status = "finished"
    try:
        if start < cfg.total_timesteps:
            model.learn(cfg.total_timesteps - start, callback=callback, reset_num_timesteps=state is None)
    except KeyboardInterrupt:
        status = "interrupted"
    except BaseException:
        recorder.write_metrics(model.num_timesteps, "failed")
        raise
    with deferred_signals(deliver=False) as received:  # the last saves complete whatever arrives meanwhile
        recorder.checkpoint(model, cfg.checkpoints_kept)
        recorder.save_final(model)
        metrics = recorder.write_metrics(model.num_timesteps, status)
    if received:
        log.warning("%s received while saving: the run was saved first", signal.Signals(received[0]).name)
    mean = metrics["mean_reward_last_100"]
    log.info("%s after %d timesteps, %d episodes, %.0f s (%.0f steps/s); mean reward of the last %d episodes: %s",
             status.capitalize(), metrics["timesteps"], metrics["episodes"], metrics["wall_time_s"],
             metrics["steps_per_s"] or 0, MEAN_WINDOW, "n/a" if mean is None else f"{mean:.2f}")
    log.info("Run folder: %s", run_dir)
    log.info("Replay:     python -m rlzoo.enjoy %s", run_dir)
    if status == "interrupted":
        log.info("Resume:     python main.py resume=true hydra.run.dir=%s", run_dir)
        ignore_stop_signals()
        raise SystemExit(130)
    return math.nan if mean is None else mean


def main_task(cfg: DictConfig) -> float:
    """The body of ``main.py``: reads Hydra's runtime info, runs, and turns config errors into one message."""
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    choices = {k: v for k, v in hydra_cfg.runtime.choices.items() if v is not None and not k.startswith("hydra")}
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    try:
        cfg = resume_if_requeued(cfg, run_dir)  # a preempted or requeued SLURM job continues from its checkpoint
        with checkpoint_on_preemption(run_dir):
            return run(cfg, run_dir, choices, list(hydra_cfg.overrides.task))
    except KeyboardInterrupt:  # before training started (during training, run() saves and exits with 130)
        log.info("Interrupted before the RL training started: no RL state to save.")
        raise SystemExit(130) from None
    except ConfigError as error:
        if multirun:  # one bad job must not stop a sweep: record it, the sweep summary reports it
            log.error("%s", error)
            record_failure(run_dir, error)
            return math.nan
        if not cfg.resume:
            _remove_if_empty(run_dir)
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    except Exception as error:
        if not multirun:
            raise
        log.exception("job failed")
        record_failure(run_dir, error)
        return math.nan


def _remove_if_empty(run_dir: Path) -> None:
    """Delete a run folder that holds nothing but Hydra's config and log (a run refused before it started)."""
    if run_dir.is_dir() and not is_started(run_dir):
        shutil.rmtree(run_dir, ignore_errors=True)
