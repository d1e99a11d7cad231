"""`camera-registry ...`: the Flask CLI group with the project's own commands."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from . import create_app, migrate


def _engine():
    return current_app.extensions["engine"]


def _session():
    return current_app.extensions["session_factory"]()


@click.group(cls=FlaskGroup, create_app=create_app)
def cli() -> None:
    """Camera registry administration."""


@cli.group()
def db() -> None:
    """Database schema (Alembic migrations, both backends)."""


@db.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    migrate.upgrade(_engine(), revision)
    click.echo(f"database at {revision}")


@db.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION."""
    migrate.downgrade(_engine(), revision)


@db.command("revision")
@click.option("-m", "--message", required=True)
@with_appcontext
def db_revision(message: str) -> None:
    """Autogenerate a revision from the models. Read it before committing."""
    migrate.revision(_engine(), message)


def main() -> None:
    try:
        cli.main(prog_name="camera-registry")
    except Exception as exc:  # noqa: BLE001 - one readable line instead of a traceback
        from .db import SpatiaLiteMissing

        if isinstance(exc, SpatiaLiteMissing):
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        raise
