"""camera_registry: registry of community security cameras and police footage requests."""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import Flask

from . import config as settings
from .db import make_engine, make_session_factory
from .services import registry as _registry  # noqa: F401  registers commune derivation on every Session
from .services.notifications import CHANNEL_PLAN, NotificationSettings, check_templates


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
    # Routing a request queues its owners' messages, and knows no settings: the channels to use ride in each
    # session; a configured ZNS or SMS provider whose templates cannot be sent stops the start here.
    channels = NotificationSettings.from_config(app.config)
    check_templates(channels)
    app.extensions["session_factory"].configure(info={CHANNEL_PLAN: channels.channel_plan})

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
