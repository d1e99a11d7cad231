"""The installation's Ed25519 signing key, which signs every evidence package."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def signing_key(path: Path) -> Ed25519PrivateKey:
    """The installation's Ed25519 key, generated on first use and kept (PEM, mode 0600) outside the database."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another worker made it at the same moment: use theirs
        else:
            with os.fdopen(fd, "wb") as target:
                target.write(pem)
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def public_key_pem(path: Path) -> bytes:
    """The public half, for verifiers to pin."""
    return (
        signing_key(path)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def key_fingerprint(public_pem: bytes) -> str:
    """SHA-256 of the raw public key, as people compare it."""
    key = serialization.load_pem_public_key(public_pem)
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()
