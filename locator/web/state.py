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
from locator.web import gcpolicy

log = logging.getLogger(__name__)


class DataState:
    """The snapshot this worker serves, and when to look for a newer one.

    Readers never wait for a reload: the request that finds the version moved starts loading the new
    snapshot in a background thread and every request goes on with the old one until it is swapped
    in. Only the very first load, ``reload()`` after this worker's own write, and every check when
    ``reload_seconds`` is 0 load in the caller.
    """

    def __init__(self, store: Store, *, reload_seconds: float = 2.0, freeze_garbage: bool = False) -> None:
        self.store = store
        self.reload_seconds = reload_seconds
        self.freeze_garbage = freeze_garbage  # see locator.web.gcpolicy (servers: on; tests: off)
        self._snapshot: Snapshot | None = None
        self._checked_at = 0.0
        self._check_lock = threading.Lock()  # one thread checks the version at a time
        self._load_lock = threading.Lock()  # one load at a time
        self._loader: threading.Thread | None = None
        self.stale = False
        self.last_error = ""

    def current(self) -> Snapshot:
        snapshot = self._snapshot
        if snapshot is None:
            return self._load_now()
        if time.monotonic() - self._checked_at >= self.reload_seconds and self._check_lock.acquire(blocking=False):
            try:
                self._check(snapshot)
            finally:
                self._check_lock.release()
            if self.reload_seconds <= 0:
                self.wait_idle()  # RELOAD_SECONDS=0: always fresh, loaded in the caller (tests, one-off tools)
        return self._snapshot or snapshot

    def reload(self) -> Snapshot:
        """Load now, in the caller (after a write by this process, so it reads its own write)."""
        return self._load_now()

    def wait_idle(self, timeout_s: float = 30.0) -> None:
        """Wait for a background load to finish (tests, shutdown)."""
        loader = self._loader
        if loader is not None:
            loader.join(timeout_s)

    def _check(self, snapshot: Snapshot) -> None:
        self._checked_at = time.monotonic()
        try:
            version = self.store.data_version()
        except Exception as error:  # noqa: BLE001 - any store failure: keep serving what we have
            self._mark_stale(error)
            return
        if self.stale:
            self.stale, self.last_error = False, ""
        if version != snapshot.version and (self._loader is None or not self._loader.is_alive()):
            self._loader = threading.Thread(target=self._load_quietly, name="locator-reload", daemon=True)
            self._loader.start()

    def _load_quietly(self) -> None:
        try:
            self._load_now()
        except StoreUnavailable:
            pass  # already marked stale; the next check tries again

    def _load_now(self) -> Snapshot:
        with self._load_lock:
            previous = self._snapshot
            try:
                snapshot = load_snapshot(self.store, previous=previous)
            except Exception as error:  # noqa: BLE001 - any store failure: keep serving what we have
                self._mark_stale(error)
                if previous is None:
                    raise StoreUnavailable(f"the data store can't be read: {error}") from error
                return previous
            if previous is None or snapshot.version != previous.version:
                log.info("loaded data version %s from %s", snapshot.version, self.store.location)
            installed = snapshot is not previous
            self._snapshot, self.stale, self.last_error = snapshot, False, ""
            self._checked_at = time.monotonic()
            if installed and self.freeze_garbage:
                previous = None  # the old snapshot goes now (refcount), before what's alive is frozen
                gcpolicy.settle()
            return snapshot

    def _mark_stale(self, error: Exception) -> None:
        if not self.stale and self._snapshot is not None:
            log.warning("store unreachable, serving data version %s: %s", self._snapshot.version, error)
        self.stale, self.last_error = True, str(error)


def load_snapshot(store: Store, *, warm: bool = True, previous: Snapshot | None = None) -> Snapshot:
    """Read the layers from the store, re-reading only those changed since ``previous``.

    Versions are read before the layers, so a write during loading is seen as a change at the next
    check rather than missed. Structures built from unchanged layers are carried over, not rebuilt.
    """
    version = store.data_version()
    versions = store.layer_versions()
    layers = {}
    for name in LAYERS:
        same = previous is not None and previous.layer_versions and previous.layer_versions.get(name) == versions[name]
        layers[name] = previous.layers[name] if same else store.read(name)  # type: ignore[union-attr]
    snapshot = Snapshot(version=version, layers=layers, layer_versions=versions)
    return snapshot.warm(previous=previous) if warm else snapshot
