"""For the clip upload tests: the bytes of a clip the store takes for video, tus requests, and the store's files."""

from __future__ import annotations

import base64
from pathlib import Path

#: The head of an MP4 file: enough for the clip store to take what follows for video.
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
TUS = {"Tus-Resumable": "1.0.0"}


def tus_metadata(**values: str) -> str:
    """An Upload-Metadata header: each key with its value in base64."""
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in values.items())


def stored_files(store: Path) -> list[Path]:
    return sorted(path for path in store.rglob("*") if path.is_file()) if store.exists() else []
