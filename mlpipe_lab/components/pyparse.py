"""Airflow operators read from Python source with ``ast``: never imported, never run.

For each operator class in a file: its parameters (from ``__init__``'s signature: names, defaults
that are literals, annotations), their descriptions and types from the docstring (``:param x:``,
``:type x:``), which of them Airflow templates (``template_fields``), its base classes as dotted
names (so a catalog can follow the chain across files) and whether ``**kwargs`` passes further
arguments on to them.

A class is an operator when one of its bases is ``BaseOperator`` / ``BaseSensorOperator``, a class
imported from an Airflow operators or sensors module, a class the caller knows to be one
(``known_operators``), or another operator of the same file.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Any

from .model import AIRFLOW, ANY, NOT_LITERAL, Component, ComponentError, Param

_AIRFLOW_OPERATOR_MODULE = re.compile(
    r"^airflow(\.providers\.[A-Za-z0-9_.]+)?\.(operators|sensors)(\.|$)|"
    r"^airflow\.(models|sdk)(\.baseoperator|\.bases\.operator|\.bases\.sensor)?$|"
    r"^airflow\.sensors\.base(_sensor_operator)?$"
)
_BASE_NAMES = {"BaseOperator", "BaseSensorOperator"}
_SKIPPED_ARGS = {"self", "cls", "args", "kwargs"}

# Type names (last part of a dotted name) -> JSON type.
_SIMPLE_TYPES = {
    "str": "string",
    "string": "string",
    "bytes": "string",
    "Path": "string",
    "PathLike": "string",
    "int": "integer",
    "integer": "integer",
    "float": "number",
    "number": "number",
    "bool": "boolean",
    "boolean": "boolean",
    "dict": "object",
    "Dict": "object",
    "Mapping": "object",
    "MutableMapping": "object",
    "OrderedDict": "object",
    "object": ANY,
    "Any": ANY,
    "list": "array",
    "List": "array",
    "Sequence": "array",
    "MutableSequence": "array",
    "Iterable": "array",
    "Collection": "array",
    "Container": "array",
    "tuple": "array",
    "Tuple": "array",
    "set": "array",
    "Set": "array",
    "frozenset": "array",
    "FrozenSet": "array",
}
_NONE_NAMES = {"None", "NoneType", "ArgNotSet", "NOTSET"}
_WRAPPERS = {"Optional", "Annotated", "Final", "ClassVar", "Required", "NotRequired"}
_NOT_LITERAL_HINTS = {
    "Callable",
    "callable",
    "function",
    "timedelta",
    "datetime",
    "date",
    "time",
    "Pattern",
    "Context",
    "Type",
    "type",
}


@dataclass
class _ClassInfo:
    node: ast.ClassDef
    bases: list[str]  # dotted, resolved through the file's imports


def parse_operators(
    source: str,
    *,
    module: str = "",
    filename: str = "<operator source>",
    known_operators: Collection[str] = (),
) -> list[Component]:
    """Every operator class defined at the top level of ``source``, in file order.

    ``module``: the dotted module the DAG imports them from ("" when not importable as such).
    ``known_operators``: dotted or bare names of classes known to be operators (from a catalog),
    so subclasses of operators defined in other files are found. Raises ComponentError when the
    source is not Python.
    """
    try:
        tree = ast.parse(source, filename=filename)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        raise ComponentError(
            f"{filename} is not valid Python{where}: {exc.__class__.__name__}"
        ) from None
    imports = _imports(tree)
    known = set(known_operators)
    known_bare = {k.rsplit(".", 1)[-1] for k in known}
    classes: dict[str, _ClassInfo] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            classes[node.name] = _ClassInfo(node, [_dotted(b, imports) for b in node.bases])

    def is_operator_base(dotted: str) -> bool:
        if not dotted:
            return False
        bare = dotted.rsplit(".", 1)[-1]
        if bare in _BASE_NAMES or dotted in known or bare in known_bare and "." not in dotted:
            return True
        head = dotted.rsplit(".", 1)[0] if "." in dotted else ""
        return bool(head) and bool(_AIRFLOW_OPERATOR_MODULE.match(head))

    operators: set[str] = set()
    changed = True
    while changed:  # operators may extend operators defined further down the file
        changed = False
        for name, info in classes.items():
            if name in operators:
                continue
            if any(is_operator_base(b) or b in operators for b in info.bases):
                operators.add(name)
                changed = True

    parsed = {name: _parse_class(classes[name], module) for name in classes if name in operators}
    out = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name in parsed:
            out.append(_inherit_local(parsed[node.name], parsed))
    return out


def _inherit_local(comp: Component, parsed: dict[str, Component], depth: int = 0) -> Component:
    """Parameters and template fields a class gets from operator bases in the same file."""
    if depth > 16 or not comp.accepts_kwargs:
        return comp
    params = list(comp.params)
    names = {p.name for p in params}
    fields = list(comp.template_fields)
    ext = list(comp.template_ext)
    accepts = comp.accepts_kwargs
    for base in comp.bases:
        local = parsed.get(base)
        if local is None:
            continue
        local = _inherit_local(local, parsed, depth + 1)
        for p in local.params:
            if p.name not in names and p.name not in comp.passes:
                params.append(replace(p, templated=p.name in (fields or local.template_fields)))
                names.add(p.name)
        if not fields:
            fields = list(local.template_fields)
        if not ext:
            ext = list(local.template_ext)
        accepts = local.accepts_kwargs
    return replace(
        comp,
        params=tuple(params),
        template_fields=tuple(fields),
        template_ext=tuple(ext),
        accepts_kwargs=accepts,
        bases=tuple(b for b in comp.bases if b not in parsed)
        + tuple(b for base in comp.bases if base in parsed for b in parsed[base].bases),
    )


def inherit(comp: Component, base: Component) -> Component:
    """``comp`` with the parameters it takes through ``**kwargs`` from ``base`` (another file's
    operator, resolved by a catalog); its own parameters win."""
    if not comp.accepts_kwargs:
        return comp
    names = {p.name for p in comp.params}
    fields = comp.template_fields or base.template_fields
    ext = comp.template_ext or base.template_ext
    extra = tuple(
        replace(p, templated=p.name in fields)
        for p in base.params
        if p.name not in names and p.name not in comp.passes
    )
    return replace(
        comp,
        params=comp.params + extra,
        template_fields=fields,
        template_ext=ext,
        accepts_kwargs=base.accepts_kwargs,
        bases=base.bases,
    )


# -- one class ----------------------------------------------------------------------------------


def _parse_class(info: _ClassInfo, module: str) -> Component:
    node = info.node
    doc = ast.get_docstring(node) or ""
    init = _init_of(node)
    fields = _template_fields(node)
    params: list[Param] = []
    accepts_kwargs = False
    problems: list[str] = []
    passes = _passed_to_base(init) if init is not None else ()
    if init is None:
        accepts_kwargs = True  # inherits the base class's __init__
    else:
        init_doc = ast.get_docstring(init) or ""
        docs = _param_docs(doc + "\n" + init_doc)
        accepts_kwargs = init.args.kwarg is not None
        for arg, default in _arguments(init.args):
            if arg.arg in _SKIPPED_ARGS or arg.arg.startswith("_"):
                continue
            params.append(_param(arg, default, docs.get(arg.arg, {}), arg.arg in fields))
    return Component(
        id=f"{module}.{node.name}" if module else node.name,
        kind=AIRFLOW,
        name=node.name,
        params=tuple(params),
        description=_summary(doc),
        module=module,
        bases=tuple(b for b in info.bases if b),
        accepts_kwargs=accepts_kwargs,
        passes=passes,
        template_fields=tuple(fields),
        template_ext=tuple(_template_fields(node, "template_ext")),
        problems=tuple(problems),
    )


def _passed_to_base(init: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[str, ...]:
    """Keyword arguments ``__init__`` gives the base class itself: ``super().__init__(x=...)``
    or ``Base.__init__(self, x=...)`` (a subclass's user cannot set them)."""
    names: list[str] = []
    for node in ast.walk(init):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "__init__"
        ):
            names += [k.arg for k in node.keywords if k.arg]
    return tuple(dict.fromkeys(names))


def _init_of(node: ast.ClassDef) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == "__init__":
            return item
    return None


def _arguments(args: ast.arguments) -> list[tuple[ast.arg, ast.expr | None]]:
    positional = list(args.posonlyargs) + list(args.args)
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += list(args.defaults)
    out = list(zip(positional, defaults))
    out += list(zip(args.kwonlyargs, args.kw_defaults))
    return out


def _template_fields(node: ast.ClassDef, attribute: str = "template_fields") -> list[str]:
    for item in node.body:
        target: ast.expr | None = None
        value: ast.expr | None = None
        if isinstance(item, ast.Assign) and len(item.targets) == 1:
            target, value = item.targets[0], item.value
        elif isinstance(item, ast.AnnAssign):
            target, value = item.target, item.value
        if isinstance(target, ast.Name) and target.id == attribute and value is not None:
            return _strings_in(value)
    return []


def _strings_in(value: ast.expr) -> list[str]:
    """The string constants of a tuple/list/set expression (``*Base.template_fields`` parts and
    other names are skipped: only what the file itself says)."""
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return [value.value]
    if isinstance(value, (ast.Tuple, ast.List, ast.Set)):
        return [
            e.value for e in value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
        ]
    if isinstance(value, ast.BinOp):  # ("a",) + Base.template_fields
        return _strings_in(value.left) + _strings_in(value.right)
    return []


def _param(arg: ast.arg, default: ast.expr | None, doc: dict[str, str], templated: bool) -> Param:
    annotation = ast.unparse(arg.annotation) if arg.annotation is not None else ""
    doc_type = doc.get("type", "")
    type_text = annotation or doc_type
    json_type, nullable = map_type(type_text)
    has_default = False
    value: Any = None
    if default is not None:
        try:
            value = ast.literal_eval(default)
            has_default = _is_json(value)
            if isinstance(value, tuple):
                value = list(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            value = None
        if value is None and not has_default and _is_none(default):
            has_default, value = True, None
        if value is None:
            nullable = True
        if json_type == ANY and has_default and value is not None:
            json_type = _json_type_of(value)
        if json_type == ANY and isinstance(default, ast.Lambda):
            json_type = NOT_LITERAL  # a function by default: takes a function
    if not type_text and default is None:
        json_type = "string"  # Elyra's rule for an argument with nothing to go by
    return Param(
        name=arg.arg,
        type=json_type,
        required=default is None,
        default=value if has_default else None,
        has_default=has_default,
        description=doc.get("param", ""),
        type_text=type_text,
        templated=templated,
        nullable=nullable,
    )


def _is_none(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Name)
        and node.id in _NONE_NAMES
        or (isinstance(node, ast.Attribute) and node.attr in _NONE_NAMES)
    )


def _is_json(value: Any) -> bool:
    if value is None or isinstance(value, (str, bool, int)):
        return True
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    if isinstance(value, (list, tuple)):
        return all(_is_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


def _json_type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return ANY


# -- types --------------------------------------------------------------------------------------


def map_type(text: str) -> tuple[str, bool]:
    """A type as written (annotation or docstring) -> (JSON type, accepts None).

    Unions of literal types become ``"integer|array"``; a type that only code can give (a
    callable, a timedelta, a class) is NOT_LITERAL; what we cannot tell is ANY.
    """
    text = (text or "").strip().strip("'\"")
    if not text:
        return ANY, False
    try:
        expr = ast.parse(text, mode="eval").body
    except SyntaxError:
        # docstring forms: "str or None", "list[str] | None", "dict (templated)"
        words = re.split(r"\s+or\s+|\s*\|\s*|\s*,\s*", re.sub(r"\(.*?\)", "", text))
        parts = [w for w in (w.strip() for w in words) if w]
        if len(parts) > 1 or (parts and parts[0] != text):
            return _union([map_type(p) for p in parts])
        return ANY, False
    return _map_expr(expr)


def _union(members: list[tuple[str, bool]]) -> tuple[str, bool]:
    nullable = any(n for _, n in members)
    types: list[str] = []
    for t, _ in members:
        if t == "null":
            nullable = True
            continue
        for part in t.split("|"):
            if part not in types:
                types.append(part)
    if not types:
        return ANY, True
    if NOT_LITERAL in types:
        literal = [t for t in types if t != NOT_LITERAL]
        if not literal:
            return NOT_LITERAL, nullable
        types = literal  # e.g. "str | Callable": a literal of the other kinds still works
    if ANY in types:
        return ANY, nullable
    return "|".join(types), nullable


def _map_expr(expr: ast.expr) -> tuple[str, bool]:
    if isinstance(expr, ast.Constant):
        if expr.value is None:
            return "null", True
        if isinstance(expr.value, str):  # a forward reference "Foo"
            return map_type(expr.value)
        return ANY, False
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.BitOr):
        return _union([_map_expr(expr.left), _map_expr(expr.right)])
    if isinstance(expr, ast.BoolOp) and isinstance(expr.op, ast.Or):  # docstrings: "str or None"
        return _union([_map_expr(v) for v in expr.values])
    if isinstance(expr, ast.Subscript):
        head = _last_name(expr.value)
        inner = expr.slice
        members = list(inner.elts) if isinstance(inner, ast.Tuple) else [inner]
        if head == "Optional":
            t, _ = _map_expr(members[0])
            return t, True
        if head == "Union":
            return _union([_map_expr(m) for m in members])
        if head in _WRAPPERS:
            return _map_expr(members[0])
        if head == "Literal":
            values = [m.value for m in members if isinstance(m, ast.Constant)]
            return _union([(_json_type_of(v), v is None) for v in values] or [(ANY, False)])
        return _name_type(head)
    name = _last_name(expr)
    if name in _NONE_NAMES:
        return "null", True
    return _name_type(name)


def _name_type(name: str) -> tuple[str, bool]:
    if name in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[name], False
    if name in _NOT_LITERAL_HINTS or (name[:1].isupper() and name not in _SIMPLE_TYPES):
        return NOT_LITERAL, False
    return ANY, False


def _last_name(expr: ast.expr) -> str:
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        return expr.attr
    return ""


# -- imports and names --------------------------------------------------------------------------


def _imports(tree: ast.Module) -> dict[str, str]:
    """Local name -> dotted origin, for the file's top-level (and try/except) imports."""
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                out.setdefault(alias.asname or alias.name, f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                out.setdefault(alias.asname or alias.name.split(".")[0], alias.name)
    return out


def _dotted(expr: ast.expr, imports: dict[str, str]) -> str:
    parts: list[str] = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return ""  # Generic[T], a call, ...: not a class we can follow
    head = imports.get(expr.id, expr.id)
    return ".".join([head, *reversed(parts)])


# -- docstrings ---------------------------------------------------------------------------------

_FIELD = re.compile(r"^\s*:(param|type)\s+(?:[\w\[\], |.]+\s+)?(\*{0,2}\w+)\s*:(.*)$")
_ANY_FIELD = re.compile(r"^\s*:\w[\w ]*:")
_DIRECTIVE = re.compile(r"^\s*\.\.\s")


def _param_docs(doc: str) -> dict[str, dict[str, str]]:
    """``:param name: text`` and ``:type name: text`` (reST, as Airflow writes them), with their
    indented continuation lines, per parameter."""
    found: dict[str, dict[str, list[str]]] = {}
    current: list[str] | None = None
    for line in doc.splitlines():
        match = _FIELD.match(line)
        if match:
            kind, name, text = match.groups()
            current = [text.strip()]
            found.setdefault(name.lstrip("*"), {})[kind] = current
        elif current is not None:
            continued = line[:1].isspace() and line.strip()
            if continued and not _ANY_FIELD.match(line) and not _DIRECTIVE.match(line):
                current.append(line.strip())
            else:
                current = None
    return {
        name: {kind: " ".join(p for p in parts if p) for kind, parts in kinds.items()}
        for name, kinds in found.items()
    }


def _summary(doc: str) -> str:
    """The docstring's first paragraph, on one line."""
    lines: list[str] = []
    for line in doc.splitlines():
        if _ANY_FIELD.match(line) or _DIRECTIVE.match(line) or (not line.strip() and lines):
            break
        if line.strip():
            lines.append(line.strip())
    return " ".join(lines)
