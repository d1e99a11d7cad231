"""`camera-registry roads ...` and `camera-registry coverage ...`: the road layer, and how much of each commune
the lenses see."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..models.base import utcnow
from ..services.commune_coverage import recompute_coverage, refresh_coverage
from ..services.roads import clear_roads, load_roads
from .console import committing_session


def _said(counts) -> str:
    return ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in sorted(counts.items())) or "nothing to do"


@click.group()
def roads() -> None:
    """The road layer coverage measures road length against."""


@roads.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Remove every road loaded before, in the same transaction.")
@click.option("--source", help="What the roads are (an extract's name and date); the file's name by default.")
@with_appcontext
def roads_load(path: Path, replace: bool, source: str | None) -> None:
    """Load the lines of a GeoJSON FeatureCollection (LineString, MultiLineString; properties name and highway
    kept). A refused feature is named by its index and nothing is written."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise click.ClickException(f"{path} is not a GeoJSON file: {error}") from None
    with committing_session() as session:
        counts = load_roads(session, document, source or path.name, utcnow(), replace=replace)
    click.echo(_said(counts))


@roads.command("clear")
@with_appcontext
def roads_clear() -> None:
    """Remove the whole road layer."""
    with committing_session() as session:
        counts = clear_roads(session)
    click.echo(_said(counts))


@click.group()
def coverage() -> None:
    """How much of each commune the active and the shared lenses see."""


@coverage.command("refresh")
@click.option("--all", "everything", is_flag=True, help="Recompute every commune, not only those marked stale.")
@with_appcontext
def coverage_refresh(everything: bool) -> None:
    """Recompute the communes a change touched (what the scheduler does every minute), or --all of them."""
    sessions = current_app.extensions["session_factory"]
    now = utcnow()
    counts = recompute_coverage(sessions, None, now) if everything else refresh_coverage(sessions, now)
    click.echo(_said(counts))
