"""Every config group option composes against its schema; combinations are checked before any env starts."""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException

from conftest import CONF_DIR, compose_run
from rlzoo.registry import algo_names, algorithms
from rlzoo.validation import ConfigError, validate


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def test_default_config_is_the_quick_start_run() -> None:
    cfg, choices = compose_run([])
    assert choices["algo"] == "ppo2" and choices["env"] == "MobileRobot"
    assert choices["srl_model"] == "ground_truth" and choices["action_space"] == "discrete"
    assert cfg.num_stack == 1 and cfg.image_size == 64 and cfg.n_envs >= 1
    plan = validate(cfg, choices)
    assert plan.env_kwargs == {"random_target": False, "shape_reward": False, "observation": "ground_truth",
                               "control": "discrete", "image_size": 64}


@pytest.mark.parametrize("env", options("env"))
@pytest.mark.parametrize("srl_model", options("srl_model"))
@pytest.mark.parametrize("action_space", options("action_space"))
def test_every_combination_validates_or_says_why(env: str, srl_model: str, action_space: str) -> None:
    cfg, choices = compose_run([f"env={env}", f"srl_model={srl_model}", f"action_space={action_space}"])
    expected_ok = srl_model in ("ground_truth", "raw_pixels") and action_space != "joints"
    if expected_ok:
        validate(cfg, choices)
    else:
        with pytest.raises(ConfigError, match=f"(srl_model={srl_model}|action_space={action_space})"):
            validate(cfg, choices)


def test_run_level_keys_pass_into_env_kwargs() -> None:
    cfg, choices = compose_run(["random_target=true", "shape_reward=true", "image_size=96", "srl_model=raw_pixels"])
    kwargs = validate(cfg, choices).env_kwargs
    assert kwargs["random_target"] and kwargs["shape_reward"]
    assert kwargs["image_size"] == 96 and kwargs["observation"] == "pixels"


@pytest.mark.parametrize("override", ["no_such_key=1", "n_envs=many", "env.no_such_kwarg_group=1"])
def test_schema_rejects_unknown_keys_and_wrong_types(override: str) -> None:
    with pytest.raises(ConfigCompositionException) as error:
        compose_run([override])
    assert override.split("=")[0].split(".")[-1] in f"{error.value} {error.value.__cause__}"


def test_registry_reads_every_algo_yaml() -> None:
    assert set(algo_names()) == set(algorithms())
    for name, info in algorithms().items():
        assert info.action_types, name
        assert info.cls.__module__.startswith("rlzoo.")


def test_unknown_algo_hyperparameter_is_named() -> None:
    cfg, choices = compose_run(["+algo.learning_rat=0.1"])
    with pytest.raises(ConfigError, match="no hyperparameter learning_rat; valid ones: .*learning_rate"):
        validate(cfg, choices)


@pytest.mark.parametrize("key", ["total_timesteps", "n_envs", "num_stack", "action_repeat"])
def test_counts_below_one_are_refused(key: str) -> None:
    cfg, choices = compose_run([f"{key}=0"])
    with pytest.raises(ConfigError, match=f"{key}=0 is invalid"):
        validate(cfg, choices)


def test_algorithm_without_the_action_type_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from rlzoo.base import ActionType

    class DiscreteOnly(algorithms()["ppo2"].cls):
        action_types = (ActionType.DISCRETE,)

    monkeypatch.setattr("rlzoo.validation.load_algo_class", lambda target: DiscreteOnly)
    cfg, choices = compose_run(["action_space=continuous"])
    with pytest.raises(ConfigError, match="algo=ppo2 does not support continuous actions .* it supports: discrete"):
        validate(cfg, choices)
