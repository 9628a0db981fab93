"""Data flows one way: http -> service -> store; renderers are pure. This test fails when a
module imports across the line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "src" / "cvjobs"

FORBIDDEN = {
    "store": ("starlette", "uvicorn", "cvjobs.http", "cvjobs.service", "cvjobs.render"),
    "service": ("starlette", "uvicorn", "sqlite3", "cvjobs.http", "cvjobs.store.sqlite"),
    "render": ("starlette", "uvicorn", "sqlite3", "cvjobs.http", "cvjobs.service", "cvjobs.store"),
    "http": ("sqlite3", "cvjobs.store.sqlite"),
}


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports(layer: str) -> None:
    for path in (PACKAGE / layer).glob("*.py"):
        for name in imports(path):
            for banned in FORBIDDEN[layer]:
                assert not (name == banned or name.startswith(banned + ".")), (
                    f"{path.relative_to(PACKAGE)} imports {name}"
                )
