"""Page strings in Chinese (first) and English, and how a request's language is chosen.

The language comes from ``?lang=zh|en`` when given (no cookie: a link carries the choice), then the
browser's ``Accept-Language``, then the ``LANGUAGE`` setting. Strings are data: templates call
``t(key)``, and the page script gets the same table for its language through ``strings(lang)``.
Amenity labels come from the vocabulary in ``locator.model`` so there is one list of names.
"""

from __future__ import annotations

from collections.abc import Mapping

from locator.model import AMENITIES

LANGUAGES: tuple[str, ...] = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

# key -> (Chinese, English). ``{name}`` placeholders are filled by the page script.
STRINGS: dict[str, tuple[str, str]] = {
    "app_title": ("附近的暖心驿站", "Rest stations near you"),
    "app_subtitle": ("户外劳动者服务站点", "Rest stations for outdoor workers"),
    "switch_language": ("English", "中文"),
    "switch_language_label": ("Switch to English", "切换到中文"),
    "search_placeholder": ("输入驿站、街道或地址", "Station, subdistrict or address"),
    "search_label": ("查找地点", "Find a place"),
    "search_button": ("搜索", "Search"),
    "locate_button": ("我的位置", "My location"),
    "filters_label": ("筛选", "Filters"),
    "open_now": ("营业中", "Open now"),
    "map_label": ("驿站地图", "Map of stations"),
    "results_label": ("最近的驿站", "Nearest stations"),
    "locating": ("正在获取您的位置…", "Finding your location…"),
    "geo_denied": ("无法获取您的位置。请点击地图选择位置，或在上方输入地点。",
                   "Your location is not available. Tap the map or type a place above."),
    "geo_unsupported": ("此浏览器不能定位。请点击地图选择位置，或在上方输入地点。",
                        "This browser can't find your location. Tap the map or type a place above."),
    "tap_map_hint": ("点击地图可以选择位置", "Tap the map to choose a position"),
    "loading": ("正在查找…", "Searching…"),
    "network_error": ("网络出错，请重试。", "Network error. Please try again."),
    "retry": ("重试", "Try again"),
    "outside_area": ("该位置不在服务范围内。", "That position is outside the service area."),
    "no_results": ("附近没有符合条件的驿站。", "No matching stations nearby."),
    "no_results_hint": ("可以关闭“营业中”或减少筛选条件。", "Turn off “Open now” or remove some filters."),
    "no_places": ("没有找到这个地点。", "No place found with that name."),
    "place_kind_subdistrict": ("街道/乡镇", "Subdistrict"),
    "place_kind_station": ("驿站", "Station"),
    "your_position": ("您的位置", "Your position"),
    "chosen_position": ("已选位置", "Chosen position"),
    "from_here": ("距离从：{name}", "Distances from: {name}"),
    "demo_badge": ("示例数据", "Demo data"),
    "demo_banner": ("标有“示例数据”的站点是演示用的，不是真实站点。",
                    "Stations marked “Demo data” are examples, not real stations."),
    "distance_m": ("{n} 米", "{n} m"),
    "distance_km": ("{n} 公里", "{n} km"),
    "walk_min": ("步行 {n} 分钟", "{n} min walk"),
    "ride_min": ("骑行 {n} 分钟", "{n} min ride"),
    "open": ("营业中", "Open"),
    "closed": ("已打烊", "Closed"),
    "open_24_7": ("24 小时营业", "Open 24 hours"),
    "closes_at": ("{time} 关门", "closes {time}"),
    "opens_at": ("{time} 开门", "opens {time}"),
    "hours_unknown": ("营业时间未知", "Hours unknown"),
    "status_temporarily_closed": ("暂停开放", "Temporarily closed"),
    "status_closed": ("已关闭", "Closed permanently"),
    "status_planned": ("筹建中", "Planned"),
    "today": ("今天", "today"),
    "tomorrow": ("明天", "tomorrow"),
    "navigate": ("导航", "Navigate"),
    "nav_amap": ("高德", "Amap"),
    "nav_baidu": ("百度", "Baidu"),
    "nav_tencent": ("腾讯", "Tencent"),
    "nav_apple": ("苹果", "Apple"),
    "nav_geo": ("其他地图", "Other map app"),
    "show_on_map": ("在地图上显示", "Show on map"),
    "amenities": ("服务项目", "Amenities"),
    "data_version": ("数据版本 {n}", "Data version {n}"),
    "no_tiles": ("未加载底图：列表和标记照常可用。", "No base map: the list and markers still work."),
    "tiles_failed": ("底图加载失败：列表和标记照常可用。",
                     "The base map failed to load: the list and markers still work."),
    "dir_n": ("北", "N"), "dir_ne": ("东北", "NE"), "dir_e": ("东", "E"), "dir_se": ("东南", "SE"),
    "dir_s": ("南", "S"), "dir_sw": ("西南", "SW"), "dir_w": ("西", "W"), "dir_nw": ("西北", "NW"),
    "page_error": ("页面出错", "Something went wrong"),
    "report_problem": ("报告问题", "Report a problem"),
}


def normalise_language(value: object) -> str | None:
    """``zh``/``en`` from a value such as ``zh-CN`` or ``EN``; None when it names neither."""
    if not isinstance(value, str):
        return None
    primary = value.strip().lower().replace("_", "-").split("-")[0]
    return primary if primary in LANGUAGES else None


def choose_language(*, query: object, accept_language: object, default: object) -> str:
    """The page language: ``?lang=``, then ``Accept-Language``, then the configured default.

    Parameters
    ----------
    query
        The ``lang`` query parameter (ignored when it names no supported language: a page never
        fails over a language).
    accept_language
        A werkzeug ``LanguageAccept`` (``request.accept_languages``), or None.
    default
        The ``LANGUAGE`` setting.
    """
    chosen = normalise_language(query)
    if chosen:
        return chosen
    best = getattr(accept_language, "best_match", None)
    if best is not None:
        chosen = normalise_language(best(list(LANGUAGES)))
        if chosen:
            return chosen
    return normalise_language(default) or DEFAULT_LANGUAGE


def t(key: str, lang: str) -> str:
    """The string ``key`` in ``lang`` (Chinese where the language is unknown)."""
    zh, en = STRINGS[key]
    return en if lang == "en" else zh


def strings(lang: str) -> dict[str, str]:
    """Every page string in ``lang``, for the page script's JSON config."""
    return {key: t(key, lang) for key in STRINGS}


def amenity_labels(lang: str) -> Mapping[str, str]:
    """Amenity key -> label in ``lang``, in vocabulary order."""
    return {a.key: (a.en if lang == "en" else a.zh) for a in AMENITIES}


def other_language(lang: str) -> str:
    return "zh" if lang == "en" else "en"


def html_lang(lang: str) -> str:
    """The value for ``<html lang>`` (simplified Chinese as used in Beijing)."""
    return "en" if lang == "en" else "zh-CN"
