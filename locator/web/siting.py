"""Blueprint `siting`: which former testing booths to convert next (POST /api/v1/siting), and saved scenarios.

Requests are bounded JSON bodies; every field is checked and a bad one is answered with problem+json naming
it (``param``). The planner page's scenario panel reads the same endpoints:

- ``POST /api/v1/siting``: solve; answers chosen booths (id, address, lon/lat in ``crs``), covered street
  length before and after per subdistrict, the answer's quality (``optimal`` or ``within X% of optimal``) and
  solve time. Read-only: open to everyone, like the other analysis endpoints.
- ``POST /api/v1/siting/scenarios``: solve again on the current data and save the decision record
  (parameters, data version, results, who saved it). It needs a signed-in user (bearer token, or session with
  the CSRF token: ``locator.web.auth``). With ``mark_planned`` the chosen booths get status ``planned``
  through the same audited write as every other edit (``edit_api.commit``: history, revert); an editor may
  only mark booths in their district/subdistrict (403 naming the first one outside, nothing written or saved).
- ``GET /api/v1/siting/scenarios`` and ``GET /api/v1/siting/scenarios/<id>``: the saved records.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from locator.core.network import PROFILES
from locator.core.siting import (
    MAX_THRESHOLD_M,
    MAX_TIME_LIMIT_S,
    METHODS,
    MODELS,
    SitingOptions,
    plan,
    result_to_dict,
)
from locator.crs import parse_coord_system
from locator.errors import Conflict, InvalidParameter, UnknownParameter
from locator.store.records import User
from locator.store.scenarios import ScenarioStore, scenario_store_for
from locator.web import auth, openapi
from locator.web.state import DataState

bp = Blueprint("siting", __name__)

MAX_BODY_BYTES = 64 * 1024
MAX_IDS = 2000
MAX_NAME_CHARS = 200
_FIELDS = {f.name: f for f in dataclasses.fields(SitingOptions)}
_REQUEST_ONLY = ("crs",)
_PLANNABLE = ("candidate", "planned")


@bp.post("/api/v1/siting")
def siting() -> ResponseReturnValue:
    body = _json_body()
    system = parse_coord_system(_text(body.pop("crs", "wgs84"), "crs"), param="crs")
    options = read_options(body)
    result = plan(data_state().current(), options)
    return jsonify(result_to_dict(result, system=system))


@bp.post("/api/v1/siting/scenarios")
def save_scenario() -> ResponseReturnValue:
    user = auth.require_user()  # 401 without a token or session; 403 for a session write without CSRF
    body = _json_body()
    name = body.pop("name", "")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_CHARS:
        raise InvalidParameter(f"name must be a non-empty string of at most {MAX_NAME_CHARS} characters",
                               param="name")
    mark = body.pop("mark_planned", False)
    if not isinstance(mark, bool):
        raise InvalidParameter("mark_planned must be true or false", param="mark_planned")
    system = parse_coord_system(_text(body.pop("crs", "wgs84"), "crs"), param="crs")
    options = read_options(body)
    state = data_state()
    result = plan(state.current(), options)
    answer = result_to_dict(result, system=system)
    chosen = [b["id"] for b in answer["booths"]]  # type: ignore[union-attr, index]
    planned_version = None
    if mark and chosen and result.answer.status != "infeasible":
        planned_version = _mark_planned(user, chosen, note=f"siting scenario {name.strip()}")
    record = _scenarios().save({"name": name.strip(), "created_by": user.username,
                                "data_version": result.data_version, "parameters": answer["options"], "crs": system,
                                "marked_planned": chosen if planned_version is not None else [],
                                "planned_data_version": planned_version, "result": answer})
    return jsonify(record), 201


@bp.get("/api/v1/siting/scenarios")
def list_scenarios() -> ResponseReturnValue:
    _no_query()
    return jsonify({"scenarios": _scenarios().list()})


@bp.get("/api/v1/siting/scenarios/<scenario_id>")
def get_scenario(scenario_id: str) -> ResponseReturnValue:
    _no_query()
    return jsonify(_scenarios().get(scenario_id))


def _mark_planned(user: User, booth_ids: list[str], *, note: str) -> int:
    """Set the booths' status to ``planned``: one audited, all-or-nothing write; the new data version.

    Read fresh from the store under the edit lock (the plan was made on this worker's snapshot, which may be
    seconds old): a booth converted or removed since is a 409, one outside an editor's scope a 403.
    """
    from locator.web import edit_api  # the one audited write path (history, revert, reload)

    state = data_state()
    with auth.records().edit_lock():
        booths = state.store.read("booths")
        planned: list[tuple[str, dict[str, Any] | None, dict[str, Any], str]] = []
        for booth_id in booth_ids:
            current = edit_api.record_from_frame("booths", booths, booth_id)
            if current is None or current["status"] not in _PLANNABLE:
                now = "gone" if current is None else current["status"]
                raise Conflict(f"booth {booth_id} changed since the plan was made ({now}): solve again",
                               param="mark_planned", booth_id=booth_id)
            auth.check_scope(user, current, what=f"booth {booth_id}")
            if current["status"] != "planned":
                planned.append(("booths", current, {**current, "status": "planned"}, "plan"))
        if not planned:
            return int(state.store.data_version())
        return edit_api.commit(user, planned, note=note)


def data_state() -> DataState:
    from locator.web import data_state as current  # the package imports this module: resolve at call time

    return current()


def _scenarios() -> ScenarioStore:
    store = current_app.extensions.get("locator_scenarios")
    if store is None:
        store = current_app.extensions["locator_scenarios"] = scenario_store_for(str(current_app.config["STORE"]))
    return store  # type: ignore[no-any-return]


def _no_query() -> None:
    for name in request.args:
        raise UnknownParameter(f"unknown parameter {name[:40]!r}: this endpoint takes none", param=name[:100])


def _text(value: object, param: str) -> str:
    if not isinstance(value, str):
        raise InvalidParameter(f"{param} must be a string", param=param)
    return value


def _json_body() -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise InvalidParameter(f"request body larger than {MAX_BODY_BYTES} bytes", param="body")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidParameter("the request body must be a JSON object", param="body")
    return dict(body)


def read_options(body: dict[str, Any]) -> SitingOptions:
    """SitingOptions from a JSON object: unknown fields and wrong types are named in the error."""
    unknown = sorted(set(body) - set(_FIELDS))
    if unknown:
        raise UnknownParameter(f"unknown field {unknown[0][:40]!r}; valid: {', '.join([*_FIELDS, *_REQUEST_ONLY])}",
                               param=unknown[0][:100], unknown=[u[:100] for u in unknown[:10]])
    values: dict[str, Any] = {}
    for key, raw in body.items():
        default = _FIELDS[key].default
        if isinstance(default, bool):
            if not isinstance(raw, bool):
                raise InvalidParameter(f"{key} must be true or false", param=key)
            values[key] = raw
        elif isinstance(default, int):
            if isinstance(raw, bool) or not isinstance(raw, int):
                raise InvalidParameter(f"{key} must be an integer", param=key)
            values[key] = raw
        elif isinstance(default, float):
            if isinstance(raw, bool) or not isinstance(raw, int | float):
                raise InvalidParameter(f"{key} must be a number", param=key)
            values[key] = float(raw)
        elif isinstance(default, tuple):
            if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw) or len(raw) > MAX_IDS:
                raise InvalidParameter(f"{key} must be a list of at most {MAX_IDS} booth ids", param=key)
            values[key] = tuple(raw)
        else:
            if not isinstance(raw, str) or len(raw) > 100:
                raise InvalidParameter(f"{key} must be a string", param=key)
            values[key] = raw
    return SitingOptions(**values).check()


# ---------------------------------------------------------------------------------------------------------------
# OpenAPI (merged into /api/v1/openapi.json by locator.web.openapi)

_SYSTEMS = ["wgs84", "gcj02", "bd09"]
_IDS = {"type": "array", "items": {"type": "string"}, "maxItems": MAX_IDS}
_OPTION_PROPERTIES: dict[str, dict[str, Any]] = {
    "model": {"type": "string", "enum": list(MODELS), "default": "mclp",
              "description": "`mclp`: the p booths that newly cover the most street; `cover`: the fewest booths "
                             "that bring the covered share to `target_share`."},
    "p": {"type": "integer", "minimum": 1, "maximum": 500, "default": 5, "description": "Booths to add (mclp)."},
    "target_share": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 1, "default": 0.9,
                     "description": "Covered share of street length to reach (cover)."},
    "threshold_m": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": MAX_THRESHOLD_M,
                    "default": 1000, "description": "A street is covered within this network distance (metres) "
                                                    "of an open station."},
    "profile": {"type": "string", "enum": list(PROFILES), "default": "walk", "description": "Who travels."},
    "subdistrict": {"type": "string", "maxLength": 100, "default": "",
                    "description": "Only booths in this subdistrict (街道 code); empty: everywhere."},
    "candidate_status_only": {"type": "boolean", "default": False,
                              "description": "Only booths with status `candidate` (not those `planned`)."},
    "exclude": {**_IDS, "description": "Booth ids never to choose."},
    "force": {**_IDS, "description": "Booth ids to choose whatever else is chosen."},
    "min_spacing_m": {"type": "number", "minimum": 0, "maximum": 20000, "default": 0,
                      "description": "No two chosen booths closer than this (metres)."},
    "weight": {"type": "string", "enum": ["length", "highway"], "default": "length",
               "description": "Street length as is, or weighted by road class."},
    "method": {"type": "string", "enum": list(METHODS), "default": "auto",
               "description": "`exact` (MIP), `greedy`, or `auto` (exact within the time limit, else greedy)."},
    "time_limit_s": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": MAX_TIME_LIMIT_S,
                     "default": 10, "description": "Solver time limit in seconds."},
    "crs": {"type": "string", "enum": _SYSTEMS, "default": "wgs84",
            "description": "System of the chosen booths' lon/lat in the answer."},
}
_NUMBER = {"type": "number"}
_NULLABLE_NUMBER = {"type": "number", "nullable": True}
_STRING = {"type": "string"}
_ANSWER = {
    "type": "object",
    "required": ["model", "data_version", "crs", "options", "booths", "by_subdistrict", "totals", "quality",
                 "solve_time_s", "build_time_s"],
    "properties": {
        "model": {"type": "string", "enum": list(MODELS)}, "data_version": {"type": "integer"},
        "crs": {"type": "string", "enum": _SYSTEMS}, "options": {"type": "object"},
        "booths": {"type": "array", "items": {"type": "object", "required": ["id", "lon", "lat", "newly_covered_m"],
                                              "properties": {"id": _STRING, "address": _STRING,
                                                             "subdistrict": _STRING, "status": _STRING,
                                                             "lon": _NUMBER, "lat": _NUMBER,
                                                             "newly_covered_m": _NUMBER}}},
        "by_subdistrict": {"type": "array", "items": {"type": "object", "properties": {
            "code": _STRING, "name": _STRING, "length_m": _NUMBER, "covered_before_m": _NUMBER,
            "covered_after_m": _NUMBER, "share_before": _NUMBER, "share_after": _NUMBER}}},
        "totals": {"type": "object", "properties": {k: _NUMBER for k in (
            "length_m", "covered_before_m", "covered_after_m", "share_before", "share_after")}},
        "quality": {"type": "object", "required": ["status", "text"], "properties": {
            "status": _STRING, "text": _STRING, "method": _STRING, "gap": _NULLABLE_NUMBER,
            "notes": {"type": "array", "items": _STRING}, "objective": _NULLABLE_NUMBER,
            "upper_bound": _NULLABLE_NUMBER, "unit": _STRING, "booths": {"type": "integer", "nullable": True},
            "lower_bound": {"type": "integer", "nullable": True}, "reachable_share": _NULLABLE_NUMBER}},
        "solve_time_s": _NUMBER, "build_time_s": _NUMBER,
    },
}
_SUMMARY_PROPERTIES: dict[str, Any] = {
    "id": _STRING, "created_at": {"type": "string", "format": "date-time"}, "name": _STRING,
    "created_by": _STRING, "data_version": {"type": "integer"}, "crs": {"type": "string", "enum": _SYSTEMS},
    "parameters": {"type": "object"}, "marked_planned": {"type": "array", "items": _STRING},
    "planned_data_version": {"type": "integer", "nullable": True},
}
_SUMMARY_REQUIRED = ["id", "created_at", "name", "data_version", "parameters", "marked_planned"]
OPENAPI_COMPONENTS: dict[str, dict[str, Any]] = {"schemas": {
    "SitingRequest": {"type": "object", "additionalProperties": False, "properties": _OPTION_PROPERTIES},
    "ScenarioRequest": {
        "type": "object", "additionalProperties": False, "required": ["name"],
        "properties": {"name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS, "pattern": r"\S",
                                "description": "What the scenario is called (e.g. 2027 第一批)."},
                       "mark_planned": {"type": "boolean", "default": False,
                                        "description": "Set the chosen booths' status to `planned` (audited)."},
                       **_OPTION_PROPERTIES}},
    "SitingAnswer": _ANSWER,
    "ScenarioSummary": {"type": "object", "required": _SUMMARY_REQUIRED, "properties": _SUMMARY_PROPERTIES},
    "Scenario": {"type": "object", "required": [*_SUMMARY_REQUIRED, "result"],
                 "properties": {**_SUMMARY_PROPERTIES, "result": {"$ref": "#/components/schemas/SitingAnswer"}}},
}}


def _json(description: str, schema: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _errors(*codes: str) -> dict[str, Any]:
    text = {"400": "A bad or unknown field (problem+json naming it in `param`), or a body that is not a JSON "
                   "object of at most 64 KB.",
            "401": "Not signed in: send `Authorization: Bearer <token>` (or sign in at /admin/login).",
            "403": "An editor marking a booth outside their district/subdistrict, or (session) no CSRF token.",
            "404": "No scenario with that id.",
            "409": "A chosen booth was converted or removed since the plan was made: solve again.",
            "429": "Too many requests from this address (rate limit; see Retry-After).",
            "503": "The data store can't be read or written now."}
    return {code: openapi.problem(text[code]) for code in codes}


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/siting": {"post": {
        "operationId": "siting", "tags": ["siting"], "summary": "Which booths to convert next",
        "description": "Solve one siting question on the current data: the chosen booths (lon/lat in `crs`), covered "
                       "street length before and after per subdistrict, and how good the answer is.",
        "parameters": [], "requestBody": _body("SitingRequest"),
        "responses": {"200": _json("The plan.", "SitingAnswer"), **_errors("400", "429", "503")}}},
    "/api/v1/siting/scenarios": {
        "get": {"operationId": "list_scenarios", "tags": ["siting"], "summary": "Saved scenarios",
                "description": "Every saved scenario, oldest first, without its result.", "parameters": [],
                "responses": {"200": {"description": "The scenarios.", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["scenarios"], "properties": {"scenarios": {
                        "type": "array", "items": {"$ref": "#/components/schemas/ScenarioSummary"}}}}}}},
                    **_errors("400", "429", "503")}},
        "post": {"operationId": "save_scenario", "tags": ["siting"], "summary": "Solve and save a scenario",
                 "description": "Solve on the current data and save the decision record; with `mark_planned` the "
                                "chosen booths become `planned` (an audited change). Needs a signed-in user; an "
                                "editor may only mark booths in their district/subdistrict.",
                 "parameters": [], "security": [{"bearer": []}], "requestBody": _body("ScenarioRequest"),
                 "responses": {"201": _json("The saved scenario.", "Scenario"),
                               **_errors("400", "401", "403", "409", "429", "503")}}},
    "/api/v1/siting/scenarios/{scenario_id}": {"get": {
        "operationId": "get_scenario", "tags": ["siting"], "summary": "One saved scenario, with its result",
        "description": "The record in full: parameters, data version, result, booths marked planned.",
        "parameters": [{"name": "scenario_id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": _json("The scenario.", "Scenario"), **_errors("400", "404", "429", "503")}}},
}
