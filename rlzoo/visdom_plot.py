"""Live learning curves in visdom, fed incrementally from the episodes that finish during training.

:class:`VisdomPlotter` is a Stable-Baselines3 callback. It shows the original toolbox's three windows, titled with
the env and the SRL model:

1. ``<env>/<srl_model>/raw``: reward of every episode against the timesteps before it;
2. ``<env>/<srl_model>/smoothed``: the same points averaged over the last ``smooth_window`` episodes;
3. ``<env>/<srl_model>/episodes``: the moving average over ``episode_window`` episodes against the episode number
   (a point once ``episode_window`` episodes have finished, like the original's "valid" convolution).

Each run draws one trace named ``run_label`` in each window, so the runs of a sweep appear side by side. The x value
of an episode is the number of steps of the episodes of this run that finished before it, the definition used by
:mod:`rlzoo.monitor` and :mod:`rlzoo.plots` for the monitor files.

Unlike the original (which re-read every monitor file at each update), the callback takes the finished episodes from
``self.locals["infos"]`` (the ``info["episode"]`` that SB3's ``Monitor`` adds) and only sends the new points, with
``update="append"``, every ``log_interval_steps`` timesteps and at the end of training. Visdom is optional: if no
server answers at the start, or the server stops answering during the run, the callback logs one warning, stops
plotting and training goes on.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

if TYPE_CHECKING:
    from rlzoo.monitor import Episodes

logger = logging.getLogger(__name__)

#: visdom's default port.
DEFAULT_PORT = 8097


def visdom_available(host: str = "127.0.0.1", port: int = DEFAULT_PORT, timeout_s: float = 0.5) -> bool:
    """Whether a visdom server answers at ``http://host:port`` within ``timeout_s`` seconds.

    It asks the server whether a window exists, which changes nothing on the server.

    :param host: server host name or address.
    :param port: server port.
    :param timeout_s: connect and read timeout in s.
    :return: True if the server answered like a visdom server.
    """
    import requests

    try:
        response = requests.post(
            f"http://{host}:{port}/win_exists",
            data=json.dumps({"win": "__rlzoo_probe__", "eid": "main"}),
            timeout=timeout_s,
        )
    except requests.RequestException:
        return False
    return response.status_code == 200 and response.text in ("true", "false")


def _make_client(host: str, port: int, env: str, timeout_s: float) -> Any:
    """A visdom client whose requests time out after ``timeout_s`` s and raise ``ConnectionError`` on failure.

    The stock client posts without a timeout (a hung server would block training), prints tracebacks instead of
    raising, and ``win_exists`` swallows connection errors; the subclass changes those three things.
    """
    import requests
    import visdom

    class _TimeoutVisdom(visdom.Visdom):
        """``visdom.Visdom`` with a request timeout and errors raised, not printed."""

        def __init__(self, timeout_s: float, **kwargs: Any) -> None:
            self._timeout_s = timeout_s
            self._http = requests.Session()
            super().__init__(**kwargs)

        def _handle_post(self, url: str, data: Any = None) -> str:
            response = self._http.post(url, data={} if data is None else data, timeout=self._timeout_s)
            response.raise_for_status()
            return response.text

        def win_exists(self, win: str, env: str | None = None) -> bool:
            return self._send({"win": win, "eid": env}, endpoint="win_exists", quiet=True) == "true"

    # The client warns (on the "visdom" logger) that without the incoming socket it cannot receive events: we
    # only send, so silence that one message.
    visdom_logger = logging.getLogger("visdom")
    previous_level = visdom_logger.level
    visdom_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # visdom 0.2.4 calls the deprecated logger.warn
            return _TimeoutVisdom(
                timeout_s=timeout_s,
                server=f"http://{host}",
                port=port,
                env=env,
                raise_exceptions=True,
                use_incoming_socket=False,
            )
    finally:
        visdom_logger.setLevel(previous_level)


class VisdomPlotter(BaseCallback):
    """Send a run's learning curves to a visdom server while it trains.

    :param env_name: env name shown in the window titles and ids (e.g. ``MobileRobot``).
    :param srl_model: SRL model name shown in the window titles and ids (e.g. ``ground_truth``).
    :param run_label: name of this run's trace in every window (e.g. ``ppo2 seed=0``); runs with the same env and
        SRL model share windows, one trace each.
    :param host: visdom server host.
    :param port: visdom server port.
    :param episode_window: moving-average window of the episode plot, in episodes.
    :param log_interval_steps: send the new points every this many timesteps (summed over all envs).
    :param smooth_window: episodes averaged for each point of the smoothed timesteps plot.
    :param visdom_env: the visdom environment (tab) the windows are in.
    :param timeout_s: timeout of each request to the server, in s.
    :param previous_episodes: for a resumed run, the episodes it finished before (``rlzoo.monitor.load_episodes`` of
        its folder): they are not sent again, but x values and averages continue from them.
    :param verbose: SB3 callback verbosity.
    """

    def __init__(
        self,
        env_name: str,
        srl_model: str,
        run_label: str,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        episode_window: int = 40,
        log_interval_steps: int = 2048,
        smooth_window: int = 100,
        visdom_env: str = "main",
        timeout_s: float = 2.0,
        previous_episodes: Episodes | None = None,
        verbose: int = 0,
    ) -> None:
        super().__init__(verbose=verbose)
        if episode_window < 1 or smooth_window < 1:
            raise ValueError(f"episode_window={episode_window} and smooth_window={smooth_window} must be at least 1")
        if log_interval_steps < 1:
            raise ValueError(f"log_interval_steps={log_interval_steps} must be at least 1")
        self.env_name = env_name
        self.srl_model = srl_model
        self.run_label = run_label
        self.host = host
        self.port = port
        self.episode_window = episode_window
        self.log_interval_steps = log_interval_steps
        self.smooth_window = smooth_window
        self.visdom_env = visdom_env
        self.timeout_s = timeout_s

        self.enabled = True  #: False once the server was found missing; nothing is sent after that
        self.n_episodes = 0  #: episodes finished so far in this run
        self.episode_timesteps = 0  #: steps of the finished episodes (x of the next episode)
        self._client: Any = None
        self._last_send_step = 0
        self._smooth_rewards: deque[float] = deque(maxlen=smooth_window)
        self._episode_rewards: deque[float] = deque(maxlen=episode_window)
        # Points not sent yet, per window kind: ([x...], [y...]).
        self._pending: dict[str, tuple[list[float], list[float]]] = {kind: ([], []) for kind in self.windows}
        if previous_episodes is not None and len(previous_episodes) > 0:
            self.n_episodes = len(previous_episodes)
            self.episode_timesteps = previous_episodes.total_timesteps
            self._smooth_rewards.extend(float(r) for r in previous_episodes.rewards[-smooth_window:])
            self._episode_rewards.extend(float(r) for r in previous_episodes.rewards[-episode_window:])

    @property
    def windows(self) -> dict[str, str]:
        """Window id per kind (``raw``, ``smoothed``, ``episodes``)."""
        prefix = f"{self.env_name}/{self.srl_model}"
        return {kind: f"{prefix}/{kind}" for kind in ("raw", "smoothed", "episodes")}

    def window_opts(self, kind: str) -> dict[str, Any]:
        """visdom ``opts`` (title, axis labels) of a window, used when the window is created."""
        title = f"{self.env_name} / {self.srl_model}"
        title += {"raw": "", "smoothed": " smoothed", "episodes": " [Episodes]"}[kind]
        xlabel = "Number of Episodes" if kind == "episodes" else "Number of Timesteps"
        return {"title": title, "xlabel": xlabel, "ylabel": "Rewards", "showlegend": True}

    def _disable(self, message: str, *args: Any) -> None:
        """Stop plotting for the rest of the run and say so once."""
        if self.enabled:
            logger.warning(message + "; training goes on without live plots", *args)
        self.enabled = False
        self._client = None
        for xs, ys in self._pending.values():
            xs.clear()
            ys.clear()

    def _on_training_start(self) -> None:
        self._last_send_step = self.num_timesteps  # a resumed model starts past 0
        if not self.enabled or self._client is not None:
            return
        url = f"http://{self.host}:{self.port}"
        if not visdom_available(self.host, self.port, timeout_s=min(self.timeout_s, 1.0)):
            self._disable("visdom: no server answers at %s (start one with `python -m rlzoo.visdom_server`)", url)
            return
        try:
            self._client = _make_client(self.host, self.port, self.visdom_env, self.timeout_s)
        except Exception as exc:  # noqa: BLE001 (any failure of the optional live view must not stop training)
            self._disable("visdom: cannot connect to %s (%s)", url, exc)

    def add_episode(self, reward: float, length: int) -> None:
        """Record one finished episode: it adds a point to each window's pending points.

        :param reward: the episode's return.
        :param length: the episode's length in steps.
        """
        x = float(self.episode_timesteps)
        self.n_episodes += 1
        self.episode_timesteps += int(length)
        self._smooth_rewards.append(float(reward))
        self._episode_rewards.append(float(reward))
        self._pending["raw"][0].append(x)
        self._pending["raw"][1].append(float(reward))
        self._pending["smoothed"][0].append(x)
        self._pending["smoothed"][1].append(float(np.mean(self._smooth_rewards)))
        if self.n_episodes >= self.episode_window:
            self._pending["episodes"][0].append(float(self.n_episodes))
            self._pending["episodes"][1].append(float(np.mean(self._episode_rewards)))

    def _on_step(self) -> bool:
        if not self.enabled:
            return True
        for info in self.locals.get("infos", ()):
            episode = info.get("episode") if isinstance(info, dict) else None
            if episode is not None:
                self.add_episode(episode["r"], episode["l"])
        if self.num_timesteps - self._last_send_step >= self.log_interval_steps:
            self._last_send_step = self.num_timesteps
            self.send()
        return True

    def _on_training_end(self) -> None:
        self.send()

    def send(self) -> None:
        """Append the pending points to the windows (nothing if plotting is disabled or no point is pending)."""
        if not self.enabled or self._client is None:
            return
        for kind, win in self.windows.items():
            xs, ys = self._pending[kind]
            if not xs:
                continue
            try:
                self._client.line(
                    X=np.asarray(xs, dtype=np.float64),
                    Y=np.asarray(ys, dtype=np.float64),
                    win=win,
                    env=self.visdom_env,
                    update="append",
                    name=self.run_label,
                    opts=self.window_opts(kind),
                )
            except Exception as exc:  # noqa: BLE001 (any failure of the optional live view must not stop training)
                self._disable("visdom: lost the server at http://%s:%s (%s)", self.host, self.port, exc)
                return
            xs.clear()
            ys.clear()
