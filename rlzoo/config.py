"""Typed schemas of the run configuration, registered with Hydra's ConfigStore.

Every YAML of ``conf/`` names its schema in its defaults list, so an unknown key or a wrong type fails when the
config is composed, before anything runs. The learned ``srl_model`` options have no YAML: one option per entry of
the SRL model catalogue (``srl.config.MODELS``) is stored here, its ``spec`` the catalogue's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from rlzoo.run_folder import HYDRA_DIR, RESUME_HYDRA_DIR, claim_new_folder
from srl.config import MODELS, ModelSpec


@dataclass
class EnvConfig:
    """One environment: its gymnasium id and constructor keyword arguments."""

    id: str = MISSING
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class SRLModelConfig:
    """The state representation the agent sees.

    :param observation: what the env emits (``ground_truth``, ``pixels``, ``joints``, ``joints_position``).
    :param normalize: normalise observations with a running mean/std (never for raw pixels).
    :param model: the name of a learned model (an entry of ``srl.config.MODELS``) whose encoder turns the env's
        pixels into states (``srl.encoder``); null for what the env produces itself.
    :param spec: what defines that model (losses, state size, architecture): the catalogue's entry, which overrides
        change (``srl_model.spec.state_dim=50``); a model trained on demand is trained with it.
    :param path: the trained model folder; ``latest`` (the newest for the env); null: the cached one, recorded and
        trained on demand the first time.
    :param seed: seed of the on-demand dataset and training (null: the run's seed).
    :param episodes: random-policy episodes recorded for on-demand training (80 x 251 steps ~ the paper's 20 000).
    :param epochs: override the on-demand training's epochs. :param batch_size: and its minibatch size.
    """

    observation: str = MISSING
    normalize: bool = True
    model: str | None = None
    spec: ModelSpec | None = None
    path: str | None = None
    seed: int | None = None
    episodes: int = 80
    epochs: int | None = None
    batch_size: int | None = None


@dataclass
class ActionSpaceConfig:
    """How the agent acts.

    :param control: the env's control mode (``discrete``, ``continuous``, ``joints``).
    :param action_type: what the algorithm must support (``discrete`` or ``continuous``).
    """

    control: str = MISSING
    action_type: str = MISSING


@dataclass
class RunConfig:
    """The top level of a run.

    :param seed: seed of torch, numpy and the envs (env ``rank`` gets ``seed + rank``).
    :param total_timesteps: environment steps to train for, over all envs.
    :param n_envs: environment copies stepped together (the original ``--num-cpu``).
    :param vec_env: ``dummy`` (all envs in the learner process) or ``subproc`` (one process each).
    :param num_stack: frames stacked into one observation (1: none).
    :param action_repeat: env steps per agent action.
    :param random_target: draw a new target position every episode.
    :param shape_reward: dense reward (minus the distance to the target).
    :param image_size: side of camera images in pixels (64 is fast; 224 is the original's).
    :param renderer: how camera images are made: ``composite`` (the env's fastest renderer, the default) or
        ``pybullet`` (pybullet's full render of the scene for every image, the reference).
    :param gui: show the pybullet GUI (needs a display and ``n_envs=1``).
    :param resume: continue the run in ``hydra.run.dir`` from its last checkpoint.
    :param live_plots: where training is watched live: ``visdom`` (a visdom server, when one answers),
        ``tensorboard`` (event files in ``<run>/tensorboard/`` for ``tensorboard --logdir outputs``), ``both`` or
        ``none``.
    :param visdom_port: port of the visdom server (on ``visdom_host``).
    :param checkpoint_interval: timesteps between checkpoints.
    :param checkpoints_kept: how many of the newest checkpoints to keep.
    :param best_model_min_episodes: episodes before the best model (mean of the last 100 episodes) is saved.
    :param log_interval: timesteps between progress lines.
    :param torch_threads: torch CPU threads in the learner.
    :param device: torch device (``cpu``, ``cuda``, ``auto``).
    """

    algo: Any = MISSING
    env: EnvConfig = MISSING
    srl_model: SRLModelConfig = MISSING
    action_space: ActionSpaceConfig = MISSING
    seed: int = 0
    total_timesteps: int = 600_000
    n_envs: int = 8
    vec_env: str = "dummy"
    num_stack: int = 1
    action_repeat: int = 1
    random_target: bool = False
    shape_reward: bool = False
    image_size: int = 64
    renderer: str = "composite"
    gui: bool = False
    resume: bool = False
    live_plots: str = "visdom"
    visdom_host: str = "127.0.0.1"
    visdom_port: int = 8097
    checkpoint_interval: int = 50_000
    checkpoints_kept: int = 3
    best_model_min_episodes: int = 100
    log_interval: int = 25_000
    torch_threads: int = 1
    device: str = "cpu"


def _hydra_subdir(resume: bool) -> str:
    """Where Hydra writes this invocation's config: a resumed run keeps its original ``.hydra/``."""
    return RESUME_HYDRA_DIR if resume else HYDRA_DIR


def register_configs() -> None:
    """Register the schemas and resolvers (idempotent)."""
    store = ConfigStore.instance()
    store.store(name="base_config", node=RunConfig)
    store.store(group="env", name="base_env", node=EnvConfig)
    store.store(group="srl_model", name="base_srl_model", node=SRLModelConfig)
    for name, spec in MODELS.items():  # the learned options: camera images through the model's encoder
        store.store(group="srl_model", name=name, node=SRLModelConfig(observation="pixels", model=name, spec=spec))
    store.store(group="action_space", name="base_action_space", node=ActionSpaceConfig)
    if not OmegaConf.has_resolver("new_folder"):
        # cached: Hydra evaluates the run and sweep folders more than once (and copies the cache to a sweep's jobs)
        OmegaConf.register_new_resolver("new_folder", claim_new_folder, use_cache=True)
    if not OmegaConf.has_resolver("hydra_subdir"):
        OmegaConf.register_new_resolver("hydra_subdir", _hydra_subdir)
