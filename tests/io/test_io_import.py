"""Rejected rows and their reasons, duplicates, dry run, strict mode, atomic writes, CRS handling, progress."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from locator import model
from locator.errors import ImportFailed, InvalidParameter
from locator.io.importer import import_file
from locator.io.report import translate

OK = ("天安门驿站", "东长安街1号", "116.3975", "39.9087", "开放")
BAD_ROWS = pd.DataFrame(
    [
        OK,                                                    # 1 kept
        ("无坐标驿站", "某路1号", "", "", "开放"),                 # 2 no coordinates
        ("上海驿站", "南京路1号", "121.47", "31.23", "开放"),       # 3 outside Beijing
        ("坏状态驿站", "某路3号", "116.3675", "39.9287", "坏了"),    # 4 bad status
        ("近邻驿站", "东长安街9号", "116.3977", "39.9087", "开放"),   # 5 17 m east of row 1
        ("王府井驿站", "王府井大街2号", "116.4075", "39.9087", "开放"),  # 6 kept
        ("王府井驿站", "王府井大街2号", "116.4275", "39.9187", "开放"),  # 7 same name and address as 6
        ("东经驿站", "某路8号", "东经116", "39.95", "开放"),          # 8 unparseable longitude
        ("颠倒驿站", "某路9号", "39.95", "116.40", "开放"),           # 9 lat and lon swapped
    ],
    columns=["名称", "地址", "经度", "纬度", "状态"],
)


@pytest.fixture
def bad_file(write_csv):
    return write_csv(BAD_ROWS, "bad.csv", encoding="gbk")


def test_bad_rows_are_reported_with_row_numbers_and_reasons(store, bad_file):
    report = import_file(store, "stations", bad_file, system="wgs84")
    assert (report.rows_total, report.rows_imported, report.rows_rejected) == (9, 2, 7)
    found = {(p.file, p.row, p.column): p.reason for p in report.problems}
    assert found == {
        ("bad.csv", 2, "经度/纬度"): "no coordinates",
        ("bad.csv", 3, "经度/纬度"): "outside the service area (121.47000, 31.23000 in WGS-84 is not within "
                                    "lon 115.4–117.6, lat 39.4–41.1)",
        ("bad.csv", 4, "状态"): "'坏了' is not one of open, temporarily_closed, closed, planned",
        ("bad.csv", 5, "经度/纬度"): found[("bad.csv", 5, "经度/纬度")],
        ("bad.csv", 7, "名称"): "same name and address as row 6",
        ("bad.csv", 8, "经度/纬度"): "cannot read longitude '东经116'",
        ("bad.csv", 9, "经度/纬度"): found[("bad.csv", 9, "经度/纬度")],
    }
    assert re.fullmatch(r"17\.\d m from row 1 \(天安门驿站\)", found[("bad.csv", 5, "经度/纬度")])
    assert found[("bad.csv", 9, "经度/纬度")].endswith("are longitude and latitude swapped?")
    assert report.rejected_by_reason() == {"no_coordinates": 2, "outside_area": 2, "invalid": 1,
                                           "duplicate_near": 1, "duplicate_name_address": 1}
    assert sorted(store.read("stations")["name"]) == ["天安门驿站", "王府井驿站"]


def test_report_text_and_dict(store, bad_file):
    report = import_file(store, "stations", bad_file, system="wgs84")
    zh, en = report.to_text("zh"), report.to_text("en")
    assert "共 9 行：可导入 2 行，拒绝 7 行" in zh
    assert "bad.csv，第 2 行，列 经度/纬度：无坐标" in zh
    assert "bad.csv，第 7 行，列 名称：名称和地址与第 6 行相同" in zh
    assert "表头不计" in zh and "the header not counted" in en
    assert "bad.csv, row 4, column 状态: '坏了' is not one of open, temporarily_closed, closed, planned" in en
    assert len([line for line in en.splitlines() if line.startswith("bad.csv, row")]) == 7
    assert all(translate(p.reason, True) != p.reason for p in report.problems)  # every reason has Chinese
    body = json.loads(json.dumps(report.to_dict()))
    assert body["rows_rejected"] == 7 and body["written"] is True and body["data_version"] == 1
    assert {"file", "row", "column", "reason", "kind"} <= set(body["problems"][0])


def test_rows_with_several_problems_list_them_all_on_one_line(store, write_csv):
    frame = pd.DataFrame({"名称": [""], "经度": ["116.40"], "纬度": ["39.90"], "状态": ["坏了"]})
    report = import_file(store, "stations", write_csv(frame), system="wgs84")
    assert {p.column for p in report.problems} == {"名称", "状态"}
    assert report.rows_rejected == 1
    assert "row 1, column 名称: required value is empty; column 状态:" in report.to_text("en")


def test_spreadsheet_errors_count_as_blank(store, write_csv):
    frame = pd.DataFrame({"名称": ["#N/A", "甲"], "经纬度": ["116.40,39.90", "未匹配"]})
    report = import_file(store, "stations", write_csv(frame), system="gcj02")
    assert [(p.row, p.reason) for p in report.problems] == [
        (1, "required value is empty"), (2, "cannot read coordinates '未匹配'")]


def test_dry_run_writes_nothing(store, stations_table, bad_file, write_csv, sha256):
    import_file(store, "stations", write_csv(stations_table), system="wgs84")
    before = sha256(store.path)
    report = import_file(store, "stations", bad_file, system="wgs84", dry_run=True)
    assert sha256(store.path) == before
    assert (report.written, report.data_version, report.rows_imported) == (False, None, 2)  # updates
    assert "Dry run: nothing was written." in report.to_text("en")


def test_dry_run_does_not_create_the_store(store, bad_file):
    import_file(store, "stations", bad_file, system="wgs84", dry_run=True)
    assert not store.path.exists()


def test_strict_writes_nothing_when_a_row_is_rejected(store, stations_table, bad_file, write_csv, sha256):
    import_file(store, "stations", write_csv(stations_table), system="wgs84")
    before = sha256(store.path)
    report = import_file(store, "stations", bad_file, system="wgs84", strict=True)
    assert sha256(store.path) == before and not report.written
    assert "严格模式" in report.to_text("zh")
    clean = import_file(store, "stations", write_csv(stations_table.head(2), "two.csv"), system="wgs84", strict=True)
    assert clean.written


def test_a_write_that_fails_midway_leaves_the_store_byte_identical(store, stations_table, write_csv, sha256,
                                                                   monkeypatch):
    import locator.store.gpkg as gpkg

    import_file(store, "stations", write_csv(stations_table.head(2), "two.csv"), system="wgs84")
    before = sha256(store.path)
    real = gpkg._write_layer

    def write_then_fail(path, name, frame):
        real(path, name, frame)  # the new layer is in the temporary copy ...
        raise OSError("disk full")  # ... when the write fails

    monkeypatch.setattr(gpkg, "_write_layer", write_then_fail)
    with pytest.raises(ImportFailed, match="nothing was written.*disk full"):
        import_file(store, "stations", write_csv(stations_table), system="wgs84")
    assert sha256(store.path) == before
    assert [p.name for p in store.path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_reimporting_a_file_is_idempotent(store, stations_table, write_csv):
    path = write_csv(stations_table)
    first = import_file(store, "stations", path, system="wgs84")
    stored = store.read("stations").sort_values("id").reset_index(drop=True)
    second = import_file(store, "stations", path, system="wgs84")
    again = store.read("stations").sort_values("id").reset_index(drop=True)
    assert (first.rows_imported, second.rows_imported, second.problems) == (5, 5, [])
    assert second.data_version == first.data_version + 1
    pd.testing.assert_frame_equal(pd.DataFrame(stored.drop(columns="geometry")),
                                  pd.DataFrame(again.drop(columns="geometry")))
    assert stored.geometry.geom_equals_exact(again.geometry, tolerance=1e-6).all()


def test_ids_come_from_the_file_or_are_stable(store, stations_table, write_csv):
    import_file(store, "stations", write_csv(stations_table), system="wgs84")
    ids = store.read("stations")["id"]
    expected = model.stable_id("st", "天安门驿站", "东长安街1号", "116.39750", "39.90870")
    assert expected in set(ids) and all(ids.str.startswith("st-"))


def test_duplicates_of_stored_records_are_rejected(store, stations_table, write_csv):
    import_file(store, "stations", write_csv(stations_table), system="wgs84")
    stored = store.read("stations").set_index("name")["id"]
    later = pd.DataFrame({"名称": ["新驿站", "王府井驿站", "远处驿站"],
                          "地址": ["新街1号", "王府井大街2号", "远路1号"],
                          "经度": [116.39760, 116.50, 116.60], "纬度": [39.9087, 39.95, 40.0]})
    report = import_file(store, "stations", write_csv(later, "later.csv"), system="wgs84")
    reasons = {p.row: p.reason for p in report.problems}
    assert re.fullmatch(rf"\d\.\d m from stored record {stored['天安门驿站']}", reasons[1])
    assert reasons[2] == f"same name and address as stored record {stored['王府井驿站']}"
    assert report.rejected_by_reason() == {"duplicate_stored": 2} and report.rows_imported == 1


def test_gcj02_numbers_land_hundreds_of_metres_from_the_same_numbers_as_wgs84(tmp_path, stations_table,
                                                                              write_csv, distance_m):
    from locator.store import GeoPackageStore

    path = write_csv(stations_table)
    as_wgs84, as_gcj02 = GeoPackageStore(tmp_path / "w.gpkg"), GeoPackageStore(tmp_path / "g.gpkg")
    import_file(as_wgs84, "stations", path, system="wgs84")
    import_file(as_gcj02, "stations", path, system="GCJ-02")
    a = as_wgs84.read("stations").sort_values("name").geometry
    b = as_gcj02.read("stations").sort_values("name").geometry
    assert all(300 < d < 600 for d in distance_m(a, b))


def test_crs_column_and_header_qualifier_state_the_system(store, write_csv):
    frame = pd.DataFrame({"名称": ["甲", "乙"], "经度": [116.40, 116.41], "纬度": [39.90, 39.91],
                          "坐标系": ["gcj02", "WGS-84"]})
    report = import_file(store, "stations", write_csv(frame))
    assert report.rows_imported == 2 and report.system == "gcj02+wgs84"
    with pytest.raises(InvalidParameter, match="contradicts") as caught:
        import_file(store, "stations", write_csv(frame), system="bd09")
    assert caught.value.param == "crs"
    qualified = pd.DataFrame({"name": ["甲"], "lng_gcj02": [116.40], "lat_gcj02": [39.90]})
    assert import_file(store, "stations", write_csv(qualified, "q.csv"), dry_run=True).system == "gcj02"


def test_rows_whose_system_is_unknown_or_missing_are_rejected(store, write_csv):
    frame = pd.DataFrame({"名称": ["甲", "乙", "丙"], "经度": [116.40, 116.41, 116.42], "纬度": [39.90, 39.91, 39.92],
                          "crs": ["gcj02", "utm50", ""]})
    report = import_file(store, "stations", write_csv(frame))
    assert [(p.row, p.column, p.reason) for p in report.problems] == [
        (2, "crs", "unknown coordinate system 'utm50'"),
        (3, "crs", "no coordinate system: its crs cell is empty and --crs was not given")]
    assert report.rejected_by_reason() == {"no_system": 2}
    assert import_file(store, "stations", write_csv(frame), system="gcj02", dry_run=True).rows_imported == 2


def test_blank_rows_are_not_records_but_keep_their_numbers(store, tmp_path):
    frame = pd.DataFrame({"名称": ["甲", None, "乙"], "经度": [116.40, None, None], "纬度": [39.90, None, 39.92]})
    frame.to_excel(tmp_path / "gaps.xlsx", index=False)
    report = import_file(store, "stations", tmp_path / "gaps.xlsx", system="wgs84")
    assert (report.rows_total, report.rows_imported) == (2, 1)
    assert [(p.row, p.reason) for p in report.problems] == [(3, "no coordinates")]


def test_csv_without_a_stated_system_is_refused(store, stations_table, write_csv):
    with pytest.raises(InvalidParameter, match="not stated") as caught:
        import_file(store, "stations", write_csv(stations_table))
    assert caught.value.param == "crs"


def test_booths_and_the_source_column(store, write_csv):
    frame = pd.DataFrame({"地址": ["朝阳医院东门", "朝阳医院东门", "建国门"], "经度": [116.45, 116.46, 116.43],
                          "纬度": [39.92, 39.93, 39.90], "状态": ["候选", "已拆除", ""]})
    report = import_file(store, "booths", write_csv(frame), system="wgs84", source="public-report")
    assert report.rows_imported == 2
    assert report.problems[0].reason == "same name and address as row 1"  # booths compare addresses
    stored = store.read("booths").set_index("address")
    assert stored["status"].to_dict() == {"朝阳医院东门": "candidate", "建国门": "candidate"}
    assert set(stored["source"]) == {"public-report"} and all(stored["id"].str.startswith("bo-"))


def test_progress_bar_goes_to_stderr(store, stations_table, write_csv, capsys):
    report = import_file(store, "stations", write_csv(stations_table), system="wgs84", progress=True)
    captured = capsys.readouterr()
    assert report.rows_imported == 5
    assert "import stations.csv" in captured.err and "5/5" in captured.err
    assert captured.out == ""
