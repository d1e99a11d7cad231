"""A breach record for tests that walk every page (tests/test_translations.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from camera_registry.models import Breach, Owner, User


def recorded_breach(session, admin: User) -> int:
    """A committed record of the world's owner A, its description only digits so it reads in any language."""
    owner = session.scalar(select(Owner).where(Owner.external_id == "owner-a"))
    breach = Breach(
        description="2026-11-30 / 0001",
        discovered_at=datetime(2026, 11, 30, 2, 0, tzinfo=UTC),
        recorded_by=admin,
        data_categories=["owner_contacts"],
        owners=[owner],
        affected_count=1,
    )
    session.add(breach)
    session.commit()
    return breach.id
