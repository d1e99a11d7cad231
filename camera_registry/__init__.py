"""camera_registry: registry of community security cameras and police footage requests."""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import Flask

from . import config as settings
from .db import make_engine, make_session_factory
from .services import registry as _registry  # noqa: F401  registers commune derivation on every Session


def create_app(config: dict | None = None) -> Flask:
    """Build the application: settings, database, blueprints, CLI."""
    app = Flask(__name__, instance_relative_config=True, static_folder="web/static")
    app.config.update(settings.from_environment())
    app.config.update(config or {})
    app.instance_path = app.config["INSTANCE_PATH"]
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))

    engine = make_engine(
        app.config["DATABASE_URL"], echo=app.config["SQL_ECHO"], busy_timeout_ms=app.config["SQLITE_BUSY_TIMEOUT_MS"]
    )
    app.extensions["engine"] = engine
    app.extensions["session_factory"] = make_session_factory(engine)

    from . import api, cli, web
    from .schemas.fields import install_route_converters

    install_route_converters(app)
    web.init_app(app)
    api.init_app(app)
    cli.init_app(app)
    return app


def _instance_secret(instance_path: Path) -> str:
    """A per-installation key kept in instance/ when SECRET_KEY is not configured."""
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()
