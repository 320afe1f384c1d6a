"""The one builder of a run's environment: env factory + SRL encoder + saved normalisation, and the model class.

Training, resuming, replay, evaluation and dataset recording with a trained agent all build their env here, so an
agent always meets the observations it was trained on: the same env kwargs, the same SRL model, the same frame
stack, and (for a run that normalised its observations) the same statistics.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from envs.vec import EnvFactory
from rlzoo.registry import load_algo_class
from rlzoo.run_folder import SRL_MODEL_RECORD, config_path, monitor_path, read_config, saved_model_class
from rlzoo.validation import RunPlan
from srl.encoder import make_encoder
from srl.errors import ConfigError


def env_factory(cfg: DictConfig, plan: RunPlan, run_dir: Path, seed: int, monitors: bool = False,
                monitor_time_offset: float = 0.0, **env_overrides: Any) -> EnvFactory:
    """The :class:`envs.vec.EnvFactory` of the run ``cfg`` describes.

    :param cfg: the run's config. :param plan: what :func:`rlzoo.validation.validate` made of it.
    :param run_dir: the run folder (the SRL model the run uses is recorded there; monitors go there).
    :param seed: env ``rank`` is seeded with ``seed + rank``.
    :param monitors: write ``<rank>.monitor.csv`` files into ``run_dir`` (training only).
    :param monitor_time_offset: seconds already in the monitors' time column (resume).
    :param env_overrides: env constructor arguments that only change what is recorded (``render_mode``, ``gui``,
        a video's ``image_size``); the SRL encoder still sees the run's own images.
    """
    return EnvFactory(
        env_id=cfg.env.id, env_kwargs={**plan.env_kwargs, **env_overrides}, seed=seed,
        monitor_path=partial(monitor_path, run_dir) if monitors else None,
        action_repeat=cfg.action_repeat, num_stack=cfg.num_stack, normalize=cfg.srl_model.normalize,
        vec_env=cfg.vec_env, monitor_time_offset=monitor_time_offset,
        encoder=make_encoder(cfg.srl_model, cfg.env.id, cfg.image_size, seed, plan.env_kwargs,
                             Path(run_dir) / SRL_MODEL_RECORD),
    )


def restore_normalization(venv: VecEnv, stats: Path, training: bool) -> VecEnv:
    """Swap the fresh ``VecNormalize`` of a normalised run's env for the statistics saved at ``stats``.

    :param venv: an env built by :func:`env_factory` (``VecNormalize`` outermost when the run normalises).
    :param stats: the saved statistics (``vecnormalize.pkl`` of the run, its best model or a checkpoint).
    :param training: keep updating the statistics (resume) or freeze them (replay, evaluation, recording).
    :raises ConfigError: the run normalises its observations but ``stats`` is missing: without them the agent
        would see observations on another scale and be scored as a failure.
    """
    if not isinstance(venv, VecNormalize):
        return venv
    if not stats.exists():
        venv.close()
        raise ConfigError(
            f"{stats} is missing: the run was trained on normalised observations (srl_model.normalize=true), and "
            "its agent cannot be replayed, resumed, evaluated or used for recording without the statistics saved "
            "next to its model. Restore the file from the run folder it came from."
        )
    restored = VecNormalize.load(str(stats), venv.venv)
    restored.training = training
    return restored


def load_model(run_dir: Path, plan: RunPlan, model_file: Path, venv: VecEnv, device: str = "cpu") -> Any:
    """Load ``model_file`` of a run onto ``venv``, with the class the run saved it from."""
    saved = saved_model_class(run_dir)
    model_class = load_algo_class(saved) if saved else plan.algo_class
    return model_class.load(model_file, env=venv, device=device)


def saved_run_config(run_dir: Path) -> DictConfig:
    """The composed config of a run folder (``.hydra/config.yaml``) as an ``OmegaConf`` node.

    :raises ConfigError: ``run_dir`` is not a run folder of ``python main.py``.
    """
    if not config_path(run_dir).is_file():
        raise ConfigError(f"{run_dir} is not a run folder of python main.py: {config_path(run_dir)} is missing.")
    cfg = OmegaConf.create(read_config(run_dir))
    if "renderer" not in cfg:  # saved before the renderer key: the default renderer agrees with the old images
        cfg.renderer = "composite"
    if "visdom" in cfg:  # saved before live_plots chose among visdom, tensorboard, both and none
        cfg.live_plots = "visdom" if cfg.pop("visdom") else "none"
    kwargs = cfg.env.get("kwargs") or {}
    if "action_repeat" in kwargs:  # the Kuka envs' physics steps per env step, named like the run-level key before
        kwargs.physics_substeps = kwargs.pop("action_repeat")
    if cfg.algo.get("policy") == "lstm" and cfg.algo.get("_target_") == "rlzoo.algos.PPO2":
        # saved before algo=ppo2_lstm existed: PPO2 then built the recurrent PPO itself for policy=lstm
        cfg.algo._target_, cfg.algo.policy = "rlzoo.algos.RecurrentPPO2", "auto"
    return cfg
