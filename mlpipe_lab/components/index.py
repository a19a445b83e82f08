"""All components of all catalogs, and which one a pipeline node uses.

A node names its component by ``op``: our own ids (``<catalog>:<reference>``) or any id Elyra gave
(see elyra.py). ``resolve`` tries, in order: the exact id; Elyra's hash id (whatever the catalog's
type, since a file found through another kind of catalog hashes the same way); the node's own
stored definition (``app_data.mlpipe.component``, written by mlpipe-lab, or the file its
``component_source`` names when that file is inside the project); the operator class named by the
op among the catalogs' operators; the KFP component of the same name. A node whose component is
found nowhere gets a message that names it.

Listings are cached per catalog entry and re-read when the entry or its local files change
(URLs and wheels: after ``URL_TTL`` seconds).
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .elyra import OpRef, class_name_of, component_source, elyra_hash, parse_op
from .kfp import parse_kfp
from .model import AIRFLOW, KFP, Component, ComponentError
from .pyparse import parse_operators
from .sources import Fetch, Listing, SourceError, fetch_url, read_catalog, site_packages

URL_TTL = 300.0
_CACHE_SIZE = 64
_cache: dict[str, tuple[float, Listing]] = {}
_cache_lock = threading.Lock()


def _signature(entry: dict[str, Any], root: Path) -> str:
    """What a cached listing depends on: the entry, and the state of its local files."""
    parts: list[Any] = [json.dumps(entry, sort_keys=True, default=str), str(root)]
    kind = entry.get("type")
    paths: list[Path] = []
    if kind in ("local-file-catalog", "local-directory-catalog"):
        base = Path(os.path.expanduser(str(entry.get("base_path") or "")))
        base = base if base.is_absolute() else root / base
        for raw in entry.get("paths") or []:
            p = Path(os.path.expanduser(str(raw)))
            paths.append(p if p.is_absolute() else base / p)
    elif kind in ("airflow-providers", "python-package") or "examples" in str(kind):
        paths = site_packages(str(entry.get("environment") or ""))
    else:
        parts.append(int(time.monotonic() // URL_TTL))
    for p in paths:
        try:
            st = p.stat()
            parts.append((str(p), st.st_mtime_ns, st.st_size))
            if p.is_dir():
                for child in sorted(os.scandir(p), key=lambda e: e.name):
                    cst = child.stat()
                    parts.append((child.name, cst.st_mtime_ns, cst.st_size))
        except OSError:
            parts.append((str(p), None))
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def cached_listing(entry: dict[str, Any], root: Path, fetch: Fetch = fetch_url) -> Listing:
    key = _signature(entry, root)
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit[1]
    try:
        listing = read_catalog(entry, root=root, fetch=fetch)
    except SourceError as exc:
        listing = Listing(catalog=str(entry.get("name") or ""), problems=[str(exc)])
    with _cache_lock:
        if len(_cache) >= _CACHE_SIZE:
            oldest = min(_cache, key=lambda k: _cache[k][0])
            del _cache[oldest]
        _cache[key] = (time.monotonic(), listing)
    return listing


@dataclass(frozen=True)
class Resolution:
    component: Component | None
    how: str = ""  # "id", "elyra-id", "node-definition", "class-name", "component-name"
    message: str = ""  # why nothing was found, when component is None


class ComponentIndex:
    """The components of a list of catalog entries (user entries first win on equal ids)."""

    def __init__(
        self,
        entries: Iterable[dict[str, Any]],
        root: str | os.PathLike[str] | None = None,
        fetch: Fetch = fetch_url,
    ):
        self.root = Path(root) if root is not None else Path.cwd()
        self.listings: list[Listing] = []
        for entry in entries:
            if isinstance(entry, dict) and not entry.get("error"):
                self.listings.append(cached_listing(entry, self.root, fetch))
        self.components: list[Component] = [c for lst in self.listings for c in lst.components]
        self.by_id: dict[str, Component] = {}
        self.by_hash: dict[str, list[Component]] = {}
        for comp in self.components:
            self.by_id.setdefault(comp.id, comp)
            for eid in comp.elyra_ids:
                self.by_id.setdefault(eid, comp)
                parsed = parse_op(eid)
                key = parsed.hash + (":" + parsed.class_name if parsed.class_name else "")
                self.by_hash.setdefault(key, []).append(comp)

    def get(self, component_id: str) -> Component | None:
        return self.by_id.get(component_id)

    def operators_named(self, class_name: str) -> list[Component]:
        return [c for c in self.components if c.kind == AIRFLOW and c.name == class_name]

    def importable(self, class_name: str) -> Component | None:
        """The operator of this class that a DAG can import (it has a module), preferring one
        from installed providers."""
        found = [c for c in self.operators_named(class_name) if c.module]
        return found[0] if found else None

    # -- a node --------------------------------------------------------------------------------

    def resolve(self, node: dict[str, Any], pipeline_dir: Path | None = None) -> Resolution:
        op = str(node.get("op") or "")
        app = node.get("app_data") if isinstance(node.get("app_data"), dict) else {}
        ref = parse_op(op)
        comp = self.by_id.get(op)
        if comp is not None:
            return Resolution(comp, "id")
        if ref.hash:
            key = ref.hash + (":" + ref.class_name if ref.class_name else "")
            found = self.by_hash.get(key) or self.by_hash.get(ref.hash) or []
            if found:
                return Resolution(found[0], "elyra-id")
        own = self._own_definition(app, ref, pipeline_dir)
        if own is not None:
            return Resolution(own, "node-definition")
        source = component_source(app)
        class_name = class_name_of(ref, app)
        if class_name:
            named = self.operators_named(class_name)
            if named:
                importable = [c for c in named if c.module]
                return Resolution((importable or named)[0], "class-name")
        by_file = self._by_source_file(source)
        if by_file is not None:
            return Resolution(by_file, "source-file")
        # Elyra 3.0-3.2 named KFP nodes "<file>_<squashed component name>"
        wanted = {_squash(x) for x in (_label(app), class_name, ref.legacy_id) if x}
        kfp = [c for c in self.components if c.kind == KFP and _squash(c.name) in wanted]
        if kfp:
            return Resolution(kfp[0], "component-name")
        return Resolution(None, message=_not_found(op, source, class_name))

    def _by_source_file(self, source: dict[str, Any]) -> Component | None:
        """A component whose file has the same name and hash key as the node's source says."""
        ref = (
            source.get("component_ref") if isinstance(source.get("component_ref"), dict) else source
        )
        for key in ("path", "component-id", "file", "url"):
            value = ref.get(key) if isinstance(ref, dict) else None
            if isinstance(value, str) and value:
                digest = elyra_hash({key: value}, (key,))
                found = self.by_hash.get(digest)
                if found:
                    return found[0]
        return None

    def _own_definition(
        self, app: dict[str, Any], ref: OpRef, pipeline_dir: Path | None
    ) -> Component | None:
        stored = (
            (app.get("mlpipe") or {}).get("component")
            if isinstance(app.get("mlpipe"), dict)
            else None
        )
        if isinstance(stored, dict) and isinstance(stored.get("definition"), str):
            return definition_component(stored, ref.class_name)
        source = component_source(app)
        ref_data = (
            source.get("component_ref") if isinstance(source.get("component_ref"), dict) else source
        )
        path = ref_data.get("path") if isinstance(ref_data, dict) else None
        if not isinstance(path, str) or not path or pipeline_dir is None:
            return None
        candidate = _inside(self.root, pipeline_dir, path)
        if candidate is None:
            return None
        try:
            text = candidate.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        kind = KFP if candidate.suffix.lower() in (".yaml", ".yml") else AIRFLOW
        try:
            return definition_component(
                {"kind": kind, "definition": text, "name": candidate.name}, ref.class_name
            )
        except ComponentError:
            return None


def definition_component(stored: dict[str, Any], class_name: str = "") -> Component | None:
    """The component a node carries with it: ``{"kind", "definition", "module"?, "name"?}``."""
    text = stored["definition"]
    name = str(stored.get("name") or "component")
    if stored.get("kind") == KFP:
        comp = parse_kfp(text, name)
        return replace(comp, id=f"node:{comp.name}")
    module = str(stored.get("module") or "")
    ops = parse_operators(text, module=module, filename=name)
    if class_name:
        ops = [o for o in ops if o.name == class_name]
    elif isinstance(stored.get("class"), str):
        ops = [o for o in ops if o.name == stored["class"]]
    return replace(ops[0], id=f"node:{ops[0].name}") if ops else None


def _inside(root: Path, pipeline_dir: Path, path: str) -> Path | None:
    """``path`` (relative to the pipeline's folder) when it is a file inside the project root."""
    if os.path.isabs(path) or "\\" in path:
        return None
    candidate = (pipeline_dir / path).resolve()
    try:
        candidate.relative_to(root.resolve())
    except ValueError:
        return None
    return candidate if candidate.is_file() else None


def _label(app: dict[str, Any]) -> str:
    ui = app.get("ui_data") if isinstance(app.get("ui_data"), dict) else {}
    for value in (app.get("label"), ui.get("label")):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _not_found(op: str, source: dict[str, Any], class_name: str) -> str:
    ref = source.get("component_ref") if isinstance(source.get("component_ref"), dict) else source
    where = ""
    if isinstance(ref, dict):
        for key in ("path", "url", "file", "component-id"):
            if ref.get(key):
                where = posixpath.basename(str(ref[key])) if key == "path" else str(ref[key])
                break
    what = f"operator {class_name}" if class_name else f"component '{op}'"
    catalog = source.get("catalog_type") if isinstance(source.get("catalog_type"), str) else ""
    hint = f" from {catalog}" if catalog else ""
    file_hint = f" ({where})" if where else ""
    node_type = f" (node type '{op}')" if class_name else ""
    return (
        f"The {what}{hint}{file_hint} is in none of the component catalogs{node_type}; add a catalog "
        "that holds it (Component Catalogs in the side bar, or `mlpipe catalog add "
        "component-catalogs`)."
    )
