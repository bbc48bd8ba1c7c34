"""Travel profiles from a file: the ``LOCATOR_PROFILES`` setting lays its speeds over the built-in ones.

The built-in ``walk`` and ``ebike`` profiles (:data:`locator.core.network.WALK`, :data:`~locator.core.network.EBIKE`;
speed table in README and in that module) are tuned without code by naming a TOML or JSON file in
``LOCATOR_PROFILES``. Each top-level table is a profile; a key it gives replaces the built-in value, the rest
stay as they are::

    [walk]
    walk_kmh = 4.5          # the walker's speed on every street, and from a station to the street

    [ebike]
    default_kmh = 12        # classes the table below (and the built-in one) do not name
    walk_kmh = 4.8          # pushing where riding is not allowed, and the walk from a station to the street
    straight_kmh = 15       # straight-line mode, where there is no street class to look up

    [ebike.speeds_kmh]      # by OpenStreetMap highway class; the classes not given keep their speeds
    primary = 20
    residential = 15

JSON has the same shape (``{"ebike": {"speeds_kmh": {"primary": 20}}}``). For ``walk``, ``walk_kmh`` is the
speed everywhere: its ``default_kmh`` and ``straight_kmh`` follow it unless the file gives them too.

The file is read at start-up (``create_app``, the command line), and anything locator can't use stops it there
with a :class:`~locator.errors.ConfigError` naming the file and the key: no such file, a syntax error, a profile
other than walk and ebike, an unknown key, a speed that is not a number of km/h in (0, :data:`MAX_KMH`], a class
that is no OpenStreetMap street class, or a speed that would never be used (motorways are closed to both; an
e-bike is pushed on footways, paths, steps, ... at its ``walk_kmh``).
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from locator.errors import ConfigError

if TYPE_CHECKING:
    from locator.core.network import Profile

__all__ = ["KEYS", "MAX_KMH", "configure_profiles", "load_profiles"]

SETTING = "LOCATOR_PROFILES"
KEYS = ("speeds_kmh", "default_kmh", "walk_kmh", "straight_kmh")
MAX_KMH = 50.0  # a typo guard: GB 17761-2018 caps e-bikes at 25 km/h; 50 would be a motorbike
_configured = False  # True while network.PROFILES hold speeds from a file


def configure_profiles(path: str | Path | None) -> None:
    """Make ``get_profile("walk" | "ebike")`` hand out the profiles of ``path`` (empty: the built-in ones).

    Process-wide, for start-up. ``ConfigError`` names the file and key of anything unusable, and then the
    profiles in use are left as they were.
    """
    global _configured
    if not path and not _configured:
        return  # the built-in profiles are in place; don't import the network module just to say so
    from locator.core import network

    network.PROFILES.update(load_profiles(path))  # same keys: a reader sees the old or the new profile
    _configured = bool(path)


def load_profiles(path: str | Path | None) -> dict[str, Profile]:
    """The built-in walk and ebike profiles with the values in ``path`` (TOML or JSON) laid over them."""
    from locator.core.network import EBIKE, WALK

    built_in = {"walk": WALK, "ebike": EBIKE}
    if not path:
        return built_in
    path = Path(path)
    data = _read(path)
    profiles = dict(built_in)
    for name, values in data.items():
        if name not in built_in:
            _fail(path, name, "未知的出行方式，只能是 walk 或 ebike", "not a profile; the profiles are walk and ebike")
        if not isinstance(values, dict):
            _fail(path, name, "应为表（TOML [表] 或 JSON 对象）", "must be a table (TOML [table], JSON object)")
        profiles[name] = _overlay(path, name, built_in[name], values)
    return profiles


def _read(path: Path) -> dict[str, Any]:
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json"):
        _fail(path, None, "须为 .toml 或 .json 文件", "must be a .toml or .json file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        _fail(path, None, "找不到该文件", "no such file")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(path, None, f"无法读取：{exc}", f"cannot be read: {exc}")
    try:
        data = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        _fail(path, None, f"语法错误：{exc}", f"is not valid {suffix[1:].upper()}: {exc}")
    if not isinstance(data, dict):
        _fail(path, None, "顶层应为表（对象）", "must hold a table (object) of profiles at the top")
    return data


def _overlay(path: Path, name: str, base: Profile, values: dict[str, Any]) -> Profile:
    for key in values:
        if key not in KEYS:
            _fail(path, f"{name}.{key}", f"不是可设置的键（{', '.join(KEYS)}）",
                  f"is not a key a profile file may set ({', '.join(KEYS)})")
    given = {key: _speed(path, f"{name}.{key}", values[key]) for key in KEYS[1:] if key in values}
    table = values.get("speeds_kmh", {})
    if not isinstance(table, dict):
        _fail(path, f"{name}.speeds_kmh", "应为 道路等级 = 速度 的表", "must be a table of highway class = km/h")
    known = _known_classes()
    speeds = dict(base.speeds_kmh)
    for highway, value in table.items():
        key = f"{name}.speeds_kmh.{highway}"
        if highway in base.forbidden:
            _fail(path, key, "步行和电动自行车都不能走高速公路，此速度不会用到",
                  "motorways are closed to walkers and riders: this speed would never be used")
        if highway in base.walked:
            _fail(path, key, f"{name} 在此类道路上推行，速度为 {name}.walk_kmh",
                  f"{name} is pushed on {highway}, at {name}.walk_kmh: set that instead")
        if highway not in known:
            _fail(path, key, f"不是 OpenStreetMap 道路等级（{', '.join(sorted(known))}）",
                  f"is not an OpenStreetMap street class ({', '.join(sorted(known))})")
        speeds[highway] = _speed(path, key, value)
    follow = given.get("walk_kmh") if not base.rides else None  # a walker's speed is the walk speed
    return replace(
        base, speeds_kmh=speeds, walk_kmh=given.get("walk_kmh", base.walk_kmh),
        default_kmh=given.get("default_kmh", follow or base.default_kmh),
        straight_kmh=given.get("straight_kmh", follow or base.straight_kmh),
    )


def _known_classes() -> frozenset[str]:
    """The street classes the built-in e-bike profile names (ridden or pushed): those the OSM reader keeps."""
    from locator.core.network import EBIKE

    return frozenset(EBIKE.speeds_kmh) | EBIKE.walked


def _speed(path: Path, key: str, value: object) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not 0 < float(value) <= MAX_KMH:  # type: ignore[arg-type]
        _fail(path, key, f"应为 0 到 {MAX_KMH:g} 之间的速度（km/h），实为 {value!r}",
              f"must be a speed in km/h, more than 0 and at most {MAX_KMH:g} (got {value!r})")
    return float(value)  # type: ignore[arg-type]


def _fail(path: Path, key: str | None, zh: str, en: str) -> NoReturn:
    where = f"{path}" + (f"：{key}" if key else "")
    where_en = f"{path}" + (f": {key}" if key else "")
    msg = f"{SETTING} 文件 {where} {zh} / {SETTING} file {where_en} {en}"
    raise ConfigError(msg, param=SETTING, file=str(path), key=key)
