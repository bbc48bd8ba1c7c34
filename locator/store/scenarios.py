"""Saved siting scenarios (decision records): parameters, data version and results of a chosen plan.

A small interface (:class:`ScenarioStore`) with two implementations, chosen by the data store's location:

- :class:`JsonScenarioStore` keeps them as one JSON file beside the GeoPackage (``locator.gpkg`` ->
  ``locator.scenarios.json``). It is a separate file, not a GeoPackage table, because every GeoPackage write
  swaps in a whole new file: a record written into the old one while a layer write runs would be lost.
  Writes replace the JSON file atomically under an exclusive lock, so concurrent workers never interleave.
- :class:`PostgresScenarioStore` keeps them in the PostGIS store's database, table ``scenarios`` (migration 3
  of :mod:`locator.store.migrations`): every worker on every host sees the same records.

A record is ``{id, created_at, name, created_by, data_version, crs, parameters, result, marked_planned,
planned_data_version}``; ``list()`` leaves out the bulky ``result``.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from locator.errors import NotFound, StoreUnavailable
from locator.store.filelock import file_lock

# Columns of the scenarios table, in the order the record's keys are read back.
_COLUMNS = ("id", "created_at", "name", "created_by", "data_version", "crs", "params", "marked_planned",
            "planned_data_version")


class ScenarioStore(Protocol):
    def save(self, record: dict[str, Any]) -> dict[str, Any]:
        """Store a record; returns it with ``id`` and ``created_at`` filled in."""

    def list(self) -> list[dict[str, Any]]:
        """Every record, oldest first, without the bulky ``result``."""

    def get(self, scenario_id: str) -> dict[str, Any]:
        """One record in full; ``NotFound`` if there is none with that id."""


def new_id() -> str:
    return uuid.uuid4().hex[:12]


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as None: JSON (and PostgreSQL's jsonb) has no NaN or Infinity."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def _not_found(scenario_id: str) -> NotFound:
    return NotFound(f"no scenario {scenario_id[:100]!r}", param="id")


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
        stored = json_safe({"id": new_id(), "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                            **record})
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
        raise _not_found(scenario_id)

    def _lock(self) -> AbstractContextManager[None]:
        return file_lock(self.path.with_name(self.path.name + ".lock"))


class PostgresScenarioStore:
    """Scenarios in the ``scenarios`` table of the PostGIS store's database.

    Like the store, each call opens a short connection; a database without the table is upgraded first
    (the same advisory-locked migrations the store applies), and an unreachable one is ``StoreUnavailable``.
    """

    def __init__(self, conninfo: str) -> None:
        from locator.store.postgis import redact

        self._conninfo = conninfo
        self.location = redact(conninfo)
        self._schema_checked = False

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        import psycopg

        from locator.store import migrations

        try:
            conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5,
                                   application_name="locator-scenarios")
        except psycopg.OperationalError as error:
            raise StoreUnavailable(f"PostgreSQL at {self.location} can't be reached (scenarios): "
                                   f"{_first_line(error)}") from error
        try:
            if not self._schema_checked:
                migrations.upgrade(conn, where=self.location)
                self._schema_checked = True
            yield conn
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            raise StoreUnavailable(f"PostgreSQL at {self.location} failed (scenarios): "
                                   f"{_first_line(error)}") from error
        finally:
            conn.close()

    def save(self, record: dict[str, Any]) -> dict[str, Any]:
        from psycopg.types.json import Jsonb

        record = json_safe(record)
        scenario_id = new_id()
        with self._connect() as conn:
            row = conn.execute(
                "INSERT INTO scenarios (id, name, created_by, data_version, crs, params, result, marked_planned, "
                "planned_data_version) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING created_at",
                (scenario_id, str(record.get("name", "")), str(record.get("created_by", "")),
                 int(record["data_version"]), str(record.get("crs", "wgs84")), Jsonb(record.get("parameters", {})),
                 Jsonb(record.get("result", {})), Jsonb(list(record.get("marked_planned", []))),
                 record.get("planned_data_version"))).fetchone()
        return {"id": scenario_id, "created_at": _iso(row[0]), **{k: v for k, v in record.items() if k != "id"}}

    def list(self) -> list[dict[str, Any]]:
        with self._connect() as conn:
            rows = conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM scenarios ORDER BY _seq").fetchall()
        return [_record(row) for row in rows]

    def get(self, scenario_id: str) -> dict[str, Any]:
        with self._connect() as conn:
            row = conn.execute(f"SELECT {', '.join(_COLUMNS)}, result FROM scenarios WHERE id = %s",
                               (scenario_id,)).fetchone()
        if row is None:
            raise _not_found(scenario_id)
        return {**_record(row[:-1]), "result": row[-1]}


def _record(row: tuple) -> dict[str, Any]:
    values = dict(zip(_COLUMNS, row, strict=True))
    return {"id": values["id"], "created_at": _iso(values["created_at"]), "name": values["name"],
            "created_by": values["created_by"], "data_version": int(values["data_version"]), "crs": values["crs"],
            "parameters": values["params"], "marked_planned": values["marked_planned"],
            "planned_data_version": values["planned_data_version"]}


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def scenario_store_for(location: str) -> ScenarioStore:
    """The scenario store that goes with a data store location: the database's table for PostGIS, else a
    JSON file beside the GeoPackage."""
    if location.startswith(("postgresql://", "postgres://")):
        return PostgresScenarioStore(location)
    return JsonScenarioStore.beside(location)
