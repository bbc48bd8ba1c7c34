"""The PostGIS store: one PostgreSQL database, geometry kept once in WGS-84 (EPSG:4326, typed columns).

The same contract as the GeoPackage store (``locator.store.base.Store``): layers come out in the work
CRS with exactly the model's columns, and a write of several layers is one transaction, so it lands
whole or not at all. Inside that transaction the ``data_version`` row is bumped (its row lock also
makes concurrent writers take turns) and ``NOTIFY locator_data`` is queued, which PostgreSQL delivers
to listeners only once the transaction commits.

Each operation takes a connection of its own: an idle one kept from an earlier operation where there is
one (``locator.store.pgidle``: checked before reuse, never shared across a fork), else a new one; so a worker
survives a PostgreSQL restart, a fork, or threads. Any failure to reach the server becomes
``StoreUnavailable`` (HTTP 503), never a raw driver error.

The schema comes from versioned migrations (``locator.store.migrations``). By default the store
applies pending ones the first time it connects (under an advisory lock, so workers starting
together take turns); ``auto_upgrade=False`` leaves that to ``locator db upgrade``. Against a schema
newer than it knows, the store refuses to run.
"""

from __future__ import annotations

import functools
import re
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from locator import crs, model
from locator.errors import StoreUnavailable, ValidationFailed
from locator.store import migrations
from locator.store.pgidle import IdleConnections

NOTIFY_CHANNEL = "locator_data"
_SRID = 4326
_CONNECT_TIMEOUT_S = 5


class PostGISStore:
    def __init__(self, location: str, *, work_crs: str = "EPSG:32650", auto_upgrade: bool = True) -> None:
        self._conninfo = location
        # location is logged and shown (/readyz, the CLI): never with the password in it.
        self.location = redact(location)
        self.work_crs = work_crs
        self.auto_upgrade = auto_upgrade
        self._schema_checked = False
        # the opener must not hold the store: the idle connections close when the store is collected
        self._idle = IdleConnections(functools.partial(_open, location, self.location))
        weakref.finalize(self, self._idle.close)

    def __repr__(self) -> str:
        return f"PostGISStore({self.location!r})"

    def read(self, layer: str) -> gpd.GeoDataFrame:
        schema = model.layer_schema(layer)
        names = schema.column_names
        query = sql.SQL("SELECT {cols}, ST_AsBinary(geom) FROM {table} ORDER BY _seq").format(
            cols=sql.SQL(", ").join(map(sql.Identifier, names)), table=sql.Identifier(layer))
        with self._connect() as conn, conn.cursor(binary=True) as cur:
            rows = cur.execute(query).fetchall()
        if not rows:
            return model.empty(layer, crs=self.work_crs)
        values = list(zip(*rows, strict=True))
        data = pd.DataFrame({name: list(column) for name, column in zip(names, values, strict=False)})
        geometry = shapely.from_wkb(np.array(values[-1], dtype=object))
        frame = model.conform(layer, gpd.GeoDataFrame(data, geometry=geometry, crs=crs.WGS84))
        return crs.to_work(frame, work=self.work_crs)

    def write(self, layers: dict[str, gpd.GeoDataFrame], *, mode: str = "replace") -> int:
        if mode not in {"replace", "upsert"}:
            raise ValueError(f"mode must be replace or upsert, not {mode!r}")
        prepared = {name: _records(name, frame) for name, frame in layers.items()}
        with self._connect() as conn:
            current = ""
            try:
                with conn.transaction():
                    # First, so that the row lock orders concurrent writers before they touch any layer.
                    row = conn.execute("UPDATE data_version SET version = version + 1, updated_at = now() "
                                       "RETURNING version").fetchone()
                    version = int(row[0]) if row else 0
                    for current, records in prepared.items():
                        _write_layer(conn, current, records, mode=mode)
                        conn.execute("INSERT INTO layer_versions (layer, version) VALUES (%s, %s) "
                                     "ON CONFLICT (layer) DO UPDATE SET version = EXCLUDED.version",
                                     (current, version))
                    conn.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, str(version)))
            except (psycopg.IntegrityError, psycopg.DataError) as error:
                raise ValidationFailed(f"layer {current} was not written: {_reason(error, detail=True)}",
                                       param="layer", layer=current) from error
        return version

    def data_version(self) -> int:
        with self._connect() as conn:
            row = conn.execute("SELECT version FROM data_version").fetchone()
        return int(row[0]) if row else 0

    def layer_versions(self) -> dict[str, int]:
        """The data version at which each layer last changed (0: not since versions were kept)."""
        with self._connect() as conn:
            rows = conn.execute("SELECT layer, version FROM layer_versions").fetchall()
        known = {str(layer): int(version) for layer, version in rows}
        return {name: known.get(name, 0) for name in model.LAYERS}

    def schema_version(self) -> int:
        """The highest migration applied to the database (0 for an empty one)."""
        with self._connect(check_schema=False) as conn:
            return migrations.schema_version(conn)

    def upgrade(self) -> list[migrations.Migration]:
        """Apply pending migrations (``locator db upgrade``); return those applied, in order."""
        with self._connect(check_schema=False) as conn:
            applied = self._upgrade(conn)
        self._schema_checked = True
        return applied

    @contextmanager
    def _connect(self, *, check_schema: bool = True) -> Iterator[psycopg.Connection]:
        try:
            with self._idle.connection() as conn:
                if check_schema and not self._schema_checked:
                    self._check_schema(conn)
                yield conn
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            # The server went away mid-way (restart, network): whatever was open is rolled back.
            raise StoreUnavailable(f"PostgreSQL at {self.location} failed: {_reason(error)}") from error

    def close(self) -> None:
        """Close the idle connections kept for reuse (they are also closed when the store is collected)."""
        self._idle.close()

    def _check_schema(self, conn: psycopg.Connection) -> None:
        if self.auto_upgrade:
            self._upgrade(conn)
        else:
            todo = migrations.pending(conn, where=self.location)
            if todo:
                msg = (f"the database at {self.location} lacks schema migrations "
                       f"{', '.join(m.label for m in todo)}: run `locator db upgrade`")
                raise StoreUnavailable(msg)
        self._schema_checked = True

    def _upgrade(self, conn: psycopg.Connection) -> list[migrations.Migration]:
        try:
            return migrations.upgrade(conn, where=self.location)
        except psycopg.ProgrammingError as error:  # most often: not allowed to CREATE EXTENSION postgis
            msg = (f"can't upgrade the schema at {self.location}: {_reason(error)} (the role needs CREATE on the "
                   "database, and PostGIS installed: `CREATE EXTENSION postgis` as a superuser)")
            raise StoreUnavailable(msg) from error


def _open(conninfo: str, location: str) -> psycopg.Connection:
    options: dict[str, object] = {"autocommit": True, "application_name": "locator"}
    if "connect_timeout" not in _conninfo_dict(conninfo):
        options["connect_timeout"] = _CONNECT_TIMEOUT_S
    try:
        return psycopg.connect(conninfo, **options)  # type: ignore[arg-type]
    except psycopg.OperationalError as error:
        raise StoreUnavailable(f"PostgreSQL at {location} can't be reached: {_reason(error)}") from error


Record = tuple[object, ...]


def _records(name: str, frame: gpd.GeoDataFrame) -> tuple[list[Record], list[str]]:
    """The layer's rows as COPY records (model columns, then hex EWKB in WGS-84), and their keys."""
    schema = model.layer_schema(name)
    frame = model.conform(name, frame)
    lonlat = crs.from_work(frame) if frame.crs is not None else frame.set_crs(crs.WGS84)
    # The model is 2-D; the typed columns are too, so a stray Z is dropped rather than refused.
    geoms = shapely.set_srid(shapely.force_2d(np.asarray(lonlat.geometry.array, dtype=object)), _SRID)
    ewkb = shapely.to_wkb(geoms, hex=True, include_srid=True)
    columns = [frame[c].tolist() for c in schema.column_names]
    return list(zip(*columns, ewkb.tolist(), strict=True)), frame[schema.key].tolist()


def _write_layer(conn: psycopg.Connection, name: str, prepared: tuple[list[Record], list[str]], *,
                 mode: str) -> None:
    """Replace the layer's rows, or (upsert) those with the incoming keys; then COPY the new rows in.

    Upsert deletes and re-inserts rather than updating in place, so a changed row moves to the end,
    exactly as in the GeoPackage store. DELETE rather than TRUNCATE: readers keep seeing the old rows
    until commit instead of queueing behind an exclusive lock.
    """
    records, keys = prepared
    schema = model.layer_schema(name)
    table = sql.Identifier(name)
    if mode == "replace":
        conn.execute(sql.SQL("DELETE FROM {}").format(table))
    elif keys:
        conn.execute(sql.SQL("DELETE FROM {} WHERE {} = ANY(%s)").format(table, sql.Identifier(schema.key)),
                     (keys,))
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in [*schema.column_names, "geom"])
    with conn.cursor() as cur, cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(table, columns)) as copy:
        for record in records:
            copy.write_row(record)


def _reason(error: Exception, *, detail: bool = False) -> str:
    """The server's one-line message (libpq's are multi-line, with hints that name internals).

    ``detail`` adds the server's DETAIL line, which for a constraint names the offending key.
    """
    diag = getattr(error, "diag", None)
    message = (getattr(diag, "message_primary", None) or str(error)).strip()
    message = message.splitlines()[0] if message else type(error).__name__
    extra = getattr(diag, "message_detail", None) if detail else None
    return f"{message}: {extra.strip()}" if extra else message


def _conninfo_dict(conninfo: str) -> dict[str, object]:
    try:
        return conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return {}


def redact(location: str) -> str:
    """The connection string without its password, fit for logs and messages."""
    if "://" in location:
        parts = urlsplit(location)
        if parts.password is not None:
            host = parts.netloc.rpartition("@")[2]
            parts = parts._replace(netloc=f"{parts.username or ''}:***@{host}")
        query = re.sub(r"(?i)(password=)[^&]*", r"\1***", parts.query)
        return urlunsplit(parts._replace(query=query))
    return re.sub(r"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", location)
