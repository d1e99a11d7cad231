"""`camera-registry ...`: the Flask CLI group with the project's own commands."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from . import migrate
from .models import Role
from .services import accounts
from .services.access import SYSTEM
from .services.errors import DomainError

DEMO_CREDENTIALS_FILE = "demo-credentials.txt"


def _engine():
    return current_app.extensions["engine"]


def _session():
    return current_app.extensions["session_factory"]()


@contextmanager
def _domain_errors() -> Iterator[None]:
    """A refused command exits non-zero with one line naming each field and the reason."""
    try:
        yield
    except DomainError as error:
        reasons = "; ".join(f"{field}: {' '.join(why)}" for field, why in error.errors.items())
        raise click.ClickException(f"{error.message} ({reasons})" if reasons else error.message) from None


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Aligned plain-text columns, for the terminal and the demo-credentials file."""
    cells = [list(headers)] + [["" if value is None else str(value) for value in row] for row in rows]
    widths = [max(len(line[column]) for line in cells) for column in range(len(headers))]
    return "\n".join("  ".join(value.ljust(width) for value, width in zip(line, widths)).rstrip() for line in cells)


def _when(moment: datetime | None, absent: str = "") -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else absent


@click.group()
def db() -> None:
    """Database schema (Alembic migrations, both backends)."""


@db.command("upgrade")
@click.argument("revision", default="head")
@click.option(
    "--backup",
    "take_backup",
    is_flag=True,
    help="Back up first (into BACKUP_DIR, else <instance>/backups) when there is a migration to run.",
)
@with_appcontext
def db_upgrade(revision: str, take_backup: bool) -> None:
    """Apply migrations up to REVISION (default: head). Refused when a newer release migrated the database."""
    engine = _engine()
    try:
        pending = migrate.pending_upgrade(engine, revision)
    except migrate.UnknownRevision as error:
        raise click.ClickException(str(error)) from None
    if pending and take_backup:
        directory = Path(current_app.config.get("BACKUP_DIR") or Path(current_app.instance_path) / "backups")
        current = "-".join(migrate.current_revisions(engine)) or "empty"
        dest = directory / f"pre-upgrade-{current}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
        manifest = _backup_or_fail(dest)
        if manifest.problems:
            raise click.ClickException(f"the backup in {dest} reported problems; not migrating (see above)")
    migrate.upgrade(engine, revision)
    click.echo(f"database at {revision}")


@db.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION."""
    migrate.downgrade(_engine(), revision)


@db.command("revision")
@click.option("-m", "--message", required=True)
@with_appcontext
def db_revision(message: str) -> None:
    """Autogenerate a revision from the models. Read it before committing."""
    migrate.revision(_engine(), message)


@click.group()
def sample() -> None:
    """Sample data: the bundled demo and the city-scale generator."""


@sample.command("load")
@click.argument("directory", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--if-empty", is_flag=True, help="Do nothing when the registry already holds data.")
@with_appcontext
def sample_load(directory: Path | None, if_empty: bool) -> None:
    """Load DIRECTORY (default: the bundled sample) into an empty registry."""
    from .services import sample as datasets

    with _session() as session:
        if if_empty and not datasets.registry_is_empty(session):
            click.echo("registry already holds data; sample not loaded")
            credentials = Path(current_app.instance_path) / DEMO_CREDENTIALS_FILE
            if credentials.exists():
                click.echo(f"demo accounts, if you have not deactivated them: {credentials}")
            return
        try:
            with click.progressbar(length=0, label="loading", show_pos=True) as bar:

                def progress(stage: str, count: int) -> None:
                    bar.label = stage
                    bar.pos = count
                    bar.render_progress()

                report = datasets.load_dataset(session, directory or datasets.BUNDLED_SAMPLE, progress)
            demo_accounts = accounts.create_demo_accounts(session) if directory is None else []
            session.commit()
        except datasets.DatasetError as error:
            session.rollback()
            raise click.ClickException(str(error)) from None
    click.echo(
        f"loaded {report.admin_units} admin units, {report.sites} sites, {report.owners} owners, "
        f"{report.recorders} recorders, {report.lenses} lenses, {report.commitments} commitments"
    )
    if demo_accounts:
        _publish_demo_credentials(demo_accounts)


def _publish_demo_credentials(demo_accounts: list[accounts.DemoAccount]) -> None:
    """Show the demo logins once and keep them in a file only the installing user can read."""
    text = (
        "DEMO accounts for the bundled sample. Deactivate them before real use:\n"
        "  camera-registry users deactivate USERNAME\n\n"
        + _table(("username", "password", "role", "unit"), demo_accounts)
        + "\n"
    )
    path = Path(current_app.instance_path) / DEMO_CREDENTIALS_FILE
    path.touch(mode=0o600)
    path.chmod(0o600)  # also when the file was left by an earlier installation
    path.write_text(text, encoding="utf-8")
    click.echo(f"\n{text}(saved to {path}, readable only by you)")


@sample.command("generate")
@click.option("--lenses", type=click.IntRange(min=1), default=55_000, show_default=True)
@click.option("--communes", type=click.IntRange(min=1), default=126, show_default=True)
@click.option("--sites", type=click.IntRange(min=1), default=265, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory to write the dataset to (created if missing).",
)
def sample_generate(lenses: int, communes: int, sites: int, seed: int, out_dir: Path) -> None:
    """Write a deterministic city-scale dataset for benchmarks."""
    from .services.sample_generator import generate_city

    counts = generate_city(out_dir, lenses=lenses, communes=communes, sites=sites, seed=seed)
    click.echo(
        f"wrote {counts.communes} communes, {counts.sites} sites, {counts.owners} owners, "
        f"{counts.recorders} recorders, {counts.lenses} lenses to {out_dir}"
    )


@click.group("admin-units")
def admin_units() -> None:
    """Administrative units and their boundaries."""


@admin_units.command("reassign")
@with_appcontext
def admin_units_reassign() -> None:
    """Re-derive every recorder's and lens's commune after boundaries change."""
    from .services.registry import reassign_communes

    with _session() as session:
        report = reassign_communes(session)
        session.commit()
    click.echo(
        f"{report.recorders_changed} recorders and {report.lenses_changed} lenses moved to another commune; "
        f"{report.outside_any_commune} lie outside every current commune"
    )


@click.group()
def users() -> None:
    """Staff accounts: admin, province/district staff, commune police. The CLI acts as the system."""


@users.command("create")
@click.option("--username", required=True, help="3-64 characters: a-z, 0-9, '.', '_', '-'.")
@click.option("--role", required=True, type=click.Choice([role.value for role in Role]))
@click.option(
    "--unit",
    "unit_code",
    help="Admin unit code: a commune for commune_police, a district for "
    "district_staff, a province for province_staff; optional for admin.",
)
@click.option("--full-name", default="", help="The person's name, shown in the audit trail.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin (for scripts).")
@with_appcontext
def users_create(username: str, role: str, unit_code: str | None, full_name: str, password_stdin: bool) -> None:
    """Create an account. The password is prompted for, never taken as an option (ps and shell history show those)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _session() as session, _domain_errors():
        user = accounts.create_user(session, SYSTEM, username, password, role, unit_code, full_name)
        where = f" for {user.admin_unit.name} ({user.admin_unit.code})" if user.admin_unit else ""
        session.commit()
    click.echo(f"created {role} {username}{where}")


@users.command("set-password")
@click.argument("username")
@click.option(
    "--password-stdin", is_flag=True, help="Read the new password from the first line of stdin (for scripts)."
)
@with_appcontext
def users_set_password(username: str, password_stdin: bool) -> None:
    """Set a new password for USERNAME (a reset: the current one is not asked); every login session of the user
    ends. The password is prompted for twice, never taken as an option."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    with _session() as session, _domain_errors():
        accounts.change_password(session, SYSTEM, username, password)
        session.commit()
    click.echo(f"password of {username} changed; every session of {username} has ended")


@users.command("list")
@with_appcontext
def users_list() -> None:
    """Every account, active or not."""
    with _session() as session, _domain_errors():
        rows = [
            (
                user.username,
                user.role.value,
                user.admin_unit.code if user.admin_unit else "",
                "yes" if user.active else "no",
                user.full_name,
                _when(user.created_at),
            )
            for user in accounts.list_users(session, SYSTEM)
        ]
    click.echo(_table(("username", "role", "unit", "active", "full name", "created"), rows))


@users.command("deactivate")
@click.argument("username")
@with_appcontext
def users_deactivate(username: str) -> None:
    """Deactivate USERNAME: logins and tokens stop working; the account stays for the audit trail."""
    with _session() as session, _domain_errors():
        accounts.deactivate_user(session, SYSTEM, username)
        session.commit()
    click.echo(f"deactivated {username}")


@click.group()
def tokens() -> None:
    """API Bearer tokens. Only a hash is stored: a secret is shown once, when created."""


@tokens.command("create")
@click.option("--username", required=True, help="The account the token acts as.")
@click.option("--name", required=True, help="Where the token is used, e.g. 'district dashboard'.")
@click.option("--expires-days", type=int, help="Days until the token expires (default: never).")
@with_appcontext
def tokens_create(username: str, name: str, expires_days: int | None) -> None:
    """Create a token and print its secret on a line of its own."""
    with _session() as session, _domain_errors():
        user = accounts.get_user(session, username)
        token, secret = accounts.create_token(session, SYSTEM, user, name, expires_days)
        session.commit()
    click.echo(f"token {token.id} ({token.name}) for {username}, expires {_when(token.expires_at, 'never')}:")
    click.echo(secret)
    click.echo("Copy the secret now: it cannot be shown again (only its hash is stored).", err=True)


@tokens.command("list")
@click.option("--username", required=True)
@with_appcontext
def tokens_list(username: str) -> None:
    """USERNAME's tokens, revoked and expired ones included."""
    with _session() as session, _domain_errors():
        rows = [
            (
                token.id,
                token.name,
                accounts.token_state(token),
                _when(token.created_at),
                _when(token.expires_at, "never"),
                _when(token.last_used_at, "never"),
            )
            for token in accounts.list_tokens(session, accounts.get_user(session, username))
        ]
    click.echo(_table(("id", "name", "state", "created", "expires", "last used"), rows))


@tokens.command("revoke")
@click.argument("token_id", type=int)
@with_appcontext
def tokens_revoke(token_id: int) -> None:
    """Revoke token TOKEN_ID at once; it stays listed as revoked."""
    with _session() as session, _domain_errors():
        accounts.revoke_token(session, SYSTEM, token_id)
        session.commit()
    click.echo(f"revoked token {token_id}")


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file and report what it would change; write nothing.")
@with_appcontext
def import_register(file: Path, dry_run: bool) -> None:
    """Import a commune register FILE (.csv, .xlsx or .geojson; one row per lens) into any commune.

    Nothing is written unless every row is acceptable; otherwise every error
    is listed as "row N, column C: reason" and the exit status is 1.
    """
    from .services import imports
    from .services.upload_limits import UploadLimits

    with _session() as session, _domain_errors():
        with click.progressbar(length=0, label="rows", show_pos=True) as bar:

            def progress(done: int, total: int) -> None:
                bar.length = total
                bar.update(done - bar.pos)

            report = imports.import_register(
                session,
                file,
                file.name,
                actor=SYSTEM,
                dry_run=dry_run,
                progress=progress,
                limits=UploadLimits.from_config(current_app.config),
            )
        if report.ok and not dry_run:
            session.commit()
    click.echo(f"{file.name}: {report.rows} rows" + (" (dry run: nothing written)" if dry_run else ""))
    click.echo(
        _table(
            ("records", "created", "updated", "unchanged"),
            [
                (name, counts["created"], counts["updated"], counts["unchanged"])
                for name, counts in report.counts().items()
            ],
        )
    )
    if report.ok:
        return
    for error in report.errors:
        click.echo(str(error))
    if report.errors_not_listed:
        click.echo(f"... and {report.errors_not_listed} more errors")
    click.echo(f"{report.error_count} errors: nothing was imported")
    click.get_current_context().exit(1)


def _backup_or_fail(dest: Path):
    """Back up the app's database and files into DEST, printing what was written and any problem."""
    from .services import backup as backups

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
    from .services import backup as backups

    manifest = _backup_or_fail(dest)
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
    from .services import backup as backups

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
    from .jobs import run_scheduler
    from .services.notifications import NotificationSettings

    run_scheduler(current_app.extensions["session_factory"], NotificationSettings.from_config(current_app.config))


@click.group()
def evidence() -> None:
    """Evidence packages: check one before it is relied on."""


@evidence.command("verify")
@click.argument("package", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--public-key",
    "public_key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The installation's public key (/requests/evidence-key.pem) to pin; without it the key inside "
    "the package is used, which proves the files are intact but not who signed them.",
)
def evidence_verify(package: Path, public_key: Path | None) -> None:
    """Check every file of PACKAGE against SHA256SUMS, its Ed25519 signature, and each clip against the hash
    recorded when it was uploaded. Exits 1 and names what does not match."""
    from .services.evidence import verify_package

    result = verify_package(package, public_key.read_bytes() if public_key else None)
    for line in result.checked:
        click.echo(f"ok: {line}")
    if not result.key_pinned:
        click.echo("note: no --public-key given; the signature was checked with the key inside the package")
    if not result.ok:
        for problem in result.problems:
            click.echo(f"MISMATCH: {problem}", err=True)
        raise SystemExit(1)
    click.echo(f"{package}: every hash and the signature match")


def init_app(app: Flask) -> None:
    for command in (
        db,
        sample,
        admin_units,
        users,
        tokens,
        import_register,
        scheduler,
        backup_command,
        restore_command,
        evidence,
    ):
        app.cli.add_command(command)


def main() -> None:
    """The `camera-registry` console script: Flask's CLI with the app already chosen."""
    from . import create_app

    cli = FlaskGroup(create_app=create_app, help="Camera registry administration.")
    try:
        cli.main(prog_name="camera-registry")
    except Exception as exc:  # noqa: BLE001 - one readable line instead of a traceback
        from .db import SpatiaLiteMissing

        if isinstance(exc, SpatiaLiteMissing):
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        raise
