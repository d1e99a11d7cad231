"""For the tests that need a database of their own: what another thread, process or connection must see
committed, which the per-test rolled-back transaction (tests/conftest.py) keeps from them."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from werkzeug.serving import make_server

import camera_registry
from camera_registry import migrate
from camera_registry.db import make_engine


def migrated_database(database_server, label: str) -> str:
    """A new database on the run's backend, migrated to head: its URL."""
    url = database_server.new_database(label)
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    return url


@contextmanager
def app_of_its_own(database_server, label: str, **config) -> Iterator[Flask]:
    """The app on a new, empty database and a temporary instance folder, both gone afterwards."""
    url = database_server.new_database(label)
    instance = tempfile.mkdtemp(prefix=f"cr_test_{label}_")
    app = camera_registry.create_app({"DATABASE_URL": url, "INSTANCE_PATH": instance, "SECRET_KEY": label, **config})
    try:
        yield app
    finally:
        app.extensions["engine"].dispose()
        database_server.drop_database(url)
        shutil.rmtree(instance, ignore_errors=True)


@contextmanager
def served(app: Flask) -> Iterator[str]:
    """The app answering on a free port of 127.0.0.1 from threads of its own, as in production: its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
