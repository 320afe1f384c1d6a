"""The sprite banks' disk cache (envs/rendering/sprite_cache.py): what it loads is what it rendered, its key covers
every input, and a bad file, a bad folder or ``off`` never fails a run."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from envs.rendering import CameraModel, CompositeRenderer, sprite_cache
from envs.rendering.composite import FINE, FINE_IMAGE, GRID_SPACING, SMALL_IMAGE, SUPERSAMPLE_LARGE, SUPERSAMPLE_SMALL
from envs.rendering.scene import Body
from envs.rendering.sprite_cache import CACHE_ENV_VAR, bank_key, cache_folder, cached_bank
from envs.rendering.sprites import SpriteBank
from envs.sim import ASSETS_DIR, urdf_path

ROOT = Path(__file__).resolve().parent.parent
#: robot positions, as fractions of its range along x and y
FRACTIONS = [(0.0, 0.0), (0.13, 0.71), (0.5, 0.5), (0.77, 0.29), (0.96, 1.0)]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache folder of this test (not created)."""
    folder = tmp_path / "render_cache"
    monkeypatch.setenv(CACHE_ENV_VAR, str(folder))
    return folder


def bank_args(env_id: str, size: int, body: int = -1) -> tuple:
    """The arguments ``scene_pieces`` gives a bank of moving body ``body`` of an env's scene at ``size`` px."""
    scene = gym.make(env_id, observation="pixels", image_size=size).unwrapped.camera_scene()
    moving = scene.moving[body]
    k = SUPERSAMPLE_SMALL if size <= SMALL_IMAGE else SUPERSAMPLE_LARGE
    fine = FINE if size <= FINE_IMAGE else 1
    with_static = tuple(static for static in scene.static if static.name in moving.sprite_with)
    return moving, CameraModel(scene.camera, size), GRID_SPACING, (k, k), fine, True, with_static


def target_args() -> tuple:
    """A bank quick to render: MobileRobot-v0's target, which stays at one position (one grid node)."""
    return bank_args("MobileRobot-v0", 64, body=0)


def no_render(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make rendering a bank fail from now on (what follows must load it)."""
    def fail(*args: object) -> None:
        raise AssertionError("the bank was rendered, not loaded")

    monkeypatch.setattr(SpriteBank, "_render", fail)


def assert_same_arrays(bank: SpriteBank, other: SpriteBank) -> None:
    """Every array the banks computed is bit-identical, dtype included."""
    ours, theirs = bank.arrays(), other.arrays()
    assert ours.keys() == theirs.keys()
    for name, array in ours.items():
        assert theirs[name].dtype == array.dtype, name
        np.testing.assert_array_equal(theirs[name], array, err_msg=name)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The sprite cache's warnings captured so far."""
    return [record.getMessage() for record in caplog.records
            if record.name == sprite_cache.__name__ and record.levelno == logging.WARNING]


@pytest.mark.parametrize("env_id, size", [("MobileRobot1D-v0", 64), ("MobileRobot-v0", 224)])
def test_a_loaded_bank_is_the_rendered_one(env_id: str, size: int, cache: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    args = bank_args(env_id, size)
    rendered = cached_bank(*args)
    assert [path.suffix for path in cache.iterdir()] == [".npz"]
    env = gym.make(env_id, observation="pixels", image_size=size).unwrapped
    env.reset(seed=0)
    renderers = [CompositeRenderer(env.camera_scene(), size) for _ in range(2)]
    no_render(monkeypatch)
    loaded = cached_bank(*args)
    assert_same_arrays(rendered, loaded)
    targets, robot = env.scene_positions()[:-1], args[0]
    for renderer, bank in zip(renderers, (rendered, loaded)):
        renderer.pieces = dataclasses.replace(renderer.pieces, sprites=bank)
    for fx, fy in FRACTIONS:
        x = robot.x_range[0] + fx * (robot.x_range[1] - robot.x_range[0])
        y = robot.y_range[0] + fy * (robot.y_range[1] - robot.y_range[0])
        images = [renderer.render([*targets, (x, y)]) for renderer in renderers]
        np.testing.assert_array_equal(images[1], images[0])
    assert renderers[0].counts == renderers[1].counts and renderers[0].counts["sprite"] > 0


def test_the_key_covers_every_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    moving, camera, spacing, supersample, fine, floor, with_static = args = target_args()
    wall = bank_args("MobileRobot1D-v0", 64)[-1]
    copied = tmp_path / "cylinder.urdf"
    shutil.copy(urdf_path(moving.body.urdf), copied)
    from_copy = dataclasses.replace(moving, body=dataclasses.replace(moving.body, urdf=str(copied)))
    keys = {
        "base": bank_key(*args),
        "size": bank_key(moving, CameraModel(camera.camera, 65), spacing, supersample, fine, floor, with_static),
        "pose": bank_key(moving, CameraModel(dataclasses.replace(camera.camera, yaw=1.0), 64), spacing, supersample,
                         fine, floor, with_static),
        "spacing": bank_key(moving, camera, 0.25, supersample, fine, floor, with_static),
        "supersample": bank_key(moving, camera, spacing, (24, 8), fine, floor, with_static),
        "fine": bank_key(moving, camera, spacing, supersample, 1, floor, with_static),
        "floor": bank_key(moving, camera, spacing, supersample, fine, False, with_static),
        "with_static": bank_key(moving, camera, spacing, supersample, fine, floor, wall),
        "range": bank_key(dataclasses.replace(moving, x_range=(1.0, 2.0)), camera, spacing, supersample, fine, floor,
                          with_static),
        "colour": bank_key(dataclasses.replace(moving, body=dataclasses.replace(moving.body, color=(1, 0, 0, 1))),
                           camera, spacing, supersample, fine, floor, with_static),
        "copy": bank_key(from_copy, camera, spacing, supersample, fine, floor, with_static),
    }
    assert bank_key(*args) == keys["base"]
    copied.write_bytes(copied.read_bytes().replace(b'radius="0.18"', b'radius="0.19"', 1))  # same name, other bytes
    keys["urdf bytes"] = bank_key(from_copy, camera, spacing, supersample, fine, floor, with_static)
    source = tmp_path / "sprites.py"
    source.write_bytes(sprite_cache.SOURCES[0].read_bytes() + b"\n# edited\n")
    monkeypatch.setattr(sprite_cache, "SOURCES", (source, *sprite_cache.SOURCES[1:]))
    keys["source"] = bank_key(*args)
    monkeypatch.undo()
    monkeypatch.setattr(sprite_cache.importlib.metadata, "version", lambda name: "0.0.0")
    keys["pybullet"] = bank_key(*args)
    assert len(set(keys.values())) == len(keys)


def test_the_key_covers_meshes_and_textures(tmp_path: Path) -> None:
    """A URDF's mesh, the mesh's material library and its texture are hashed with it (a copy of pybullet's plane)."""
    plane = urdf_path("plane.urdf")
    names = ["plane.urdf", "plane100.obj", "plane.mtl", "checker_blue.png"]
    for name in names:
        shutil.copy(plane.parent / name, tmp_path / name)
    assert sprite_cache.asset_files(str(tmp_path / "plane.urdf")) == [tmp_path / name for name in names]
    assert sprite_cache.asset_files("racecar_lowpoly.urdf") == [ASSETS_DIR / "racecar_lowpoly.urdf"]
    moving, *rest = target_args()
    moving = dataclasses.replace(moving, body=Body(str(tmp_path / "plane.urdf")))
    keys = [bank_key(moving, *rest)]
    for name in names[1:]:
        with (tmp_path / name).open("ab") as file:
            file.write(b"\n")
        keys.append(bank_key(moving, *rest))
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize("damage", ["truncated", "not npz", "other arrays", "other key"])
def test_an_unreadable_file_is_rendered_again(damage: str, cache: Path, monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    args = target_args()
    rendered = cached_bank(*args)
    (path,) = cache.iterdir()
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "not npz":
        path.write_bytes(b"not a sprite bank")
    elif damage == "other arrays":
        np.savez(path, key=np.array(bank_key(*args)), rgb=np.zeros(3))
    else:
        np.savez(path, key=np.array("0" * 64), **rendered.arrays())
    with caplog.at_level(logging.WARNING, logger=sprite_cache.__name__):
        again = cached_bank(*args)
    (warning,) = warnings_of(caplog)
    assert str(path) in warning and "cannot be read" in warning
    assert_same_arrays(rendered, again)
    no_render(monkeypatch)  # the file was replaced: the next process loads it
    assert_same_arrays(rendered, cached_bank(*args))
    assert [p.name for p in cache.iterdir()] == [path.name]


def test_off_renders_without_touching_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sprite_cache, "DEFAULT_FOLDER", tmp_path / "default")
    monkeypatch.setenv(CACHE_ENV_VAR, "off")
    assert cache_folder() is None
    assert isinstance(cached_bank(*target_args()), SpriteBank)
    assert list(tmp_path.iterdir()) == []


def test_where_the_cache_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CACHE_ENV_VAR)
    assert cache_folder() == ROOT / "render_cache"
    assert "/render_cache/" in (ROOT / ".gitignore").read_text().split()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(CACHE_ENV_VAR, "banks")
    assert cache_folder() == tmp_path / "banks"


@pytest.mark.parametrize("error", [OSError, RuntimeError])
def test_a_failed_write_leaves_no_file(error: type[Exception], cache: Path, monkeypatch: pytest.MonkeyPatch,
                                       caplog: pytest.LogCaptureFixture) -> None:
    """A write that fails halfway (a full disk: a warning; a bug: raised) leaves neither the file nor a part."""
    def half_written(file: object, **arrays: np.ndarray) -> None:
        file.write(b"PK\x03\x04 half a file")
        raise error("no space left")

    monkeypatch.setattr(np, "savez_compressed", half_written)
    with caplog.at_level(logging.WARNING, logger=sprite_cache.__name__):
        if error is OSError:
            assert isinstance(cached_bank(*target_args()), SpriteBank)
            (warning,) = warnings_of(caplog)
            assert str(cache) in warning and "no space left" in warning
        else:
            with pytest.raises(error, match="no space left"):
                cached_bank(*target_args())
    assert list(cache.iterdir()) == []


def test_an_unwritable_folder_falls_back_to_rendering(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "file").write_text("")
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "file" / "render_cache"))  # under a file: no folder there
    with caplog.at_level(logging.WARNING, logger=sprite_cache.__name__):
        assert isinstance(cached_bank(*target_args()), SpriteBank)
    (warning,) = warnings_of(caplog)
    assert "cannot be written to" in warning
    assert sorted(path.name for path in tmp_path.iterdir()) == ["file"]
