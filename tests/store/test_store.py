"""The store contract. Parametrised over backends so the PostGIS store runs the very same tests."""

from __future__ import annotations

import hashlib

import pytest

from conftest import frame, station_rows
from locator import model


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_missing_layer_reads_empty_with_model_columns(gpkg_store):
    layer = gpkg_store.read("stations")
    assert len(layer) == 0
    assert list(layer.columns[:-1]) == model.STATIONS.column_names
    assert gpkg_store.data_version() == 0


def test_write_then_read_round_trips_every_column(gpkg_store, stations):
    version = gpkg_store.write({"stations": stations})
    assert version == 1 == gpkg_store.data_version()
    back = gpkg_store.read("stations")
    assert str(back.crs) == "EPSG:32650"
    expected = model.conform("stations", stations)
    for column in model.STATIONS.column_names:
        assert back[column].tolist() == expected[column].tolist(), column
    assert back.geometry.distance(expected.geometry).max() < 1e-3


def test_upsert_replaces_by_id_and_keeps_the_rest(gpkg_store, stations):
    gpkg_store.write({"stations": stations})
    changed = frame([{**station_rows()[0], "name": "新名字"}])
    gpkg_store.write({"stations": changed}, mode="upsert")
    back = gpkg_store.read("stations").set_index("id")
    assert len(back) == 5
    assert back.loc["s1", "name"] == "新名字"
    assert back.loc["s2", "name"] == "乙站"


def test_failed_write_leaves_file_byte_identical(gpkg_store, stations, monkeypatch):
    gpkg_store.write({"stations": stations})
    before = _digest(gpkg_store.path)

    from locator.store import gpkg

    real = gpkg._write_layer
    calls = []

    def fail_on_second(path, name, layer_frame):
        calls.append(name)
        if len(calls) == 2:
            raise OSError("disk full")
        real(path, name, layer_frame)

    monkeypatch.setattr(gpkg, "_write_layer", fail_on_second)
    booths = model.empty("booths", crs="EPSG:32650")
    with pytest.raises(OSError):
        gpkg_store.write({"stations": stations.iloc[:2], "booths": booths})
    assert _digest(gpkg_store.path) == before
    assert gpkg_store.data_version() == 1
    assert not [p for p in gpkg_store.path.parent.iterdir() if p.name.endswith(".tmp")]


def test_polygons_and_multipolygons_share_a_layer(gpkg_store):
    rows = [
        {"code": "110105001000", "name": "甲街道", "district": "朝阳区",
         "geometry": "POLYGON ((450000 4420000, 451000 4420000, 451000 4421000, 450000 4420000))"},
        {"code": "110105002000", "name": "乙街道", "district": "朝阳区",
         "geometry": "MULTIPOLYGON (((452000 4420000, 453000 4420000, 453000 4421000, 452000 4420000)))"},
    ]
    gpkg_store.write({"subdistricts": frame(rows)})
    back = gpkg_store.read("subdistricts")
    assert back.geometry.geom_type.tolist() == ["Polygon", "MultiPolygon"]
    assert back["approximate"].tolist() == [False, False]
