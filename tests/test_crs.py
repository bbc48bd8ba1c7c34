"""locator.crs: published test vectors, round-trip properties, the work CRS, and real Beijing outlines."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from locator import crs
from locator.errors import InvalidParameter

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BEIJING = (115.4, 39.4, 117.6, 41.1)  # the default SERVICE_AREA, minlon, minlat, maxlon, maxlat

props = settings(max_examples=200, deadline=None)

china_lon = st.floats(73.0, 135.0)
china_lat = st.floats(18.0, 53.0)
any_lon = st.floats(-180.0, 180.0)
any_lat = st.floats(-90.0, 90.0)
outside_china = st.one_of(
    st.tuples(st.floats(-180.0, 72.0), any_lat),
    st.tuples(st.floats(137.9, 180.0), any_lat),
    st.tuples(any_lon, st.floats(56.0, 90.0)),
    st.tuples(any_lon, st.floats(-90.0, 0.8)),
)


# --- published test vectors -------------------------------------------------------------------------------

# (wgs lon, wgs lat, gcj lon, gcj lat) in Beijing.
WGS_TO_GCJ = [
    # googollee/eviltransform, python/test.py and go/transform_test.go, "beijing"
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),
    # wandergis/coordtransform, README.md: wgs84togcj02(116.404, 39.915)
    (116.404, 39.915, 116.41024449916938, 39.91640428150164),
]
# (gcj lon, gcj lat, bd lon, bd lat). wandergis/coordtransform, README.md: gcj02tobd09(116.404, 39.915)
GCJ_TO_BD = [(116.404, 39.915, 116.41036949371029, 39.92133699351021)]


@pytest.mark.parametrize(("wlon", "wlat", "glon", "glat"), WGS_TO_GCJ)
def test_wgs84_to_gcj02_matches_published_vectors(wlon, wlat, glon, glat):
    lon, lat = crs.wgs84_to_gcj02(wlon, wlat)
    assert (lon, lat) == (pytest.approx(glon, abs=1e-9), pytest.approx(glat, abs=1e-9))


@pytest.mark.parametrize(("wlon", "wlat", "glon", "glat"), WGS_TO_GCJ)
def test_gcj02_to_wgs84_recovers_published_vectors(wlon, wlat, glon, glat):
    # eviltransform's own "exact" inverse is only held to 0.5 m; ours iterates to well under a millimetre
    lon, lat = crs.gcj02_to_wgs84(glon, glat)
    assert crs.geodesic_distance_m(lon, lat, wlon, wlat) < 0.001


@pytest.mark.parametrize(("glon", "glat", "blon", "blat"), GCJ_TO_BD)
def test_gcj02_to_bd09_matches_published_vectors(glon, glat, blon, blat):
    lon, lat = crs.gcj02_to_bd09(glon, glat)
    assert (lon, lat) == (pytest.approx(blon, abs=1e-9), pytest.approx(blat, abs=1e-9))
    back = crs.bd09_to_gcj02(blon, blat)
    assert crs.geodesic_distance_m(*back, glon, glat) < 0.001


def test_iterative_inverses_beat_the_published_one_step_ones():
    # wandergis/coordtransform README.md: the one-step inverses of (116.404, 39.915)
    one_step = {"gcj02->wgs84": (116.39775550083061, 39.91359571849836),
                "bd09->gcj02": (116.39762729119315, 39.90865673957631)}
    ours = {"gcj02->wgs84": crs.gcj02_to_wgs84(116.404, 39.915),
            "bd09->gcj02": crs.bd09_to_gcj02(116.404, 39.915)}
    forward = {"gcj02->wgs84": crs.wgs84_to_gcj02, "bd09->gcj02": crs.gcj02_to_bd09}
    for key, (lon, lat) in one_step.items():
        # close to the published approximation, and exact where it is not
        assert crs.geodesic_distance_m(*ours[key], lon, lat) < 1.0
        assert crs.geodesic_distance_m(*forward[key](*ours[key]), 116.404, 39.915) < 1e-4
        assert crs.geodesic_distance_m(*forward[key](lon, lat), 116.404, 39.915) > 0.01


# --- shapes and edge values --------------------------------------------------------------------------------

FUNCTIONS = [crs.wgs84_to_gcj02, crs.gcj02_to_wgs84, crs.gcj02_to_bd09, crs.bd09_to_gcj02,
             crs.wgs84_to_bd09, crs.bd09_to_wgs84]


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_scalars_give_0d_arrays_and_arrays_broadcast(fn):
    lon, lat = fn(116.4, 39.9)
    assert isinstance(lon, np.ndarray) and lon.shape == () and lat.shape == ()
    lon, lat = fn(np.array([[116.4], [116.5]]), np.array([39.9, 40.0, 40.1]))
    assert lon.shape == lat.shape == (2, 3)
    assert fn(np.array([]), np.array([]))[0].shape == (0,)


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_nan_and_inf_pass_through_without_warnings(fn):
    lon, lat = fn([np.nan, np.inf, 116.4], [39.9, 39.9, np.nan])
    assert np.isnan(lon[0]) and lon[1] == np.inf and np.isnan(lat[2])


@pytest.mark.parametrize(("lon", "lat", "expected"), [
    (116.4, 39.9, False),  # Beijing
    (121.5, 25.0, False),  # the rectangle is rough: it includes Taipei
    (139.7, 35.7, True),   # Tokyo
    (-0.1, 51.5, True),    # London
    (72.0, 30.0, True),
    (100.0, 56.0, True),
])
def test_out_of_china(lon, lat, expected):
    assert bool(crs.out_of_china(lon, lat)) is expected


# --- properties ----------------------------------------------------------------------------------------------

@props
@given(china_lon, china_lat)
def test_gcj02_round_trip_within_half_a_metre(lon, lat):
    back = crs.gcj02_to_wgs84(*crs.wgs84_to_gcj02(lon, lat))
    assert crs.geodesic_distance_m(*back, lon, lat) < 0.5


@props
@given(china_lon, china_lat)
def test_bd09_round_trip_within_half_a_metre(lon, lat):
    back = crs.bd09_to_wgs84(*crs.wgs84_to_bd09(lon, lat))
    assert crs.geodesic_distance_m(*back, lon, lat) < 0.5
    back = crs.bd09_to_gcj02(*crs.gcj02_to_bd09(lon, lat))
    assert crs.geodesic_distance_m(*back, lon, lat) < 0.5


@props
@given(china_lon, china_lat, st.sampled_from(crs.COORD_SYSTEMS), st.sampled_from(crs.COORD_SYSTEMS))
def test_convert_round_trip(lon, lat, src, dst):
    there = crs.convert(lon, lat, src=src, dst=dst)
    back = crs.convert(*there, src=dst, dst=src)
    assert crs.geodesic_distance_m(*back, lon, lat) < 0.5


def test_round_trip_worst_case_over_seeded_points():
    rng = np.random.default_rng(20240611)
    lon, lat = rng.uniform(73, 135, 50_000), rng.uniform(18, 53, 50_000)
    for system in ("gcj02", "bd09"):
        back = crs.to_wgs84(*crs.from_wgs84(lon, lat, system), system)
        assert crs.geodesic_distance_m(*back, lon, lat).max() < 0.01


@props
@given(outside_china)
def test_outside_china_gcj02_is_wgs84(point):
    lon, lat = point
    assert crs.wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert crs.gcj02_to_wgs84(lon, lat) == (lon, lat)


@props
@given(st.floats(BEIJING[0], BEIJING[2]), st.floats(BEIJING[1], BEIJING[3]))
def test_gcj02_shift_in_beijing_is_a_few_hundred_metres(lon, lat):
    assert 100 < crs.geodesic_distance_m(*crs.wgs84_to_gcj02(lon, lat), lon, lat) < 700


@props
@given(china_lon, china_lat, china_lon, china_lat)
def test_bearing_in_range(lon1, lat1, lon2, lat2):
    assert 0 <= crs.geodesic_bearing_deg(lon1, lat1, lon2, lat2) < 360


# --- parsing -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ("wgs84", "wgs84"), ("WGS-84", "wgs84"), ("EPSG:4326", "wgs84"), (" Wgs84 ", "wgs84"),
    ("gcj02", "gcj02"), ("GCJ-02", "gcj02"), ("bd09", "bd09"), ("BD-09", "bd09"), ("bd09ll", "bd09"),
])
def test_parse_coord_system(value, expected):
    assert crs.parse_coord_system(value) == expected


@pytest.mark.parametrize("value", ["", "utm", "EPSG:3857", "4326", "gcj", "x" * 500])
@pytest.mark.parametrize("param", ["crs", "from"])
def test_parse_coord_system_rejects_with_param(value, param):
    with pytest.raises(InvalidParameter) as info:
        crs.parse_coord_system(value, param=param)
    err = info.value
    assert err.param == param and err.status == 400
    assert all(name in err.detail for name in crs.COORD_SYSTEMS)
    assert len(err.detail) < 120
    assert err.to_problem()["param"] == param


def test_unknown_system_in_code_is_a_value_error():
    with pytest.raises(ValueError, match="parse_coord_system"):
        crs.to_wgs84(116.4, 39.9, "GCJ02")
    with pytest.raises(ValueError):
        crs.convert(116.4, 39.9, src="wgs84", dst="mars")


# --- geometries ----------------------------------------------------------------------------------------------

WKT = ["POINT (116.4 39.9)", "LINESTRING Z (116.3 39.8 5, 116.5 40.0 6)",
       "POLYGON ((116.3 39.8, 116.5 39.8, 116.5 40, 116.3 39.8))", "POLYGON EMPTY", None]


@pytest.fixture
def lonlat_series():
    return gpd.GeoSeries.from_wkt(WKT, index=[10, 20, 30, 40, 50], crs=crs.WGS84, name="geom")


@pytest.mark.parametrize("system", crs.COORD_SYSTEMS)
def test_geometry_to_wgs84_converts_every_vertex_and_keeps_the_series(lonlat_series, system):
    out = crs.geometry_to_wgs84(lonlat_series, system)
    assert isinstance(out, gpd.GeoSeries) and out.crs == crs.WGS84
    assert list(out.index) == [10, 20, 30, 40, 50] and out.name == "geom"
    assert out.iloc[1].has_z and out.iloc[3].is_empty and out.iloc[4] is None
    coords = shapely.get_coordinates(lonlat_series.to_numpy(), include_z=True)
    expected = np.column_stack([*crs.to_wgs84(coords[:, 0], coords[:, 1], system), coords[:, 2]])
    np.testing.assert_allclose(shapely.get_coordinates(out.to_numpy(), include_z=True), expected)


@pytest.mark.parametrize("system", crs.COORD_SYSTEMS)
def test_geometry_round_trip_on_arrays_and_single_geometries(lonlat_series, system):
    array = lonlat_series.to_numpy()
    back = crs.geometry_to_wgs84(crs.geometry_from_wgs84(array, system), system)
    assert isinstance(back, np.ndarray)
    assert shapely.equals_exact(back[:4], array[:4], tolerance=1e-9).all()
    point = shapely.Point(116.4, 39.9)
    assert crs.geometry_from_wgs84(point, system).equals_exact(
        shapely.Point(*(float(v) for v in crs.from_wgs84(116.4, 39.9, system))), 1e-12)


def test_geometry_of_a_projected_series_is_refused():
    with pytest.raises(ValueError, match="projected"):
        crs.geometry_to_wgs84(gpd.GeoSeries.from_wkt(["POINT (450000 4400000)"], crs="EPSG:32650"), "gcj02")


# --- the work CRS --------------------------------------------------------------------------------------------

def test_work_crs(monkeypatch):
    monkeypatch.delenv("LOCATOR_WORK_CRS", raising=False)
    assert crs.work_crs() == "EPSG:32650"
    assert crs.work_crs({"WORK_CRS": "EPSG:4547"}) == "EPSG:4547"
    monkeypatch.setenv("LOCATOR_WORK_CRS", "EPSG:32651")
    assert crs.work_crs() == "EPSG:32651"
    assert crs.work_crs({}) == "EPSG:32651"


@pytest.fixture
def gcj_frame():
    return gpd.GeoDataFrame(
        {"name": ["a", "b", "c"]},
        geometry=gpd.GeoSeries.from_wkt(["POINT (116.4 39.9)", "LINESTRING (116.3 39.8, 116.5 40)", None],
                                        index=[7, 8, 9]),
        index=[7, 8, 9],
        crs=crs.WGS84,  # Amap files are labelled EPSG:4326 although they are GCJ-02
    )


def test_to_work_from_work_round_trip(gcj_frame):
    work = crs.to_work(gcj_frame, system="gcj02", work="EPSG:32650")
    assert work.crs == "EPSG:32650" and list(work.index) == [7, 8, 9] and list(work["name"]) == ["a", "b", "c"]
    wgs = crs.from_work(work)
    assert shapely.get_coordinates(wgs.geometry)[0] == pytest.approx(
        [float(v) for v in crs.gcj02_to_wgs84(116.4, 39.9)], abs=1e-9)
    back = crs.from_work(work, system="gcj02")
    assert back.crs == crs.WGS84
    assert shapely.equals_exact(back.geometry.to_numpy()[:2], gcj_frame.geometry.to_numpy()[:2], 1e-9).all()
    assert back.geometry.iloc[2] is None


def test_to_work_of_a_frame_without_crs_takes_it_as_lonlat(gcj_frame):
    plain = gcj_frame.set_crs(None, allow_override=True)
    expected = crs.to_work(gcj_frame, system="gcj02")
    assert crs.to_work(plain, system="gcj02").iloc[:2].geom_equals_exact(expected.iloc[:2], 1e-6).all()
    with pytest.raises(ValueError, match="not lon/lat"):
        crs.to_work(gpd.GeoSeries.from_wkt(["POINT (450000 4400000)"]))


def test_to_work_reprojects_a_projected_frame(gcj_frame):
    mercator = crs.to_work(gcj_frame, system="gcj02", work="EPSG:3857")
    work = crs.to_work(mercator)
    assert work.crs == "EPSG:32650"
    # the None row compares unequal to itself, so compare the two real geometries
    assert work.iloc[:2].geom_equals_exact(crs.to_work(gcj_frame, system="gcj02").iloc[:2], 1e-6).all()
    with pytest.raises(ValueError, match="projected"):
        crs.to_work(mercator, system="gcj02")
    with pytest.raises(ValueError, match="CRS set"):
        crs.from_work(mercator.set_crs(None, allow_override=True))


def test_empty_frames_pass():
    empty = gpd.GeoDataFrame({"name": []}, geometry=gpd.GeoSeries([], crs=crs.WGS84))
    work = crs.to_work(empty, system="bd09")
    assert len(work) == 0 and work.crs == "EPSG:32650"
    assert crs.from_work(work, system="bd09").crs == crs.WGS84


@pytest.mark.parametrize("system", crs.COORD_SYSTEMS)
def test_lonlat_fast_path_matches_to_work(system):
    lon, lat = np.array([116.3, 116.4, 117.1]), np.array([39.8, 39.9, 40.6])
    x, y = crs.lonlat_to_work_xy(lon, lat, system=system)
    frame = crs.to_work(gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=crs.WGS84), system=system)
    np.testing.assert_allclose(np.column_stack([x, y]), shapely.get_coordinates(frame), atol=1e-6)
    back = crs.work_xy_to_lonlat(x, y, system=system)
    assert crs.geodesic_distance_m(*crs.to_wgs84(*back, system), *crs.to_wgs84(lon, lat, system)).max() < 1e-3
    assert crs._transformer(crs.WGS84, "EPSG:32650") is crs._transformer(crs.WGS84, "EPSG:32650")


@pytest.mark.parametrize(("lon", "lat"), [(116.4, 39.9), (115.5, 39.5), (117.5, 41.0)])
@pytest.mark.parametrize("system", ["wgs84", "gcj02"])
def test_three_four_five(lon, lat, system):
    # UTM's scale error is < 0.04 % in Beijing, i.e. < 0.2 m over 500 m
    x, y = crs.lonlat_to_work_xy(lon, lat, system=system)
    lons, lats = crs.work_xy_to_lonlat(x + np.array([0.0, 300.0]), y + np.array([0.0, 400.0]))
    assert crs.geodesic_distance_m(lons[0], lats[0], lons[1], lats[1]) == pytest.approx(500, abs=0.5)


# --- geodesics -----------------------------------------------------------------------------------------------

def test_geodesic_distance_known_values_and_broadcasting():
    # one degree along the equator and along a meridian from the equator on the WGS-84 ellipsoid
    assert crs.geodesic_distance_m(0, 0, 1, 0) == pytest.approx(111_319.49, abs=0.01)
    assert crs.geodesic_distance_m(0, 0, 0, 1) == pytest.approx(110_574.39, abs=0.01)
    assert crs.geodesic_distance_m(116.4, 39.9, np.array([116.4, 116.5]), 39.9).shape == (2,)


def test_geodesic_bearing_compass_points():
    bearing = crs.geodesic_bearing_deg(116.4, 39.9, [116.4, 116.5, 116.4, 116.3], [40.0, 39.9, 39.8, 39.9])
    np.testing.assert_allclose(bearing, [0, 90, 180, 270], atol=0.05)


# --- real data: Amap's outline of Beijing against OpenStreetMap's ---------------------------------------------

@pytest.mark.shared
@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is absent")
def test_amap_outline_lands_on_osm_after_gcj02_conversion():
    districts = SHARED_DATA / "bj-districts"
    amap = gpd.read_file(districts / "datav_110000_city_outline.json")  # GCJ-02, labelled EPSG:4326
    osm = gpd.read_file(districts / "osm_beijing_relation_912940.geojson")  # WGS-84
    osm_polygons = osm[osm.geom_type.isin(["Polygon", "MultiPolygon"])]
    osm_line = crs.to_work(osm_polygons.boundary, work="EPSG:32650").union_all()
    # Every vertex, not points spaced along the edges: the DataV outline is generalised, so points between its
    # vertices sit on chords that cut corners of OSM's detailed line and measure the generalisation instead.
    vertices = gpd.GeoSeries(shapely.points(shapely.get_coordinates(amap.boundary)), crs=crs.WGS84)
    assert len(vertices) > 1000

    def median_m(points: gpd.GeoSeries) -> float:
        return float(crs.to_work(points, work="EPSG:32650").distance(osm_line).median())

    as_published = median_m(vertices)
    converted = median_m(crs.geometry_to_wgs84(vertices, "gcj02"))
    print(f"\nAmap outline to OSM outline, median over {len(vertices)} vertices: "
          f"{as_published:.1f} m as published, {converted:.1f} m after GCJ-02 -> WGS-84")
    assert 250 < as_published < 500
    assert converted < 25
