"""The default store: one GeoPackage file, geometry kept in WGS-84 (EPSG:4326) so any GIS opens it.

Every write builds the new file beside the old one and swaps it in with ``os.replace``: a crash or
an error part-way leaves the old file byte for byte as it was. Writers in several processes take an
exclusive lock on a side file, so two writes never interleave.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from locator import crs, model
from locator.store.filelock import file_lock

_META = "locator_meta"


class GeoPackageStore:
    def __init__(self, location: str | os.PathLike[str], *, work_crs: str = "EPSG:32650") -> None:
        self.path = Path(location)
        self.location = str(self.path)
        self.work_crs = work_crs

    def __repr__(self) -> str:
        return f"GeoPackageStore({self.location!r})"

    def read(self, layer: str) -> gpd.GeoDataFrame:
        model.layer_schema(layer)
        if not self.path.exists() or layer not in self._layer_names():
            return model.empty(layer, crs=self.work_crs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # GDAL notes on empty layers
            frame = pyogrio.read_dataframe(self.path, layer=layer)
        frame = model.conform(layer, frame)
        return crs.to_work(frame.set_crs(crs.WGS84, allow_override=True), work=self.work_crs)

    def write(self, layers: dict[str, gpd.GeoDataFrame], *, mode: str = "replace") -> int:
        if mode not in {"replace", "upsert"}:
            raise ValueError(f"mode must be replace or upsert, not {mode!r}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock():
            prepared = {}
            for name, frame in layers.items():
                schema = model.layer_schema(name)
                new = model.conform(name, frame)
                if mode == "upsert":
                    old = self.read(name)
                    keep = old[~old[schema.key].isin(new[schema.key])]
                    new = model.conform(name, pd.concat([keep, new.to_crs(old.crs)], ignore_index=True))
                prepared[name] = new
            return self._swap_in(prepared)

    def data_version(self) -> int:
        if not self.path.exists():
            return 0
        with closing_sqlite(self.path) as db:
            try:
                row = db.execute(f"SELECT value FROM {_META} WHERE key = 'data_version'").fetchone()
            except sqlite3.OperationalError:
                return 0
        return int(row[0]) if row else 0

    def layer_versions(self) -> dict[str, int]:
        """The data version at which each layer last changed (0: not since versions were kept)."""
        known: dict[str, int] = {}
        if self.path.exists():
            with closing_sqlite(self.path) as db:
                try:
                    rows = db.execute(f"SELECT key, value FROM {_META} WHERE key LIKE 'layer_version:%'").fetchall()
                except sqlite3.OperationalError:
                    rows = []
            known = {key.split(":", 1)[1]: int(value) for key, value in rows}
        return {name: known.get(name, 0) for name in model.LAYERS}

    def stamp(self) -> tuple[int, int]:
        """A cheap change marker (inode, mtime): every committed write replaces the file."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return (0, 0)
        return (stat.st_ino, stat.st_mtime_ns)

    def _layer_names(self) -> set[str]:
        return {str(name) for name, _ in pyogrio.list_layers(self.path)}

    def _swap_in(self, layers: dict[str, gpd.GeoDataFrame]) -> int:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            if self.path.exists():
                shutil.copyfile(self.path, tmp)
            else:
                tmp.unlink()
            for name, frame in layers.items():
                _write_layer(tmp, name, frame)
            version = self.data_version() + 1
            _write_meta(tmp, version, layers=list(layers))
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
            _fsync_dir(self.path.parent)
        finally:
            tmp.unlink(missing_ok=True)
        return version

    def _lock(self) -> AbstractContextManager[None]:
        return file_lock(self.path.with_name(self.path.name + ".lock"))


def _write_layer(path: Path, name: str, frame: gpd.GeoDataFrame) -> None:
    schema = model.layer_schema(name)
    out = crs.from_work(frame, system="wgs84") if frame.crs is not None else frame.set_crs(crs.WGS84)
    # Polygon and MultiPolygon (LineString and MultiLineString) share a layer: GeoPackage "GEOMETRY".
    geometry_type = "Point" if schema.geometry == ("Point",) else "Unknown"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        pyogrio.write_dataframe(out, path, layer=name, driver="GPKG", geometry_type=geometry_type,
                                promote_to_multi=False, layer_options={"OVERWRITE": "YES"})


def _write_meta(path: Path, version: int, *, layers: list[str]) -> None:
    with closing_sqlite(path) as db:
        db.execute(f"CREATE TABLE IF NOT EXISTS {_META} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        now = datetime.now(UTC).isoformat(timespec="seconds")
        db.executemany(
            f"INSERT OR REPLACE INTO {_META} (key, value) VALUES (?, ?)",
            [("data_version", str(version)), ("updated_at", now),
             *((f"layer_version:{name}", str(version)) for name in layers)],
        )
        db.commit()


@contextmanager
def closing_sqlite(path: Path) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(path)
    try:
        yield db
    finally:
        db.close()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
