"""Downloading streets from an Overpass API: a fixture server on 127.0.0.1 stands in for the real one.

Never the real internet: every URL here is 127.0.0.1, on a port the test opened (or opened and left
unlistened, for "connection refused").
"""

from __future__ import annotations

import socket
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from locator.cli import main
from locator.errors import InvalidParameter, NetworkUnavailable
from locator.io.fetch import area_km2, download_osm, fetch_streets, overpass_query, parse_bbox
from locator.store import GeoPackageStore

BBOX = (116.39, 39.90, 116.41, 39.92)  # about 1.7 km x 2.2 km around Tiananmen
OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="Overpass API (fixture)">
<note>The data included in this document is from www.openstreetmap.org.</note>
  <way id="7001">
    <nd ref="1"/><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="primary"/><tag k="name" v="Chang'an"/><tag k="name:zh" v="长安街"/>
  </way>
  <way id="7002">
    <nd ref="3"/><nd ref="4"/>
    <tag k="highway" v="residential"/><tag k="oneway" v="-1"/>
  </way>
  <way id="7003">
    <nd ref="1"/><nd ref="4"/>
    <tag k="highway" v="motorway"/>
  </way>
  <node id="1" lat="39.9087000" lon="116.3975000"/>
  <node id="2" lat="39.9087000" lon="116.3985000"/>
  <node id="3" lat="39.9087000" lon="116.3995000"/>
  <node id="4" lat="39.9097000" lon="116.3995000"/>
</osm>
""".encode()
REMARK = (b'<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="Overpass API">\n'
          b"<remark> runtime error: Query timed out in \"query\" at line 2 after 181 seconds. </remark>\n</osm>\n")


@dataclass
class Fixture:
    """What the fixture server answers, and what it was asked."""

    status: int = 200
    body: bytes = OSM
    headers: dict[str, str] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)
    url: str = ""
    # Too slow: "" answers at once; "headers" never answers; "body" sends the headers and half the body, then
    # nothing; "trickle" sends 30 bytes 0.1 s apart, each in time for a per-read timeout, then the rest (3 s in all).
    # "cut" sends half the body and closes the connection.
    slow: str = ""
    release: threading.Event = field(default_factory=threading.Event)  # set at teardown: slow handlers end


@pytest.fixture
def overpass(monkeypatch: pytest.MonkeyPatch) -> Iterator[Fixture]:
    """An Overpass stand-in on 127.0.0.1 (a free port), serving ``Fixture.body`` with ``Fixture.status``."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)  # a proxy would take 127.0.0.1 elsewhere
    fixture = Fixture()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length", "0"))
            form = urllib.parse.parse_qs(self.rfile.read(length).decode("utf-8"))
            fixture.queries.append(form.get("data", [""])[0])
            fixture.agents.append(self.headers.get("User-Agent", ""))
            if fixture.slow == "headers":
                fixture.release.wait(10)
                return
            self.send_response(fixture.status)
            for key, value in fixture.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/osm3s+xml")
            self.send_header("Content-Length", str(len(fixture.body)))
            self.end_headers()
            try:
                if fixture.slow == "cut":
                    self.wfile.write(fixture.body[: len(fixture.body) // 2])
                elif fixture.slow == "body":
                    self.wfile.write(fixture.body[: len(fixture.body) // 2])
                    self.wfile.flush()
                    fixture.release.wait(10)
                elif fixture.slow == "trickle":
                    for position in range(30):
                        self.wfile.write(fixture.body[position:position + 1])
                        self.wfile.flush()
                        if fixture.release.wait(0.1):
                            break
                    else:
                        self.wfile.write(fixture.body[30:])
                else:
                    self.wfile.write(fixture.body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up: that is the point
                pass

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet test output
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fixture.url = f"http://127.0.0.1:{server.server_address[1]}/api/interpreter"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fixture
    finally:
        fixture.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A 127.0.0.1 URL on a port that is bound but not listening: connecting is refused, every time."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/api/interpreter"
    finally:
        sock.close()


def test_query_asks_for_highway_ways_and_their_nodes_in_south_west_north_east_order():
    query = overpass_query(BBOX, timeout_s=60)
    assert "[bbox:39.9,116.39,39.92,116.41]" in query and "[timeout:60]" in query
    assert 'way["highway"];' in query
    assert query.strip().endswith("out body;\n>;\nout skel qt;")


def test_download_saves_the_answer(overpass: Fixture, tmp_path: Path):
    download = download_osm(BBOX, tmp_path / "area.osm", url=overpass.url, timeout_s=5)
    assert download.path.read_bytes() == OSM
    assert download.size_bytes == len(OSM)
    assert overpass.queries == [overpass_query(BBOX, timeout_s=5)]
    assert overpass.agents[0].startswith("locator/")
    assert [p.name for p in tmp_path.iterdir()] == ["area.osm"]  # no partial file left behind


@pytest.mark.parametrize(("status", "headers", "words"), [
    (429, {"Retry-After": "30"}, ["HTTP 429", "Too Many Requests", "请求过多", "retry after 30 s"]),
    (504, {}, ["HTTP 504", "busy or the query timed out", "服务器繁忙"]),
])
def test_http_errors_say_what_failed_and_what_to_do(overpass: Fixture, tmp_path: Path, status: int,
                                                    headers: dict[str, str], words: list[str]):
    overpass.status, overpass.headers, overpass.body = status, headers, b"<html>busy</html>"
    target = tmp_path / "area.osm"
    with pytest.raises(NetworkUnavailable) as caught:
        download_osm(BBOX, target, url=overpass.url, timeout_s=5)
    error = caught.value
    assert error.status == 503 and error.param == "url" and error.extra["upstream_status"] == status
    for word in [*words, overpass.url, "locator import streets"]:
        assert word in error.detail
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_connection_refused_is_a_clear_error(refused_url: str, tmp_path: Path):
    with pytest.raises(NetworkUnavailable) as caught:
        download_osm(BBOX, tmp_path / "area.osm", url=refused_url, timeout_s=5)
    detail = caught.value.detail
    assert "无法连接" in detail and "Could not reach" in detail
    assert "没有互联网连接" in detail and "may have no internet access" in detail
    assert "locator import streets" in detail and refused_url in detail
    assert caught.value.to_problem()["type"] == "/problems/network-unavailable"
    assert list(tmp_path.iterdir()) == []


def test_an_overpass_runtime_error_is_not_saved_as_data(overpass: Fixture, tmp_path: Path):
    overpass.body = REMARK
    with pytest.raises(NetworkUnavailable, match="Query timed out"):
        download_osm(BBOX, tmp_path / "area.osm", url=overpass.url, timeout_s=5)
    assert list(tmp_path.iterdir()) == []


def test_an_answer_that_is_not_osm_is_refused(overpass: Fixture, tmp_path: Path):
    overpass.body = b"<!DOCTYPE html><html><body>captive portal login</body></html>"
    with pytest.raises(NetworkUnavailable, match="did not answer with OSM XML"):
        download_osm(BBOX, tmp_path / "area.osm", url=overpass.url, timeout_s=5)


@pytest.mark.parametrize(("text", "match"), [
    ("116.39,39.90,116.41", "four numbers"),
    ("a,b,c,d", "four numbers"),
    ("116.41,39.90,116.39,39.92", "minlon < maxlon"),
    ("39.90,116.39,39.92,116.41", "-90 <= minlat"),  # lat/lon swapped
    ("115.4,39.4,117.6,41.1", "area too large"),  # all of Beijing: take an extract instead
])
def test_bad_or_huge_boxes_are_refused_before_any_download(text: str, match: str):
    with pytest.raises(InvalidParameter, match=match) as caught:
        parse_bbox(text)
    assert caught.value.param == "bbox"


def test_box_parsing_and_area():
    assert parse_bbox("116.39, 39.90, 116.41, 39.92") == BBOX
    # 0.02 degrees of longitude at 39.91 N is 1.71 km, 0.02 of latitude 2.22 km.
    assert area_km2(BBOX) == pytest.approx(1.707 * 2.221, rel=0.01)
    assert parse_bbox("116.2,39.8,116.6,40.1")  # inside the 5th ring road: allowed


def test_fetch_and_import(overpass: Fixture, tmp_path: Path):
    store = GeoPackageStore(tmp_path / "store.gpkg")
    result = fetch_streets(store, BBOX, path=tmp_path / "area.osm", url=overpass.url, timeout_s=5)
    assert result.download.path.exists()
    report = result.report
    assert report.written and report.rows_imported == 2
    assert report.osm_ways_read == 3 and report.osm_dropped == {"motorway": 1}
    streets = store.read("streets").set_index("id")
    assert sorted(streets.index) == ["osm-w7001", "osm-w7002"]
    assert streets.loc["osm-w7001", "name"] == "长安街"
    assert bool(streets.loc["osm-w7002", "oneway"]) is True
    assert set(streets["source"]) == {"osm"}
    # Fetching again replaces the same ways (stable ids), it does not add copies.
    fetch_streets(store, BBOX, path=tmp_path / "area.osm", url=overpass.url, timeout_s=5)
    assert len(store.read("streets")) == 2


def test_cli_fetch_streets_and_import(overpass: Fixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]):
    monkeypatch.setenv("LOCATOR_OSM_URL", overpass.url)
    store = tmp_path / "store.gpkg"
    target = tmp_path / "area.osm"
    code = main(["--store", str(store), "fetch-streets", "--bbox", "116.39,39.90,116.41,39.92", "-o", str(target),
                 "--import"])
    assert code == 0, capsys.readouterr().err
    assert target.read_bytes() == OSM
    assert len(GeoPackageStore(store).read("streets")) == 2


def test_cli_fetch_streets_without_network(refused_url: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]):
    code = main(["--store", str(tmp_path / "store.gpkg"), "fetch-streets", "--bbox", "116.39,39.90,116.41,39.92",
                 "-o", str(tmp_path / "area.osm"), "--url", refused_url])
    err = capsys.readouterr().err
    assert code == 2
    assert "无法连接" in err and "may have no internet access" in err and "locator import streets" in err


def test_cli_fetch_streets_refuses_a_huge_box(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    code = main(["fetch-streets", "--bbox", "115.4,39.4,117.6,41.1", "-o", str(tmp_path / "all.osm")])
    assert code == 2 and "area too large" in capsys.readouterr().err


@pytest.mark.parametrize("slow", ["headers", "body", "trickle"])
def test_a_service_too_slow_to_answer_is_a_clear_error_and_leaves_no_file(overpass: Fixture, tmp_path: Path,
                                                                          slow: str):
    overpass.slow = slow
    with pytest.raises(NetworkUnavailable) as caught:
        download_osm(BBOX, tmp_path / "area.osm", url=overpass.url, timeout_s=0.5)
    error = caught.value
    assert error.status == 503 and error.param == "url" and overpass.url in error.detail
    for words in ["0.5 秒内", "within 0.5 s", "--timeout", "--bbox", "locator import streets"]:
        assert words in error.detail
    assert list(tmp_path.iterdir()) == []  # no partial file, not even the hidden .part


def test_cli_fetch_streets_timeout(overpass: Fixture, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    overpass.slow = "trickle"
    target = tmp_path / "area.osm"
    code = main(["--store", str(tmp_path / "store.gpkg"), "fetch-streets", "--bbox", "116.39,39.90,116.41,39.92",
                 "-o", str(target), "--url", overpass.url, "--timeout", "0.5", "--import"])
    err = capsys.readouterr().err
    assert code == 2
    assert "0.5 秒内" in err and "within 0.5 s" in err and "--timeout" in err
    assert list(tmp_path.iterdir()) == []  # neither the .osm nor a store
    assert "[timeout:1]" in overpass.queries[0]  # Overpass takes whole seconds, at least 1


def test_an_answer_cut_short_is_not_saved(overpass: Fixture, tmp_path: Path):
    overpass.slow = "cut"
    with pytest.raises(NetworkUnavailable, match="cut short") as caught:
        download_osm(BBOX, tmp_path / "area.osm", url=overpass.url, timeout_s=5)
    assert f"{len(OSM) // 2:,} of {len(OSM):,} bytes" in caught.value.detail and "不完整" in caught.value.detail
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("timeout_s", [0, -1])
def test_a_timeout_must_be_positive(tmp_path: Path, timeout_s: float):
    with pytest.raises(InvalidParameter, match="greater than 0") as caught:
        download_osm(BBOX, tmp_path / "area.osm", url="http://127.0.0.1:9/", timeout_s=timeout_s)
    assert caught.value.param == "timeout" and list(tmp_path.iterdir()) == []
