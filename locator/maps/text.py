"""Map strings in Chinese (first) and English, and the one escaping rule for text drawn into a map.

``locator.web.i18n`` holds the page strings; maps sit below the web layer and keep their own short table.
"""

from __future__ import annotations

import html

from locator.model import AMENITIES

LANGUAGES = ("zh", "en")

STRINGS: dict[str, tuple[str, str]] = {
    "stations": ("驿站", "Rest stations"),
    "booths": ("核酸采样亭（候选）", "Former testing booths"),
    "streets": ("街道覆盖", "Street coverage"),
    "subdistricts": ("街道/乡镇覆盖率", "Coverage by subdistrict"),
    "state_open": ("开放中", "Open"),
    "state_closed_now": ("当前未开放", "Closed now"),
    "state_temporarily_closed": ("暂停开放", "Temporarily closed"),
    "state_closed": ("已关闭", "Closed permanently"),
    "state_planned": ("筹建中", "Planned"),
    "hours": ("开放时间", "Hours"),
    "hours_unknown": ("开放时间未知", "Hours unknown"),
    "address": ("地址", "Address"),
    "amenities": ("服务项目", "Amenities"),
    "navigate": ("导航", "Navigate"),
    "nav_amap": ("高德", "Amap"), "nav_baidu": ("百度", "Baidu"), "nav_tencent": ("腾讯", "Tencent"),
    "nav_apple": ("苹果地图", "Apple Maps"), "nav_geo": ("其他地图", "Other app"),
    "demo": ("示例数据", "Demo data"),
    "demo_note": ("虚线圈标记的是示例数据，不是真实站点", "Dashed rings mark demo data, not real stations"),
    "booth": ("采样亭", "Booth"),
    "booth_status_candidate": ("候选", "Candidate"),
    "booth_status_planned": ("计划改造", "Planned conversion"),
    "booth_status_converted": ("已改造", "Converted"),
    "booth_status_removed": ("已拆除", "Removed"),
    "legend_stations": ("驿站状态", "Station state"),
    "legend_streets": ("到最近开放驿站的距离", "Distance to the nearest open station"),
    "legend_subdistricts": ("覆盖街道占比", "Share of streets covered"),
    "unreachable": ("不可达", "Unreachable"),
    "unnamed_street": ("无名道路", "Unnamed street"),
    "distance": ("距离", "Distance"),
    "covered_share": ("覆盖率", "Covered"),
    "street_km": ("道路总长", "Street length"),
    "covered_km": ("已覆盖", "Covered length"),
    "station_count": ("驿站数", "Stations"),
    "approximate": ("近似边界", "approximate boundary"),
    "show_streets": ("查看街道覆盖图", "Street map of this subdistrict"),
    "locate": ("我的位置", "Show my location"),
    "fullscreen": ("全屏", "Full screen"),
    "exit_fullscreen": ("退出全屏", "Exit full screen"),
}


def t(key: str, lang: str) -> str:
    """The string ``key`` in ``lang`` (Chinese unless ``lang`` is ``en``)."""
    zh, en = STRINGS[key]
    return en if lang == "en" else zh


def amenity_label(key: str, lang: str) -> str:
    for amenity in AMENITIES:
        if amenity.key == key:
            return amenity.en if lang == "en" else amenity.zh
    return key


def esc(value: object) -> str:
    """Text -> HTML that shows it as text, also safe inside the JavaScript template literals folium writes.

    Folium puts popup and tooltip HTML inside backtick strings (`` `...` ``), where a backtick, ``${`` or a
    backslash in a station name would end the string or run code; entities keep them inert.
    """
    text = "" if value is None else str(value)
    return (html.escape(text, quote=True)
            .replace("`", "&#96;").replace("$", "&#36;").replace("\\", "&#92;"))
