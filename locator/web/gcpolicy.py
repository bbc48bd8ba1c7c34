"""Keep Python's cycle collector from stopping a worker for a tenth of a second while it serves.

A full collection walks every object the collector tracks. With a city's stations loaded (20,000 bus stops:
the modules, the layers, the index and its per-station cards) that took 122 ms on the 2-core machine, during
which the worker answers nothing; the collector starts one by itself whenever enough new objects survive,
which is what a reload makes. So, whenever a snapshot is installed, everything alive is moved out of the
collector's sight (:func:`gc.freeze`): those objects live until the next snapshot anyway, and reference
counting, not the collector, frees a replaced snapshot (tests/web/test_gcpolicy.py checks that it does).

What refcounting can't free (the few objects a replaced snapshot leaves in reference cycles) stays frozen. It
is reclaimed by one full collection once the frozen population has grown by ``REGROW_SHARE`` since the last
one: a bounded amount of memory, for one pause per that many reloads instead of one every few.
"""

from __future__ import annotations

import gc
import logging
import threading
import time

log = logging.getLogger(__name__)

REGROW_SHARE = 0.5

_lock = threading.Lock()
_baseline = {"frozen": 0}


def settle(*, regrow_share: float = REGROW_SHARE) -> bool:
    """Freeze what is alive now (call after installing a snapshot); True when a full collection ran first."""
    with _lock:
        frozen = gc.get_freeze_count()
        collected = bool(_baseline["frozen"]) and frozen > _baseline["frozen"] * (1.0 + regrow_share)
        if collected:
            started = time.perf_counter()
            gc.unfreeze()
            found = gc.collect()
            log.info("full garbage collection: %d unreachable objects in %.0f ms", found,
                     (time.perf_counter() - started) * 1000)
        gc.freeze()
        if collected or not _baseline["frozen"]:
            _baseline["frozen"] = gc.get_freeze_count()
        return collected
