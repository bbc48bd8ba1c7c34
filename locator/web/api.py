"""Blueprint `api` (routes are added by the issue that owns it)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__)
