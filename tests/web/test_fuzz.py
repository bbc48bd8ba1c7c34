"""Property-based fuzzing of every public endpoint: no answer is a 5xx.

schemathesis generates requests for every operation in /api/v1/openapi.json (all blueprints: reads, writes with
an admin token, reports, coverage, places, convert), in-process over WSGI; the siting endpoints, which the
document does not describe yet, get random JSON bodies from hypothesis. Rate limits are off here so that every
example reaches its handler.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from conftest import at, frame, station_rows


def _fuzz_app():
    from locator.store import GeoPackageStore
    from locator.web import auth, create_app

    path = Path(tempfile.mkdtemp(prefix="locator-fuzz-")) / "fuzz.gpkg"
    booths = [{"id": "b1", "address": "亮马桥路", "district": "朝阳区", "status": "candidate",
               "geometry": at(100, 100)}]
    streets = [{"id": "w1", "name": "横街", "highway": "residential",
                "geometry": f"LINESTRING ({at(-2000, 0)[7:-1]}, {at(2000, 0)[7:-1]})"},
               {"id": "w2", "name": "纵路", "highway": "residential",
                "geometry": f"LINESTRING ({at(0, -2000)[7:-1]}, {at(0, 2000)[7:-1]})"}]
    GeoPackageStore(path).write({"stations": frame(station_rows()), "booths": frame(booths),
                                 "streets": frame(streets)})
    app = create_app({"STORE": str(path), "TESTING": True, "TILES": "none", "RATE_LIMIT": "0",
                      "REPORT_RATE_LIMIT": "0", "LOG_FORMAT": "text"})
    with app.app_context():
        auth.records().add_user("fuzz", "x", role="admin")
        app.config["FUZZ_TOKEN"] = auth.records().create_token("fuzz")
    return app


FUZZ_APP = _fuzz_app()
AUTH = {"Authorization": f"Bearer {FUZZ_APP.config['FUZZ_TOKEN']}"}
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", FUZZ_APP)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_5xx(case):
    response = case.call(headers=AUTH)
    case.validate_response(response, checks=[not_a_server_error])


def test_every_documented_operation_is_fuzzed():
    """The parametrized test above runs once per documented operation: they are all there."""
    doc = FUZZ_APP.test_client().get("/api/v1/openapi.json").get_json()
    operations = {(path, method) for path, methods in doc["paths"].items() for method in methods}
    fuzzed = {(op.path, op.method.lower()) for op in (result.ok() for result in schema.get_all_operations())}
    # schemathesis leaves out the document's own path; test_openapi_document_never_5xx covers it
    assert operations - {("/api/v1/openapi.json", "get")} == fuzzed and len(operations) >= 25
    for area in ("/api/v1/nearest", "/api/v1/coverage", "/api/v1/places", "/api/v1/stations/{station_id}/reports",
                 "/api/v1/imports", "/api/v1/changes/{change_id}/revert"):
        assert any(path == area for path, _ in operations), area


_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=30), st.lists(st.text(max_size=10), max_size=5))
_SITING_KEYS = st.sampled_from(["model", "p", "target_share", "threshold_m", "profile", "subdistrict",
                                "candidate_status_only", "exclude", "force", "min_spacing_m", "weight", "method",
                                "time_limit_s", "crs", "mark_planned", "name", "bogus"])


@given(body=st.one_of(st.dictionaries(_SITING_KEYS, _VALUES, max_size=6), _VALUES))
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_siting_bodies_never_5xx(body):
    client = FUZZ_APP.test_client()
    response = client.post("/api/v1/siting", json=body)
    assert response.status_code < 500, response.get_data(as_text=True)


@given(scenario=st.text(max_size=40), query=st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3))
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_scenario_reads_never_5xx(scenario, query):
    client = FUZZ_APP.test_client()
    path = re.sub(r"[/?#%\\]", "", scenario) or "x"
    for url in ("/api/v1/siting/scenarios", f"/api/v1/siting/scenarios/{path}"):
        assert client.get(url, query_string=query).status_code < 500


@given(query=st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3))
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_openapi_document_never_5xx(query):
    assert FUZZ_APP.test_client().get("/api/v1/openapi.json", query_string=query).status_code < 500
