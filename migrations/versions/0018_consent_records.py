"""Consent records (issue 17): one row per consent an owner gave or withdrew, with the notice they agreed to
(versioned, in full, with its SHA-256), the channel, the time, and for the web the link and the device facts.

One new table, no change to existing ones (the owners and commitments tables and their figures' triggers stay
as 0014 made them).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 23:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

PURPOSES = ("commitment_signed", "commitment_renewed", "commitment_withdrawn", "footage_handover_agreed")
CHANNELS = ("paper", "web_link", "on_site", "phone")
#: Each reference: (column, table it points at).
REFERENCES = (
    ("owner_id", "owners"),
    ("commitment_text_id", "commitment_texts"),
    ("commitment_id", "sharing_commitments"),
    ("assignment_id", "assignments"),
    ("owner_link_id", "owner_links"),
    ("recorded_by_user_id", "users"),
    ("import_job_id", "import_jobs"),
)
INDEXED = ("owner_id", "commitment_id", "assignment_id")


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=max(map(len, values)))


def upgrade() -> None:
    op.create_table(
        "consent_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("purpose", _enum(PURPOSES, "consentpurpose"), nullable=False),
        sa.Column("channel", _enum(CHANNELS, "consentchannel"), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notice_version", sa.String(length=32), nullable=False),
        sa.Column("notice_text", sa.Text(), nullable=True),
        sa.Column("notice_sha256", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("commitment_text_id", sa.Integer(), nullable=True),
        sa.Column("commitment_id", sa.Integer(), nullable=True),
        sa.Column("assignment_id", sa.Integer(), nullable=True),
        sa.Column("owner_link_id", sa.Integer(), nullable=True),
        sa.Column("user_agent", sa.String(length=255), nullable=True),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("accept_language", sa.String(length=64), nullable=True),
        sa.Column("recorded_by_user_id", sa.Integer(), nullable=True),
        sa.Column("import_job_id", sa.Integer(), nullable=True),
        *(
            sa.ForeignKeyConstraint([column], [f"{table}.id"], name=op.f(f"fk_consent_records_{column}_{table}"))
            for column, table in REFERENCES
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
    )
    for column in INDEXED:
        op.create_index(f"ix_consent_records_{column}", "consent_records", [column], unique=False)


def downgrade() -> None:
    for column in reversed(INDEXED):
        op.drop_index(f"ix_consent_records_{column}", table_name="consent_records")
    op.drop_table("consent_records")
