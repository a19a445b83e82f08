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

#: The form widget of a component's properties in the node properties panel.
WIDGET = "operator-arg"


def palette_schema(comp: Component) -> dict[str, Any]:
    """The component's properties as JSON Schema, each annotated with its form widget."""
    schema = component_schema(comp)
    for prop in schema["properties"].values():
        prop["x-mlpipe-widget"] = WIDGET
    return schema


def palette_entry(comp: Component) -> dict[str, Any]:
    return {
        "id": comp.id,
        "label": comp.name,
        "description": comp.description,
        "catalog": comp.catalog,
        "kind": comp.kind,
        "schema": palette_schema(comp),
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
