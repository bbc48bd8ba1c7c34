"""Blueprint `siting` (routes are added by the issue that owns it)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("siting", __name__)
