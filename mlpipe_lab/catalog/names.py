"""Catalog entry names: the one regex, validation and slugs."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Container

from .errors import CatalogError

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
NAME_RE = re.compile(NAME_PATTERN)
NAME_HINT = (
    "use lowercase letters, digits, '.', '_' or '-', start with a letter or digit, "
    "at most 63 characters"
)


def is_valid_name(name: object) -> bool:
    # fullmatch: "$" would also accept a trailing newline
    return isinstance(name, str) and NAME_RE.fullmatch(name) is not None


def check_name(name: object) -> str:
    """Return ``name`` if it is a valid catalog name, else raise ``CatalogError`` (field ``name``).

    Valid names cannot contain '/', '\\' or start with '.', so they never escape the catalog folder.
    """
    if not is_valid_name(name):
        shown = repr(name) if isinstance(name, str) else type(name).__name__
        if name == "":
            raise CatalogError("name: must not be empty", field="name")
        raise CatalogError(f"name: {shown} is not a valid name ({NAME_HINT})", field="name")
    return name  # type: ignore[return-value]


def slugify(text: str, fallback: str = "entry") -> str:
    """A valid name derived from ``text`` ("My Runtime (v2)" -> "my-runtime-v2")."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9._-]+", "-", ascii_text.lower())
    slug = re.sub(r"-{2,}", "-", slug).strip("-._")[:63].rstrip("-._")
    return slug if is_valid_name(slug) else fallback


def unique_name(base: str, taken: Container[str]) -> str:
    """``base``, or ``base-2``, ``base-3``... (kept within 63 characters) not in ``taken``."""
    if base not in taken:
        return base
    counter = 2
    while True:
        suffix = f"-{counter}"
        candidate = base[: 63 - len(suffix)].rstrip("-._") + suffix
        if candidate not in taken:
            return candidate
        counter += 1
