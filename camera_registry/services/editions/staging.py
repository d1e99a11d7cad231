"""Loading an edition an administrator chose on the editions page: the bundled one, or a GeoJSON file uploaded.

The page always dry-runs first and loads only when confirmed with the same inputs, so an uploaded file is kept
between the two steps: staged under its SHA-256 in a directory the caller names, and named by that digest in the
confirm form (nothing a browser sends can point anywhere else).
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session

from ..access import Actor
from ..errors import ValidationFailed
from ..upload_limits import TooDeep, load_json
from .loading import EditionReport, load_edition
from .reader import BUNDLED_EDITION, EditionError, read_edition

#: How a staged upload is named: its digest and the GeoJSON suffix.
STAGED_NAME = re.compile(r"[0-9a-f]{64}\.geojson")
UPLOAD_SUFFIXES = (".geojson", ".json")
CHUNK = 1024 * 1024


def stage_upload(directory: Path, filename: str, stream: BinaryIO, max_json_depth: int) -> str:
    """Keep an uploaded GeoJSON edition in `directory` and return its staged name; a file that is not JSON, or
    nests too deep for the reader, is refused here, before any step reads it."""
    if not filename.lower().endswith(UPLOAD_SUFFIXES):
        raise ValidationFailed(
            f"{filename}: not a GeoJSON file", {"file": ["upload a GeoJSON FeatureCollection (.geojson or .json)"]}
        )
    directory.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=directory, suffix=".part", delete=False) as kept:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            kept.write(chunk)
    part = Path(kept.name)
    try:
        load_json(part.read_bytes(), max_json_depth)
    except TooDeep as error:
        part.unlink()
        raise ValidationFailed(f"{filename}: {error}", {"file": [f"{filename} is {error}"]}) from None
    except ValueError as error:
        part.unlink()
        raise ValidationFailed(f"{filename}: not JSON", {"file": [f"{filename} is not JSON ({error})"]}) from None
    staged = f"{digest.hexdigest()}.geojson"
    part.replace(directory / staged)
    return staged


def staged_path(directory: Path, staged: str) -> Path:
    """The staged upload named `staged`; refused when the name is not a staged one or the file is gone."""
    path = directory / staged
    if not STAGED_NAME.fullmatch(staged) or not path.is_file():
        raise ValidationFailed(
            f"no staged edition {staged}", {"staged": ["the uploaded file is gone: upload it again"]}
        )
    return path


def forget_staged(directory: Path, staged: str) -> None:
    """Drop a staged upload once loaded: its edition is in the registry now, and the file would only pile up."""
    staged_path(directory, staged).unlink(missing_ok=True)


def load_chosen(
    session: Session,
    actor: Actor,
    source: Path | None,
    effective: date,
    *,
    provinces: Iterable[str] | None = None,
    dry_run: bool,
) -> EditionReport:
    """Read the edition at `source` (the bundled one when None) and load it, or dry-run it, as load_edition does.

    An edition the reader refuses is a ValidationFailed on `edition`; one the load refuses on `effective` (its
    refusals are about the day, but for a unit's bad police phone, which names the unit)."""
    actor.require_admin()  # before seconds of reading boundaries
    wanted = list(provinces) if provinces else None
    try:
        edition = read_edition(source or BUNDLED_EDITION, provinces=wanted)
    except EditionError as error:
        raise ValidationFailed(str(error), {"edition": [str(error)]}) from None
    try:
        return load_edition(session, edition, effective, actor, dry_run, provinces=wanted)
    except EditionError as error:
        field = "edition" if str(error).startswith("unit ") else "effective"
        raise ValidationFailed(str(error), {field: [str(error)]}) from None
