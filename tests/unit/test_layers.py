"""core/ imports no framework, driver or adapter ."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "core"
FORBIDDEN = {
    "adapters",
    "entrypoints",
    "aiogram",
    "litestar",
    "psycopg",
    "psycopg_pool",
    "httpx",
    "dependency_injector",
    "uvicorn",
    "structlog",
    "fluent",
}


def violations(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [n for n in names if n.split(".")[0] in FORBIDDEN]
    return found


def test_the_checker_catches_a_violation() -> None:
    assert violations("import httpx\nfrom adapters.memory import storage\nimport attrs") == [
        "httpx",
        "adapters.memory",
    ]


def test_core_imports_nothing_from_outer_layers() -> None:
    bad = {
        str(path.relative_to(CORE)): violations(path.read_text()) for path in CORE.rglob("*.py")
    }
    assert {k: v for k, v in bad.items() if v} == {}
    assert len(bad) > 10


def abstract_classes(source: str) -> list[str]:
    """The classes a module declares as ``abc.ABC`` subclasses: its ports."""
    tree = ast.parse(source)
    return [
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and any(ast.unparse(base) in ("abc.ABC", "ABC") for base in node.bases)
    ]


def test_the_port_finder_sees_abstract_classes() -> None:
    source = "import abc\nclass APort(abc.ABC): ...\nclass Plain: ...\nclass B(AbcMixin): ..."
    assert abstract_classes(source) == ["APort"]


def test_every_port_is_named_for_its_role() -> None:
    ports = {
        name: path.name
        for path in sorted((CORE / "ports").glob("*.py"))
        for name in abstract_classes(path.read_text())
    }
    assert len(ports) >= 10
    assert [name for name in ports if not name.endswith("Port")] == []
