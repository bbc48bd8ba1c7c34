"""The Store interface every backend implements (GeoPackage now, PostGIS alike).

Layers go in and come out as GeoDataFrames in the metric work CRS with exactly the model's
columns. Writes are all-or-nothing: a failure part-way leaves the stored data as it was.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import geopandas as gpd


@runtime_checkable
class Store(Protocol):
    location: str
    work_crs: str

    def read(self, layer: str) -> gpd.GeoDataFrame:
        """The whole layer in the work CRS; an empty frame with the model's columns if it has none."""

    def write(self, layers: dict[str, gpd.GeoDataFrame], *, mode: str = "replace") -> int:
        """Replace (``mode="replace"``) or upsert by key (``mode="upsert"``) one or more layers at once,
        all or nothing. Returns the new data version."""

    def data_version(self) -> int:
        """A number that grows with every committed write; workers poll it to reload."""

    def layer_versions(self) -> dict[str, int]:
        """For every layer, the data version at which it last changed; unchanged layers need no reload."""
