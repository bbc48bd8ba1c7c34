"""Writes: create, update, close, reopen stations and booths, convert a booth, revert a change, import a file.

Every write goes the same way (:func:`edit`): under the records' edit lock, read the record fresh from the
store, settle any unconfirmed log entry, compare the version the caller read (``If-Match``; the admin form's
hidden field) with the stored one (412 with the current record and ETag when they differ, 428 when the API
call sent none), check the user's scope on the record before and after, validate against ``locator.model``,
log the change (who, when, old and new value of every field), upsert through the Store, and reload this
worker's snapshot. Other workers see the new data version within RELOAD_SECONDS.

Views hold no try/except; errors are ``locator.errors`` and become problem+json.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
from flask import Blueprint, Response, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.utils import secure_filename

from locator import hours, model
from locator.config import service_area_bounds
from locator.crs import lonlat_to_work_xy, parse_coord_system, to_wgs84, work_xy_to_lonlat
from locator.errors import (
    Conflict,
    Forbidden,
    InvalidParameter,
    LocatorError,
    NotFound,
    OutsideServiceArea,
    PreconditionFailed,
    StoreUnavailable,
    UnknownParameter,
    ValidationFailed,
)
from locator.store.records import User, record_version
from locator.web import auth, openapi, params

log = logging.getLogger(__name__)
bp = Blueprint("edit_api", __name__)

EDIT_LAYERS = {"stations": ("station_id", "st", "station"), "booths": ("booth_id", "bo", "booth")}
CLOSE_STATUS = {"stations": "closed", "booths": "removed"}
REOPEN_STATUS = {"stations": "open", "booths": "candidate"}
MAX_TEXT_CHARS = 500
MAX_BODY_BYTES = 64 * 1024
_ID = re.compile(r"^[A-Za-z0-9._:\-\u4e00-\u9fff]{1,100}$")


class PreconditionRequired(LocatorError):
    status, slug, title = 428, "precondition-required", "Precondition required"


def _state():  # noqa: ANN202 - DataState; imported late because locator.web imports this module
    from locator.web import data_state

    return data_state()


# ---------------------------------------------------------------------------------------------------------------
# Records as plain dicts: model columns plus WGS-84 lon/lat


def record_from_frame(layer: str, frame: gpd.GeoDataFrame, record_id: str) -> dict[str, Any] | None:
    schema = model.layer_schema(layer)
    hits = (frame[schema.key] == record_id).to_numpy().nonzero()[0]
    if not len(hits):
        return None
    row = frame.iloc[int(hits[0])]
    record: dict[str, Any] = {c.name: (bool(row[c.name]) if c.kind == "bool" else str(row[c.name]))
                              for c in schema.columns}
    geom = row.geometry
    if geom is None or geom.is_empty:
        record["lon"] = record["lat"] = None
    else:
        lon, lat = work_xy_to_lonlat(geom.x, geom.y, work=frame.crs.to_string())
        record["lon"], record["lat"] = round(float(lon), 7), round(float(lat), 7)
    return record


def read_record(layer: str, record_id: str) -> dict[str, Any] | None:
    """The record as the store holds it now (not the worker's snapshot, which may be seconds old)."""
    return record_from_frame(layer, _state().store.read(layer), record_id)


def snapshot_record(layer: str, record_id: str) -> dict[str, Any] | None:
    return record_from_frame(layer, _state().current().layer(layer), record_id)


def etag(record: dict[str, Any] | None) -> str:
    return f'"{record_version(record)}"'


def _frame(layer: str, rows: list[dict[str, Any]], work: str) -> gpd.GeoDataFrame:
    x, y = lonlat_to_work_xy([r["lon"] for r in rows], [r["lat"] for r in rows], work=work)
    data = [{k: v for k, v in r.items() if k not in ("lon", "lat")} for r in rows]
    return model.conform(layer, gpd.GeoDataFrame(data, geometry=gpd.points_from_xy(x, y), crs=work))


def diff_fields(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, list[object]]:
    """Field -> [old, new] for every field that differs (old None for a new record)."""
    return {k: [None if old is None else old.get(k), v] for k, v in new.items() if old is None or old.get(k) != v}


def _validate(layer: str, record: dict[str, Any]) -> None:
    problems = model.validate(layer, _frame(layer, [record], "EPSG:4326"))
    if record.get("lon") is None:
        problems = [p for p in problems if p.column != "geometry"]
        problems.append(model.Problem(1, "lon,lat", "no coordinates"))
    if problems:
        first = problems[0]
        raise ValidationFailed(f"{first.column}: {first.reason}", param=first.column,
                               problems=[{"field": p.column, "reason": p.reason} for p in problems])


# ---------------------------------------------------------------------------------------------------------------
# Reading a request body into field values


def json_body() -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise InvalidParameter(f"request body larger than {MAX_BODY_BYTES} bytes", param="body")
    body = request.get_json(silent=True) if request.data else {}
    if not isinstance(body, dict):
        raise InvalidParameter("the request body must be a JSON object", param="body")
    return body


def apply_fields(layer: str, record: dict[str, Any], body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """``record`` with the fields in ``body`` applied (text checked, amenities and hours read, lon/lat in
    ``crs`` converted to WGS-84). Unknown fields are a 400 naming the field."""
    schema = model.layer_schema(layer)
    allowed = set(schema.column_names) | {"lon", "lat", "crs"}
    if not creating:
        allowed.discard(schema.key)
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise UnknownParameter(f"unknown field {unknown[0][:40]!r}; valid: {', '.join(sorted(allowed))}",
                               param=unknown[0][:100], unknown=[u[:100] for u in unknown[:10]])
    out = dict(record)
    for key, value in body.items():
        if key in ("lon", "lat", "crs"):
            continue
        if key == "amenities" and isinstance(value, list):
            if not all(isinstance(v, str) for v in value) or len(value) > 50:
                raise InvalidParameter("amenities must be a list of amenity names", param="amenities")
            keys, _ = model.parse_amenities(value, strict=True)
            out[key] = model.format_amenities(keys)
            continue
        if not isinstance(value, str):
            raise InvalidParameter(f"{key} must be a string", param=key)
        if len(value) > MAX_TEXT_CHARS or "\x00" in value:
            raise InvalidParameter(f"{key} must be text of at most {MAX_TEXT_CHARS} characters", param=key)
        value = value.strip()
        if key == "amenities":
            keys, _ = model.parse_amenities(value, strict=True)
            value = model.format_amenities(keys)
        if key == "opening_hours":
            read = hours.normalise(value)
            out["opening_hours"] = read.osm or ""
            if "opening_hours_raw" not in body:
                out["opening_hours_raw"] = value
            continue
        if key == schema.key and not _ID.match(value):
            raise InvalidParameter("id: 1-100 letters, digits, Chinese characters or . _ : -", param="id")
        out[key] = value
    if {"lon", "lat"} & set(body) or "crs" in body:
        out["lon"], out["lat"] = _point(body)
    return out


def _point(body: dict[str, Any]) -> tuple[float, float]:
    for key in ("lon", "lat"):
        value = body.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidParameter(f"{key} must be a number (lon and lat go together, with crs)", param=key)
    if "crs" not in body:
        raise InvalidParameter("say which system lon/lat are in: crs = wgs84, gcj02 or bd09", param="crs")
    if not isinstance(body["crs"], str):
        raise InvalidParameter("crs must be wgs84, gcj02 or bd09", param="crs")
    system = parse_coord_system(body["crs"], param="crs")
    lon, lat = float(body["lon"]), float(body["lat"])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidParameter("lon must be in [-180, 180] and lat in [-90, 90]", param="lon,lat")
    lon_w, lat_w = (float(v) for v in to_wgs84(lon, lat, system))
    minlon, minlat, maxlon, maxlat = service_area_bounds(current_app.config["SERVICE_AREA"])
    if not (minlon <= lon_w <= maxlon and minlat <= lat_w <= maxlat):
        raise OutsideServiceArea(f"({lon}, {lat}) in {system} is outside the service area", param="lon,lat")
    return round(lon_w, 7), round(lat_w, 7)


def blank_record(layer: str) -> dict[str, Any]:
    schema = model.layer_schema(layer)
    record: dict[str, Any] = {c.name: c.default for c in schema.columns}
    record["source"] = "editor"
    record["lon"] = record["lat"] = None
    return record


# ---------------------------------------------------------------------------------------------------------------
# The one way to write


def _match(current: dict[str, Any], if_match: str | None, *, required: bool) -> None:
    if if_match is None:
        if required:
            g.locator_etag = etag(current)
            raise PreconditionRequired("send If-Match with the ETag you read (GET the record first)",
                                       param="If-Match", etag=etag(current))
        return
    g.locator_etag = etag(current)
    wanted = [tag.strip().removeprefix("W/") for tag in if_match.split(",")]
    if "*" in wanted or etag(current) in wanted:
        return
    raise PreconditionFailed("the record changed since you read it: look at the current version and apply your "
                             "change again", param="If-Match", etag=etag(current), record=current)


def commit(user: User, planned: list[tuple[str, dict[str, Any] | None, dict[str, Any], str]], *,
           reverts: int | None = None, note: str = "") -> int:
    """Log, write (one all-or-nothing upsert of every record in ``planned``), confirm, reload.

    ``planned`` holds (layer, old record or None, new record, action). Call under ``edit_lock``.
    """
    store, journal = _state().store, auth.records()
    entries = [journal.begin_change(username=user.username, layer=layer, record_id=str(new["id"]), action=action,
                                    fields=diff_fields(old, new), reverts=reverts, note=note)
               for layer, old, new, action in planned]
    by_layer: dict[str, list[dict[str, Any]]] = {}
    for layer, _old, new, _action in planned:
        by_layer.setdefault(layer, []).append(new)
    try:
        version = int(store.write({layer: _frame(layer, rows, store.work_crs) for layer, rows in by_layer.items()},
                                  mode="upsert"))
    except BaseException:
        for entry in entries:
            try:
                journal.finish_change(entry, ok=False)
            except StoreUnavailable:  # settled by reconcile() once the database is back
                log.warning("change %s left pending: the records database is unreachable", entry)
        raise
    for entry in entries:
        try:
            journal.finish_change(entry, ok=True, data_version=version)
        except StoreUnavailable:
            log.warning("change %s written at data version %s but left pending", entry, version)
    _state().reload()
    return version


def edit(user: User, layer: str, record_id: str, change: Callable[[dict[str, Any]], dict[str, Any]], *,
         if_match: str | None, action: str, require_match: bool = True) -> tuple[dict[str, Any], int | None]:
    """Apply ``change`` to the stored record under the lock; (new record, data version or None if unchanged)."""
    journal = auth.records()
    with journal.edit_lock():
        current = read_record(layer, record_id)
        if current is None:
            raise NotFound(f"no {EDIT_LAYERS[layer][2]} with id {record_id[:100]!r}", param=EDIT_LAYERS[layer][0])
        journal.reconcile(layer, record_id, current)
        _match(current, if_match, required=require_match)
        auth.check_scope(user, current, what=f"{layer} {record_id}")
        new = change(dict(current))
        auth.check_scope(user, new, what=f"the new {layer} {record_id}")
        _validate(layer, new)
        if new == current:
            return current, None
        return new, commit(user, [(layer, current, new, action)])


def create(user: User, layer: str, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    record = apply_fields(layer, blank_record(layer), body, creating=True)
    if not record.get("id"):
        prefix = EDIT_LAYERS[layer][1]
        record["id"] = model.stable_id(prefix, record.get("name", ""), record["address"],
                                       f"{record['lon']:.5f}" if record["lon"] is not None else "",
                                       f"{record['lat']:.5f}" if record["lat"] is not None else "")
    auth.check_scope(user, record, what=f"the new {layer} record")
    _validate(layer, record)
    with auth.records().edit_lock():
        if read_record(layer, record["id"]) is not None:
            raise Conflict(f"{layer} {record['id']!r} exists", param="id")
        return record, commit(user, [(layer, None, record, "create")])


def convert_booth(user: User, booth_id: str, body: dict[str, Any], *, if_match: str | None,
                  require_match: bool = True) -> tuple[dict[str, Any], dict[str, Any], int]:
    """Make a station of a booth: station ``converted_from_booth``, booth ``converted`` with ``station_id``."""
    journal = auth.records()
    with journal.edit_lock():
        booth = read_record("booths", booth_id)
        if booth is None:
            raise NotFound(f"no booth with id {booth_id[:100]!r}", param="booth_id")
        journal.reconcile("booths", booth_id, booth)
        _match(booth, if_match, required=require_match)
        auth.check_scope(user, booth, what=f"booth {booth_id}")
        if booth["status"] == "converted":
            raise Conflict(f"booth {booth_id} is already converted (station {booth['station_id']})", param="booth_id")
        base = {**blank_record("stations"), "address": booth["address"], "district": booth["district"],
                "subdistrict": booth["subdistrict"], "lon": booth["lon"], "lat": booth["lat"], "status": "open",
                "converted_from_booth": booth_id}
        station = apply_fields("stations", base, body, creating=True)
        station["converted_from_booth"] = booth_id
        if not station.get("id"):
            station["id"] = model.stable_id("st", station["name"], station["address"], f"{station['lon']:.5f}",
                                            f"{station['lat']:.5f}")
        if read_record("stations", station["id"]) is not None:
            raise Conflict(f"station {station['id']!r} exists", param="id")
        new_booth = {**booth, "status": "converted", "station_id": station["id"]}
        auth.check_scope(user, station, what="the new station")
        _validate("stations", station)
        _validate("booths", new_booth)
        version = commit(user, [("stations", None, station, "create"), ("booths", booth, new_booth, "convert")])
    return station, new_booth, version


def revert(user: User, change_id: int) -> tuple[dict[str, Any], int | None]:
    """Undo one change's fields, as a new audited change; 409 if a field has moved on since."""
    entry = auth.records().change(change_id)
    if entry["state"] != "done" or entry["action"] == "import":
        raise Conflict(f"change {change_id} is {entry['state']} ({entry['action']}): only applied record changes "
                       "can be reverted", param="change_id")
    if entry["action"] == "create":
        raise Conflict("a created record is not deleted: close it instead", param="change_id")
    fields = entry["fields"]

    def undo(current: dict[str, Any]) -> dict[str, Any]:
        moved = [k for k, (_old, new) in fields.items() if current.get(k) != new]
        if moved:
            raise Conflict(f"{', '.join(moved)} changed again since change {change_id}: edit by hand",
                           param="change_id", fields=moved, etag=etag(current), record=current)
        return {**current, **{k: old for k, (old, _new) in fields.items()}}

    layer = entry["layer"]
    journal = auth.records()
    with journal.edit_lock():
        current = read_record(layer, entry["record_id"])
        if current is None:
            raise NotFound(f"{layer} {entry['record_id']} no longer exists", param="change_id")
        auth.check_scope(user, current, what=f"{layer} {entry['record_id']}")
        new = undo(current)
        auth.check_scope(user, new, what=f"the reverted {layer} {entry['record_id']}")
        _validate(layer, new)
        return new, commit(user, [(layer, current, new, "revert")], reverts=change_id)


# ---------------------------------------------------------------------------------------------------------------
# Uploads: dry run first (the report and an upload id), then commit


def _upload_dir() -> Path:
    root = Path(tempfile.gettempdir()) / "locator-uploads"
    root.mkdir(mode=0o700, exist_ok=True)
    return root


def _import_scope(user: User) -> dict[str, str] | None:
    """An editor imports only rows of their district/subdistrict (the importer rejects the rest, with reasons)."""
    return None if user.role == "admin" else {"district": user.district, "subdistrict": user.subdistrict}


def stage_upload(user: User, *, layer: str, upload: Any, system: str | None, strict: bool) -> dict[str, Any]:
    from locator.io.importer import import_file

    if layer not in model.LAYERS:
        raise InvalidParameter(f"layer must be one of {', '.join(model.LAYERS)}", param="layer")
    if user.role != "admin" and layer not in ("stations", "booths"):
        raise Forbidden("editors import stations and booths; streets and subdistricts need an admin", param="layer")
    if upload is None or not upload.filename:
        raise InvalidParameter("choose a file to upload", param="file")
    original = Path(upload.filename)
    name = secure_filename(original.name) or f"upload{original.suffix.lower()}"
    if Path(name).suffix.lower() != original.suffix.lower():
        name = f"upload{original.suffix.lower()}"
    upload_id = uuid.uuid4().hex
    folder = _upload_dir() / upload_id
    folder.mkdir(mode=0o700)
    path = folder / name
    upload.save(path)
    meta = {"layer": layer, "crs": system, "strict": strict, "username": user.username, "file": original.name[:200],
            "path": str(path)}
    (folder / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    try:
        report = import_file(_state().store, layer, path, system=system or None, dry_run=True, strict=strict,
                             service_area=service_area_bounds(current_app.config["SERVICE_AREA"]),
                             scope=_import_scope(user))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return {"upload_id": upload_id, "report": report.to_dict(), "text": report.to_text(lang="zh")}


def commit_upload(user: User, upload_id: str) -> dict[str, Any]:
    from locator.io.importer import import_file

    if not re.fullmatch(r"[0-9a-f]{32}", upload_id):
        raise NotFound("no such upload", param="upload_id")
    folder = _upload_dir() / upload_id
    if not (folder / "meta.json").exists():
        raise NotFound("no such upload (committed already, or expired)", param="upload_id")
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    if meta["username"] != user.username and user.role != "admin":
        raise NotFound("no such upload", param="upload_id")
    journal = auth.records()
    with journal.edit_lock():
        entry = journal.begin_change(username=user.username, layer=meta["layer"], record_id=f"import:{meta['file']}",
                                     action="import", fields={"file": [None, meta["file"]]})
        try:
            report = import_file(_state().store, meta["layer"], meta["path"], system=meta["crs"] or None,
                                 strict=meta["strict"],
                                 service_area=service_area_bounds(current_app.config["SERVICE_AREA"]),
                                 scope=_import_scope(user))
        except BaseException:
            journal.finish_change(entry, ok=False)
            raise
        journal.finish_change(entry, ok=report.written, data_version=report.data_version)
    shutil.rmtree(folder, ignore_errors=True)
    _state().reload()
    return {"report": report.to_dict(), "text": report.to_text(lang="zh")}


# ---------------------------------------------------------------------------------------------------------------
# Routes


def _answer(layer: str, record: dict[str, Any], version: int | None, status: int = 200) -> Response:
    response = jsonify({"item": record, "data_version": version, "changed": version is not None})
    response.status_code = status
    response.headers["ETag"] = etag(record)
    if status == 201:
        response.headers["Location"] = f"/api/v1/{layer}/{record['id']}"
    return response


def _no_query(endpoint: str) -> None:
    params.parse_query(endpoint, request.args)


def _create_view(layer: str) -> Callable[[], ResponseReturnValue]:
    def view() -> ResponseReturnValue:
        _no_query("edit")
        user = auth.require_user()
        record, version = create(user, layer, json_body())
        return _answer(layer, record, version, 201)

    return view


def _update_view(layer: str) -> Callable[..., ResponseReturnValue]:
    def view(**ids: str) -> ResponseReturnValue:
        _no_query("edit")
        user = auth.require_user()
        body = json_body()
        record, version = edit(user, layer, ids[EDIT_LAYERS[layer][0]],
                               lambda current: apply_fields(layer, current, body, creating=False),
                               if_match=request.headers.get("If-Match"), action="update")
        return _answer(layer, record, version)

    return view


def _status_view(layer: str, action: str) -> Callable[..., ResponseReturnValue]:
    def view(**ids: str) -> ResponseReturnValue:
        _no_query("edit")
        user = auth.require_user()
        body = json_body()
        extra = set(body) - {"status"}
        if extra:
            raise UnknownParameter(f"unknown field {sorted(extra)[0][:40]!r}; valid: status", param=sorted(extra)[0])
        choices = model.layer_schema(layer).column("status").choices
        status = body.get("status", CLOSE_STATUS[layer] if action == "close" else REOPEN_STATUS[layer])
        if status not in choices:
            raise InvalidParameter(f"status must be one of {', '.join(choices)}", param="status", valid=list(choices))
        record, version = edit(user, layer, ids[EDIT_LAYERS[layer][0]], lambda c: {**c, "status": status},
                               if_match=request.headers.get("If-Match"), action=action)
        return _answer(layer, record, version)

    return view


def _history_view(layer: str) -> Callable[..., ResponseReturnValue]:
    def view(**ids: str) -> ResponseReturnValue:
        _no_query("edit")
        user = auth.require_user()
        record_id = ids[EDIT_LAYERS[layer][0]]
        current = read_record(layer, record_id)
        journal = auth.records()
        changes = journal.changes(layer, record_id)
        if current is None and not changes:
            raise NotFound(f"no {EDIT_LAYERS[layer][2]} with id {record_id[:100]!r}", param=EDIT_LAYERS[layer][0])
        auth.check_scope(user, current, what=f"{layer} {record_id}")
        journal.reconcile(layer, record_id, current)
        return jsonify({"id": record_id, "layer": layer, "etag": etag(current) if current else None,
                        "item": current, "changes": journal.changes(layer, record_id)})

    return view


for _layer, (_id_name, _prefix, _what) in EDIT_LAYERS.items():
    _base = f"/api/v1/{_layer}"
    bp.add_url_rule(_base, f"create_{_what}", _create_view(_layer), methods=["POST"])
    bp.add_url_rule(f"{_base}/<{_id_name}>", f"update_{_what}", _update_view(_layer), methods=["PATCH"])
    bp.add_url_rule(f"{_base}/<{_id_name}>/close", f"close_{_what}", _status_view(_layer, "close"), methods=["POST"])
    bp.add_url_rule(f"{_base}/<{_id_name}>/reopen", f"reopen_{_what}", _status_view(_layer, "reopen"),
                    methods=["POST"])
    bp.add_url_rule(f"{_base}/<{_id_name}>/history", f"{_what}_history", _history_view(_layer), methods=["GET"])


@bp.post("/api/v1/booths/<booth_id>/convert")
def convert(booth_id: str) -> ResponseReturnValue:
    _no_query("edit")
    user = auth.require_user()
    station, booth, version = convert_booth(user, booth_id, json_body(), if_match=request.headers.get("If-Match"))
    response = jsonify({"station": station, "booth": booth, "data_version": version})
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/stations/{station['id']}"
    response.headers["ETag"] = etag(booth)
    return response


@bp.post("/api/v1/changes/<int:change_id>/revert")
def revert_change(change_id: int) -> ResponseReturnValue:
    _no_query("edit")
    user = auth.require_user()
    record, version = revert(user, change_id)
    response = jsonify({"item": record, "data_version": version, "reverts": change_id})
    response.headers["ETag"] = etag(record)
    return response


@bp.post("/api/v1/imports")
def upload() -> ResponseReturnValue:
    _no_query("edit")
    user = auth.require_user()
    unknown = sorted(str(k) for k in set(request.form) - {"layer", "crs", "strict", "csrf_token"})
    if unknown:
        raise UnknownParameter(f"unknown field {unknown[0][:40]!r}; valid: layer, crs, strict, file",
                               param=unknown[0][:100])
    system = request.form.get("crs") or None
    if system is not None:
        system = parse_coord_system(system, param="crs")
    strict = params.read_bool(request.form.get("strict", "false") or "false", "strict")
    staged = stage_upload(user, layer=request.form.get("layer", ""), upload=request.files.get("file"),
                          system=system, strict=strict)
    return jsonify(staged), 201


@bp.post("/api/v1/imports/<upload_id>/commit")
def commit_import(upload_id: str) -> ResponseReturnValue:
    _no_query("edit")
    user = auth.require_user()
    return jsonify(commit_upload(user, upload_id))


params.ENDPOINTS["edit"] = ()


@bp.after_app_request
def _headers(response: Response) -> Response:
    """ETag on a single record's GET (``If-Match`` needs it); how to authenticate on a 401."""
    if request.endpoint in ("api.station", "api.booth") and response.status_code == 200 and request.view_args:
        layer = "stations" if request.endpoint == "api.station" else "booths"
        record = snapshot_record(layer, next(iter(request.view_args.values())))
        if record is not None:
            response.headers["ETag"] = etag(record)
    if response.status_code in (412, 428) and g.get("locator_etag"):
        response.headers["ETag"] = g.locator_etag
    if response.status_code == 401 and request.path.startswith("/api/"):
        response.headers["WWW-Authenticate"] = 'Bearer realm="locator"'
    return response



# ---------------------------------------------------------------------------------------------------------------
# This module's part of the OpenAPI document


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_ERRORS = {
    "400": "Bad field or parameter (problem+json naming it in `param`).",
    "401": "Not signed in: send `Authorization: Bearer <token>`.",
    "403": "Outside your district/subdistrict, not an admin, or (session) missing CSRF token.",
    "404": "No such record.",
    "409": "Conflict: the id exists, the booth is converted already, or a reverted field changed since.",
    "412": "The record changed since you read it: `etag` and `record` give the current version.",
    "413": "Request body larger than the limit.",
    "422": "Values that break the model's rules (`problems`), or a point outside the service area.",
    "428": "Send `If-Match` with the ETag you read.",
    "429": "Too many requests (see Retry-After).",
    "503": "The store can't be written now; nothing was changed.",
}
_JSON_ANSWER = {"type": "object", "properties": {"item": {"type": "object"}, "data_version": {
    "type": "integer", "nullable": True}, "changed": {"type": "boolean"}}}


def _input_schema(layer: str, *, creating: bool) -> dict[str, Any]:
    schema = model.layer_schema(layer)
    props: dict[str, Any] = {}
    for column in schema.columns:
        if column.name == schema.key and not creating:
            continue
        if column.name == "amenities":
            props["amenities"] = {"type": "array", "items": {"type": "string", "enum": list(model.AMENITY_KEYS)},
                                  "maxItems": 50, "description": column.description}
        elif column.choices:
            props[column.name] = {"type": "string", "enum": list(column.choices), "description": column.description}
        else:
            props[column.name] = {"type": "string", "maxLength": MAX_TEXT_CHARS, "description": column.description}
    props["lon"] = {"type": "number", "minimum": -180, "maximum": 180, "description": "Longitude in `crs`."}
    props["lat"] = {"type": "number", "minimum": -90, "maximum": 90, "description": "Latitude in `crs`."}
    props["crs"] = {"type": "string", "enum": ["wgs84", "gcj02", "bd09"], "description": "System of lon/lat."}
    return {"type": "object", "properties": props, "additionalProperties": False}


def _op(op_id: str, summary: str, *, errors: tuple[str, ...], ok: str = "200", ok_schema: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None, path: tuple[str, ...] = (), if_match: bool = False,
        multipart: bool = False, description: str = "") -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [{"name": name, "in": "path", "required": True, "schema": (
        {"type": "integer"} if name == "change_id" else {"type": "string"})} for name in path]
    if if_match:
        parameters.append({"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
                           "description": "The ETag you read; required (428 without it)."})
    operation: dict[str, Any] = {
        "operationId": op_id, "summary": summary, "description": description or summary, "tags": ["edit"],
        "parameters": parameters, "security": [{"bearer": []}], "x-params": "edit",
        "responses": {ok: {"description": "Done.",
                           "content": {"application/json": {"schema": ok_schema or _JSON_ANSWER}}},
                      **{code: openapi.problem(_ERRORS[code]) for code in ("401", "429", "503", *errors)}},
    }
    if body is not None:
        kind = "multipart/form-data" if multipart else "application/json"
        operation["requestBody"] = {"required": multipart, "content": {kind: {"schema": body}}}
    return operation


OPENAPI_COMPONENTS: dict[str, dict[str, Any]] = {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                   "description": "An API token from `locator token create`."}},
}
OPENAPI_PATHS: dict[str, dict[str, Any]] = {}
_WRITE_ERRORS = ("400", "403", "404", "412", "413", "422", "428")
for _layer, (_id_name, _prefix, _what) in EDIT_LAYERS.items():
    _base = f"/api/v1/{_layer}"
    _status_body = {"type": "object", "additionalProperties": False, "properties": {"status": {
        "type": "string", "enum": list(model.layer_schema(_layer).column("status").choices)}}}
    OPENAPI_PATHS[_base] = {"post": _op(f"create_{_what}", f"Create a {_what}", ok="201",
                                        body=_input_schema(_layer, creating=True),
                                        errors=("400", "403", "409", "413", "422"))}
    OPENAPI_PATHS[f"{_base}/{{{_id_name}}}"] = {"patch": _op(
        f"update_{_what}", f"Update a {_what}", body=_input_schema(_layer, creating=False), path=(_id_name,),
        if_match=True, errors=_WRITE_ERRORS,
        description=f"Change some fields of a {_what}; send If-Match with the ETag of your GET.")}
    for _action in ("close", "reopen"):
        OPENAPI_PATHS[f"{_base}/{{{_id_name}}}/{_action}"] = {"post": _op(
            f"{_action}_{_what}", f"{_action.capitalize()} a {_what}", body=_status_body, path=(_id_name,),
            if_match=True, errors=_WRITE_ERRORS)}
    OPENAPI_PATHS[f"{_base}/{{{_id_name}}}/history"] = {"get": _op(
        f"{_what}_history", f"Change history of a {_what}", path=(_id_name,), errors=("400", "403", "404"),
        ok_schema={"type": "object", "properties": {"changes": {"type": "array", "items": {"type": "object"}}}},
        description="Every change (who, when, old and new value per field), newest first.")}
OPENAPI_PATHS["/api/v1/booths/{booth_id}/convert"] = {"post": _op(
    "convert_booth", "Convert a booth into a station", ok="201", body=_input_schema("stations", creating=True),
    path=("booth_id",), if_match=True, errors=(*_WRITE_ERRORS, "409"),
    ok_schema={"type": "object", "properties": {"station": {"type": "object"}, "booth": {"type": "object"}}})}
OPENAPI_PATHS["/api/v1/changes/{change_id}/revert"] = {"post": _op(
    "revert_change", "Revert a change", path=("change_id",), errors=("400", "403", "404", "409", "422"),
    description="Set the fields of that change back to their old values, as a new audited change.")}
OPENAPI_PATHS["/api/v1/imports"] = {"post": _op(
    "upload_import", "Upload a file: dry run", ok="201", multipart=True, errors=("400", "403", "413", "422"),
    body={"type": "object", "required": ["layer", "file"], "properties": {
        "layer": {"type": "string", "enum": list(model.LAYERS)}, "crs": {"type": "string", "enum": [
            "wgs84", "gcj02", "bd09"]}, "strict": {"type": "boolean"}, "file": {"type": "string", "format": "binary"}}},
    ok_schema={"type": "object", "properties": {"upload_id": {"type": "string"}, "report": {"type": "object"}}},
    description="Check a file with the CLI's import (admins): the report and an upload_id to commit it with.")}
OPENAPI_PATHS["/api/v1/imports/{upload_id}/commit"] = {"post": _op(
    "commit_import", "Commit an uploaded file", path=("upload_id",), errors=("400", "403", "404", "422"),
    ok_schema={"type": "object", "properties": {"report": {"type": "object"}}})}
