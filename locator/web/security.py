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


def register(app: Flask) -> None:
    @app.after_request
    def framing_headers(response: Response) -> Response:
        if request.endpoint in FRAMEABLE_ENDPOINTS:
            _add_frame_rule(response, f"frame-ancestors {frame_ancestors(current_app.config.get('FRAME_ANCESTORS'))}")
        else:
            _add_frame_rule(response, "frame-ancestors 'none'")
            response.headers["X-Frame-Options"] = "DENY"
        return response
