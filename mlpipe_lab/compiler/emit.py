"""A tiny code writer for generated DAG files.

The only way text reaches the output is through :func:`literal` (user data, always a Python literal
made by ``repr``) or through :class:`Name` / :class:`Call` / :class:`Splat`, whose identifiers are
checked here to be plain dotted Python names chosen by the compiler. User text can therefore never
become code. Comments go through :func:`comment`, which escapes line breaks and control characters.
"""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from ..plan.values import TemplateTextError, jinja_safe, needs_raw  # noqa: F401  (re-exported)

WIDTH = 100  # preferred line width; literals longer than this stay on one line
INDENT = "    "

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PLAIN = re.compile(r"[ !#-\[\]-~]*\Z")


class EmitError(ValueError):
    """A bug in the compiler (an unsafe identifier or value), never a user error."""


@lru_cache(maxsize=4096)
def _check_name(name: str, dotted: bool = False) -> str:
    if type(name) is not str:
        raise EmitError(f"not a safe identifier: {name!r}")
    parts = name.split(".") if dotted else [name]
    for part in parts:
        if not _IDENT.match(part) or keyword.iskeyword(part):
            raise EmitError(f"not a safe identifier: {name!r}")
    return name


class Name:
    """A reference to a name the compiler defined (a task variable, a module constant)."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = _check_name(name, dotted=True)


class Splat:
    """``**NAME`` inside a call or a dict, ``*NAME`` inside a list."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = _check_name(name)


class Args(list):
    """A command line (list of strings, and Splats of shared parts); when broken over lines,
    options fill each line and an option stays on the line of its values:
    ``"--kind", "python", "--file", "a.py",``."""


class Concat:
    """``A + B + ...``: strings joined when the module runs (e.g. a module constant and a
    literal); each part is emitted like any other value."""

    __slots__ = ("parts",)

    def __init__(self, *parts: Any):
        if len(parts) < 2:
            raise EmitError("a concatenation needs two parts")
        self.parts = parts


class Method:
    """``OBJ.name(key=value, ...)``: a method called on what a Call returns
    (``Operator.partial(...).expand(...)``)."""

    __slots__ = ("obj", "name", "kwargs")

    def __init__(self, obj: Any, name: str, kwargs: Sequence[tuple[str, Any]] = ()):
        self.obj = obj
        self.name = _check_name(name)
        self.kwargs = [(_check_name(k), v) for k, v in kwargs]

    def suffix(self) -> str:
        return "." + self.name + "(" + ", ".join(k + "=" + _inline(v) for k, v in self.kwargs) + ")"


class Call:
    """``func(arg, ..., key=value, ...)``; func is a dotted name the compiler chose."""

    __slots__ = ("func", "args", "kwargs", "multiline")

    def __init__(
        self, func: str, *args: Any, kwargs: Sequence[tuple[str, Any]] = (), multiline: bool = False
    ):
        self.func = _check_name(func, dotted=True)
        self.args = list(args)
        self.kwargs = [(k if isinstance(k, Splat) else _check_name(k), v) for k, v in kwargs]
        self.multiline = multiline


@lru_cache(maxsize=16384)
def _py_str(text: str) -> str:
    if _PLAIN.match(text):  # printable ASCII without quote or backslash: nothing to escape
        return '"' + text + '"'
    out = repr(text)
    if out[0] == "'" and '"' not in text:
        out = '"' + out[1:-1] + '"'
    return out


def py_str(text: str) -> str:
    """A Python string literal for any text, preferring double quotes. Built on repr(), so
    quotes, backslashes, newlines, control characters and lone surrogates are escaped."""
    if type(text) is not str:
        text = str(text)
    return _py_str(text)


def literal(value: Any) -> str:
    """Inline Python source for a plain value (str, int, float, bool, None, list, tuple, dict)."""
    return _inline(value)


def _float(value: float) -> str:
    if not math.isfinite(value):
        raise EmitError(f"not a finite number: {value!r}")
    return repr(float(value))


def _splat_outside(value: Splat) -> str:
    raise EmitError("a splat outside a container")


def _call(value: Call) -> str:
    return value.func + "(" + ", ".join(_call_items(value)) + ")"


def _list(value: list) -> str:
    return "[" + ", ".join([_list_item(v) for v in value]) + "]"


def _tuple(value: tuple) -> str:
    inner = ", ".join([_list_item(v) for v in value])
    return "(" + inner + ("," if len(value) == 1 else "") + ")"


def _dict(value: dict) -> str:
    return "{" + ", ".join([_dict_item(k, v) for k, v in value.items()]) + "}"


# Exact type -> how it is written. Looked up before the isinstance chain below (subclasses of
# these, such as Args or an int-like enum, take the slower way), because the compiler writes
# some 40 values per task.
_INLINE = {
    str: _py_str,
    bool: repr,
    type(None): repr,
    int: repr,
    float: _float,
    Name: lambda v: v.name,
    Splat: _splat_outside,
    Call: _call,
    Concat: lambda v: " + ".join(_inline(p) for p in v.parts),
    Method: lambda v: _inline(v.obj) + v.suffix(),
    list: _list,
    Args: _list,
    tuple: _tuple,
    dict: _dict,
}


_SCALARS = frozenset({str, bool, type(None), int, float, Name})


def _inline(value: Any) -> str:
    write = _INLINE.get(type(value))
    if write is not None:
        return write(value)
    if isinstance(value, str):
        return py_str(value)
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(int(value))
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, (list, tuple)):
        return _tuple(tuple(value)) if isinstance(value, tuple) else _list(value)
    if isinstance(value, dict):
        return _dict(value)
    raise EmitError(f"cannot emit a {type(value).__name__}")


def _list_item(value: Any) -> str:
    return "*" + value.name if type(value) is Splat else _inline(value)


def _dict_item(key: Any, value: Any) -> str:
    if type(key) is str:
        return _py_str(key) + ": " + _inline(value)
    if isinstance(key, Splat):
        return "**" + key.name
    if not isinstance(key, str):
        raise EmitError("dict keys must be strings")
    return py_str(key) + ": " + _inline(value)


def _call_items(call: Call) -> list[str]:
    items = [_inline(a) for a in call.args]
    for key, value in call.kwargs:
        items.append("**" + key.name if type(key) is Splat else key + "=" + _inline(value))
    return items


def render(value: Any, indent: int = 0, prefix: str = "") -> list[str]:
    """Lines of source for ``prefix + value`` at an indent level: on one line when it fits,
    else one item per line (recursively). A Call with multiline=True is always broken."""
    if type(value) is Method:
        lines = render(value.obj, indent, prefix)
        lines[-1] += value.suffix()
        return lines
    pad = INDENT * indent
    forced = isinstance(value, Call) and value.multiline
    if not forced:
        one = _inline(value)
        if len(pad) + len(prefix) + len(one) <= WIDTH or not _breakable(value):
            return [pad + prefix + one]
    if isinstance(value, Args):
        return _render_args(value, pad, prefix)
    if isinstance(value, Call):
        opener, closer = value.func + "(", ")"
        items = [(None, a) for a in value.args]
        for key, item in value.kwargs:
            items.append(("**", key) if isinstance(key, Splat) else (key + "=", item))
    elif isinstance(value, (list, tuple)):
        opener, closer = ("[", "]") if isinstance(value, list) else ("(", ")")
        items = [(None, v) for v in value]
    else:  # dict
        opener, closer = "{", "}"
        items = [
            ("**", k) if isinstance(k, Splat) else (py_str(k) + ": ", v) for k, v in value.items()
        ]
    lines = [pad + prefix + opener]
    inner = pad + INDENT
    for label, item in items:
        kind = type(item)
        if kind is Splat:
            star = "**" if label == "**" else "*"
            lines.append(inner + star + item.name + ",")
        elif kind in _SCALARS:  # never broken: one line whatever its length (as render would)
            lines.append(inner + (label or "") + _INLINE[kind](item) + ",")
        else:
            sub = render(item, indent + 1, label or "")
            sub[-1] += ","
            lines.extend(sub)
    lines.append(pad + closer)
    return lines


def _render_args(value: Args, pad: str, prefix: str) -> list[str]:
    """Options fill lines up to WIDTH; an option is never split from its values."""
    groups: list[list[str]] = []
    new_group = True
    for item in value:
        if type(item) is Splat:  # a shared part of the command line: a group of its own
            groups.append(["*" + item.name])
            new_group = True
            continue
        if not isinstance(item, str):
            raise EmitError("command lines hold strings and splats only")
        if new_group or item.startswith("--"):
            groups.append([])
            new_group = False
        groups[-1].append(py_str(item))
    inner = pad + INDENT
    lines = [pad + prefix + "["]
    current = ""
    for group in groups:
        text = ", ".join(group) + ","
        if current and len(inner) + len(current) + 1 + len(text) > WIDTH:
            lines.append(inner + current)
            current = ""
        current = current + " " + text if current else text
    if current:
        lines.append(inner + current)
    return lines + [pad + "]"]


def _breakable(value: Any) -> bool:
    if isinstance(value, Call):
        return bool(value.args or value.kwargs)
    return isinstance(value, (list, tuple, dict)) and len(value) > 0


def comment(text: str) -> str:
    """``# text`` with every non-printable character (newlines included) escaped."""
    return "# " + escape_for_comment(text)


def escape_for_comment(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class Writer:
    """Accumulates lines of a module."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def line(self, text: str = "", indent: int = 0) -> None:
        self.lines.append(INDENT * indent + text if text else "")

    def comment(self, text: str, indent: int = 0) -> None:
        self.line(comment(text), indent)

    def assign(self, name: str, value: Any, indent: int = 0) -> None:
        self.lines.extend(render(value, indent, _check_name(name) + " = "))

    def expr(self, value: Any, indent: int = 0) -> None:
        self.lines.extend(render(value, indent))

    def raw_lines(self, lines: Iterable[str]) -> None:
        """Compiler-written fixed source (imports); never called with user text."""
        self.lines.extend(lines)

    def text(self) -> str:
        return "\n".join(self.lines).rstrip("\n") + "\n"
