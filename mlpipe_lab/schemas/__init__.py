"""The JSON Schemas shipped with mlpipe-lab: one file per concept, the single source of truth.

The same files are served to the frontend (forms), used by validation and by the CLI.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

#: Concept name -> file in this package.
SCHEMA_FILES = {
    "pipeline-file": "pipeline-file.json",
    "pipeline-properties": "pipeline-properties.json",
    "node-properties": "node-properties.json",
    "runtime-image": "runtime-image.json",
    "runtime-config": "runtime-config.json",
}


class UnknownSchema(KeyError):
    pass


@lru_cache(maxsize=None)
def _load(name: str) -> str:
    try:
        filename = SCHEMA_FILES[name]
    except KeyError:
        raise UnknownSchema(name) from None
    return resources.files(__package__).joinpath(filename).read_text(encoding="utf-8")


def load_schema(name: str) -> dict[str, Any]:
    """A fresh copy of the named schema (callers may mutate it)."""
    return json.loads(_load(name))


def schema_names() -> list[str]:
    return sorted(SCHEMA_FILES)


@lru_cache(maxsize=None)
def validator(name: str, pointer: str = ""):
    """A jsonschema validator for a schema, or for a sub-schema at a JSON pointer ("/$defs/x").

    Built from the dereferenced schema: without $ref lookups validation is about twice as fast.
    """
    from jsonschema import Draft202012Validator

    return Draft202012Validator(dereference(name, pointer))


@lru_cache(maxsize=None)
def quick_check(name: str, pointer: str = ""):
    """A fast yes/no validator (generated code, fastjsonschema) for large documents, or None.

    Generating it costs ~0.05-0.15 s, so callers use it only when there is much to validate, and
    still ask :func:`validator` for the readable list of errors when it says no.
    """
    try:
        import fastjsonschema
    except ImportError:
        return None
    schema = dereference(name, pointer)
    # fastjsonschema knows drafts up to 7; our schemas use no keyword that differs from it.
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    schema.pop("$id", None)
    check = fastjsonschema.compile(schema, use_default=False)

    def is_valid(instance: Any) -> bool:
        try:
            check(instance)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    return is_valid


def dereference(name: str, pointer: str = "") -> dict[str, Any]:
    """The schema (or sub-schema) with every $ref inlined: self-contained, for forms.

    Our schemas are not recursive, so full inlining terminates.
    """
    return json.loads(_dereferenced(name, pointer))


@lru_cache(maxsize=None)
def _dereferenced(name: str, pointer: str) -> str:
    root = load_schema(name)
    docs = {SCHEMA_FILES[name]: root}

    def target(doc_name: str, ptr: str) -> Any:
        if doc_name not in docs:
            concept = next(k for k, v in SCHEMA_FILES.items() if v == doc_name)
            docs[doc_name] = load_schema(concept)
        node: Any = docs[doc_name]
        for part in [p for p in ptr.split("/") if p]:
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def walk(node: Any, doc_name: str) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                ref = node["$ref"]
                ref_doc, _, ptr = ref.partition("#")
                ref_doc = ref_doc or doc_name
                resolved = walk(target(ref_doc, ptr), ref_doc)
                rest = {k: walk(v, doc_name) for k, v in node.items() if k != "$ref"}
                return {**resolved, **rest} if isinstance(resolved, dict) else resolved
            return {k: walk(v, doc_name) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [walk(v, doc_name) for v in node]
        return node

    out = walk(target(SCHEMA_FILES[name], pointer), SCHEMA_FILES[name])
    out.setdefault("$schema", "https://json-schema.org/draft/2020-12/schema")
    return json.dumps(out)
