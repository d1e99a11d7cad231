"""`camera-registry groups ...`: supervision groups of communes, defined and versioned as the system."""

from __future__ import annotations

from datetime import date, datetime

import click
from flask.cli import with_appcontext

from ..services import supervision
from ..services.access import SYSTEM
from .console import committing_session, domain_errors, open_session, table

DAY = click.DateTime(formats=["%Y-%m-%d"])


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


def _codes(value: str) -> list[str]:
    return [code.strip() for code in value.split(",") if code.strip()]


@click.group()
def groups() -> None:
    """Supervision groups: the communes a member of staff oversees since districts were removed."""


@groups.command("create")
@click.option("--code", required=True, help="The group's code, e.g. HN-TT.")
@click.option("--name", required=True, help="The group's name, e.g. 'Cụm phường trung tâm'.")
@click.option("--province", "province_code", required=True, help="Code of the province its communes are in.")
@click.option("--communes", required=True, help="Comma-separated codes of current communes of that province.")
@click.option("--from", "valid_from", type=DAY, help="First day in force (YYYY-MM-DD); default today.")
@with_appcontext
def groups_create(code: str, name: str, province_code: str, communes: str, valid_from: datetime | None) -> None:
    """Define a supervision group."""
    with committing_session() as session:
        group = supervision.create_group(
            session,
            SYSTEM,
            code=code,
            name=name,
            province_code=province_code,
            commune_codes=_codes(communes),
            valid_from=_day(valid_from),
        )
        summary = f"created supervision group {group.code} ({group.name}) with {len(group.communes)} communes"
    click.echo(summary)


@groups.command("set-communes")
@click.argument("code")
@click.option("--communes", required=True, help="Comma-separated codes of the group's communes from now on.")
@click.option("--effective", type=DAY, help="The day the new communes take effect (YYYY-MM-DD); default today.")
@with_appcontext
def groups_set_communes(code: str, communes: str, effective: datetime | None) -> None:
    """Give group CODE new communes: its current version closes on the effective day and the next opens."""
    with committing_session() as session:
        group = supervision.set_group_communes(session, SYSTEM, code, _codes(communes), _day(effective))
        summary = f"supervision group {code} has {len(group.communes)} communes from {group.valid_from.isoformat()}"
    click.echo(summary)


@groups.command("close")
@click.argument("code")
@click.option("--effective", type=DAY, help="The first day the group is no longer in force; default today.")
@with_appcontext
def groups_close(code: str, effective: datetime | None) -> None:
    """Close group CODE; staff bound to it keep its communes as a historic, read-only reach."""
    with committing_session() as session:
        group = supervision.close_group(session, SYSTEM, code, _day(effective))
        summary = f"supervision group {code} closed from {group.valid_to.isoformat()}"
    click.echo(summary)


@groups.command("list")
@click.option("--on", type=DAY, help="The groups in force on this day (YYYY-MM-DD); default today.")
@click.option("--province", "province_code", help="Only the groups of this province.")
@with_appcontext
def groups_list(on: datetime | None, province_code: str | None) -> None:
    """The groups in force, with their communes."""
    with open_session() as session, domain_errors():
        rows = [
            (
                group.code,
                group.name,
                group.province.code,
                group.valid_from.isoformat() if group.valid_from else "",
                ", ".join(commune.code for commune in group.communes),
            )
            for group in supervision.list_groups(session, _day(on), province_code)
        ]
    click.echo(table(("code", "name", "province", "from", "communes"), rows))
