"""The store contract. ``store`` is parametrised over backends, so PostGIS runs the very same tests."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest
import shapely

from conftest import frame, station_rows
from locator import model
from locator.errors import InvalidParameter


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _everything(store) -> dict[str, object]:
    """All a reader can see: every layer's rows and geometry (as WKB), and the data version."""
    seen: dict[str, object] = {"version": store.data_version()}
    for name in model.LAYERS:
        layer = store.read(name)
        seen[name] = (layer.drop(columns="geometry").to_dict("records"), shapely.to_wkb(layer.geometry.array).tolist())
    return seen


def test_missing_layer_reads_empty_with_model_columns(store):
    for name, schema in model.LAYERS.items():
        layer = store.read(name)
        assert len(layer) == 0
        assert list(layer.columns[:-1]) == schema.column_names
        assert str(layer.crs) == "EPSG:32650"
    assert store.data_version() == 0


def test_write_then_read_round_trips_every_column_of_every_layer(store, layers):
    version = store.write(layers)
    assert version == 1 == store.data_version()
    for name, written in layers.items():
        back = store.read(name)
        assert str(back.crs) == "EPSG:32650"
        expected = model.conform(name, written)
        assert list(back.columns) == [*model.LAYERS[name].column_names, "geometry"]
        for column in model.LAYERS[name].column_names:
            assert back[column].tolist() == expected[column].tolist(), (name, column)
            assert back[column].dtype == expected[column].dtype, (name, column)
        assert back.geometry.geom_type.tolist() == expected.geometry.geom_type.tolist(), name
        assert back.geometry.distance(expected.geometry).max() < 1e-3, name
        assert shapely.equals_exact(back.geometry.array, expected.geometry.array, tolerance=1e-3).all(), name


def test_text_survives_quoting(store, layers):
    store.write({"stations": layers["stations"]})
    back = store.read("stations").set_index("id")
    assert back.loc["s2", "address"] == "朝阳路\t1号\n2单元 \\N \\. 'x' \"y\""
    assert back.loc["s4", "name"] == '丁站 "<b>&'


def test_upsert_replaces_by_id_and_keeps_the_rest(store, stations):
    store.write({"stations": stations})
    changed = frame([{**station_rows()[0], "name": "新名字"}])
    assert store.write({"stations": changed}, mode="upsert") == 2
    back = store.read("stations")
    # Both stores move a replaced row to the end, so they agree on order too.
    assert back["id"].tolist() == ["s2", "s3", "s4", "s5", "s1"]
    indexed = back.set_index("id")
    assert indexed.loc["s1", "name"] == "新名字"
    assert indexed.loc["s2", "name"] == "乙站"


def test_upsert_adds_new_keys_and_leaves_other_layers(store, layers):
    store.write(layers)
    extra = frame([{**station_rows()[0], "id": "s9", "name": "新站"}])
    store.write({"stations": extra}, mode="upsert")
    assert store.read("stations")["id"].tolist() == ["s1", "s2", "s3", "s4", "s5", "s9"]
    assert store.read("booths")["id"].tolist() == ["b1", "b2"]


def test_replace_with_an_empty_frame_empties_the_layer(store, stations):
    store.write({"stations": stations})
    store.write({"stations": model.empty("stations", crs="EPSG:32650")})
    assert len(store.read("stations")) == 0


def test_frames_in_wgs84_are_taken_as_such(store, stations):
    store.write({"stations": stations.to_crs("EPSG:4326")})
    back = store.read("stations")
    assert back.geometry.distance(stations.geometry).max() < 1e-3


def test_data_version_grows_with_every_write(store, stations):
    versions = [store.data_version()]
    for mode in ("replace", "upsert", "replace"):
        versions.append(store.write({"stations": stations}, mode=mode))
        assert store.data_version() == versions[-1]
    assert versions == sorted(set(versions)) == [0, 1, 2, 3]


def test_failed_write_leaves_the_store_exactly_as_before(store, layers, fail_on_second_layer):
    store.write(layers)
    before = _everything(store)
    written = fail_on_second_layer(store)
    changed = {"stations": layers["stations"].iloc[:2], "booths": layers["booths"].iloc[:1]}
    with pytest.raises(OSError, match="injected"):
        store.write(changed)
    assert written == ["stations"]  # the failure came after a layer had been written, mid-write
    assert _everything(store) == before


def test_bad_arguments_write_nothing(store, stations):
    with pytest.raises(ValueError, match="mode"):
        store.write({"stations": stations}, mode="merge")
    with pytest.raises(InvalidParameter):
        store.write({"stations": stations, "no_such_layer": stations})
    with pytest.raises(InvalidParameter):
        store.read("no_such_layer")
    assert store.data_version() == 0
    assert len(store.read("stations")) == 0


def test_polygons_and_multipolygons_share_a_layer(store):
    rows = [
        {"code": "110105001000", "name": "甲街道", "district": "朝阳区",
         "geometry": "POLYGON ((450000 4420000, 451000 4420000, 451000 4421000, 450000 4420000))"},
        {"code": "110105002000", "name": "乙街道", "district": "朝阳区",
         "geometry": "MULTIPOLYGON (((452000 4420000, 453000 4420000, 453000 4421000, 452000 4420000)))"},
    ]
    store.write({"subdistricts": frame(rows)})
    back = store.read("subdistricts")
    assert back.geometry.geom_type.tolist() == ["Polygon", "MultiPolygon"]
    assert back["approximate"].tolist() == [False, False]


def test_missing_columns_get_the_model_defaults(store):
    rows = [{"id": "w1", "geometry": "LINESTRING (450000 4420000, 451000 4420000)"}]
    store.write({"streets": frame(rows)})
    back = store.read("streets")
    assert back.iloc[0][["name", "highway", "oneway", "source"]].tolist() == ["", "unclassified", False, "import"]
    assert isinstance(back, pd.DataFrame)


# GeoPackage only: the file itself is the store, so "as before" can be checked byte for byte.

def test_failed_gpkg_write_leaves_file_byte_identical(gpkg_store, stations, fail_on_second_layer):
    gpkg_store.write({"stations": stations})
    before = _digest(gpkg_store.path)
    fail_on_second_layer(gpkg_store)
    booths = model.empty("booths", crs="EPSG:32650")
    with pytest.raises(OSError):
        gpkg_store.write({"stations": stations.iloc[:2], "booths": booths})
    assert _digest(gpkg_store.path) == before
    assert gpkg_store.data_version() == 1
    assert not [p for p in gpkg_store.path.parent.iterdir() if p.name.endswith(".tmp")]


def test_layer_versions_move_only_for_written_layers(store, stations):
    from locator import model as _model

    assert set(store.layer_versions()) == set(_model.LAYERS)
    first = store.write({"stations": stations})
    booths = _model.empty("booths", crs="EPSG:32650")
    second = store.write({"booths": booths})
    versions = store.layer_versions()
    assert versions["stations"] == first
    assert versions["booths"] == second
    assert versions["streets"] == 0
