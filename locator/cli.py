"""The command line: ``locator serve|import|export``.

Help is bilingual (Chinese first); errors print the same detail the HTTP API gives and exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence

from locator import __version__
from locator.config import SETTINGS, load_settings, service_area_bounds
from locator.core.profiles import configure_profiles
from locator.errors import LocatorError
from locator.model import LAYERS

Handler = Callable[[argparse.Namespace, dict[str, object]], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = load_settings({"STORE": args.store} if getattr(args, "store", None) else None)
    handler: Handler = args.handler
    try:
        configure_profiles(str(settings["PROFILES"]))  # a bad file stops every command, as it stops the service
        return handler(args, settings)
    except LocatorError as error:
        where = f" ({error.param})" if error.param else ""
        print(f"错误 / error{where}: {error.detail}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="locator",
        description="户外劳动者服务站点：查找、地图与规划 / Rest stations for outdoor workers: find, map, plan.",
        epilog="设置 / settings (environment): " + ", ".join(s.env for s in SETTINGS),
    )
    parser.add_argument("--version", action="version", version=f"locator {__version__}")
    parser.add_argument("--store", help="数据位置 / data store: GeoPackage path or postgresql:// URL "
                                        "(default: $LOCATOR_STORE or data/locator.gpkg)")
    commands = parser.add_subparsers(title="命令 / commands", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="启动服务 / start the web service (gunicorn)")
    serve.add_argument("--port", type=int, help="端口 / port (default $LOCATOR_PORT or 8000)")
    serve.add_argument("--host", help="地址 / address to bind (default 127.0.0.1)")
    serve.add_argument("--workers", type=int, help="进程数 / worker processes (default 2)")
    serve.add_argument("--dev", action="store_true", help="开发服务器 / Flask's reloading dev server")
    serve.set_defaults(handler=_serve)

    layers = sorted(LAYERS)
    imp = commands.add_parser(
        "import", help="导入图层 / import a layer from CSV, XLSX, GeoJSON, GeoPackage, Shapefile or OSM .osm/.pbf",
        description="导入文件到图层。坐标系必须说明（--crs），不作猜测。 / Import a file into a layer. "
                    "The coordinate system must be stated (--crs) unless the file itself says; nothing is guessed.",
    )
    imp.add_argument("layer", choices=layers, help="图层 / layer")
    imp.add_argument("file", help="文件 / file to read")
    imp.add_argument("--crs", dest="system", choices=("wgs84", "gcj02", "bd09"),
                     help="坐标系 / coordinate system of the file: wgs84 (GPS), gcj02 (高德/腾讯), bd09 (百度)")
    imp.add_argument("--map", action="append", default=[], metavar="COLUMN=FIELD",
                     help="列映射 / map a file column onto a field, e.g. --map 站名=name (repeatable)")
    imp.add_argument("--dry-run", action="store_true", help="只检查不写入 / report only, write nothing")
    imp.add_argument("--strict", action="store_true", help="有错误行则全部不写 / write nothing if any row is bad")
    imp.add_argument("--source", help="来源标记 / value for the source column (default: import)")
    imp.add_argument("--json", action="store_true", help="以 JSON 输出报告 / print the report as JSON")
    imp.add_argument("--lang", choices=("zh", "en"), default="zh", help="报告语言 / report language")
    imp.set_defaults(handler=_import)

    exp = commands.add_parser("export", help="导出图层 / export a layer")
    exp.add_argument("layer", choices=layers, help="图层 / layer")
    exp.add_argument("-o", "--output", default="-", help="输出文件，- 为标准输出 / output file, - for stdout")
    exp.add_argument("--format", dest="fmt", choices=("geojson", "csv", "gpkg"), default="geojson",
                     help="格式 / format (default geojson)")
    exp.add_argument("--crs", dest="system", choices=("wgs84", "gcj02", "bd09"), default="wgs84",
                     help="输出坐标系 / output coordinate system (default wgs84)")
    exp.set_defaults(handler=_export)

    ren = commands.add_parser("render", help="生成静态地图 / write a map as a standalone HTML file (works offline)")
    ren.add_argument("kind", choices=("stations", "coverage"), help="地图 / which map")
    ren.add_argument("-o", "--output", required=True, help="输出文件 / output file, e.g. maps/stations.html")
    ren.add_argument("--subdistrict", help="街道/乡镇代码或名称 / subdistrict code or name")
    ren.add_argument("--tiles", help="底图 / tiles: osm, amap, tianditu, none (default $LOCATOR_TILES)")
    ren.add_argument("--lang", choices=("zh", "en"), default="zh", help="语言 / language")
    ren.add_argument("--threshold-m", type=float, default=500.0, help="覆盖距离 / covered within (m)")
    ren.set_defaults(handler=_render)

    db = commands.add_parser("db", help="数据库结构 / database schema (PostGIS store)")
    db_commands = db.add_subparsers(title="命令 / commands", required=True, metavar="COMMAND")
    upgrade = db_commands.add_parser("upgrade", help="应用待执行的迁移 / apply pending schema migrations")
    upgrade.set_defaults(handler=_db_upgrade)

    copy = commands.add_parser(
        "copy", help="在存储之间复制全部图层 / copy every layer from one store to another",
        description="用 SRC 的图层替换 DST 的图层（一次写入，全部或不写）。 / Replace DST's layers with SRC's "
                    "in one all-or-nothing write: GeoPackage <-> PostGIS, coordinates unchanged.",
    )
    copy.add_argument("source", metavar="SRC", help="来源 / GeoPackage path or postgresql:// URL")
    copy.add_argument("destination", metavar="DST", help="目标 / GeoPackage path or postgresql:// URL")
    copy.add_argument("--layer", action="append", choices=layers, help="只复制此图层 / only this layer (repeatable)")
    copy.add_argument("--allow-empty", action="store_true", help="来源为空也复制 / copy even an empty source")
    copy.set_defaults(handler=_copy)

    cov = commands.add_parser("coverage", help="道路覆盖率 / street coverage per subdistrict",
                              description="各街道道路到最近开放站点的距离覆盖 / how much street lies within reach of a "
                                          "station, per subdistrict (network distance from each segment's midpoint).")
    cov.add_argument("--subdistrict", help="街道代码或名称 / subdistrict code or name (default all)")
    cov.add_argument("--threshold", type=float, action="append", default=[], metavar="M",
                     help="距离阈值(米) / distance threshold in metres (repeatable; default 500, 1000, 2000)")
    cov.add_argument("--threshold-min", type=float, action="append", default=[], metavar="MIN",
                     help="时间阈值(分钟) / time threshold in minutes (repeatable)")
    cov.add_argument("--profile", choices=("walk", "ebike"), default="walk", help="出行方式 / travel profile")
    cov.add_argument("--at", help="时间 / count stations open at this ISO time (Asia/Shanghai if no offset)")
    cov.add_argument("--mode", choices=("network", "straight"), default="network",
                     help="路网或直线 / network or straight-line distance")
    cov.add_argument("-o", "--output", help="输出 / write the table (.csv) or the segments with bands (.geojson)")
    cov.add_argument("--lang", choices=("zh", "en"), default="zh", help="表头语言 / header language")
    cov.set_defaults(handler=_coverage)

    fetch = commands.add_parser(
        "fetch-streets", help="从 OpenStreetMap 下载道路 / download streets from OpenStreetMap (Overpass API)",
        description="下载范围内的道路为 .osm 文件，可选导入。需要互联网；没有网络时，在别处下载 .osm/.osm.pbf 后用 "
                    "`locator import streets 文件` 导入。 / Download the streets in a box as an .osm file, and "
                    "optionally import them. Needs internet; without it, download an .osm/.osm.pbf elsewhere "
                    "and use `locator import streets FILE`.")
    fetch.add_argument("--bbox", required=True, metavar="MINLON,MINLAT,MAXLON,MAXLAT",
                       help="范围 / box in WGS-84 degrees, e.g. 116.38,39.89,116.42,39.93")
    fetch.add_argument("-o", "--output", help="保存为 / save as this .osm file (default streets-<bbox>.osm)")
    fetch.add_argument("--import", dest="import_streets", action="store_true",
                       help="下载后导入道路图层 / import into the streets layer after downloading")
    fetch.add_argument("--dry-run", action="store_true", help="导入只检查不写入 / with --import: report only")
    fetch.add_argument("--url", help="Overpass 地址 / Overpass API URL (default $LOCATOR_OSM_URL)")
    fetch.add_argument("--timeout", type=float, default=180.0,
                       help="超时(秒，整个下载) / seconds the whole download may take (default 180)")
    fetch.add_argument("--lang", choices=("zh", "en"), default="zh", help="报告语言 / report language")
    fetch.set_defaults(handler=_fetch_streets)

    site = commands.add_parser("site", help="选址：下一批改建哪些核酸亭 / siting: which booths to convert next",
                               description="最大覆盖或集合覆盖，现有开放站点固定。 / Maximal coverage (--p booths) "
                                           "or set covering (--target-share), with the open stations fixed.")
    site.add_argument("--model", choices=("mclp", "cover"), default="mclp", help="模型 / model (default mclp)")
    site.add_argument("--p", type=int, default=5, help="新站数量 / booths to choose (mclp; default 5)")
    site.add_argument("--target-share", type=float, default=0.9, help="目标覆盖率 / covered share to reach (cover)")
    site.add_argument("--threshold", type=float, default=1000.0, metavar="M", help="距离阈值(米) / metres (1000)")
    site.add_argument("--profile", choices=("walk", "ebike"), default="walk", help="出行方式 / travel profile")
    site.add_argument("--subdistrict", default="", help="只在此街道选 / only booths in this subdistrict (code)")
    site.add_argument("--candidates-only", action="store_true", help="只选状态为 candidate 的 / status candidate only")
    site.add_argument("--exclude", action="append", default=[], metavar="ID", help="排除 / exclude booth (repeatable)")
    site.add_argument("--force", action="append", default=[], metavar="ID", help="必选 / force booth (repeatable)")
    site.add_argument("--min-spacing", type=float, default=0.0, metavar="M", help="新站最小间距(米) / spacing")
    site.add_argument("--weight", choices=("length", "highway"), default="length", help="权重 / demand weight")
    site.add_argument("--method", choices=("auto", "exact", "greedy"), default="auto", help="求解 / solver")
    site.add_argument("--time-limit", type=float, default=10.0, metavar="S", help="时限(秒) / time limit (10)")
    site.add_argument("--crs", dest="system", choices=("wgs84", "gcj02", "bd09"), default="wgs84",
                      help="输出坐标系 / lon/lat system of the output")
    site.add_argument("-o", "--output", help="GeoJSON 输出 / write the chosen booths as GeoJSON")
    site.add_argument("--json", action="store_true", help="以 JSON 输出 / print the answer as JSON")
    site.set_defaults(handler=_site)

    user = commands.add_parser("user", help="编辑账号 / editing accounts")
    user_commands = user.add_subparsers(title="命令 / commands", required=True, metavar="COMMAND")
    user_add = user_commands.add_parser("add", help="新建账号 / add an account (asks for the password)")
    user_add.add_argument("username", help="用户名 / user name")
    user_add.add_argument("--role", choices=("editor", "admin"), default="editor", help="角色 / role")
    user_add.add_argument("--district", default="", help="编辑限于此区 / editor limited to this district, e.g. 顺义区")
    user_add.add_argument("--subdistrict", default="", help="编辑限于此街道 / limited to this subdistrict (code)")
    user_add.add_argument("--password-stdin", action="store_true", help="从标准输入读密码 / password from stdin")
    user_add.set_defaults(handler=_user_add)
    user_list = user_commands.add_parser("list", help="列出账号 / list accounts")
    user_list.set_defaults(handler=_user_list)

    token = commands.add_parser("token", help="脚本用的 API 令牌 / API tokens for scripts")
    token_commands = token.add_subparsers(title="命令 / commands", required=True, metavar="COMMAND")
    token_create = token_commands.add_parser("create", help="新建令牌（只显示一次）/ make a token (shown once)")
    token_create.add_argument("username", help="用户名 / whose token")
    token_create.add_argument("--name", default="", help="用途 / what it is for")
    token_create.set_defaults(handler=_token_create)
    token_revoke = token_commands.add_parser("revoke", help="吊销该用户全部令牌 / revoke all of a user's tokens")
    token_revoke.add_argument("username", help="用户名 / whose tokens")
    token_revoke.set_defaults(handler=_token_revoke)
    return parser


def _records(settings: dict[str, object]):  # noqa: ANN202 - locator.store.records.Records
    from locator.store.records import open_records

    return open_records(str(settings["STORE"]))


def _user_add(args: argparse.Namespace, settings: dict[str, object]) -> int:
    import getpass

    from locator.web.auth import hash_password

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("密码 / password: ")
        if getpass.getpass("再输一次 / again: ") != password:
            print("两次密码不同 / the passwords differ", file=sys.stderr)
            return 2
    user = _records(settings).add_user(args.username, hash_password(password), role=args.role,
                                       district=args.district, subdistrict=args.subdistrict)
    print(f"{user.username}: {user.role} {user.district} {user.subdistrict}".rstrip())
    return 0


def _user_list(args: argparse.Namespace, settings: dict[str, object]) -> int:
    for user in _records(settings).users():
        print(f"{user.username}\t{user.role}\t{user.district}\t{user.subdistrict}")
    return 0


def _token_create(args: argparse.Namespace, settings: dict[str, object]) -> int:
    print(_records(settings).create_token(args.username, name=args.name))
    return 0


def _token_revoke(args: argparse.Namespace, settings: dict[str, object]) -> int:
    print(f"revoked {_records(settings).revoke_tokens(args.username)}")
    return 0


def _store(settings: dict[str, object]):  # noqa: ANN202 - a Store
    from locator.store import open_store

    return open_store(str(settings["STORE"]), work_crs=str(settings["WORK_CRS"]))


SERVE_THREADS = 2  # threads per gunicorn worker (gthread); 2 gave a lower p99 than 4 on 2 cores (bench/nearest.py)


def _serve(args: argparse.Namespace, settings: dict[str, object]) -> int:
    host = args.host or str(settings["HOST"])
    port = args.port or int(settings["PORT"])  # type: ignore[call-overload]
    os.environ["LOCATOR_STORE"] = str(settings["STORE"])
    # the kernels compiled (or loaded) once here, into the on-disk cache that the workers (or the dev server)
    # load from: else each one's first request compiles them, about half a minute on a new machine
    print("locator: 准备计算内核（新机器首次约半分钟） / preparing the kernels (about 30 s the first time)",
          file=sys.stderr)
    from locator.core import shortest

    shortest.warm()
    if args.dev:
        from locator.web import create_app

        create_app().run(host=host, port=port, debug=True)
        return 0
    workers = args.workers or int(settings["WORKERS"])  # type: ignore[call-overload]
    print(f"locator: http://{host}:{port}/  (store: {settings['STORE']})", file=sys.stderr)
    # gthread: each worker answers on SERVE_THREADS threads and keeps connections alive, so a request waiting
    # on I/O (the rate-limit counter in Redis, the store) doesn't hold up the next; measured in bench/nearest.py
    # at about twice the requests per second of sync workers on 2 cores. No gunicorn access log: the app
    # writes one access line per request itself (locator.web.ops, with the request id).
    gunicorn = [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers", str(workers),
                "--worker-class", "gthread", "--threads", str(SERVE_THREADS), "--timeout", "60",
                "locator.web:create_app()"]
    os.execv(sys.executable, gunicorn)
    return 0  # pragma: no cover - execv does not return


def _import(args: argparse.Namespace, settings: dict[str, object]) -> int:
    from locator.io.importer import import_file

    mapping = {}
    for item in args.map:
        column, sep, field = item.partition("=")
        if not sep:
            print(f"--map needs COLUMN=FIELD, got {item!r}", file=sys.stderr)
            return 2
        mapping[column.strip()] = field.strip()
    report = import_file(
        _store(settings), args.layer, args.file, system=args.system, mapping=mapping or None,
        dry_run=args.dry_run, strict=args.strict, service_area=service_area_bounds(settings["SERVICE_AREA"]),
        progress=sys.stderr.isatty(), source=args.source,
    )
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(report.to_text(lang=args.lang))
    return 1 if report.problems and (args.strict or not report.rows_imported) else 0


def _export(args: argparse.Namespace, settings: dict[str, object]) -> int:
    from locator.io.export import export_layer

    rows = export_layer(_store(settings), args.layer, args.output, fmt=args.fmt, system=args.system)
    if args.output != "-":
        print(f"{rows} rows -> {args.output}", file=sys.stderr)
    return 0


def _db_upgrade(args: argparse.Namespace, settings: dict[str, object]) -> int:
    store = _store(settings)
    if not hasattr(store, "upgrade"):
        print(f"{store.location}: GeoPackage 无需迁移 / a GeoPackage store has no schema migrations")
        return 0
    applied = store.upgrade()
    for migration in applied:
        print(f"applied {migration.label}")
    print(f"{store.location}: schema version {store.schema_version()} (up to date)")
    return 0


def _copy(args: argparse.Namespace, settings: dict[str, object]) -> int:
    from locator.store.copy import copy_layers

    report = copy_layers(args.source, args.destination, layers=args.layer, allow_empty=args.allow_empty)
    print(report.to_text())
    return 0


def _coverage(args: argparse.Namespace, settings: dict[str, object]) -> int:
    from datetime import datetime

    import numpy as np

    from locator.core import coverage as cv
    from locator.crs import from_work
    from locator.errors import InvalidParameter
    from locator.hours import TZ
    from locator.web.state import load_snapshot

    at = None
    if args.at:
        try:
            at = datetime.fromisoformat(args.at)
        except ValueError:
            raise InvalidParameter(f"--at must be an ISO date and time (got {args.at!r})", param="at") from None
        at = at.replace(tzinfo=TZ) if at.tzinfo is None else at
    snapshot = load_snapshot(_store(settings), warm=False)
    thresholds = cv.make_thresholds(metres=args.threshold, minutes=args.threshold_min)
    result, counted = cv.snapshot_coverage(snapshot, profile=args.profile, at=at, mode=args.mode)
    stations = snapshot.layer("stations")
    graph = snapshot.derived("street_graph")
    table = cv.coverage_by_subdistrict(result, graph, subdistricts=snapshot.layer("subdistricts"), stations=stations,
                                       counted=counted, open_now=cv.open_mask(stations, at=datetime.now(TZ)),
                                       thresholds=thresholds, subdistrict=args.subdistrict)
    print(cv.printable(table, thresholds, lang=args.lang).to_string(index=False))
    if table["approximate"].any():
        print("注：近似边界（中心点泰森多边形）/ note: approximate (Voronoi) subdistrict outlines", file=sys.stderr)
    print(f"data_version {snapshot.version}, computed_at {result.computed_at.isoformat(timespec='seconds')}",
          file=sys.stderr)
    if args.output and args.output.lower().endswith(".geojson"):
        import geopandas as gpd

        segs = result.segments.copy()
        limits = [t.value for t in thresholds if t.unit == "m"] or list(cv.DEFAULT_THRESHOLDS_M)
        segs["band"] = cv.distance_bands(segs["distance_m"].to_numpy(dtype=float), limits)
        for key in ("distance_m", "time_min", "second_distance_m", "second_time_min"):
            segs[key] = segs[key].where(np.isfinite(segs[key]), None)
        frame = gpd.GeoDataFrame(segs, geometry=graph.segment_geometries(), crs=graph.crs)
        from_work(frame, system="wgs84").to_file(args.output, driver="GeoJSON")
    elif args.output:
        out = table.copy()
        out["worst_streets"] = ["; ".join(w["name"] for w in ws) for ws in out["worst_streets"]]
        out.to_csv(args.output, index=False, encoding="utf-8-sig")
    if args.output:
        print(f"-> {args.output}", file=sys.stderr)
    return 0


def _site(args: argparse.Namespace, settings: dict[str, object]) -> int:
    from locator.core.siting import SitingOptions, plan, result_to_dict
    from locator.web.state import load_snapshot

    options = SitingOptions(model=args.model, p=args.p, target_share=args.target_share, threshold_m=args.threshold,
                            profile=args.profile, subdistrict=args.subdistrict,
                            candidate_status_only=args.candidates_only, exclude=tuple(args.exclude),
                            force=tuple(args.force), min_spacing_m=args.min_spacing, weight=args.weight,
                            method=args.method, time_limit_s=args.time_limit)
    answer = result_to_dict(plan(load_snapshot(_store(settings), warm=False), options), system=args.system)
    if args.json:
        print(json.dumps(answer, ensure_ascii=False, indent=2))
    else:
        _print_site(answer)
    if args.output:
        features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [b["lon"], b["lat"]]},
                     "properties": {k: v for k, v in b.items() if k not in ("lon", "lat")}}
                    for b in answer["booths"]]  # type: ignore[union-attr]
        collection = {"type": "FeatureCollection", "features": features, "crs_system": args.system,
                      "siting": {k: answer[k] for k in ("options", "quality", "totals", "data_version")}}
        with open(args.output, "w", encoding="utf-8") as handle:
            json.dump(collection, handle, ensure_ascii=False, indent=1)
        print(f"-> {args.output}", file=sys.stderr)
    return 0


def _print_site(answer: dict) -> None:
    import pandas as pd

    booths = pd.DataFrame(answer["booths"], columns=["id", "address", "subdistrict", "status", "lon", "lat",
                                                      "newly_covered_m"])
    print(booths.to_string(index=False) if len(booths) else "(没有选出 / no booths chosen)")
    print()
    print(pd.DataFrame(answer["by_subdistrict"]).to_string(index=False))
    totals, quality = answer["totals"], answer["quality"]
    print(f"\ncovered {totals['share_before']:.1%} -> {totals['share_after']:.1%} of "
          f"{totals['length_m'] / 1000:.1f} km;"
          f" quality: {quality['text']} ({quality['method']}); solve {answer['solve_time_s']:.2f} s,"
          f" data_version {answer['data_version']}")


def _fetch_streets(args: argparse.Namespace, settings: dict[str, object]) -> int:
    from locator.io.fetch import fetch_streets

    store = _store(settings) if args.import_streets else None
    result = fetch_streets(store, args.bbox, path=args.output, url=args.url or str(settings["OSM_URL"]),
                           timeout_s=args.timeout, import_streets=args.import_streets, dry_run=args.dry_run,
                           service_area=service_area_bounds(settings["SERVICE_AREA"]),
                           progress=sys.stderr.isatty())
    print(f"{result.download.size_bytes:,} bytes -> {result.download.path}", file=sys.stderr)
    if result.report is None:
        return 0
    print(result.report.to_text(lang=args.lang))
    return 0 if result.report.rows_imported or not result.report.problems else 1


def _render(args: argparse.Namespace, settings: dict[str, object]) -> int:
    from locator.maps.data import snapshot_from_store
    from locator.maps.render import render

    path = render(snapshot_from_store(_store(settings)), args.kind, args.output, subdistrict=args.subdistrict,
                  tiles=args.tiles or str(settings["TILES"]), tiles_key=str(settings["TIANDITU_KEY"]),
                  lang=args.lang, threshold_m=args.threshold_m)
    print(f"{args.kind} -> {path} (assets in {path.parent / 'assets'})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
