"""Every registered algorithm with each action type it supports: train through the launcher, save, load, replay.

Plus what only some algorithms promise: CMA-ES keeps its best solution, ARS and CMA-ES count the terminal reward,
the random agent covers its action space, and an algorithm without the run's action type is refused.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from omegaconf import OmegaConf
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv
from torch.nn.utils import parameters_to_vector

from conftest import compose_run, run_main
from rlzoo import train
from rlzoo.algos import ARS, CMAES, RandomAgent
from rlzoo.base import ActionType, AlgoType
from rlzoo.registry import algorithms, load_algo_class
from rlzoo.recorders import ActionRecorder
from rlzoo.replay import evaluate, load_run

#: a run of a few hundred steps on MobileRobot ground truth
RUN = ["total_timesteps=300", "n_envs=2", "live_plots=none", "checkpoint_interval=256", "log_interval=256"]
SMALL_NET = "++algo.policy_kwargs={net_arch:[16]}"
SMALL_REPLAY = ["algo.learning_starts=50", "algo.batch_size=32", "algo.buffer_size=1000"]
#: per-algorithm overrides that keep a test run to a second or two (unlisted algorithms train with their defaults)
TINY: dict[str, list[str]] = {
    "a2c": [SMALL_NET],
    "acer": [SMALL_NET, "algo.buffer_size=500", "algo.replay_start=100"],
    "acktr": [SMALL_NET],
    "ars": ["algo.n_delta=1", "algo.n_top=1"],
    "cmaes": ["algo.population_size=4", "++algo.policy_kwargs={hidden_size:8}"],
    "ddpg": [SMALL_NET, *SMALL_REPLAY, "algo.train_freq=50", "algo.gradient_steps=10"],
    "deepq": [SMALL_NET, "algo.learning_starts=100", "algo.target_update_interval=100"],
    "ppo1": [SMALL_NET, "algo.n_steps=64", "algo.batch_size=32"],
    "ppo2": [SMALL_NET, "algo.n_steps=64", "algo.n_minibatches=2"],
    "ppo2_lstm": ["++algo.policy_kwargs={net_arch:[16],lstm_hidden_size:16}", "algo.n_steps=64",
                  "algo.n_minibatches=2"],
    "sac": [SMALL_NET, *SMALL_REPLAY],
    "td3": [SMALL_NET, *SMALL_REPLAY],
    "tqc": ["++algo.policy_kwargs={net_arch:[16],n_quantiles:5}", *SMALL_REPLAY],
    "trpo": [SMALL_NET, "algo.n_steps=64", "algo.batch_size=64"],
}
CASES = [(name, action.value) for name, info in algorithms().items() for action in info.action_types]
#: what the action plot of a replay shows: the policy's distribution where it has one (DEFAULT_VIEWS), else ...
DEFAULT_VIEWS = {"discrete": "action probability", "continuous": "action distribution mean"}
ACTION_VIEWS = {
    ("deepq", "discrete"): "softmax of the Q-values",
    ("cmaes", "discrete"): "softmax of the policy's outputs", ("cmaes", "continuous"): "action (deterministic)",
    ("ars", "continuous"): "action (deterministic)", ("ddpg", "continuous"): "action (deterministic)",
    ("td3", "continuous"): "action (deterministic)", ("sac", "continuous"): "action (deterministic)",
    ("tqc", "continuous"): "action (deterministic)",
}


def train_in_process(overrides: list[str], run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run ``rlzoo.train.run`` on the composed config and return the trained model object."""
    trained: dict[str, Any] = {}
    learn = train._learn

    def keep_model(cfg: Any, run_dir: Path, choices: Any, model: Any, *args: Any) -> float:
        trained["model"] = model
        return learn(cfg, run_dir, choices, model, *args)

    monkeypatch.setattr(train, "_learn", keep_model)
    cfg, choices = compose_run([*overrides, f"hydra.run.dir={run_dir}"])
    run_cfg = OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"])
    (run_dir / ".hydra").mkdir(parents=True)  # what Hydra writes for main.py, and replay reads
    OmegaConf.save(run_cfg, run_dir / ".hydra" / "config.yaml")
    OmegaConf.save({"hydra": {"runtime": {"choices": choices}}}, run_dir / ".hydra" / "hydra.yaml")
    train.run(run_cfg, run_dir, choices)
    return trained["model"]


def sample_observations(model: Any, n: int = 8) -> np.ndarray:
    """``n`` observations from the model's (possibly transposed) observation space, seeded."""
    space = model.observation_space
    space.seed(0)
    return np.stack([space.sample() for _ in range(n)])


def assert_same_parameters(a: Any, b: Any) -> None:
    params_a, params_b = a.get_parameters(), b.get_parameters()
    assert params_a.keys() == params_b.keys()
    for name, state in params_a.items():
        if name.endswith("optimizer"):
            continue
        for key, tensor in state.items():
            th.testing.assert_close(tensor, params_b[name][key], msg=f"{name}.{key}")


@pytest.mark.parametrize(("name", "action"), CASES, ids=[f"{name}-{action}" for name, action in CASES])
def test_train_save_load_and_replay(name: str, action: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir = tmp_path / "run"
    model = train_in_process([f"algo={name}", f"action_space={action}", *RUN, *TINY.get(name, [])], run_dir,
                             monkeypatch)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "finished" and metrics["timesteps"] >= 300
    assert (run_dir / "0.monitor.csv").is_file() and list((run_dir / "checkpoints").glob("step_*"))
    info = algorithms()[name]
    model_class = load_algo_class(metrics["model_class"])
    assert isinstance(model, info.cls) and type(model) is model_class

    loaded = model_class.load(run_dir / "model.zip", device="cpu")
    assert loaded.num_timesteps == model.num_timesteps
    assert_same_parameters(model, loaded)
    obs = sample_observations(model)
    before, after = model.get_action(obs), loaded.get_action(obs)
    if info.algo_type is AlgoType.OTHER:  # random actions: only their space is fixed
        assert all(model.action_space.contains(a) for a in after)
    else:
        np.testing.assert_allclose(before, after)

    replay = load_run(run_dir)
    actions = ActionRecorder(replay.model)  # what --plot-actions draws, for every algorithm
    rewards = evaluate(replay, episodes=1, observers=[actions])
    replay.env.close()
    assert len(rewards) == 1 and np.isfinite(rewards[0])
    values = np.stack(actions.values)
    assert actions.label == ACTION_VIEWS.get((name, action), DEFAULT_VIEWS[action])
    if action == "discrete":
        assert values.shape[1] == 4  # Discrete(4): one value per action
        np.testing.assert_allclose(values.sum(axis=1), 1.0, atol=1e-5)
    else:
        assert values.shape[1] == 2 and np.isfinite(values).all()  # Box(2)


#: one pixel run per algorithm family: on-policy, actor-critic, off-policy, evolution strategy
PIXEL_CASES = {
    "ppo2": ["algo.n_steps=32", "algo.n_minibatches=2"],
    "a2c": ["algo.n_steps=32"],
    "sac": ["algo.learning_starts=32", "algo.batch_size=16", "algo.buffer_size=200"],
    "cmaes": ["algo.population_size=2"],
}


@pytest.mark.parametrize("name", list(PIXEL_CASES))
def test_pixels_train_a_cnn(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    action = algorithms()[name].action_types[0].value
    run_dir = tmp_path / "run"
    overrides = [f"algo={name}", f"action_space={action}", "srl_model=raw_pixels", "image_size=40",
                 "total_timesteps=64", "n_envs=2", "live_plots=none", *PIXEL_CASES[name]]
    model = train_in_process(overrides, run_dir, monkeypatch)
    assert model.observation_space.shape == (3, 40, 40)
    assert any(isinstance(module, th.nn.Conv2d) for module in model.policy.modules())
    assert not (run_dir / "vecnormalize.pkl").exists()
    loaded = type(model).load(run_dir / "model.zip", device="cpu")
    obs = sample_observations(model, n=2)
    np.testing.assert_allclose(model.get_action(obs), loaded.get_action(obs))


def test_action_type_the_algorithm_lacks_is_refused(tmp_path: Path) -> None:
    result = run_main(["algo=ddpg", "action_space=discrete", "live_plots=none", f"hydra.run.dir={tmp_path / 'run'}"])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "algo=ddpg does not support discrete actions" in result.stderr
    discrete = [name for name, info in algorithms().items() if "discrete" in {t.value for t in info.action_types}]
    assert f"Algorithms that support discrete actions: {', '.join(discrete)}." in result.stderr
    assert not (tmp_path / "run" / "0.monitor.csv").exists()


class TerminalRewardEnv(gym.Env):
    """Five steps from the constant observation [1]; the only reward, at the last step, is ``2 - |a - 0.5|``."""

    observation_space = spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)
    action_space = spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)
    length = 5

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        return np.ones(1, dtype=np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        terminated = self.t >= self.length
        reward = 2.0 - abs(float(np.clip(action[0], -1, 1)) - 0.5) if terminated else 0.0
        return np.ones(1, dtype=np.float32), reward, terminated, False, {}


def toy_venv(n_envs: int) -> DummyVecEnv:
    return DummyVecEnv([lambda: Monitor(TerminalRewardEnv()) for _ in range(n_envs)])


def test_cmaes_keeps_and_saves_the_best_solution(tmp_path: Path) -> None:
    model = CMAES("MlpPolicy", toy_venv(2), population_size=6, sigma=0.5, policy_kwargs={"hidden_size": 4}, seed=0)
    model.learn(5 * 6 * 4)  # 4 generations of 6 episodes of 5 steps
    assert model.n_generations == 4
    xbest = model.es.result.xbest
    assert model.best_return == pytest.approx(-model.es.result.fbest) and model.best_return > 0  # terminal reward
    np.testing.assert_allclose(parameters_to_vector(model.policy.parameters()).numpy(), xbest, rtol=1e-6, atol=1e-7)
    assert not np.allclose(xbest, model.es.mean)  # the best solution is not the mean (nor in general the last)

    model.save(tmp_path / "cmaes.zip")
    loaded = CMAES.load(tmp_path / "cmaes.zip", env=toy_venv(2))
    np.testing.assert_allclose(parameters_to_vector(loaded.policy.parameters()).numpy(), xbest, rtol=1e-6, atol=1e-7)
    best_action = loaded.get_action(np.ones((1, 1), dtype=np.float32))[0, 0]
    assert 2.0 - abs(best_action - 0.5) == pytest.approx(model.best_return, abs=1e-5)  # replaying it earns its return
    loaded.learn(5 * 6, reset_num_timesteps=False)  # the saved search state continues
    assert loaded.n_generations == 5 and loaded.best_return >= model.best_return


def test_ars_counts_the_terminal_reward() -> None:
    model = ARS("LinearPolicy", toy_venv(1), n_delta=2, n_top=2, delta_std=0.1, seed=0)
    model.learn(2 * 2 * 5)  # one update: 2 directions x (+, -) x one 5-step episode
    assert [info["r"] for info in model.ep_info_buffer] and all(info["r"] > 0 for info in model.ep_info_buffer)
    assert th.count_nonzero(model.weights) > 0  # zero returns (the original's) would leave the zero policy as it was


@pytest.mark.parametrize("control", ["discrete", "continuous"])
def test_random_agent_covers_the_action_space(control: str) -> None:
    env = DummyVecEnv([lambda: Monitor(gym.make("MobileRobot-v0", control=control))])
    model = RandomAgent(env=env, seed=0)
    actions = model.get_action(np.zeros((2000, 2), dtype=np.float32))
    if control == "discrete":
        assert set(actions.tolist()) == {0, 1, 2, 3}
    else:
        assert actions.shape == (2000, 2) and np.all(np.abs(actions) <= 1)
        assert np.all(actions.min(axis=0) < -0.95) and np.all(actions.max(axis=0) > 0.95)
    model.learn(600)
    assert model.num_timesteps == 600 and len(model.ep_info_buffer) == 2


class TinyEnv(gym.Env):
    """Random observations, 2-d states or 36x36 images, and 2 discrete or 1 continuous action; never ends."""

    def __init__(self, images: bool, discrete: bool) -> None:
        self.observation_space = (spaces.Box(0, 255, (36, 36, 3), dtype=np.uint8) if images
                                  else spaces.Box(-1.0, 1.0, (2,), dtype=np.float32))
        self.action_space = spaces.Discrete(2) if discrete else spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        return self.observation_space.sample(), 0.0, False, False, {}


@pytest.mark.parametrize("images", [False, True], ids=["states", "images"])
@pytest.mark.parametrize("name", list(algorithms()))
def test_policy_auto_from_python(name: str, images: bool) -> None:
    """Every registered class takes ``policy="auto"`` from Python (no launcher): the image policy of its
    ``auto_policies`` for images, the vector one otherwise; its signature stays its own (the launcher checks keys)."""
    cls = algorithms()[name].cls
    params = inspect.signature(cls.__init__).parameters
    assert "policy" in params and "env" in params and "args" not in params
    discrete = ActionType.DISCRETE in cls.action_types
    small = {"buffer_size": 100} if "buffer_size" in params else {}  # image replay buffers: 100 frames, not 10^6
    model = cls("auto", DummyVecEnv([lambda: TinyEnv(images, discrete)]), device="cpu", **small)
    expected = cls.policy_aliases[cls.auto_policies[1 if images else 0]]
    assert model.policy_class is expected and isinstance(model.policy, expected)
    with pytest.raises(ValueError, match="policy='auto' chooses the policy from the env's observations"):
        cls("auto", None)
