"""crs' one-point fast path (plain floats, ``math``) agrees with the array functions it shortcuts."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from locator import crs

SYSTEMS = ("wgs84", "gcj02", "bd09")
china = st.tuples(st.floats(73.0, 135.0), st.floats(18.0, 53.0))
anywhere = st.tuples(st.floats(-180.0, 180.0), st.floats(-85.0, 85.0))


@settings(max_examples=300, deadline=None)
@given(point=st.one_of(china, anywhere), system=st.sampled_from(SYSTEMS))
def test_point_functions_equal_the_array_ones(point, system):
    lon, lat = point
    got = crs.point_to_wgs84(lon, lat, system)
    want = crs.to_wgs84(lon, lat, system)
    assert got == pytest.approx((float(want[0]), float(want[1])), abs=1e-10, rel=0)
    got = crs.point_from_wgs84(lon, lat, system)
    want = crs.from_wgs84(lon, lat, system)
    assert got == pytest.approx((float(want[0]), float(want[1])), abs=1e-10, rel=0)
    assert all(isinstance(v, float) for v in got)


@settings(max_examples=100, deadline=None)
@given(point=china)
def test_point_to_work_xy_equals_the_array_one(point):
    x, y = crs.point_to_work_xy(*point, work="EPSG:32650")
    want = crs.lonlat_to_work_xy(*point, work="EPSG:32650")
    assert (x, y) == pytest.approx((float(want[0]), float(want[1])), abs=1e-6, rel=0)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("system", SYSTEMS)
def test_non_finite_passes_through(value, system):
    lon, lat = crs.point_to_wgs84(value, 39.9, system)
    assert lon is value or (math.isnan(lon) and math.isnan(value)) or lon == value
    assert lat == 39.9


def test_unknown_system_is_a_value_error():
    with pytest.raises(ValueError, match="unknown coordinate system"):
        crs.point_to_wgs84(116.4, 39.9, "utm")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown coordinate system"):
        crs.point_from_wgs84(116.4, 39.9, "utm")  # type: ignore[arg-type]
