"""Checking an evidence package, and saying plainly what does not match."""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..clips import READ_BYTES
from .packages import CHECKSUMS, CUSTODY_LOG, MANIFEST, PUBLIC_KEY, SIGNATURE
from .signing import key_fingerprint


@dataclass
class Verification:
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    key_pinned: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_package(path: Path, public_key: bytes | None = None) -> Verification:
    """Check every member against SHA256SUMS, SHA256SUMS against its Ed25519 signature (with `public_key` if
    given, else the key inside the package, which only proves integrity, not origin), and every clip against
    the hash the manifest recorded at acquisition."""
    result = Verification(key_pinned=public_key is not None)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        result.problems.append(f"{path}: not a readable ZIP file ({error})")
        return result
    with archive:
        names = set(archive.namelist())
        for required in (MANIFEST, CUSTODY_LOG, CHECKSUMS, SIGNATURE, PUBLIC_KEY):
            if required not in names:
                result.problems.append(f"{required} is missing from the package")
        if result.problems:
            return result
        listing = archive.read(CHECKSUMS)
        key_pem = public_key if public_key is not None else archive.read(PUBLIC_KEY)
        try:
            key = serialization.load_pem_public_key(key_pem)
            assert isinstance(key, Ed25519PublicKey)
            key.verify(bytes.fromhex(archive.read(SIGNATURE).decode().strip()), listing)
            result.checked.append(f"signature of {CHECKSUMS}: valid (key {key_fingerprint(key_pem)[:16]}...)")
        except InvalidSignature:
            result.problems.append(
                f"the signature of {CHECKSUMS} does not match"
                + (" the public key given" if public_key is not None else "")
            )
        except (ValueError, AssertionError):
            result.problems.append("the signature or the public key is malformed (not Ed25519)")
        if public_key is not None and archive.read(PUBLIC_KEY).strip() != public_key.strip():
            result.problems.append(f"{PUBLIC_KEY} in the package is not the public key given")
        listed: dict[str, str] = {}
        for line in listing.decode(errors="replace").splitlines():
            digest, _, name = line.partition("  ")
            listed[name] = digest
        for name in sorted(names - {CHECKSUMS, SIGNATURE}):
            if name not in listed:
                result.problems.append(f"{name} is in the package but not in {CHECKSUMS}")
        for name, digest in listed.items():
            if name not in names:
                result.problems.append(f"{name} is listed in {CHECKSUMS} but missing from the package")
                continue
            actual = _member_sha256(archive, name)
            if actual is None:
                result.problems.append(f"{name} is damaged (its bytes no longer match the ZIP's own checksum)")
            elif actual != digest:
                result.problems.append(f"{name}: SHA-256 {actual} does not match {digest} in {CHECKSUMS}")
            else:
                result.checked.append(f"{name}: SHA-256 matches")
        try:
            manifest = json.loads(archive.read(MANIFEST))
        except (ValueError, zipfile.BadZipFile):
            result.problems.append(f"{MANIFEST} cannot be read")
            return result
        for assignment in manifest.get("assignments", []):
            for clip in assignment.get("clips", []):
                if clip.get("deleted_at"):
                    continue
                if clip["file"] not in names:
                    result.problems.append(f"clip {clip['id']} ({clip['file']}) is missing from the package")
                elif listed.get(clip["file"]) != clip["sha256"]:
                    result.problems.append(
                        f"clip {clip['id']} ({clip['file']}) differs from the SHA-256 recorded "
                        f"at acquisition ({clip['sha256']})"
                    )
    return result


def _member_sha256(archive: zipfile.ZipFile, name: str) -> str | None:
    digest = hashlib.sha256()
    try:
        with archive.open(name) as source:
            while block := source.read(READ_BYTES):
                digest.update(block)
    except zipfile.BadZipFile:
        return None
    return digest.hexdigest()
