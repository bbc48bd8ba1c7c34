"""Copying every layer between stores: GeoPackage -> PostGIS -> GeoPackage loses nothing."""

from __future__ import annotations

import pytest
import shapely

from locator import model
from locator.cli import main
from locator.errors import InvalidParameter, NotFound
from locator.store import GeoPackageStore, migrations
from locator.store.copy import copy_layers, open_lossless

pytestmark = pytest.mark.postgis


def _raw(location: str) -> dict[str, tuple[list[dict], list[bytes], str]]:
    """Every layer as stored: attribute rows, geometry as WKB in WGS-84, and the CRS."""
    store = open_lossless(location)
    out = {}
    for name in model.LAYERS:
        layer = store.read(name)
        out[name] = (layer.drop(columns="geometry").to_dict("records"),
                     shapely.to_wkb(layer.geometry.array).tolist(), str(layer.crs))
    return out


def test_gpkg_to_postgis_to_gpkg_loses_nothing(tmp_path, layers, postgis_url):
    first, last = tmp_path / "first.gpkg", tmp_path / "last.gpkg"
    GeoPackageStore(first).write(layers)

    there = copy_layers(str(first), postgis_url)
    assert there.rows == {name: len(layers[name]) for name in model.LAYERS}
    back = copy_layers(postgis_url, str(last))
    assert back.rows == there.rows

    original, in_postgis, returned = _raw(str(first)), _raw(postgis_url), _raw(str(last))
    assert in_postgis == original  # every column, every geometry bit for bit, row order
    assert returned == original
    assert all(crs == "EPSG:4326" for _, _, crs in original.values())
    assert sum(len(rows) for rows, _, _ in original.values()) == 11


def test_copy_replaces_what_the_destination_held(tmp_path, layers, postgis_store, postgis_url, stations):
    postgis_store.write({"stations": stations, "booths": layers["booths"]})
    source = tmp_path / "source.gpkg"
    GeoPackageStore(source).write({"stations": stations.iloc[:2]})
    report = copy_layers(str(source), postgis_url)
    assert report.data_version == postgis_store.data_version() == 2
    assert postgis_store.read("stations")["id"].tolist() == ["s1", "s2"]
    assert len(postgis_store.read("booths")) == 0


def test_copy_only_named_layers(tmp_path, layers, postgis_store, postgis_url):
    postgis_store.write(layers)
    report = copy_layers(postgis_url, str(tmp_path / "some.gpkg"), layers=["streets"])
    assert report.rows == {"streets": 2}
    target = GeoPackageStore(tmp_path / "some.gpkg")
    assert len(target.read("streets")) == 2 and len(target.read("stations")) == 0


def test_copy_refuses_what_is_surely_a_mistake(tmp_path, stations, postgis_url):
    with pytest.raises(NotFound, match="no GeoPackage"):
        copy_layers(str(tmp_path / "typo.gpkg"), postgis_url)
    empty = tmp_path / "empty.gpkg"
    GeoPackageStore(empty).write({"stations": stations.iloc[:0]})
    with pytest.raises(InvalidParameter, match="holds no rows"):
        copy_layers(str(empty), postgis_url)
    full = tmp_path / "full.gpkg"
    GeoPackageStore(full).write({"stations": stations})
    with pytest.raises(InvalidParameter, match="same store"):
        copy_layers(str(full), str(tmp_path / "." / "full.gpkg"))
    assert copy_layers(str(empty), str(tmp_path / "other.gpkg"), allow_empty=True).rows["stations"] == 0


def test_cli_copy_and_db_upgrade(tmp_path, layers, postgis_url, capsys):
    assert main(["--store", postgis_url, "db", "upgrade"]) == 0
    out = capsys.readouterr().out
    assert "applied 001_initial" in out and f"schema version {migrations.LATEST} (up to date)" in out
    assert main(["--store", postgis_url, "db", "upgrade"]) == 0
    assert "applied" not in capsys.readouterr().out

    source = tmp_path / "source.gpkg"
    GeoPackageStore(source).write(layers)
    assert main(["copy", str(source), postgis_url]) == 0
    assert "stations 5, booths 2, subdistricts 2, streets 2 (data version 1)" in capsys.readouterr().out
    assert main(["copy", str(tmp_path / "missing.gpkg"), postgis_url]) == 2
    assert "no GeoPackage" in capsys.readouterr().err


def test_cli_db_upgrade_on_a_geopackage_is_a_no_op(tmp_path, capsys):
    assert main(["--store", str(tmp_path / "x.gpkg"), "db", "upgrade"]) == 0
    assert "no schema migrations" in capsys.readouterr().out
