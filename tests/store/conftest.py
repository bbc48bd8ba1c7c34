"""Store fixtures: `store` runs every contract test on GeoPackage and on a real PostGIS.

PostgreSQL is the one at 127.0.0.1:5432 (user postgres, trust auth) unless LOCATOR_TEST_POSTGRES names
another admin URL. Each session makes its own throwaway database (``locator_test_<random>``), with
PostGIS, and drops it at the end; each test gets a fresh schema in it (through ``search_path``), which
is much quicker than a database per test. Where PostgreSQL or PostGIS is missing the PostGIS tests are
skipped locally and fail in CI, so CI can't pass by skipping them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from urllib.parse import quote, urlsplit, urlunsplit

import geopandas as gpd
import pytest

from conftest import IN_CI, at, frame, station_rows

ADMIN_URL = os.environ.get("LOCATOR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def _unavailable(reason: str) -> None:
    message = f"PostGIS tests need PostgreSQL with PostGIS at {ADMIN_URL}: {reason}"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _with_database(url: str, name: str, *, query: str = "") -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}", query=query))


def with_schema(url: str, schema: str) -> str:
    """The same database, with tables created and found in ``schema`` (PostGIS itself stays in public)."""
    return _with_database(url, urlsplit(url).path.lstrip("/"),
                          query="options=" + quote(f"-csearch_path={schema},public"))


@pytest.fixture(scope="session")
def postgis_database() -> Iterator[str]:
    """URL of a database made for this test session, with PostGIS; dropped when the session ends."""
    try:
        import psycopg
    except ImportError:
        _unavailable("psycopg is not installed (pip install -e '.[postgis]')")
    name = f"locator_test_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as error:
        _unavailable(str(error).strip().splitlines()[0])
    url = _with_database(ADMIN_URL, name)
    try:
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION postgis")
        except psycopg.Error as error:
            _unavailable(f"CREATE EXTENSION postgis failed ({str(error).strip().splitlines()[0]}); "
                         "install postgresql-15-postgis-3")
        yield url
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgis_url(postgis_database: str) -> str:
    """A connection URL whose tables live in a schema of their own, empty at the start of the test."""
    import psycopg

    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(postgis_database, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return with_schema(postgis_database, schema)


@pytest.fixture
def postgis_store(postgis_url: str):
    from locator.store.postgis import PostGISStore

    return PostGISStore(postgis_url)


@pytest.fixture(params=["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)])
def store(request: pytest.FixtureRequest):
    """The store under test: the same contract, once per backend."""
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture
def fail_on_second_layer(monkeypatch: pytest.MonkeyPatch) -> Callable[[object], list[str]]:
    """Arm ``store`` so that its next write fails while writing its second layer, mid-transaction."""

    def arm(store: object) -> list[str]:
        from locator.store import gpkg, postgis

        module = postgis if isinstance(store, postgis.PostGISStore) else gpkg
        real = module._write_layer
        written: list[str] = []

        def failing(*args, **kwargs):
            name = args[1]
            if len(written) == 1:
                raise OSError(f"injected failure while writing {name}")
            written.append(name)
            return real(*args, **kwargs)

        monkeypatch.setattr(module, "_write_layer", failing)
        return written

    return arm


def every_layer() -> dict[str, gpd.GeoDataFrame]:
    """One small frame per layer, using every column, both geometry types where two are allowed, and
    text that tests quoting (tabs, newlines, backslashes, quotes, markup, Chinese)."""
    rows = station_rows()
    rows[1] = {**rows[1], "address": "朝阳路\t1号\n2单元 \\N \\. 'x' \"y\"", "phone": "010-1234\\5678"}
    booths = [
        {"id": "b1", "address": "亮马桥路", "district": "朝阳区", "subdistrict": "110105001000",
         "status": "candidate", "station_id": "", "notes": "旧核酸亭", "source": "demo", "geometry": at(100, 100)},
        {"id": "b2", "address": "", "district": "朝阳区", "subdistrict": "", "status": "converted",
         "station_id": "s1", "notes": "", "source": "public-report", "geometry": at(300, 400)},
    ]
    subdistricts = [
        {"code": "110105001000", "name": "甲街道", "district": "朝阳区", "approximate": False, "source": "demo",
         "geometry": "POLYGON ((450000 4420000, 451000 4420000, 451000 4421000, 450000 4420000))"},
        {"code": "110105002000", "name": "乙街道", "district": "朝阳区", "approximate": True, "source": "demo",
         "geometry": "MULTIPOLYGON (((452000 4420000, 453000 4420000, 453000 4421000, 452000 4420000)), "
                     "((454000 4420000, 455000 4420000, 455000 4421000, 454000 4420000)))"},
    ]
    streets = [
        {"id": "w1", "name": "东三环辅路", "highway": "primary", "oneway": True, "access": "bicycle", "source": "demo",
         "geometry": "LINESTRING (450000 4420000, 450300 4420400, 450600 4420800)"},
        {"id": "w2", "name": "", "highway": "residential", "oneway": False, "source": "demo",
         "geometry": "MULTILINESTRING ((450000 4421000, 451000 4421000), (451000 4421000, 451000 4422000))"},
    ]
    return {"stations": frame(rows), "booths": frame(booths), "subdistricts": frame(subdistricts),
            "streets": frame(streets)}


@pytest.fixture
def layers() -> dict[str, gpd.GeoDataFrame]:
    return every_layer()
