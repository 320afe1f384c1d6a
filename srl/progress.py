"""Progress of long SRL jobs (dataset recording, training): a tqdm bar on a terminal, periodic log lines otherwise.

A bar redraws itself with carriage returns many times a second, which fills a log file (a run's ``main.log``, a
SLURM job's output) with thousands of partial lines. When stderr is not a terminal, :func:`progress` returns a
:class:`LogProgress` instead: one ``INFO`` line every ``interval`` seconds and one at the end.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

log = logging.getLogger(__name__)

#: seconds between two progress lines when the output is not a terminal
LOG_INTERVAL = 30.0


class LogProgress:
    """The subset of tqdm's interface the SRL jobs use, reported as log lines.

    :param total: units to do. :param desc: what is being done. :param unit: the unit's name.
    :param interval: seconds between two lines. :param logger: where the lines go.
    """

    def __init__(self, total: int, desc: str, unit: str, interval: float = LOG_INTERVAL,
                 logger: logging.Logger = log) -> None:
        self.total, self.desc, self.unit, self.interval, self.logger = total, desc, unit, interval, logger
        self.n = 0
        self.postfix = ""
        self.start = self._last = time.perf_counter()

    def update(self, n: int = 1) -> None:
        """Count ``n`` more units; logs a line when ``interval`` seconds passed since the last one."""
        self.n += n
        now = time.perf_counter()
        if now - self._last >= self.interval:
            self._last = now
            self._log()

    def set_postfix(self, **values: Any) -> None:
        """Values shown after the count (e.g. the epoch and losses)."""
        self.postfix = ", ".join(f"{key}={value}" for key, value in values.items())

    def close(self) -> None:
        """Log the final line."""
        self._log()

    def _log(self) -> None:
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        rate = self.n / elapsed
        eta = (self.total - self.n) / rate if rate > 0 and self.total > self.n else 0.0
        percent = 100.0 * self.n / self.total if self.total else 100.0
        self.logger.info("%s: %d/%d (%.0f %%), %.1f %s/s, %.0f s elapsed, %.0f s left%s", self.desc, self.n,
                         self.total, percent, rate, self.unit, elapsed, eta, f" | {self.postfix}" if self.postfix else "")


def progress(total: int, desc: str, unit: str, enabled: bool = True) -> Any:
    """A progress reporter with tqdm's ``update`` / ``set_postfix`` / ``close``: a bar on a terminal, a
    :class:`LogProgress` when stderr is redirected, and a silent bar when ``enabled`` is False."""
    from tqdm import tqdm

    if enabled and not sys.stderr.isatty():
        return LogProgress(total, desc, unit)
    return tqdm(total=total, unit=unit, desc=desc, disable=not enabled, file=sys.stderr)
