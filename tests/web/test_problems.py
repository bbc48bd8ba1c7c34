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
