"""The `camera-registry` commands, run through Flask's CLI runner on the test database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from geoalchemy2.shape import from_shape
from shapely import MultiPolygon, box
from sqlalchemy import func, select

from camera_registry.models import AdminUnit, Lens


def test_sample_load_then_if_empty_skips(app, session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["sample", "load"])
    assert result.exit_code == 0, result.output
    assert "666 lenses" in result.output
    again = runner.invoke(args=["sample", "load", "--if-empty"])
    assert again.exit_code == 0 and "not loaded" in again.output
    refused = runner.invoke(args=["sample", "load"])
    assert refused.exit_code != 0 and "empty database" in refused.output
    assert session.scalar(select(func.count(Lens.id))) == 666


def test_sample_generate_writes_a_dataset(app, tmp_path):
    result = app.test_cli_runner().invoke(
        args=[
            "sample",
            "generate",
            "--lenses",
            "300",
            "--sites",
            "3",
            "--seed",
            "9",
            "--out",
            str(tmp_path),
        ]
    )
    assert result.exit_code == 0, result.output
    assert "300 lenses" in result.output
    assert len((tmp_path / "lenses.csv").read_text().splitlines()) == 301


def test_sample_generate_rejects_zero_lenses(app, tmp_path):
    result = app.test_cli_runner().invoke(args=["sample", "generate", "--lenses", "0", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--lenses" in result.output


def test_reassign_moves_lenses_after_a_boundary_change(app, session):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["sample", "load"]).exit_code == 0
    chi_dam = session.scalar(select(AdminUnit).where(AdminUnit.code == "07999"))
    # Redraw Chí Đám far away: its lenses no longer fall inside any commune.
    chi_dam.boundary = from_shape(MultiPolygon([box(107.0, 16.0, 107.1, 16.1)]), srid=4326)
    session.commit()
    result = runner.invoke(args=["admin-units", "reassign"])
    assert result.exit_code == 0, result.output
    assert "66 lenses moved" in result.output
    session.expire_all()
    assert session.scalar(select(func.count()).where(Lens.commune_id == chi_dam.id)) == 0


def test_missing_spatialite_fails_with_one_line_naming_the_package(tmp_path):
    script = Path(sys.executable).with_name("camera-registry")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(CAMERA_REGISTRY_INSTANCE=str(tmp_path), SPATIALITE_LIBRARY_PATH=str(tmp_path / "no_mod_spatialite"))
    result = subprocess.run([str(script), "db", "upgrade"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "apt-get install libsqlite3-mod-spatialite" in result.stderr


def test_process_using_spatialite_then_pyproj_exits_cleanly(tmp_path):
    """Regression: importing pyproj after mod_spatialite was loaded crashed the process at exit."""
    script = (
        "from camera_registry.db import make_engine\n"
        f"engine = make_engine('sqlite:///{tmp_path / 'x.sqlite'}')\n"
        "engine.connect().close()\n"
        "from camera_registry.geo.metric import metres_between\n"
        "from shapely import Point\n"
        "print(round(metres_between(Point(105.8, 21.0), Point(105.801, 21.0)), 1))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout.strip()) == (0, "104.0"), result.stderr
