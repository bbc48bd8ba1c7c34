"""Header recognition: Chinese and English, case-insensitive, qualifiers, mapping; and cell vocabularies."""

from __future__ import annotations

import pandas as pd
import pytest

from locator.errors import InvalidParameter
from locator.io import columns
from locator.io.importer import import_file


@pytest.mark.parametrize(("header", "field"), [
    ("名称", "name"), ("站点名称", "name"), ("驿站名称", "name"), ("Name", "name"), ("NAME", "name"),
    ("地址", "address"), ("详细地址", "address"), ("Address", "address"),
    ("经度", "lon"), ("lon", "lon"), ("LNG", "lon"), ("Longitude", "lon"), ("x", "lon"),
    ("纬度", "lat"), ("lat", "lat"), ("Latitude", "lat"), ("Y", "lat"),
    ("经纬度", "lnglat"), ("坐标", "lnglat"), ("lnglat", "lnglat"),
    ("开放时间", "opening_hours"), ("营业时间", "opening_hours"), ("工作时间", "opening_hours"),
    ("时间", "opening_hours"), ("opening_hours", "opening_hours"), ("Hours", "opening_hours"),
    ("服务项目", "amenities"), ("服务内容", "amenities"), ("设施", "amenities"), ("amenities", "amenities"),
    ("区", "district"), ("所属区", "district"), ("district", "district"),
    ("街道", "subdistrict"), ("subdistrict", "subdistrict"),
    ("电话", "phone"), ("联系电话", "phone"), ("Phone", "phone"),
    ("状态", "status"), ("status", "status"),
    ("运营", "operator"), ("运营单位", "operator"), ("operator", "operator"),
    ("id", "id"), ("ID", "id"), ("编号", "id"),
    ("坐标系", "crs"), ("CRS", "crs"),
    # qualifiers, words and endings
    ("stop_name", "name"), ("stop_id", "id"), ("lng_gcj02", "lon"), ("经度(GCJ-02)", "lon"),
    ("驿站地址", "address"), ("\ufeff名称", "name"), ("名称 ", "name"), ("ＮＡＭＥ", "name"),
])
def test_header_is_recognised(header, field):
    assert columns.recognise([header], layer="stations").fields == {field: header}


def test_unknown_columns_are_ignored_and_listed():
    match = columns.recognise(["名称", "n_routes", "更新时间", "经度", "纬度"], layer="stations")
    assert match.fields == {"name": "名称", "lon": "经度", "lat": "纬度"}
    assert match.ignored == ["n_routes", "更新时间"]


def test_exact_header_beats_a_word_match_and_the_first_header_wins():
    match = columns.recognise(["stop_name", "名称", "name"], layer="stations")
    assert match.fields["name"] == "名称"
    assert match.ignored == ["stop_name", "name"]


def test_header_qualifier_states_the_system():
    match = columns.recognise(["stop_name", "lng_gcj02", "lat_gcj02"], layer="stations")
    assert match.stated_systems() == {"gcj02"}
    assert columns.recognise(["经度(WGS84)", "纬度(WGS84)"], layer="stations").stated_systems() == {"wgs84"}


def test_mapping_overrides_recognition_and_can_ignore():
    match = columns.recognise(["名称", "站名备用", "地址"], layer="stations",
                              mapping={"站名备用": "name", "地址": ""})
    assert match.fields == {"name": "站名备用"}
    assert match.ignored == ["名称", "地址"]


@pytest.mark.parametrize(("mapping", "match"), [({"nope": "name"}, "no column 'nope'"),
                                                ({"名称": "title"}, "'title' is not a field")])
def test_bad_mapping_is_an_invalid_parameter(mapping, match):
    with pytest.raises(InvalidParameter, match=match) as caught:
        columns.recognise(["名称"], layer="stations", mapping=mapping)
    assert caught.value.param == "map"


def test_subdistrict_layer_reads_the_street_column_as_the_name():
    match = columns.recognise(["区划代码", "街道"], layer="subdistricts")
    assert match.fields == {"code": "区划代码", "name": "街道"}


def test_mapping_feeds_the_import(store, tmp_path):
    frame = pd.DataFrame({"驿站": ["甲"], "E": [116.4], "N": [39.9], "位置说明": ["东长安街"]})
    frame.to_csv(tmp_path / "odd.csv", index=False)
    report = import_file(store, "stations", tmp_path / "odd.csv", system="wgs84",
                         mapping={"驿站": "name", "E": "lon", "N": "lat", "位置说明": "address"})
    assert report.rows_imported == 1 and report.ignored_columns == []
    stored = store.read("stations").iloc[0]
    assert (stored["name"], stored["address"]) == ("甲", "东长安街")


@pytest.mark.parametrize("separator", [",", "，", ", ", " "])
def test_single_lnglat_field(store, tmp_path, separator):
    frame = pd.DataFrame({"名称": ["甲", "乙"], "经纬度": [f"116.40{separator}39.90", f"116.41{separator}39.91"]})
    frame.to_csv(tmp_path / "one.csv", index=False)
    report = import_file(store, "stations", tmp_path / "one.csv", system="wgs84")
    assert report.rows_imported == 2, report.to_text("en")
    assert report.columns == {"name": "名称", "lnglat": "经纬度"}


def test_status_words_hours_and_amenities(store, stations_table, write_csv):
    report = import_file(store, "stations", write_csv(stations_table), system="wgs84")
    stored = store.read("stations").set_index("name")
    assert stored["status"].to_dict() == {"天安门驿站": "open", "王府井驿站": "temporarily_closed",
                                          "东单驿站": "open", "西单驿站": "planned", "前门驿站": "closed"}
    assert stored.loc["天安门驿站", "opening_hours"] == "Mo-Su 08:00-18:00"
    assert stored.loc["天安门驿站", "opening_hours_raw"] == "周一至周日 8:00-18:00"
    assert stored.loc["前门驿站", "opening_hours"] == ""  # not understood: kept raw, not dropped
    assert stored.loc["前门驿站", "opening_hours_raw"] == "随便什么时候"
    assert stored.loc["天安门驿站", "amenities"] == "drinking_water;microwave;phone_charging"
    assert stored.loc["王府井驿站", "amenities"] == "toilet;wifi"
    assert stored.loc["西单驿站", "amenities"] == "air_conditioning"
    warnings = {(w.problem.row, w.problem.column, w.kind) for w in report.warnings}
    assert warnings == {(5, "开放时间", "hours"), (4, "服务项目", "amenities")}
    assert "按摩椅" in next(w.problem.reason for w in report.warnings if w.kind == "amenities")
    assert report.ignored_columns == ["备注列"]
