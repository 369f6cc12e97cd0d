"""Loads every ``*.toml`` catalog file of a directory into one validated Catalog."""

from __future__ import annotations

import tomllib
from pathlib import Path

import attrs

from core.domain.catalog import Catalog
from core.domain.catalog_parse import parse_catalog
from core.domain.errors import CatalogError

DEFAULT_DIR = Path(__file__).with_name("data")


def load_catalog(directory: Path = DEFAULT_DIR, hidden: frozenset[str] = frozenset()) -> Catalog:
    """Raise CatalogError naming the file, model and field of the first problem."""
    files = sorted(directory.glob("*.toml"))
    if not files:
        raise CatalogError("?", "files", f"no *.toml catalog files in {directory}")
    models = []
    for path in files:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise CatalogError("?", path.name, f"is not valid TOML: {exc}") from None
        entries = data.get("models", [])
        if not isinstance(entries, list):
            raise CatalogError("?", f"{path.name}: models", "must be an array of tables")
        models.extend(entries)
    catalog = parse_catalog(models)
    unknown = hidden - {m.id for m in catalog.models}
    if unknown:
        raise CatalogError(sorted(unknown)[0], "HIDDEN_MODELS", "no such model to hide")
    return Catalog(
        tuple(attrs.evolve(m, hidden=m.hidden or m.id in hidden) for m in catalog.models)
    )
