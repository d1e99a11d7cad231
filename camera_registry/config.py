"""Settings read from the environment, so one build runs on a laptop or a server."""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

#: Where the embedded database and other per-installation files live.
DEFAULT_INSTANCE_PATH = Path(os.environ.get("CAMERA_REGISTRY_INSTANCE", Path.cwd() / "instance"))


def default_database_url(instance_path: Path = DEFAULT_INSTANCE_PATH) -> str:
    """The embedded SpatiaLite file, used whenever DATABASE_URL is unset."""
    return f"sqlite:///{instance_path / 'camera_registry.sqlite'}"


def from_environment() -> dict:
    """Flask config keys taken from the process environment."""
    instance_path = Path(os.environ.get("CAMERA_REGISTRY_INSTANCE", DEFAULT_INSTANCE_PATH))
    return {
        "INSTANCE_PATH": str(instance_path),
        "DATABASE_URL": os.environ.get("DATABASE_URL") or default_database_url(instance_path),
        "SECRET_KEY": os.environ.get("SECRET_KEY", ""),
        "SQL_ECHO": os.environ.get("SQL_ECHO", "") == "1",
        # Off by default so http://127.0.0.1 works in development; set 1 behind HTTPS.
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "") == "1",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # The signed login cookie is refused after a working day, even if the browser keeps it.
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
        # Largest request body (register uploads); bigger ones get 413 before any row is read.
        # Basemap tiles for the maps, e.g. an internal tile server; empty: boundaries only (no internet needed).
        "MAP_TILE_URL": os.environ.get("MAP_TILE_URL", ""),
        "MAP_TILE_ATTRIBUTION": os.environ.get("MAP_TILE_ATTRIBUTION", ""),
        "MAX_CONTENT_LENGTH": int(os.environ.get("UPLOAD_MAX_MB", "64")) * 1024 * 1024,
    }
