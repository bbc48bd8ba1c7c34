"""Blueprint `coverage` (routes are added by the issue that owns it)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("coverage", __name__)
