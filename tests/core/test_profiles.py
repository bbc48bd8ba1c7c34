"""LOCATOR_PROFILES: a TOML or JSON file laid over the built-in walk and ebike speeds, checked at start-up.

Times are checked on one 1,000 m street per class (metres east of the origin), so each is distance / speed.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely import wkt

from conftest import ORIGIN_X, ORIGIN_Y
from locator.core.network import EBIKE, PROFILES, WALK, build_street_graph, get_profile
from locator.core.profiles import KEYS, configure_profiles, load_profiles
from locator.errors import ConfigError

TOML = """\
[walk]
walk_kmh = 6            # 100 m a minute

[ebike]
default_kmh = 9
straight_kmh = 20.5
walk_kmh = 3.6          # pushing: 1 m/s

[ebike.speeds_kmh]
primary = 20
residential = 21
"""


@pytest.fixture(autouse=True)
def built_in_profiles_afterwards():
    yield
    configure_profiles(None)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def street_graph(*classes: str):
    rows = [{"id": c, "name": c, "highway": c, "oneway": False} for c in classes]
    lines = [f"LINESTRING ({ORIGIN_X} {ORIGIN_Y + 100 * i}, {ORIGIN_X + 1000} {ORIGIN_Y + 100 * i})"
             for i in range(len(classes))]
    return build_street_graph(gpd.GeoDataFrame(rows, geometry=[wkt.loads(g) for g in lines], crs="EPSG:32650"))


def seconds_per_km(graph, profile: str) -> dict[str, float]:
    """Seconds along each 1 km street, by its class."""
    routing = graph.routing(profile)
    return {graph.seg_highway[k]: round(float(routing.seg_fwd_s[k]), 6) for k in range(graph.n_segments)}


def test_toml_file_is_laid_over_the_built_in_profiles(tmp_path: Path):
    profiles = load_profiles(write(tmp_path, "speeds.toml", TOML))
    walk, ebike = profiles["walk"], profiles["ebike"]
    # walk: walk_kmh is the walker's speed everywhere, so default and straight-line follow it
    assert (walk.walk_kmh, walk.default_kmh, walk.straight_kmh) == (6.0, 6.0, 6.0)
    assert (ebike.default_kmh, ebike.straight_kmh, ebike.walk_kmh) == (9.0, 20.5, 3.6)
    assert ebike.speeds_kmh["primary"] == 20 and ebike.speeds_kmh["residential"] == 21
    assert ebike.speeds_kmh["tertiary"] == 16 and ebike.speeds_kmh["service"] == 10  # not in the file: built-in
    assert ebike.obey_oneway and ebike.walked == EBIKE.walked and ebike.forbidden == EBIKE.forbidden
    assert EBIKE.speeds_kmh["primary"] == 18 and WALK.walk_kmh == 4.8  # the built-in ones are untouched


def test_json_has_the_same_shape(tmp_path: Path):
    path = write(tmp_path, "speeds.json", json.dumps({"ebike": {"speeds_kmh": {"primary": 20}},
                                                      "walk": {"walk_kmh": 4.5, "straight_kmh": 4}}))
    profiles = load_profiles(path)
    assert profiles["ebike"].speeds_kmh["primary"] == 20 and profiles["ebike"].default_kmh == 12
    walk = profiles["walk"]
    assert (walk.walk_kmh, walk.default_kmh, walk.straight_kmh) == (4.5, 4.5, 4.0)  # given: kept


def test_configured_speeds_are_what_routing_uses_and_empty_restores_the_built_in(tmp_path: Path):
    graph = street_graph("primary", "residential", "unclassified", "footway", "motorway")
    assert seconds_per_km(graph, "ebike") == {"primary": 200.0, "residential": round(1000 / (14 / 3.6), 6),
                                              "unclassified": round(1000 / (14 / 3.6), 6), "footway": 750.0,
                                              "motorway": np.inf}
    configure_profiles(str(write(tmp_path, "speeds.toml", TOML)))
    assert get_profile("ebike") is PROFILES["ebike"] and get_profile("ebike") is not EBIKE
    # 1,000 m at 20 km/h is 180 s, at 21 km/h 171.43 s; unclassified keeps its built-in 14 km/h; a footway is
    # pushed at 3.6 km/h (1,000 s); walking at 6 km/h is 600 s on every class but the motorway.
    assert seconds_per_km(graph, "ebike") == {"primary": 180.0, "residential": round(1000 / (21 / 3.6), 6),
                                              "unclassified": round(1000 / (14 / 3.6), 6), "footway": 1000.0,
                                              "motorway": np.inf}
    assert seconds_per_km(graph, "walk") == {"primary": 600.0, "residential": 600.0, "unclassified": 600.0,
                                             "footway": 600.0, "motorway": np.inf}
    configure_profiles("")
    assert get_profile("ebike") is EBIKE and get_profile("walk") is WALK
    assert seconds_per_km(graph, "ebike")["primary"] == 200.0


def test_the_classes_a_file_may_name_are_the_ones_the_osm_reader_keeps():
    from locator.core.profiles import _known_classes
    from locator.io.osm import KEPT_CLASSES

    assert _known_classes() == KEPT_CLASSES


@pytest.mark.parametrize(("name", "text", "key", "words"), [
    ("p.toml", "[walk]\nwalk_kmh = 4.5\n[car]\ndefault_kmh = 40\n", "car", ["walk and ebike", "walk 或 ebike"]),
    ("p.toml", "[ebike]\nobey_oneway = false\n", "ebike.obey_oneway", ["not a key", *KEYS]),
    ("p.toml", "[ebike.speeds_kmh]\nprimary = \"fast\"\n", "ebike.speeds_kmh.primary", ["km/h", "'fast'"]),
    ("p.toml", "[ebike.speeds_kmh]\nprimary = 0\n", "ebike.speeds_kmh.primary", ["more than 0"]),
    ("p.toml", "[ebike]\ndefault_kmh = 120\n", "ebike.default_kmh", ["at most 50", "120"]),
    ("p.toml", "[walk]\nwalk_kmh = true\n", "walk.walk_kmh", ["km/h", "True"]),
    ("p.json", '{"walk": {"walk_kmh": NaN}}', "walk.walk_kmh", ["km/h"]),
    ("p.toml", "[ebike.speeds_kmh]\nmotorway = 30\n", "ebike.speeds_kmh.motorway", ["closed to walkers"]),
    ("p.toml", "[ebike.speeds_kmh]\nfootway = 8\n", "ebike.speeds_kmh.footway", ["pushed", "ebike.walk_kmh"]),
    ("p.toml", "[walk.speeds_kmh]\nprimery = 5\n", "walk.speeds_kmh.primery", ["not an OpenStreetMap street class",
                                                                             "primary"]),
    ("p.toml", "[ebike]\nspeeds_kmh = 18\n", "ebike.speeds_kmh", ["table of highway class"]),
    ("p.toml", "walk = 4.5\n", "walk", ["must be a table"]),
    ("p.toml", "[walk\nwalk_kmh = 4.5\n", None, ["not valid TOML", "line 1", "语法错误"]),
    ("p.json", '{"walk": {"walk_kmh": 4.5,}}', None, ["not valid JSON", "line 1"]),
    ("p.json", "[4.5]", None, ["table (object) of profiles"]),
    ("p.yaml", "walk: {walk_kmh: 4.5}\n", None, [".toml or .json"]),
])
def test_a_bad_file_is_an_error_naming_the_file_and_the_key(tmp_path: Path, name: str, text: str,
                                                            key: str | None, words: list[str]):
    path = write(tmp_path, name, text)
    with pytest.raises(ConfigError) as caught:
        configure_profiles(str(path))
    error = caught.value
    assert error.param == "LOCATOR_PROFILES" and error.extra == {"file": str(path), "key": key}
    assert error.detail.startswith(f"LOCATOR_PROFILES 文件 {path}") and f"LOCATOR_PROFILES file {path}" in error.detail
    if key:
        assert f"{path}: {key} " in error.detail and f"{path}：{key} " in error.detail
    for word in words:
        assert word in error.detail
    assert get_profile("walk") is WALK and get_profile("ebike") is EBIKE  # left as they were


def test_a_missing_file_is_named(tmp_path: Path):
    with pytest.raises(ConfigError, match="no such file") as caught:
        load_profiles(tmp_path / "nowhere.toml")
    assert str(tmp_path / "nowhere.toml") in caught.value.detail and "找不到该文件" in caught.value.detail


def test_a_failed_reload_keeps_the_profiles_in_use(tmp_path: Path):
    configure_profiles(str(write(tmp_path, "good.toml", TOML)))
    in_use = get_profile("ebike")
    with pytest.raises(ConfigError):
        configure_profiles(str(write(tmp_path, "bad.toml", "[ebike]\ndefault_kmh = -1\n")))
    assert get_profile("ebike") is in_use and in_use.speeds_kmh["primary"] == 20


def test_cli_stops_on_a_bad_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]):
    from locator.cli import main

    bad = write(tmp_path, "speeds.toml", "[ebike.speeds_kmh]\nprimary = 200\n")
    monkeypatch.setenv("LOCATOR_PROFILES", str(bad))
    code = main(["--store", str(tmp_path / "s.gpkg"), "export", "stations", "-o", str(tmp_path / "s.geojson")])
    err = capsys.readouterr().err
    assert code == 2 and "(LOCATOR_PROFILES)" in err and f"{bad}: ebike.speeds_kmh.primary" in err
    assert not (tmp_path / "s.geojson").exists()
