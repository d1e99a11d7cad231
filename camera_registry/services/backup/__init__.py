"""Backups with a manifest, a checked restore, and the scheduled backup job (docs/operations.md).

A backup is a directory:

    database.sqlite   SpatiaLite: an online copy made with SQLite's backup API, one consistent snapshot
                      taken while the service runs (never a file copy of a live WAL database)
    database.dump     PostGIS: `pg_dump --format=custom` of one exported snapshot
    clips/...         every kept clip of the clip store (partial uploads under incoming/ are not kept)
    keys/...          the evidence signing key, when the installation has one
    manifest.json     backend, Alembic revision, rows per table, and the size and SHA-256 of every file

The row counts are taken in the very snapshot that was copied (SpatiaLite: from the copy; PostGIS: in
the transaction whose snapshot pg_dump was given), so a restore must reproduce them exactly. Every clip
the snapshot records is copied and its SHA-256 checked against the database's: a clip that is missing
or altered is a problem the backup reports (it still completes, so one bad file never costs the rest).

A restore checks every file's SHA-256 first, refuses a target database that already holds a registry,
loads the database, puts the clips and the key in place (never overwriting a different file), then
counts every table of the restored database against the manifest.

No Flask here: the CLI and the scheduler call these functions with plain values, imported from here. A module
each: the manifest, the row counts, the SpatiaLite and PostGIS halves, backing up, restoring, and the schedule.
"""

from .backing_up import PARTIAL_UPLOADS, backup
from .counting import count_rows, registry_tables
from .manifest import (
    CLIPS,
    DUMP_FILE,
    FORMAT,
    KEYS,
    MANIFEST,
    READ_BYTES,
    SQLITE_FILE,
    BackupError,
    BackupSources,
    Manifest,
    backend_of,
)
from .restoring import RestoreReport, check_files, restore, scratch_database, verify
from .schedule import (
    PARTIAL_SUFFIX,
    SCHEDULED_PREFIX,
    BackupSchedule,
    completed_backups,
    run_scheduled_backup,
    scheduled_backup,
    scheduled_name,
)

__all__ = [
    "CLIPS",
    "DUMP_FILE",
    "FORMAT",
    "KEYS",
    "MANIFEST",
    "PARTIAL_SUFFIX",
    "PARTIAL_UPLOADS",
    "READ_BYTES",
    "SCHEDULED_PREFIX",
    "SQLITE_FILE",
    "BackupError",
    "BackupSchedule",
    "BackupSources",
    "Manifest",
    "RestoreReport",
    "backend_of",
    "backup",
    "check_files",
    "completed_backups",
    "count_rows",
    "registry_tables",
    "restore",
    "run_scheduled_backup",
    "scheduled_backup",
    "scheduled_name",
    "scratch_database",
    "verify",
]
