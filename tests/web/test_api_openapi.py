"""/api/v1/openapi.json matches what the API does: schemathesis runs every operation in-process (WSGI) and checks
the answers against the document; every documented parameter is accepted and every other one refused."""

from __future__ import annotations

import re

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from conftest import assert_problem, frame, station_rows
from locator.web.params import ENDPOINTS


def _module_app():
    """One app over a temporary GeoPackage for schemathesis, which loads its schema at collection time."""
    import tempfile
    from pathlib import Path

    from locator.store import GeoPackageStore
    from locator.web import create_app

    path = Path(tempfile.mkdtemp(prefix="locator-openapi-")) / "api.gpkg"
    GeoPackageStore(path).write({"stations": frame(station_rows())})
    return create_app({"STORE": str(path), "TESTING": True, "TILES": "none", "RATE_LIMIT": "0"})


MODULE_APP = _module_app()
# from_wsgi rather than pytest.from_fixture: the lazy fixture loader of schemathesis 4.32 reads a private pytest
# attribute that pytest 9 no longer has.
# The endpoints of this module's issue; other blueprints' paths are in the same document and get their own tests.
MINE = r"^/api/v1/(nearest|stations|stations/\{station_id\}|booths|booths/\{booth_id\}|openapi\.json)$"
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", MODULE_APP).include(path_regex=MINE)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_conforms(case):
    """No 5xx; status codes, content types and bodies conform to the document (schemathesis' checks).

    Left out: "schema-valid requests are accepted". OpenAPI 3.0 can't state rules across parameters (bbox
    min <= max, open_now or open_at, a query point within 50 km of the service area), so a schema-valid request
    may rightly get a 400 or 422 problem; those answers are still checked against the document.
    """
    case.call_and_validate(excluded_checks=[positive_data_acceptance])


def document(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def operations(doc):
    for path, methods in doc["paths"].items():
        if not re.match(MINE, path):
            continue
        for method, op in methods.items():
            yield path, method, op


def test_document_is_openapi_3(client):
    doc = document(client)
    assert doc["openapi"].startswith("3.")
    assert {"/api/v1/nearest", "/api/v1/stations", "/api/v1/stations/{station_id}", "/api/v1/booths",
            "/api/v1/booths/{booth_id}"} <= set(doc["paths"])


def test_every_api_route_is_documented_and_every_documented_path_routed(app, client):
    doc = document(client)
    routed = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule) for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith("api.") and rule.rule.startswith("/api/v1/")}
    assert routed - {"/api/v1/docs"} == {p for p in doc["paths"] if re.match(MINE, p)}


def test_documented_parameters_are_the_declared_ones(client):
    for path, _method, op in operations(document(client)):
        query = [p["name"] for p in op["parameters"] if p["in"] == "query"]
        assert query == [p.name for p in ENDPOINTS[op["x-params"]]], path


def _url(path: str) -> str:
    return path.replace("{station_id}", "s1").replace("{booth_id}", "b-none")


def _value(param: dict) -> str:
    example = param["example"]
    if isinstance(example, list):
        return ",".join(map(str, example))
    return str(example).lower() if isinstance(example, bool) else str(example)


def test_every_documented_parameter_is_accepted(client):
    """Each documented parameter, alone with its example value (plus the required ones), is not refused."""
    for path, _method, op in operations(document(client)):
        query_params = [p for p in op["parameters"] if p["in"] == "query"]
        required = {p["name"]: _value(p) for p in query_params if p["required"]}
        for param in query_params:
            response = client.get(_url(path), query_string={**required, param["name"]: _value(param)})
            assert response.status_code in (200, 404), (path, param["name"], response.get_data(as_text=True))


def test_undocumented_parameters_are_refused(client):
    for path, _method, op in operations(document(client)):
        required = {p["name"]: _value(p) for p in op["parameters"] if p["in"] == "query" and p["required"]}
        response = client.get(_url(path), query_string={**required, "undocumented": "1"})
        body = assert_problem(response, 400, param="undocumented")
        assert body["type"] == "/problems/unknown-parameter"


def test_modules_contribute_their_own_paths(app):
    import sys

    from flask import Blueprint

    from locator.web.openapi import build_document

    module = type(sys)("locator_test_extra_module")
    module.OPENAPI_PATHS = {"/api/v1/extra": {"get": {"responses": {"200": {"description": "ok"}}}}}
    module.OPENAPI_COMPONENTS = {"schemas": {"Extra": {"type": "object"}}}
    sys.modules[module.__name__] = module
    try:
        app.register_blueprint(Blueprint("extra", module.__name__))
        doc = build_document(app)
    finally:
        del sys.modules[module.__name__]
    assert "/api/v1/extra" in doc["paths"] and "/api/v1/nearest" in doc["paths"]
    assert "Extra" in doc["components"]["schemas"] and "Problem" in doc["components"]["schemas"]


def test_docs_page_lists_paths_and_parameters(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    for text in ("/api/v1/nearest", "radius_m", "open_at", "/api/v1/openapi.json", "try it"):
        assert text in page
    assert "http://" not in page and "https://" not in page  # self-contained: nothing from a CDN
