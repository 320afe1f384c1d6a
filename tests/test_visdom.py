"""Visdom live plots against a real server (``python -m rlzoo.visdom_server`` on a free loopback port).

* a short PPO training on CartPole sends its curves; the window data read back through the visdom client match the
  episodes of the monitor files, and two runs share the windows with one trace each;
* training survives a server killed mid-run, with exactly one warning, and a server missing from the start;
* headless Chromium opens the page (web assets installed from the npm registry) and the plots are in the DOM.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.env_util import make_vec_env

visdom = pytest.importorskip("visdom")

from rlzoo import visdom_assets
from rlzoo.monitor import Episodes, load_episodes
from rlzoo.plots import moving_average
from rlzoo.visdom_plot import VisdomPlotter, visdom_available

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = "127.0.0.1"
LOGGER = "rlzoo.visdom_plot"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def start_server(env_path: str, log_path: str) -> tuple[subprocess.Popen, int]:
    """Start ``python -m rlzoo.visdom_server`` on a free port and wait until it answers."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rlzoo.visdom_server",
                "--port",
                str(port),
                "--hostname",
                HOST,
                "--env-path",
                env_path,
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while not visdom_available(HOST, port, timeout_s=0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            with open(log_path) as log:
                pytest.fail(f"visdom server did not start:\n{log.read()}")
        time.sleep(0.1)
    return process, port


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[int]:
    """Port of a visdom server shared by the tests of this module."""
    folder = tmp_path_factory.mktemp("visdom")
    process, port = start_server(str(folder / "envs"), str(folder / "server.log"))
    yield port
    stop_server(process)


def train(callback: BaseCallback, timesteps: int, monitor_dir: str, seed: int = 0) -> PPO:
    """A short real PPO training on CartPole-v1 (2 envs with Monitor) driving ``callback``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    venv = make_vec_env("CartPole-v1", n_envs=2, seed=seed, monitor_dir=monitor_dir)
    try:
        model = PPO(
            "MlpPolicy",
            venv,
            n_steps=128,
            batch_size=128,
            n_epochs=1,
            policy_kwargs={"net_arch": [16]},
            seed=seed,
            device="cpu",
        )
        return model.learn(timesteps, callback=callback)
    finally:
        venv.close()
        torch.set_num_threads(threads)


def client(port: int) -> visdom.Visdom:
    """A plain visdom client, as a user would make one to read the plots back."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # visdom 0.2.4 calls the deprecated logger.warn
        return visdom.Visdom(server=f"http://{HOST}", port=port, use_incoming_socket=False, raise_exceptions=True)


def traces(port: int, win: str, visdom_env: str) -> dict[str, dict]:
    """The traces of a window by name, and the window's title."""
    data = json.loads(client(port).get_window_data(win=win, env=visdom_env))
    return {trace["name"]: trace for trace in data["content"]["data"]}, data["content"]["layout"]["title"]


def warnings_of(caplog) -> list[str]:
    return [
        record.getMessage() for record in caplog.records if record.name == LOGGER and record.levelno == logging.WARNING
    ]


def test_live_plot_matches_the_monitor_files(server, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    runs = {}
    for label, timesteps, seed in [("ppo seed=0", 2048, 0), ("ppo seed=1", 1024, 1)]:
        run_dir = str(tmp_path / label.replace(" ", "_"))
        plotter = VisdomPlotter(
            "CartPole",
            "ground_truth",
            label,
            host=HOST,
            port=server,
            episode_window=10,
            log_interval_steps=256,
            visdom_env="live_test",
        )
        train(plotter, timesteps, run_dir, seed)
        episodes = load_episodes(run_dir)
        assert plotter.enabled and plotter.n_episodes == len(episodes) > 10
        runs[label] = episodes
    assert warnings_of(caplog) == []

    raw, raw_title = traces(server, "CartPole/ground_truth/raw", "live_test")
    smoothed, _ = traces(server, "CartPole/ground_truth/smoothed", "live_test")
    by_episode, episode_title = traces(server, "CartPole/ground_truth/episodes", "live_test")
    assert (raw_title, episode_title) == ("CartPole / ground_truth", "CartPole / ground_truth [Episodes]")
    for name in (raw, smoothed, by_episode):
        assert set(name) == set(runs), "each run has its own trace in the shared windows"
    for label, episodes in runs.items():
        rewards = episodes.rewards
        # raw: every episode at the timesteps before it, as the monitor files give them
        np.testing.assert_array_equal(raw[label]["x"], episodes.timesteps)
        np.testing.assert_array_equal(raw[label]["y"], rewards)
        # smoothed: mean of the last 100 episodes (all of them while fewer have finished)
        expected = [np.mean(rewards[max(0, i - 99) : i + 1]) for i in range(len(rewards))]
        np.testing.assert_array_equal(smoothed[label]["x"], episodes.timesteps)
        np.testing.assert_allclose(smoothed[label]["y"], expected)
        # episodes: moving average over 10 episodes, from the 10th episode on
        np.testing.assert_array_equal(by_episode[label]["x"], np.arange(10, len(rewards) + 1))
        np.testing.assert_allclose(by_episode[label]["y"], moving_average(rewards, 10))


def test_a_resumed_run_continues_its_curves_without_resending():
    before = Episodes(
        rewards=np.array([1.0, 2.0, 3.0]),
        lengths=np.array([10, 10, 10]),
        wall_times=np.zeros(3),
        timesteps=np.array([0, 10, 20]),
    )
    plotter = VisdomPlotter("E", "S", "run", episode_window=2, smooth_window=3, previous_episodes=before)
    plotter.add_episode(7.0, 10)
    assert plotter._pending["raw"] == ([30.0], [7.0])
    assert plotter._pending["smoothed"] == ([30.0], [4.0])  # mean of 2, 3, 7
    assert plotter._pending["episodes"] == ([4.0], [5.0])  # 4th episode, mean of 3 and 7


class KillServerAt(BaseCallback):
    """Kill the server process once ``timesteps`` steps are done, after checking the plot had reached it."""

    def __init__(self, process: subprocess.Popen, port: int, timesteps: int) -> None:
        super().__init__()
        self.process, self.port, self.timesteps = process, port, timesteps
        self.window_existed = None

    def _on_step(self) -> bool:
        if self.num_timesteps >= self.timesteps and self.process.poll() is None:
            self.window_existed = client(self.port).win_exists("CartPole/ground_truth/raw", env="dead_test")
            self.process.kill()
            self.process.wait(timeout=10)
        return True


def test_training_survives_a_server_that_dies(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    process, port = start_server(str(tmp_path / "envs"), str(tmp_path / "server.log"))
    try:
        plotter = VisdomPlotter(
            "CartPole", "ground_truth", "doomed", host=HOST, port=port, log_interval_steps=128, visdom_env="dead_test"
        )
        killer = KillServerAt(process, port, timesteps=512)
        model = train(CallbackList([plotter, killer]), 1536, str(tmp_path / "run"))
    finally:
        stop_server(process)
    assert killer.window_existed is True
    assert model.num_timesteps >= 1536
    assert not plotter.enabled
    messages = warnings_of(caplog)
    assert len(messages) == 1 and "lost the server" in messages[0], messages


def test_training_goes_on_without_a_server(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    port = free_port()
    started = time.monotonic()
    assert not visdom_available(HOST, port)
    assert time.monotonic() - started < 1.0
    plotter = VisdomPlotter("CartPole", "ground_truth", "alone", host=HOST, port=port, log_interval_steps=64)
    model = train(plotter, 512, str(tmp_path / "run"))
    assert model.num_timesteps >= 512 and not plotter.enabled
    messages = warnings_of(caplog)
    assert len(messages) == 1 and "no server answers" in messages[0], messages


def plotly_figures(dom: str) -> list[str]:
    """The plotly figure elements (``<div class="... js-plotly-plot">``) of a page."""
    return re.findall(r'<div [^>]*class="[^"]*\bjs-plotly-plot\b', dom)


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (Debian: apt-get install chromium)")
def test_browser_shows_the_plots(server, tmp_path):
    if visdom_assets.missing_assets():
        if not visdom_assets.npm_available():
            pytest.skip("visdom's web assets are missing and npm is not installed to fetch them from the npm registry")
        try:
            visdom_assets.install_assets()
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            pytest.skip(f"could not fetch visdom's web assets from the npm registry: {exc}")
    assert visdom_assets.missing_assets() == []
    plotter = VisdomPlotter(
        "MobileRobot",
        "ground_truth",
        "browser run",
        host=HOST,
        port=server,
        episode_window=5,
        visdom_env="browser_test",
    )
    train(plotter, 1024, str(tmp_path / "run"))
    n_points = plotter.n_episodes
    assert n_points > 10

    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1400,900", "--virtual-time-budget=10000",
        "--dump-dom", f"http://{HOST}:{server}/env/browser_test",
    ]  # fmt: skip
    dom = ""
    for _attempt in range(2):  # the page fills in over a websocket; give a slow machine a second chance
        dom = subprocess.run(command, check=False, capture_output=True, text=True, timeout=90).stdout
        if len(plotly_figures(dom)) >= 3:
            break
    (tmp_path / "page.html").write_text(dom)
    assert len(plotly_figures(dom)) == 3, "three plotly figures on the page"
    titles = re.findall(r'class="gtitle"[^>]*>(.*?)</text>', dom)
    assert any("MobileRobot / ground_truth" in title for title in titles), titles
    assert "browser run" in re.findall(r'class="legendtext"[^>]*>(.*?)</text>', dom)
    # Each line is an SVG path "M x,y L x,y ...": one vertex per point, less those plotly drops as nearly collinear
    # (many on the smooth curves). The three curves (raw, smoothed, episodes) have at most one point per episode, the
    # noisy raw curve keeps most of them; the legend samples are single segments.
    vertices = sorted(d.count("L") + 1 for d in re.findall(r'class="js-line"[^>]*\sd="(M[^"]*)"', dom))
    curves = [count for count in vertices if count > 1]
    assert len(curves) == 3 and all(3 < count <= n_points for count in curves), (n_points, vertices)
    assert curves[-1] >= 0.75 * n_points, (n_points, vertices)
