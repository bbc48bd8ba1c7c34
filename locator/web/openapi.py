"""The OpenAPI 3 document, assembled from every registered blueprint, and a browsable page of it.

Each blueprint module may expose ``OPENAPI_PATHS`` (``{path: {method: operation}}``) and
``OPENAPI_COMPONENTS`` (``{"schemas": {...}, ...}``); ``build_document`` merges those of every blueprint
registered on the app, so a new module (coverage, siting, admin writes) documents itself by defining them.
Operations are written with ``operation()``, whose parameters come from ``params.ENDPOINTS``: the parser
and the document read the same declaration.

Served at ``/api/v1/openapi.json``; ``/api/v1/docs`` lists the paths and parameters as plain server-rendered
HTML with example links (no CDN, no JavaScript).
"""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from markupsafe import escape

from locator.web.params import openapi_parameters, parse_query

OPENAPI_VERSION = "3.0.3"
PROBLEM_JSON = "application/problem+json"
PROBLEM = {"$ref": "#/components/schemas/Problem"}

BASE_COMPONENTS: dict[str, dict[str, Any]] = {
    "schemas": {
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details; `param` names the offending parameter.",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                "detail": {"type": "string"}, "instance": {"type": "string"}, "param": {"type": "string"},
                "valid": {"type": "array", "items": {"type": "string"}},
                "unknown": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
}

_ERRORS = {
    "400": "Invalid or unknown parameter (application/problem+json naming it in `param`).",
    "404": "Not found.",
    "422": "The query point is far outside the service area (`OutsideServiceArea`).",
    "503": "The data store can't be read and no data has been loaded yet.",
}


def problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": PROBLEM}}}


def operation(endpoint: str, *, summary: str, description: str, responses: dict[str, Any],
              errors: tuple[str, ...] = ("400", "503"), path_params: tuple[dict[str, Any], ...] = (),
              tags: tuple[str, ...] = ("api",)) -> dict[str, Any]:
    """One GET operation whose query parameters are those ``params.ENDPOINTS[endpoint]`` declares."""
    all_responses = dict(responses)
    for code in errors:
        all_responses[code] = problem(_ERRORS[code])
    all_responses.setdefault("429", problem("Too many requests from this address (rate limit; see Retry-After)."))
    return {"operationId": endpoint, "summary": summary, "description": description, "tags": list(tags),
            "parameters": [*path_params, *openapi_parameters(endpoint)], "responses": all_responses,
            "x-params": endpoint}


def _merge(target: dict[str, Any], extra: dict[str, Any], where: str) -> None:
    for key, value in extra.items():
        if key in target and target[key] != value:
            msg = f"OpenAPI: {where} redefines {key!r}"
            raise ValueError(msg)
        target[key] = value


def build_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document: every registered blueprint module's OPENAPI_PATHS and OPENAPI_COMPONENTS."""
    paths: dict[str, Any] = {}
    components: dict[str, dict[str, Any]] = {k: dict(v) for k, v in BASE_COMPONENTS.items()}
    seen: set[str] = set()
    for blueprint in app.blueprints.values():
        module = sys.modules.get(blueprint.import_name)
        if module is None or module.__name__ in seen:
            continue
        seen.add(module.__name__)
        for path, methods in getattr(module, "OPENAPI_PATHS", {}).items():
            _merge(paths.setdefault(path, {}), methods, f"{module.__name__} path {path}")
        for section, entries in getattr(module, "OPENAPI_COMPONENTS", {}).items():
            _merge(components.setdefault(section, {}), entries, f"{module.__name__} components")
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "locator API",
            "version": str(app.config.get("LOCATOR_VERSION", "0")),
            "description": "Rest stations for outdoor workers in Beijing (户外劳动者服务站点). Every coordinate "
                           "states its system with `crs` (wgs84, gcj02, bd09); errors are "
                           "application/problem+json naming the parameter.",
        },
        "paths": dict(sorted(paths.items())),
        "components": components,
    }


def document() -> dict[str, Any]:
    """The current app's document, built once per app."""
    cached = current_app.extensions.get("openapi")
    if cached is None:
        cached = current_app.extensions["openapi"] = build_document(current_app)
    return cached  # type: ignore[no-any-return]


def openapi_json() -> ResponseReturnValue:
    parse_query("openapi", request.args)
    return jsonify(document())


def _example_link(path: str, op: dict[str, Any]) -> str:
    example = {}
    for param in op.get("parameters", []):
        if param["in"] == "query" and param.get("required"):
            value = param.get("example")
            example[param["name"]] = ",".join(map(str, value)) if isinstance(value, list) else value
    return f"{path}?{urlencode(example)}" if example else path


def docs_page() -> ResponseReturnValue:
    parse_query("openapi", request.args)
    doc = document()
    out = [
        "<!doctype html><html lang='en'><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{escape(doc['info']['title'])}</title>",
        "<style>body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem}"
        "table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3rem;vertical-align:top;"
        "text-align:left}code{background:#f4f4f4}h2{margin-top:2rem}</style>",
        f"<h1>{escape(doc['info']['title'])} <small>{escape(doc['info']['version'])}</small></h1>",
        f"<p>{escape(doc['info']['description'])}</p>",
        "<p>Machine-readable: <a href='/api/v1/openapi.json'>/api/v1/openapi.json</a> (OpenAPI "
        f"{escape(doc['openapi'])}).</p>",
    ]
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            link = _example_link(path, op)
            try_it = f" <a href='{escape(link)}'>try it</a>" if "{" not in path else ""
            out.append(f"<h2 id='{escape(op.get('operationId', path))}'><code>{escape(method.upper())} "
                       f"{escape(path)}</code>{try_it}</h2>")
            out.append(f"<p><b>{escape(op.get('summary', ''))}</b> {escape(op.get('description', ''))}</p>")
            params = op.get("parameters", [])
            if params:
                out.append("<table><tr><th>parameter</th><th>in</th><th>type</th><th>required</th>"
                           "<th>description</th><th>example</th></tr>")
                for p in params:
                    schema = p.get("schema", {})
                    kind = schema.get("type", "")
                    if "enum" in schema:
                        kind += f" ({' | '.join(map(str, schema['enum']))})"
                    elif schema.get("type") == "array" and "enum" in schema.get("items", {}):
                        kind += f" of {' | '.join(map(str, schema['items']['enum']))}"
                    example = p.get("example", "")
                    example = ",".join(map(str, example)) if isinstance(example, list) else example
                    out.append(f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
                               f"<td>{escape(kind)}</td><td>{'yes' if p.get('required') else ''}</td>"
                               f"<td>{escape(p.get('description', ''))}</td><td><code>{escape(example)}</code>"
                               "</td></tr>")
                out.append("</table>")
            codes = ", ".join(f"{escape(c)} {escape(r.get('description', ''))}" for c, r in op["responses"].items())
            out.append(f"<p>Responses: {codes}</p>")
    out.append("</html>")
    return "\n".join(out), 200, {"Content-Type": "text/html; charset=utf-8"}


def add_routes(bp: Blueprint) -> None:
    """Serve the document and the page from ``bp`` (the api blueprint)."""
    bp.add_url_rule("/api/v1/openapi.json", "openapi_json", openapi_json, methods=["GET"])
    bp.add_url_rule("/api/v1/docs", "docs", docs_page, methods=["GET"])
