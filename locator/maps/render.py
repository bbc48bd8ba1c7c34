"""``locator render stations|coverage``: a map as a standalone HTML file that works offline.

The file's scripts and stylesheets are copied to ``assets/`` beside it (``locator.maps.assets.write_html``);
the only remote URLs left are the tile templates (none with ``--tiles none``) and navigation links.
"""

from __future__ import annotations

from pathlib import Path

import shapely

from locator.core.coverage import find_subdistricts
from locator.core.snapshot import Snapshot
from locator.maps.assets import write_html
from locator.maps.controls import add_controls, new_map
from locator.maps.coverage import (
    DEFAULT_BAND_EDGES_M,
    add_streets,
    add_subdistricts,
    streets_legend,
    subdistricts_legend,
)
from locator.maps.data import street_segments, subdistrict_table, within
from locator.maps.stations import add_booths, add_stations, bounds_of, station_legend
from locator.maps.tiles import parse_tiles, tile_system

KINDS = ("stations", "coverage")


def render(snapshot: Snapshot, kind: str, output: str | Path, *, subdistrict: str | None = None,
           tiles: str = "none", tiles_key: str = "", lang: str = "zh", threshold_m: float = 500.0) -> Path:
    """Write the ``stations`` map or the ``coverage`` map (streets by distance + subdistrict shares) to ``output``."""
    tiles = parse_tiles(tiles)
    system = tile_system(tiles)
    stations, booths = snapshot.layer("stations"), snapshot.layer("booths")
    m = new_map(tiles=tiles, tiles_key=tiles_key, lang=lang)
    legends, extent = [], []
    polygon = None
    if subdistrict:
        polygon = shapely.union_all(find_subdistricts(snapshot.layer("subdistricts"), subdistrict).geometry.to_numpy())
        stations, booths = within(stations, polygon), within(booths, polygon)
    if kind == "coverage":
        edges = tuple(sorted({*DEFAULT_BAND_EDGES_M, float(threshold_m)}))
        table = subdistrict_table(snapshot, threshold_m=threshold_m, at=None)
        if subdistrict:
            table = table[[polygon.intersects(g) and polygon.intersection(g).area > 0.5 * g.area
                           for g in table.geometry]]
        add_subdistricts(m, table, system=system, lang=lang, show=True)
        legends.append(subdistricts_legend(lang))
        if len(snapshot.layer("streets")):
            segments = street_segments(snapshot, at=None)
            segments = within(segments, polygon) if polygon is not None else segments
            add_streets(m, segments, system=system, lang=lang, edges_m=edges)
            legends.append(streets_legend(edges, lang))
            extent.append(segments)
        extent.append(table)
    else:
        add_booths(m, booths, system=system, lang=lang)
        extent.append(booths)
    add_stations(m, stations, system=system, lang=lang)
    legends.append(station_legend(lang))
    extent.append(stations)
    add_controls(m, lang=lang, legends=legends, bounds=bounds_of(*[f[[f.geometry.name]] for f in extent],
                                                                  system=system))
    return write_html(m, output)
