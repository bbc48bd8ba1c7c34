"""What only the PostGIS store has: migrations, typed WGS-84 columns, transactions seen from other
connections, NOTIFY, and the 503 when PostgreSQL can't be reached."""

from __future__ import annotations

import socket
import threading

import pytest

from conftest import frame, station_rows
from locator import model
from locator.errors import StoreUnavailable, ValidationFailed

pytestmark = pytest.mark.postgis


def _sql(url: str, query: str, params: tuple = ()) -> list[tuple]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


def test_open_store_picks_postgis_for_a_url(postgis_url):
    from locator.store import open_store
    from locator.store.postgis import PostGISStore

    store = open_store(postgis_url, work_crs="EPSG:32650")
    assert isinstance(store, PostGISStore)
    assert store.data_version() == 0


def test_migrations_are_recorded_and_idempotent(postgis_url):
    from locator.store import migrations
    from locator.store.postgis import PostGISStore

    store = PostGISStore(postgis_url, auto_upgrade=False)
    assert store.schema_version() == 0
    applied = store.upgrade()
    assert [m.version for m in applied] == [m.version for m in migrations.MIGRATIONS]
    assert store.upgrade() == []
    assert PostGISStore(postgis_url).upgrade() == []
    rows = _sql(postgis_url, "SELECT version, name FROM schema_migrations ORDER BY version")
    assert rows == [(m.version, m.name) for m in migrations.MIGRATIONS]
    assert store.schema_version() == migrations.LATEST


def test_workers_upgrading_at_once_take_turns(postgis_url):
    from locator.store import migrations
    from locator.store.postgis import PostGISStore

    results: list[object] = []
    barrier = threading.Barrier(4)

    def start_worker() -> None:
        barrier.wait()
        try:
            results.append(PostGISStore(postgis_url).data_version())
        except Exception as error:  # noqa: BLE001 - collected and asserted on below
            results.append(error)

    threads = [threading.Thread(target=start_worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [0, 0, 0, 0]
    assert _sql(postgis_url, "SELECT count(*) FROM schema_migrations") == [(len(migrations.MIGRATIONS),)]


def test_upgrading_a_populated_database_keeps_every_row_in_order(postgis_url):
    import psycopg

    from locator.store import migrations
    from locator.store.postgis import PostGISStore

    with psycopg.connect(postgis_url, autocommit=True) as conn:
        migrations.upgrade(conn, target=1)
        assert migrations.schema_version(conn) == 1
        point = "ST_SetSRID(ST_MakePoint(116.4 + %s / 1000.0, 39.9), 4326)"
        for i in (3, 1, 2):  # written out of key order: the order of writing is what must survive
            conn.execute(f"INSERT INTO stations (id, name, geom) VALUES (%s, %s, {point})", (f"s{i}", f"站{i}", i))
            conn.execute(f"INSERT INTO booths (id, geom) VALUES (%s, {point})", (f"b{i}", i))
            conn.execute("INSERT INTO streets (id, name, oneway, geom) VALUES "
                         "(%s, %s, true, ST_GeomFromText('LINESTRING (116.4 39.9, 116.5 39.9)', 4326))",
                         (f"w{i}", f"路{i}"))
            conn.execute("INSERT INTO subdistricts (code, name, geom) VALUES (%s, %s, "
                         "ST_GeomFromText('POLYGON ((116.4 39.9, 116.5 39.9, 116.5 40, 116.4 39.9))', 4326))",
                         (f"11010500{i}000", f"街道{i}"))
        conn.execute("UPDATE data_version SET version = 7")
    store = PostGISStore(postgis_url)
    assert store.data_version() == 7
    assert store.schema_version() == migrations.LATEST
    keys = {"stations": ["s3", "s1", "s2"], "booths": ["b3", "b1", "b2"], "streets": ["w3", "w1", "w2"],
            "subdistricts": ["110105003000", "110105001000", "110105002000"]}
    for name, expected in keys.items():
        layer = store.read(name)
        assert layer[model.LAYERS[name].key].tolist() == expected, name
        assert list(layer.columns) == [*model.LAYERS[name].column_names, "geometry"], name
    streets = store.read("streets")
    assert streets["name"].tolist() == ["路3", "路1", "路2"] and streets["oneway"].all()
    # New rows still go after the old ones: the identity behind the order carried on.
    store.write({"stations": frame([{**station_rows()[0], "id": "s9"}])}, mode="upsert")
    assert store.read("stations")["id"].tolist() == ["s3", "s1", "s2", "s9"]


def test_a_newer_schema_is_refused_with_a_clear_error(postgis_url):
    from locator.store import migrations
    from locator.store.postgis import PostGISStore

    PostGISStore(postgis_url).upgrade()
    _sql(postgis_url, "INSERT INTO schema_migrations (version, name) VALUES (%s, 'from_the_future')",
         (migrations.LATEST + 1,))
    store = PostGISStore(postgis_url)
    with pytest.raises(migrations.SchemaTooNew, match="newer than this locator knows") as caught:
        store.read("stations")
    assert caught.value.status == 503
    with pytest.raises(migrations.SchemaTooNew):
        store.upgrade()


def test_without_auto_upgrade_the_store_asks_for_db_upgrade(postgis_url):
    from locator.store.postgis import PostGISStore

    with pytest.raises(StoreUnavailable, match="locator db upgrade"):
        PostGISStore(postgis_url, auto_upgrade=False).data_version()


def test_tables_match_the_model(postgis_store, postgis_url):
    postgis_store.upgrade()
    for name, schema in model.LAYERS.items():
        columns = _sql(postgis_url, "SELECT column_name FROM information_schema.columns "
                                    "WHERE table_name = %s AND table_schema = current_schema() "
                                    "ORDER BY ordinal_position", (name,))
        assert [c for (c,) in columns] == [*schema.column_names, "geom", "_seq"], name
    geometry_columns = dict(
        (table, (kind, srid)) for table, kind, srid in _sql(
            postgis_url, "SELECT f_table_name, type, srid FROM geometry_columns "
                         "WHERE f_table_schema = current_schema()"))
    assert geometry_columns == {"stations": ("POINT", 4326), "booths": ("POINT", 4326),
                                "subdistricts": ("GEOMETRY", 4326), "streets": ("GEOMETRY", 4326)}
    gist = _sql(postgis_url, "SELECT tablename FROM pg_indexes WHERE schemaname = current_schema() "
                             "AND indexdef LIKE '%%USING gist (geom)%%' ORDER BY tablename", ())
    assert [t for (t,) in gist] == sorted(model.LAYERS)


def test_geometry_is_stored_once_in_wgs84(postgis_store, postgis_url, stations):
    postgis_store.write({"stations": stations})
    rows = _sql(postgis_url, "SELECT id, ST_SRID(geom), ST_X(geom), ST_Y(geom) FROM stations ORDER BY id")
    assert [r[1] for r in rows] == [4326] * 5
    lon, lat = rows[0][2], rows[0][3]
    assert 116.0 < lon < 117.0 and 39.5 < lat < 40.5  # Beijing, in degrees


def test_constraint_violation_in_second_layer_rolls_back_everything(postgis_store, layers):
    postgis_store.write(layers)
    before = {name: postgis_store.read(name) for name in model.LAYERS}
    duplicated = frame([{"id": "b7", "geometry": "POINT (450000 4420000)"}] * 2)
    with pytest.raises(ValidationFailed, match=r"booths.*\(id\)=\(b7\) already exists") as caught:
        postgis_store.write({"stations": layers["stations"].iloc[:1], "booths": duplicated})
    assert caught.value.status == 422
    assert postgis_store.data_version() == 1
    for name, layer in before.items():
        assert postgis_store.read(name).equals(layer), name


def test_a_geometry_of_the_wrong_type_is_refused(postgis_store):
    wrong = frame([{**station_rows()[0], "geometry": "LINESTRING (450000 4420000, 451000 4420000)"}])
    with pytest.raises(ValidationFailed, match="stations"):
        postgis_store.write({"stations": wrong})
    assert postgis_store.data_version() == 0


def test_another_connection_sees_the_new_version_only_after_commit(postgis_store, postgis_url, stations,
                                                                    monkeypatch):
    from locator.store import postgis
    from locator.store.postgis import PostGISStore

    other = PostGISStore(postgis_url)
    assert postgis_store.write({"stations": stations}) == 1
    seen_during: list[tuple[int, int]] = []
    real = postgis._write_layer

    def look_from_outside(*args, **kwargs):
        real(*args, **kwargs)
        seen_during.append((other.data_version(), len(other.read("stations"))))

    monkeypatch.setattr(postgis, "_write_layer", look_from_outside)
    assert postgis_store.write({"stations": stations.iloc[:2]}) == 2
    assert seen_during == [(1, 5)]  # mid-transaction: the old version and the old rows
    assert (other.data_version(), len(other.read("stations"))) == (2, 2)


def test_each_commit_is_notified_with_its_version(postgis_store, postgis_url, stations, fail_on_second_layer):
    import psycopg

    postgis_store.upgrade()
    with psycopg.connect(postgis_url, autocommit=True) as listener:
        listener.execute("LISTEN locator_data")
        postgis_store.write({"stations": stations})
        fail_on_second_layer(postgis_store)
        with pytest.raises(OSError):
            postgis_store.write({"stations": stations, "booths": model.empty("booths")})
        # Only committed writes notify: the next payload after the failed write is version 1.
        note = next(listener.notifies(timeout=10, stop_after=1))
        assert (note.channel, note.payload) == ("locator_data", "1")


def test_concurrent_writers_take_turns(postgis_store, postgis_url, stations):
    from locator.store.postgis import PostGISStore

    postgis_store.upgrade()
    versions: list[int] = []
    barrier = threading.Barrier(4)

    def write() -> None:
        barrier.wait()
        versions.append(PostGISStore(postgis_url).write({"stations": stations}, mode="upsert"))

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(versions) == [1, 2, 3, 4]
    assert len(postgis_store.read("stations")) == 5


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("operation", ["read", "write", "data_version"])
def test_unreachable_server_is_a_503_naming_where_without_the_password(operation, stations):
    pytest.importorskip("psycopg")
    from locator.store.postgis import PostGISStore

    store = PostGISStore(f"postgresql://locator:s3cret@127.0.0.1:{_closed_port()}/locator")
    calls = {"read": lambda: store.read("stations"), "write": lambda: store.write({"stations": stations}),
             "data_version": store.data_version}
    with pytest.raises(StoreUnavailable, match="can't be reached") as caught:
        calls[operation]()
    assert caught.value.status == 503
    assert "127.0.0.1" in caught.value.detail
    assert "s3cret" not in caught.value.detail
    assert "s3cret" not in store.location and "s3cret" not in repr(store)


@pytest.mark.parametrize(("location", "shown"), [
    ("postgresql://u:pw@db:5432/x", "postgresql://u:***@db:5432/x"),
    ("postgresql://u@db/x?password=pw&sslmode=require", "postgresql://u@db/x?password=***&sslmode=require"),
    ("postgresql://db/x", "postgresql://db/x"),
    ("host=db password='p w' dbname=x", "host=db password=*** dbname=x"),
])
def test_location_is_redacted(location, shown):
    pytest.importorskip("psycopg")
    from locator.store.postgis import redact

    assert redact(location) == shown


def test_the_app_serves_from_postgis_and_reloads_after_a_commit(postgis_store, postgis_url, stations):
    from locator.web import create_app

    postgis_store.write({"stations": stations})
    client = create_app({"STORE": postgis_url, "TESTING": True, "TILES": "none", "RELOAD_SECONDS": 0.0}).test_client()
    assert client.get("/readyz").get_json()["rows"]["stations"] == 5
    postgis_store.write({"stations": stations.iloc[:2]})
    body = client.get("/readyz").get_json()
    assert (body["data_version"], body["rows"]["stations"]) == (2, 2)


def test_the_app_answers_503_problem_json_when_postgresql_is_unreachable():
    pytest.importorskip("psycopg")
    from conftest import assert_problem
    from locator.web import create_app

    url = f"postgresql://locator:s3cret@127.0.0.1:{_closed_port()}/locator"
    client = create_app({"STORE": url, "TESTING": True, "TILES": "none"}).test_client()
    body = assert_problem(client.get("/readyz"), 503)
    assert "can't be reached" in body["detail"] and "s3cret" not in body["detail"]
