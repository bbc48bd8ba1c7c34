"""Every input format and encoding lands the same five stations in the store."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest

from locator.errors import ImportFailed, InvalidParameter
from locator.io import readers
from locator.io.importer import import_file

NAMES = {"天安门驿站", "王府井驿站", "东单驿站", "西单驿站", "前门驿站"}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_in_each_encoding(store, stations_table, write_csv, encoding):
    path = write_csv(stations_table, encoding=encoding)
    report = import_file(store, "stations", path, system="wgs84")
    assert report.encoding == {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "gbk": "gb18030"}[encoding]
    assert (report.rows_total, report.rows_imported, report.problems) == (5, 5, [])
    assert report.written and report.data_version == 1
    assert set(store.read("stations")["name"]) == NAMES


@pytest.mark.parametrize(("raw", "encoding"), [
    ("名称,地址\n驿站,北京\n".encode(), "utf-8"),
    (b"\xef\xbb\xbf" + "名称\n驿站\n".encode(), "utf-8-sig"),
    ("名称\n驿站\n".encode("gbk"), "gb18030"),
])
def test_decode_tells_encodings_apart(raw, encoding):
    text, found = readers.decode(raw)
    assert found == encoding
    assert text.lstrip("\ufeff").startswith("名称")


def test_tab_and_semicolon_delimiters_are_recognised():
    assert list(readers.read_csv_text("名称\t经度\n甲\t116.4\n").columns) == ["名称", "经度"]
    assert list(readers.read_csv_text("名称;经度\n甲;116,4\n").columns) == ["名称", "经度"]


def test_xlsx(store, stations_table, tmp_path):
    path = tmp_path / "stations.xlsx"
    stations_table.assign(编号=[101, 102, 103, 104, 105]).to_excel(path, index=False, sheet_name="驿站")
    report = import_file(store, "stations", path, system="wgs84")
    assert (report.rows_imported, report.format) == (5, "xlsx")
    stored = store.read("stations")
    assert sorted(stored["id"]) == ["101", "102", "103", "104", "105"]  # not "101.0"


def test_geojson_with_crs(store, vector_stations, tmp_path):
    path = tmp_path / "stations.geojson"
    vector_stations().to_file(path, driver="GeoJSON")
    report = import_file(store, "stations", path, system="wgs84")
    assert (report.rows_imported, report.format, report.system_source) == (5, "geojson", "--crs")


@pytest.mark.parametrize("suffix", [".geojson", ".json"])
def test_geojson_without_crs_is_refused(store, vector_stations, tmp_path, suffix):
    path = tmp_path / f"stations{suffix}"
    vector_stations().to_file(path, driver="GeoJSON")
    with pytest.raises(InvalidParameter, match="GeoJSON file is not proof of WGS-84") as caught:
        import_file(store, "stations", path)
    assert caught.value.param == "crs"
    assert not store.path.exists()


def test_lonlat_geopackage_needs_crs_but_projected_one_does_not(store, vector_stations, tmp_path):
    lonlat = tmp_path / "lonlat.gpkg"
    vector_stations().to_file(lonlat, driver="GPKG")
    with pytest.raises(InvalidParameter, match="labelled EPSG:4326") as caught:
        import_file(store, "stations", lonlat)
    assert caught.value.param == "crs"

    projected = tmp_path / "projected.gpkg"
    vector_stations("EPSG:32650").to_file(projected, driver="GPKG")
    report = import_file(store, "stations", projected)
    assert report.rows_imported == 5
    assert report.system == "EPSG:32650" and "projected" in report.system_source
    by_lonlat = import_file(store, "stations", lonlat, system="wgs84", dry_run=True)
    assert by_lonlat.rows_imported == 5


def test_projected_file_refuses_a_lonlat_offset_system(store, vector_stations, tmp_path):
    path = tmp_path / "projected.gpkg"
    vector_stations("EPSG:32650").to_file(path, driver="GPKG")
    with pytest.raises(InvalidParameter, match="projected CRS") as caught:
        import_file(store, "stations", path, system="gcj02")
    assert caught.value.param == "crs"


def test_shapefile(store, vector_stations, tmp_path):
    path = tmp_path / "stations.shp"
    # Shapefile field names are at most 10 bytes: two Chinese characters fit, four do not.
    frame = vector_stations().rename(columns={"开放时间": "hours", "服务项目": "services", "备注列": "备注"})
    frame.to_file(path, driver="ESRI Shapefile", encoding="utf-8")
    report = import_file(store, "stations", path, system="wgs84")
    assert (report.rows_imported, report.format) == (5, "shapefile")
    assert set(store.read("stations")["name"]) == NAMES


def test_zipped_shapefile(store, vector_stations, tmp_path):
    import zipfile

    vector_stations()[["名称", "geometry"]].to_file(tmp_path / "s.shp", encoding="utf-8")
    with zipfile.ZipFile(tmp_path / "s.zip", "w") as archive:
        for part in tmp_path.glob("s.*"):
            if part.suffix != ".zip":
                archive.write(part, part.name)
    assert import_file(store, "stations", tmp_path / "s.zip", system="wgs84").rows_imported == 5


def test_geopackage_with_several_layers_picks_the_named_one(store, vector_stations, tmp_path):
    path = tmp_path / "many.gpkg"
    vector_stations().to_file(path, layer="stations", driver="GPKG")
    vector_stations().head(2).to_file(path, layer="other", driver="GPKG")
    assert import_file(store, "stations", path, system="wgs84").rows_total == 5
    with pytest.raises(InvalidParameter, match="several layers"):
        import_file(store, "booths", path, system="wgs84")


def test_subdistrict_polygons_and_street_lines(store, tmp_path):
    polygons = gpd.GeoDataFrame(
        {"代码": ["110105001000", "110105002000"], "街道": ["建外街道", "朝外街道"]},
        geometry=gpd.GeoSeries.from_wkt(["POLYGON ((116.44 39.90, 116.46 39.90, 116.46 39.92, 116.44 39.92, "
                                         "116.44 39.90))",
                                         "POLYGON ((116.42 39.92, 116.44 39.92, 116.44 39.94, 116.42 39.94, "
                                         "116.42 39.92))"]),
        crs="EPSG:4326")
    polygons.to_file(tmp_path / "sub.gpkg", driver="GPKG")
    report = import_file(store, "subdistricts", tmp_path / "sub.gpkg", system="gcj02")
    assert report.rows_imported == 2, report.to_text("en")
    assert sorted(store.read("subdistricts")["name"]) == ["建外街道", "朝外街道"]

    streets = pd.DataFrame({"name": ["建国路", "长安街"],
                            "wkt": ["LINESTRING (116.44 39.90, 116.46 39.90)",
                                    "LINESTRING (116.38 39.90, 116.42 39.90)"],
                            "highway": ["primary", "trunk"]})
    streets.to_csv(tmp_path / "streets.csv", index=False)
    report = import_file(store, "streets", tmp_path / "streets.csv", system="wgs84")
    assert report.rows_imported == 2
    stored = store.read("streets")
    assert set(stored.geom_type) == {"LineString"} and all(stored["id"].str.startswith("rd-"))


def test_unknown_suffix_and_old_excel_are_refused(store, tmp_path):
    for name, match in (("a.dbf", "unknown file type"), ("a.xls", "save it as .xlsx")):
        (tmp_path / name).write_bytes(b"x")
        with pytest.raises(InvalidParameter, match=match):
            import_file(store, "stations", tmp_path / name, system="wgs84")


def test_a_broken_workbook_is_an_import_failure(store, tmp_path):
    (tmp_path / "broken.xlsx").write_bytes(b"not a zip")
    with pytest.raises(ImportFailed, match="cannot open the workbook"):
        import_file(store, "stations", tmp_path / "broken.xlsx", system="wgs84")
