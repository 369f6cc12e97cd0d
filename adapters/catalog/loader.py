"""Loads every ``*.toml`` catalog file of a directory into one validated Catalog."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import attrs

from core.domain.catalog import Catalog
from core.domain.catalog_parse import parse_catalog
from core.domain.errors import CatalogError

DEFAULT_DIR = Path(__file__).with_name("data")


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CatalogError("?", path.name, f"is not valid TOML: {exc}") from None


def load_catalog(directory: Path = DEFAULT_DIR, hidden: frozenset[str] = frozenset()) -> Catalog:
    """Raise CatalogError naming the file, model and field of the first problem."""
    files = sorted(directory.glob("*.toml"))
    if not files:
        raise CatalogError("?", "files", f"no *.toml catalog files in {directory}")
    models: list[Any] = []
    categories: dict[str, Any] = {}
    for path in files:
        data = _read(path)
        entries = data.get("models", [])
        if not isinstance(entries, list):
            raise CatalogError("?", f"{path.name}: models", "must be an array of tables")
        models.extend(entries)
        tables = data.get("categories", {})
        if not isinstance(tables, dict):
            raise CatalogError("categories", path.name, "must be a table of tables")
        categories.update(tables)
    if not categories:  # a replacement catalog that only lists models keeps the bundled times
        categories = _read(DEFAULT_DIR / "categories.toml").get("categories", {})
    catalog = parse_catalog(models, categories)
    unknown = hidden - {m.id for m in catalog.models}
    if unknown:
        raise CatalogError(sorted(unknown)[0], "HIDDEN_MODELS", "no such model to hide")
    return attrs.evolve(
        catalog,
        models=tuple(attrs.evolve(m, hidden=m.hidden or m.id in hidden) for m in catalog.models),
    )
