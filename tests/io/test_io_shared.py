"""Real files from ../shared/data (skipped where absent): every row is imported or rejected with a reason."""

from __future__ import annotations

import pytest

from locator.io.importer import import_file

pytestmark = pytest.mark.shared


def test_bus_stops_every_row_accounted_for(store, shared_file):
    path = shared_file("bj-bus-stops", "beijing_bus_stops_unique.csv")
    report = import_file(store, "stations", path, system="gcj02")
    assert report.rows_total == 20_702
    assert report.rows_imported + report.rows_rejected == 20_702
    assert all(p.reason and p.row >= 1 and p.column for p in report.problems)
    assert set(report.rejected_by_reason()) <= {"outside_area", "duplicate_near"}
    assert report.columns == {"id": "stop_id", "name": "stop_name", "lon": "lng_gcj02", "lat": "lat_gcj02"}
    assert report.ignored_columns == ["n_routes"]
    assert len(store.read("stations")) == report.rows_imported


def test_gbk_institutions_list_reports_its_bad_rows(store, shared_file):
    path = shared_file("bj-pois-misc", "beijing_education_institutions_geocoded_raw_gbk.csv")
    report = import_file(store, "stations", path, system="gcj02")
    assert report.encoding == "gb18030" and report.rows_total == 451
    assert report.rows_imported + report.rows_rejected == 451
    reasons = [p.reason for p in report.problems]
    assert sum(r == "cannot read coordinates '未匹配'" for r in reasons) == 2
    assert sum(r == "cannot read coordinates '请求出错'" for r in reasons) == 2
    assert any(p.column == "名称" and p.reason == "required value is empty" for p in report.problems)  # '#N/A'
    # the geocoder's fallback points: the same coordinates for different addresses
    assert any(r.startswith("0.0 m from row ") for r in reasons)
    assert report.rejected_by_reason()["no_coordinates"] == 4
