"""The committed default dataset: valid, labelled, placed where the reports say, and rebuilt identically."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import geopandas as gpd
import numpy as np
import opening_hours
import pandas as pd
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from locator import crs, model
from locator.store import GeoPackageStore

ROOT = Path(__file__).resolve().parents[1]
GPKG = ROOT / "data" / "locator.gpkg"
SOURCES = ROOT / "data" / "sources"

# What the public reports name: (words in the station name, subdistrict code).
REPORTED = [
    ("新国展二期", "110113011000"),
    ("吉祥花园", "110113011000"),
    ("庆芝堂", "110116001000"),
    ("康益德", "110116001000"),
    ("钓鱼台村", "110116001000"),
    ("杨家园村", "110116001000"),
]


def load_script():
    spec = importlib.util.spec_from_file_location("build_default_data", ROOT / "scripts" / "build_default_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def layers() -> dict[str, gpd.GeoDataFrame]:
    store = GeoPackageStore(GPKG)
    return {name: store.read(name) for name in model.LAYERS}


@pytest.mark.parametrize("name", list(model.LAYERS))
def test_every_layer_is_there_and_valid(layers, name):
    assert len(layers[name]) > 0
    assert model.validate(name, layers[name]) == []
    assert layers[name].crs == "EPSG:32650"


def test_store_version_table_exists():
    assert GeoPackageStore(GPKG).data_version() == 1


@pytest.mark.parametrize("name", list(model.LAYERS))
def test_every_record_says_where_it_comes_from(layers, name):
    assert set(layers[name]["source"]) <= {"public-report", "demo"}


@pytest.mark.parametrize(("words", "code"), REPORTED)
def test_public_report_station_is_inside_its_subdistrict(layers, words, code):
    stations, subdistricts = layers["stations"], layers["subdistricts"]
    found = stations[stations["name"].str.contains(words, regex=False)]
    assert len(found) == 1
    station = found.iloc[0]
    assert (station["source"], station["subdistrict"], station["status"]) == ("public-report", code, "open")
    outline = subdistricts.loc[subdistricts["code"] == code, "geometry"].iloc[0]
    assert outline.contains(station.geometry)


def test_only_the_six_reported_stations_are_public_report(layers):
    assert (layers["stations"]["source"] == "public-report").sum() == len(REPORTED)


def test_demo_records_are_labelled_as_such(layers):
    demo = layers["stations"][layers["stations"]["source"] == "demo"]
    assert demo["name"].str.startswith("示例").all()
    for name in ("stations", "booths", "streets"):
        frame = layers[name]
        assert frame.loc[frame["source"] == "demo", "id"].str.startswith("demo-").all()
    assert layers["subdistricts"]["approximate"].all()


def test_a_station_name_needs_escaping(layers):
    names = layers["stations"]["name"]
    assert (names.str.contains('"', regex=False) & names.str.contains("&", regex=False)).any()


@pytest.mark.parametrize("code", ["110113011000", "110116001000"])
def test_each_area_has_a_varied_demo_set(layers, code):
    stations = layers["stations"]
    demo = stations[(stations["source"] == "demo") & (stations["subdistrict"] == code)]
    assert 12 <= len(demo) <= 20
    assert set(demo["status"]) == set(model.STATION_STATUSES)
    assert (demo["opening_hours"] == "24/7").any()
    assert ((demo["opening_hours"] == "") & (demo["opening_hours_raw"] != "")).any()
    booths = layers["booths"][layers["booths"]["subdistrict"] == code]
    assert 10 <= len(booths) <= 15
    assert {"converted", "candidate"} <= set(booths["status"])


def test_opening_hours_parse(layers):
    for hours in layers["stations"]["opening_hours"]:
        if hours:
            opening_hours.OpeningHours(hours)


def test_converted_booths_and_their_stations_point_at_each_other(layers):
    stations = layers["stations"].set_index("id")
    booths = layers["booths"].set_index("id")
    converted = booths[booths["status"] == "converted"]
    assert len(converted) >= 2
    assert (booths.loc[booths["status"] != "converted", "station_id"] == "").all()
    for booth_id, booth in converted.iterrows():
        assert stations.loc[booth["station_id"], "converted_from_booth"] == booth_id
    linked = stations[stations["converted_from_booth"] != ""]
    assert set(linked["converted_from_booth"]) == set(converted.index)


def test_streets_form_a_routable_network(layers):
    streets = layers["streets"]
    ends = [line.coords[k] for line in streets.geometry for k in (0, -1)]
    counts = Counter(ends)
    assert sum(counts[e] > 1 for e in ends) / len(ends) > 0.95
    index = {end: i for i, end in enumerate(counts)}
    a = np.array([index[e] for e in ends[0::2]])
    b = np.array([index[e] for e in ends[1::2]])
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(len(index), len(index)))
    assert connected_components(graph, directed=False)[0] == 2  # one network per area
    assert {"primary", "secondary", "tertiary", "residential", "service", "footway"} <= set(streets["highway"])
    assert streets["oneway"].sum() > 0
    for code in ("kg", "qh"):
        assert 200 <= streets["id"].str.startswith(f"demo-{code}-").sum() <= 800


def test_sources_name_their_coordinate_system():
    reported = pd.read_csv(SOURCES / "stations_public_report.csv", dtype=str, keep_default_na=False)
    assert len(reported) == len(REPORTED)
    for value in reported["crs"]:
        crs.parse_coord_system(value)
    assert (reported["precision_m"].astype(int) > 0).all()


def test_rebuilding_gives_the_same_layers(layers, tmp_path, monkeypatch):
    script = load_script()
    monkeypatch.setenv("OGR_CURRENT_DATE", script.GDAL_DATE)  # set here so that it is undone afterwards
    out = tmp_path / "rebuilt.gpkg"
    script.build(out)
    rebuilt = GeoPackageStore(out)
    for name, committed in layers.items():
        again = rebuilt.read(name)
        pd.testing.assert_frame_equal(again.drop(columns="geometry"), committed.drop(columns="geometry"))
        assert again.geometry.geom_equals_exact(committed.geometry, tolerance=1e-6).all(), name
