"""/api/v1/openapi.json matches what the API does: schemathesis runs every operation in-process (WSGI) and checks
the answers against the document; every documented parameter is accepted and every other one refused."""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from conftest import ORIGIN_X, ORIGIN_Y, assert_problem, at, frame, station_rows
from locator.web.openapi import build_document
from locator.web.params import ENDPOINTS


def _module_app():
    """One app over a temporary GeoPackage for schemathesis, which loads its schema at collection time: stations,
    a 3 x 3 street grid, booths and a subdistrict (so siting and coverage have something to answer), and an
    admin whose token the write operations are called with."""
    import tempfile
    from pathlib import Path

    from locator.store import GeoPackageStore
    from locator.web import auth, create_app

    path = Path(tempfile.mkdtemp(prefix="locator-openapi-")) / "api.gpkg"
    ends = (-2000, 2000)
    streets = [{"id": f"{axis}{k}", "name": f"{axis}{k}街", "highway": "residential",
                "geometry": (f"LINESTRING ({ORIGIN_X + ends[0]} {ORIGIN_Y + k}, {ORIGIN_X + ends[1]} {ORIGIN_Y + k})"
                             if axis == "h" else
                             f"LINESTRING ({ORIGIN_X + k} {ORIGIN_Y + ends[0]}, {ORIGIN_X + k} {ORIGIN_Y + ends[1]})")}
               for axis in ("h", "v") for k in (-1000, 0, 1000)]
    booths = [{"id": f"b{i}", "address": f"亭{i}", "district": "朝阳区", "subdistrict": "110105001000",
               "status": "candidate", "source": "demo", "geometry": at(x, y)}
              for i, (x, y) in enumerate(((2000, 1000), (-2000, -1000), (1000, 2000)))]
    ring = ", ".join(f"{ORIGIN_X + x} {ORIGIN_Y + y}" for x, y in
                     ((-2500, -2500), (2500, -2500), (2500, 2500), (-2500, 2500), (-2500, -2500)))
    subs = [{"code": "110105001000", "name": "建外街道", "district": "朝阳区", "approximate": False,
             "source": "demo", "geometry": f"POLYGON (({ring}))"}]
    GeoPackageStore(path).write({"stations": frame(station_rows()), "streets": frame(streets),
                                 "booths": frame(booths), "subdistricts": frame(subs)})
    app = create_app({"STORE": str(path), "TESTING": True, "TILES": "none", "RATE_LIMIT": "0",
                      "REPORT_RATE_LIMIT": "0"})
    with app.app_context():
        auth.records().add_user("openapi", auth.hash_password("openapi-test"), role="admin")
        app.config["TEST_TOKEN"] = auth.records().create_token("openapi")
    return app


MODULE_APP = _module_app()
AUTH = {"Authorization": f"Bearer {MODULE_APP.config['TEST_TOKEN']}"}
# Examples per operation for the whole document: ~35 operations, kept small so the run stays well under a minute.
EVERY_EXAMPLES = 5
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


everything = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", MODULE_APP)


@everything.parametrize()
@settings(max_examples=EVERY_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_documented_operation_conforms(case):
    """Every operation of every blueprint (reads, writes with an admin's token, reports, coverage, siting): no 5xx,
    and status, content type and body as documented. Schema-valid requests may rightly be refused (a record that
    doesn't exist, If-Match missing, rules across fields), so "positive data is accepted" is left out here too."""
    case.call_and_validate(headers=AUTH, excluded_checks=[positive_data_acceptance])


@pytest.mark.parametrize("path", ["/api/v1/reports/{n}/resolve", "/api/v1/changes/{n}/revert"])
def test_ids_beyond_64_bits_are_not_found(path):
    """Once a 500 (SQLite's 64-bit INTEGER overflowed), found by the conformance run above."""
    response = MODULE_APP.test_client().post(path.format(n=2**70), headers=AUTH, json={})
    assert response.status_code in (400, 404), response.status_code


def test_the_whole_document_is_exercised():
    """The parametrized test above covers every documented operation (schemathesis skips the document's own)."""
    doc = MODULE_APP.test_client().get("/api/v1/openapi.json").get_json()
    documented = {(path, method) for path, methods in doc["paths"].items() for method in methods}
    exercised = {(op.path, op.method.lower()) for op in (r.ok() for r in everything.get_all_operations())}
    assert documented - {("/api/v1/openapi.json", "get")} <= exercised
    assert {("/api/v1/siting", "post"), ("/api/v1/siting/scenarios", "post"), ("/api/v1/siting/scenarios", "get"),
            ("/api/v1/siting/scenarios/{scenario_id}", "get")} <= documented


def test_every_api_route_of_every_blueprint_is_documented(app):
    doc = build_document(app)
    routed = {(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, methods in doc["paths"].items() for method in methods}
    assert routed - {("/api/v1/docs", "get")} == documented


def test_siting_request_bodies_are_documented(client):
    doc = document(client)
    siting = doc["paths"]["/api/v1/siting"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    schemas = doc["components"]["schemas"]
    assert siting == {"$ref": "#/components/schemas/SitingRequest"}
    from locator.web.siting import _FIELDS

    assert set(schemas["SitingRequest"]["properties"]) == {*_FIELDS, "crs"}
    assert {"name", "mark_planned"} <= set(schemas["ScenarioRequest"]["properties"])
    save = doc["paths"]["/api/v1/siting/scenarios"]["post"]
    assert save["security"] == [{"bearer": []}] and {"401", "403"} <= set(save["responses"])


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
