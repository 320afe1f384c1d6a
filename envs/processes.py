"""Starting worker processes from any process, a joblib worker included.

joblib's default backend (loky, used by Hydra's joblib launcher) makes ``loky`` the start method of its worker
processes. A child started with ``forkserver`` or ``spawn`` receives its parent's start method by name and sets it
(``multiprocessing.spawn.prepare``), but ``loky`` is a name only processes that imported loky know: the child dies
before it runs anything ("cannot find context for 'loky'") and the pool that started it is broken. Every place that
starts worker processes (the subprocess vector env, dataset recording) does it inside :func:`standard_start_method`.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Iterator

#: the start methods every Python process knows (multiprocessing's own)
STANDARD_START_METHODS = ("fork", "spawn", "forkserver")


@contextlib.contextmanager
def standard_start_method(method: str = "forkserver") -> Iterator[None]:
    """While active, this process's default start method is a standard one, so that the children started meanwhile
    can set it; unchanged where it already is one (or unset), restored on exit.

    :param method: the start method to use where the default one is not standard (a loky worker's).
    :raises ValueError: ``method`` is not one of :data:`STANDARD_START_METHODS`.
    """
    if method not in STANDARD_START_METHODS:
        raise ValueError(f"method={method!r} is not a standard start method; choose one of {STANDARD_START_METHODS}.")
    current = multiprocessing.get_start_method(allow_none=True)
    if current is None or current in STANDARD_START_METHODS:
        yield
        return
    multiprocessing.set_start_method(method, force=True)
    try:
        yield
    finally:
        multiprocessing.set_start_method(current, force=True)
