"""The Flask application factory (as in Flask's tutorial app): defaults, then env, then test overrides."""

from __future__ import annotations

import logging
import secrets

from flask import Flask

from locator import __version__
from locator.config import load_settings
from locator.core.profiles import configure_profiles
from locator.store import open_store
from locator.web import (
    admin,
    api,
    auth,
    courier,
    coverage,
    edit_api,
    health,
    maps,
    ops,
    problems,
    reports,
    security,
    siting,
)
from locator.web.state import DataState


def create_app(test_config: dict[str, object] | None = None) -> Flask:
    """Build the app. ``test_config`` overrides settings (keys as in ``locator.config.SETTINGS``)."""
    app = Flask(__name__)
    settings = load_settings(test_config)
    configure_profiles(str(settings["PROFILES"]))  # the walk/ebike speeds; a bad file stops here, naming the key
    app.config.update(settings)
    app.config["SECRET_KEY"] = settings["SECRET_KEY"] or secrets.token_hex(32)
    app.config["JSON_AS_ASCII"] = False
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.config["LOCATOR_VERSION"] = __version__
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    store = open_store(str(settings["STORE"]), work_crs=str(settings["WORK_CRS"]))
    app.extensions["locator"] = DataState(store, reload_seconds=float(settings["RELOAD_SECONDS"]),  # type: ignore[arg-type]
                                          freeze_garbage=not app.config.get("TESTING"))

    problems.register(app)
    ops.register(app)
    security.register(app)
    auth.register(app, secret_given=bool(settings["SECRET_KEY"]))
    for blueprint in (health.bp, api.bp, courier.bp, coverage.bp, maps.bp, siting.bp, admin.bp, edit_api.bp,
                      reports.bp):
        app.register_blueprint(blueprint)
    return app


def data_state() -> DataState:
    """The worker's data state (use inside a request)."""
    from flask import current_app

    return current_app.extensions["locator"]  # type: ignore[no-any-return]
