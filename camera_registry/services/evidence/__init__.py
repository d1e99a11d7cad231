"""Footage as evidence: who may take a clip out, the record of every download, and evidence packages.

Video evidence follows ISO/IEC 27037 and the SWGDE guidelines (DESIGN.md §6):
the original export is kept unmodified and hashed at acquisition, the
recorder's clock offset is recorded, and every hand-over is in the custody
record. Here:

- a download is a read: who, when, which clip and its hash are audited after
  the read (`after_read`), so a download never fails on its audit row;
- an evidence package is one ZIP per request or assignment: the original
  clips byte for byte (stored, not compressed), `manifest.json`, the custody
  log (the audit events of the request, its assignments and clips),
  `SHA256SUMS` (every other member's hash) and `SHA256SUMS.sig`, an Ed25519
  signature of that list with the installation's key (outside the database,
  generated on first use, mode 0600). It is written to the client as it is
  built, never held in memory; building one is audited;
- `verify_package` checks a package: every member against the list, the
  list against the signature, each clip against the hash recorded at
  acquisition, and names plainly what does not match.

One module each: downloads, the signing key, building packages, verifying
them, and the clip store's figures and retention. Callers import from here.
"""

from .downloads import Download, clip_download
from .packages import (
    CHECKSUMS,
    CLIPS_DIR,
    CUSTODY_LOG,
    MANIFEST,
    PACKAGE_FORMAT,
    PUBLIC_KEY,
    SIGNATURE,
    Package,
    build_package,
    stream_package,
)
from .signing import key_fingerprint, public_key_pem, signing_key
from .storage import RETENTION_BATCH, apply_retention, storage_by_commune
from .verification import Verification, verify_package

__all__ = [
    "CHECKSUMS",
    "CLIPS_DIR",
    "CUSTODY_LOG",
    "MANIFEST",
    "PACKAGE_FORMAT",
    "PUBLIC_KEY",
    "RETENTION_BATCH",
    "SIGNATURE",
    "Download",
    "Package",
    "Verification",
    "apply_retention",
    "build_package",
    "clip_download",
    "key_fingerprint",
    "public_key_pem",
    "signing_key",
    "storage_by_commune",
    "stream_package",
    "verify_package",
]
