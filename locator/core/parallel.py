"""Two cores for the compiled kernels: numba's parallel loops over TBB, and a helper thread for the rest.

The coverage pass (:mod:`locator.core.halves`) runs numba ``prange`` loops, whose threads hand work over in
microseconds. Of numba's thread pools only TBB's may be entered from two request threads at once and used
again in a forked child, and the service does both (workqueue is neither, GNU OpenMP is not fork-safe):
:data:`TBB` says whether it loaded. Without it numba's own workqueue runs the loops, one caller at a time
(:func:`one_at_a_time`).

:func:`both` runs two kernels that release the GIL (``nogil``) at once on plain threads, for the shorter
searches: one helper thread per process (made again in a forked child, whose copy has no thread behind
it); calls from several request threads queue for it, each still running its own half at once. A hand-over
to it costs tens of microseconds on a virtual machine, so the coverage pass does not use it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import numba

A = TypeVar("A")
B = TypeVar("B")



def _load_tbb() -> bool:
    """Whether numba's TBB layer can load. pip's ``tbb`` wheel puts libtbb.so.12 in the environment's lib/,
    where the loader does not look: it is loaded by path first."""
    try:
        from numba.np.ufunc import tbbpool  # noqa: F401
    except ImportError:
        try:
            ctypes.CDLL(str(Path(sys.prefix) / "lib" / "libtbb.so.12"), mode=ctypes.RTLD_GLOBAL)
            from numba.np.ufunc import tbbpool  # noqa: F401
        except (OSError, ImportError):
            return False
    return True


TBB = _load_tbb()
if "NUMBA_THREADING_LAYER" not in os.environ:  # (set before the first parallel kernel runs; else as asked)
    numba.config.THREADING_LAYER = "tbb" if TBB else "workqueue"
_SHARED = TBB and numba.config.THREADING_LAYER in ("tbb", "safe")  # (may be entered by two threads at once)
_launch = threading.Lock()


@contextlib.contextmanager
def one_at_a_time() -> Iterator[None]:
    """Around a call of a parallel kernel: nothing with TBB; else one caller at a time (workqueue can't
    take two)."""
    if _SHARED:
        yield
        return
    with _launch:
        yield


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
