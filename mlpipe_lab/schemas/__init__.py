"""The JSON Schemas shipped with mlpipe-lab: one file per concept, the single source of truth.

The same files are served to the frontend (forms), used by validation and by the CLI.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import marshal
import os
import sys
import tempfile
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

#: Concept name -> file in this package.
SCHEMA_FILES = {
    "pipeline-file": "pipeline-file.json",
    "pipeline-properties": "pipeline-properties.json",
    "node-properties": "node-properties.json",
    "runtime-image": "runtime-image.json",
    "runtime-config": "runtime-config.json",
    "component-catalog": "component-catalog.json",
}


class UnknownSchema(KeyError):
    pass


@cache
def _load(name: str) -> str:
    try:
        filename = SCHEMA_FILES[name]
    except KeyError:
        raise UnknownSchema(name) from None
    try:
        return resources.files(__package__).joinpath(filename).read_text(encoding="utf-8")
    except (OSError, TypeError, ValueError):
        # inside the runner zipapp (the serve tasks read their defaults): the archive's loader
        data = __loader__.get_data(os.path.join(os.path.dirname(__file__), filename))
        return data.decode("utf-8")


def load_schema(name: str) -> dict[str, Any]:
    """A fresh copy of the named schema (callers may mutate it)."""
    return json.loads(_load(name))


def schema_names() -> list[str]:
    return sorted(SCHEMA_FILES)


@cache
def validator(name: str, pointer: str = ""):
    """A jsonschema validator for a schema, or for a sub-schema at a JSON pointer ("/$defs/x").

    Built from the dereferenced schema: without $ref lookups validation is about twice as fast.
    """
    from jsonschema import Draft202012Validator

    return Draft202012Validator(dereference(name, pointer))


@cache
def quick_check(name: str, pointer: str = ""):
    """A fast yes/no validator (generated code, fastjsonschema) for large documents, or None.

    Generating it costs ~0.05-0.15 s; the compiled code is kept in the user's cache folder (see
    :func:`cache_dir`), so later processes load it in milliseconds. Callers still ask
    :func:`validator` for the readable list of errors when it says no.
    """
    try:
        import fastjsonschema
    except ImportError:
        return None
    schema = dereference(name, pointer)
    # fastjsonschema knows drafts up to 7; our schemas use no keyword that differs from it.
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    schema.pop("$id", None)
    namespace: dict[str, Any] = {}
    exec(_quick_code(schema, fastjsonschema), namespace)
    check = namespace["validate"]  # compile_to_code's entry point for a schema without $id

    def is_valid(instance: Any) -> bool:
        try:
            check(instance)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    return is_valid


def cache_dir() -> Path:
    """``$MLPIPE_CACHE_DIR``, else ``$XDG_CACHE_HOME/mlpipe-lab`` (default ``~/.cache/mlpipe-lab``)."""
    explicit = os.environ.get("MLPIPE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mlpipe-lab"


def quick_cached(name: str, pointer: str = "") -> bool:
    """True when the generated validator for this schema is already in the cache folder."""
    try:
        import fastjsonschema
    except ImportError:
        return False
    schema = dereference(name, pointer)
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    schema.pop("$id", None)
    path = _quick_path(schema, fastjsonschema)
    return path is not None and path.is_file()


def _quick_path(schema: dict[str, Any], fastjsonschema: Any) -> Path | None:
    # Keyed by everything the code depends on: the schema, the generator and the interpreter
    # (marshal's format is per Python version). None: no home folder to cache in.
    try:
        folder = cache_dir() / "validators"
    except (RuntimeError, KeyError):
        return None
    key = hashlib.sha256(
        "\0".join(
            [
                json.dumps(schema, sort_keys=True),
                fastjsonschema.VERSION,
                sys.version,
                importlib.util.MAGIC_NUMBER.hex(),
            ]
        ).encode("utf-8")
    ).hexdigest()[:32]
    return folder / f"{key}.marshal"


def _quick_code(schema: dict[str, Any], fastjsonschema: Any) -> Any:
    path = _quick_path(schema, fastjsonschema)
    if path is not None:
        try:
            return marshal.loads(path.read_bytes())
        except (OSError, ValueError, EOFError, TypeError):
            pass
    code = compile(
        fastjsonschema.compile_to_code(schema, use_default=False), "<mlpipe-lab validator>", "exec"
    )
    if path is None:
        return code
    try:  # a cache: when it cannot be written, the next process generates the code again
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(marshal.dumps(code))
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass
    return code


def dereference(name: str, pointer: str = "") -> dict[str, Any]:
    """The schema (or sub-schema) with every $ref inlined: self-contained, for forms.

    Our schemas are not recursive, so full inlining terminates.
    """
    return json.loads(_dereferenced(name, pointer))


@cache
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
