"""Checks of a composed run config, done before any environment starts.

Unknown group options and unknown keys are already rejected by Hydra when it composes the config; this module
checks values and combinations (algo x action space, srl_model x env, ranges) and says what would be valid.
"""

from __future__ import annotations

import inspect
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium
from hydra.core.config_store import ConfigStore
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

import envs  # noqa: F401  (registers the env ids)
from envs.base import SRLEnv
from envs.sim import display_available
from rlzoo.base import ActionType
from rlzoo.cluster import restart_count
from rlzoo.registry import CONF_DIR, algorithms, load_algo_class
from rlzoo.run_folder import HYDRA_DIR, is_run_folder, is_started
from srl.config import check_device, check_seed
from srl.errors import ConfigError

VEC_ENV_KINDS = ("dummy", "subproc")
#: where training can be watched live (``live_plots``)
LIVE_PLOTS = ("visdom", "tensorboard", "both", "none")
#: run-level keys that must be at least 1
POSITIVE_KEYS = ("total_timesteps", "n_envs", "num_stack", "action_repeat", "checkpoint_interval", "checkpoints_kept",
                 "log_interval", "torch_threads")


@dataclass(frozen=True)
class RunPlan:
    """What a validated config resolves to: the algorithm class and the env constructor's arguments."""

    algo_class: type
    env_kwargs: dict[str, Any]


def _option_nodes(group: str) -> dict[str, DictConfig]:
    """Each option of a config group and its config: the YAML files under ``conf/<group>/`` and the options stored
    in the ConfigStore (the learned ``srl_model`` options), without the ``base_*`` schemas."""
    nodes = {path.stem: OmegaConf.load(path) for path in (CONF_DIR / group).glob("*.yaml")}
    store = ConfigStore.instance()
    try:
        stored = store.list(group)
    except OSError:  # nothing stored in this group
        stored = []
    for entry in stored:
        nodes.setdefault(entry.removesuffix(".yaml"), store.load(f"{group}/{entry}").node)
    return {name: nodes[name] for name in sorted(nodes) if not name.startswith("base_")}


def _env_class(env_id: str) -> type:
    try:
        spec = gymnasium.spec(env_id)
    except gymnasium.error.Error:
        ours = ", ".join(envs.ENV_IDS)
        raise ConfigError(f"env.id={env_id!r} is not a registered gymnasium id; the toolbox's ids are: {ours}.") from None
    entry_point = spec.entry_point
    return entry_point if isinstance(entry_point, type) else get_class(entry_point.replace(":", "."))


def _check_ranges(cfg: DictConfig) -> None:
    check_seed("seed", cfg.seed)
    check_device("device", cfg.device)
    if cfg.srl_model.get("seed") is not None:  # the seed of an on-demand SRL model's dataset and training
        check_seed("srl_model.seed", cfg.srl_model.seed)
    for key in POSITIVE_KEYS:
        if cfg[key] < 1:
            raise ConfigError(f"{key}={cfg[key]} is invalid: it must be an integer of at least 1.")
    if cfg.live_plots not in LIVE_PLOTS:
        raise ConfigError(f"live_plots={cfg.live_plots!r} is not one of: {', '.join(LIVE_PLOTS)}.")
    if cfg.vec_env not in VEC_ENV_KINDS:
        raise ConfigError(f"vec_env={cfg.vec_env!r} is not one of: {', '.join(VEC_ENV_KINDS)}.")
    if cfg.gui and cfg.n_envs != 1:
        raise ConfigError(f"gui=true shows one pybullet window, so it needs n_envs=1 (got n_envs={cfg.n_envs}).")
    if cfg.gui and not display_available():
        raise ConfigError("gui=true needs a display, but DISPLAY is not set: run on a machine with a screen, with X "
                          "forwarding (ssh -X) or a virtual display (xvfb-run), or train headless with gui=false.")
    if cfg.image_size < 36:
        raise ConfigError(f"image_size={cfg.image_size} is too small: CNN policies need at least 36 pixels (try 64).")


def _check_algo(cfg: DictConfig, algo_name: str) -> type:
    target = cfg.algo.get("_target_")
    try:
        algo_class = load_algo_class(str(target))
    except (ValueError, ImportError) as error:
        raise ConfigError(f"algo={algo_name}: cannot use _target_ {target!r}: {error}.") from None
    params = inspect.signature(algo_class.__init__).parameters
    runtime = {"self", "env", "seed", "device", "_init_setup_model"}
    unknown = [key for key in cfg.algo if key != "_target_" and key not in params]
    if unknown:
        valid = ", ".join(p for p in params if p not in runtime)
        raise ConfigError(f"algo={algo_name} has no hyperparameter {', '.join(unknown)}; valid ones: {valid}.")
    if cfg.algo.get("policy") == "lstm":
        raise ConfigError(f"algo.policy=lstm is not a policy of algo={algo_name}: recurrent PPO is an algorithm of its "
                          "own, algo=ppo2_lstm (sb3-contrib RecurrentPPO, with ppo2's hyperparameters). Use "
                          "algo=ppo2_lstm, or algo.policy=auto.")
    action_type = ActionType(cfg.action_space.action_type)
    if action_type not in algo_class.action_types:
        supported = ", ".join(t.value for t in algo_class.action_types)
        able = ", ".join(name for name, info in algorithms().items() if action_type in info.action_types)
        raise ConfigError(
            f"algo={algo_name} does not support {action_type.value} actions (action_space="
            f"{cfg.action_space.control}); it supports: {supported}. Algorithms that support {action_type.value} "
            f"actions: {able}."
        )
    return algo_class


def _check_env(cfg: DictConfig, choices: dict[str, str]) -> type:
    env_class = _env_class(cfg.env.id)
    env_name = choices.get("env", cfg.env.id)
    if not issubclass(env_class, SRLEnv):
        return env_class
    observation = cfg.srl_model.observation
    if observation not in env_class.observation_kinds:
        usable = [name for name, node in _option_nodes("srl_model").items()
                  if node.get("observation") in env_class.observation_kinds]
        raise ConfigError(
            f"srl_model={choices.get('srl_model', observation)} is not available for env={env_name} (it needs "
            f"{observation!r} observations, which this env does not produce); available: {', '.join(usable)}."
        )
    control = cfg.action_space.control
    if control not in env_class.controls:
        raise ConfigError(
            f"env={env_name} cannot take action_space={control}; it supports: {', '.join(env_class.controls)}."
        )
    accepted = _constructor_arguments(env_class)
    unknown = sorted(set(cfg.env.get("kwargs") or {}) - accepted)
    if unknown:
        raise ConfigError(f"env={env_name} has no argument {', '.join(f'env.kwargs.{k}' for k in unknown)}; its "
                          f"arguments: {', '.join(sorted(accepted))}.")
    return env_class


def _constructor_arguments(env_class: type) -> set[str]:
    """The keyword arguments an env class takes, following ``**kwargs`` up its bases."""
    names: set[str] = set()
    for cls in env_class.__mro__:
        if "__init__" not in vars(cls):
            continue
        parameters = inspect.signature(cls.__init__).parameters
        names |= {n for n, p in parameters.items() if n != "self" and p.kind is not p.VAR_KEYWORD}
        if not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
            break
    return names


def check_writable(run_dir: Path) -> None:
    """Fail early when the run folder cannot be written."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=run_dir):
            pass
    except OSError as error:
        raise ConfigError(
            f"the output folder {run_dir} cannot be written ({error.strerror}); choose another with "
            "hydra.run.dir=<folder> (or hydra.sweep.dir for -m)."
        ) from None
    if not os.access(run_dir, os.W_OK):
        raise ConfigError(f"the output folder {run_dir} is not writable; choose another with hydra.run.dir=<folder>.")


def validate(cfg: DictConfig, choices: dict[str, str]) -> RunPlan:
    """Check a composed config; raise :class:`ConfigError` with a one-paragraph message on bad input.

    :param cfg: the composed run config.
    :param choices: the chosen option of each config group (``hydra.runtime.choices``), for messages.
    """
    _check_ranges(cfg)
    algo_class = _check_algo(cfg, choices.get("algo", str(cfg.algo.get("_target_"))))
    env_class = _check_env(cfg, choices)
    env_kwargs = dict(OmegaConf.to_container(cfg.env.kwargs, resolve=True))
    if issubclass(env_class, SRLEnv):
        if cfg.renderer not in env_class.renderers:
            raise ConfigError(f"renderer={cfg.renderer} is not available for env={choices.get('env', cfg.env.id)}; "
                              f"it supports: {', '.join(env_class.renderers)}.")
        env_kwargs.update(observation=cfg.srl_model.observation, control=cfg.action_space.control,
                          image_size=cfg.image_size, renderer=cfg.renderer)
        if cfg.gui:
            env_kwargs["gui"] = True
    return RunPlan(algo_class=algo_class, env_kwargs=env_kwargs)


def check_output_folder(argv: list[str]) -> None:
    """Refuse, before Hydra writes into it, an output folder that cannot be created or written, or a named folder
    that already holds a run (unless the command resumes it).

    :param argv: the command-line arguments of ``main.py`` (``hydra.run.dir=``, ``hydra.sweep.dir=`` and
        ``resume=`` are read).
    """
    folder, named = Path("outputs"), None
    resume = False
    for arg in argv:
        key, _, value = arg.partition("=")
        if key in ("hydra.run.dir", "hydra.sweep.dir") and value:
            folder = named = Path(value)
        elif key == "resume":
            resume = value.strip().lower() in ("true", "1", "yes")
    if named is not None and not resume and restart_count() == 0 and named.is_dir() and _holds_runs(named):
        # (a job that SLURM restarted runs its command again: it continues its own folder, see rlzoo.cluster)
        raise ConfigError(
            f"the output folder {named} already holds a run: a new run there would mix its monitor files, "
            f"checkpoints and config with the old one. Continue that run with python main.py resume=true "
            f"hydra.run.dir={named}, or write the new run to another folder (hydra.run.dir=<new folder>, "
            "hydra.sweep.dir=<new folder> with -m, or neither for a fresh dated folder)."
        )
    existing = folder.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        reason = "is a file, not a folder" if not existing.is_dir() else "is not writable"
        raise ConfigError(
            f"the output folder {folder} cannot be created: {existing} {reason}. Choose another with "
            "hydra.run.dir=<folder> (hydra.sweep.dir=<folder> with -m), or run from a writable directory."
        )


def _holds_runs(folder: Path) -> bool:
    """True when ``folder``, or a job folder of a sweep in it, is a run folder that got past its start."""
    candidates = [folder, *(p.parent for p in folder.glob(f"*/{HYDRA_DIR}"))]
    return any(is_run_folder(run) and is_started(run) for run in candidates)
