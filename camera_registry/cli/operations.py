"""Running the service: backups, restores and the scheduled jobs."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext


def backup_or_fail(dest: Path):
    """Back up the app's database and files into DEST, printing what was written and any problem."""
    from ..services import backup as backups

    try:
        manifest = backups.backup(backups.BackupSources.from_config(current_app.config), dest)
    except backups.BackupError as error:
        raise click.ClickException(f"backup failed: {error}") from None
    click.echo(
        f"backed up the {manifest.backend} database at revision {', '.join(manifest.revisions) or 'none'}: "
        f"{len(manifest.tables)} tables, {sum(manifest.tables.values())} rows; {len(manifest.files)} files, "
        f"{manifest.total_bytes} bytes, {manifest.clips_checked} clips checked, in {manifest.seconds:.1f} s, "
        f"to {dest}"
    )
    for problem in manifest.problems:
        click.echo(f"problem: {problem}", err=True)
    return manifest


@click.command("backup")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--verify", is_flag=True, help="Then restore it into a scratch database and compare every table.")
@with_appcontext
def backup_command(dest: Path, verify: bool) -> None:
    """Back up the database (online: the service may keep running), the clips and the evidence signing key
    into the new directory DEST, with a manifest of row counts and SHA-256s. Exits 1 on any problem."""
    from ..services import backup as backups

    manifest = backup_or_fail(dest)
    if verify:
        try:
            report = backups.verify(dest, current_app.config["DATABASE_URL"])
        except backups.BackupError as error:
            raise click.ClickException(f"verification failed: {error}") from None
        click.echo(
            f"verified: restored into a scratch database, {len(report.tables)} tables and "
            f"{sum(report.tables.values())} rows match the manifest, {report.files} files match their SHA-256"
        )
    if manifest.problems:
        raise click.ClickException(f"{len(manifest.problems)} problems (listed above)")


@click.command("restore")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--into", "into_url", help="Database URL to restore into (default: DATABASE_URL). It must be empty.")
@click.option(
    "--clips-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the clips go (default: the configured clip store).",
)
@click.option(
    "--signing-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the evidence signing key goes (default: the configured path).",
)
@with_appcontext
def restore_command(src: Path, into_url: str | None, clips_dir: Path | None, signing_key: Path | None) -> None:
    """Restore the backup in SRC into an empty database, checking every file's SHA-256 first and every table's
    row count after. Stop the web service and the scheduler of the target first."""
    from ..services import backup as backups

    sources = backups.BackupSources.from_config(current_app.config)
    target = into_url or current_app.config["DATABASE_URL"]
    try:
        report = backups.restore(
            src, target, clip_dir=clips_dir or sources.clip_dir, signing_key=signing_key or sources.signing_key
        )
    except backups.BackupError as error:
        raise click.ClickException(f"restore failed: {error}") from None
    click.echo(
        f"restored {src}: {len(report.tables)} tables, {sum(report.tables.values())} rows match the manifest; "
        f"{report.files} files in place ({report.clips_in_place} were already there)"
    )


@click.command("scheduler")
@with_appcontext
def scheduler() -> None:
    """Run the scheduled jobs in the foreground, logging to stdout: outbox delivery, reminders,
    escalation, expiry and renewal invitations. Several may run; one holds the lease and works."""
    from ..jobs import run_scheduler
    from ..services.notifications import NotificationSettings

    run_scheduler(current_app.extensions["session_factory"], NotificationSettings.from_config(current_app.config))
