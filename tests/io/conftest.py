"""Shared fixtures for the import/export tests: a temporary store and small files built in code.

Places sit on a grid around Tiananmen (WGS-84), about 1.1 km apart, so distances are checkable by hand.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from locator.store import GeoPackageStore

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
WORK_CRS = "EPSG:32650"

# Five stations 0.01 degrees apart (about 0.85 km east-west, 1.1 km north-south).
STATIONS = pd.DataFrame({
    "名称": ["天安门驿站", "王府井驿站", "东单驿站", "西单驿站", "前门驿站"],
    "地址": ["东长安街1号", "王府井大街2号", "东单北大街3号", "西单北大街4号", "前门大街5号"],
    "经度": [116.3975, 116.4075, 116.4175, 116.3875, 116.3975],
    "纬度": [39.9087, 39.9087, 39.9087, 39.9087, 39.8987],
    "开放时间": ["周一至周日 8:00-18:00", "全天", "", "8:00-20:00", "随便什么时候"],
    "服务项目": ["饮水、微波炉、充电", "卫生间;wifi", "", "空调 按摩椅", ""],
    "状态": ["开放", "暂停", "", "计划", "已关闭"],
    "备注列": ["x", "y", "z", "w", "v"],
})


@pytest.fixture
def store(tmp_path: Path) -> GeoPackageStore:
    """An empty GeoPackage store in a temporary folder."""
    return GeoPackageStore(tmp_path / "store.gpkg", work_crs=WORK_CRS)


@pytest.fixture
def shared_file() -> Callable[..., Path]:
    """A file under ../shared/data, or a clean skip where the folder is absent."""

    def find(*parts: str) -> Path:
        path = SHARED_DATA.joinpath(*parts)
        if not path.exists():
            pytest.skip(f"needs {path} (../shared/data is absent)")
        return path

    return find


@pytest.fixture
def stations_table() -> pd.DataFrame:
    return STATIONS.copy()


@pytest.fixture
def sha256() -> Callable[[Path], str]:
    """The SHA-256 of a file, or "absent"."""
    return lambda path: hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """Write a frame as CSV in the given encoding (``gbk``, ``utf-8-sig``, ...) and return its path."""

    def write(frame: pd.DataFrame, name: str = "stations.csv", *, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        frame.to_csv(path, index=False, encoding=encoding)
        return path

    return write


@pytest.fixture
def vector_stations(stations_table: pd.DataFrame) -> Callable[..., gpd.GeoDataFrame]:
    """The stations with 经度/纬度 as Point geometry, reprojected to ``crs`` (the numbers read as WGS-84)."""

    def make(crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
        geometry = gpd.points_from_xy(stations_table["经度"], stations_table["纬度"])
        frame = gpd.GeoDataFrame(stations_table.drop(columns=["经度", "纬度"]), geometry=geometry,
                                 crs="EPSG:4326")
        return frame.to_crs(crs) if crs != "EPSG:4326" else frame

    return make


@pytest.fixture
def distance_m() -> Callable[[gpd.GeoSeries, gpd.GeoSeries], list[float]]:
    """Pairwise distances in metres between two point series in the same metric CRS."""
    return lambda a, b: shapely.distance(a.to_numpy(), b.to_numpy()).tolist()
