"""What a backup holds and says it holds: its files, and a manifest of row counts and SHA-256s."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from ..clips import ClipSettings

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite"
DUMP_FILE = "database.dump"
CLIPS = "clips"
KEYS = "keys"
READ_BYTES = 1024 * 1024


class BackupError(RuntimeError):
    """A backup or restore that could not be made or cannot be trusted; the message says why."""


@dataclass(frozen=True)
class BackupSources:
    """The database and the files outside it."""

    database_url: str
    clip_dir: Path
    signing_key: Path | None = None  # copied when the file exists

    @classmethod
    def from_config(cls, config: Mapping) -> BackupSources:

        instance = Path(config.get("INSTANCE_PATH") or "instance")
        clip_dir = Path(config.get("CLIP_STORAGE_DIR") or instance / "clips")
        try:
            key = ClipSettings.from_config(config).signing_key_path
        except (KeyError, TypeError, ValueError):
            key = Path(config.get("EVIDENCE_SIGNING_KEY") or instance / "evidence_signing_key.pem")
        return cls(database_url=config["DATABASE_URL"], clip_dir=clip_dir, signing_key=key)


@dataclass
class Manifest:
    backend: str  # "spatialite" or "postgis"
    created_at: str
    revisions: list[str]
    tables: dict[str, int]
    files: list[dict] = field(default_factory=list)  # {"path", "role", "size", "sha256"}, paths relative to the backup
    clips_checked: int = 0
    problems: list[str] = field(default_factory=list)
    format: int = FORMAT
    seconds: float = 0.0

    @property
    def database_file(self) -> str:
        return SQLITE_FILE if self.backend == "spatialite" else DUMP_FILE

    @property
    def total_bytes(self) -> int:
        return sum(entry["size"] for entry in self.files)

    def write(self, directory: Path) -> None:
        path = directory / MANIFEST
        path.write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
        path.chmod(0o600)

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST
        if not path.is_file():
            raise BackupError(f"{directory} is not a backup: it has no {MANIFEST}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as error:
            raise BackupError(f"{path} cannot be read: {error}") from None
        if data.get("format") != FORMAT:
            raise BackupError(f"{path} is in backup format {data.get('format')!r}; this release reads format {FORMAT}")
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in data.items() if key in known})


def backend_of(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name == "sqlite":
        return "spatialite"
    if name == "postgresql":
        return "postgis"
    raise BackupError(f"cannot back up a {name} database")


def copy_hashing(source: Path, target: Path) -> tuple[int, str]:
    """Copy `source` to `target` (mode 600), returning the size and SHA-256 of what was copied."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    digest, size = hashlib.sha256(), 0
    with open(source, "rb") as reader, open(target, "xb") as writer:
        os.chmod(target, 0o600)
        while block := reader.read(READ_BYTES):
            digest.update(block)
            size += len(block)
            writer.write(block)
    return size, digest.hexdigest()
