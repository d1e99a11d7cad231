"""`camera-registry ...`: the Flask CLI group with the project's own commands."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from . import migrate


def _engine():
    return current_app.extensions["engine"]


def _session():
    return current_app.extensions["session_factory"]()


@click.group()
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


@click.group()
def sample() -> None:
    """Sample data: the bundled demo and the city-scale generator."""


@sample.command("load")
@click.argument("directory", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--if-empty", is_flag=True, help="Do nothing when the registry already holds data.")
@with_appcontext
def sample_load(directory: Path | None, if_empty: bool) -> None:
    """Load DIRECTORY (default: the bundled sample) into an empty registry."""
    from .services import sample as datasets

    with _session() as session:
        if if_empty and not datasets.registry_is_empty(session):
            click.echo("registry already holds data; sample not loaded")
            return
        try:
            with click.progressbar(length=0, label="loading", show_pos=True) as bar:
                def progress(stage: str, count: int) -> None:
                    bar.label = stage
                    bar.pos = count
                    bar.render_progress()

                report = datasets.load_dataset(session, directory or datasets.BUNDLED_SAMPLE, progress)
            session.commit()
        except datasets.DatasetError as error:
            session.rollback()
            raise click.ClickException(str(error)) from None
    click.echo(
        f"loaded {report.admin_units} admin units, {report.sites} sites, {report.owners} owners, "
        f"{report.recorders} recorders, {report.lenses} lenses, {report.commitments} commitments"
    )


@sample.command("generate")
@click.option("--lenses", type=click.IntRange(min=1), default=55_000, show_default=True)
@click.option("--communes", type=click.IntRange(min=1), default=126, show_default=True)
@click.option("--sites", type=click.IntRange(min=1), default=265, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory to write the dataset to (created if missing).")
def sample_generate(lenses: int, communes: int, sites: int, seed: int, out_dir: Path) -> None:
    """Write a deterministic city-scale dataset for benchmarks."""
    from .services.sample_generator import generate_city

    counts = generate_city(out_dir, lenses=lenses, communes=communes, sites=sites, seed=seed)
    click.echo(
        f"wrote {counts.communes} communes, {counts.sites} sites, {counts.owners} owners, "
        f"{counts.recorders} recorders, {counts.lenses} lenses to {out_dir}"
    )


@click.group("admin-units")
def admin_units() -> None:
    """Administrative units and their boundaries."""


@admin_units.command("reassign")
@with_appcontext
def admin_units_reassign() -> None:
    """Re-derive every recorder's and lens's commune after boundaries change."""
    from .services.registry import reassign_communes

    with _session() as session:
        report = reassign_communes(session)
        session.commit()
    click.echo(
        f"{report.recorders_changed} recorders and {report.lenses_changed} lenses moved to another commune; "
        f"{report.outside_any_commune} lie outside every current commune"
    )


def init_app(app: Flask) -> None:
    for group in (db, sample, admin_units):
        app.cli.add_command(group)


def main() -> None:
    """The `camera-registry` console script: Flask's CLI with the app already chosen."""
    from . import create_app

    cli = FlaskGroup(create_app=create_app, help="Camera registry administration.")
    try:
        cli.main(prog_name="camera-registry")
    except Exception as exc:  # noqa: BLE001 - one readable line instead of a traceback
        from .db import SpatiaLiteMissing

        if isinstance(exc, SpatiaLiteMissing):
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        raise
