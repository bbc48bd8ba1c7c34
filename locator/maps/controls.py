"""What every map shares: the base map, layer switcher, scale bar, full screen, "locate me", legend, extent."""

from __future__ import annotations

from collections.abc import Sequence

import folium
from branca.element import MacroElement
from folium import plugins
from folium.template import Template

from locator.maps import assets
from locator.maps.text import esc, t
from locator.maps.tiles import add_tiles

assets.install()

# Where a map with no data opens: central Beijing.
DEFAULT_CENTER = (39.9042, 116.4074)


def new_map(*, tiles: str = "none", tiles_key: str = "", lang: str = "zh", zoom: int = 12,
            center: tuple[float, float] | None = None, height: str = "100%") -> folium.Map:
    """An empty map drawing on canvas (thousands of lines stay fast), with the chosen base layer."""
    m = folium.Map(location=list(center or DEFAULT_CENTER), zoom_start=zoom, tiles=None, prefer_canvas=True,
                   control_scale=True, height=height, zoom_control=True)
    assets.light(m)
    # clustering needs a maximum zoom, which otherwise only a tile layer gives (none with TILES=none)
    m.options["max_zoom"] = 19
    add_tiles(m, tiles, key=tiles_key)
    return m


class Legend(MacroElement):
    """A legend box; ``rows`` are (colour, label, css class) and every label is escaped here."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
            var legend = L.control({position: {{ this.position|tojson }}});
            legend.onAdd = function () {
                var div = L.DomUtil.create('div', 'locator-legend');
                div.innerHTML = {{ this.html|tojson }};
                L.DomEvent.disableClickPropagation(div);
                return div;
            };
            legend.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
    """)

    def __init__(self, title: str, rows: Sequence[tuple[str, str, str]], *, note: str = "",
                 position: str = "bottomright") -> None:
        super().__init__()
        self._name = "Legend"
        self.title, self.rows, self.position = title, list(rows), position
        items = "".join(
            f'<li><span class="swatch {esc(css)}" style="background:{esc(colour)}"></span>{esc(label)}</li>'
            for colour, label, css in self.rows)
        self.html = (f'<div class="locator-legend-title">{esc(title)}</div><ul>{items}</ul>'
                     + (f'<div class="locator-legend-note">{esc(note)}</div>' if note else ""))


def add_controls(m: folium.Map, *, lang: str = "zh", legends: Sequence[Legend] = (),
                 bounds: Sequence[float] | None = None, layer_control: bool = True,
                 locate: bool = True, fullscreen: bool = True) -> folium.Map:
    """Layer switcher, full screen, "locate me" and legends; open on ``bounds`` (minlon, minlat, maxlon, maxlat).

    The scale bar comes with the map itself (``control_scale``).
    """
    if fullscreen:
        plugins.Fullscreen(position="topleft", title=t("fullscreen", lang),
                           title_cancel=t("exit_fullscreen", lang)).add_to(m)
    if locate:
        plugins.LocateControl(position="topleft", strings={"title": t("locate", lang)},
                              flyTo=True, keepCurrentZoomLevel=False).add_to(m)
    for legend in legends:
        legend.add_to(m)
    if layer_control:
        folium.LayerControl(collapsed=False, position="topright").add_to(m)
    if bounds is not None and all(map(_finite, bounds)):
        minx, miny, maxx, maxy = bounds
        if (minx, miny) == (maxx, maxy):  # one point: a box of its own would zoom to the maximum
            m.location, m.options["zoom"] = [miny, minx], 15
        else:
            m.fit_bounds([[miny, minx], [maxy, maxx]], padding=(12, 12))
    return m


def _finite(value: float) -> bool:
    return value == value and value not in (float("inf"), float("-inf"))
