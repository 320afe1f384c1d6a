"""Hyperparameter search: ``hparams_search=<algo>`` is Hydra's Optuna sweeper over the ranges of
``conf/hparams_search/<algo>.yaml``; the search maximises the mean reward ``main.py`` returns and writes the best
parameters."""

from __future__ import annotations

import inspect
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
    from optuna.distributions import CategoricalDistribution, IntLogUniformDistribution, LogUniformDistribution

from conftest import FAST, ROOT, compose_run, run_main
from rlzoo.registry import algorithms
from rlzoo.sweep import FailedTrials, JobFailed

SEARCH_DIR = ROOT / "conf" / "hparams_search"
#: FAST budgets, with n_steps left to the search and steps enough for a few episodes (no episode: no reward)
FAST_SEARCH = [o for o in FAST if o.split("=")[0] not in ("algo.n_steps", "total_timesteps")] + ["total_timesteps=1024"]
LOG_SCALE = (LogUniformDistribution, IntLogUniformDistribution)


def search_space(name: str) -> dict[str, optuna.distributions.BaseDistribution]:
    """The distributions the Optuna sweeper reads from ``conf/hparams_search/<name>.yaml``, by ``algo.<key>``."""
    params = yaml.safe_load((SEARCH_DIR / f"{name}.yaml").read_text())["hydra"]["sweeper"]["params"]
    distributions, fixed = create_params_from_overrides([f"{key}={value}" for key, value in params.items()])
    assert not fixed, fixed
    return distributions


@pytest.mark.parametrize("name", sorted(p.stem for p in SEARCH_DIR.glob("*.yaml")))
def test_search_ranges_are_constructor_arguments_with_valid_ranges(name: str) -> None:
    """Each range names a key of conf/algo/<name>.yaml (a constructor argument), and its bounds can be sampled."""
    cfg, choices = compose_run([f"hparams_search={name}"])
    assert choices["algo"] == name and cfg.hydra.mode.name == "MULTIRUN"
    assert cfg.hydra.sweeper.direction == "maximize" and cfg.hydra.sweeper.study_name == name
    assert "FailedTrials" in cfg.hydra.callbacks.failed_trials._target_
    constructor = inspect.signature(algorithms()[name].cls.__init__).parameters
    space = search_space(name)
    assert space
    for key, distribution in space.items():
        prefix, _, argument = key.partition(".")
        assert prefix == "algo" and argument in cfg.algo and argument in constructor, key
        if isinstance(distribution, CategoricalDistribution):
            assert cfg.algo[argument] in distribution.choices, key
        else:
            assert distribution.low < distribution.high, key
            assert not isinstance(distribution, LOG_SCALE) or distribution.low > 0, key


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
    space = search_space("ppo2")
    assert set(results["best_params"]) == set(space)
    for key, distribution in space.items():
        assert distribution._contains(distribution.to_internal_repr(results["best_params"][key])), key
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


#: (action space, n_envs) settings every search must stay valid for
RUN_SETTINGS = [("discrete", 1), ("discrete", 3), ("continuous", 1), ("continuous", 3)]


@pytest.mark.parametrize("name", sorted(p.stem for p in SEARCH_DIR.glob("*.yaml")))
def test_every_sampled_setting_builds_the_algorithm(name: str, tmp_path: Path) -> None:
    """Settings drawn from a search space construct the algorithm whatever n_envs and the action space (trials
    never die at construction), for each action space the algorithm supports."""
    from hydra.utils import instantiate

    from rlzoo.run_env import env_factory
    from rlzoo.validation import validate

    space = search_space(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    supported = {t.value for t in algorithms()[name].action_types}
    for action_space, n_envs in RUN_SETTINGS:
        if action_space not in supported:
            continue
        cfg, choices = compose_run([f"algo={name}", f"action_space={action_space}", f"n_envs={n_envs}"])
        plan = validate(cfg, choices)
        venv = plan.algo_class.make_env(env_factory(cfg, plan, tmp_path, seed=0), n_envs)
        try:
            for _ in range(6):
                params = study.ask(space).params
                algo = cfg.algo.copy()
                for key, value in params.items():
                    algo[key.removeprefix("algo.")] = value
                instantiate(algo, env=venv, seed=0, _convert_="all")
        finally:
            venv.close()


def test_a_search_without_a_completed_trial_ends_with_its_summary(tmp_path: Path) -> None:
    """100 steps finish no episode: every trial fails, and the search says so instead of a traceback."""
    result = run_main(["hparams_search=ppo2", "hydra.sweeper.n_trials=2", "algo.n_steps=int(interval(32,64))",
                       "total_timesteps=100", "live_plots=none", f"hydra.sweep.dir={tmp_path}"])
    out = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in out and "No trials are completed" not in out
    assert "2 trials, none completed" in out and out.count("no episode finished: no mean reward") == 2
    results = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert results["completed_trials"] == 0 and results["trials"] == 2 and results["best_params"] is None
