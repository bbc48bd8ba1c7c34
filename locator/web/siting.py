"""Blueprint `siting`: which former testing booths to convert next (POST /api/v1/siting), and saved scenarios.

Requests are bounded JSON bodies; every field is checked and a bad one is answered with problem+json naming
it (``param``). The planner page's scenario panel reads the same endpoints:

- ``POST /api/v1/siting``: solve; answers chosen booths (id, address, lon/lat in ``crs``), covered street
  length before and after per subdistrict, the answer's quality (``optimal`` or ``within X% of optimal``) and
  solve time;
- ``POST /api/v1/siting/scenarios``: solve again on the current data and save the decision record
  (parameters, data version, results); with ``mark_planned`` the chosen booths get status ``planned``;
- ``GET /api/v1/siting/scenarios`` and ``GET /api/v1/siting/scenarios/<id>``: the saved records.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from locator.core.siting import SitingOptions, mark_planned, plan, result_to_dict
from locator.crs import parse_coord_system
from locator.errors import InvalidParameter, UnknownParameter
from locator.store.scenarios import ScenarioStore, scenario_store_for
from locator.web.state import DataState

bp = Blueprint("siting", __name__)

MAX_BODY_BYTES = 64 * 1024
MAX_IDS = 2000
_FIELDS = {f.name: f for f in dataclasses.fields(SitingOptions)}
_REQUEST_ONLY = ("crs",)


@bp.post("/api/v1/siting")
def siting() -> ResponseReturnValue:
    body = _json_body()
    system = parse_coord_system(str(body.pop("crs", "wgs84")), param="crs")
    options = read_options(body)
    result = plan(data_state().current(), options)
    return jsonify(result_to_dict(result, system=system))


@bp.post("/api/v1/siting/scenarios")
def save_scenario() -> ResponseReturnValue:
    body = _json_body()
    name = body.pop("name", "")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise InvalidParameter("name must be a non-empty string of at most 200 characters", param="name")
    mark = body.pop("mark_planned", False)
    if not isinstance(mark, bool):
        raise InvalidParameter("mark_planned must be true or false", param="mark_planned")
    system = parse_coord_system(str(body.pop("crs", "wgs84")), param="crs")
    options = read_options(body)
    state = data_state()
    result = plan(state.current(), options)
    answer = result_to_dict(result, system=system)
    chosen = [b["id"] for b in answer["booths"]]  # type: ignore[union-attr, index]
    planned_version = None
    if mark and chosen and result.answer.status != "infeasible":
        rows = mark_planned(state.current().layer("booths"), chosen)
        planned_version = state.store.write({"booths": rows}, mode="upsert")
        state.reload()
    record = _scenarios().save({"name": name.strip(), "data_version": result.data_version,
                                "parameters": answer["options"], "crs": system, "marked_planned": chosen if
                                planned_version is not None else [], "planned_data_version": planned_version,
                                "result": answer})
    return jsonify(record), 201


@bp.get("/api/v1/siting/scenarios")
def list_scenarios() -> ResponseReturnValue:
    return jsonify({"scenarios": _scenarios().list()})


@bp.get("/api/v1/siting/scenarios/<scenario_id>")
def get_scenario(scenario_id: str) -> ResponseReturnValue:
    return jsonify(_scenarios().get(scenario_id))


def data_state() -> DataState:
    from locator.web import data_state as current  # the package imports this module: resolve at call time

    return current()


def _scenarios() -> ScenarioStore:
    return scenario_store_for(str(current_app.config["STORE"]))


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
        raise UnknownParameter(f"unknown field {unknown[0]!r}; valid: {', '.join([*_FIELDS, *_REQUEST_ONLY])}",
                               param=unknown[0], unknown=unknown)
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
