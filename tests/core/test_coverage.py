"""Coverage on the hand-made 3-4-5 grid of test_network: midpoint distances, bands, thresholds, aggregation."""

from __future__ import annotations

from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import box, wkt

from conftest import ORIGIN_X, ORIGIN_Y, shared_path
from locator.core.coverage import (
    coverage_by_subdistrict,
    distance_bands,
    make_thresholds,
    open_mask,
    segment_coverage,
    subdistricts_from_centres,
)
from locator.core.network import build_street_graph
from locator.errors import InvalidParameter, NotFound
from locator.hours import TZ


def line(*pts: tuple[float, float]) -> str:
    return "LINESTRING (" + ", ".join(f"{ORIGIN_X + x} {ORIGIN_Y + y}" for x, y in pts) + ")"


def streets_frame(rows: list[tuple[str, str, str, bool, str]]) -> gpd.GeoDataFrame:
    data = [{"id": i, "name": n, "highway": h, "oneway": o} for i, n, h, o, _ in rows]
    return gpd.GeoDataFrame(data, geometry=[wkt.loads(g) for *_, g in rows], crs="EPSG:32650")


# the grid of test_network.py: 300 m across, 400 m up, a 500 m footway on the diagonal
GRID = [
    ("h1", "东西一路", "residential", False, line((0, 0), (300, 0), (600, 0))),
    ("h2", "东西二路", "residential", False, line((0, 400), (300, 400), (600, 400))),
    ("h3", "东西三路", "residential", False, line((0, 800), (300, 800), (600, 800))),
    ("v1", "南北一路", "residential", False, line((0, 0), (0, 400), (0, 800))),
    ("v2", "南北二路", "residential", False, line((300, 0), (300, 400), (300, 800))),
    ("v3", "南北三路", "residential", False, line((600, 0), (600, 400), (600, 800))),
    ("d", "斜路", "footway", False, line((0, 0), (300, 400))),
]


def stations_at(*pts: tuple[float, float]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": [f"s{i}" for i in range(len(pts))], "status": "open"},
                            geometry=gpd.points_from_xy([ORIGIN_X + x for x, _ in pts],
                                                        [ORIGIN_Y + y for _, y in pts]), crs="EPSG:32650")


@pytest.fixture(scope="module")
def grid():
    return build_street_graph(streets_frame(GRID))


def seg_between(graph, a: tuple[float, float], b: tuple[float, float]) -> int:
    ends = graph.node_xy - [ORIGIN_X, ORIGIN_Y]
    u, v = ends[graph.seg_u], ends[graph.seg_v]
    hit = (np.all(np.isclose(u, a), axis=1) & np.all(np.isclose(v, b), axis=1)) | (
        np.all(np.isclose(u, b), axis=1) & np.all(np.isclose(v, a), axis=1))
    return int(np.flatnonzero(hit)[0])


def test_midpoint_distances_by_hand(grid):
    cov = segment_coverage(grid, stations_at((0, 0)))
    segs = cov.segments.set_index("segment")
    expected = {((300, 0), (600, 0)): 450, ((0, 0), (300, 0)): 150, ((0, 400), (0, 800)): 600,
                ((300, 400), (600, 400)): 650,  # up the diagonal (500) then half of 300
                ((600, 400), (600, 800)): 1000, ((0, 0), (300, 400)): 250}
    for (a, b), metres in expected.items():
        assert segs.at[seg_between(grid, a, b), "distance_m"] == pytest.approx(metres)
        assert segs.at[seg_between(grid, a, b), "station_id"] == "s0"
    assert segs["time_min"].to_numpy() == pytest.approx(segs["distance_m"].to_numpy() / 80.0)  # 4.8 km/h
    assert np.isinf(segs["second_distance_m"]).all()


def test_station_on_the_segment_itself_and_the_walk_to_the_door(grid):
    cov = segment_coverage(grid, stations_at((100, -20), (600, 800)))  # 20 m south of 东西一路
    segs = cov.segments.set_index("segment")
    k = seg_between(grid, (0, 0), (300, 0))
    assert segs.at[k, "distance_m"] == pytest.approx(50 + 20)
    assert segs.at[k, "station_id"] == "s0"
    assert segs.at[k, "second_distance_m"] == pytest.approx(150 + 300 + 800)  # to (600,800) via (600,0)
    assert segs.at[k, "second_station_id"] == "s1"
    assert cov.stations["snap_m"].tolist() == pytest.approx([20, 0])


def test_far_stations_are_reported_but_still_count(grid):
    cov = segment_coverage(grid, stations_at((150, -200)), max_snap_m=150)
    assert cov.stations["far"].tolist() == [True]
    k = seg_between(grid, (0, 0), (300, 0))
    assert cov.segments.at[k, "distance_m"] == pytest.approx(200)


def test_the_table_shares_the_street_columns_of_the_graph_read_only(grid):
    """Two passes share one copy of the street columns; an edit in place fails instead of changing the other
    table (and the graph), and a copy of the table can be edited; the station ids come with the table."""
    first, second = segment_coverage(grid, stations_at((0, 0))), segment_coverage(grid, stations_at((600, 800)))
    a, b = first.segments, second.segments
    assert np.shares_memory(a["length_m"].to_numpy(), b["length_m"].to_numpy())
    with pytest.raises(ValueError, match="read-only"):
        a.loc[0, "length_m"] = -1.0
    with pytest.raises(ValueError, match="read-only"):
        a.loc[0, "name"] = "改"
    edited = a.copy()
    edited.loc[0, "length_m"], edited.loc[0, "name"] = -1.0, "改"
    assert b.loc[0, "length_m"] == grid.seg_length_m[0] > 0 and b.loc[0, "name"] != "改"
    assert list(a.columns)[-2:] == ["station_id", "second_station_id"]
    assert set(a["station_id"]) == {"s0"} and set(b["station_id"]) == {"s0"}  # each table its own stations
    assert first.segments is a  # the ids are added once


def test_straight_line_mode(grid):
    cov = segment_coverage(grid, stations_at((0, 0), (600, 800)), mode="straight")
    k = seg_between(grid, (300, 400), (600, 400))
    assert cov.segments.at[k, "distance_m"] == pytest.approx(np.hypot(150, 400))
    with pytest.raises(InvalidParameter):
        segment_coverage(grid, stations_at((0, 0)), mode="teleport")


def test_ebike_minutes_and_one_way():
    graph = build_street_graph(streets_frame([
        ("o", "单行路", "residential", True, line((0, 0), (1000, 0))),
    ]))
    cov_walk = segment_coverage(graph, stations_at((0, 0)), profile="walk")
    cov_ebike = segment_coverage(graph, stations_at((0, 0)), profile="ebike")
    assert cov_walk.segments["distance_m"].iloc[0] == pytest.approx(500)
    assert np.isinf(cov_ebike.segments["distance_m"].iloc[0])  # can't ride back west to the station
    cov_east = segment_coverage(graph, stations_at((1000, 0)), profile="ebike")
    assert cov_east.segments["time_min"].iloc[0] == pytest.approx(500 / (14000 / 60))


def test_thresholds_and_bands():
    assert [t.label for t in make_thresholds()] == ["500m", "1000m", "2000m"]
    assert [t.label for t in make_thresholds(minutes=[5, 10])] == ["5min", "10min"]
    with pytest.raises(InvalidParameter) as err:
        make_thresholds(metres=[-1])
    assert err.value.param == "threshold_m"
    bands = distance_bands(np.array([0, 500, 501, 1500, 2500, np.inf]), [500, 1000, 2000])
    assert bands.tolist() == ["<=500", "<=500", "500-1000", "1000-2000", ">2000", "unreachable"]


def test_open_mask_by_status_and_hours():
    stations = stations_at((0, 0), (1, 1), (2, 2), (3, 3))
    stations["status"] = ["open", "open", "closed", "open"]
    stations["opening_hours"] = ["24/7", "Mo-Su 08:00-20:00", "24/7", ""]
    night = datetime(2026, 11, 2, 23, 0, tzinfo=TZ)
    assert open_mask(stations, at=None).tolist() == [True, True, False, True]
    assert open_mask(stations, at=night).tolist() == [True, False, False, True]
    assert open_mask(stations, at=night, unknown_hours_open=False).tolist() == [True, False, False, False]


def subdistricts() -> gpd.GeoDataFrame:
    west = box(ORIGIN_X - 1, ORIGIN_Y - 1, ORIGIN_X + 100, ORIGIN_Y + 801)
    east = box(ORIGIN_X + 100, ORIGIN_Y - 1, ORIGIN_X + 601, ORIGIN_Y + 801)
    return gpd.GeoDataFrame({"code": ["110105001000", "110105002000"], "name": ["西街道办事处", "东街道办事处"],
                             "district": ["朝阳区", "朝阳区"], "approximate": [False, True]},
                            geometry=[west, east], crs="EPSG:32650")


def test_aggregation_per_subdistrict_by_hand(grid):
    stations = stations_at((0, 0))
    cov = segment_coverage(grid, stations)
    table = coverage_by_subdistrict(cov, grid, subdistricts=subdistricts(), stations=stations,
                                    counted=np.array([True]), open_now=np.array([True]),
                                    thresholds=make_thresholds(metres=[500, 1000]))
    west, east = table.iloc[0], table.iloc[1]
    # west: the 南北一路 pieces (midpoints 200 and 600 m away) and half of nothing else: 800 m of street
    assert west.street_length_m == pytest.approx(800)
    assert west["covered_m_500m"] == pytest.approx(400) and west["share_500m"] == pytest.approx(0.5)
    assert west["share_1000m"] == pytest.approx(1.0)
    assert (west.stations, west.stations_open_now) == (1, 1) and east.stations == 0
    assert east.approximate and not west.approximate
    # east holds the rest: 6 x 300 m across, 4 x 400 m up the other two streets, the 500 m diagonal
    assert east.street_length_m == pytest.approx(1800 + 1600 + 500)
    worst = east.worst_streets[0]
    assert worst["name"] == "东西三路" and worst["distance_m"] == 900 + 150  # (450, 800) via (300, 800)
    one = coverage_by_subdistrict(cov, grid, subdistricts=subdistricts(), stations=stations,
                                  counted=np.array([True]), open_now=np.array([False]),
                                  thresholds=make_thresholds(), subdistrict="东街道")
    assert one["code"].tolist() == ["110105002000"]
    with pytest.raises(NotFound):
        coverage_by_subdistrict(cov, grid, subdistricts=subdistricts(), stations=stations, counted=np.array([True]),
                                open_now=np.array([True]), thresholds=make_thresholds(), subdistrict="不存在")


def test_no_subdistricts_gives_one_row_for_all(grid):
    stations = stations_at((0, 0))
    cov = segment_coverage(grid, stations)
    empty = subdistricts().iloc[0:0]
    table = coverage_by_subdistrict(cov, grid, subdistricts=empty, stations=stations, counted=np.array([True]),
                                    open_now=np.array([True]), thresholds=make_thresholds())
    assert len(table) == 1 and table.street_length_m.iloc[0] == pytest.approx(1800 + 2400 + 500)


points = st.tuples(st.floats(-100, 700), st.floats(-100, 900))


@settings(max_examples=40, deadline=None)
@given(st.lists(points, min_size=1, max_size=5), points, st.sampled_from(["walk", "ebike"]))
def test_properties(grid, base, extra, profile):
    stations = stations_at(*base)
    cov = segment_coverage(grid, stations, profile=profile)
    segs = cov.segments
    # never shorter than the straight line from the segment's midpoint to its station
    reached = np.isfinite(segs["distance_m"].to_numpy())
    pos = segs["station_id"][reached].str[1:].astype(int).to_numpy()
    sxy = np.column_stack([stations.geometry.x, stations.geometry.y])[pos]
    straight = np.hypot(*(grid.seg_midpoint_xy[reached] - sxy).T)
    assert (segs["distance_m"].to_numpy()[reached] >= straight - 1e-6).all()
    assert (segs["second_distance_m"].fillna(np.inf).to_numpy() >= 0).all()
    assert (segs["second_time_min"].to_numpy() >= segs["time_min"].to_numpy() - 1e-9).all()
    # shares in [0, 1]
    table = coverage_by_subdistrict(cov, grid, subdistricts=subdistricts(), stations=stations,
                                    counted=np.ones(len(stations), bool), open_now=np.ones(len(stations), bool),
                                    thresholds=make_thresholds(metres=[200, 700], minutes=[3]))
    shares = table[[c for c in table.columns if c.startswith("share_")]].to_numpy(dtype=float)
    assert ((shares >= 0) & (shares <= 1)).all()
    # a new station never makes any street farther from a station
    more = segment_coverage(grid, stations_at(*base, extra), profile=profile)
    assert (more.segments["time_min"].to_numpy() <= segs["time_min"].to_numpy() + 1e-9).all()


def test_voronoi_stand_ins_cover_the_district_and_are_marked():
    districts = gpd.GeoDataFrame({"name": ["朝阳区"]}, geometry=[box(116.40, 39.90, 116.50, 40.00)],
                                 crs="EPSG:4326")
    centres = pd.DataFrame({"code": ["110105001000", "110105002000", "110105003000"],
                            "name": ["甲街道办事处", "乙街道办事处", "丙街道办事处"], "district": ["朝阳区"] * 3,
                            "longitude": [116.42, 116.48, None], "latitude": [39.95, 39.95, None]})
    cells = subdistricts_from_centres(centres, districts, system="wgs84")
    assert cells["code"].tolist() == ["110105001000", "110105002000"]
    assert cells["approximate"].all()
    assert cells.attrs["missing_centre"] == ["110105003000"]
    whole = districts.to_crs(cells.crs).geometry.iloc[0]
    assert cells.geometry.area.sum() == pytest.approx(whole.area, rel=1e-6)
    assert cells.geometry.iloc[0].centroid.x < cells.geometry.iloc[1].centroid.x


@pytest.mark.shared
def test_voronoi_of_bj_townships():
    townships = pd.read_csv(shared_path("bj-townships", "beijing_townships_2016.csv"), dtype={"code12": str})
    districts = gpd.read_file(shared_path("bj-districts", "datav_110100_full_16_districts.json"))
    cells = subdistricts_from_centres(townships.rename(columns={"code12": "code"}), districts, system="gcj02")
    assert len(cells) == 254 and len(cells.attrs["missing_centre"]) == 82
    assert cells["approximate"].all() and cells.geometry.is_valid.all()
