"""What a run records while it trains: episode statistics, checkpoints, the best model, metrics and progress."""

from __future__ import annotations

import logging
import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from rlzoo.checkpoints import CheckpointState, save_checkpoint
from rlzoo.files import save_model, save_normalization, write_json
from rlzoo.run_folder import METRICS_FILE, model_files
from rlzoo.signals import deferred_signals

log = logging.getLogger(__name__)

MEAN_WINDOW = 100  # episodes in the "mean reward" of the original toolbox


class RunRecorder:
    """The files of one run folder and the statistics they are made from.

    :param run_dir: the run folder.
    :param model: the algorithm being trained (its env has one monitor file per worker).
    :param resumed: progress restored from a checkpoint (None for a new run).
    :param recent_rewards: rewards of the last episodes before the resume point, oldest first.
    """

    def __init__(self, run_dir: Path, model: Any, resumed: CheckpointState | None = None,
                 recent_rewards: list[float] | None = None) -> None:
        self.run_dir = run_dir
        n_envs = model.get_env().num_envs
        self.model_class = f"{type(model).__module__}.{type(model).__qualname__}"
        state = resumed or CheckpointState(timesteps=0, episodes_per_env=[0] * n_envs)
        self.episodes_per_env = list(state.episodes_per_env) or [0] * n_envs
        self.best_mean_reward = state.best_mean_reward
        self.recent_rewards: deque[float] = deque(recent_rewards or [], maxlen=MEAN_WINDOW)
        self.start_timesteps = state.timesteps
        self.previous_wall_time = state.wall_time_s
        self.session_start = time.perf_counter()
        self.session_cpu_start = time.process_time()

    @property
    def episodes(self) -> int:
        """Finished episodes over all env workers."""
        return sum(self.episodes_per_env)

    def wall_time(self) -> float:
        """Training wall time (s), including the time before a resume."""
        return self.previous_wall_time + time.perf_counter() - self.session_start

    def mean_reward(self) -> float | None:
        """Mean reward of the last 100 episodes (None before the first episode)."""
        return float(np.mean(self.recent_rewards)) if self.recent_rewards else None

    def record_episode(self, env_index: int, reward: float) -> None:
        """Count a finished episode of worker ``env_index``."""
        self.episodes_per_env[env_index] += 1
        self.recent_rewards.append(reward)

    def state(self, timesteps: int) -> CheckpointState:
        """The progress to save at ``timesteps``."""
        return CheckpointState(timesteps=timesteps, episodes_per_env=list(self.episodes_per_env),
                               wall_time_s=self.wall_time(), best_mean_reward=self.best_mean_reward,
                               model_class=self.model_class)

    def checkpoint(self, model: Any, keep: int) -> Path:
        """Save a checkpoint and refresh ``metrics.json`` (a stop signal waits until both are written)."""
        with deferred_signals():
            path = save_checkpoint(self.run_dir, model, model.get_env(), self.state(model.num_timesteps), keep)
            self.write_metrics(model.num_timesteps, "running")
        return path

    def save_best_if_improved(self, model: Any, min_episodes: int) -> bool:
        """Save ``best_model.zip`` when the mean of the last 100 episodes beats the best so far."""
        mean = self.mean_reward()
        if mean is None or self.episodes < min_episodes or len(self.recent_rewards) < min(MEAN_WINDOW, min_episodes):
            return False
        if self.best_mean_reward is not None and mean <= self.best_mean_reward:
            return False
        self.best_mean_reward = mean
        model_file, stats_file = model_files(best=True)
        with deferred_signals():  # the model and its statistics are saved as a pair
            save_model(model, self.run_dir / model_file)
            save_normalization(model.get_env(), self.run_dir / stats_file)
        return True

    def save_final(self, model: Any) -> None:
        """Save ``model.zip`` and its normalisation statistics (a stop signal waits until both are written)."""
        model_file, stats_file = model_files()
        with deferred_signals():
            save_model(model, self.run_dir / model_file)
            save_normalization(model.get_env(), self.run_dir / stats_file)

    def write_metrics(self, timesteps: int, status: str) -> dict[str, Any]:
        """Write and return the ``metrics.json`` summary."""
        wall = self.wall_time()
        session = time.perf_counter() - self.session_start
        session_cpu = time.process_time() - self.session_cpu_start
        metrics = {
            "status": status,
            "timesteps": int(timesteps),
            "episodes": self.episodes,
            "mean_reward_last_100": self.mean_reward(),
            "best_mean_reward": self.best_mean_reward,
            "wall_time_s": round(wall, 3),
            "steps_per_s": round((timesteps - self.start_timesteps) / session, 1) if session > 0 else None,
            # per second of this process's CPU time (all its threads): the per-core rate on a shared machine
            "steps_per_cpu_s": round((timesteps - self.start_timesteps) / session_cpu, 1) if session_cpu > 0 else None,
            "model_class": self.model_class,
        }
        write_json(self.run_dir / METRICS_FILE, metrics)
        return metrics


class RunCallback(BaseCallback):
    """Feeds a :class:`RunRecorder` during ``learn``: episodes, periodic checkpoints, best model, progress lines.

    :param recorder: the run's recorder.
    :param checkpoint_interval: timesteps between checkpoints.
    :param checkpoints_kept: newest checkpoints to keep.
    :param best_model_min_episodes: episodes before the best model may be saved.
    :param log_interval: timesteps between progress lines.
    :param total_timesteps: the run's target, for progress lines.
    """

    def __init__(self, recorder: RunRecorder, checkpoint_interval: int, checkpoints_kept: int,
                 best_model_min_episodes: int, log_interval: int, total_timesteps: int) -> None:
        super().__init__()
        self.recorder = recorder
        self.checkpoint_interval = checkpoint_interval
        self.checkpoints_kept = checkpoints_kept
        self.best_model_min_episodes = best_model_min_episodes
        self.log_interval = log_interval
        self.total_timesteps = total_timesteps
        self._next_checkpoint = 0
        self._next_log = 0

    def _on_training_start(self) -> None:
        start = self.model.num_timesteps
        self._next_checkpoint = (start // self.checkpoint_interval + 1) * self.checkpoint_interval
        self._next_log = (start // self.log_interval + 1) * self.log_interval

    def _on_step(self) -> bool:
        for index, info in enumerate(self.locals.get("infos", ())):
            episode = info.get("episode")
            if episode is not None:
                self.recorder.record_episode(index, float(episode["r"]))
        if self.num_timesteps >= self._next_checkpoint:
            self.recorder.checkpoint(self.model, self.checkpoints_kept)
            self._next_checkpoint += self.checkpoint_interval
        if self.num_timesteps >= self._next_log:
            self._log_progress()
            self._next_log += self.log_interval
        return True

    def _on_rollout_end(self) -> None:
        if self.recorder.save_best_if_improved(self.model, self.best_model_min_episodes):
            log.debug("new best model: mean reward %.2f", self.recorder.best_mean_reward)

    def _log_progress(self) -> None:
        mean = self.recorder.mean_reward()
        elapsed = time.perf_counter() - self.recorder.session_start
        rate = (self.num_timesteps - self.recorder.start_timesteps) / max(elapsed, 1e-9)
        # the same figures in SB3's logger, for every algorithm (TensorBoard with live_plots=tensorboard)
        if mean is not None:
            self.logger.record("run/mean_reward_last_100", mean)
        self.logger.record("run/episodes", self.recorder.episodes)
        self.logger.record("run/steps_per_s", rate)
        self.logger.dump(self.num_timesteps)
        log.info(
            "steps %d/%d | episodes %d | mean reward (last %d) %s | %.0f steps/s",
            self.num_timesteps, self.total_timesteps, self.recorder.episodes, MEAN_WINDOW,
            "n/a" if mean is None else f"{mean:.2f}", rate,
        )
