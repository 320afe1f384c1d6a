"""Adding an algorithm as docs/add_your_own_algorithm.md says: a class under ``rlzoo/`` plus an algo YAML, then
``python main.py algo=<name>``.

The class module goes under ``rlzoo/algos/`` (``_target_`` must be in an allowed package) with a unique name and is
removed afterwards; the YAML goes to a temporary config folder added with ``hydra.searchpath``, so the repository's
``conf/algo/`` (and the registry other tests read) never sees it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import ROOT, run_main
from rlzoo.replay import evaluate, load_run

CLASS_MODULE = '''
"""TinyA2C: SB3's A2C under the toolbox interface, discrete actions only."""

from typing import ClassVar

from stable_baselines3 import A2C

from rlzoo.base import ActionType, AlgoType, ToolboxAlgorithm


class TinyA2C(ToolboxAlgorithm, A2C):
    """SB3's A2C; the YAML keys are its constructor arguments."""

    algo_type: ClassVar[AlgoType] = AlgoType.RL
    action_types: ClassVar[tuple[ActionType, ...]] = (ActionType.DISCRETE,)
'''


@pytest.fixture
def tiny_algorithm(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """(algo name, class path, extra config folder) of a freshly written algorithm; its module is deleted after."""
    module = f"_test_tiny_{uuid.uuid4().hex[:8]}"
    module_path = ROOT / "rlzoo" / "algos" / f"{module}.py"
    module_path.write_text(CLASS_MODULE)
    target = f"rlzoo.algos.{module}.TinyA2C"
    conf = tmp_path / "conf"
    (conf / "algo").mkdir(parents=True)
    (conf / "algo" / "tiny_a2c.yaml").write_text(
        f"# A2C with tiny networks: a test of adding an algorithm.\n_target_: {target}\npolicy: auto\n"
        "n_steps: 8\nlearning_rate: 7.0e-4\npolicy_kwargs:\n  net_arch: [8]\n"
    )
    try:
        yield "tiny_a2c", target, conf
    finally:
        module_path.unlink(missing_ok=True)
        for compiled in (module_path.parent / "__pycache__").glob(f"{module}.*.pyc"):
            compiled.unlink(missing_ok=True)


def test_new_algorithm_trains_from_the_command_line(tiny_algorithm: tuple[str, str, Path], tmp_path: Path) -> None:
    name, target, conf = tiny_algorithm
    run_dir = tmp_path / "run"
    result = run_main([f"algo={name}", f"hydra.searchpath=[file://{conf}]", "total_timesteps=512", "n_envs=2",
                       "live_plots=none", f"hydra.run.dir={run_dir}"])
    assert result.returncode == 0, result.stderr
    for file in ["model.zip", "metrics.json", "0.monitor.csv", "1.monitor.csv", ".hydra/config.yaml"]:
        assert (run_dir / file).is_file(), file
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "finished" and metrics["timesteps"] == 512 and metrics["episodes"] == 2
    assert metrics["model_class"] == target
    replay = load_run(run_dir)
    assert type(replay.model).__name__ == "TinyA2C" and replay.model.n_steps == 8
    assert len(evaluate(replay, episodes=1)) == 1
    replay.env.close()

    refused = run_main([f"algo={name}", f"hydra.searchpath=[file://{conf}]", "action_space=continuous",
                        "live_plots=none", f"hydra.run.dir={tmp_path / 'refused'}"])
    assert refused.returncode == 2 and f"algo={name} does not support continuous actions" in refused.stderr
