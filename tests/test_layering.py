"""The layers, read from the source: the pages and the API never import each other (what they share is in
camera_registry.http and camera_registry.schemas), and the domain, the geometry and the units of work never
import Flask."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import camera_registry

PACKAGE = Path(camera_registry.__file__).parent
VIEWS = ("camera_registry.api", "camera_registry.web")
SHARED = ("camera_registry.http", "camera_registry.schemas")
FLASK_FREE = (
    "camera_registry.services",
    "camera_registry.models",
    "camera_registry.geo",
    "camera_registry.schemas",
    "camera_registry.db",
    "camera_registry.timezones",
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(f"{package}.")


def _imported(path: Path) -> set[str]:
    """Every module `path` imports, anywhere in it (inside functions too), by its absolute name; for
    `from x import y` both x and x.y, since y may be a module."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            source = ".".join([*base, *([node.module] if node.module else [])])
            names.add(source)
            names.update(f"{source}.{alias.name}" for alias in node.names)
    return names


MODULES = {_module_name(path): _imported(path) for path in sorted(PACKAGE.rglob("*.py"))}


def _offences(importers: tuple[str, ...], forbidden) -> list[str]:
    return sorted(
        f"{module} imports {name}"
        for module, names in MODULES.items()
        if any(_within(module, importer) for importer in importers)
        for name in names
        if forbidden(module, name)
    )


def test_the_source_is_read():
    assert {"camera_registry.api.base", "camera_registry.web.requests", "camera_registry.services.requests"} <= set(
        MODULES
    )
    assert "camera_registry.http.units" in MODULES["camera_registry.api.base"]
    assert "camera_registry.services" in MODULES["camera_registry.web.pages"]


@pytest.mark.parametrize("views", VIEWS)
def test_the_api_and_the_pages_do_not_import_each_other(views):
    [other] = [package for package in VIEWS if package != views]
    assert _offences((views,), lambda module, name: _within(name, other)) == []


def test_what_the_api_and_the_pages_share_imports_neither():
    assert _offences(SHARED, lambda module, name: any(_within(name, views) for views in VIEWS)) == []


def test_the_domain_never_imports_flask():
    assert _offences(FLASK_FREE, lambda module, name: name.split(".")[0].startswith("flask")) == []
