"""`camera-registry evidence verify`: check an evidence package before it is relied on."""

from __future__ import annotations

from pathlib import Path

import click


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
    from ..services.evidence import verify_package

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
