"""What every command shares: the app's database, and refusals and tables as the terminal shows them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import click
from flask import current_app
from sqlalchemy.orm import Session

from ..services.errors import DomainError


def app_engine():
    return current_app.extensions["engine"]


def open_session():
    return current_app.extensions["session_factory"]()


@contextmanager
def domain_errors() -> Iterator[None]:
    """A refused command exits non-zero with one line naming each field and the reason."""
    try:
        yield
    except DomainError as error:
        reasons = "; ".join(f"{field}: {' '.join(why)}" for field, why in error.errors.items())
        raise click.ClickException(f"{error.message} ({reasons})" if reasons else error.message) from None


@contextmanager
def committing_session() -> Iterator[Session]:
    """A session for one change the command makes, committed when the block ends without a refusal (domain_errors)."""
    with open_session() as session, domain_errors():
        yield session
        session.commit()


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Aligned plain-text columns, for the terminal and the demo-credentials file."""
    cells = [list(headers)] + [["" if value is None else str(value) for value in row] for row in rows]
    widths = [max(len(line[column]) for line in cells) for column in range(len(headers))]
    return "\n".join("  ".join(value.ljust(width) for value, width in zip(line, widths)).rstrip() for line in cells)


def when(moment: datetime | None, absent: str = "") -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else absent
