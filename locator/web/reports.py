"""Courier reports: anyone may say a station is closed when it should be open, an amenity is missing or broken,
or the station is in the wrong place; editors see a queue and resolve them.

- ``GET/POST /report/<station_id>``: a small page (linked from each station on the courier page), no account,
  CSRF-protected like every form;
- ``POST /api/v1/stations/<station_id>/reports``: the same as JSON ``{"kind": ..., "note": ...}``;
- ``GET /api/v1/reports`` and ``POST /api/v1/reports/<id>/resolve``: the queue, for signed-in editors
  (only stations in their scope) and admins.

Reports are rate-limited per client IP (``REPORT_RATE_LIMIT``, default 5 per 10 minutes) with the shared
limiter of ``locator.web.ops`` (Redis when reachable, per worker otherwise); the stored client is a keyed
hash of the IP, not the IP.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from locator.errors import InvalidParameter, NotFound, TooManyRequests, UnknownParameter
from locator.store.records import REPORT_KINDS, REPORT_STATUSES
from locator.web import auth, edit_api, i18n, openapi, ops, params
from locator.web.params import Param

bp = Blueprint("reports", __name__)
MAX_NOTE_CHARS = 500

TEXT: dict[str, tuple[str, str]] = {
    "title": ("报告问题", "Report a problem"),
    "intro": ("发现这个驿站有问题？告诉我们，工会工作人员会处理。无需登录。",
              "Something wrong with this station? Tell us and union staff will look into it. No account needed."),
    "kind": ("问题类型", "What is wrong"), "note": ("补充说明（可选）", "Details (optional)"),
    "send": ("提交", "Send"), "thanks": ("谢谢！报告已收到。", "Thank you! Your report was received."),
    "back": ("返回驿站列表", "Back to the station list"),
    "too_many": ("提交太频繁，请稍后再试。", "Too many reports from here; please try again later."),
    "choose_kind": ("请选择问题类型。", "Please choose what is wrong."),
    "closed_when_open": ("应开放却关着", "Closed when it should be open"),
    "amenity_problem": ("设施缺失或损坏", "Amenity missing or broken"),
    "wrong_location": ("位置不对", "Wrong location"),
}


def _lang() -> str:
    return i18n.choose_language(query=request.args.get("lang"), accept_language=request.accept_languages,
                                default=current_app.config.get("LANGUAGE"))


def _client() -> str:
    key = str(current_app.secret_key or "").encode("utf-8")
    return hmac.new(key, ops.client_id().encode("utf-8"), hashlib.sha256).hexdigest()[:16]


def _station(station_id: str) -> dict[str, Any]:
    record = edit_api.snapshot_record("stations", station_id)
    if record is None:
        raise NotFound(f"no station with id {station_id[:100]!r}", param="station_id")
    return record


def file_report(station_id: str, kind: object, note: object) -> int:
    _station(station_id)
    if not isinstance(kind, str) or kind not in REPORT_KINDS:
        raise InvalidParameter(f"kind must be one of {', '.join(REPORT_KINDS)}", param="kind",
                               valid=list(REPORT_KINDS))
    if not isinstance(note, str) or len(note) > MAX_NOTE_CHARS or "\x00" in note:
        raise InvalidParameter(f"note must be text of at most {MAX_NOTE_CHARS} characters", param="note")
    ops.check_rate("report", current_app.config.get("REPORT_RATE_LIMIT"))
    return auth.records().add_report(station_id=station_id, kind=kind, note=note.strip(), client=_client())


@bp.route("/report/<station_id>", methods=["GET", "POST"])
def page(station_id: str) -> ResponseReturnValue:
    lang = _lang()
    station = _station(station_id)
    state, status = "form", 200
    if request.method == "POST":
        auth.check_csrf()
        try:
            file_report(station_id, request.form.get("kind"), request.form.get("note", ""))
            state = "thanks"
        except TooManyRequests as error:
            state, status = "too_many", 429
            retry = str(error.extra.get("retry_after_s", 60))
        except InvalidParameter:
            state, status = "choose_kind", 400
    response = Response(render_template(
        "report.html", station=station, state=state, kinds=REPORT_KINDS, lang=lang, html_lang=i18n.html_lang(lang),
        t=lambda key: TEXT[key][1 if lang == "en" else 0]), status=status, mimetype="text/html")
    if status == 429:
        response.headers["Retry-After"] = retry
    return response


@bp.post("/api/v1/stations/<station_id>/reports")
def report_api(station_id: str) -> ResponseReturnValue:
    params.parse_query("edit", request.args)
    body = edit_api.json_body()
    unknown = sorted(set(body) - {"kind", "note"})
    if unknown:
        raise UnknownParameter(f"unknown field {unknown[0][:40]!r}; valid: kind, note", param=unknown[0][:100])
    report_id = file_report(station_id, body.get("kind"), body.get("note", ""))
    return jsonify({"id": report_id, "station_id": station_id, "status": "open"}), 201


def _scoped_station_ids(user) -> list[str] | None:  # noqa: ANN001
    if user.role == "admin":
        return None
    stations = edit_api._state().current().layer("stations")
    rows = stations.drop(columns=stations.geometry.name).to_dict("records")
    return [r["id"] for r in rows if auth.in_scope(user, r)]


@bp.get("/api/v1/reports")
def queue() -> ResponseReturnValue:
    query = params.parse_query("reports", request.args)
    user = auth.require_user()
    status = None if query["status"] == "all" else str(query["status"])
    items = auth.records().reports(status=status, station_ids=_scoped_station_ids(user))
    return jsonify({"count": len(items), "items": items})


@bp.post("/api/v1/reports/<int:report_id>/resolve")
def resolve(report_id: int) -> ResponseReturnValue:
    params.parse_query("edit", request.args)
    user = auth.require_user()
    body = edit_api.json_body()
    unknown = sorted(set(body) - {"resolution"})
    if unknown:
        raise UnknownParameter(f"unknown field {unknown[0][:40]!r}; valid: resolution", param=unknown[0][:100])
    resolution = body.get("resolution", "")
    if not isinstance(resolution, str) or len(resolution) > 1000:
        raise InvalidParameter("resolution must be text of at most 1000 characters", param="resolution")
    report = auth.records().report(report_id)
    ids = _scoped_station_ids(user)
    if ids is not None and report["station_id"] not in ids:
        from locator.errors import Forbidden

        raise Forbidden("this report is about a station outside your scope", param="report_id")
    return jsonify(auth.records().resolve_report(report_id, username=user.username, resolution=resolution))


def _read_status(raw: str, name: str) -> str:
    value = raw.strip().lower()
    if value not in (*REPORT_STATUSES, "all"):
        raise InvalidParameter(f"{name} must be open, resolved or all", param=name, valid=[*REPORT_STATUSES, "all"])
    return value


params.ENDPOINTS["reports"] = (Param("status", "Which reports: open (default), resolved or all.",
                                     {"type": "string", "enum": [*REPORT_STATUSES, "all"], "default": "open"},
                                     _read_status, "open", default="open"),)

_REPORT = {"type": "object", "properties": {k: {"type": "string"} for k in (
    "station_id", "kind", "note", "created_at", "status", "resolved_by", "resolved_at", "resolution")}}
_REPORT["properties"]["id"] = {"type": "integer"}
OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/stations/{station_id}/reports": {"post": {
        "operationId": "report_station", "summary": "Report a problem with a station (no account)", "tags": ["reports"],
        "description": "Closed when it should be open, an amenity missing or broken, or the wrong location. "
                       "Rate-limited per client (REPORT_RATE_LIMIT).", "x-params": "edit",
        "parameters": [{"name": "station_id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["kind"], "additionalProperties": False, "properties": {
                "kind": {"type": "string", "enum": list(REPORT_KINDS)},
                "note": {"type": "string", "maxLength": MAX_NOTE_CHARS}}}}}},
        "responses": {"201": {"description": "Stored.", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"id": {"type": "integer"}}}}}},
            **{c: openapi.problem(d) for c, d in (("400", "Bad field."), ("404", "No such station."),
                                                  ("413", "Body too large."), ("429", "Too many reports from here."),
                                                  ("503", "The store can't be written."))}}}},
    "/api/v1/reports": {"get": {
        "operationId": "report_queue", "summary": "Open reports (editors: their stations)", "tags": ["reports"],
        "description": "The report queue.", "x-params": "reports", "security": [{"bearer": []}],
        "parameters": params.openapi_parameters("reports"),
        "responses": {"200": {"description": "Reports, newest first.", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"count": {"type": "integer"}, "items": {
                "type": "array", "items": _REPORT}}}}}},
            **{c: openapi.problem(d) for c, d in (("400", "Bad parameter."), ("401", "Not signed in."),
                                                  ("429", "Too many requests."), ("503", "Store unavailable."))}}}},
    "/api/v1/reports/{report_id}/resolve": {"post": {
        "operationId": "resolve_report", "summary": "Resolve a report", "tags": ["reports"], "x-params": "edit",
        "description": "Mark a report resolved, with a note.", "security": [{"bearer": []}],
        "parameters": [{"name": "report_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False, "properties": {
                "resolution": {"type": "string", "maxLength": 1000}}}}}},
        "responses": {"200": {"description": "The resolved report.", "content": {"application/json": {
            "schema": _REPORT}}},
            **{c: openapi.problem(d) for c, d in (("400", "Bad field."), ("401", "Not signed in."),
                                                  ("403", "Outside your scope, or missing CSRF token."),
                                                  ("404", "No such report."), ("413", "Body too large."),
                                                  ("429", "Too many requests."), ("503", "Store unavailable."))}}}},
}
