"""Download the streets of an area from OpenStreetMap (the Overpass API) as ``.osm`` XML, then import them.

The query asks for every ``highway`` way in the box and the nodes they use (``out body; >; out skel qt;``),
which is what :mod:`locator.io.osm` reads; the keep/drop rules are applied on import, not in the query,
so the saved file is a faithful copy of what OpenStreetMap holds. The box is bounded
(:data:`MAX_AREA_KM2`): the public Overpass servers refuse or time out on large areas, and a whole city
is better taken from an extract service (BBBike, Geofabrik) and imported with ``locator import streets``.

Only the standard library's urllib is used. The timeout bounds the whole download, not only each read: a
server that sends a byte now and then would otherwise keep it going for ever (a read under way when the
time runs out still ends within one more timeout at worst). Where the machine has no internet, or the
service is busy or too slow, :class:`~locator.errors.NetworkUnavailable` says what failed, in Chinese and
English, and how to import a file downloaded elsewhere instead.
"""

from __future__ import annotations

import math
import os
import re
import socket
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from locator import __version__, crs
from locator.errors import InvalidParameter, NetworkUnavailable

__all__ = ["DEFAULT_OSM_URL", "MAX_AREA_KM2", "Download", "FetchResult", "area_km2", "download_osm",
           "fetch_streets", "overpass_query", "parse_bbox"]

DEFAULT_OSM_URL = "https://overpass-api.de/api/interpreter"
MAX_AREA_KM2 = 1500.0  # about Beijing inside the 5th ring road
DEFAULT_TIMEOUT_S = 180.0
_CHUNK_BYTES = 1 << 20
_USER_AGENT = f"locator/{__version__} (rest stations for outdoor workers; Python urllib)"
_REMARK = re.compile(rb"<remark>\s*(.*?)\s*</remark>", re.S)
_OFFLINE_HINT = ("这台机器可能没有互联网连接。可在能上网的机器上下载 .osm 或 .osm.pbf 文件（Overpass、BBBike、"
                 "Geofabrik），再用 `locator import streets 文件` 导入。")
_OFFLINE_HINT_EN = ("This machine may have no internet access. Download an .osm or .osm.pbf file on a machine "
                    "that has (Overpass, BBBike, Geofabrik) and import it with `locator import streets FILE`.")

BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class Download:
    """A saved Overpass answer: where, how big, from which service, for which box."""

    path: Path
    size_bytes: int
    url: str
    bbox: BBox


@dataclass(frozen=True)
class FetchResult:
    download: Download
    report: object | None  # locator.io.importer.ImportReport, or None when not imported


def parse_bbox(value: str | BBox, *, max_area_km2: float = MAX_AREA_KM2) -> BBox:
    """``minlon,minlat,maxlon,maxlat`` (WGS-84) -> a checked tuple; ``InvalidParameter`` says what is wrong."""
    if isinstance(value, str):
        parts = [p for p in re.split(r"[,\s，]+", value.strip()) if p]
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            numbers = []
        if len(numbers) != 4:
            msg = f"--bbox {value!r}: give four numbers minlon,minlat,maxlon,maxlat (WGS-84 degrees)"
            raise InvalidParameter(msg, param="bbox")
    else:
        numbers = [float(v) for v in value]
    minlon, minlat, maxlon, maxlat = numbers
    if not (-180 <= minlon < maxlon <= 180 and -90 <= minlat < maxlat <= 90):
        msg = (f"--bbox {minlon},{minlat},{maxlon},{maxlat}: need -180 <= minlon < maxlon <= 180 and "
               "-90 <= minlat < maxlat <= 90 (order: minlon,minlat,maxlon,maxlat)")
        raise InvalidParameter(msg, param="bbox")
    bbox = (minlon, minlat, maxlon, maxlat)
    size = area_km2(bbox)
    if size > max_area_km2:
        msg = (f"--bbox covers {size:,.0f} km², more than the {max_area_km2:,.0f} km² one download may take "
               f"(范围过大 / area too large): split it into smaller boxes, or download an extract of the "
               f"whole city (BBBike, Geofabrik) and import it with `locator import streets FILE.osm.pbf`")
        raise InvalidParameter(msg, param="bbox", area_km2=round(size, 1), max_area_km2=max_area_km2)
    return bbox


def area_km2(bbox: BBox) -> float:
    """Area of a lon/lat box in km²: geodesic width at the middle latitude times geodesic height."""
    minlon, minlat, maxlon, maxlat = bbox
    middle = (minlat + maxlat) / 2
    width_m = float(crs.geodesic_distance_m(minlon, middle, maxlon, middle))
    height_m = float(crs.geodesic_distance_m(minlon, minlat, minlon, maxlat))
    return width_m * height_m / 1e6


def overpass_query(bbox: BBox, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> str:
    """Overpass QL for every highway way in ``bbox`` and its nodes, as OSM XML."""
    minlon, minlat, maxlon, maxlat = bbox
    # Overpass boxes are south,west,north,east.
    # Overpass takes whole seconds; 0 would be no time at all.
    return (f"[out:xml][timeout:{max(1, math.ceil(timeout_s))}][bbox:{minlat},{minlon},{maxlat},{maxlon}];\n"
            'way["highway"];\nout body;\n>;\nout skel qt;\n')


def default_path(bbox: BBox) -> Path:
    """``streets-<minlon>_<minlat>_<maxlon>_<maxlat>.osm`` in the current folder."""
    return Path("streets-" + "_".join(f"{v:g}" for v in bbox) + ".osm")


def download_osm(bbox: BBox, path: str | Path, *, url: str = DEFAULT_OSM_URL,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> Download:
    """Ask the Overpass API at ``url`` for the streets in ``bbox`` and save the answer at ``path``.

    The file appears whole or not at all (written beside ``path``, then renamed), so an interrupted
    download never leaves half an .osm file to be imported later.

    Raises
    ------
    NetworkUnavailable
        The service cannot be reached (no internet, DNS, refused, timeout), answered with an error, or did not
        finish answering within ``timeout_s`` seconds (the whole download, not each read).
    """
    if not timeout_s > 0:
        msg = f"--timeout {timeout_s:g}: give a number of seconds greater than 0"
        raise InvalidParameter(msg, param="timeout")
    path = Path(path)
    body = urllib.parse.urlencode({"data": overpass_query(bbox, timeout_s=timeout_s)}).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "User-Agent": _USER_AGENT, "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        "Accept": "application/osm3s+xml, application/xml, text/xml"})
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    size = 0
    deadline = time.monotonic() + timeout_s
    try:
        with os.fdopen(handle, "wb") as out:
            try:
                with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - http(s) only
                    # read1 hands back what has arrived (one system call), so the deadline is looked at as
                    # bytes come in; read(n) would wait for n bytes, however slowly they trickle.
                    while chunk := response.read1(_CHUNK_BYTES):
                        out.write(chunk)
                        size += len(chunk)
                        if time.monotonic() > deadline:
                            raise TimeoutError
                    if response.length:  # the connection ended before the Content-Length it announced
                        raise _cut_short(url, size, size + response.length)
            except urllib.error.HTTPError as exc:
                raise _http_error(url, exc) from exc
            except TimeoutError as exc:  # connected, then too slow: no answer, or not all of it, in time
                raise _too_slow(url, timeout_s=timeout_s, size=size) from exc
            except (urllib.error.URLError, OSError) as exc:  # refused, DNS, TLS, connect timeout, reset
                raise _unreachable(url, exc, timeout_s=timeout_s) from exc
        _check_answer(Path(partial), url)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return Download(path, size, url, bbox)


def fetch_streets(store, bbox: str | BBox, *, path: str | Path | None = None, url: str = DEFAULT_OSM_URL,
                  timeout_s: float = DEFAULT_TIMEOUT_S, import_streets: bool = True, dry_run: bool = False,
                  service_area: BBox | None = None, progress: bool = False,
                  max_area_km2: float = MAX_AREA_KM2) -> FetchResult:
    """Download the streets in ``bbox`` to ``path`` (an .osm file) and, with ``import_streets``, import them.

    The import goes through :func:`locator.io.importer.import_file`, like ``locator import streets``:
    the same keep/drop rules, the service-area check, and an all-or-nothing upsert by ``osm-w<way id>``.
    """
    box = parse_bbox(bbox, max_area_km2=max_area_km2)
    target = Path(path) if path is not None else default_path(box)
    if not target.name.lower().endswith(".osm"):
        msg = f"{target.name}: the download is OSM XML; name the file …/something.osm"
        raise InvalidParameter(msg, param="output")
    download = download_osm(box, target, url=url, timeout_s=timeout_s)
    if not import_streets:
        return FetchResult(download, None)
    from locator.io.importer import DEFAULT_SERVICE_AREA, import_file

    report = import_file(store, "streets", download.path, dry_run=dry_run,
                         service_area=service_area or DEFAULT_SERVICE_AREA, progress=progress)
    return FetchResult(download, report)


def _http_error(url: str, exc: urllib.error.HTTPError) -> NetworkUnavailable:
    code = exc.code
    if code == 429:
        zh, en = "请求过多，服务器要求稍后再试", "Too Many Requests: the server asks to wait before the next query"
    elif code in (502, 503, 504):
        zh, en = "服务器繁忙或查询超时", "the server is busy or the query timed out"
    elif code == 400:
        zh, en = "服务器拒绝了查询", "the server rejected the query"
    else:
        zh, en = "服务器返回错误", "the server answered with an error"
    retry = exc.headers.get("Retry-After") if exc.headers else None
    wait = f"（{retry} 秒后重试 / retry after {retry} s）" if retry else ""
    msg = (f"从 OpenStreetMap 服务 {url} 下载失败：HTTP {code}，{zh}{wait}。请稍后再试、缩小 --bbox，"
           f"或下载 .osm / .osm.pbf 文件后用 `locator import streets 文件` 导入。 / "
           f"Downloading from the OpenStreetMap service {url} failed: HTTP {code}, {en}. Try again later, "
           "use a smaller --bbox, or download an .osm / .osm.pbf file and import it with "
           "`locator import streets FILE`.")
    return NetworkUnavailable(msg, param="url", upstream_status=code)


def _unreachable(url: str, exc: BaseException, *, timeout_s: float) -> NetworkUnavailable:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, TimeoutError | socket.timeout):
        what_zh, what_en = f"{timeout_s:g} 秒内没有应答", f"no answer within {timeout_s:g} s"
    else:
        what_zh = what_en = str(reason) or type(reason).__name__
    msg = (f"无法连接 OpenStreetMap 服务 {url}（{what_zh}）。{_OFFLINE_HINT} / "
           f"Could not reach the OpenStreetMap service at {url} ({what_en}). {_OFFLINE_HINT_EN}")
    return NetworkUnavailable(msg, param="url")


def _too_slow(url: str, *, timeout_s: float, size: int) -> NetworkUnavailable:
    got_zh = f"，已收到 {size:,} 字节" if size else ""
    got_en = f"; {size:,} bytes had arrived" if size else ""
    msg = (f"OpenStreetMap 服务 {url} 未在 {timeout_s:g} 秒内完成应答（服务器繁忙或范围过大{got_zh}），未保存任何文件。"
           "请稍后再试、缩小 --bbox 或加大 --timeout，或下载 .osm / .osm.pbf 文件后用 `locator import streets 文件` "
           f"导入。 / The OpenStreetMap service at {url} did not finish answering within {timeout_s:g} s (busy, or "
           f"the box is too large{got_en}); nothing was saved. Try again later, use a smaller --bbox or a larger "
           "--timeout, or download an .osm / .osm.pbf file and import it with `locator import streets FILE`.")
    return NetworkUnavailable(msg, param="url", timeout_s=timeout_s)


def _cut_short(url: str, size: int, announced: int) -> NetworkUnavailable:
    msg = (f"OpenStreetMap 服务 {url} 的应答不完整（收到 {size:,} / {announced:,} 字节），未保存任何文件，请重试。 / "
           f"The answer from the OpenStreetMap service at {url} was cut short ({size:,} of {announced:,} bytes); "
           "nothing was saved, try again.")
    return NetworkUnavailable(msg, param="url")


def _check_answer(path: Path, url: str) -> None:
    """Overpass answers 200 with a ``<remark>`` when a query runs out of time or memory: that is a failure."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(4096)
        handle.seek(max(0, size - 4096))
        tail = handle.read()
    if b"<osm" not in head:
        shown = head[:200].decode("utf-8", "replace").strip()
        msg = (f"OpenStreetMap 服务 {url} 的应答不是 OSM XML / the service at {url} did not answer with OSM XML: "
               f"{shown!r}")
        raise NetworkUnavailable(msg, param="url")
    remark = _REMARK.search(tail)
    if remark and b"error" in remark.group(1).lower():
        text = remark.group(1).decode("utf-8", "replace")
        msg = (f"OpenStreetMap 服务 {url} 未能完成查询（{text}）：请缩小 --bbox 或稍后再试。 / The service at {url} "
               f"could not finish the query ({text}): use a smaller --bbox or try again later.")
        raise NetworkUnavailable(msg, param="url")
