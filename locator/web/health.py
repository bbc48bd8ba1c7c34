"""Liveness (is this process answering) and readiness (data loaded, store reachable)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    return jsonify(status="ok", version=current_app.config["LOCATOR_VERSION"])


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    from locator.web import data_state

    state = data_state()
    snapshot = state.current()  # raises StoreUnavailable (503) when nothing was ever loaded
    body = {
        "status": "stale" if state.stale else "ready",
        "data_version": snapshot.version,
        "loaded_at": snapshot.loaded_at.isoformat(timespec="seconds"),
        "rows": {name: len(layer) for name, layer in snapshot.layers.items()},
    }
    if state.stale:
        body["store_error"] = "the store can't be reached; answering from the last loaded data"
    return jsonify(body), 503 if state.stale else 200
