"""Who may frame our pages: ``/embed`` by the origins in ``FRAME_ANCESTORS`` (default any), nothing else.

``Content-Security-Policy: frame-ancestors`` is the rule browsers follow; ``X-Frame-Options: DENY`` is added on
every other response for browsers too old for CSP. ``/embed`` gets no X-Frame-Options: its only values (DENY,
SAMEORIGIN) would forbid what FRAME_ANCESTORS allows.
"""

from __future__ import annotations

import logging
import re

from flask import Flask, Response, current_app, request

log = logging.getLogger(__name__)

FRAMEABLE_ENDPOINTS = frozenset({"maps.embed"})
# A CSP source expression for an origin: scheme://host[:port], host may start with "*."; or a keyword.
_SOURCE = re.compile(r"^(\*|'self'|https?://(\*\.)?[A-Za-z0-9.-]+(:\d{1,5}|:\*)?|https?:)$")


def frame_ancestors(value: object) -> str:
    """The ``frame-ancestors`` source list from the FRAME_ANCESTORS setting; unusable entries are dropped.

    A value that keeps nothing usable means no framing at all (``'none'``), never "anyone".
    """
    raw = " ".join(value) if isinstance(value, tuple | list) else str(value or "")
    tokens = [tok.strip().rstrip("/") for tok in re.split(r"[\s,]+", raw) if tok.strip()]
    tokens = ["'self'" if tok in ("self", "'self'") else tok for tok in tokens]
    good = [tok for tok in tokens if _SOURCE.match(tok)]
    if len(good) != len(tokens):
        log.warning("FRAME_ANCESTORS: ignoring %s", [tok for tok in tokens if tok not in good])
    if "*" in good:
        return "*"
    # our own /embed/builder previews the embed in an iframe
    return " ".join(dict.fromkeys(["'self'", *good])) if good else "'none'"


def _add_frame_rule(response: Response, rule: str) -> None:
    existing = response.headers.get("Content-Security-Policy", "")
    if "frame-ancestors" in existing:
        return
    response.headers["Content-Security-Policy"] = f"{existing}; {rule}" if existing else rule


# Folium writes each map as an inline <script>; only these pages may run inline script. Every other page keeps
# its code in files and its settings in a JSON block (base.html), so it runs under script-src 'self'.
INLINE_SCRIPT_ENDPOINTS = frozenset({"maps.full_map", "maps.planner", "maps.embed"})


def content_policy(endpoint: str | None) -> str:
    """The Content-Security-Policy (without frame-ancestors, added below): our own origin for everything,
    map tiles (https images) and data: icons, inline styles (Leaflet and folium set them)."""
    script = "'self' 'unsafe-inline'" if endpoint in INLINE_SCRIPT_ENDPOINTS else "'self'"
    return (f"default-src 'self'; script-src {script}; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data: blob: https:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
            "base-uri 'self'; form-action 'self'")


def _other_headers(response: Response) -> None:
    response.headers.setdefault("Content-Security-Policy", content_policy(request.endpoint))
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")


def register(app: Flask) -> None:
    @app.after_request
    def framing_headers(response: Response) -> Response:
        _other_headers(response)
        if request.endpoint in FRAMEABLE_ENDPOINTS:
            _add_frame_rule(response, f"frame-ancestors {frame_ancestors(current_app.config.get('FRAME_ANCESTORS'))}")
        else:
            _add_frame_rule(response, "frame-ancestors 'none'")
            response.headers["X-Frame-Options"] = "DENY"
        return response
