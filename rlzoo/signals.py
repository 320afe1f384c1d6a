"""Signals that stop a run (Ctrl-C, SIGTERM, a scheduler's preemption signal) and the saves they must not cut.

A run's files are written atomically one by one; :func:`deferred_signals` makes a group of writes (a model and its
normalisation statistics, the final save and ``metrics.json``) complete as a whole: a stop signal that arrives
inside the group is held until the group is written.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from typing import Iterator


def preemption_signal() -> signal.Signals:
    """The signal submitit asks SLURM to send before a time limit or preemption (``SUBMITIT_PREEMPT_SIGNAL``,
    default USR2)."""
    return getattr(signal, "SIG" + os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2"), signal.SIGUSR2)


def stop_signals() -> tuple[signal.Signals, ...]:
    """The signals that stop a run: SIGINT (Ctrl-C), SIGTERM and the preemption signal."""
    return tuple(dict.fromkeys((signal.SIGINT, signal.SIGTERM, preemption_signal())))


@contextmanager
def deferred_signals(deliver: bool = True) -> Iterator[list[int]]:
    """Hold the stop signals that arrive within the block; yields the list of those received.

    :param deliver: after the block, hand the first held signal to the handler that was installed before (which
        raises ``KeyboardInterrupt`` for Ctrl-C and, during training, for SIGTERM and preemption); with False the
        caller reads the list and decides.

    A no-op outside the main thread (signals are only delivered there).
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {sig: signal.signal(sig, lambda signum, frame: received.append(signum)) for sig in stop_signals()}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if deliver and received:
        first = signal.Signals(received[0])
        handler = previous[first]
        if callable(handler):
            handler(first, None)
        elif handler == signal.SIG_DFL:
            signal.raise_signal(first)


def ignore_stop_signals() -> None:
    """Ignore further stop signals: the run is saved and the process is exiting (more Ctrl-C presses would only
    print a traceback from the interpreter's shutdown)."""
    if threading.current_thread() is threading.main_thread():
        for sig in stop_signals():
            signal.signal(sig, signal.SIG_IGN)
