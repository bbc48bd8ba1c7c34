"""Export in each format and system, and back again through the importer."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from locator import crs
from locator.errors import InvalidParameter
from locator.io.export import export_layer
from locator.io.importer import import_file
from locator.store import GeoPackageStore


@pytest.fixture
def filled(store, stations_table, write_csv):
    import_file(store, "stations", write_csv(stations_table), system="wgs84")
    return store


def _by_id(store):
    return store.read("stations").sort_values("id").reset_index(drop=True)


@pytest.mark.parametrize("fmt", ["geojson", "csv", "gpkg"])
def test_export_gcj02_and_import_it_back(filled, tmp_path, fmt, distance_m):
    path = tmp_path / f"out.{fmt}"
    assert export_layer(filled, "stations", path, fmt=fmt, system="gcj02") == 5
    back = GeoPackageStore(tmp_path / "back.gpkg")
    report = import_file(back, "stations", path, system="gcj02")
    assert report.rows_imported == 5, report.to_text("en")
    before, after = _by_id(filled), _by_id(back)
    assert list(before["id"]) == list(after["id"])
    assert max(distance_m(before.geometry, after.geometry)) < 0.5
    for column in ("name", "address", "amenities", "opening_hours", "opening_hours_raw", "status"):
        assert list(before[column]) == list(after[column]), column


def test_exported_file_states_its_system_so_no_crs_is_needed(filled, tmp_path, distance_m):
    path = tmp_path / "out.csv"
    export_layer(filled, "stations", path, fmt="csv", system="bd09")
    back = GeoPackageStore(tmp_path / "back.gpkg")
    report = import_file(back, "stations", path)
    assert (report.system, report.rows_imported) == ("bd09", 5)
    assert max(distance_m(_by_id(filled).geometry, _by_id(back).geometry)) < 0.5


def test_csv_has_every_field_then_lon_lat_and_crs(filled, tmp_path):
    path = tmp_path / "out.csv"
    export_layer(filled, "stations", path, fmt="csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel opens the Chinese text as UTF-8
    table = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(table.columns)[-3:] == ["lon", "lat", "crs"] and "opening_hours_raw" in table
    row = table.set_index("name").loc["天安门驿站"]
    assert (float(row["lon"]), float(row["lat"]), row["crs"]) == pytest.approx((116.3975, 39.9087, "wgs84"))


def test_geojson_to_stdout(filled, capsys):
    assert export_layer(filled, "stations", "-", fmt="geojson", system="gcj02") == 5
    body = json.loads(capsys.readouterr().out)
    assert "crs" not in body  # no member claiming CRS84 for GCJ-02 numbers
    feature = next(f for f in body["features"] if f["properties"]["name"] == "天安门驿站")
    lon, lat = crs.from_wgs84(116.3975, 39.9087, "gcj02")
    assert feature["geometry"]["coordinates"] == pytest.approx([float(lon), float(lat)], abs=1e-6)
    assert feature["properties"]["crs"] == "gcj02"


def test_csv_to_stdout(filled, capsys):
    export_layer(filled, "stations", "-", fmt="csv")
    out = capsys.readouterr().out
    assert not out.startswith("\ufeff")
    assert len(pd.read_csv(io.StringIO(out))) == 5


def test_empty_layer_exports_no_rows(store, tmp_path):
    assert export_layer(store, "booths", tmp_path / "b.geojson") == 0
    assert json.loads((tmp_path / "b.geojson").read_text())["features"] == []


@pytest.mark.parametrize(("args", "param"), [(("-",), {"fmt": "gpkg"}), (("x.shp",), {"fmt": "shp"}),
                                             (("x.csv",), {"fmt": "csv", "system": "utm"})])
def test_bad_export_arguments(filled, tmp_path, args, param):
    with pytest.raises(InvalidParameter):
        export_layer(filled, "stations", args[0] if args[0] == "-" else tmp_path / args[0], **param)
