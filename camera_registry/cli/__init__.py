"""`camera-registry ...`: the Flask CLI group with the project's own commands, one module per command group."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import FlaskGroup

from . import accounts, commitments, coverage, database, evidence, groups, operations, registry, sample


def init_app(app: Flask) -> None:
    for command in (
        database.db,
        sample.sample,
        registry.admin_units,
        registry.owners,
        accounts.users,
        accounts.tokens,
        groups.groups,
        registry.import_register,
        operations.scheduler,
        operations.backup_command,
        operations.restore_command,
        evidence.evidence,
        commitments.commitments,
        coverage.roads,
        coverage.coverage,
    ):
        app.cli.add_command(command)


def main() -> None:
    """The `camera-registry` console script: Flask's CLI with the app already chosen."""
    from .. import create_app

    cli = FlaskGroup(create_app=create_app, help="Camera registry administration.")
    try:
        cli.main(prog_name="camera-registry")
    except Exception as exc:  # noqa: BLE001 - one readable line instead of a traceback
        from ..db import SpatiaLiteMissing

        if isinstance(exc, SpatiaLiteMissing):
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        raise
