"""The station map: clustered markers coloured by state, popups with hours and navigation, booths apart.

Every text a station's operator wrote (name, address, hours) is escaped with :func:`locator.maps.text.esc`
before it reaches a popup or tooltip: folium inserts both as HTML inside JavaScript template literals.
"""

from __future__ import annotations

from datetime import datetime

import folium
import geopandas as gpd
import numpy as np
from folium import plugins

from locator import hours
from locator.core.navigation import NAV_APPS, nav_links_many
from locator.crs import CoordSystem, from_work
from locator.maps.controls import Legend, add_controls, new_map
from locator.maps.text import amenity_label, esc, t
from locator.maps.tiles import tile_system
from locator.model import split_amenities

STATES: tuple[str, ...] = ("open", "closed_now", "temporarily_closed", "closed", "planned")
STATE_COLOURS: dict[str, str] = {"open": "#1a9641", "closed_now": "#4575b4", "temporarily_closed": "#f59e0b",
                                 "closed": "#636363", "planned": "#8856a7"}
BOOTH_COLOUR = "#7f3b08"


def station_state(status: object, opening_hours: object, at: datetime) -> str:
    """open, closed_now, temporarily_closed, closed or planned; unknown hours count as open."""
    status = str(status or "open")
    if status != "open":
        return status if status in STATES else "closed"
    return "closed_now" if hours.is_open(str(opening_hours or ""), at) is False else "open"


def _lonlat(frame: gpd.GeoDataFrame, system: CoordSystem) -> tuple[np.ndarray, np.ndarray]:
    drawn = from_work(frame, system=system)
    return drawn.geometry.x.to_numpy(), drawn.geometry.y.to_numpy()


def _text(row, column: str) -> str:
    value = row.get(column, "")
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def popup_html(row, *, state: str, links: dict[str, str], lang: str) -> str:
    """The popup of one station, every user text escaped."""
    name, address = _text(row, "name"), _text(row, "address")
    hours_text = _text(row, "opening_hours_raw") or _text(row, "opening_hours")
    amenities = [amenity_label(k, lang) for k in split_amenities(row.get("amenities"))]
    demo = _text(row, "source") == "demo"
    parts = [f'<div class="locator-popup"><div class="lp-name">{esc(name)}</div>',
             f'<div class="lp-state lp-{state}">{esc(t("state_" + state, lang))}</div>']
    if demo:
        parts.append(f'<div class="lp-demo">{esc(t("demo", lang))}</div>')
    if address:
        parts.append(f'<div><b>{esc(t("address", lang))}</b>: {esc(address)}</div>')
    parts.append(f'<div><b>{esc(t("hours", lang))}</b>: {esc(hours_text or t("hours_unknown", lang))}</div>')
    if amenities:
        joined = ", ".join(amenities) if lang == "en" else "、".join(amenities)
        parts.append(f'<div><b>{esc(t("amenities", lang))}</b>: {esc(joined)}</div>')
    nav = " ".join(f'<a href="{esc(links[app])}" target="_blank" rel="noopener noreferrer">'
                   f'{esc(t("nav_" + app, lang))}</a>' for app in NAV_APPS if app in links)
    parts.append(f'<div class="lp-nav"><b>{esc(t("navigate", lang))}</b>: {nav}</div></div>')
    return "".join(parts)


def icon_html(state: str, *, demo: bool, label: str = "") -> str:
    """The marker: a dot coloured by state (CSS), dashed for demo data, named for screen readers."""
    return (f'<span class="lm-pin lm-{state}{" lm-demo" if demo else ""}" role="img" '
            f'aria-label="{esc(label)}"></span>')


def add_stations(m: folium.Map, stations: gpd.GeoDataFrame, *, system: CoordSystem, lang: str = "zh",
                 at: datetime | None = None, show: bool = True) -> tuple[plugins.MarkerCluster, dict[str, str]]:
    """Add the clustered station layer; returns it and each station id's state."""
    at = at or datetime.now(hours.TZ)
    cluster = plugins.MarkerCluster(name=t("stations", lang), show=show,
                                    options={"maxClusterRadius": 40, "disableClusteringAtZoom": 16})
    states: dict[str, str] = {}
    if len(stations):
        lon, lat = _lonlat(stations, system)
        # Navigation links always start from WGS-84: each app's link carries the system that app expects.
        wlon, wlat = _lonlat(stations, "wgs84")
        names = [_text(r, "name") for _, r in stations.iterrows()]
        addresses = [_text(r, "address") for _, r in stations.iterrows()]
        links = nav_links_many(wlon, wlat, names, addresses)
        for i, (_, row) in enumerate(stations.iterrows()):
            state = station_state(row.get("status"), row.get("opening_hours"), at)
            states[_text(row, "id")] = state
            demo = _text(row, "source") == "demo"
            folium.Marker(
                [float(lat[i]), float(lon[i])],
                icon=folium.DivIcon(html=icon_html(state, demo=demo, label=names[i]), icon_size=(22, 22),
                                    icon_anchor=(11, 11), class_name="lm-icon"),
                tooltip=folium.Tooltip(esc(names[i] + (f" ({t('demo', lang)})" if demo else ""))),
                popup=folium.Popup(folium.Html(popup_html(row, state=state, links=links[i], lang=lang),
                                               script=True), max_width=320),
            ).add_to(cluster)
    cluster.add_to(m)
    return cluster, states


def add_booths(m: folium.Map, booths: gpd.GeoDataFrame, *, system: CoordSystem, lang: str = "zh",
               show: bool = True) -> folium.FeatureGroup:
    """Former testing booths as small squares on their own layer."""
    group = folium.FeatureGroup(name=t("booths", lang), show=show)
    if len(booths):
        lon, lat = _lonlat(booths, system)
        for i, (_, row) in enumerate(booths.iterrows()):
            status = _text(row, "status") or "candidate"
            label = t(f"booth_status_{status}", lang) if f"booth_status_{status}" in _BOOTH_KEYS else status
            text = (f'<div class="locator-popup"><div class="lp-name">{esc(t("booth", lang))} '
                    f'{esc(_text(row, "id"))}</div><div>{esc(label)}</div>'
                    f'<div>{esc(_text(row, "address"))}</div><div>{esc(_text(row, "notes"))}</div>'
                    + (f'<div class="lp-demo">{esc(t("demo", lang))}</div>' if _text(row, "source") == "demo" else "")
                    + "</div>")
            folium.Marker(
                [float(lat[i]), float(lon[i])],
                icon=folium.DivIcon(html=f'<span class="lm-booth lm-booth-{esc(status)}"></span>', icon_size=(12, 12),
                                    icon_anchor=(6, 6), class_name="lm-icon"),
                tooltip=folium.Tooltip(esc(f"{t('booth', lang)} · {label}")),
                popup=folium.Popup(folium.Html(text, script=True), max_width=280),
            ).add_to(group)
    group.add_to(m)
    return group


_BOOTH_KEYS = {"booth_status_candidate", "booth_status_planned", "booth_status_converted", "booth_status_removed"}


def station_legend(lang: str) -> Legend:
    rows = [(STATE_COLOURS[s], t("state_" + s, lang), "round") for s in STATES]
    rows.append((BOOTH_COLOUR, t("booths", lang), "square"))
    return Legend(t("legend_stations", lang), rows, note=t("demo_note", lang), position="bottomleft")


def bounds_of(*frames: gpd.GeoDataFrame, system: CoordSystem) -> list[float] | None:
    """(minlon, minlat, maxlon, maxlat) of the non-empty frames, drawn in ``system``."""
    boxes = [from_work(f, system=system).total_bounds for f in frames if f is not None and len(f)]
    if not boxes:
        return None
    arr = np.array(boxes)
    return [float(arr[:, 0].min()), float(arr[:, 1].min()), float(arr[:, 2].max()), float(arr[:, 3].max())]


def stations_map(stations: gpd.GeoDataFrame, booths: gpd.GeoDataFrame | None = None, *, tiles: str = "none",
                 tiles_key: str = "", lang: str = "zh", at: datetime | None = None) -> folium.Map:
    """The full station map: clustered stations, booths as a separate layer, controls, legend, data extent."""
    system = tile_system(tiles)
    m = new_map(tiles=tiles, tiles_key=tiles_key, lang=lang)
    add_stations(m, stations, system=system, lang=lang, at=at)
    if booths is not None:
        add_booths(m, booths, system=system, lang=lang)
    add_controls(m, lang=lang, legends=[station_legend(lang)], bounds=bounds_of(stations, booths, system=system))
    return m
