"""Versioned schema migrations for the PostGIS store.

Each migration is a numbered SQL script, applied once, in order, in its own transaction, and recorded
in ``schema_migrations``. Upgrading is idempotent: an up-to-date database is left alone. Several
processes may upgrade at once (gunicorn workers starting together): a transaction-level advisory lock
makes them take turns, and each re-reads what is applied after it gets the lock.

A migration, once released, never changes: a new column means a new migration (and
``tests/store/test_postgis.py`` checks that the tables still match ``locator.model``).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from locator.errors import StoreUnavailable

# pg_advisory_xact_lock takes a bigint; any constant that other applications are unlikely to use.
_LOCK_KEY = 0x6C6F6361746F72  # "locator"


class SchemaTooNew(StoreUnavailable):
    """The database was upgraded by a newer locator than this one; running on would risk its data."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def label(self) -> str:
        return f"{self.version:03d}_{self.name}"


# Migration 1, written out (not generated from locator.model, which will move on while this must not).
# Dates stay ISO text, as model.conform gives them, so both stores accept exactly the same values.
# _seq keeps the order rows were written in, so both stores hand a layer back in the same order.
_INITIAL = """
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE data_version (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    version bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO data_version (id, version) VALUES (true, 0);

-- A function rather than an inline GeometryType(...) check: PostGIS's geometry_columns view reads such
-- checks as "the column holds only the first type listed", and GIS clients would then hide the rest.
CREATE FUNCTION locator_geometry_is(g geometry, kinds text[]) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT g IS NULL OR ST_GeometryType(g) = ANY (kinds) $$;

CREATE TABLE stations (
    id text NOT NULL,
    name text NOT NULL DEFAULT '',
    address text NOT NULL DEFAULT '',
    district text NOT NULL DEFAULT '',
    subdistrict text NOT NULL DEFAULT '',
    operator text NOT NULL DEFAULT '',
    amenities text NOT NULL DEFAULT '',
    opening_hours text NOT NULL DEFAULT '',
    opening_hours_raw text NOT NULL DEFAULT '',
    phone text NOT NULL DEFAULT '',
    status text NOT NULL DEFAULT 'open',
    converted_from_booth text NOT NULL DEFAULT '',
    source text NOT NULL DEFAULT 'import',
    verified_at text NOT NULL DEFAULT '',
    geom geometry(Point, 4326),
    _seq bigint GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (id)
);

CREATE TABLE booths (
    id text NOT NULL,
    address text NOT NULL DEFAULT '',
    district text NOT NULL DEFAULT '',
    subdistrict text NOT NULL DEFAULT '',
    status text NOT NULL DEFAULT 'candidate',
    station_id text NOT NULL DEFAULT '',
    notes text NOT NULL DEFAULT '',
    source text NOT NULL DEFAULT 'import',
    geom geometry(Point, 4326),
    _seq bigint GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (id)
);

CREATE TABLE subdistricts (
    code text NOT NULL,
    name text NOT NULL DEFAULT '',
    district text NOT NULL DEFAULT '',
    approximate boolean NOT NULL DEFAULT false,
    source text NOT NULL DEFAULT 'import',
    geom geometry(Geometry, 4326)
        CHECK (locator_geometry_is(geom, '{ST_Polygon,ST_MultiPolygon}')),
    _seq bigint GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (code)
);

CREATE TABLE streets (
    id text NOT NULL,
    name text NOT NULL DEFAULT '',
    highway text NOT NULL DEFAULT 'unclassified',
    oneway boolean NOT NULL DEFAULT false,
    source text NOT NULL DEFAULT 'import',
    geom geometry(Geometry, 4326)
        CHECK (locator_geometry_is(geom, '{ST_LineString,ST_MultiLineString}')),
    _seq bigint GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (id)
);

CREATE INDEX stations_geom_gist ON stations USING gist (geom);
CREATE INDEX booths_geom_gist ON booths USING gist (geom);
CREATE INDEX subdistricts_geom_gist ON subdistricts USING gist (geom);
CREATE INDEX streets_geom_gist ON streets USING gist (geom);
CREATE INDEX stations_seq ON stations (_seq);
CREATE INDEX booths_seq ON booths (_seq);
CREATE INDEX subdistricts_seq ON subdistricts (_seq);
CREATE INDEX streets_seq ON streets (_seq);
"""

# Migration 2: who of walkers and riders may use a street (locator.model.STREETS "access"). The table is
# rebuilt rather than altered so that its columns keep the model's order; rows keep their order (_seq).
_STREET_ACCESS = """
CREATE TABLE streets_v2 (
    id text NOT NULL,
    name text NOT NULL DEFAULT '',
    highway text NOT NULL DEFAULT 'unclassified',
    oneway boolean NOT NULL DEFAULT false,
    access text NOT NULL DEFAULT '',
    source text NOT NULL DEFAULT 'import',
    geom geometry(Geometry, 4326)
        CHECK (locator_geometry_is(geom, '{ST_LineString,ST_MultiLineString}')),
    _seq bigint GENERATED ALWAYS AS IDENTITY
);
INSERT INTO streets_v2 (id, name, highway, oneway, source, geom)
    SELECT id, name, highway, oneway, source, geom FROM streets ORDER BY _seq;
DROP TABLE streets;
ALTER TABLE streets_v2 RENAME TO streets;
ALTER TABLE streets ADD PRIMARY KEY (id);
CREATE INDEX streets_geom_gist ON streets USING gist (geom);
CREATE INDEX streets_seq ON streets (_seq);
"""

# Migration 3: saved siting scenarios (decision records, ``locator.store.scenarios``): the parameters asked, the
# data version answered on and the full result, as JSON. Kept in the database so every worker and host sees them.
_SCENARIOS = """
CREATE TABLE scenarios (
    id text PRIMARY KEY,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT '',
    data_version bigint NOT NULL,
    crs text NOT NULL DEFAULT 'wgs84',
    params jsonb NOT NULL,
    result jsonb NOT NULL,
    marked_planned jsonb NOT NULL DEFAULT '[]',
    planned_data_version bigint,
    _seq bigint GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX scenarios_seq ON scenarios (_seq);
"""

# Migration 4: the data version at which each layer last changed, so a worker reloads only what changed
# (an edit to one station must not make every worker re-read and re-index the streets).
_LAYER_VERSIONS = """
CREATE TABLE layer_versions (
    layer text PRIMARY KEY,
    version bigint NOT NULL
);
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial", _INITIAL),
    Migration(2, "street_access", _STREET_ACCESS),
    Migration(3, "scenarios", _SCENARIOS),
    Migration(4, "layer_versions", _LAYER_VERSIONS),
)
LATEST = MIGRATIONS[-1].version

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


def schema_version(conn: psycopg.Connection) -> int:
    """The highest applied migration; 0 for a database locator never touched."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


def check_not_newer(version: int, *, where: str) -> None:
    """Refuse a schema this code does not know: a newer locator may have moved data we would misread."""
    if version > LATEST:
        msg = (f"the database schema at {where} is at version {version}, newer than this locator knows "
               f"({LATEST}); upgrade locator instead of running an older one against it")
        raise SchemaTooNew(msg)


def pending(conn: psycopg.Connection, *, where: str = "the database") -> list[Migration]:
    """Migrations not yet applied (raises SchemaTooNew for a newer schema)."""
    version = schema_version(conn)
    check_not_newer(version, where=where)
    return [m for m in MIGRATIONS if m.version > version]


def upgrade(conn: psycopg.Connection, *, where: str = "the database", target: int | None = None,
            ) -> list[Migration]:
    """Apply every pending migration (up to ``target``), each in its own transaction; return those applied.

    ``conn`` must be in autocommit mode (each migration opens its own transaction block).
    """
    # A cheap look first, without locks: the usual case is that there is nothing to do.
    if not _upto(pending(conn, where=where), target):
        return []
    applied: list[Migration] = []
    while True:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            conn.execute(_CREATE_LEDGER)
            todo = _upto(pending(conn, where=where), target)
            if not todo:
                return applied
            migration = todo[0]
            conn.execute(migration.sql)  # no parameters: runs as one multi-statement script
            conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                         (migration.version, migration.name))
        applied.append(migration)


def _upto(todo: list[Migration], target: int | None) -> list[Migration]:
    return todo if target is None else [m for m in todo if m.version <= target]
