"""Replay (``python -m rlzoo.enjoy``): same rewards as a direct evaluation, video, action and state plots, GUI."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from omegaconf import OmegaConf
from PIL import Image
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from rlzoo import enjoy, recorders, replay as replay_lib
from rlzoo.validation import validate
from tests.conftest import FAST, run_main

EPISODES = 2


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    """A tiny PPO2 run on MobileRobot (discrete actions, ground-truth observations)."""
    run_dir = tmp_path_factory.mktemp("enjoy") / "run"
    result = run_main([*FAST, "total_timesteps=1024", f"hydra.run.dir={run_dir}"])
    assert result.returncode == 0, result.stderr[-2000:]
    return run_dir


def direct_evaluation(run_dir, episodes: int, seed: int = 0) -> tuple[list[float], list[int]]:
    """Deterministic evaluation of the saved model, with an env built here (not by ``load_run``)."""
    cfg = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    choices = dict(OmegaConf.load(run_dir / ".hydra" / "hydra.yaml").hydra.runtime.choices)
    plan = validate(cfg, choices)
    venv = DummyVecEnv([lambda: gym.make(cfg.env.id, **plan.env_kwargs)])
    venv.seed(seed)
    env = VecNormalize.load(str(run_dir / "vecnormalize.pkl"), venv)
    env.training = False
    model = plan.algo_class.load(run_dir / "model.zip", device="cpu")
    rewards, lengths, total, length = [], [], 0.0, 0
    obs = env.reset()
    while len(rewards) < episodes:
        action, _ = model.predict(obs, deterministic=True)
        obs, reward, done, _ = env.step(action)
        total += float(reward[0])
        length += 1
        if done[0]:
            rewards.append(total)
            lengths.append(length)
            total, length = 0.0, 0
    env.close()
    return rewards, lengths


@pytest.fixture(scope="module")
def direct(trained):
    return direct_evaluation(trained, EPISODES)


@pytest.fixture(scope="module")
def replay_outputs(trained, tmp_path_factory: pytest.TempPathFactory):
    """One CLI replay writing every output at once (run in-process: imports are paid once)."""
    out = tmp_path_factory.mktemp("enjoy_out")
    paths = {"video": out / "replay.gif", "actions": out / "actions.png", "states": out / "states.png"}
    import contextlib
    import io

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = enjoy.main([str(trained), "--episodes", str(EPISODES), "--video", str(paths["video"]),
                           "--plot-actions", str(paths["actions"]), "--plot-states", str(paths["states"])])
    assert code == 0, stderr.getvalue()
    return paths, stdout.getvalue()


def test_replay_matches_direct_evaluation(trained, direct):
    rewards, _ = direct
    replay = replay_lib.load_run(trained, seed=0)
    replayed = replay_lib.evaluate(replay, EPISODES, deterministic=True)
    replay.env.close()
    assert replayed == rewards  # exactly: same model, same normalisation, same env seed


def test_cli_prints_episode_rewards_and_mean(replay_outputs, direct):
    rewards, _ = direct
    _, out = replay_outputs
    for i, reward in enumerate(rewards, start=1):
        assert f"episode {i}: reward {reward:.6g}" in out
    sem = np.std(rewards, ddof=1) / np.sqrt(len(rewards))
    # recording a video and plots does not change the episodes
    assert f"{EPISODES} episodes: mean reward {np.mean(rewards):.2f} +- {sem:.2f} (standard error)" in out


def gif_frames(path) -> tuple[list[np.ndarray], list[int]]:
    with Image.open(path) as gif:
        frames, durations = [], []
        for i in range(gif.n_frames):
            gif.seek(i)
            frames.append(np.asarray(gif.convert("RGB")))
            durations.append(gif.info["duration"])
    return frames, durations


def test_video_gif(replay_outputs, direct):
    paths, out = replay_outputs
    _, lengths = direct
    n_steps = sum(lengths)
    assert f"({n_steps} frames of 64x64 pixels)" in out
    frames, durations = gif_frames(paths["video"])
    assert all(frame.shape == (64, 64, 3) for frame in frames)
    # GIF stores a run of identical frames (the robot against a wall) as one frame shown that much longer:
    # the animation still has one frame time per step
    frame_ms = round(1000 / recorders.VIDEO_FPS)
    assert sum(durations) == n_steps * frame_ms
    assert 1 < len(frames) <= n_steps
    assert np.std(frames[0]) > 5  # a real image, not a blank one


def test_write_video_keeps_every_distinct_frame(tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (40, 48, 3), dtype=np.uint8) for _ in range(7)]
    recorders.write_video(frames, tmp_path / "x.gif")
    read, durations = gif_frames(tmp_path / "x.gif")
    assert len(read) == 7 and read[0].shape == (40, 48, 3)
    assert durations == [round(1000 / recorders.VIDEO_FPS)] * 7


def test_video_mp4(tmp_path):
    pytest.importorskip("imageio")
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    frames = [np.full((64, 64, 3), 20 * i, dtype=np.uint8) for i in range(10)]
    recorders.write_video(frames, tmp_path / "x.mp4")
    reader = imageio_ffmpeg.read_frames(str(tmp_path / "x.mp4"))
    meta = next(reader)
    assert meta["size"] == (64, 64)
    assert sum(1 for _ in reader) == 10


def assert_nontrivial_png(path, min_size=(400, 300)):
    assert path.exists()
    with Image.open(path) as image:
        assert image.size[0] >= min_size[0] and image.size[1] >= min_size[1]
        pixels = np.asarray(image.convert("RGB"))
    packed = pixels.astype(np.int32) @ np.array([1 << 16, 1 << 8, 1], dtype=np.int32)
    assert len(np.unique(packed)) > 20  # lines, markers, colour bar: not blank


def test_plot_pngs(replay_outputs):
    paths, out = replay_outputs
    assert f"action plot: {paths['actions']}" in out and f"state plot: {paths['states']}" in out
    assert_nontrivial_png(paths["actions"])
    assert_nontrivial_png(paths["states"])


def test_action_probabilities_are_not_softmaxed_twice(trained):
    replay = replay_lib.load_run(trained, seed=0)
    recorder = recorders.ActionRecorder(replay.model)
    replay_lib.evaluate(replay, 1, observers=[recorder])
    assert recorder.label == "action probability" and recorder.bounded
    probas = np.stack(recorder.values)
    assert probas.ndim == 2 and probas.shape[1] == 4  # Discrete(4)
    np.testing.assert_allclose(probas.sum(axis=1), 1.0, atol=1e-6)
    obs = replay.env.reset()
    obs_tensor, _ = replay.model.policy.obs_to_tensor(obs)
    with th.no_grad():
        expected = replay.model.policy.get_distribution(obs_tensor).distribution.probs.numpy()
    proba = replay.model.get_action_proba(obs)
    np.testing.assert_allclose(proba, expected, rtol=1e-6)
    softmaxed = np.exp(expected) / np.exp(expected).sum(axis=1, keepdims=True)
    assert not np.allclose(proba, softmaxed, rtol=0, atol=1e-7)
    replay.env.close()


def test_pca_projection_of_high_dimensional_states(tmp_path):
    rng = np.random.default_rng(0)
    line = np.linspace(0, 1, 50)[:, None] * rng.normal(size=(1, 100))  # points on a line in 100-D
    points = line + 1e-3 * rng.normal(size=line.shape)
    coords, target, ratio = recorders.pca_project(points, 3, extra=np.zeros((1, 100)))
    assert coords.shape == (50, 3) and target.shape == (1, 3)
    assert ratio[0] > 0.99 and abs(np.corrcoef(coords[:, 0], line @ line[-1])[0, 1]) > 0.999
    # fewer samples than components: the missing components are zero, no crash
    coords, _, ratio = recorders.pca_project(points[:2], 3)
    assert coords.shape == (2, 3) and np.all(coords[:, 2] == 0)  # 2 samples: 2 axes at most


def test_plot_states_pca_of_pixel_observations(tmp_path):
    """The observed state of a pixel agent is projected with PCA (the original crashed on this path)."""
    env = DummyVecEnv([lambda: gym.make("MobileRobot-v0", observation="pixels")])
    env.seed(0)
    recorder = recorders.StateRecorder(env, "observation")
    obs = env.reset()
    for step in range(20):
        recorder(obs, step, 0)
        obs, *_ = env.step(np.array([step % 4]))
    assert recorder.states[0].shape == (64 * 64 * 3,)
    recorder.plot(tmp_path / "pca.png")
    env.close()
    assert_nontrivial_png(tmp_path / "pca.png")


def test_gui_without_display_exits_2(trained, monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    assert enjoy.main([str(trained), "--episodes", "1", "--gui"]) == 2  # returns: no exception, no traceback
    captured = capsys.readouterr()
    assert "needs a display" in captured.err and "DISPLAY is not set" in captured.err
    assert "Traceback" not in captured.err + captured.out
