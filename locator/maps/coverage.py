"""Coverage maps: every street coloured by its distance to the nearest open station, and subdistricts shaded
by the share of their streets that is covered.

A district can hold 100,000 street segments; one folium ``GeoJson`` of them is ~36 MB of HTML. Here segments
of one street and one distance band are merged (``line_merge``), simplified to the zoom in use (``simplify_m``),
converted to the tiles' system, rounded to 5 decimals (~1 m) and written as delta-encoded integers in one
compact JSON block that ``static/maps/lines.js`` draws on a shared canvas. ``bench/maps.py`` measures it.

Inputs are GeoDataFrames in the work CRS:

* segments: ``name``, ``distance_m`` (NaN or inf where no open station can be reached), optionally ``band``
  (an index into the bands; computed from ``distance_m`` when absent), geometry (LineString/MultiLineString);
* subdistricts: ``code``, ``name``, ``covered_share`` (0-1), optionally ``street_km``, ``covered_km``,
  ``station_count``, ``approximate``; geometry (Polygon/MultiPolygon).
"""

from __future__ import annotations

from collections.abc import Sequence

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from folium.map import Layer
from folium.template import Template

from locator.crs import CoordSystem, from_work
from locator.maps.controls import Legend, add_controls, new_map
from locator.maps.text import esc, t
from locator.maps.tiles import tile_system

DEFAULT_BAND_EDGES_M: tuple[float, ...] = (250.0, 500.0, 1000.0, 2000.0)
# ColorBrewer YlOrRd (the darker five of its six classes): near is light, gaps are dark red.
BAND_COLOURS: tuple[str, ...] = ("#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026")
UNREACHABLE_COLOUR = "#252525"
# ColorBrewer YlGn, five classes of covered share 0-20-40-60-80-100 %.
SHARE_COLOURS: tuple[str, ...] = ("#ffffcc", "#c2e699", "#78c679", "#31a354", "#006837")
SCALE = 100_000  # 5 decimals of a degree, about 1.1 m: finer than any street is drawn
DEFAULT_SIMPLIFY_M = 2.0


def band_labels(edges_m: Sequence[float], lang: str) -> list[str]:
    unit = " m" if lang == "en" else " 米"
    labels, low = [], 0.0
    for high in edges_m:
        labels.append(f"{low:.0f}–{high:.0f}{unit}")
        low = high
    labels.append(f"> {low:.0f}{unit}")
    return labels


def band_of(distance_m: Sequence[float] | np.ndarray, edges_m: Sequence[float] = DEFAULT_BAND_EDGES_M) -> np.ndarray:
    """Band index per distance: 0 for the nearest band, len(edges_m) beyond the last edge, -1 unreachable."""
    d = np.asarray(distance_m, dtype=float)
    band = np.searchsorted(np.asarray(edges_m, dtype=float), d, side="left")
    return np.where(np.isfinite(d), band, -1).astype(int)


def band_colours(n_bands: int) -> list[str]:
    """``n_bands`` colours from the palette, near to far, spread over its whole range."""
    idx = np.round(np.linspace(0, len(BAND_COLOURS) - 1, n_bands)).astype(int) if n_bands > 1 else [0]
    return [BAND_COLOURS[i] for i in idx]


def compact_lines(segments: gpd.GeoDataFrame, *, system: CoordSystem = "wgs84",
                  edges_m: Sequence[float] = DEFAULT_BAND_EDGES_M, simplify_m: float = DEFAULT_SIMPLIFY_M,
                  lang: str = "zh") -> dict:
    """Segments -> the compact JSON ``lines.js`` draws: merged per (street, band), simplified, rounded.

    ``f`` holds one entry per merged street piece: ``[band, name_index, min_m, max_m, part, part, ...]``; each
    part is ``[x0, y0, dx1, dy1, ...]`` in 1e-5 degrees of ``system``, deltas after the first point.
    """
    colours = band_colours(len(edges_m) + 1)
    labels = band_labels(edges_m, lang)
    meta = {"scale": SCALE, "bands": [{"color": c, "label": lab} for c, lab in zip(colours, labels, strict=True)],
            "unreachable": {"color": UNREACHABLE_COLOUR, "label": t("unreachable", lang)},
            "text": {"unnamed": t("unnamed_street", lang), "distance": t("distance", lang),
                     "m": " m" if lang == "en" else " 米"}}
    if not len(segments):
        return {**meta, "names": [], "f": []}
    distance = segments["distance_m"].to_numpy(dtype=float)
    band = (segments["band"].to_numpy(dtype=int) if "band" in segments.columns
            else band_of(distance, edges_m))
    names = segments["name"].fillna("").astype(str).to_numpy() if "name" in segments.columns else np.full(
        len(segments), "")
    keys = pd.DataFrame({"name": names, "band": band})
    group = keys.groupby(["name", "band"], sort=True).ngroup().to_numpy()
    order = np.argsort(group, kind="stable")
    geoms = segments.geometry.to_numpy()[order]
    group_sorted = group[order]
    # MultiLineStrings of whole groups, then merged where pieces touch end to end.
    parts = shapely.get_parts(geoms, return_index=True)
    merged = shapely.line_merge(shapely.multilinestrings(parts[0], indices=group_sorted[parts[1]]))
    if simplify_m > 0:
        merged = shapely.simplify(merged, simplify_m, preserve_topology=False)
    drawn = from_work(gpd.GeoSeries(merged, crs=segments.crs), system=system).to_numpy()
    first = pd.DataFrame({"g": group, "name": names, "band": band, "d": distance}).groupby("g")
    info = first.agg(name=("name", "first"), band=("band", "first"), dmin=("d", "min"), dmax=("d", "max"))
    name_list = sorted(set(info["name"]))
    name_index = {n: i for i, n in enumerate(name_list)}
    part_geoms, part_owner = shapely.get_parts(drawn, return_index=True)
    coords, idx = shapely.get_coordinates(part_geoms, return_index=True)
    ints = np.round(coords * SCALE).astype(np.int64)
    # deltas within each part; the first point of a part stays absolute
    deltas = ints.copy()
    same = np.r_[False, idx[1:] == idx[:-1]]
    deltas[same] = ints[same] - ints[np.flatnonzero(same) - 1]
    bounds = np.r_[0, np.flatnonzero(np.diff(idx)) + 1, len(idx)]
    features: dict[int, list] = {}
    bands_, names_ = info["band"].to_numpy(), info["name"].to_numpy()
    dmins, dmaxs = info["dmin"].to_numpy(dtype=float), info["dmax"].to_numpy(dtype=float)
    for p in range(len(bounds) - 1):
        owner = int(part_owner[idx[bounds[p]]])
        chunk = deltas[bounds[p]:bounds[p + 1]].ravel().tolist()
        if len(chunk) < 4:
            continue
        if owner not in features:
            dmin, dmax = float(dmins[owner]), float(dmaxs[owner])
            features[owner] = [int(bands_[owner]), name_index[names_[owner]],
                               round(dmin) if np.isfinite(dmin) else None, round(dmax) if np.isfinite(dmax) else None]
        features[owner].append(chunk)
    return {**meta, "names": name_list, "f": list(features.values())}


class CompactLines(Layer):
    """A layer drawn by ``lines.js`` from :func:`compact_lines` data (one JSON block, one canvas)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = locatorLines({{ this.data|tojson }}, {{ this.line_options|tojson }});
        {% endmacro %}
    """)

    def __init__(self, data: dict, *, name: str, weight: float = 3.0, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "CompactLines"
        self.data = data
        self.line_options = {"weight": weight}


def streets_legend(edges_m: Sequence[float], lang: str) -> Legend:
    colours = band_colours(len(edges_m) + 1)
    rows = [(c, lab, "line") for c, lab in zip(colours, band_labels(edges_m, lang), strict=True)]
    rows.append((UNREACHABLE_COLOUR, t("unreachable", lang), "line"))
    return Legend(t("legend_streets", lang), rows)


def add_streets(m: folium.Map, segments: gpd.GeoDataFrame, *, system: CoordSystem, lang: str = "zh",
                edges_m: Sequence[float] = DEFAULT_BAND_EDGES_M, simplify_m: float = DEFAULT_SIMPLIFY_M,
                show: bool = True) -> CompactLines:
    layer = CompactLines(compact_lines(segments, system=system, edges_m=edges_m, simplify_m=simplify_m, lang=lang),
                         name=t("streets", lang), show=show)
    layer.add_to(m)
    return layer


def share_colour(share: float) -> str:
    if not np.isfinite(share):
        return "#bdbdbd"
    return SHARE_COLOURS[min(int(max(share, 0.0) * len(SHARE_COLOURS)), len(SHARE_COLOURS) - 1)]


def subdistrict_tooltip(row, lang: str) -> str:
    """The tooltip of one subdistrict: name and its figures, every value escaped."""
    share = float(row.get("covered_share", np.nan))
    lines = [f'<b>{esc(row.get("name", ""))}</b>'
             + (f' <i>({esc(t("approximate", lang))})</i>' if bool(row.get("approximate", False)) else ""),
             f'{esc(t("covered_share", lang))}: {share * 100:.1f}%' if np.isfinite(share) else ""]
    for column, key, fmt in (("street_km", "street_km", "{:.1f} km"), ("covered_km", "covered_km", "{:.1f} km"),
                             ("station_count", "station_count", "{:.0f}")):
        if column in row and pd.notna(row[column]):
            lines.append(f"{esc(t(key, lang))}: {esc(fmt.format(float(row[column])))}")
    return "<br>".join(x for x in lines if x)


def add_subdistricts(m: folium.Map, subdistricts: gpd.GeoDataFrame, *, system: CoordSystem, lang: str = "zh",
                     link_template: str | None = None, show: bool = True,
                     simplify_m: float = 10.0) -> folium.FeatureGroup:
    """The choropleth of covered share; approximate polygons are dashed and say so in their tooltip.

    ``link_template`` (e.g. ``"/map?subdistrict={code}&layers=streets"``) adds a link to each popup.
    """
    group = folium.FeatureGroup(name=t("subdistricts", lang), show=show)
    if len(subdistricts):
        simple = subdistricts.copy()
        simple["geometry"] = shapely.simplify(simple.geometry.to_numpy(), simplify_m, preserve_topology=True)
        drawn = from_work(simple, system=system)
        drawn["geometry"] = shapely.set_precision(drawn.geometry.to_numpy(), 1.0 / SCALE)
        for i, (_, row) in enumerate(drawn.iterrows()):
            share = float(row.get("covered_share", np.nan))
            approximate = bool(row.get("approximate", False))
            style = {"fillColor": share_colour(share), "color": "#444444", "weight": 1.5, "fillOpacity": 0.6,
                     "dashArray": "6 4" if approximate else None}
            feature = {"type": "Feature", "properties": {},
                       "geometry": shapely.geometry.mapping(row.geometry)}
            gj = folium.GeoJson(feature, name=f"sd{i}", control=False,
                                style_function=lambda _f, s=style: s,
                                highlight_function=lambda _f: {"weight": 3, "fillOpacity": 0.8})
            tip = subdistrict_tooltip(row, lang)
            gj.add_child(folium.Tooltip(tip, sticky=True))
            body = tip
            if link_template:
                href = link_template.format(code=str(row.get("code", "")))
                body += f'<br><a class="lp-streets" href="{esc(href)}">{esc(t("show_streets", lang))}</a>'
            gj.add_child(folium.Popup(folium.Html(f'<div class="locator-popup">{body}</div>', script=True)))
            gj.add_to(group)
    group.add_to(m)
    return group


def subdistricts_legend(lang: str) -> Legend:
    rows = [(c, f"{i * 20}–{(i + 1) * 20}%", "box") for i, c in enumerate(SHARE_COLOURS)]
    return Legend(t("legend_subdistricts", lang), rows, note=f"- - - {t('approximate', lang)}")


def _bounds(frames: Sequence[gpd.GeoDataFrame | None], system: CoordSystem) -> list[float] | None:
    boxes = [from_work(f[[f.geometry.name]], system=system).total_bounds for f in frames if f is not None and len(f)]
    if not boxes:
        return None
    arr = np.array(boxes)
    return [float(arr[:, 0].min()), float(arr[:, 1].min()), float(arr[:, 2].max()), float(arr[:, 3].max())]


def streets_map(segments: gpd.GeoDataFrame, *, stations: gpd.GeoDataFrame | None = None, tiles: str = "none",
                tiles_key: str = "", lang: str = "zh", edges_m: Sequence[float] = DEFAULT_BAND_EDGES_M,
                simplify_m: float = DEFAULT_SIMPLIFY_M) -> folium.Map:
    """Coverage by street: each street coloured by distance band, tooltips with name and distance."""
    from locator.maps.stations import add_stations, station_legend

    system = tile_system(tiles)
    m = new_map(tiles=tiles, tiles_key=tiles_key, lang=lang)
    add_streets(m, segments, system=system, lang=lang, edges_m=edges_m, simplify_m=simplify_m)
    legends = [streets_legend(edges_m, lang)]
    if stations is not None:
        add_stations(m, stations, system=system, lang=lang)
        legends.append(station_legend(lang))
    add_controls(m, lang=lang, legends=legends, bounds=_bounds([segments, stations], system))
    return m


def subdistricts_map(subdistricts: gpd.GeoDataFrame, *, tiles: str = "none", tiles_key: str = "",
                     lang: str = "zh", link_template: str | None = None) -> folium.Map:
    """Coverage by subdistrict: a choropleth of covered street share."""
    system = tile_system(tiles)
    m = new_map(tiles=tiles, tiles_key=tiles_key, lang=lang)
    add_subdistricts(m, subdistricts, system=system, lang=lang, link_template=link_template)
    add_controls(m, lang=lang, legends=[subdistricts_legend(lang)], bounds=_bounds([subdistricts], system))
    return m
