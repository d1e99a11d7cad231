"""Declarative base and the column types every aggregate shares."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from geoalchemy2 import Geometry
from sqlalchemy import DateTime, Enum, MetaData, TypeDecorator
from sqlalchemy.orm import DeclarativeBase

WGS84 = 4326

# Stable constraint names so Alembic revisions are the same on both backends.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator):
    """Times are stored in UTC and shown in Asia/Ho_Chi_Minh.

    SQLite keeps no offset, so values come back naive there; this type hands
    out aware UTC datetimes on both backends and refuses naive input, which
    would otherwise be read as server-local time on PostgreSQL.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime (UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def point_column() -> Geometry:
    return Geometry("POINT", srid=WGS84, spatial_index=True)


def enum_column(enum_class: type[enum.Enum]) -> Enum:
    """A portable enum: VARCHAR plus CHECK on both backends, stored by value."""
    return Enum(
        enum_class,
        native_enum=False,
        create_constraint=True,
        length=max(len(member.value) for member in enum_class),
        values_callable=lambda members: [member.value for member in members],
        name=enum_class.__name__.lower(),
        validate_strings=True,
    )
