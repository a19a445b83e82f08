"""What a component is, once read: an Airflow operator class or a Kubeflow Pipelines component.

Both are described by their parameters (name, JSON type, default, required, description), which
is all the properties form, validation and the compiler need. Nothing here imports or runs the
code a component comes from: operators are read with ``ast``, KFP components as YAML data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

AIRFLOW = "airflow-operator"
KFP = "kfp-component"

#: JSON types a parameter can take as a literal in the DAG file.
LITERAL_TYPES = ("string", "integer", "number", "boolean", "object", "array")
#: A parameter whose type is known but cannot be written as a literal (a callable, a timedelta,
#: an object of some class): it can only be left to its default.
NOT_LITERAL = "not-literal"
#: Any JSON value (an annotation we could not map, or a union of several types).
ANY = "any"


@dataclass(frozen=True)
class Param:
    name: str  # the keyword argument (operators) or the input's name (KFP)
    type: str = ANY  # one of LITERAL_TYPES, ANY or NOT_LITERAL
    required: bool = False
    default: Any = None  # a JSON value; meaningful when has_default
    has_default: bool = False  # False also when the default is code we do not evaluate
    description: str = ""
    type_text: str = ""  # the type as the source wrote it (annotation, docstring or KFP type)
    templated: bool = False  # Airflow renders it with Jinja (in template_fields)
    nullable: bool = False  # accepts None (Optional[...], "| None", default None)
    title: str = ""  # KFP: the input's name as written ("curl options"); else empty
    path: bool = False  # KFP: the component reads it as a file ({inputPath: ...})

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "required": self.required}
        if self.has_default:
            out["default"] = self.default
        for key in ("description", "type_text", "title"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        for key in ("templated", "nullable", "path"):
            if getattr(self, key):
                out[key] = True
        return out


@dataclass(frozen=True)
class Output:
    """A KFP component output ({outputPath: name} or a v2 output parameter/artifact)."""

    name: str  # as written in the component
    key: str  # Elyra's reference for it: "output_<snake name>"
    description: str = ""
    type_text: str = ""
    parameter: bool = False  # v2 output parameter (a value) rather than an artifact (a file)


@dataclass(frozen=True)
class KfpContainer:
    """The container a KFP component runs: image, and command/args as KFP placeholders."""

    image: str
    command: tuple[Any, ...] = ()
    args: tuple[Any, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    version: int = 1  # 1: v1 YAML placeholders ({inputValue: x}); 2: v2 IR strings


@dataclass(frozen=True)
class Component:
    """One component of a catalog.

    ``id``: stable within mlpipe-lab: ``<catalog name>:<reference>``. ``elyra_ids``: the ids Elyra
    gives the same component (``<catalog type>:<sha256 of its reference>[:<Class>]``), so pipelines
    saved by Elyra resolve to it.
    """

    id: str
    kind: str  # AIRFLOW or KFP
    name: str  # class name (operators) or component name (KFP)
    params: tuple[Param, ...] = ()
    description: str = ""
    catalog: str = ""  # name of the catalog it came from ("" for a node's own definition)
    reference: dict[str, Any] = field(default_factory=dict)  # where it is in its catalog
    elyra_ids: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    # Airflow operators
    module: str = ""  # the module the DAG imports the class from ("" when unknown)
    bases: tuple[str, ...] = ()  # base classes, dotted as the source imported them
    accepts_kwargs: bool = False  # **kwargs in __init__ (passed on to the base class)
    passes: tuple[str, ...] = ()  # base class arguments __init__ gives itself (super().__init__)
    template_fields: tuple[str, ...] = ()
    template_ext: tuple[str, ...] = ()  # a templated string ending so is read as a file name
    # Kubeflow Pipelines components
    outputs: tuple[Output, ...] = ()
    container: KfpContainer | None = None
    problems: tuple[str, ...] = ()  # what was odd when reading it (shown in the catalog)

    def param(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name:
                return p
        return None

    @property
    def import_path(self) -> str:
        return f"{self.module}.{self.name}" if self.module else ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "description": self.description,
            "catalog": self.catalog,
            "params": [p.to_json() for p in self.params],
        }
        if self.elyra_ids:
            out["elyra_ids"] = list(self.elyra_ids)
        if self.categories:
            out["categories"] = list(self.categories)
        if self.kind == AIRFLOW:
            out["module"] = self.module
            if self.template_fields:
                out["template_fields"] = list(self.template_fields)
        if self.outputs:
            out["outputs"] = [
                {"name": o.name, "key": o.key, "description": o.description} for o in self.outputs
            ]
        if self.container is not None:
            out["image"] = self.container.image
        if self.problems:
            out["problems"] = list(self.problems)
        return out


class ComponentError(ValueError):
    """A component definition that cannot be read (not Python, not a KFP component, ...)."""
