"""The import layering: ``envs`` and ``srl`` at the ground, ``rlzoo`` above them, ``main.py`` on top, no circles;
and one owner per run-folder file name."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from rlzoo import run_folder

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("envs", "srl", "rlzoo")
#: what each package may import of the others (the layers below it)
ALLOWED = {"envs": set(), "srl": {"envs"}, "rlzoo": {"envs", "srl"}}


def _imports(path: Path) -> set[str]:
    """Top-level package names of every import in a module, function-level imports included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def package_graph() -> dict[str, set[str]]:
    """package -> the other packages of the project its modules import."""
    graph: dict[str, set[str]] = {}
    for package in PACKAGES:
        used: set[str] = set()
        for path in (ROOT / package).rglob("*.py"):
            used |= _imports(path) & set(PACKAGES)
        graph[package] = used - {package}
    return graph


def test_packages_import_only_the_layers_below() -> None:
    graph = package_graph()
    for package, used in graph.items():
        assert used <= ALLOWED[package], f"{package} imports {sorted(used - ALLOWED[package])}"


def test_no_import_circle_between_packages() -> None:
    graph = package_graph()

    def reaches(start: str, goal: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})) for nxt in graph[start])

    assert [p for p in PACKAGES if reaches(p, p)] == []


@pytest.mark.parametrize("package, absent", [
    ("srl", ("rlzoo", "pybullet")),
    ("envs", ("rlzoo", "pybullet", "srl")),
])
def test_ground_packages_load_alone(package: str, absent: tuple[str, ...]) -> None:
    """Every module of ``srl`` (and ``import envs``) loads without the RL side, and ``srl`` without pybullet."""
    modules = [package] if package == "envs" else [
        f"srl.{p.stem}" for p in sorted((ROOT / "srl").glob("*.py")) if p.stem not in ("__init__", "__main__")]
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules)
            + f"print(sorted(m for m in {absent!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]", f"import {package} loaded {result.stdout.strip()}"


def _string_constants(path: Path) -> list[str]:
    """The string literals of a module, docstrings excluded."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_every_run_folder_name_is_spelt_once() -> None:
    """A run folder's file names live in ``rlzoo/run_folder.py``; no other module of the project spells them."""
    names = {run_folder.HYDRA_DIR, run_folder.CONFIG_FILE, run_folder.HYDRA_FILE, run_folder.MONITOR_SUFFIX,
             run_folder.MODEL_FILE, run_folder.NORMALIZATION_FILE, run_folder.BEST_MODEL_FILE,
             run_folder.BEST_NORMALIZATION_FILE, run_folder.METRICS_FILE, run_folder.JOB_FILE, run_folder.LOG_FILE,
             run_folder.CHECKPOINT_DIR, run_folder.STATE_FILE, run_folder.SRL_MODEL_RECORD}
    #: an SRL model folder (srl/train.py) has a config.yaml and a metrics.json of its own
    srl_names = names - {run_folder.CONFIG_FILE, run_folder.METRICS_FILE}
    owner = ROOT / "rlzoo" / "run_folder.py"
    offenders = []
    for path in sorted([ROOT / "main.py", *(p for d in (*PACKAGES, "bench") for p in (ROOT / d).rglob("*.py"))]):
        if path == owner:
            continue
        checked = srl_names if path.is_relative_to(ROOT / "srl") else names
        for text in _string_constants(path):
            offenders += [f"{path.relative_to(ROOT)}: {text!r}" for name in checked
                          if name in text.split("/") or (name.startswith(".") and text.endswith(name))]
    assert offenders == []
