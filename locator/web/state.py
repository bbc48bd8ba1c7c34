"""The current Snapshot of one worker process, reloaded when the store's data version moves.

Every worker checks the store's version at most every RELOAD_SECONDS; a newer version loads a new
snapshot (indexes included) and swaps the reference. When the store can't be reached, requests go
on being answered from the last loaded snapshot, marked stale.
"""

from __future__ import annotations

import logging
import threading
import time

from locator.core.snapshot import Snapshot
from locator.errors import StoreUnavailable
from locator.model import LAYERS
from locator.store.base import Store

log = logging.getLogger(__name__)


class DataState:
    def __init__(self, store: Store, *, reload_seconds: float = 2.0) -> None:
        self.store = store
        self.reload_seconds = reload_seconds
        self._snapshot: Snapshot | None = None
        self._checked_at = 0.0
        self._reload_lock = threading.Lock()
        self.stale = False
        self.last_error = ""

    def current(self) -> Snapshot:
        snapshot = self._snapshot
        if snapshot is None or time.monotonic() - self._checked_at >= self.reload_seconds:
            snapshot = self._refresh()
        return snapshot

    def reload(self) -> Snapshot:
        """Load now, whatever the clock says (after a write by this process)."""
        self._checked_at = 0.0
        return self.current()

    def _refresh(self) -> Snapshot:
        with self._reload_lock:
            if self._snapshot is not None and time.monotonic() - self._checked_at < self.reload_seconds:
                return self._snapshot
            try:
                version = self.store.data_version()
                if self._snapshot is None or version != self._snapshot.version:
                    self._snapshot = load_snapshot(self.store)
                    log.info("loaded data version %s from %s", self._snapshot.version, self.store.location)
                self.stale, self.last_error = False, ""
            except Exception as error:  # noqa: BLE001 - any store failure: keep serving what we have
                if self._snapshot is None:
                    raise StoreUnavailable(f"the data store can't be read: {error}") from error
                if not self.stale:
                    log.warning("store unreachable, serving data version %s: %s", self._snapshot.version, error)
                self.stale, self.last_error = True, str(error)
            self._checked_at = time.monotonic()
            return self._snapshot


def load_snapshot(store: Store, *, warm: bool = True) -> Snapshot:
    """Read every layer from the store; the version is read first so a write during loading is seen
    as a change at the next check rather than missed."""
    version = store.data_version()
    layers = {name: store.read(name) for name in LAYERS}
    snapshot = Snapshot(version=version, layers=layers)
    return snapshot.warm() if warm else snapshot
