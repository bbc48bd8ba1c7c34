"""Where layers live. ``open_store`` picks the implementation from the location's form."""

from __future__ import annotations

from locator.store.base import Store
from locator.store.gpkg import GeoPackageStore


def open_store(location: str, *, work_crs: str = "EPSG:32650") -> Store:
    """A GeoPackage path, or a ``postgresql://`` URL for the PostGIS store."""
    if location.startswith(("postgresql://", "postgres://")):
        from locator.store.postgis import PostGISStore  # optional extra: psycopg

        return PostGISStore(location, work_crs=work_crs)
    return GeoPackageStore(location, work_crs=work_crs)


__all__ = ["GeoPackageStore", "Store", "open_store"]
