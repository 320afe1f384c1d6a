"""Record an SRL dataset: ``python -m srl.dataset env=MobileRobot episodes=50 [n_workers=2] [random_target=true]``.

A random policy (``action_space.sample()``), or a trained agent that the caller hands over as a factory (the
replay command does: ``python -m rlzoo.enjoy <run folder> --record-dataset <folder>``), acts in ``episodes``
episodes spread over ``n_workers`` processes, with a progress bar. Episode ``i`` is seeded from ``seed`` and ``i``
alone, so the dataset does not depend on the number of processes.

Layout (the original toolbox's, spec srl-zoo.md 2.1-2.2, so its datasets and ours load the same way)::

    <save_path>/<name>/dataset_config.json   {"relative_pos", "max_dist", + env_id, env_kwargs, image_size, ...}
    <save_path>/<name>/env_globals.json      the env module's constants
    <save_path>/<name>/preprocessed_data.npz actions (N,), rewards (N,), episode_starts (N,) bool
    <save_path>/<name>/ground_truth.npz      ground_truth_states (N, d) absolute, target_positions (n_episodes, d_t)
                                             one per episode (at reset), images_path (N,) strings
                                             "<name>/record_XXX/frameXXXXXX"
                                             + frame_target_positions (N, d_t): the target of each frame (ours)
    <save_path>/<name>/images.npy            (ours) uint8 (N, S, S, 3) RGB at image_size S (default 64);
                                             (N, S, S, 6) with two camera views (Kuka ``multi_view``), view 1 first

Image format: one uint8 ``.npy`` stack (memory-mapped at training time, no decoding) instead of one JPEG per
frame; 20 000 frames at 64x64 are 246 MB. ``save_jpg=true`` also writes the original's
``record_XXX/frameXXXXXX.jpg`` files, and datasets that only have those JPEGs (the original's) load too.

Alignment (as the original): frame i is the observation o_i, action i and reward i are what was done and received
from it; a frame is stored at reset and after every step that does not end the episode, so (o_i, o_{i+1}) is a
transition iff ``episode_starts[i + 1]`` is False.
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import os
import shutil
import sys
import time
import types
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
from omegaconf import DictConfig, OmegaConf

from envs.processes import standard_start_method
from srl.config import CONF_DIR, check_episodes, check_seed, derived_seed, options
from srl.data import Episode, write_dataset
from srl.errors import ConfigError
from srl.progress import progress as progress_bar

log = logging.getLogger(__name__)

_PARTS = ".episodes"


class RecordingAgent(Protocol):
    """A trained agent with one env built like its training env (``rlzoo.replay.Replay`` is one).

    ``env`` is a one-env VecEnv (``reset``, ``step``, ``close``) and ``robot`` the toolbox env behind it, whose
    camera and ground truth are recorded.
    """

    env: Any
    robot: Any

    def seed(self, seed: int) -> None:
        """Seed the env's next reset and the agent's action sampling (an episode depends on its seed alone)."""

    def act(self, observation: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """The action for a batch of one observation, shape ``(1, *action_shape)``."""


#: builds a :class:`RecordingAgent` in a recording process; must be picklable (e.g. a ``functools.partial``)
AgentFactory = Callable[[], RecordingAgent]


@dataclass(frozen=True)
class RecordSettings:
    """What every worker needs to record episodes (picklable).

    :param env_id: gymnasium id. :param env_kwargs: constructor arguments (without observation/image_size).
    :param out_dir: the folder being written. :param name: dataset name (prefix of ``images_path``).
    :param base_seed: episode ``i`` is seeded with ``base_seed + i``.
    :param image_size: side of stored images. :param max_steps: cut episodes to this many steps (None: no cut).
    :param agent: builds the acting agent in each process, or None for the random policy.
    :param save_jpg: write per-frame JPEGs.
    """

    env_id: str
    env_kwargs: dict[str, Any]
    out_dir: Path
    name: str
    base_seed: int
    image_size: int
    max_steps: int | None
    agent: AgentFactory | None
    save_jpg: bool


def resolve_env(env: str, random_target: bool = False, shape_reward: bool = False) -> tuple[str, dict[str, Any]]:
    """The gymnasium id and constructor kwargs of ``env``: an option of ``conf/env`` or a registered id."""
    path = CONF_DIR / "env" / f"{env}.yaml"
    if path.exists():
        node = OmegaConf.load(path)
        node.pop("defaults", None)
        node = OmegaConf.merge({"random_target": random_target, "shape_reward": shape_reward}, {"env": node})
        env_cfg = OmegaConf.to_container(node.env, resolve=True)
        return str(env_cfg["id"]), dict(env_cfg.get("kwargs") or {})
    import gymnasium

    import envs  # noqa: F401  (registers the ids)

    if env in gymnasium.registry:
        return env, {"random_target": random_target, "shape_reward": shape_reward}
    raise ConfigError(f"env={env!r} is neither an option of conf/env nor a registered gymnasium id; available envs: "
                      f"{', '.join(options('env'))}.")


# --- one worker -------------------------------------------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def _init_worker(settings: RecordSettings) -> None:
    """Build the env (or the agent and its env) once per process."""
    import gymnasium

    import envs  # noqa: F401  (registers the ids)

    _WORKER.clear()
    _WORKER["settings"] = settings
    if settings.agent is None:
        env = gymnasium.make(settings.env_id, **_recording_kwargs(settings))
        _WORKER.update(env=env, robot=env.unwrapped)
    else:
        agent = settings.agent()
        _WORKER.update(replay=agent, robot=agent.robot)


def _recording_kwargs(settings: RecordSettings) -> dict[str, Any]:
    """Env kwargs for recording: ground-truth observations (cheap) when the env has them; images are rendered
    separately at ``image_size`` with ``render_image``."""
    import gymnasium
    from hydra.utils import get_class

    kwargs = dict(settings.env_kwargs)
    kwargs["image_size"] = settings.image_size
    entry = gymnasium.spec(settings.env_id).entry_point
    env_class = entry if isinstance(entry, type) else get_class(entry.replace(":", "."))
    kinds = getattr(env_class, "observation_kinds", ("ground_truth",))
    kwargs.setdefault("observation", "ground_truth" if "ground_truth" in kinds else "pixels")
    return kwargs


def _frame(robot: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The frame's image (every camera view of an env that has ``render_views``, the Kuka envs with
    ``multi_view``: ``(S, S, 6)``; else ``render_image``'s ``(S, S, 3)``), ground truth and target."""
    render = getattr(robot, "render_views", robot.render_image)
    image = np.asarray(render(), dtype=np.uint8)
    return image, np.asarray(robot.ground_truth(), dtype=np.float64), np.asarray(robot.target_position(),
                                                                                  dtype=np.float64)


def _record_episode(index: int) -> tuple[int, int]:
    """Record episode ``index`` into ``<out>/.episodes/ep_<index>/`` (:func:`_save_part`); returns (index, frames)."""
    settings: RecordSettings = _WORKER["settings"]
    robot = _WORKER["robot"]
    seed = derived_seed(settings.base_seed, index)
    frames: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    actions: list[Any] = []
    rewards: list[float] = []
    limit = settings.max_steps or math.inf
    if "replay" in _WORKER:
        replay = _WORKER["replay"]
        replay.seed(seed)
        obs = replay.env.reset()
        frames.append(_frame(robot))
        while True:
            action = replay.act(obs, deterministic=False)
            obs, reward, done, _ = replay.env.step(action)
            actions.append(np.asarray(action)[0])
            rewards.append(float(reward[0]))
            if done[0] or len(actions) >= limit:
                break
            frames.append(_frame(robot))
    else:
        env = _WORKER["env"]
        env.action_space.seed(seed)
        env.reset(seed=seed)
        frames.append(_frame(robot))
        while True:
            action = env.action_space.sample()
            _, reward, terminated, truncated, _ = env.step(action)
            actions.append(action)
            rewards.append(float(reward))
            if terminated or truncated or len(actions) >= limit:
                break
            frames.append(_frame(robot))
    images = np.stack([f[0] for f in frames])
    if settings.save_jpg:
        _write_jpgs(settings.out_dir / f"record_{index:03d}", images)
    _save_part(settings.out_dir / _PARTS / f"ep_{index:06d}",
               Episode(images=images, actions=np.asarray(actions), rewards=np.asarray(rewards, dtype=np.float64),
                       ground_truth=np.stack([f[1] for f in frames]), frame_targets=np.stack([f[2] for f in frames])))
    return index, len(frames)


def _save_part(folder: Path, episode: Episode) -> None:
    """An episode's arrays as ``.npy`` files in ``folder`` (one per :class:`~srl.data.Episode` field): unlike an
    ``.npz`` file, written and read back without a CRC over the images (a one-process recording about 5 % faster)."""
    folder.mkdir()
    for field, array in episode._asdict().items():
        np.save(folder / f"{field}.npy", array)


def _write_jpgs(folder: Path, images: np.ndarray) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for step, image in enumerate(images):
        if image.shape[2] == 3:
            Image.fromarray(image).save(folder / f"frame{step:06d}.jpg", quality=95, subsampling=0)
            continue
        for view in range(image.shape[2] // 3):  # the original's multi-view names: frameXXXXXX_1.jpg, _2.jpg
            Image.fromarray(image[:, :, 3 * view:3 * view + 3]).save(folder / f"frame{step:06d}_{view + 1}.jpg",
                                                                     quality=95, subsampling=0)


# --- the parent ---------------------------------------------------------------------------------------------------
def base_seed(seed: int) -> int:
    """The seed of episode 0 (episode i gets ``base + i``); the original also decorrelated seeds 0 and 1."""
    return int(np.random.SeedSequence(seed).generate_state(1)[0])


def _env_globals(env_id: str) -> dict[str, Any]:
    import gymnasium

    entry = gymnasium.spec(env_id).entry_point
    module = sys.modules.get(entry.split(":")[0]) if isinstance(entry, str) else sys.modules.get(entry.__module__)
    if module is None:
        return {}
    constants = {}
    for key, value in vars(module).items():
        if key.isupper() and not isinstance(value, types.ModuleType):
            try:
                json.dumps(value)
            except TypeError:
                continue
            constants[key] = value
    return dict(sorted(constants.items()))


def record_dataset(out_dir: Path | str, env_id: str, env_kwargs: dict[str, Any] | None = None, episodes: int = 50,
                   n_workers: int = 1, seed: int = 0, image_size: int = 64, max_steps: int | None = None,
                   agent: AgentFactory | None = None, policy: str = "random", save_jpg: bool = False,
                   force: bool = False, progress: bool = True) -> Path:
    """Record a dataset into ``out_dir`` (written to a temporary folder, renamed when complete).

    :param env_id: gymnasium id of an SRL env (``envs.base.SRLEnv``).
    :param env_kwargs: env constructor arguments (``observation`` and ``image_size`` are set here).
    :param episodes: number of episodes. :param n_workers: processes (at most ``episodes``).
    :param seed: base seed. :param image_size: side of the stored images (pixels).
    :param max_steps: cut every episode to this many steps (None: the env's limit).
    :param agent: builds the acting agent in each recording process (None: random actions); its env must be the
        env ``env_id`` with ``env_kwargs``, rendering at ``image_size``.
    :param policy: what acts, recorded in ``dataset_config.json`` (``random``, or the agent's run folder).
    :param save_jpg: also write one JPEG per frame (the original's format).
    :param force: replace an existing ``out_dir``.
    :param progress: progress bar on stderr.
    :return: ``out_dir``.
    """
    out_dir = Path(out_dir).absolute()
    check_seed("seed", seed)
    check_episodes("episodes", episodes)
    if image_size < 16:
        raise ConfigError(f"image_size={image_size} is too small: use at least 16 (64 is the default).")
    if out_dir.exists() and not force:
        raise ConfigError(f"the dataset folder {out_dir} already exists; pass force=true to overwrite it or choose "
                          "another name=<name>.")
    env_kwargs = {k: v for k, v in (env_kwargs or {}).items() if k not in ("observation", "image_size",
                                                                             "render_mode", "gui")}
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}")
    _remove_stale_temporaries(out_dir)
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / _PARTS).mkdir(parents=True)
    settings = RecordSettings(env_id=env_id, env_kwargs=env_kwargs, out_dir=tmp, name=out_dir.name,
                              base_seed=base_seed(seed), image_size=image_size, max_steps=max_steps, agent=agent,
                              save_jpg=save_jpg)
    n_workers = max(1, min(n_workers, episodes))
    start = time.perf_counter()
    lengths: dict[int, int] = {}
    bar = progress_bar(episodes, f"recording {out_dir.name}", "episode", enabled=progress)
    try:
        if n_workers == 1:
            _init_worker(settings)
            results = map(_record_episode, range(episodes))
            for index, n in results:
                lengths[index] = n
                bar.update()
            _close_worker()
        else:
            # a worker that fails (in its initializer too) breaks the executor, which raises here, where
            # multiprocessing.Pool would silently start replacement workers forever
            context = multiprocessing.get_context("forkserver")
            with standard_start_method(), ProcessPoolExecutor(n_workers, mp_context=context, initializer=_init_worker,
                                                             initargs=(settings,)) as pool:
                futures = [pool.submit(_record_episode, i) for i in range(episodes)]
                for future in as_completed(futures):
                    index, n = future.result()
                    lengths[index] = n
                    bar.update()
                    bar.set_postfix(frames=sum(lengths.values()))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        bar.close()
    elapsed = time.perf_counter() - start
    robot_info = _describe_env(settings)
    _merge(tmp, settings, [lengths[i] for i in range(episodes)], robot_info, seed=seed, episodes=episodes,
           policy=policy)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)
    frames = sum(lengths.values())
    log.info("Recorded %d frames in %d episodes of %s in %.1f s (%.0f frames/s with %d process%s) to %s", frames,
             episodes, env_id, elapsed, frames / elapsed, n_workers, "" if n_workers == 1 else "es", out_dir)
    return out_dir


def _remove_stale_temporaries(out_dir: Path) -> None:
    """Delete the temporary folders of ``out_dir`` whose recording process is gone (killed mid-recording)."""
    for stale in out_dir.parent.glob(f".{out_dir.name}.tmp-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            log.info("Removing %s, left by an interrupted recording", stale)
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _close_worker() -> None:
    env = _WORKER.get("env")
    if env is not None:
        env.close()
    if "replay" in _WORKER:
        _WORKER["replay"].env.close()
    _WORKER.clear()


def _describe_env(settings: RecordSettings) -> dict[str, Any]:
    """The env's ``relative_pos`` and ``max_dist`` (as the original's dataset_config), without starting pybullet."""
    import gymnasium

    import envs  # noqa: F401

    env = gymnasium.make(settings.env_id, **_recording_kwargs(settings))
    robot = env.unwrapped
    info = {"relative_pos": bool(getattr(robot, "relative_pos", False)),
            "max_dist": str(getattr(robot, "max_distance", getattr(robot, "max_dist", "None"))),
            "renderer": getattr(robot, "renderer", None)}  # which renderer made the images
    env.close()
    return info


def _load_part(folder: Path) -> Episode:
    return Episode(**{field: np.load(folder / f"{field}.npy") for field in Episode._fields})


def _merge(tmp: Path, settings: RecordSettings, lengths: list[int], robot_info: dict[str, Any], **extra: Any) -> None:
    """Concatenate the episode parts (``lengths[i]`` frames in episode ``i``) into the dataset files, in episode
    order."""
    parts = [tmp / _PARTS / f"ep_{i:06d}" for i in range(len(lengths))]
    config = {**robot_info, "env_id": settings.env_id, "env_kwargs": settings.env_kwargs,
              "max_steps": settings.max_steps, **extra}
    write_dataset(tmp, settings.name, [partial(_load_part, part) for part in parts], lengths, settings.image_size,
                  config, _env_globals(settings.env_id))
    shutil.rmtree(tmp / _PARTS)


# --- command line -------------------------------------------------------------------------------------------------
def run(cfg: DictConfig) -> Path:
    """Record the dataset ``cfg`` describes (see :class:`srl.config.DatasetConfig`)."""
    if cfg.agent:
        raise ConfigError(f"agent={cfg.agent}: a trained agent records its dataset with the replay command, which "
                          f"builds the agent's own env: python -m rlzoo.enjoy {cfg.agent} --record-dataset "
                          f"{Path(cfg.save_path) / (cfg.name or 'agent_dataset')} --episodes {cfg.episodes}.")
    env_id, env_kwargs = resolve_env(cfg.env, cfg.random_target, cfg.shape_reward)
    env_kwargs.update(control=cfg.control, renderer=cfg.renderer)
    env_kwargs.update(OmegaConf.to_container(cfg.env_kwargs))
    name = cfg.name or f"{cfg.env}_seed{cfg.seed}"
    return record_dataset(Path(cfg.save_path) / name, env_id, env_kwargs, episodes=cfg.episodes,
                          n_workers=cfg.n_workers, seed=cfg.seed, image_size=cfg.image_size, max_steps=cfg.max_steps,
                          save_jpg=cfg.save_jpg, force=cfg.force, progress=cfg.progress)


def main() -> None:
    """``python -m srl.dataset [key=value ...]``: compose ``srl/conf/dataset.yaml`` and record."""
    import hydra

    from srl.config import SRL_CONF_DIR, register_srl_configs

    register_srl_configs()  # not rlzoo's: its "env" group would turn env=<name> into a group override

    @hydra.main(version_base="1.3", config_path=str(SRL_CONF_DIR), config_name="dataset")
    def _app(cfg: DictConfig) -> None:
        try:
            out = run(cfg)
        except ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            raise SystemExit(2) from None
        print(f"Dataset: {out}")
        print(f"Train:   python -m srl.train dataset={out} model=autoencoder")

    _app()


if __name__ == "__main__":
    main()
