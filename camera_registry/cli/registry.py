"""Commands on the registry's data: loading an edition of the administrative units, re-deriving communes after
boundaries change, normalising owners' stored phones, and importing a register."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..services.access import SYSTEM
from .console import domain_errors, open_session, table


@click.group("admin-units")
def admin_units() -> None:
    """Administrative units and their boundaries."""


def _effective_day(ctx, param, value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2026-04-30") from None


@admin_units.command("load")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--effective", required=True, callback=_effective_day, help="The day the edition takes effect.")
@click.option("--provinces", help="Load only these provinces, by code (01,25); the others are left as they are.")
@click.option("--dry-run", is_flag=True, help="Report what the edition would change; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_appcontext
def admin_units_load(path: Path | None, effective: date, provinces: str | None, dry_run: bool, as_json: bool) -> None:
    """Load an edition of the administrative units (PATH: a statistics-office directory or a GeoJSON file; the
    bundled edition by default) in force from --effective, and move what its changes touch."""
    from ..services.editions import BUNDLED_EDITION, EditionError, load_edition, read_edition

    wanted = [code.strip() for code in provinces.split(",") if code.strip()] if provinces else None
    try:
        edition = read_edition(path or BUNDLED_EDITION, provinces=wanted)
        with open_session() as session, domain_errors():
            report = load_edition(session, edition, effective, SYSTEM, dry_run=dry_run, provinces=wanted)
            session.commit()
    except EditionError as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(report), ensure_ascii=False, indent=2, default=str))
        return
    click.echo(_edition_summary(edition.source, report))


#: Up to this many opened or closed codes are listed by name; a first load's thousands only counted.
SHOWN_CODES = 30


def _edition_summary(source: Path, report) -> str:
    """The report as the terminal shows it: counts first, then one table per kind of change that happened."""
    lines = [
        f"{source.name} in force from {report.effective}" + (" (dry run: nothing written)" if report.dry_run else ""),
        f"{len(report.opened)} units opened, {len(report.closed)} closed, {report.unchanged} unchanged",
    ]
    for title, codes in (("opened", report.opened), ("closed", report.closed)):
        if 0 < len(codes) <= SHOWN_CODES:
            lines.append(f"{title}: {', '.join(codes)}")
    sections = (
        ("renamed", ("code", "name before", "name after"), report.renamed),
        ("merged", ("into", "from"), [(into, ", ".join(codes)) for into, codes in report.merged.items()]),
        ("moved", ("records", "from", "to", "count"), [dataclasses.astuple(move) for move in report.moves]),
        (
            "staff rebound",
            ("user", "from", "to"),
            [(b.username, b.closed, ", ".join(b.successors)) for b in report.users_rebound],
        ),
        (
            "staff needing an administrator (bound to a closed unit with several successors, or none)",
            ("user", "bound to", "successors"),
            [(b.username, b.closed, ", ".join(b.successors) or "none") for b in report.users_needing_admin],
        ),
        (
            "supervision groups carried over",
            ("group", "communes replaced", "staff"),
            [
                (g.code, ", ".join(f"{old} -> {'/'.join(new)}" for old, new in g.replaced.items()), g.users)
                for g in report.groups
            ],
        ),
    )
    for title, headers, rows in sections:
        if rows:
            lines += ["", f"{title}:", table(headers, rows)]
    return "\n".join(lines)


@admin_units.command("reassign")
@with_appcontext
def admin_units_reassign() -> None:
    """Re-derive every recorder's and lens's commune after boundaries change."""
    from ..services.registry import reassign_communes

    with open_session() as session:
        report = reassign_communes(session)
        session.commit()
    click.echo(
        f"{report.recorders_changed} recorders and {report.lenses_changed} lenses moved to another commune; "
        f"{report.outside_any_commune} lie outside every current commune"
    )


@click.group("owners")
def owners() -> None:
    """Camera owners."""


@owners.command("normalise-phones")
@with_appcontext
def owners_normalise_phones() -> None:
    """Rewrite owners' phones stored as typed as 84XXXXXXXXX, in batches. Lists the owners whose number is not a
    Vietnamese mobile one (id and reason; their phone stays as it is) and then exits 1."""
    from ..services.owners import normalise_stored_phones

    found = normalise_stored_phones(current_app.extensions["session_factory"], SYSTEM)
    click.echo(f"{len(found.normalised)} owners' phones normalised")
    if not found.refused:
        return
    click.echo(table(("owner id", "reason"), sorted(found.refused.items())))
    click.echo(f"{len(found.refused)} owners' phones are not Vietnamese mobile numbers; correct them by hand")
    click.get_current_context().exit(1)


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file and report what it would change; write nothing.")
@with_appcontext
def import_register(file: Path, dry_run: bool) -> None:
    """Import a commune register FILE (.csv, .xlsx or .geojson; one row per lens) into any commune.

    Nothing is written unless every row is acceptable; otherwise every error
    is listed as "row N, column C: reason" and the exit status is 1.
    """
    from ..services import imports
    from ..services.upload_limits import UploadLimits

    with open_session() as session, domain_errors():
        with click.progressbar(length=0, label="rows", show_pos=True) as bar:

            def progress(done: int, total: int) -> None:
                bar.length = total
                bar.update(done - bar.pos)

            report = imports.import_register(
                session,
                file,
                file.name,
                actor=SYSTEM,
                dry_run=dry_run,
                progress=progress,
                limits=UploadLimits.from_config(current_app.config),
            )
        if report.ok and not dry_run:
            session.commit()
    click.echo(f"{file.name}: {report.rows} rows" + (" (dry run: nothing written)" if dry_run else ""))
    click.echo(
        table(
            ("records", "created", "updated", "unchanged"),
            [
                (name, counts["created"], counts["updated"], counts["unchanged"])
                for name, counts in report.counts().items()
            ],
        )
    )
    if report.ok:
        return
    for error in report.errors:
        click.echo(str(error))
    if report.errors_not_listed:
        click.echo(f"... and {report.errors_not_listed} more errors")
    click.echo(f"{report.error_count} errors: nothing was imported")
    click.get_current_context().exit(1)
