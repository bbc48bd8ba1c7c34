"""Fixtures shared by every test: small layers built from WKT on a 1 km grid, a fresh store, the app."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import pytest
from shapely import wkt

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() == "true"

# A point in Beijing's Chaoyang district, in the work CRS (EPSG:32650): the grid's origin.
ORIGIN_X, ORIGIN_Y = 450_000.0, 4_420_000.0


def shared_path(*parts: str) -> Path:
    """A file under ../shared/data, or a clean skip where the folder is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (../shared/data is absent)")
    return path


def at(x_m: float, y_m: float) -> str:
    """WKT of a point x_m east, y_m north of the grid's origin."""
    return f"POINT ({ORIGIN_X + x_m} {ORIGIN_Y + y_m})"


def station_rows() -> list[dict[str, object]]:
    """Five stations, checkable by hand: 3-4-5 triangles from the origin."""
    base = {"address": "", "district": "朝阳区", "subdistrict": "", "operator": "朝阳区总工会",
            "phone": "", "converted_from_booth": "", "source": "demo", "verified_at": "2026-11-01",
            "opening_hours_raw": ""}
    return [
        {**base, "id": "s1", "name": "甲站", "amenities": "drinking_water;microwave", "opening_hours": "24/7",
         "status": "open", "geometry": at(300, 400)},
        {**base, "id": "s2", "name": "乙站", "amenities": "toilet", "opening_hours": "Mo-Su 08:00-20:00",
         "status": "open", "geometry": at(600, 800)},
        {**base, "id": "s3", "name": "丙站", "amenities": "microwave;toilet", "opening_hours": "",
         "status": "temporarily_closed", "geometry": at(-300, -400)},
        {**base, "id": "s4", "name": '丁站 "<b>&', "amenities": "", "opening_hours": "Mo-Fr 09:00-17:00",
         "status": "open", "geometry": at(3000, 4000)},
        {**base, "id": "s5", "name": "戊站", "amenities": "wifi", "opening_hours": "", "status": "planned",
         "geometry": at(0, 1000)},
    ]


def frame(rows: list[dict[str, object]], crs: str = "EPSG:32650") -> gpd.GeoDataFrame:
    data = [{k: v for k, v in row.items() if k != "geometry"} for row in rows]
    geometry = [wkt.loads(str(row["geometry"])) for row in rows]
    return gpd.GeoDataFrame(data, geometry=geometry, crs=crs)


@pytest.fixture
def stations() -> gpd.GeoDataFrame:
    return frame(station_rows())


@pytest.fixture
def gpkg_store(tmp_path: Path):
    from locator.store import GeoPackageStore

    return GeoPackageStore(tmp_path / "test.gpkg")


@pytest.fixture
def app(tmp_path: Path, stations: gpd.GeoDataFrame):
    from locator.store import GeoPackageStore
    from locator.web import create_app

    store_path = tmp_path / "app.gpkg"
    GeoPackageStore(store_path).write({"stations": stations})
    return create_app({"STORE": str(store_path), "TESTING": True, "TILES": "none"})


@pytest.fixture
def client(app):
    return app.test_client()


def assert_problem(response, status: int, *, param: str | None = None) -> dict:
    """The one check of the error shape every endpoint shares (RFC 9457)."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    for key in ("type", "title", "status", "detail"):
        assert key in body, f"problem body lacks {key}: {body}"
    assert body["status"] == status
    if param is not None:
        assert body.get("param") == param, body
    return body
