"""Hyperparameter search: ``hparams_search=<algo>`` is Hydra's Optuna sweeper over the algorithm's
``search_space()``; the search maximises the mean reward ``main.py`` returns and writes the best parameters."""

from __future__ import annotations

import importlib.util
import math
import warnings
from pathlib import Path

import pytest
import yaml
from hydra.core.utils import JobReturn, JobStatus

with warnings.catch_warnings():  # optuna 2.10's storage uses SQLAlchemy 1.4 APIs that 2.0 removed (1.4 is pinned)
    warnings.filterwarnings("ignore", message="Deprecated API features detected")
    import optuna
    from hydra_plugins.hydra_optuna_sweeper._impl import create_params_from_overrides
    from optuna.distributions import (CategoricalDistribution, IntLogUniformDistribution, IntUniformDistribution,
                                      LogUniformDistribution, UniformDistribution)

from conftest import FAST, ROOT, run_main
from rlzoo.algos import PPO2
from rlzoo.base import SearchParam
from rlzoo.sweep import FailedTrials, JobFailed

SEARCH_DIR = ROOT / "conf" / "hparams_search"
#: FAST budgets, with n_steps left to the search and steps enough for a few episodes (no episode: no reward)
FAST_SEARCH = [o for o in FAST if o.split("=")[0] not in ("algo.n_steps", "total_timesteps")] + ["total_timesteps=1024"]


def expected_distribution(param: SearchParam) -> optuna.distributions.BaseDistribution:
    if param.kind == "categorical":
        return CategoricalDistribution(tuple(param.choices))
    if param.kind == "int":
        cls = IntLogUniformDistribution if param.log else IntUniformDistribution
        return cls(int(param.low), int(param.high))
    cls = LogUniformDistribution if param.log else UniformDistribution
    return cls(float(param.low), float(param.high))


def algo_class(name: str) -> type:
    target = yaml.safe_load((ROOT / "conf" / "algo" / f"{name}.yaml").read_text())["_target_"]
    module, _, attr = target.rpartition(".")
    return getattr(importlib.import_module(module), attr)


@pytest.mark.parametrize("path", sorted(SEARCH_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_search_file_is_the_algorithms_search_space(path: Path) -> None:
    """Read as the Optuna sweeper reads it, each search file gives exactly the class's ``search_space()``."""
    config = yaml.safe_load(path.read_text())
    params = config["hydra"]["sweeper"]["params"]
    distributions, fixed = create_params_from_overrides([f"{key}={value}" for key, value in params.items()])
    space = algo_class(path.stem).search_space()
    assert not fixed
    assert distributions == {f"algo.{key}": expected_distribution(param) for key, param in space.items()}
    assert config["hydra"]["sweeper"]["direction"] == "maximize"
    assert {"override /algo": path.stem} in config["defaults"]


def test_every_algorithm_with_a_search_space_has_its_search_file(capsys: pytest.CaptureFixture[str]) -> None:
    """``scripts/gen_hparams_search.py --check``: the files are what the script writes now."""
    spec = importlib.util.spec_from_file_location("gen_hparams_search", ROOT / "scripts" / "gen_hparams_search.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--check"]) == 0, capsys.readouterr()
    assert (SEARCH_DIR / "ppo2.yaml").exists() and PPO2.search_space()


def test_a_failed_job_is_a_failed_trial() -> None:
    ret = JobReturn(status=JobStatus.COMPLETED, working_dir="/tmp/sweep/3_run")
    ret.return_value = math.nan
    FailedTrials().on_job_end(config=None, job_return=ret)
    assert ret.status == JobStatus.FAILED
    with pytest.raises(JobFailed, match="3_run/metrics.json"):
        ret.return_value
    ok = JobReturn(status=JobStatus.COMPLETED)
    ok.return_value = 1.5
    FailedTrials().on_job_end(config=None, job_return=ok)
    assert ok.status == JobStatus.COMPLETED and ok.return_value == 1.5


def test_search_finds_and_writes_the_best_parameters(tmp_path: Path) -> None:
    study = tmp_path / "study.db"
    result = run_main(["hparams_search=ppo2", "hydra.sweeper.n_trials=3", "hydra.sweeper.n_jobs=3",
                       "hydra.sweeper.sampler.seed=0", f"hydra.sweeper.storage=sqlite:///{study}",
                       *FAST_SEARCH, f"hydra.sweep.dir={tmp_path}"])
    assert result.returncode == 0, result.stderr[-3000:]
    results = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    space = PPO2.search_space()
    assert set(results["best_params"]) == {f"algo.{key}" for key in space}
    for key, param in space.items():
        assert param.low <= results["best_params"][f"algo.{key}"] <= param.high
    rewards = {}
    for trial in sorted(tmp_path.glob("*/metrics.json")):
        metrics = yaml.safe_load(trial.read_text())
        assert metrics["status"] == "finished"
        rewards[trial.parent.name] = metrics["mean_reward_last_100"]
    assert len(rewards) == 3
    assert results["best_value"] == pytest.approx(max(rewards.values()))  # maximised
    best = next(name for name, reward in rewards.items() if reward == pytest.approx(results["best_value"]))
    overrides = yaml.safe_load((tmp_path / best / ".hydra" / "overrides.yaml").read_text())
    assert f"algo.n_steps={results['best_params']['algo.n_steps']}" in overrides  # the trial ran those parameters
    out = result.stdout + result.stderr
    assert "Best parameters:" in out and "Optuna best value" in out
    stored = optuna.load_study(study_name="ppo2", storage=f"sqlite:///{study}")  # the study outlives the sweep
    assert len(stored.trials) == 3 and stored.best_value == pytest.approx(results["best_value"])


def test_failed_trials_do_not_stop_the_search(tmp_path: Path) -> None:
    """A trial whose job fails (MobileRobot refuses action_space=joints) is a failed trial; the search goes on."""
    search = tmp_path / "conf" / "hparams_search"
    search.mkdir(parents=True)
    (search / "action_space.yaml").write_text("""\
# @package _global_
defaults:
  - override /hydra/sweeper: optuna
  - override /hydra/sweeper/sampler: random
hydra:
  mode: MULTIRUN
  sweeper:
    sampler:
      seed: 0               # draws discrete, then joints
    direction: maximize
    n_trials: 2
    n_jobs: 2
    max_failure_rate: 1.0
    params:
      action_space: choice(joints, discrete)
  callbacks:
    failed_trials:
      _target_: rlzoo.sweep.FailedTrials
    sweep_summary:
      fail_on_failed_jobs: false
""")
    sweep = tmp_path / "sweep"
    result = run_main(["hparams_search=action_space", f"hydra.searchpath=[file://{tmp_path / 'conf'}]",
                       *FAST_SEARCH, f"hydra.sweep.dir={sweep}"])
    assert result.returncode == 0, result.stderr[-3000:]
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert results["best_params"] == {"action_space": "discrete"}
    statuses = {p.parent.name: yaml.safe_load(p.read_text())["status"] for p in sweep.glob("*/metrics.json")}
    assert sorted(statuses.values()) == ["failed", "finished"], statuses
    out = result.stdout + result.stderr
    assert "Failed experiment" in out and "1 failed, 1 finished" in out
