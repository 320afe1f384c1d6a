"""Merge recorded datasets into a new one: ``python -m srl.merge <dataset> <dataset> [...] --out <folder>``.

The original toolbox's ``dataset_fusioner --merge``, for two or more sources: the episodes of each source follow
those of the previous one, renumbered (``images_path`` ``<name>/record_XXX/frameXXXXXX`` of the new dataset), and
every array is concatenated. The sources must be compatible: the same env (gymnasium id), image size, action space
(discrete or continuous, and its shape), number of camera views, ground-truth and target dimensions and
``relative_pos``; otherwise a
:class:`ConfigError` says which value differs. The new dataset is written to a temporary folder and renamed when
complete; the sources are left as they are unless ``--delete-sources`` is given (the original always deleted them).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from srl.data import ENV_GLOBALS, Episode, SRLDataset, load_dataset, write_dataset
from srl.errors import ConfigError


def _signature(data: SRLDataset) -> dict[str, Any]:
    """What two datasets must share to be merged."""
    control = (data.config.get("env_kwargs") or {}).get("control")
    return {
        "env": data.env_id,
        "image size": data.image_size,
        "camera views": data.images.shape[-1] // 3,
        "action space": "discrete" if data.discrete_actions else f"continuous {data.actions.shape[1:]}",
        "control": control,
        "ground truth dimension": data.ground_truth.shape[1],
        "target dimension": data.frame_targets.shape[1],
        "relative_pos": data.relative_pos,
    }


def check_compatible(datasets: list[SRLDataset]) -> None:
    """Raise :class:`ConfigError` naming the first property on which a dataset differs from the first one."""
    first = _signature(datasets[0])
    for data in datasets[1:]:
        other = _signature(data)
        for key, value in first.items():
            if other[key] != value:
                raise ConfigError(
                    f"cannot merge {data.folder} into a dataset with {datasets[0].folder}: its {key} is "
                    f"{other[key]!r}, not {value!r}. Merge only datasets recorded with the same env, image size "
                    "and action space."
                )


def _episode(data: SRLDataset, start: int, stop: int) -> Episode:
    return Episode(images=np.asarray(data.images[start:stop]), actions=data.actions[start:stop],
                   rewards=data.rewards[start:stop], ground_truth=data.ground_truth[start:stop],
                   frame_targets=data.frame_targets[start:stop])


def merge_datasets(sources: list[Path | str], out: Path | str, force: bool = False,
                   delete_sources: bool = False) -> Path:
    """Write the episodes of ``sources``, in order, as one dataset in ``out``.

    :param sources: two or more dataset folders (paths, or names under ``data/``).
    :param out: the new dataset folder.
    :param force: replace an existing ``out``.
    :param delete_sources: delete the source folders once the merged dataset is complete.
    :return: ``out`` (absolute).
    :raises ConfigError: fewer than two sources, a missing or incompatible source, ``out`` exists (without
        ``force``) or is one of the sources.
    """
    if len(sources) < 2:
        raise ConfigError(f"merging needs at least two datasets, got {len(sources)}.")
    datasets = [load_dataset(source) for source in sources]
    out = Path(out).absolute()
    if out in [data.folder for data in datasets]:
        raise ConfigError(f"the merged dataset {out} cannot be one of its sources; choose another --out.")
    if out.exists() and not force:
        raise ConfigError(f"the dataset folder {out} already exists; pass --force to overwrite it or choose another "
                          "--out.")
    check_compatible(datasets)
    loaders, lengths = [], []
    for data in datasets:
        bounds = [*np.flatnonzero(data.episode_starts), len(data)]
        for start, stop in zip(bounds[:-1], bounds[1:]):
            loaders.append(partial(_episode, data, int(start), int(stop)))
            lengths.append(int(stop - start))
    first = datasets[0]
    per_source = ("seed", "episodes", "policy", "n_frames", "merged_from")
    config = {key: value for key, value in first.config.items() if key not in per_source}
    config.update(relative_pos=first.relative_pos, episodes=len(lengths), merged_from=[
        {"folder": str(data.folder), "frames": len(data), "episodes": int(data.episode_starts.sum()),
         **{key: data.config[key] for key in ("seed", "policy") if key in data.config}} for data in datasets])
    globals_file = first.folder / ENV_GLOBALS
    env_globals = json.loads(globals_file.read_text()) if globals_file.exists() else {}
    tmp = out.with_name(f".{out.name}.tmp-merge")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        write_dataset(tmp, out.name, loaders, lengths, first.image_size, config, env_globals)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    if delete_sources:
        for data in datasets:
            shutil.rmtree(data.folder)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+", help="dataset folders (or names under data/), merged in this order")
    parser.add_argument("--out", "-o", required=True, type=Path, help="the new dataset folder")
    parser.add_argument("--force", action="store_true", help="replace an existing --out folder")
    parser.add_argument("--delete-sources", action="store_true", help="delete the sources once merged")
    args = parser.parse_args(argv)
    try:
        out = merge_datasets(args.sources, args.out, force=args.force, delete_sources=args.delete_sources)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Dataset: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
