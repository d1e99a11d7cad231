"""Safe upgrades (migrate.py, `camera-registry db upgrade [--backup]`), on the run's backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from database_support import app_of_its_own
from sqlalchemy import text

from camera_registry import migrate
from camera_registry.db import make_engine
from camera_registry.services import backup as backups


@pytest.fixture()
def fresh(database_server):
    """An app on an empty database of its own, backing up into its instance folder."""
    with app_of_its_own(database_server, "upgrade", TESTING=True) as app:
        instance = Path(app.instance_path)
        app.config["BACKUP_DIR"] = str(instance / "backups")
        yield app, app.extensions["engine"], instance


def previous_revision() -> str:
    [head] = migrate.head_revisions()
    return migrate.script_directory().get_revision(head).down_revision


def test_a_database_a_newer_release_migrated_is_refused(fresh):
    app, engine, _ = fresh
    migrate.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099_from_a_newer_release'"))
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 1
    assert "the database is at revision 0099_from_a_newer_release, which this release does not know" in result.output
    assert "a newer release migrated it" in result.output
    with pytest.raises(migrate.UnknownRevision):
        migrate.upgrade(engine)
    assert migrate.current_revisions(engine) == ("0099_from_a_newer_release",)  # untouched


def test_upgrade_with_backup_backs_up_first_and_only_when_there_is_a_migration(fresh):
    app, engine, instance = fresh
    before = previous_revision()
    migrate.upgrade(engine, before)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade", "--backup"])
    assert result.exit_code == 0, result.output
    [taken] = list((instance / "backups").iterdir())
    assert taken.name.startswith(f"pre-upgrade-{before}-")
    assert backups.Manifest.read(taken).revisions == [before]  # the state before the migration
    assert set(migrate.current_revisions(engine)) == set(migrate.head_revisions())
    assert "backed up the" in result.output and "database at head" in result.output

    again = runner.invoke(args=["db", "upgrade", "--backup"])
    assert again.exit_code == 0 and len(list((instance / "backups").iterdir())) == 1  # nothing to migrate: no backup


def test_pending_upgrade(fresh):
    _, engine, _ = fresh
    assert migrate.pending_upgrade(engine)  # never migrated
    migrate.upgrade(engine, previous_revision())
    assert migrate.pending_upgrade(engine) and not migrate.pending_upgrade(engine, previous_revision())
    migrate.upgrade(engine)
    assert not migrate.pending_upgrade(engine)


def test_an_empty_database_upgrades_as_before(fresh):
    app, engine, _ = fresh
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0 and "database at head" in result.output
    engine2 = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        assert set(migrate.current_revisions(engine2)) == set(migrate.head_revisions())
    finally:
        engine2.dispose()
