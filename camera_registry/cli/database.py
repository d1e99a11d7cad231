"""`camera-registry db ...`: the schema's Alembic migrations, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from .. import migrate
from .console import app_engine
from .operations import backup_or_fail


@click.group()
def db() -> None:
    """Database schema (Alembic migrations, both backends)."""


@db.command("upgrade")
@click.argument("revision", default="head")
@click.option(
    "--backup",
    "take_backup",
    is_flag=True,
    help="Back up first (into BACKUP_DIR, else <instance>/backups) when there is a migration to run.",
)
@with_appcontext
def db_upgrade(revision: str, take_backup: bool) -> None:
    """Apply migrations up to REVISION (default: head). Refused when a newer release migrated the database."""
    engine = app_engine()
    try:
        pending = migrate.pending_upgrade(engine, revision)
    except migrate.UnknownRevision as error:
        raise click.ClickException(str(error)) from None
    if pending and take_backup:
        directory = Path(current_app.config.get("BACKUP_DIR") or Path(current_app.instance_path) / "backups")
        current = "-".join(migrate.current_revisions(engine)) or "empty"
        dest = directory / f"pre-upgrade-{current}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
        manifest = backup_or_fail(dest)
        if manifest.problems:
            raise click.ClickException(f"the backup in {dest} reported problems; not migrating (see above)")
    migrate.upgrade(engine, revision)
    click.echo(f"database at {revision}")


@db.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION."""
    migrate.downgrade(app_engine(), revision)


@db.command("revision")
@click.option("-m", "--message", required=True)
@with_appcontext
def db_revision(message: str) -> None:
    """Autogenerate a revision from the models. Read it before committing."""
    migrate.revision(app_engine(), message)
