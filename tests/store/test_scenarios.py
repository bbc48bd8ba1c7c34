"""Saved siting scenarios: the JSON file beside a GeoPackage and the ``scenarios`` table of a PostGIS database keep
the same records; a PostGIS-backed app writes them to the database, never to a file in the working directory."""

from __future__ import annotations

import math

import pytest

from locator.errors import NotFound


def record(name: str, *, version: int = 3) -> dict:
    result = {"model": "mclp", "booths": [{"id": "b1", "lon": 116.4, "lat": 39.9, "newly_covered_m": 120.5}],
              "quality": {"status": "optimal", "gap": math.nan, "objective": math.inf}, "name": "亭 \"1\" \\ <b>"}
    return {"name": name, "created_by": "root", "data_version": version, "crs": "gcj02",
            "parameters": {"p": 2, "threshold_m": 500.0, "exclude": []}, "marked_planned": ["b1"],
            "planned_data_version": version + 1, "result": result}


@pytest.fixture(params=["json", pytest.param("postgis", marks=pytest.mark.postgis)])
def scenarios(request, tmp_path):
    from locator.store.scenarios import JsonScenarioStore, PostgresScenarioStore

    if request.param == "json":
        return JsonScenarioStore.beside(str(tmp_path / "locator.gpkg"))
    return PostgresScenarioStore(request.getfixturevalue("postgis_url"))


def test_save_list_get(scenarios):
    first = scenarios.save(record("2027 第一批"))
    second = scenarios.save({**record("第二批", version=4), "planned_data_version": None, "marked_planned": []})
    assert len(first["id"]) == 12 and first["id"] != second["id"]
    assert first["created_at"].endswith("+00:00")
    listing = scenarios.list()
    assert [r["name"] for r in listing] == ["2027 第一批", "第二批"]  # oldest first
    assert all("result" not in r for r in listing)
    assert listing[0]["parameters"] == {"p": 2, "threshold_m": 500.0, "exclude": []}
    assert listing[0]["marked_planned"] == ["b1"] and listing[1]["planned_data_version"] is None
    full = scenarios.get(first["id"])
    assert full["data_version"] == 3 and full["crs"] == "gcj02" and full["created_by"] == "root"
    assert full["result"]["booths"][0]["newly_covered_m"] == 120.5
    assert full["result"]["name"] == "亭 \"1\" \\ <b>"
    # JSON has no NaN or Infinity: both stores keep them as null
    assert full["result"]["quality"]["gap"] is None and full["result"]["quality"]["objective"] is None
    assert {k: v for k, v in full.items() if k != "result"} == listing[0]
    with pytest.raises(NotFound):
        scenarios.get("nope")


@pytest.mark.postgis
def test_postgis_keeps_scenarios_in_the_database_table(postgis_url):
    import psycopg

    from locator.store.postgis import PostGISStore
    from locator.store.scenarios import PostgresScenarioStore

    PostGISStore(postgis_url).upgrade()
    saved = PostgresScenarioStore(postgis_url).save(record("表里"))
    with psycopg.connect(postgis_url) as conn:
        row = conn.execute("SELECT name, data_version, params->>'p', result->'booths'->0->>'id', created_by "
                           "FROM scenarios WHERE id = %s", (saved["id"],)).fetchone()
        kinds = dict(conn.execute("SELECT column_name, data_type FROM information_schema.columns "
                                  "WHERE table_name = 'scenarios' AND table_schema = current_schema()").fetchall())
    assert row == ("表里", 3, "2", "b1", "root")
    assert kinds["params"] == kinds["result"] == "jsonb" and kinds["created_at"] == "timestamp with time zone"
    # another process (another store object) sees it
    assert [r["id"] for r in PostgresScenarioStore(postgis_url).list()] == [saved["id"]]


@pytest.mark.postgis
def test_a_new_database_gets_the_table_on_first_use(postgis_url):
    from locator.store.scenarios import PostgresScenarioStore

    store = PostgresScenarioStore(postgis_url)
    assert store.list() == []  # migrations applied under the advisory lock, as the data store does


def test_unreachable_database_is_store_unavailable():
    from locator.errors import StoreUnavailable
    from locator.store.scenarios import PostgresScenarioStore

    store = PostgresScenarioStore("postgresql://nobody:secret@127.0.0.1:1/none?connect_timeout=1")
    with pytest.raises(StoreUnavailable) as caught:
        store.list()
    assert "secret" not in str(caught.value)


@pytest.mark.postgis
def test_app_on_postgis_saves_scenarios_in_the_database(postgis_url, tmp_path, monkeypatch):
    """The web app over PostGIS: a saved scenario lands in the table, nothing is written to the working directory."""
    import geopandas as gpd
    from shapely.geometry import LineString, Point

    from conftest import ORIGIN_X as X0
    from conftest import ORIGIN_Y as Y0
    from locator.store.postgis import PostGISStore
    from locator.web import auth, create_app

    monkeypatch.chdir(tmp_path)
    # two streets crossing at a shared vertex: four 3 km segments, measured at their midpoints (1.5 km out);
    # the station at the west end covers the west one, a booth at the crossing the other three
    steps = [500 * k for k in range(-6, 7)]
    streets = gpd.GeoDataFrame({"id": ["h", "v"], "name": ["横街", "纵路"], "highway": "residential"},
                               geometry=[LineString([(X0 + d, Y0) for d in steps]),
                                         LineString([(X0, Y0 + d) for d in steps])], crs="EPSG:32650")
    stations = gpd.GeoDataFrame({"id": ["s1"], "name": ["甲站"], "status": ["open"]},
                                geometry=[Point(X0 - 3000, Y0)], crs="EPSG:32650")
    booths = gpd.GeoDataFrame({"id": ["b1"], "address": ["中心"], "status": ["candidate"]},
                              geometry=[Point(X0, Y0)], crs="EPSG:32650")
    PostGISStore(postgis_url).write({"streets": streets, "stations": stations, "booths": booths})
    app = create_app({"STORE": postgis_url, "TESTING": True, "TILES": "none", "RATE_LIMIT": "0"})
    with app.app_context():
        auth.records().add_user("root", auth.hash_password("correct horse"), role="admin")
        token = auth.records().create_token("root")
    client = app.test_client()
    response = client.post("/api/v1/siting/scenarios", headers={"Authorization": f"Bearer {token}"},
                           json={"name": "库里", "p": 1, "threshold_m": 2000, "mark_planned": True})
    assert response.status_code == 201, response.get_data(as_text=True)
    saved = response.get_json()
    assert saved["marked_planned"] == ["b1"]
    assert list(tmp_path.iterdir()) == []  # no locator.scenarios.json in the working directory
    from locator.store.scenarios import PostgresScenarioStore

    assert [r["name"] for r in PostgresScenarioStore(postgis_url).list()] == ["库里"]
    assert client.get(f"/api/v1/siting/scenarios/{saved['id']}").get_json()["result"]["booths"][0]["id"] == "b1"
