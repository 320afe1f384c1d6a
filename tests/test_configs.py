"""Every config group option composes against its schema; combinations are checked before any env starts."""

from __future__ import annotations

from dataclasses import asdict

import pytest
from hydra.errors import ConfigCompositionException
from hydra.utils import get_class
from omegaconf import OmegaConf

from conftest import CONF_DIR, compose_run, run_main
from rlzoo.base import ActionType, ToolboxAlgorithm
from rlzoo.registry import algo_names, algorithms
from rlzoo.validation import _env_class, validate
from srl.config import MODELS
from srl.errors import ConfigError


def options(group: str) -> list[str]:
    """A group's options: its YAML files, plus (``srl_model``) one learned option per SRL catalogue entry."""
    learned = list(MODELS) if group == "srl_model" else []
    return sorted([p.stem for p in (CONF_DIR / group).glob("*.yaml")] + learned)


def test_default_config_is_the_quick_start_run() -> None:
    cfg, choices = compose_run([])
    assert choices["algo"] == "ppo2" and choices["env"] == "MobileRobot"
    assert choices["srl_model"] == "ground_truth" and choices["action_space"] == "discrete"
    assert cfg.num_stack == 1 and cfg.image_size == 64 and cfg.n_envs >= 1
    plan = validate(cfg, choices)
    assert plan.env_kwargs == {"random_target": False, "shape_reward": False, "observation": "ground_truth",
                               "control": "discrete", "image_size": 64, "renderer": "composite"}


def _expected_error(cfg) -> str | None:
    """What validation must say about a config, from what the env class declares it supports."""
    env_class = _env_class(cfg.env.id)
    if cfg.srl_model.observation not in env_class.observation_kinds:
        return "is not available for env="
    if cfg.action_space.control not in env_class.controls:
        return "cannot take action_space="
    return None


@pytest.mark.parametrize("action_space", options("action_space"))
@pytest.mark.parametrize("env", options("env"))
def test_every_env_and_action_space_validates_or_says_why(env: str, action_space: str) -> None:
    cfg, choices = compose_run([f"env={env}", f"action_space={action_space}"])
    expected = _expected_error(cfg)
    if expected is None:
        assert validate(cfg, choices).env_kwargs["control"] == cfg.action_space.control
    else:
        with pytest.raises(ConfigError, match=expected):
            validate(cfg, choices)


@pytest.mark.parametrize("srl_model", options("srl_model"))
@pytest.mark.parametrize("env", ["MobileRobot", "KukaButton"])
def test_every_srl_model_composes_and_validates_or_says_why(env: str, srl_model: str) -> None:
    cfg, choices = compose_run([f"env={env}", f"srl_model={srl_model}"])
    expected = _expected_error(cfg)
    if expected is None:
        assert validate(cfg, choices).env_kwargs["observation"] == cfg.srl_model.observation
    else:
        with pytest.raises(ConfigError, match=f"srl_model={srl_model} {expected}{env}"):
            validate(cfg, choices)


def test_mobile_robot_refuses_arm_observations_and_joint_control() -> None:
    for override, message in [("srl_model=joints", "srl_model=joints is not available for env=MobileRobot"),
                              ("action_space=joints", "env=MobileRobot cannot take action_space=joints")]:
        cfg, choices = compose_run([override])
        with pytest.raises(ConfigError, match=message):
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


@pytest.mark.parametrize("name", options("algo"))
def test_every_algo_target_is_a_toolbox_algorithm(name: str) -> None:
    """Each ``_target_`` of conf/algo imports, is a ToolboxAlgorithm, and is what the registry holds for the name."""
    target = OmegaConf.load(CONF_DIR / "algo" / f"{name}.yaml")["_target_"]
    cls = get_class(target)
    assert isinstance(cls, type) and issubclass(cls, ToolboxAlgorithm), target
    assert cls.action_types and set(cls.action_types) <= set(ActionType), target
    assert algorithms()[name].cls is cls and name in algo_names()


def test_help_lists_the_run_groups_only() -> None:
    result = run_main(["--help"], timeout=120)
    assert result.returncode == 0, result.stderr
    groups = result.stdout.split("== Configuration groups ==")[1].split("== Config ==")[0]
    listed = {line.split(":")[0] for line in groups.splitlines()[2:] if ":" in line}
    assert listed == {"action_space", "algo", "env", "experiment", "hparams_search", "srl_model"}
    srl_models = next(line for line in groups.splitlines() if line.startswith("srl_model:"))
    assert {"ground_truth", "raw_pixels", "vae", "srl_splits"} <= set(srl_models.split(": ")[1].split(", "))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_learned_srl_model_composes_its_catalogue_spec(name: str) -> None:
    cfg, _ = compose_run([f"srl_model={name}"])
    assert cfg.srl_model.model == name and cfg.srl_model.observation == "pixels" and cfg.srl_model.normalize
    assert OmegaConf.to_container(cfg.srl_model.spec) == asdict(MODELS[name])


def test_the_spec_of_a_learned_srl_model_is_overridable_and_typed() -> None:
    cfg, _ = compose_run(["srl_model=srl_splits", "srl_model.spec.state_dim=50", "srl_model.spec.losses=[inverse]"])
    assert cfg.srl_model.spec.state_dim == 50 and list(cfg.srl_model.spec.losses) == ["inverse"]
    assert MODELS["srl_splits"].state_dim == 200  # the catalogue is not changed by a run's override
    with pytest.raises(ConfigCompositionException):
        compose_run(["srl_model=vae", "srl_model.spec.state_dim=many"])
    with pytest.raises(ConfigCompositionException):
        compose_run(["srl_model=vae", "srl_model.spec.no_such_key=1"])


def test_ppo2_policy_lstm_points_to_ppo2_lstm() -> None:
    cfg, choices = compose_run(["algo.policy=lstm"])
    with pytest.raises(ConfigError, match="algo.policy=lstm is not a policy of algo=ppo2: .* Use algo=ppo2_lstm"):
        validate(cfg, choices)
    cfg, choices = compose_run(["algo=ppo2_lstm"])
    assert validate(cfg, choices).algo_class.__name__ == "RecurrentPPO2"


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
