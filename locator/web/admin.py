"""Blueprint `admin`: server-rendered pages for union staff to edit stations and booths (Chinese first, English).

Sign in at ``/admin/login``; every form carries the session's CSRF token and every edit form the version (ETag)
of the record it shows, so a stale save is refused (the page then shows what changed) instead of overwriting
someone else's edit. The pages call the same functions as the JSON API (``locator.web.edit_api``): one path
for every write, with the same checks, audit log and reload.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from locator import model
from locator.errors import LocatorError, PreconditionFailed, Unauthorized
from locator.store.records import REPORT_KINDS
from locator.web import auth, edit_api, i18n

bp = Blueprint("admin", __name__)

# key -> (Chinese, English)
TEXT: dict[str, tuple[str, str]] = {
    "title": ("站点管理", "Station admin"), "login": ("登录", "Sign in"), "logout": ("退出", "Sign out"),
    "username": ("用户名", "User name"), "password": ("密码", "Password"),
    "bad_login": ("用户名或密码不正确。", "Wrong user name or password."),
    "stations": ("驿站", "Stations"), "booths": ("核酸亭", "Booths"), "reports": ("问题报告", "Reports"),
    "import": ("导入文件", "Import a file"), "new": ("新建", "New"), "edit": ("编辑", "Edit"),
    "save": ("保存", "Save"), "close": ("关闭", "Close"), "reopen": ("重新开放", "Reopen"),
    "history": ("修改记录", "History"), "revert": ("撤销此修改", "Revert this change"),
    "convert": ("改建为驿站", "Convert into a station"), "resolve": ("标为已处理", "Mark resolved"),
    "saved": ("已保存。", "Saved."), "unchanged": ("没有改动。", "Nothing changed."),
    "stale": ("保存失败：此记录在您打开后已被他人修改。下面是当前内容，请重新修改后保存。",
              "Not saved: someone changed this record after you opened it. The current version is shown below; "
              "make your change again."),
    "who": ("修改人", "Who"), "when": ("时间", "When"), "what": ("内容", "What"), "action": ("操作", "Action"),
    "field": ("字段", "Field"), "old": ("原值", "Old"), "new_value": ("新值", "New"),
    "scope": ("可编辑范围", "You may edit"), "all": ("全部", "everything"),
    "crs": ("坐标系", "Coordinate system"), "lon": ("经度", "Longitude"), "lat": ("纬度", "Latitude"),
    "file": ("文件", "File"), "layer": ("图层", "Layer"), "strict": ("有错误行则全部不写", "All or nothing"),
    "check": ("检查（不写入）", "Check (writes nothing)"), "commit": ("确认导入", "Import now"),
    "dry_run_note": ("以下为检查结果，尚未写入。", "This is the check; nothing is written yet."),
    "no_reports": ("没有待处理的报告。", "No open reports."), "station": ("驿站", "Station"),
    "kind": ("类型", "Kind"), "note": ("说明", "Note"), "resolution": ("处理说明", "Resolution"),
    "error": ("出错了", "Something went wrong"), "back": ("返回", "Back"),
    "unconfirmed": ("未确认", "unconfirmed"), "recent": ("最近修改", "Recent changes"),
    "kind_closed_when_open": ("应开放却关着", "Closed when it should be open"),
    "kind_amenity_problem": ("设施缺失或损坏", "Amenity missing or broken"),
    "kind_wrong_location": ("位置不对", "Wrong location"),
}
FORM_FIELDS = {
    "stations": ("name", "address", "district", "subdistrict", "operator", "opening_hours", "phone", "status",
                 "source", "verified_at"),
    "booths": ("address", "district", "subdistrict", "status", "notes", "source"),
}


def lang() -> str:
    given = request.args.get("lang")
    if i18n.normalise_language(given):
        session["lang"] = i18n.normalise_language(given)
    return i18n.choose_language(query=session.get("lang"), accept_language=request.accept_languages,
                                default=current_app.config.get("LANGUAGE"))


def tr(key: str) -> str:
    zh, en = TEXT[key]
    return en if lang() == "en" else zh


def _page(template: str, status: int = 200, **context: Any) -> Response:
    user = auth.current_user()
    response = Response(render_template(template, t=tr, user=user, html_lang=i18n.html_lang(lang()), lang=lang(),
                                        other_lang=i18n.other_language(lang()), layers=edit_api.EDIT_LAYERS,
                                        **context), status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(LocatorError)
def _error(error: LocatorError) -> ResponseReturnValue:
    if isinstance(error, Unauthorized):
        return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
    return _page("admin_error.html", error.status, error=error)


def _user():  # noqa: ANN202 - User
    return auth.require_user()


def _safe_next(value: str | None) -> str:
    parts = urlsplit(value or "")
    return value if value and not parts.scheme and not parts.netloc and value.startswith("/admin") else "/admin"


@bp.route("/admin/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    failed = False
    if request.method == "POST":
        auth.check_csrf()
        user = auth.authenticate(request.form.get("username", ""), request.form.get("password", ""))
        if user is not None and user.active:
            auth.login_session(user)
            return redirect(_safe_next(request.args.get("next")))
        failed = True
    return _page("admin_login.html", 401 if failed else 200, failed=failed)


@bp.post("/admin/logout")
def logout() -> ResponseReturnValue:
    auth.check_csrf()
    auth.logout_session()
    return redirect(url_for("admin.login"))


@bp.get("/admin")
def index() -> ResponseReturnValue:
    user = _user()
    snapshot = edit_api._state().current()
    lists = {}
    for layer in edit_api.EDIT_LAYERS:
        frame = snapshot.layer(layer)
        rows = [r for r in frame.drop(columns=frame.geometry.name).to_dict("records") if auth.in_scope(user, r)]
        lists[layer] = sorted(rows, key=lambda r: str(r["id"]))
    station_ids = [r["id"] for r in lists["stations"]] if user.role != "admin" else None
    open_reports = auth.records().reports(station_ids=station_ids)
    return _page("admin_index.html", lists=lists, open_reports=len(open_reports),
                 recent=[c for c in auth.records().recent_changes(limit=20) if user.role == "admin"
                         or c["record_id"] in {str(r["id"]) for rows in lists.values() for r in rows}])


def _form_body(layer: str, current: dict[str, Any] | None) -> dict[str, Any]:
    """The fields a form changed (unchanged ones are left out, so re-reading hours text makes no change)."""
    body: dict[str, Any] = {}
    for name in FORM_FIELDS[layer]:
        if name not in request.form:
            continue
        value = request.form.get(name, "").strip()
        shown = (current or {}).get("opening_hours_raw") or (current or {}).get(name, "") if name == "opening_hours" \
            else (current or {}).get(name, "")
        if current is None and value == "":
            continue  # a new record keeps the model's default
        if current is None or value != str(shown or ""):
            body[name] = value
    if layer == "stations" and "amenities_shown" in request.form:
        chosen = model.format_amenities(request.form.getlist("amenities"))
        if current is None or chosen != current.get("amenities", ""):
            body["amenities"] = request.form.getlist("amenities")
    lon, lat = request.form.get("lon", "").strip(), request.form.get("lat", "").strip()
    system = request.form.get("crs", "wgs84")
    if lon or lat:
        moved = current is None or system != "wgs84" or lon != str(current.get("lon")) or lat != str(current.get("lat"))
        if moved:
            body.update(lon=_number(lon, "lon"), lat=_number(lat, "lat"), crs=system)
    if current is None and request.form.get("id", "").strip():
        body["id"] = request.form["id"].strip()
    return body


def _number(text: str, name: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text  # apply_fields names the field


def _layer(layer: str) -> str:
    if layer not in edit_api.EDIT_LAYERS:
        from locator.errors import NotFound

        raise NotFound("no such page", param="layer")
    return layer


def _record_page(layer: str, record: dict[str, Any] | None, *, status: int = 200, message: str = "",
                 action: str = "edit", booth: dict[str, Any] | None = None) -> Response:
    return _page("admin_record.html", status, layer=layer, record=record, fields=FORM_FIELDS[layer],
                 version=edit_api.etag(record) if record else "", message=message, action=action, booth=booth,
                 amenities=i18n.amenity_labels(lang()), schema=model.layer_schema(layer))


@bp.route("/admin/<layer>/new", methods=["GET", "POST"])
def new(layer: str) -> ResponseReturnValue:
    user = _user()
    layer = _layer(layer)
    if request.method == "POST":
        record, _version = edit_api.create(user, layer, _form_body(layer, None))
        return redirect(url_for("admin.edit", layer=layer, record_id=record["id"], saved=1))
    return _record_page(layer, None, action="new")


@bp.route("/admin/<layer>/<record_id>", methods=["GET", "POST"])
def edit(layer: str, record_id: str) -> ResponseReturnValue:
    user = _user()
    layer = _layer(layer)
    if request.method == "POST":
        op = request.form.get("op", "save")
        try:
            if op in ("close", "reopen"):
                status = (edit_api.CLOSE_STATUS if op == "close" else edit_api.REOPEN_STATUS)[layer]
                status = request.form.get("status") or status
                _rec, version = edit_api.edit(user, layer, record_id, lambda c: {**c, "status": status},
                                              if_match=request.form.get("version", ""), action=op)
            else:
                _rec, version = edit_api.edit(
                    user, layer, record_id,
                    lambda c: edit_api.apply_fields(layer, c, _form_body(layer, c), creating=False),
                    if_match=request.form.get("version", ""), action="update")
        except PreconditionFailed as stale:
            return _record_page(layer, stale.extra["record"], status=409, message=tr("stale"))  # type: ignore[arg-type]
        return redirect(url_for("admin.edit", layer=layer, record_id=record_id, saved=1 if version else 0))
    record = edit_api.read_record(layer, record_id)
    if record is None:
        from locator.errors import NotFound

        raise NotFound(f"no record {record_id[:100]!r}", param="record_id")
    auth.check_scope(user, record, what=record_id)
    message = {"1": tr("saved"), "0": tr("unchanged")}.get(request.args.get("saved", ""), "")
    return _record_page(layer, record, message=message)


@bp.route("/admin/booths/<record_id>/convert", methods=["GET", "POST"])
def convert(record_id: str) -> ResponseReturnValue:
    user = _user()
    booth = edit_api.read_record("booths", record_id)
    if booth is None:
        from locator.errors import NotFound

        raise NotFound(f"no booth {record_id[:100]!r}", param="booth_id")
    if request.method == "POST":
        try:
            station, _b, _v = edit_api.convert_booth(user, record_id, _form_body("stations", None),
                                                     if_match=request.form.get("version", ""))
        except PreconditionFailed as stale:
            return _record_page("stations", None, status=409, message=tr("stale"), action="convert",
                                booth=stale.extra["record"])  # type: ignore[arg-type]
        return redirect(url_for("admin.edit", layer="stations", record_id=station["id"], saved=1))
    auth.check_scope(user, booth, what=record_id)
    return _page("admin_record.html", layer="stations", record=None, fields=FORM_FIELDS["stations"],
                 version=edit_api.etag(booth), message="", action="convert", booth=booth,
                 amenities=i18n.amenity_labels(lang()), schema=model.STATIONS)


@bp.get("/admin/<layer>/<record_id>/history")
def history(layer: str, record_id: str) -> ResponseReturnValue:
    user = _user()
    layer = _layer(layer)
    current = edit_api.read_record(layer, record_id)
    auth.check_scope(user, current, what=record_id)
    auth.records().reconcile(layer, record_id, current)
    return _page("admin_history.html", layer=layer, record_id=record_id, record=current,
                 changes=auth.records().changes(layer, record_id))


@bp.post("/admin/changes/<int:change_id>/revert")
def revert(change_id: int) -> ResponseReturnValue:
    user = _user()
    entry = auth.records().change(change_id)
    edit_api.revert(user, change_id)
    return redirect(url_for("admin.history", layer=entry["layer"], record_id=entry["record_id"]))


@bp.get("/admin/reports")
def reports() -> ResponseReturnValue:
    user = _user()
    stations = edit_api._state().current().layer("stations")
    names = dict(zip(stations["id"], stations["name"], strict=True))
    scoped = None
    if user.role != "admin":
        rows = stations.drop(columns=stations.geometry.name).to_dict("records")
        scoped = [r["id"] for r in rows if auth.in_scope(user, r)]
    return _page("admin_reports.html", reports=auth.records().reports(station_ids=scoped), names=names,
                 kinds={k: tr(f"kind_{k}") for k in REPORT_KINDS})


@bp.post("/admin/reports/<int:report_id>/resolve")
def resolve(report_id: int) -> ResponseReturnValue:
    user = _user()
    report = auth.records().report(report_id)
    auth.check_scope(user, edit_api.snapshot_record("stations", report["station_id"]), what=report["station_id"])
    auth.records().resolve_report(report_id, username=user.username, resolution=request.form.get("resolution", ""))
    return redirect(url_for("admin.reports"))


@bp.route("/admin/import", methods=["GET", "POST"])
def upload() -> ResponseReturnValue:
    user = auth.require_user()  # editors too: the import keeps them to their area
    staged = None
    if request.method == "POST":
        system = request.form.get("crs") or None
        staged = edit_api.stage_upload(user, layer=request.form.get("layer", ""), upload=request.files.get("file"),
                                       system=system, strict=request.form.get("strict") == "on")
    return _page("admin_import.html", staged=staged, done=None)


@bp.post("/admin/import/<upload_id>/commit")
def commit_upload(upload_id: str) -> ResponseReturnValue:
    user = auth.require_user()
    return _page("admin_import.html", staged=None, done=edit_api.commit_upload(user, upload_id))
