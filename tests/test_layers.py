"""Data flows one way: http -> service -> store; renderers are pure. Each layer may import
only what its allow-list names (of cvjobs and of third-party packages; the standard
library is free), so a new import across a line fails here until someone decides the
line moved. Modules outside the layers (the commands, the app factory) reach the store
only through its public face."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "src" / "cvjobs"

# What every layer may use: the domain, its vocabularies and its errors.
CORE = ("cvjobs.model", "cvjobs.vocab", "cvjobs.errors", "cvjobs.ranges", "cvjobs.parse")
# The store's public face: opening a catalogue, its protocols, what they pass, and the
# bulk writer's batches (cvjobs import prepares them in worker processes).
STORE_FACE = ("cvjobs.store", "cvjobs.store.protocols", "cvjobs.store.values")

ALLOWED: dict[str, tuple[str, ...]] = {
    "store": (*CORE, "cvjobs.store.*", "orjson", "asyncpg"),
    "service": (
        *CORE,
        "cvjobs.summaries",
        "cvjobs.service.*",
        "cvjobs.store.protocols",
        "cvjobs.store.values",
        "argon2",
        "jinja2",  # webhook templates are checked as they are set
    ),
    "render": (
        *CORE,
        "cvjobs.summaries",
        "cvjobs.spellings",
        "cvjobs.render.*",
        "orjson",
        "jinja2",
    ),
    "http": (
        *CORE,
        "cvjobs.__version__",
        "cvjobs.documents",
        "cvjobs.logs",
        "cvjobs.http.*",
        "cvjobs.render.*",
        "cvjobs.service.*",
        "starlette",
        "orjson",
        "uvicorn",
    ),
}
# Top-level modules: anything of cvjobs but the store's insides.
TOP_STORE = (*STORE_FACE, "cvjobs.store.batches")


def imports(path: Path) -> set[str]:
    """The modules `path` imports, `from cvjobs import x` as cvjobs.x."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "cvjobs":
                names.update(f"cvjobs.{alias.name}" for alias in node.names)
            else:
                names.add(node.module)
    return {name for name in names if name.split(".")[0] not in sys.stdlib_module_names}


def allowed(name: str, allow: tuple[str, ...]) -> bool:
    for entry in allow:
        if entry.endswith(".*"):
            if name == entry[:-2] or name.startswith(entry[:-1]):
                return True
        elif name == entry or (not entry.startswith("cvjobs") and name.startswith(entry + ".")):
            return True
    return False


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_imports_only_what_it_may(layer: str) -> None:
    crossings = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in sorted((PACKAGE / layer).glob("*.py"))
        for name in sorted(imports(path))
        if name != "__future__" and not allowed(name, ALLOWED[layer])
    ]
    assert crossings == []


def test_top_level_modules_and_commands_reach_the_store_only_through_its_face() -> None:
    crossings = [
        f"{path.name} imports {name}"
        for path in sorted([*PACKAGE.glob("*.py"), *PACKAGE.glob("commands/*.py")])
        for name in sorted(imports(path))
        if name.startswith("cvjobs.store") and name not in TOP_STORE
    ]
    assert crossings == []


def test_the_allow_list_refuses_what_it_should() -> None:
    assert not allowed("cvjobs.store.sqlite", ALLOWED["service"])
    assert not allowed("cvjobs.http.routes", ALLOWED["service"])
    assert not allowed("starlette.requests", ALLOWED["render"])
    assert not allowed("cvjobs.service.jobs", ALLOWED["store"])
    assert not allowed("cvjobs.storeX", ("cvjobs.store.*",))
    assert allowed("starlette.requests", ALLOWED["http"])
    assert allowed("cvjobs.store.rows", ALLOWED["store"])
