"""Owners reached by Zalo ZNS and SMS brandname (issue 13): the outbox's new channels and states, what a
provider's receipt said, which message a fallback replaces, and each owner's Zalo flag and preferences.

The outbox's channel and status CHECKs take the new values (and status grows to 9 characters): PostgreSQL
alters them in place; SQLite cannot alter a constraint, so outbox_messages (no geometry column) is rebuilt in
batch mode with the new CHECKs. The owners' new enum column carries its CHECK in the column itself (see 0009).
No audit row is touched: the trail is append-only (0007).

Revision ID: 0010
Revises: 0009
Create Date: 2027-01-05 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

#: models/notification.py Channel and MessageStatus, by value, before and after.
OLD_CHANNELS = ("webhook", "email")
CHANNELS = (*OLD_CHANNELS, "zns", "sms")
OLD_STATUSES = ("pending", "sent", "dead")
STATUSES = (*OLD_STATUSES, "delivered", "failed")


def _values(values) -> str:
    return ", ".join(f"'{value}'" for value in values)


def _outbox_enums(channels, statuses, status_length: int) -> None:
    """Give the outbox's channel and status columns these values (and the status column this length)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE outbox_messages ALTER COLUMN status TYPE VARCHAR({status_length})")
        for column, constraint, values in (("channel", "channel", channels), ("status", "messagestatus", statuses)):
            op.execute(f"ALTER TABLE outbox_messages DROP CONSTRAINT ck_outbox_messages_{constraint}")
            op.execute(
                f"ALTER TABLE outbox_messages ADD CONSTRAINT ck_outbox_messages_{constraint} "
                f"CHECK ({column} IN ({_values(values)}))"
            )
        return
    with op.batch_alter_table("outbox_messages", recreate="always") as batch:
        batch.alter_column(
            "channel",
            existing_type=sa.String(7),
            type_=sa.Enum(*channels, name="channel", native_enum=False, create_constraint=True, length=7),
            existing_nullable=False,
        )
        batch.alter_column(
            "status",
            existing_type=sa.String(),
            type_=sa.Enum(
                *statuses, name="messagestatus", native_enum=False, create_constraint=True, length=status_length
            ),
            existing_nullable=False,
        )


def upgrade() -> None:
    _outbox_enums(CHANNELS, STATUSES, 9)
    op.add_column("outbox_messages", sa.Column("provider", sa.String(length=16), nullable=True))
    op.add_column("outbox_messages", sa.Column("provider_message_id", sa.String(length=100), nullable=True))
    op.add_column("outbox_messages", sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("outbox_messages", sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("outbox_messages", sa.Column("receipt_detail", sa.Text(), nullable=True))
    # SQLite takes a REFERENCES clause in ADD COLUMN, not a separate constraint: written in the column, named.
    op.execute(
        "ALTER TABLE outbox_messages ADD COLUMN falls_back_from_id INTEGER "
        "CONSTRAINT fk_outbox_messages_falls_back_from_id_outbox_messages REFERENCES outbox_messages (id)"
    )
    op.create_index("ix_outbox_messages_provider_message_id", "outbox_messages", ["provider_message_id"])
    op.create_index("ix_outbox_messages_falls_back_from_id", "outbox_messages", ["falls_back_from_id"])
    op.add_column("owners", sa.Column("zalo", sa.Boolean(), server_default=sa.true(), nullable=False))
    op.execute(
        "ALTER TABLE owners ADD COLUMN preferred_channel VARCHAR(7) "
        f"CONSTRAINT ck_owners_channel CHECK (preferred_channel IN ({_values(CHANNELS)}))"
    )
    op.add_column("owners", sa.Column("non_urgent_opt_out", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    # Messages in a new state or on a new channel cannot be kept under the old CHECKs: they are removed, after
    # the fallbacks that name them.
    op.execute("UPDATE outbox_messages SET falls_back_from_id = NULL")
    op.execute(
        f"DELETE FROM outbox_messages WHERE channel NOT IN ({_values(OLD_CHANNELS)}) "
        f"OR status NOT IN ({_values(OLD_STATUSES)})"
    )
    for column in ("non_urgent_opt_out", "preferred_channel", "zalo"):
        op.drop_column("owners", column)
    op.drop_index("ix_outbox_messages_falls_back_from_id", "outbox_messages")
    op.drop_index("ix_outbox_messages_provider_message_id", "outbox_messages")
    with op.batch_alter_table("outbox_messages") as batch:
        for column in ("falls_back_from_id", "receipt_detail", "failed_at", "delivered_at", "provider_message_id"):
            batch.drop_column(column)
        batch.drop_column("provider")
    _outbox_enums(OLD_CHANNELS, OLD_STATUSES, 7)
