"""Copy every layer from one store to another (GeoPackage <-> PostGIS), in one all-or-nothing write.

Both stores keep geometry in WGS-84, so the copy opens them with WGS-84 as their "work" CRS: the
coordinates then pass through untouched, bit for bit, instead of making a round trip through the
metric work CRS (which moves them by ~1e-9 degrees).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from locator import crs, model
from locator.errors import InvalidParameter, NotFound
from locator.store.base import Store


@dataclass(frozen=True)
class CopyReport:
    source: str
    destination: str
    rows: dict[str, int]
    data_version: int

    def to_text(self) -> str:
        counts = ", ".join(f"{name} {count}" for name, count in self.rows.items())
        return f"{self.source} -> {self.destination}: {counts} (data version {self.data_version})"


def open_lossless(location: str) -> Store:
    """A store whose frames stay in WGS-84, as stored: nothing is reprojected on the way through."""
    from locator.store import open_store

    return open_store(location, work_crs=crs.WGS84)


def copy_layers(source: str | Store, destination: str | Store, *, layers: list[str] | None = None,
                allow_empty: bool = False) -> CopyReport:
    """Replace ``layers`` (default: all) in ``destination`` with those in ``source``.

    Parameters
    ----------
    source, destination
        Store locations (a GeoPackage path or a ``postgresql://`` URL), or open stores. Locations are
        opened losslessly (see :func:`open_lossless`).
    layers
        Layer names; every layer of the model by default.
    allow_empty
        Copy even when the source holds no rows at all. Off by default: an empty source is far more
        often a mistyped path than a wish to empty the destination.
    """
    names = list(layers) if layers else list(model.LAYERS)
    for name in names:
        model.layer_schema(name)
    if isinstance(source, str) and "://" not in source and not Path(source).exists():
        raise NotFound(f"no GeoPackage at {source}", param="source")
    src = open_lossless(source) if isinstance(source, str) else source
    dst = open_lossless(destination) if isinstance(destination, str) else destination
    if _same(src.location, dst.location):
        raise InvalidParameter(f"source and destination are the same store ({src.location})", param="destination")
    frames = {name: src.read(name) for name in names}
    rows = {name: len(frame) for name, frame in frames.items()}
    if not allow_empty and not any(rows.values()):
        raise InvalidParameter(f"{src.location} holds no rows in {', '.join(names)}; nothing copied", param="source")
    version = dst.write(frames, mode="replace")
    return CopyReport(source=src.location, destination=dst.location, rows=rows, data_version=version)


def _same(a: str, b: str) -> bool:
    if "://" in a or "://" in b:
        return a == b
    return Path(a).resolve() == Path(b).resolve()
