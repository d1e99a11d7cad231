"""Paging and reach filters shared by every registry list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import ColumnElement, Select, false, func, select, true
from sqlalchemy.orm import Session

from .access import Actor

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int


def page_of(session: Session, statement: Select, page: int, page_size: int) -> Page:
    """One page of `statement`'s entities and the count of all of them."""
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    items = list(session.scalars(statement.limit(page_size).offset((page - 1) * page_size)))
    return Page(items, total)


def readable(actor: Actor, commune_column) -> ColumnElement[bool]:
    """Rows whose commune the actor may read."""
    if actor.readable_communes is None:
        return true()
    if not actor.readable_communes:
        return false()
    return commune_column.in_(sorted(actor.readable_communes))
