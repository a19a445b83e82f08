"""Airflow-safe identifiers derived from people's names for things.

Airflow accepts ``[A-Za-z0-9_.-]`` (its ``\\w`` is Unicode, but Kubernetes and URLs are not), at
most 250 characters. The slug is deterministic so re-publishing keeps the same ids.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

MAX_ID = 250
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")


def is_valid_id(value: str) -> bool:
    return bool(_ID.match(value))


@lru_cache(maxsize=16384)  # validation and the plan slugify every label
def slugify(text: str, fallback: str = "task", max_len: int = MAX_ID) -> str:
    """``"Prepare data (v2).ipynb"`` -> ``"Prepare_data_v2"``; never empty."""
    # Drop a trailing notebook/script extension: labels usually are file names.
    text = re.sub(r"\.(ipynb|py|r|R)$", "", text.strip())
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = _UNSAFE.sub("_", ascii_text).strip("_.-")
    slug = re.sub(r"_+", "_", slug)
    return (slug or fallback)[:max_len]


def unique_ids(names: list[str], reserved: set[str] | None = None) -> list[str]:
    """Make each id unique in order of appearance: a, a_2, a_3 (case-insensitive, as pods are)."""
    seen = {r.lower() for r in (reserved or set())}
    out = []
    for name in names:
        candidate, n = name, 1
        while candidate.lower() in seen:
            n += 1
            suffix = f"_{n}"
            candidate = name[: MAX_ID - len(suffix)] + suffix
        seen.add(candidate.lower())
        out.append(candidate)
    return out
