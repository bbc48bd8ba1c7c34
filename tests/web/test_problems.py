from conftest import assert_problem


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"


def test_unknown_path_is_a_problem(client):
    assert_problem(client.get("/no/such/page"), 404)


def test_wrong_method_is_a_problem(client):
    body = assert_problem(client.post("/healthz"), 405)
    assert body["title"] == "Method Not Allowed"


def test_unexpected_error_hides_internals(app):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = app.test_client().get("/boom")
    body = assert_problem(response, 500)
    assert "secret" not in response.get_data(as_text=True)
    assert body["type"] == "/problems/internal"


def test_readyz_reports_loaded_data(client):
    body = client.get("/readyz").get_json()
    assert body["status"] == "ready"
    assert body["rows"]["stations"] == 5
    assert body["data_version"] == 1


def test_readyz_is_503_problem_when_store_unreadable(tmp_path):
    from locator.web import create_app

    bad = tmp_path / "not-a-geopackage.gpkg"
    bad.write_text("garbage")
    response = create_app({"STORE": str(bad)}).test_client().get("/readyz")
    assert_problem(response, 503)


def test_readers_keep_the_old_snapshot_while_a_new_one_loads(tmp_path, stations):
    import threading
    import time

    from locator.store import GeoPackageStore
    from locator.web.state import DataState

    store = GeoPackageStore(tmp_path / "s.gpkg")
    store.write({"stations": stations})
    state = DataState(store, reload_seconds=0.001)
    first = state.current()
    stations_index_before = first.derived("station_index")

    gate = threading.Event()
    real_read = store.read

    def slow_read(layer):
        gate.wait(10)
        return real_read(layer)

    store.write({"stations": stations.iloc[:2]})
    store.read = slow_read  # the background load blocks until the gate opens
    deadline = time.monotonic() + 5
    while state._loader is None and time.monotonic() < deadline:
        assert state.current() is first  # readers are answered at once, from the old data
    assert state.current() is first
    gate.set()
    state.wait_idle()
    new = state.current()
    assert new.version == 2 and len(new.layer("stations")) == 2
    assert new.derived("station_index") is not stations_index_before  # stations changed: rebuilt


def test_unchanged_layers_keep_their_structures(tmp_path, stations):
    from conftest import frame
    from locator.store import GeoPackageStore
    from locator.web.state import DataState

    store = GeoPackageStore(tmp_path / "s.gpkg")
    store.write({"stations": stations})
    state = DataState(store, reload_seconds=0)
    first = state.current()
    booths_index = first.derived("booth_index")
    stations_index = first.derived("station_index")
    store.write({"stations": frame([{**stations.iloc[0].drop("geometry").to_dict(),
                                     "geometry": "POINT (450100 4420100)"}])}, mode="upsert")
    reads = []
    real_read = store.read
    store.read = lambda layer: reads.append(layer) or real_read(layer)
    second = state.current()
    assert reads == ["stations"]  # only the changed layer is read again
    assert second.version == 2
    assert second.derived("booth_index") is booths_index  # booths unchanged: carried over
    assert second.derived("station_index") is not stations_index
