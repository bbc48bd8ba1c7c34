"""locator.core.nearest: hand-checkable answers, filters that hide the nearest stations, and a property test
against a brute-force geodesic ranking."""

from __future__ import annotations

from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import points

from conftest import ORIGIN_X, ORIGIN_Y, frame, station_rows
from locator.core import nearest as nn
from locator.core.snapshot import Snapshot
from locator.crs import geodesic_distance_m, lonlat_to_work_xy, work_xy_to_lonlat
from locator.hours import TZ, is_open
from locator.model import AMENITY_KEYS, LAYERS, STATION_STATUSES, empty, split_amenities

HOURS = ("24/7", "Mo-Su 08:00-20:00", "Mo-Fr 09:00-17:00", "", "not hours at all", "Mo-Sa 06:30-10:00,16:00-22:00")
AMENITY_PICK = ("microwave", "toilet", "drinking_water", "wifi", "ebike_charging")


def origin_lonlat() -> tuple[float, float]:
    lon, lat = work_xy_to_lonlat(ORIGIN_X, ORIGIN_Y)
    return float(lon), float(lat)


def query(index: nn.PointIndex, lon: float, lat: float, **kw) -> list[nn.Hit]:
    x, y = lonlat_to_work_xy(lon, lat, work=index.work)
    mask_kw = {k: kw.pop(k) for k in ("amenities", "statuses", "open_at") if k in kw}
    return nn.nearest(index, lon, lat, float(x), float(y), mask=index.mask(**mask_kw), **kw)


def generated(n: int, *, seed: int = 7, spread_m: float = 40_000.0) -> gpd.GeoDataFrame:
    """n stations scattered around the grid origin with random amenities, statuses and hours (seeded)."""
    rng = np.random.default_rng(seed)
    xy = rng.normal(0.0, spread_m / 3, size=(n, 2)) + (ORIGIN_X, ORIGIN_Y)
    rows = {
        "id": [f"g{i:05d}" for i in range(n)],
        "name": [f"站{i}" for i in range(n)],
        "amenities": [";".join(k for k in AMENITY_PICK if rng.random() < 0.4) for _ in range(n)],
        "status": rng.choice(STATION_STATUSES, size=n, p=[0.7, 0.1, 0.1, 0.1]).tolist(),
        "opening_hours": rng.choice(HOURS, size=n).tolist(),
        "address": [""] * n, "source": ["demo"] * n,
    }
    return gpd.GeoDataFrame(rows, geometry=points(xy), crs="EPSG:32650")


def brute_force(stations: gpd.GeoDataFrame, lon: float, lat: float, *, k: int, radius_m=None, amenities=(),
                statuses=None, open_at=None) -> list[tuple[str, float]]:
    """The reference: every station's geodesic distance, filters checked row by row, sorted."""
    wgs = stations.geometry.to_crs("EPSG:4326")
    dist = geodesic_distance_m(lon, lat, wgs.x.to_numpy(), wgs.y.to_numpy())
    out = []
    rows = zip(stations["id"], stations["amenities"], stations["status"], stations["opening_hours"], dist,
               strict=True)
    for station_id, kinds, status, hours, d in rows:
        if not set(amenities) <= set(split_amenities(kinds)):
            continue
        if statuses is not None and status not in statuses:
            continue
        if open_at is not None and not (status == "open" and is_open(hours, open_at) is True):
            continue
        if radius_m is not None and d > radius_m:
            continue
        out.append((station_id, float(d)))
    return sorted(out, key=lambda item: (item[1], item[0]))[:k]


@pytest.fixture(scope="module")
def big() -> tuple[gpd.GeoDataFrame, nn.PointIndex]:
    stations = generated(6000)
    return stations, nn.build_point_index(stations, layer="stations")


def test_five_stations_by_hand(stations):
    index = nn.build_point_index(stations, layer="stations")
    hits = query(index, *origin_lonlat(), k=3)
    assert [h.id for h in hits][:2] in (["s1", "s3"], ["s3", "s1"])  # both 500 m away (a 3-4-5 triangle)
    assert hits[2].id == "s5"
    # UTM scale is 0.9996 near the central meridian: 500 grid metres are ~500.2 m on the ground
    assert [round(h.distance_m) for h in hits] == [500, 500, 1000]
    s1 = next(h for h in hits if h.id == "s1")
    assert s1.bearing_deg == pytest.approx(36.87, abs=0.5)  # atan2(300, 400) east of north, less grid convergence


def test_radius_cuts_off(stations):
    index = nn.build_point_index(stations, layer="stations")
    assert [h.id for h in query(index, *origin_lonlat(), k=5, radius_m=600)] in (["s3", "s1"], ["s1", "s3"])
    assert query(index, *origin_lonlat(), k=5, radius_m=100) == []


def test_open_at_excludes_non_open_statuses(stations):
    index = nn.build_point_index(stations, layer="stations")
    noon = datetime(2026, 11, 4, 12, 0, tzinfo=TZ)  # a Wednesday
    ids = [h.id for h in query(index, *origin_lonlat(), k=5, open_at=noon)]
    assert ids == ["s1", "s2", "s4"]  # s3 is temporarily closed, s5 planned: never open
    night = noon.replace(hour=22)
    assert [h.id for h in query(index, *origin_lonlat(), k=5, open_at=night)] == ["s1"]  # only 24/7
    assert index.open_state(index.by_id["s3"], noon) is False
    assert index.open_state(index.by_id["s1"], noon) is True


def test_unknown_hours_are_none_and_do_not_pass(stations):
    rows = station_rows()
    rows[0]["opening_hours"] = ""
    index = nn.build_point_index(frame(rows), layer="stations")
    noon = datetime(2026, 11, 4, 12, 0, tzinfo=TZ)
    assert index.open_state(index.by_id["s1"], noon) is None
    assert "s1" not in [h.id for h in query(index, *origin_lonlat(), k=5, open_at=noon)]


def test_filter_hides_the_nearest_hundreds(big):
    """6,000 stations; the 500 nearest lack a toilet; the answer is still the nearest that have one."""
    stations, _ = big
    stations = stations.copy()
    lon, lat = origin_lonlat()
    order = np.argsort(np.hypot(stations.geometry.x - ORIGIN_X, stations.geometry.y - ORIGIN_Y).to_numpy())
    stations["amenities"] = "toilet"
    stations.loc[stations.index[order[:500]], "amenities"] = "wifi"
    index = nn.build_point_index(stations, layer="stations")
    # both paths: the tree with a growing k (5,500 pass) and brute force over a few (wifi: 500 pass)
    for amenity in ("toilet", "wifi"):
        got = [(h.id, h.distance_m) for h in query(index, lon, lat, k=7, amenities=[amenity])]
        want = brute_force(stations, lon, lat, k=7, amenities=[amenity])
        assert [g[0] for g in got] == [w[0] for w in want]
    assert all(h.id in set(stations["id"].iloc[order[500:]]) for h in query(index, lon, lat, amenities=["toilet"]))


def test_only_far_stations_pass(stations):
    rows = [{**station_rows()[0], "id": f"n{i}", "amenities": "wifi", "geometry": f"POINT ({ORIGIN_X + i} "
             f"{ORIGIN_Y})"} for i in range(200)]
    rows.append({**station_rows()[0], "id": "far", "amenities": "microwave",
                 "geometry": f"POINT ({ORIGIN_X + 30_000} {ORIGIN_Y})"})
    index = nn.build_point_index(frame(rows), layer="stations")
    assert [h.id for h in query(index, *origin_lonlat(), k=3, amenities=["microwave"])] == ["far"]
    assert query(index, *origin_lonlat(), k=3, amenities=["microwave"], radius_m=20_000) == []


@settings(max_examples=150, deadline=None)
@given(
    dx=st.floats(-60_000, 60_000), dy=st.floats(-60_000, 60_000), k=st.integers(1, 50),
    radius=st.one_of(st.none(), st.floats(50, 50_000)),
    amenities=st.lists(st.sampled_from(AMENITY_PICK), max_size=3, unique=True),
    statuses=st.one_of(st.none(), st.lists(st.sampled_from(STATION_STATUSES), min_size=1, unique=True)),
    hour=st.one_of(st.none(), st.integers(0, 24 * 7 - 1)),
)
def test_property_equals_brute_force(big, dx, dy, k, radius, amenities, statuses, hour):
    stations, index = big
    lon, lat = (float(v) for v in work_xy_to_lonlat(ORIGIN_X + dx, ORIGIN_Y + dy))
    open_at = None if hour is None else datetime(2026, 11, 2, tzinfo=TZ) + timedelta(hours=hour, minutes=17)
    got = query(index, lon, lat, k=k, radius_m=radius, amenities=amenities, statuses=statuses, open_at=open_at)
    want = brute_force(stations, lon, lat, k=k, radius_m=radius, amenities=amenities, statuses=statuses,
                       open_at=open_at)
    assert [h.id for h in got] == [w[0] for w in want]
    assert np.allclose([h.distance_m for h in got], [w[1] for w in want], atol=0.5, rtol=0)


def _layers(stations: gpd.GeoDataFrame) -> dict[str, gpd.GeoDataFrame]:
    layers = {name: empty(name, crs="EPSG:32650") for name in LAYERS}
    return {**layers, "stations": stations}


def test_index_is_built_once_per_snapshot_and_swapped_with_it(stations):
    snapshot = Snapshot(version=1, layers=_layers(stations)).warm()
    first = snapshot.derived("station_index")
    assert snapshot.derived("station_index") is first  # no per-request rebuild
    assert len(first) == 5
    newer = Snapshot(version=2, layers=_layers(stations.iloc[:2])).warm()
    assert len(newer.derived("station_index")) == 2 and len(first) == 5


def test_masks_are_cached_per_minute(stations):
    index = nn.build_point_index(stations, layer="stations")
    at = datetime(2026, 11, 4, 12, 0, 5, tzinfo=TZ)
    first = index.mask(open_at=at, amenities=["microwave"])
    assert index.mask(open_at=at + timedelta(seconds=30), amenities=["microwave"]) is first
    assert not first.flags.writeable
    assert index.mask() is None


def test_empty_layer(stations):
    index = nn.build_point_index(stations.iloc[:0], layer="stations")
    assert query(index, *origin_lonlat(), k=5) == []


def test_amenity_bits_cover_the_vocabulary():
    assert nn.amenity_bits(AMENITY_KEYS) == (1 << len(AMENITY_KEYS)) - 1


def test_distance_outside_box():
    box = (115.4, 39.4, 117.6, 41.1)
    assert nn.distance_outside_m(116.4, 39.9, box) == 0.0
    assert nn.distance_outside_m(118.6, 40.0, box) == pytest.approx(85_200, rel=0.01)  # 1 degree east at 40 N


def test_speeds_are_documented_constants():
    assert nn.WALK_M_PER_MIN == 75.0
    assert nn.RIDE_M_PER_MIN == 250.0
    assert nn.walk_min(750) == 10.0 and nn.ride_min(2500) == 10.0


def test_ring_of_equal_grid_distances_is_ranked_by_ground_distance():
    """360 stations all 5,000 grid metres away: UTM can't order them; the geodesic re-rank must."""
    cx, cy = 380_000.0, 4_420_000.0  # 120 km west of the zone's central meridian: scale varies across the ring
    angles = np.radians(np.arange(360))
    xy = np.column_stack([cx + 5000 * np.sin(angles), cy + 5000 * np.cos(angles)])
    ring = gpd.GeoDataFrame({"id": [f"r{i:03d}" for i in range(360)], "status": "open", "amenities": "",
                             "opening_hours": ""}, geometry=points(xy), crs="EPSG:32650")
    index = nn.build_point_index(ring, layer="stations")
    lon, lat = (float(v) for v in work_xy_to_lonlat(cx, cy))
    for k in (1, 5, 40):
        got = [h.id for h in query(index, lon, lat, k=k)]
        assert got == [w[0] for w in brute_force(ring, lon, lat, k=k)]


def test_hours_state_is_the_same_for_every_second_of_a_minute(stations):
    """Cached per (hours, minute): the answers equal hours.is_open/next_change at the exact second."""
    from locator.hours import next_change

    index = nn.build_point_index(stations, layer="stations")
    s2 = index.by_id["s2"]  # Mo-Su 08:00-20:00, open
    for text in ("2026-11-04T07:59:00", "2026-11-04T07:59:59", "2026-11-04T08:00:00", "2026-11-04T08:00:42",
                 "2026-11-04T19:59:30", "2026-11-04T20:00:01"):
        at = datetime.fromisoformat(text).replace(tzinfo=TZ)
        state, change = index.hours_state(s2, at)
        assert state is is_open("Mo-Su 08:00-20:00", at)
        assert change == next_change("Mo-Su 08:00-20:00", at).isoformat(timespec="minutes")
        assert index.open_state(s2, at) is state and nn.next_change_iso(index, s2, at) == change
    noon = datetime(2026, 11, 4, 12, 0, 30, tzinfo=TZ)
    assert index.hours_state(index.by_id["s3"], noon) == (False, None)  # temporarily closed
    assert index.hours_state(index.by_id["s5"], noon) == (False, None)  # planned, unknown hours
    assert index.hours_state(index.by_id["s1"], noon) == (True, None)  # 24/7 never changes


def test_result_card_is_built_once_in_each_system(stations):
    from locator.core.navigation import nav_links
    from locator.crs import from_wgs84

    index = nn.build_point_index(stations, layer="stations")
    pos = index.by_id["s1"]
    lon_w, lat_w = (float(v[pos]) for v in index.lonlat["wgs84"])
    for system in ("wgs84", "gcj02", "bd09"):
        card = nn.result_card(index, pos, system)
        assert nn.result_card(index, pos, system) is card
        want = from_wgs84(lon_w, lat_w, system)
        assert (card["lon"], card["lat"]) == (round(float(want[0]), 7), round(float(want[1]), 7))
        assert card["amenities"] == ["drinking_water", "microwave"]
        assert card["nav"] == nav_links(lon_w, lat_w, name="甲站")  # the links don't depend on `system`
        assert (card["id"], card["name"], card["status"], card["opening_hours"]) == ("s1", "甲站", "open", "24/7")
    assert nn.result_card(index, pos, "bd09")["nav"] is nn.result_card(index, pos, "wgs84")["nav"]  # one per station


def test_probe_sizes_do_not_change_answers(big):
    """Masks passing 1-95 % of 6,000 stations: every answer equals brute force, whatever the first probe."""
    stations, _ = big
    rng = np.random.default_rng(3)
    for share in (0.01, 0.2, 0.5, 0.95):
        picked = rng.random(len(stations)) < share
        marked = stations.assign(amenities=np.where(picked, "wifi", "toilet"))
        marked_index = nn.build_point_index(marked, layer="stations")
        for dx, dy, k in ((0, 0, 1), (5000, -3000, 5), (-20_000, 10_000, 17), (60_000, 0, 50)):
            qlon, qlat = (float(v) for v in work_xy_to_lonlat(ORIGIN_X + dx, ORIGIN_Y + dy))
            got = [h.id for h in query(marked_index, qlon, qlat, k=k, amenities=["wifi"])]
            assert got == [w[0] for w in brute_force(marked, qlon, qlat, k=k, amenities=["wifi"])]


def test_cell_lists_answer_as_the_tree_does(big):
    """The per-cell neighbour lists answer most queries and never change an answer (core.cells)."""
    from dataclasses import replace

    from locator.core.cells import level_candidates

    stations, index = big
    assert index.cells  # 6,000 stations: both grids built
    tree_only = replace(index, cells=())
    rng = np.random.default_rng(11)
    answered = 0
    for _ in range(600):
        dx, dy = rng.normal(0, 15_000, size=2)
        lon, lat = (float(v) for v in work_xy_to_lonlat(ORIGIN_X + dx, ORIGIN_Y + dy))
        x, y = (float(v) for v in lonlat_to_work_xy(lon, lat))
        k = int(rng.integers(1, 12))
        radius = None if rng.random() < 0.5 else float(rng.uniform(100, 5000))
        mask = index.mask(statuses=["open", "temporarily_closed", "closed"]) if rng.random() < 0.5 else None
        bound_r = np.inf if radius is None else radius * index.stretch + 1.0
        passes = None if mask is None else mask.tobytes()
        if level_candidates(index.cells, index.xs, index.ys, x, y, k=k, bound_r=bound_r, stretch=index.stretch,
                            passes=passes) is not None:
            answered += 1
        want = nn.nearest(tree_only, lon, lat, x, y, k=k, radius_m=radius, mask=mask)
        assert nn.nearest(index, lon, lat, x, y, k=k, radius_m=radius, mask=mask) == want
    assert answered > 300


def test_small_layers_have_no_cells(stations):
    assert nn.build_point_index(stations, layer="stations").cells == ()
