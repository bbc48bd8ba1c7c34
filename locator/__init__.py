"""locator: find, map and plan Beijing's rest stations for outdoor workers (户外劳动者服务站点)."""

__version__ = "0.1.0"
