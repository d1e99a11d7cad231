"""`camera-registry sample ...`: the bundled demo with its demo accounts, and the city-scale generator."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..services import accounts
from ..services import sample as datasets
from ..services.sample_generator import PRESETS, generate_city
from .console import open_session, table

DEMO_CREDENTIALS_FILE = "demo-credentials.txt"


@click.group()
def sample() -> None:
    """Sample data: the bundled demo and the city-scale generator."""


@sample.command("load")
@click.argument("directory", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--if-empty", is_flag=True, help="Do nothing when the registry already holds data.")
@with_appcontext
def sample_load(directory: Path | None, if_empty: bool) -> None:
    """Load DIRECTORY (default: the bundled sample) into an empty registry."""
    with open_session() as session:
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
        + table(("username", "password", "role", "unit"), demo_accounts)
        + "\n"
    )
    path = Path(current_app.instance_path) / DEMO_CREDENTIALS_FILE
    path.touch(mode=0o600)
    path.chmod(0o600)  # also when the file was left by an earlier installation
    path.write_text(text, encoding="utf-8")
    click.echo(f"\n{text}(saved to {path}, readable only by you)")


@sample.command("generate")
@click.option(
    "--preset",
    type=click.Choice(list(PRESETS)),
    default="hanoi",
    show_default=True,
    help="The city: Hà Nội (55,000 lenses, 265 sites), Hồ Chí Minh City (4,258 recorders, 600 sites), or every "
    "province with bundled boundaries (3,000,000 lenses, 8,000 sites).",
)
@click.option("--lenses", type=click.IntRange(min=1), help="Stop at this many lenses instead of the preset's size.")
@click.option(
    "--recorders", type=click.IntRange(min=1), help="Stop at this many recorders instead of the preset's size."
)
@click.option("--sites", type=click.IntRange(min=1), help="Sites to spread over the communes (default: the preset's).")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory to write the dataset to (created if missing).",
)
def sample_generate(
    preset: str, lenses: int | None, recorders: int | None, sites: int | None, seed: int, out_dir: Path
) -> None:
    """Write a deterministic city-scale dataset on the real communes, for benchmarks."""
    if lenses is not None and recorders is not None:
        raise click.UsageError("give --lenses or --recorders, not both")
    counts = generate_city(out_dir, preset=preset, lenses=lenses, recorders=recorders, sites=sites, seed=seed)
    click.echo(
        f"wrote {counts.communes} communes, {counts.sites} sites, {counts.owners} owners, "
        f"{counts.recorders} recorders, {counts.lenses} lenses to {out_dir}"
    )
