"""Issue 16 item 2: per-commune figures kept as a summary, and boundaries stored simplified per zoom.

commune_figures holds each commune's registry counts; commune_figure_marks the communes a write touched since.
Triggers write the marks in the writer's own transaction, whatever the path (the ORM, the bulk writer's COPY
and executemany, the editions' moves): one per statement and commune on PostgreSQL (transition tables), one per
row on SQLite. commune_shapes holds each boundary simplified for each whole zoom as GeoJSON text; a trigger
deletes a commune's shapes when its boundary changes. Both are filled by the scheduler
(services/commune_figures.py); readers count whatever is marked or missing themselves.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 19:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

#: table -> (its columns the marks read, the communes a write of rows `{rows}` (alias r) touches)
TOUCHED = {
    "lenses": (("commune_id",), "SELECT r.commune_id FROM {rows} r"),
    # A recorder changing owner changes which of its lenses are shared.
    "recorders": (
        ("id", "commune_id"),
        "SELECT r.commune_id FROM {rows} r "
        "UNION SELECT l.commune_id FROM lenses l JOIN {rows} r ON l.recorder_id = r.id",
    ),
    "owners": (("commune_id",), "SELECT r.commune_id FROM {rows} r"),
    "sites": (("commune_id",), "SELECT r.commune_id FROM {rows} r"),
    "sharing_commitments": (
        ("owner_id",),
        "SELECT l.commune_id FROM {rows} r JOIN recorders d ON d.owner_id = r.owner_id "
        "JOIN lenses l ON l.recorder_id = d.id",
    ),
    "commitment_recorders": (
        ("recorder_id",),
        "SELECT l.commune_id FROM {rows} r JOIN lenses l ON l.recorder_id = r.recorder_id",
    ),
}
EVENTS = {"insert": ("new",), "update": ("old", "new"), "delete": ("old",)}


def _mark(touched: str, rows: str) -> str:
    return (
        "INSERT INTO commune_figure_marks (commune_id) SELECT DISTINCT commune_id FROM ("
        f"{touched.format(rows=rows)}) touched WHERE commune_id IS NOT NULL"
    )


def upgrade() -> None:
    op.create_table(
        "commune_figures",
        sa.Column("commune_id", sa.Integer(), autoincrement=False, nullable=False),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in (
                "lenses_active",
                "lenses_offline",
                "shared_active_lenses",
                "recorders",
                "owners_household",
                "owners_agency",
                "owners_business",
                "sites",
            )
        ),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("exact_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["commune_id"], ["admin_units.id"], name=op.f("fk_commune_figures_commune_id_admin_units")
        ),
        sa.PrimaryKeyConstraint("commune_id", name=op.f("pk_commune_figures")),
    )
    op.create_table(
        "commune_figure_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("commune_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commune_figure_marks")),
    )
    op.create_index("ix_commune_figure_marks_commune_id", "commune_figure_marks", ["commune_id"], unique=False)
    op.create_table(
        "commune_shapes",
        sa.Column("commune_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("zoom", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("geojson", sa.Text(), nullable=False),
        sa.Column("area_km2", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commune_id"], ["admin_units.id"], name=op.f("fk_commune_shapes_commune_id_admin_units")
        ),
        sa.PrimaryKeyConstraint("commune_id", "zoom", name=op.f("pk_commune_shapes")),
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgres_triggers()
    else:
        _sqlite_triggers()


def _postgres_triggers() -> None:
    for table, (_, touched) in TOUCHED.items():
        steps = "\n".join(
            f"IF TG_OP = '{event.upper()}' THEN {'; '.join(_mark(touched, f'{side}_rows') for side in sides)}; END IF;"
            for event, sides in EVENTS.items()
        )
        op.execute(f"""
            CREATE FUNCTION commune_marks_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                {steps}
                RETURN NULL;
            END
            $$""")
        for event, sides in EVENTS.items():
            referencing = " ".join(f"{side.upper()} TABLE AS {side}_rows" for side in sides)
            op.execute(
                f"CREATE TRIGGER commune_marks_{table}_{event} AFTER {event.upper()} ON {table} "
                f"REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION commune_marks_{table}()"
            )
    op.execute("""
        CREATE FUNCTION commune_shapes_redrawn() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM commune_shapes WHERE commune_id = NEW.id;
            RETURN NULL;
        END
        $$""")
    op.execute(
        "CREATE TRIGGER commune_shapes_redrawn AFTER UPDATE OF boundary ON admin_units "
        "FOR EACH ROW EXECUTE FUNCTION commune_shapes_redrawn()"
    )


def _sqlite_triggers() -> None:
    for table, (columns, touched) in TOUCHED.items():
        for event, sides in EVENTS.items():
            marks = "; ".join(
                _mark(touched, "(SELECT " + ", ".join(f"{side.upper()}.{c} AS {c}" for c in columns) + ")")
                for side in sides
            )
            op.execute(
                f"CREATE TRIGGER commune_marks_{table}_{event} AFTER {event.upper()} ON {table} BEGIN {marks}; END"
            )
    op.execute(
        "CREATE TRIGGER commune_shapes_redrawn AFTER UPDATE OF boundary ON admin_units "
        "BEGIN DELETE FROM commune_shapes WHERE commune_id = NEW.id; END"
    )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in TOUCHED:
        for event in EVENTS:
            op.execute(f"DROP TRIGGER commune_marks_{table}_{event}" + (f" ON {table}" if postgres else ""))
        if postgres:
            op.execute(f"DROP FUNCTION commune_marks_{table}()")
    op.execute("DROP TRIGGER commune_shapes_redrawn" + (" ON admin_units" if postgres else ""))
    if postgres:
        op.execute("DROP FUNCTION commune_shapes_redrawn()")
    op.drop_table("commune_shapes")
    op.drop_index("ix_commune_figure_marks_commune_id", table_name="commune_figure_marks")
    op.drop_table("commune_figure_marks")
    op.drop_table("commune_figures")
