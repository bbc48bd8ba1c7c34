"""Saved siting scenarios (decision records): parameters, data version and results of a chosen plan.

A small interface (:class:`ScenarioStore`) so the PostGIS store can keep them in a table later; for now
:class:`JsonScenarioStore` keeps them as one JSON file beside the GeoPackage (``locator.gpkg`` ->
``locator.scenarios.json``). It is a separate file, not a GeoPackage table, because every GeoPackage write
swaps in a whole new file: a record written into the old one while a layer write runs would be lost.
Writes replace the JSON file atomically under an exclusive lock, so concurrent workers never interleave.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from locator.errors import NotFound


class ScenarioStore(Protocol):
    def save(self, record: dict[str, Any]) -> dict[str, Any]:
        """Store a record; returns it with ``id`` and ``created_at`` filled in."""

    def list(self) -> list[dict[str, Any]]:
        """Every record, oldest first, without the bulky ``result``."""

    def get(self, scenario_id: str) -> dict[str, Any]:
        """One record in full; ``NotFound`` if there is none with that id."""


class JsonScenarioStore:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @classmethod
    def beside(cls, location: str) -> JsonScenarioStore:
        """The scenario file that goes with a GeoPackage store at ``location``."""
        base = Path(location)
        return cls(base.with_name(base.stem + ".scenarios.json"))

    def _read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return json.loads(self.path.read_text(encoding="utf-8"))

    def save(self, record: dict[str, Any]) -> dict[str, Any]:
        stored = {"id": uuid.uuid4().hex[:12], "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                  **record}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock():
            records = self._read()
            records.append(stored)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(records, handle, ensure_ascii=False, indent=1)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, self.path)
            finally:
                Path(tmp).unlink(missing_ok=True)
        return stored

    def list(self) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "result"} for r in self._read()]

    def get(self, scenario_id: str) -> dict[str, Any]:
        for record in self._read():
            if record.get("id") == scenario_id:
                return record
        raise NotFound(f"no scenario {scenario_id!r}", param="id")

    @contextmanager
    def _lock(self) -> Iterator[None]:
        with open(self.path.with_name(self.path.name + ".lock"), "a+") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def scenario_store_for(location: str) -> ScenarioStore:
    """The scenario store that goes with a data store location (a JSON file beside a GeoPackage)."""
    if location.startswith(("postgresql://", "postgres://")):
        # not yet a table in PostGIS: keep them in the working directory, named after nothing secret
        return JsonScenarioStore(Path("locator.scenarios.json"))
    return JsonScenarioStore.beside(location)
