"""Blueprint `courier` (routes are added by the issue that owns it)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("courier", __name__)
