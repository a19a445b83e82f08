"""The components of the component catalogs, for the palette (REST ``GET /components``) and the
CLI (``mlpipe components list``), and the index the planner resolves component nodes with.

Reading a catalog parses files (and may fetch URLs or open wheels): callers on the Jupyter
server's event loop run :meth:`Components.list` in an executor.
"""

from __future__ import annotations

from typing import Any

from ..components import ComponentIndex, component_schema
from ..components.model import Component
from .catalogs import COMPONENTS, Catalogs
from .workspace import Workspace

#: Parameters whose text is usually long (commands, queries, messages): a multi-line field.
_LONG_TEXT = ("command", "sql", "query", "script", "text", "content", "body", "message", "code")


def palette_schema(comp: Component) -> dict[str, Any]:
    """The component's properties as JSON Schema; text that Airflow templates, or that is
    usually long (a command, a query, a message), gets the multi-line form widget (textarea,
    as in the other node schemas)."""
    schema = component_schema(comp)
    for name, prop in schema["properties"].items():
        types = prop.get("type")
        text = types == "string" or (isinstance(types, list) and types[:1] == ["string"])
        if text and (prop.get("x-mlpipe-templated") or any(w in name for w in _LONG_TEXT)):
            prop["x-mlpipe-widget"] = "textarea"
    return schema


def palette_entry(comp: Component) -> dict[str, Any]:
    return {
        "id": comp.id,
        "label": comp.name,
        "description": comp.description,
        "catalog": comp.catalog,
        "kind": comp.kind,
        "schema": palette_schema(comp),
        # the op ids Elyra saved nodes of this component with (the editor gives them its form)
        "aliases": list(comp.elyra_ids),
    }


class Components:
    def __init__(self, workspace: Workspace, catalogs: Catalogs):
        self.workspace = workspace
        self.catalogs = catalogs

    def entries(self) -> list[dict[str, Any]]:
        return self.catalogs.list(COMPONENTS)

    def index(self) -> ComponentIndex:
        """Every component of every catalog entry (listings are cached per entry)."""
        return ComponentIndex(self.entries(), root=self.workspace.root)

    def list(self) -> dict[str, Any]:
        """``{"components": [...], "problems": [{"catalog", "message"}]}``: one palette entry per
        component id (the first catalog listing an id wins), and what could not be read."""
        entries = self.entries()
        problems: list[dict[str, Any]] = [
            {"catalog": str(e.get("name") or ""), "message": str(e["error"])}
            for e in entries
            if isinstance(e, dict) and e.get("error")
        ]
        index = ComponentIndex(entries, root=self.workspace.root)
        for listing in index.listings:
            problems += [{"catalog": listing.catalog, "message": m} for m in listing.problems]
        seen: set[str] = set()
        components = []
        for comp in index.components:
            if comp.id in seen:
                continue
            seen.add(comp.id)
            components.append(palette_entry(comp))
        return {"components": components, "problems": problems}
