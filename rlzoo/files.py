"""Atomic file writes: write to a temporary file in the same folder, fsync, then rename over the target."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_file(path: Path | str, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file that replaces ``path`` only if the block finishes without error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.chmod(tmp, 0o666 & ~_UMASK)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path | str, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_file(path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")


def save_model(model: Any, path: Path | str) -> None:
    """Save an SB3 model zip atomically."""
    with atomic_file(path) as f:
        model.save(f)


def save_normalization(venv: Any, path: Path | str) -> None:
    """Save a ``VecNormalize``'s statistics (pickled without its env) atomically; no-op for other envs."""
    from stable_baselines3.common.vec_env import VecNormalize

    if isinstance(venv, VecNormalize):
        import pickle

        with atomic_file(path) as f:
            pickle.dump(venv, f)


def remove_stale_temporaries(folder: Path | str) -> int:
    """Delete the temporary files a killed writer left in ``folder`` (not recursive); returns how many."""
    stale = list(Path(folder).glob(".*.tmp"))
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)
