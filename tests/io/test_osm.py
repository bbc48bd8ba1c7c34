"""OpenStreetMap streets: the keep/drop rules by tags, and the reader on small .osm and .osm.pbf files made here.

The files sit on a grid around Tiananmen (WGS-84), nodes 0.001 degrees apart. The .pbf is written from
the .osm by pyosmium's SimpleWriter, so the PBF path is read for real.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from locator.errors import ImportFailed, InvalidParameter
from locator.io.osm import DROP_REASONS, is_osm_file, read_osm_streets, street_from_tags

Tags = dict[str, str]

# Node id -> (lon, lat): a row of five nodes along lat 39.9087, and a second row 0.001 degrees north.
NODES = {i: (round(116.3975 + 0.001 * (i - 1), 7), 39.9087) for i in range(1, 6)}
NODES.update({10 + i: (round(116.3975 + 0.001 * (i - 1), 7), 39.9097) for i in range(1, 6)})

# (way id, node refs, tags)
WAYS: list[tuple[int, list[int], Tags]] = [
    (101, [1, 2, 3], {"highway": "primary", "name": "东长安街", "name:zh": "东长安街(中)", "name:en": "E Chang'an"}),
    (102, [3, 4], {"highway": "residential", "name": "南河沿", "oneway": "yes"}),
    (103, [4, 5], {"highway": "residential", "oneway": "-1"}),
    (104, [11, 12], {"highway": "motorway", "name": "京藏高速"}),
    (105, [12, 13], {"highway": "construction", "construction": "secondary"}),
    (106, [13, 14, 4, 3, 13], {"highway": "pedestrian", "area": "yes", "name": "广场"}),
    (107, [14, 15], {"highway": "service", "access": "private"}),
    (108, [15, 5], {"highway": "footway", "bicycle": "no"}),
    (109, [1, 11], {"highway": "cycleway", "foot": "no"}),
    (110, [2, 12], {"highway": "tertiary", "access": "no"}),
    (111, [11, 99], {"highway": "residential"}),  # node 99 is not in the file
    (112, [1, 2], {"building": "yes"}),  # not a highway: skipped unread
    (113, [2, 3], {"highway": "trunk", "name": "二环", "motorroad": "yes"}),
    (114, [12, 2], {"highway": "trunk", "name": "二环辅路"}),
    (115, [13, 3], {"highway": "service", "access": "delivery", "junction": "roundabout"}),
    (116, [3, 98, 4], {"highway": "residential"}),  # node 98, in its middle, is not in the file either
]


def osm_xml(nodes: dict[int, tuple[float, float]], ways: list[tuple[int, list[int], Tags]], *,
            ways_first: bool = False) -> str:
    """An OSM XML document as extract services write it (nodes, then ways) or, ``ways_first``, as Overpass's
    ``out body; >; out skel qt;`` does."""
    node_lines = [f'  <node id="{node_id}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"/>'
                  for node_id, (lon, lat) in nodes.items()]
    way_lines = []
    for way_id, refs, tags in ways:
        way_lines.append(f'  <way id="{way_id}" version="1">')
        way_lines += [f'    <nd ref="{ref}"/>' for ref in refs]
        way_lines += [f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items()]
        way_lines.append("  </way>")
    body = way_lines + node_lines if ways_first else node_lines + way_lines
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="locator tests">', *body, "</osm>"]
    return "\n".join(lines) + "\n"


def to_pbf(xml_path: Path, pbf_path: Path) -> Path:
    """Convert an .osm file to .osm.pbf with pyosmium, as `osmium cat` would."""
    import osmium

    with osmium.SimpleWriter(str(pbf_path)) as writer:
        for entity in osmium.FileProcessor(str(xml_path)):
            writer.add(entity)
    return pbf_path


@pytest.fixture
def osm_file(tmp_path: Path) -> Path:
    path = tmp_path / "beijing-centre.osm"
    path.write_text(osm_xml(NODES, WAYS), encoding="utf-8")
    return path


@pytest.mark.parametrize(("tags", "closed", "drop", "access", "oneway", "reverse"), [
    ({"highway": "residential"}, False, "", "", False, False),
    ({"highway": "motorway"}, False, "motorway", "", False, False),
    ({"highway": "motorway_link"}, False, "motorway", "", False, False),
    ({"highway": "trunk"}, False, "", "", False, False),  # side roads and non-motor lanes
    ({"highway": "trunk", "motorroad": "yes"}, False, "motorway", "", False, False),
    ({"highway": "construction"}, False, "not_a_street", "", False, False),
    ({"highway": "proposed"}, False, "not_a_street", "", False, False),
    ({"highway": "raceway"}, False, "not_a_street", "", False, False),
    ({"highway": "bus_guideway"}, False, "not_a_street", "", False, False),
    ({"highway": "platform"}, True, "not_a_street", "", False, False),
    ({"building": "yes"}, True, "not_a_street", "", False, False),
    ({"highway": "pedestrian", "area": "yes"}, True, "area", "", False, False),
    ({"highway": "pedestrian"}, True, "", "", False, False),  # a closed way without area=yes is a loop
    ({"highway": "service", "amenity": "parking"}, True, "area", "", False, False),
    ({"highway": "service", "amenity": "parking"}, False, "", "", False, False),
    ({"highway": "service", "access": "private"}, False, "private_service", "", False, False),
    ({"highway": "service", "access": "no"}, False, "private_service", "", False, False),
    ({"highway": "service", "access": "private", "foot": "yes"}, False, "", "foot", False, False),
    ({"highway": "service", "access": "destination"}, False, "", "", False, False),
    ({"highway": "residential", "access": "private"}, False, "no_access", "", False, False),
    ({"highway": "residential", "access": "no", "bicycle": "yes"}, False, "", "bicycle", False, False),
    ({"highway": "residential", "access": "no", "foot": "designated"}, False, "", "foot", False, False),
    ({"highway": "residential", "access": "delivery"}, False, "", "", False, False),  # couriers deliver
    ({"highway": "residential", "motor_vehicle": "no"}, False, "", "", False, False),  # e-bikes are not motor
    ({"highway": "residential", "vehicle": "no"}, False, "", "foot", False, False),
    ({"highway": "residential", "vehicle": "no", "bicycle": "yes"}, False, "", "", False, False),
    ({"highway": "footway", "bicycle": "dismount"}, False, "", "foot", False, False),
    ({"highway": "primary", "bicycle": "use_sidepath"}, False, "", "foot", False, False),
    ({"highway": "cycleway", "foot": "no"}, False, "", "bicycle", False, False),
    ({"highway": "path", "foot": "no", "bicycle": "no"}, False, "no_access", "", False, False),
    ({"highway": "path", "foot": "no", "bicycle": "no", "electric_bicycle": "yes"}, False, "", "bicycle",
     False, False),
    ({"highway": "residential", "oneway": "yes"}, False, "", "", True, False),
    ({"highway": "residential", "oneway": "1"}, False, "", "", True, False),
    ({"highway": "residential", "oneway": "true"}, False, "", "", True, False),
    ({"highway": "residential", "oneway": "-1"}, False, "", "", True, True),
    ({"highway": "residential", "oneway": "no"}, False, "", "", False, False),
    ({"highway": "residential", "oneway": "reversible"}, False, "", "", False, False),
    ({"highway": "residential", "oneway": "yes", "oneway:bicycle": "no"}, False, "", "", False, False),
    ({"highway": "residential", "junction": "roundabout"}, True, "", "", True, False),
    ({"highway": "residential", "junction": "roundabout", "oneway": "no"}, True, "", "", False, False),
])
def test_rules_by_tags(tags: Tags, closed: bool, drop: str, access: str, oneway: bool, reverse: bool):
    street = street_from_tags(tags, closed=closed)
    assert (street.drop, street.access, street.oneway, street.reverse) == (drop, access, oneway, reverse)
    assert not drop or drop in DROP_REASONS


@pytest.mark.parametrize(("tags", "name"), [
    ({"highway": "primary", "name": "长安街", "name:zh": "长安街（东段）"}, "长安街（东段）"),
    ({"highway": "primary", "name": "Chang'an Avenue", "name:zh-Hans": "长安街"}, "长安街"),
    ({"highway": "primary", "name": "长安街", "name:zh": "  "}, "长安街"),
    ({"highway": "primary", "name:en": "Chang'an Avenue"}, ""),
])
def test_name_prefers_chinese(tags: Tags, name: str):
    assert street_from_tags(tags).name == name


def test_reads_osm_xml(osm_file: Path):
    result = read_osm_streets(osm_file)
    frame = result.frame
    assert str(frame.crs) == "EPSG:4326"
    assert frame["id"].tolist() == ["osm-w101", "osm-w102", "osm-w103", "osm-w108", "osm-w109", "osm-w114",
                                    "osm-w115"]
    by_id = frame.set_index("id")
    assert by_id.loc["osm-w101", "name"] == "东长安街(中)"
    assert by_id.loc["osm-w114", ["name", "highway"]].tolist() == ["二环辅路", "trunk"]
    assert by_id["oneway"].to_dict() == {"osm-w101": False, "osm-w102": True, "osm-w103": True, "osm-w108": False,
                                         "osm-w109": False, "osm-w114": False, "osm-w115": True}
    assert by_id["access"].to_dict() == {"osm-w101": "", "osm-w102": "", "osm-w103": "", "osm-w108": "foot",
                                         "osm-w109": "bicycle", "osm-w114": "", "osm-w115": ""}
    assert set(frame["source"]) == {"osm"}
    assert frame.geometry.geom_type.unique().tolist() == ["LineString"]
    # Whole ways: 101 keeps its middle node (the graph builder splits at junctions, not the reader).
    assert shapely.get_coordinates(by_id.loc["osm-w101", "geometry"]).tolist() == [
        list(NODES[1]), list(NODES[2]), list(NODES[3])]
    assert dict(result.dropped) == {"motorway": 2, "not_a_street": 1, "area": 1, "private_service": 1,
                                    "no_access": 1, "missing_nodes": 2}
    assert result.ways_read == 15  # the building is not a highway and is not read


def test_oneway_minus_one_is_drawn_in_the_travel_direction(osm_file: Path):
    line = read_osm_streets(osm_file).frame.set_index("id").loc["osm-w103", "geometry"]
    # Way 103 runs 4 -> 5 in the file with oneway=-1: travel goes 5 -> 4, and so does the line now.
    assert shapely.get_coordinates(line).tolist() == [list(NODES[5]), list(NODES[4])]


def test_pbf_reads_the_same_as_xml(osm_file: Path, tmp_path: Path):
    pbf = to_pbf(osm_file, tmp_path / "beijing-centre.osm.pbf")
    assert pbf.read_bytes()[:4] != b"<?xm"  # really PBF, not XML under another name
    from_xml, from_pbf = read_osm_streets(osm_file), read_osm_streets(pbf)
    # PBF stores degrees to 1e-7, as the XML file gives them: no difference at all.
    assert_geodataframe_equal(from_pbf.frame, from_xml.frame, check_less_precise=False)
    assert from_pbf.dropped == from_xml.dropped


def test_ways_before_nodes_read_the_same(osm_file: Path, tmp_path: Path):
    overpass_order = tmp_path / "overpass.osm"
    overpass_order.write_text(osm_xml(NODES, WAYS, ways_first=True), encoding="utf-8")
    assert_geodataframe_equal(read_osm_streets(overpass_order).frame, read_osm_streets(osm_file).frame)


def test_an_empty_extract_gives_an_empty_frame(tmp_path: Path):
    path = tmp_path / "empty.osm"
    path.write_text(osm_xml(NODES, []), encoding="utf-8")
    result = read_osm_streets(path)
    assert len(result.frame) == 0 and result.ways_read == 0
    assert list(result.frame.columns) == ["id", "name", "highway", "oneway", "access", "source", "geometry"]


@pytest.mark.parametrize(("name", "content", "error", "match"), [
    ("broken.osm.pbf", b"not a pbf at all" * 4, ImportFailed, "cannot read it as an OpenStreetMap file"),
    ("page.osm", b"<html><body>rate limited</body></html>", ImportFailed, "cannot read it as an OpenStreetMap"),
    ("streets.txt", b"", InvalidParameter, "not an OpenStreetMap file"),
])
def test_unreadable_files_say_so(tmp_path: Path, name: str, content: bytes, error: type, match: str):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(error, match=match):
        read_osm_streets(path)


def test_missing_file(tmp_path: Path):
    with pytest.raises(InvalidParameter, match="no such file"):
        read_osm_streets(tmp_path / "nowhere.osm.pbf")


@pytest.mark.parametrize(("name", "expected"), [
    ("beijing-latest.osm.pbf", True), ("area.osm", True), ("x.PBF", True), ("x.osm.bz2", True),
    ("streets.geojson", False), ("osm.csv", False),
])
def test_is_osm_file(name: str, expected: bool):
    assert is_osm_file(name) is expected


def test_frame_fits_the_streets_layer(osm_file: Path):
    from locator import model

    frame = read_osm_streets(osm_file).frame
    conformed = model.conform("streets", frame)
    assert model.validate("streets", conformed) == []
    assert isinstance(conformed, gpd.GeoDataFrame)


# --- Through the importer: `locator import streets FILE` ----------------------------------------------------


@pytest.mark.parametrize("kind", ["osm", "pbf"])
def test_import_osm_and_pbf_into_the_streets_layer(store, osm_file: Path, tmp_path: Path, kind: str):
    from locator.io.importer import import_file

    path = osm_file if kind == "osm" else to_pbf(osm_file, tmp_path / "beijing-centre.osm.pbf")
    report = import_file(store, "streets", path)  # no --crs: OpenStreetMap is WGS-84
    assert report.format == "osm" and report.system == "wgs84" and "OpenStreetMap" in report.system_source
    assert report.written and report.rows_imported == 7 and not report.problems
    streets = store.read("streets").set_index("id")
    assert sorted(streets.index) == ["osm-w101", "osm-w102", "osm-w103", "osm-w108", "osm-w109", "osm-w114",
                                     "osm-w115"]
    assert streets.loc["osm-w108", "access"] == "foot" and streets.loc["osm-w109", "access"] == "bicycle"
    assert bool(streets.loc["osm-w103", "oneway"]) and set(streets["source"]) == {"osm"}
    assert str(streets.crs) == "EPSG:32650"
    # Way 103 was drawn 4 -> 5 with oneway=-1: stored 5 -> 4 (west-bound), x decreasing in the work CRS.
    xs = shapely.get_coordinates(streets.loc["osm-w103", "geometry"])[:, 0]
    assert xs[0] > xs[-1]
    again = import_file(store, "streets", path, source="osm-2025")
    assert again.written and len(store.read("streets")) == 7  # same ids: replaced, not added
    assert set(store.read("streets")["source"]) == {"osm-2025"}


def test_import_osm_refuses_a_crs_other_than_wgs84(store, osm_file: Path):
    from locator.io.importer import import_file

    with pytest.raises(InvalidParameter, match="always WGS-84") as caught:
        import_file(store, "streets", osm_file, system="gcj02")
    assert caught.value.param == "crs"
    assert import_file(store, "streets", osm_file, system="wgs84", dry_run=True).rows_imported == 7


def test_import_osm_into_another_layer_is_refused(store, osm_file: Path):
    from locator.io.importer import import_file

    with pytest.raises(InvalidParameter, match="streets layer only"):
        import_file(store, "stations", osm_file)


def test_cli_import_streets_from_pbf(tmp_path: Path, osm_file: Path, capsys: pytest.CaptureFixture[str]):
    from locator.cli import main

    pbf = to_pbf(osm_file, tmp_path / "extract.osm.pbf")
    store = tmp_path / "cli.gpkg"
    assert main(["--store", str(store), "import", "streets", str(pbf)]) == 0, capsys.readouterr().err
    assert "osm" in capsys.readouterr().out
    from locator.store import GeoPackageStore

    assert len(GeoPackageStore(store).read("streets")) == 7


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".shp"])
def test_streets_from_geojson_geopackage_and_shapefile(store, osm_file: Path, tmp_path: Path, suffix: str):
    """The generic importer takes streets from vector files; their system is stated, as for any vector file."""
    from locator.io.importer import import_file

    frame = read_osm_streets(osm_file).frame
    path = tmp_path / f"streets{suffix}"
    frame.to_file(path)
    report = import_file(store, "streets", path, system="wgs84")
    assert report.written and report.rows_imported == 7, report.to_text(lang="en")
    stored = store.read("streets").set_index("id")
    assert stored.loc["osm-w101", "name"] == "东长安街(中)" and stored.loc["osm-w101", "highway"] == "primary"
    assert bool(stored.loc["osm-w102", "oneway"]) and stored.loc["osm-w109", "access"] == "bicycle"


# --- What was dropped reaches the import report ------------------------------------------------------------


def test_import_report_counts_the_dropped_ways_by_reason(store, osm_file: Path):
    from locator.io.importer import import_file

    report = import_file(store, "streets", osm_file, dry_run=True)
    assert report.osm_ways_read == 15 and report.rows_total == 7  # 15 read = 7 rows + 8 dropped
    assert report.osm_dropped == {"motorway": 2, "not_a_street": 1, "area": 1, "private_service": 1,
                                  "no_access": 1, "missing_nodes": 2}
    assert report.to_dict()["osm_ways"] == {"read": 15, "dropped": 8, "dropped_by_reason": {
        "area": 1, "missing_nodes": 2, "motorway": 2, "no_access": 1, "not_a_street": 1, "private_service": 1}}
    en = report.to_text(lang="en").splitlines()
    assert en[1] == ("OpenStreetMap: 15 highway ways read, 8 dropped by the street rules ("
                     "nodes missing from the file 2, motorway or motorroad 2, areas (not lines) 1, "
                     "closed to walkers and riders 1, not a street (construction, proposed, ...) 1, "
                     "private service road 1); the other 7 are the rows below.")
    assert en[2].startswith("7 rows: 7 accepted, 0 rejected")
    zh = report.to_text(lang="zh").splitlines()
    assert zh[1] == ("OpenStreetMap：读取道路 15 条，按道路规则舍弃 8 条（节点不在文件中 2，"
                     "高速公路或机动车专用路 2，面状要素 1，禁止步行和骑行 1，"
                     "非通行道路（在建、规划等） 1，私有服务道路 1），其余 7 条为下列数据行。")


def test_every_drop_reason_has_a_label_in_both_languages():
    from locator.io.report import _DROP_LABELS

    assert set(_DROP_LABELS["zh"]) == set(_DROP_LABELS["en"]) == set(DROP_REASONS)


def test_a_file_with_nothing_dropped_says_so(store, tmp_path: Path):
    from locator.io.importer import import_file

    path = tmp_path / "one.osm"
    path.write_text(osm_xml(NODES, [WAYS[0]]), encoding="utf-8")
    report = import_file(store, "streets", path, dry_run=True)
    assert report.to_text(lang="en").splitlines()[1] == (
        "OpenStreetMap: 1 highway ways read, 0 dropped by the street rules; the other 1 are the rows below.")
    assert report.to_dict()["osm_ways"] == {"read": 1, "dropped": 0, "dropped_by_reason": {}}


def test_other_formats_have_no_osm_line(store, osm_file: Path, tmp_path: Path):
    from locator.io.importer import import_file

    path = tmp_path / "streets.geojson"
    read_osm_streets(osm_file).frame.to_file(path)
    report = import_file(store, "streets", path, system="wgs84", dry_run=True)
    assert report.osm_ways_read is None and report.to_dict()["osm_ways"] is None
    assert "OpenStreetMap" not in report.to_text(lang="en") and "OpenStreetMap" not in report.to_text(lang="zh")


@pytest.mark.parametrize("dry_run", [True, False])
def test_cli_import_streets_prints_the_dropped_ways(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   dry_run: bool):
    from locator.cli import main
    from locator.store import GeoPackageStore

    path = tmp_path / "small.osm"
    path.write_text(osm_xml(NODES, [
        (1, [1, 2], {"highway": "residential", "name": "南河沿"}),
        (2, [2, 3], {"highway": "motorway_link"}),
        (3, [3, 4], {"highway": "service", "access": "private"}),
        (4, [4, 5], {"highway": "service", "access": "no"}),
        (5, [11, 12, 13, 11], {"highway": "footway", "area": "yes"}),
    ]), encoding="utf-8")
    store = tmp_path / "cli.gpkg"
    extra = ["--dry-run"] if dry_run else []
    assert main(["--store", str(store), "import", "streets", str(path), "--lang", "en", *extra]) == 0
    out = capsys.readouterr().out
    assert ("OpenStreetMap: 5 highway ways read, 4 dropped by the street rules (private service road 2, "
            "areas (not lines) 1, motorway or motorroad 1); the other 1 are the rows below.") in out
    assert ("Dry run: nothing was written." in out) is dry_run
    assert main(["--store", str(store), "import", "streets", str(path), *extra]) == 0
    zh = capsys.readouterr().out
    assert "读取道路 5 条，按道路规则舍弃 4 条（私有服务道路 2，面状要素 1，高速公路或机动车专用路 1）" in zh
    assert main(["--store", str(store), "import", "streets", str(path), "--json", *extra]) == 0
    assert json.loads(capsys.readouterr().out)["osm_ways"] == {
        "read": 5, "dropped": 4, "dropped_by_reason": {"area": 1, "motorway": 1, "private_service": 2}}
    assert len(GeoPackageStore(store).read("streets")) == (0 if dry_run else 1)
