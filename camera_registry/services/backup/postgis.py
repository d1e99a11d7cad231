"""The PostGIS half: pg_dump of one exported snapshot, and pg_restore."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from ... import db
from .counting import Snapshot, read_snapshot, refuse_non_empty
from .manifest import BackupError


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for directory in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (directory / name).is_file():
            return str(directory / name)
    raise BackupError(f"{name} was not found: install the PostgreSQL client (apt-get install postgresql-client)")


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string for `url` without its password, which goes in the environment instead
    (a command line is visible to every user of the machine)."""
    parsed = make_url(url)
    parts = {
        "host": parsed.host,
        "port": parsed.port,
        "dbname": parsed.database,
        "user": parsed.username,
        **{key: value for key, value in parsed.query.items() if isinstance(value, str)},
    }
    conninfo = " ".join(f"{key}='{str(value)}'" for key, value in parts.items() if value not in (None, ""))
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return conninfo, env


def _run(argv: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(argv, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{what} failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}")


def pg_backup(url: str, target_file: Path) -> Snapshot:
    """pg_dump of a snapshot this transaction exports and holds open, in which the rows are also counted."""
    tool = _pg_tool("pg_dump")
    conninfo, env = _libpq(url)
    engine = db.make_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection, connection.begin():
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")
            snapshot_id = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            snapshot = read_snapshot(connection)
            _run(
                [
                    tool,
                    "--format=custom",
                    f"--snapshot={snapshot_id}",
                    "--no-password",
                    f"--file={target_file}",
                    f"--dbname={conninfo}",
                ],
                env,
                "pg_dump",
            )
    finally:
        engine.dispose()
    os.chmod(target_file, 0o600)
    return snapshot


def pg_restore(dump_file: Path, target_url: str) -> None:
    refuse_non_empty(target_url)
    conninfo, env = _libpq(target_url)
    _run(
        [
            _pg_tool("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            "--no-password",
            f"--dbname={conninfo}",
            str(dump_file),
        ],
        env,
        "pg_restore",
    )
