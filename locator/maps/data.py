"""What the coverage maps draw, taken from the coverage core: segments with distances, subdistricts with shares.

Shared by the web pages and ``locator render``; no Flask here.
"""

from __future__ import annotations

from datetime import datetime

import geopandas as gpd
import pandas as pd
import shapely

from locator import hours
from locator.core.coverage import coverage_by_subdistrict, make_thresholds, open_mask, snapshot_coverage
from locator.core.snapshot import Snapshot
from locator.crs import work_crs
from locator.model import LAYERS, split_amenities


def snapshot_from_store(store) -> Snapshot:  # noqa: ANN001 - a locator.store Store
    """All layers of a store as one Snapshot (for the command line; the web app keeps its own)."""
    return Snapshot(version=store.data_version(), layers={name: store.read(name) for name in LAYERS})


def _crs(snapshot: Snapshot) -> str:
    return str(snapshot.layer("stations").crs or work_crs())


def street_segments(snapshot: Snapshot, *, at: datetime | None) -> gpd.GeoDataFrame:
    """Every street segment with its distance to the nearest open station (coverage core), in the work CRS."""
    cov, _mask = snapshot_coverage(snapshot, at=at)
    graph = snapshot.derived("street_graph")
    segs = cov.segments
    return gpd.GeoDataFrame({"name": segs["name"].fillna("").astype(str).to_numpy(),
                             "highway": segs["highway"].to_numpy(), "distance_m": segs["distance_m"].to_numpy()},
                            geometry=graph.segment_geometries(), crs=graph.crs or _crs(snapshot))


def subdistrict_table(snapshot: Snapshot, *, threshold_m: float, at: datetime | None) -> gpd.GeoDataFrame:
    """Subdistricts with their coverage figures; ``covered_share`` is the share within ``threshold_m``."""
    subs = snapshot.layer("subdistricts")
    stations = snapshot.layer("stations")
    if not len(subs):
        return gpd.GeoDataFrame({"code": [], "name": [], "covered_share": []}, geometry=[], crs=_crs(snapshot))
    cov, mask = snapshot_coverage(snapshot, at=at)
    graph = snapshot.derived("street_graph")
    threshold = make_thresholds(metres=[threshold_m])[0]
    table = coverage_by_subdistrict(cov, graph, subdistricts=subs, stations=stations, counted=mask,
                                    open_now=open_mask(stations, at=datetime.now(hours.TZ)),
                                    thresholds=[threshold])
    table = table.rename(columns={f"share_{threshold.label}": "covered_share",
                                  f"covered_m_{threshold.label}": "covered_m"})
    table["covered_share"] = pd.to_numeric(table["covered_share"], errors="coerce")
    table["street_km"] = table["street_length_m"] / 1000.0
    table["covered_km"] = table["covered_m"] / 1000.0
    table["station_count"] = table["stations_counted"]
    geometry = subs.set_index(subs["code"].astype(str)).geometry.reindex(table["code"].astype(str)).to_numpy()
    return gpd.GeoDataFrame(table, geometry=geometry, crs=subs.crs)


def within(frame: gpd.GeoDataFrame, polygon) -> gpd.GeoDataFrame:  # noqa: ANN001 - a shapely polygon
    """Rows whose point, or the middle of whose line, lies inside ``polygon``."""
    if not len(frame):
        return frame
    geoms = frame.geometry.to_numpy()
    points = geoms if frame.geom_type.iloc[0] == "Point" else shapely.line_interpolate_point(geoms, 0.5,
                                                                                           normalized=True)
    return frame[shapely.contains_xy(polygon, shapely.get_x(points), shapely.get_y(points))]


def with_amenities(stations: gpd.GeoDataFrame, wanted: list[str]) -> gpd.GeoDataFrame:
    """Stations offering every amenity in ``wanted``."""
    if not wanted or not len(stations):
        return stations
    keep = stations["amenities"].map(lambda v: set(wanted) <= set(split_amenities(v)))
    return stations[keep.to_numpy(dtype=bool)]
