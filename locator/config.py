"""Settings declared as data: each has a default, an environment variable and a description.

Order of precedence (as in Flask's tutorial app): these defaults, then the environment, then
the ``test_config`` mapping handed to ``create_app``. ``tests/test_config.py`` checks that every
setting is documented in README.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STORE = PROJECT_ROOT / "data" / "locator.gpkg"


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    description: str
    kind: type = str

    @property
    def env(self) -> str:
        return f"LOCATOR_{self.name}"

    def parse(self, raw: str) -> object:
        if self.kind is bool:
            return raw.strip().lower() in {"1", "true", "yes", "on"}
        if self.kind is tuple:
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        return self.kind(raw)


SETTINGS: tuple[Setting, ...] = (
    Setting("STORE", str(DEFAULT_STORE), "Where the data lives: a GeoPackage path or a postgresql:// URL."),
    Setting("PORT", 8000, "Port the service listens on (127.0.0.1).", int),
    Setting("HOST", "127.0.0.1", "Address the service listens on."),
    Setting("WORKERS", 2, "Number of gunicorn worker processes for `locator serve`.", int),
    Setting("WORK_CRS", "EPSG:32650", "Metric CRS every analysis runs in (UTM 50N covers Beijing)."),
    Setting(
        "SERVICE_AREA",
        "115.4,39.4,117.6,41.1",
        "Service area as minlon,minlat,maxlon,maxlat in WGS-84 (default: Beijing's extent).",
    ),
    Setting("TILES", "osm", "Map tiles: osm, amap, tianditu or none."),
    Setting("TIANDITU_KEY", "", "Key for Tianditu tiles (only needed with TILES=tianditu)."),
    Setting("FRAME_ANCESTORS", "*", "Origins allowed to frame /embed (space-separated; * for any)."),
    Setting("LANGUAGE", "zh", "Default page language: zh or en."),
    Setting("SECRET_KEY", "", "Secret for signing sessions; a random one is made per process if empty."),
    Setting("RELOAD_SECONDS", 2.0, "How often a worker checks the store's data version for changes.", float),
    Setting("OSM_URL", "https://overpass-api.de/api/interpreter",
            "Overpass API endpoint `locator fetch-streets` downloads OpenStreetMap streets from."),
    Setting("COOKIE_SECURE", "auto", "Secure flag of the session cookie: auto (on, except plain http to 127.0.0.1/"
            "localhost and in tests), true or false."),
    Setting("MAX_UPLOAD_MB", 20.0, "Largest request body (uploads included) in MB; larger ones get 413.", float),
    Setting("RATE_LIMIT", "300/60", "Public API requests per client IP: COUNT/SECONDS (0 turns it off); 429 beyond."),
    Setting("REPORT_RATE_LIMIT", "5/600", "Courier reports per client IP: COUNT/SECONDS; 429 beyond."),
    Setting("REDIS_URL", "redis://127.0.0.1:6379/0", "Redis for rate limits shared by every worker; empty or "
            "unreachable: each worker counts on its own."),
    Setting("PROXY_COUNT", 0, "Reverse proxies in front that set X-Forwarded-For/-Proto (trusted for client IPs).",
            int),
    Setting("LOG_FORMAT", "json", "Log lines as json (one object per line, with request ids) or text."),
    Setting("PROFILES", "", "A TOML or JSON file whose speeds replace the built-in walk and ebike ones (by "
            "highway class, default, walk, straight-line); read at start-up, a bad file stops it naming the key."),
)


def load_settings(overrides: dict[str, object] | None = None) -> dict[str, object]:
    """Defaults, then ``LOCATOR_*`` environment variables, then ``overrides``."""
    values: dict[str, object] = {}
    for setting in SETTINGS:
        raw = os.environ.get(setting.env)
        values[setting.name] = setting.default if raw is None or raw == "" else setting.parse(raw)
    if overrides:
        values.update(overrides)
    return values


def service_area_bounds(value: object) -> tuple[float, float, float, float]:
    """Parse SERVICE_AREA into a (minlon, minlat, maxlon, maxlat) tuple."""
    if isinstance(value, tuple | list):
        minlon, minlat, maxlon, maxlat = (float(v) for v in value)
    else:
        minlon, minlat, maxlon, maxlat = (float(v) for v in str(value).split(","))
    return minlon, minlat, maxlon, maxlat
