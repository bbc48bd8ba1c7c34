"""Two compiled kernels at once: they release the GIL (``nogil``), so one helper thread gives a second core.

Plain threads, not numba's ``parallel=True``: its thread pools are either unsafe to enter from two request
threads at once (workqueue) or after a fork (GNU OpenMP), and the service does both. One helper thread per
process (made again in a forked child, whose copy has no thread behind it); calls from several request
threads queue for it, each still running its own half at once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

A = TypeVar("A")
B = TypeVar("B")

_lock = threading.Lock()
_helper: tuple[int, ThreadPoolExecutor] | None = None


def cores() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _pool() -> ThreadPoolExecutor | None:
    global _helper  # noqa: PLW0603 - one per process
    if cores() < 2:
        return None
    with _lock:
        if _helper is None or _helper[0] != os.getpid():
            _helper = (os.getpid(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="locator-kernel"))
        return _helper[1]


def both(first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B]:
    """``first()`` here and ``second()`` on the helper thread, at the same time where there are two cores."""
    pool = _pool()
    if pool is None:
        return first(), second()
    later = pool.submit(second)
    try:
        done = first()
    finally:
        other = later.result()
    return done, other
