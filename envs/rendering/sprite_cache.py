"""Sprite banks kept on disk, so that a new process loads the robot's sprites instead of rendering them again.

Building a :class:`~envs.rendering.sprites.SpriteBank` renders the body with pybullet at every node of its grid
(about 2 CPU s at 64x64), a pure function of its inputs. :func:`cached_bank` keeps a bank's
:meth:`~envs.rendering.sprites.SpriteBank.arrays` in one ``.npz`` file under :func:`cache_folder` (``render_cache/``
at the repository root, or ``$SRL_RENDER_CACHE``; ``off`` turns the cache off), named by a sha256 of everything the
bank depends on (:func:`bank_key`): its arguments, the bytes of every URDF, mesh and texture its bodies load, the
pybullet and numpy (major) versions, and the source of the modules that compute it. Editing any of them renders the
bank anew instead of serving a stale one.

A file is written to a temporary file in the same folder and moved into place (``os.replace``), so concurrent
processes (a sweep's workers) never read half a file and two writing the same bank are harmless. A file that cannot
be read is rendered again and replaced, and a folder that cannot be written to leaves the bank rendered for the
process alone: each with one warning.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import logging
import os
import secrets
import xml.etree.ElementTree as ET
import zipfile
import zlib
from pathlib import Path

import numpy as np

import envs.rendering.camera as camera_module
import envs.rendering.scene as scene_module
import envs.rendering.sprites as sprites_module
import envs.sim as sim_module
from envs.rendering.camera import CameraModel
from envs.rendering.scene import MovingBody, StaticBody
from envs.rendering.sprites import SpriteBank
from envs.sim import urdf_path

logger = logging.getLogger(__name__)

#: environment variable that moves the cache (a folder; ``off`` turns it off)
CACHE_ENV_VAR = "SRL_RENDER_CACHE"
#: the value of :data:`CACHE_ENV_VAR` that turns the cache off
OFF = "off"
#: the cache folder when :data:`CACHE_ENV_VAR` is not set: ``render_cache/`` at the repository root
DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / "render_cache"
#: incremented when what a file holds (or how it is keyed) changes, so that older files are not read
FORMAT_VERSION = 1
#: the modules whose code computes a bank: their source is part of the key
SOURCES = tuple(Path(module.__file__) for module in (sprites_module, scene_module, camera_module, sim_module))


def cache_folder() -> Path | None:
    """Where sprite banks are kept: ``$SRL_RENDER_CACHE`` (absolute), else :data:`DEFAULT_FOLDER`; None when the
    variable is ``off``. The folder is created on the first write."""
    value = os.environ.get(CACHE_ENV_VAR) or str(DEFAULT_FOLDER)
    return None if value.lower() == OFF else Path(value).absolute()


def _named_files(path: Path) -> list[str]:
    """The files a URDF (``filename`` attributes: meshes, textures), an OBJ mesh (``mtllib``) or a material library
    (``map_...``) names, as written there (relative to its folder, or absolute)."""
    suffix = path.suffix.lower()
    if suffix == ".urdf":
        names = [element.get("filename", "") for element in ET.parse(path).getroot().iter()]
        return [name.removeprefix("package://") for name in names if name]
    if suffix not in (".obj", ".mtl"):
        return []
    words = [line.split() for line in path.read_text(errors="replace").splitlines()]
    if suffix == ".obj":
        return [name for line in words if len(line) > 1 and line[0] == "mtllib" for name in line[1:]]
    return [line[-1] for line in words if len(line) > 1 and line[0].startswith("map_")]


def asset_files(urdf: str) -> list[Path]:
    """The URDF that :meth:`Simulation.load <envs.sim.Simulation.load>` reads for ``urdf``, then every file it loads
    in turn (meshes, material libraries, textures), each once, in a fixed order. Files that do not exist are left
    out (their names are in the bytes of the files that name them)."""
    found: list[Path] = []
    pending = [urdf_path(urdf)]
    while pending:
        path = pending.pop(0)
        if path in found or not path.is_file():
            continue
        found.append(path)
        pending += [path.parent / name for name in _named_files(path)]
    return found


def bank_key(moving: MovingBody, camera: CameraModel, spacing: float, supersample: tuple[int, int], fine: int,
             floor: bool, with_static: tuple[StaticBody, ...]) -> str:
    """sha256 (hex) of everything ``SpriteBank(moving, camera, spacing, supersample, fine, floor, with_static)``
    depends on: :data:`FORMAT_VERSION`, the bodies' descriptions, the camera (its matrices and image size), the other
    arguments, the pybullet version and numpy's major version, then the bytes of :data:`SOURCES` and of every file
    the bodies load (:func:`asset_files`)."""
    description = (FORMAT_VERSION, moving, with_static, camera.camera, camera.size, camera.view, camera.projection,
                   float(spacing), (int(supersample[0]), int(supersample[1])), int(fine), bool(floor),
                   importlib.metadata.version("pybullet"), np.__version__.split(".")[0])
    digest = hashlib.sha256(repr(description).encode())
    files = [*SOURCES, *(path for body in (moving.body, *(static.body for static in with_static))
                         for path in asset_files(body.urdf))]
    for path in files:
        data = path.read_bytes()
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def _mismatch(saved: object, key: str) -> str | None:
    """Why what ``np.load`` read from a cache file is not the bank of ``key``; None when it is."""
    if not isinstance(saved, np.lib.npyio.NpzFile):
        return "not an .npz file"
    if "key" not in saved or str(saved["key"]) != key:
        return "it holds another bank"
    return None


def _load(path: Path, key: str, moving: MovingBody, camera: CameraModel, spacing: float,
          supersample: tuple[int, int], fine: int) -> SpriteBank | None:
    """The bank saved at ``path`` under ``key``; None when there is no such file, or (with a warning) when it cannot
    be read or holds something else."""
    try:
        with path.open("rb") as file:
            saved = np.load(file, allow_pickle=False)
            problem = _mismatch(saved, key)
            if problem is None:
                return SpriteBank.from_arrays(saved, moving, camera, spacing, supersample, fine)
    except (FileNotFoundError, NotADirectoryError):  # none yet, or no folder (a write will say why)
        return None
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as error:
        problem = f"{type(error).__name__}: {error}"
    logger.warning("Sprite cache file %s cannot be read (%s): rendering the sprites again to replace it.", path,
                   problem)
    return None


def _save(path: Path, key: str, bank: SpriteBank) -> None:
    """Write ``bank``'s arrays and ``key`` to ``path`` through a temporary file in the same folder; when the folder
    cannot be written to, warn and leave nothing behind. Compressed: a 30th of the bytes (0.9 MB at 64x64), for
    0.03 CPU s more to load."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with temporary.open("xb") as file:
            np.savez_compressed(file, key=np.array(key), **bank.arrays())
        os.replace(temporary, path)
    except OSError as error:
        logger.warning("Sprite cache folder %s cannot be written to (%s): the sprites are rendered for this process "
                       "alone.", path.parent, error)
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


def cached_bank(moving: MovingBody, camera: CameraModel, spacing: float, supersample: tuple[int, int],
                fine: int = 1, floor: bool = True, with_static: tuple[StaticBody, ...] = ()) -> SpriteBank:
    """``SpriteBank(moving, camera, spacing, supersample, fine, floor, with_static)``: loaded from
    :func:`cache_folder` when a process saved it there, else rendered and saved (rendered alone when the cache is
    off)."""
    folder = cache_folder()
    if folder is None:
        return SpriteBank(moving, camera, spacing, supersample, fine, floor, with_static)
    key = bank_key(moving, camera, spacing, supersample, fine, floor, with_static)
    path = folder / f"sprites_{camera.size}px_{key[:16]}.npz"
    bank = _load(path, key, moving, camera, spacing, supersample, fine)
    if bank is None:
        bank = SpriteBank(moving, camera, spacing, supersample, fine, floor, with_static)
        _save(path, key, bank)
    return bank
