"""One error body for the whole API: RFC 9457 ``application/problem+json``.

Views hold no try/except: a ``LocatorError`` raised anywhere becomes its problem body here,
werkzeug's HTTP errors get the same shape, and anything unexpected is logged with its
traceback and answered without internals.
"""

from __future__ import annotations

import json
import logging

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from locator.errors import LocatorError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem_response(body: dict[str, object], status: int, headers: dict[str, str] | None = None) -> Response:
    body.setdefault("instance", request.path)
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def register(app: Flask) -> None:
    @app.errorhandler(LocatorError)
    def locator_error(error: LocatorError) -> Response:
        if error.status >= 500:
            log.error("%s: %s", error.slug, error.detail)
        return problem_response(error.to_problem(), error.status)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        slug = (error.name or "error").lower().replace(" ", "-")
        body = {"type": f"/problems/{slug}", "title": error.name, "status": error.code,
                "detail": error.description}
        headers = {"Allow": ", ".join(error.valid_methods)} if getattr(error, "valid_methods", None) else None
        return problem_response(body, error.code or 500, headers)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.path)
        body = {"type": "/problems/internal", "title": "Internal error", "status": 500,
                "detail": "The server met an unexpected error; it has been logged."}
        return problem_response(body, 500)
