"""Read an SRL dataset (ours or the original toolbox's) and turn images into network inputs.

Reading (spec srl-zoo.md 2.3): arrays from ``preprocessed_data.npz`` and ``ground_truth.npz`` (legacy keys
``arm_states`` and ``button_positions`` accepted), images from ``images.npy`` (ours) or from the original's
``<data>/<images_path>.jpg`` files; the per-frame target is ``target_positions[episode index]`` (or our
``frame_target_positions``). With ``relative_pos`` true in ``dataset_config.json``, the ground truth used for
supervised learning and KNN-MSE is the agent's position minus the target's.

Preprocessing (spec 1.1), shared by training and RL inference (so PCA gets it too, unlike the original toolbox):
uint8 RGB -> float in [0, 1] -> ImageNet mean/std per channel -> NCHW. Multi-view images (two camera views stacked
on the channel axis, ``(S, S, 6)``, view 1 in channels 0-2; spec 1.1 and 1.4.10) are normalised view by view with
the same mean and std, as the original preprocessed each view and stacked them. Our datasets store them in
``images.npy`` as ``(N, S, S, 6)``; the original's ``<frame>_1.jpg`` and ``<frame>_2.jpg`` files load too. Differences from the original: images are
resized (area interpolation) to the model's ``image_size`` (64 by default, 224 the original's) once when the
dataset is loaded, and the tensor layout is the usual (N, C, H, W), not the original's (N, C, W, H) transpose
(which only mattered for loading the original's weights, which this package does not do).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from srl.errors import ConfigError

log = logging.getLogger(__name__)

#: the files of a dataset folder (the original's layout, plus ``images.npy``; see :mod:`srl.dataset`)
DATASET_CONFIG = "dataset_config.json"
ENV_GLOBALS = "env_globals.json"
PREPROCESSED = "preprocessed_data.npz"
GROUND_TRUTH = "ground_truth.npz"
IMAGES_FILE = "images.npy"

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
REQUIRED_FILES = (PREPROCESSED, GROUND_TRUTH)


@dataclass
class SRLDataset:
    """A recorded dataset in memory (images possibly memory-mapped).

    :param folder: the dataset folder.
    :param images: uint8 RGB, shape (N, S, S, 3 V) for V camera views (1, or 2 for a multi-view dataset), at the
        requested image size S.
    :param actions: shape (N,) for discrete actions (int64), (N, action_dim) for continuous ones.
    :param rewards: shape (N,), the reward received after action i.
    :param episode_starts: bool, shape (N,), True on the first frame of each episode.
    :param ground_truth: absolute agent position, shape (N, d) (m).
    :param frame_targets: target position of each frame, shape (N, d_t) (m).
    :param relative_pos: whether the dataset's ground truth is meant relative to the target.
    :param images_path: (N,) frame names ``<name>/record_XXX/frameXXXXXX``.
    :param config: ``dataset_config.json``.
    """

    folder: Path
    images: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    episode_starts: np.ndarray
    ground_truth: np.ndarray
    frame_targets: np.ndarray
    relative_pos: bool
    images_path: np.ndarray
    config: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rewards)

    @property
    def image_size(self) -> int:
        return int(self.images.shape[1])

    @property
    def views(self) -> int:
        """Number of camera views per frame (1, or 2 for a multi-view dataset): a third of the image channels."""
        return int(self.images.shape[3]) // 3

    @property
    def env_id(self) -> str | None:
        """The gymnasium id it was recorded from (None for the original's datasets)."""
        return self.config.get("env_id")

    @property
    def discrete_actions(self) -> bool:
        return self.actions.ndim == 1 and np.issubdtype(self.actions.dtype, np.integer)

    @property
    def n_actions(self) -> int:
        """Number of action classes, max(actions) + 1 (discrete actions only)."""
        return int(self.actions.max()) + 1 if self.discrete_actions else 0

    @cached_property
    def episode_index(self) -> np.ndarray:
        """Episode of each frame, shape (N,)."""
        return np.cumsum(self.episode_starts) - 1

    @cached_property
    def transitions(self) -> np.ndarray:
        """Indices t with (o_t, o_{t+1}) in one episode: t < N - 1 and not ``episode_starts[t + 1]``."""
        return np.flatnonzero(~self.episode_starts[1:])

    @cached_property
    def episode_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """First frame and one past the last frame of the episode of each frame, two int64 arrays of shape (N,)."""
        starts = np.flatnonzero(self.episode_starts)
        stops = np.append(starts[1:], len(self.episode_starts))
        return starts[self.episode_index], stops[self.episode_index]

    def negative_frames(self, idx: np.ndarray, generator: torch.Generator) -> np.ndarray:
        """For each frame t of ``idx``, a frame t' != t of the same episode, uniformly (the time-contrastive
        negatives of :func:`srl.losses.triplet_loss`; the original drew them with Python's unseeded ``random``).

        :param idx: frame indices, shape (B,), each in an episode of at least 2 frames.
        :param generator: the draws' seeded generator (the same state gives the same negatives).
        :return: int64 frame indices, shape (B,).
        """
        idx = np.asarray(idx, dtype=np.int64)
        starts, stops = (bound[idx] for bound in self.episode_bounds)
        others = torch.from_numpy(stops - starts - 1)  # frames of the episode other than t
        if bool((others < 1).any()):
            raise ValueError("a time-contrastive negative needs an episode of at least 2 frames.")
        offset = (torch.rand(len(idx), generator=generator, dtype=torch.float64) * others).long().numpy()
        negative = starts + offset
        return negative + (negative >= idx)  # skip t itself

    @property
    def target_ground_truth(self) -> np.ndarray:
        """What supervised learning regresses and KNN-MSE compares: agent minus target when ``relative_pos``."""
        if self.relative_pos and self.frame_targets.shape[1] == self.ground_truth.shape[1]:
            return self.ground_truth - self.frame_targets
        return self.ground_truth


def resolve_dataset_folder(dataset: str | Path) -> Path:
    """A dataset folder given as a path, or as a name under ``data/`` (the original's ``--data-folder``)."""
    path = Path(dataset)
    for candidate in (path, Path("data") / path):
        if candidate.is_dir():
            return candidate.absolute()
    data = Path("data")
    found = sorted(p.name for p in data.iterdir() if (p / PREPROCESSED).exists()) if data.is_dir() else []
    listing = f"datasets in data/: {', '.join(found)}" if found else "no dataset in data/"
    raise ConfigError(f"dataset={dataset} does not exist (neither {path} nor data/{path} is a folder); {listing}. "
                      "Record one with python -m srl.dataset env=<env> episodes=<n>.")


def load_dataset(dataset: str | Path, image_size: int | None = None) -> SRLDataset:
    """Load a dataset folder; images are resized to ``image_size`` (None: as stored).

    :raises ConfigError: the folder is missing, or lacks one of its files.
    """
    folder = resolve_dataset_folder(dataset)
    missing = [name for name in REQUIRED_FILES if not (folder / name).exists()]
    if missing:
        raise ConfigError(f"dataset {folder} is incomplete: {', '.join(missing)} missing (a dataset holds "
                          f"{', '.join(REQUIRED_FILES)}, {DATASET_CONFIG} and {IMAGES_FILE} or record_XXX/*.jpg "
                          "images). Record it again with python -m srl.dataset.")
    config = json.loads((folder / DATASET_CONFIG).read_text()) if (folder / DATASET_CONFIG).exists() else {}
    with np.load(folder / PREPROCESSED) as pre, np.load(folder / GROUND_TRUTH, allow_pickle=True) as gt:
        arrays = {key: pre[key] for key in pre.files}
        gt_arrays = {key: gt[key] for key in gt.files}
    for key in ("actions", "rewards", "episode_starts"):
        if key not in arrays:
            raise ConfigError(f"dataset {folder} is incomplete: {PREPROCESSED} has no {key!r} array "
                              f"(it has {', '.join(arrays)}).")
    ground_truth = _first(gt_arrays, ("ground_truth_states", "arm_states"), folder)
    targets = _first(gt_arrays, ("target_positions", "button_positions"), folder)
    images_path = np.array([_path_str(p) for p in gt_arrays.get("images_path", [])])
    episode_starts = arrays["episode_starts"].astype(bool)
    n = len(episode_starts)
    ground_truth = np.asarray(ground_truth, dtype=np.float64).reshape(n, -1)
    if "frame_target_positions" in gt_arrays:
        frame_targets = np.asarray(gt_arrays["frame_target_positions"], dtype=np.float64).reshape(n, -1)
    else:
        targets = np.asarray(targets, dtype=np.float64).reshape(len(targets), -1)
        episode = np.minimum(np.cumsum(episode_starts) - 1, len(targets) - 1)
        frame_targets = targets[episode]
    actions = arrays["actions"]
    if actions.ndim == 1 and np.allclose(actions, np.round(actions)):
        actions = actions.astype(np.int64)
    images = _load_images(folder, images_path, n, image_size, config)
    return SRLDataset(folder=folder, images=images, actions=actions, rewards=arrays["rewards"].astype(np.float64),
                      episode_starts=episode_starts, ground_truth=ground_truth, frame_targets=frame_targets,
                      relative_pos=bool(config.get("relative_pos", False)), images_path=images_path, config=config)


def _first(arrays: dict[str, np.ndarray], keys: tuple[str, ...], folder: Path) -> np.ndarray:
    for key in keys:
        if key in arrays:
            return arrays[key]
    raise ConfigError(f"dataset {folder} is incomplete: {GROUND_TRUTH} has none of {', '.join(keys)} "
                      f"(it has {', '.join(arrays)}).")


def _path_str(path: Any) -> str:
    text = path.decode() if isinstance(path, bytes) else str(path)
    return text.removesuffix(".jpg")


def _load_images(folder: Path, images_path: np.ndarray, n: int, image_size: int | None,
                 config: dict[str, Any]) -> np.ndarray:
    if (folder / IMAGES_FILE).exists():
        images = np.load(folder / IMAGES_FILE, mmap_mode="r")
        if len(images) != n:
            raise ConfigError(f"dataset {folder} is inconsistent: {IMAGES_FILE} holds {len(images)} images but "
                              f"{PREPROCESSED} {n} frames. Record it again.")
        if image_size is None or image_size == images.shape[1]:
            return images
        log.info("Resizing %d images of %s from %d to %d pixels", n, folder.name, images.shape[1], image_size)
        return resize_images(images, image_size)
    if len(images_path) != n:
        raise ConfigError(f"dataset {folder} is incomplete: no {IMAGES_FILE} and {len(images_path)} images_path "
                          f"entries for {n} frames.")
    return _load_jpgs(folder, images_path, image_size)


def _load_jpgs(folder: Path, images_path: np.ndarray, image_size: int | None) -> np.ndarray:
    """The original's format: one JPEG per frame at ``<data>/<images_path>.jpg``."""
    from PIL import Image

    def locate(name: str) -> list[Path]:
        """The frame's JPEG, or its views' ``_1.jpg`` and ``_2.jpg`` (a multi-view dataset)."""
        for base in (folder.parent / name, folder / Path(*Path(name).parts[1:])):
            if base.with_name(f"{base.name}.jpg").exists():
                return [base.with_name(f"{base.name}.jpg")]
            views = [base.with_name(f"{base.name}_{view}.jpg") for view in (1, 2)]
            if all(path.exists() for path in views):
                return views
        raise ConfigError(f"dataset {folder} is incomplete: image {name}.jpg (or {name}_1.jpg and {name}_2.jpg) "
                          f"is missing (and there is no {IMAGES_FILE}).")

    log.info("Decoding %d JPEG frames of %s", len(images_path), folder.name)
    first = locate(images_path[0])
    size = image_size or Image.open(first[0]).size[0]
    images = np.empty((len(images_path), size, size, 3 * len(first)), dtype=np.uint8)
    for i, name in enumerate(images_path):
        paths = locate(name)
        if len(paths) != len(first):
            raise ConfigError(f"dataset {folder} mixes frames of {len(first)} and {len(paths)} camera views "
                              f"({paths[0].name}).")
        for view, path in enumerate(paths):
            image = Image.open(path).convert("RGB")
            if image.size != (size, size):
                image = image.resize((size, size), Image.Resampling.BOX)
            images[i, :, :, 3 * view:3 * view + 3] = np.asarray(image)
    return images


class Episode(NamedTuple):
    """One recorded episode of T frames, in the dataset's alignment (action t and reward t follow frame t)."""

    images: np.ndarray  #: uint8 RGB, (T, S, S, 3 V) for V camera views
    actions: np.ndarray  #: (T,) or (T, action_dim)
    rewards: np.ndarray  #: (T,)
    ground_truth: np.ndarray  #: absolute agent position, (T, d) (m)
    frame_targets: np.ndarray  #: target position of each frame, (T, d_t) (m)


def write_dataset(folder: Path, name: str, episodes: Sequence[Callable[[], Episode]], lengths: Sequence[int],
                  image_size: int, config: dict[str, Any], env_globals: dict[str, Any]) -> None:
    """Write the dataset files of ``folder`` from its episodes, in order, one episode in memory at a time.

    :param name: the dataset's name (prefix of ``images_path``: ``<name>/record_XXX/frameXXXXXX``).
    :param episodes: loaders of the episodes. :param lengths: frames of each episode (T).
    :param image_size: side S of the images (pixels).
    :param config: ``dataset_config.json`` (``n_frames``, ``image_format``, ``image_size`` and ``views``, the
        number of camera views stacked in each image, are set here).
    :param env_globals: ``env_globals.json`` (the env module's constants).
    :raises ConfigError: episodes with different numbers of camera views.
    """
    n = int(sum(lengths))
    images: np.ndarray | None = None
    actions, rewards, starts, gts, frame_targets, targets, paths = [], [], [], [], [], [], []
    offset = 0
    for index, (load, length) in enumerate(zip(episodes, lengths)):
        episode = load()
        channels = episode.images.shape[3]
        if images is None:
            images = np.lib.format.open_memmap(folder / IMAGES_FILE, mode="w+", dtype=np.uint8,
                                               shape=(n, image_size, image_size, channels))
        elif channels != images.shape[3]:
            raise ConfigError(f"episode {index} has {channels // 3} camera view(s), the episodes before it "
                              f"{images.shape[3] // 3}: one- and two-view frames cannot share a dataset.")
        images[offset:offset + length] = episode.images
        actions.append(episode.actions)
        rewards.append(episode.rewards)
        gts.append(episode.ground_truth)
        frame_targets.append(episode.frame_targets)
        targets.append(episode.frame_targets[0])
        episode_starts = np.zeros(length, dtype=bool)
        episode_starts[0] = True
        starts.append(episode_starts)
        paths.extend(f"{name}/record_{index:03d}/frame{step:06d}" for step in range(length))
        offset += length
    assert images is not None, "a dataset has at least one episode"
    views = images.shape[3] // 3
    images.flush()
    del images
    np.savez(folder / PREPROCESSED, actions=np.concatenate(actions), rewards=np.concatenate(rewards),
             episode_starts=np.concatenate(starts))
    np.savez(folder / GROUND_TRUTH, ground_truth_states=np.concatenate(gts), target_positions=np.stack(targets),
             images_path=np.asarray(paths), frame_target_positions=np.concatenate(frame_targets))
    config = {**config, "image_size": image_size, "image_format": "npy", "n_frames": n, "views": views}
    (folder / DATASET_CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True, default=str))
    (folder / ENV_GLOBALS).write_text(json.dumps(env_globals, indent=2, sort_keys=True))


def resize_images(images: np.ndarray, size: int, chunk: int = 1024) -> np.ndarray:
    """Area-interpolated resize of uint8 images (N, H, W, C) to (N, size, size, C)."""
    out = np.empty((len(images), size, size, images.shape[3]), dtype=np.uint8)
    for start in range(0, len(images), chunk):
        x = torch.from_numpy(np.array(images[start:start + chunk])).permute(0, 3, 1, 2).float()  # a writable copy
        y = F.interpolate(x, size=(size, size), mode="area")
        out[start:start + chunk] = y.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return out


def channel_stats(channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """ImageNet mean and std of each of ``channels`` channels (C,), repeated per RGB view of a multi-view stack.

    :raises ValueError: ``channels`` is not a multiple of 3.
    """
    if channels < 3 or channels % 3:
        raise ValueError(f"images have {channels} channels; expected RGB views, 3 channels each.")
    views = channels // 3
    return torch.tensor(IMAGENET_MEAN * views), torch.tensor(IMAGENET_STD * views)


def preprocess(images: np.ndarray | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 RGB images (N, H, W, 3 V) of V camera views -> float32 (N, 3 V, H, W) on ``device``, each view
    ImageNet-normalised per channel (``(x / 255 - mean) / std``), in channels-last memory order.

    uint8 arrays bound for the CPU are looked up in :func:`level_table` (the same float32 values, in 1.16 against
    1.54 CPU ms for 64 images of 64x64: ``python bench/srl_speed.py``); other inputs are computed on ``device``
    (never in place: a float input is left as it was).

    :raises ValueError: the last axis is not a multiple of 3 channels.
    """
    if isinstance(images, np.ndarray) and images.dtype == np.uint8 and torch.device(device).type == "cpu":
        table = level_table(images.shape[-1])
        out = np.empty(images.shape, np.float32)
        for channel, levels in enumerate(table):  # mode="clip": no bounds check (uint8 levels are in range), and
            np.take(levels, images[..., channel], out=out[..., channel], mode="clip")  # no buffered copy of out
        return torch.from_numpy(out).permute(0, 3, 1, 2)
    if not isinstance(images, torch.Tensor):
        images = np.asarray(images)
        images = torch.from_numpy(images if images.flags.writeable else images.copy())
    x = images.to(device).permute(0, 3, 1, 2).to(torch.float32, copy=True).div_(255.0)
    mean, std = channel_stats(x.shape[1])
    return (x - mean.to(x.device).view(1, -1, 1, 1)) / std.to(x.device).view(1, -1, 1, 1)


@cache
def level_table(channels: int) -> np.ndarray:
    """:func:`preprocess`'s value of every uint8 level of each of ``channels`` channels, (C, 256) float32, computed
    by the same float32 operations (read-only).

    :raises ValueError: ``channels`` is not a multiple of 3.
    """
    mean, std = channel_stats(channels)
    levels = torch.arange(256, dtype=torch.float32).div_(255.0).view(1, 256)
    table = ((levels - mean.view(-1, 1)) / std.view(-1, 1)).numpy()
    table.flags.writeable = False
    return table


def occlude(x: torch.Tensor, percentage: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """The DAE's noise: one random rectangle per image set to 0 (the ImageNet mean colour), as the original.

    Along each axis of size S: h1 ~ U[0, S), h2 ~ U[max(0, h1 - S p), min(h1 + S p, S)), the rectangle spans
    [min, max). Shape (N, C, S, S) in and out (a new tensor).

    :param percentage: the largest occluded fraction p of each axis.
    """
    n, _, height, width = x.shape

    def interval(size: int) -> tuple[torch.Tensor, torch.Tensor]:
        a = torch.randint(0, size, (n,), generator=generator)
        low = (a - int(size * percentage)).clamp(min=0)
        high = (a + int(size * percentage)).clamp(max=size)
        b = low + (torch.rand(n, generator=generator) * (high - low).float()).long()
        return torch.minimum(a, b), torch.maximum(a, b)

    (top, bottom), (left, right) = interval(height), interval(width)
    rows = torch.arange(height).view(1, height, 1)
    cols = torch.arange(width).view(1, 1, width)
    inside = ((rows >= top.view(n, 1, 1)) & (rows < bottom.view(n, 1, 1)) & (cols >= left.view(n, 1, 1))
              & (cols < right.view(n, 1, 1)))
    return x.masked_fill(inside.unsqueeze(1).to(x.device), 0.0)
