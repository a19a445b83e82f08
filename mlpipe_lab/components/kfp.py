"""Kubeflow Pipelines components read from their YAML: v1 component specs
(``implementation.container``) and v2 pipeline specs of one component (``deploymentSpec``).

Only data is read (``yaml.safe_load``); nothing is run. Parameter names follow Elyra's rule
(``"curl options"`` -> ``curl_options``; outputs are ``output_<name>``) so nodes saved by Elyra
find their values.
"""

from __future__ import annotations

import re
from typing import Any

from .model import KFP, Component, ComponentError, KfpContainer, Output, Param

# KFP v1 type names -> JSON types of the value a node gives (a JSON object/array may also be given
# as its text, as Elyra stored them).
_V1_TYPES = {
    "string": "string",
    "str": "string",
    "integer": "integer",
    "int": "integer",
    "float": "number",
    "double": "number",
    "bool": "boolean",
    "boolean": "boolean",
    "jsonobject": "object|string",
    "dict": "object|string",
    "jsonarray": "array|string",
    "list": "array|string",
}
# KFP v2 parameterType -> JSON type
_V2_TYPES = {
    "STRING": "string",
    "NUMBER_INTEGER": "integer",
    "NUMBER_DOUBLE": "number",
    "BOOLEAN": "boolean",
    "STRUCT": "object|string",
    "LIST": "array|string",
}
_V1_PLACEHOLDERS = {"inputValue", "inputPath", "outputPath", "inputUri", "outputUri"}


def elyra_key(name: str) -> str:
    """Elyra's property id for a KFP input: lower case, spaces -> '_'."""
    return name.lower().replace(" ", "_")


def parse_kfp(text: str, filename: str = "<component>") -> Component:
    """One component from the YAML text of a KFP v1 component or a v2 (IR) component spec.
    Raises ComponentError naming what is wrong."""
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ComponentError(f"{filename} is not valid YAML{where}") from None
    if not isinstance(doc, dict):
        raise ComponentError(f"{filename} is not a KFP component (not a YAML mapping)")
    if "deploymentSpec" in doc or "pipelineInfo" in doc:
        return _v2(doc, filename)
    if isinstance(doc.get("implementation"), dict):
        return _v1(doc, filename)
    raise ComponentError(
        f"{filename} is not a KFP component: it has neither implementation.container (v1) "
        "nor deploymentSpec (v2)"
    )


def _text(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


# -- v1 -----------------------------------------------------------------------------------------


def _v1(doc: dict[str, Any], filename: str) -> Component:
    impl = doc["implementation"]
    container = impl.get("container")
    if not isinstance(container, dict):
        kind = "a graph of components" if "graph" in impl else "no container"
        raise ComponentError(
            f"{filename}: the component's implementation is {kind}; only container components run on Airflow"
        )
    image = container.get("image")
    if not isinstance(image, str) or not image.strip():
        raise ComponentError(f"{filename}: implementation.container.image is missing")
    name = doc.get("name") if isinstance(doc.get("name"), str) else ""
    command = _v1_list(container.get("command"), filename, "command")
    args = _v1_list(container.get("args"), filename, "args")
    used = _v1_placeholders(list(command) + list(args))
    params: list[Param] = []
    seen: set[str] = set()
    for entry in doc.get("inputs") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ComponentError(f"{filename}: every input needs a name")
        raw_name = entry["name"]
        key = elyra_key(raw_name)
        if key in seen:
            raise ComponentError(f"{filename}: two inputs are both called '{key}'")
        seen.add(key)
        type_text = entry.get("type") if isinstance(entry.get("type"), str) else ""
        as_path = used.get(raw_name) in ("inputPath", "inputUri")
        json_type = "string" if as_path else _V1_TYPES.get(type_text.lower(), "string")
        has_default = "default" in entry and entry["default"] is not None
        optional = entry.get("optional") is True
        params.append(
            Param(
                name=key,
                type=json_type,
                required=not optional and not has_default,
                default=_coerce(entry.get("default"), json_type) if has_default else None,
                has_default=has_default,
                description=_text(entry.get("description")),
                type_text=type_text,
                title=raw_name,
                path=as_path,
                nullable=optional,
            )
        )
    outputs = []
    for entry in doc.get("outputs") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ComponentError(f"{filename}: every output needs a name")
        outputs.append(
            Output(
                name=entry["name"],
                key="output_" + elyra_key(entry["name"]),
                description=_text(entry.get("description")),
                type_text=entry.get("type") if isinstance(entry.get("type"), str) else "",
            )
        )
    names = {p.title for p in params} | {o.name for o in outputs}
    for placeholder_name, kind in used.items():
        if placeholder_name not in names:
            raise ComponentError(
                f"{filename}: the command uses {{{kind}: {placeholder_name}}}, which is neither "
                "an input nor an output of the component"
            )
    env = container.get("env") if isinstance(container.get("env"), dict) else {}
    return Component(
        id=name or filename,
        kind=KFP,
        name=name or filename,
        params=tuple(params),
        description=_text(doc.get("description")),
        outputs=tuple(outputs),
        container=KfpContainer(
            image=image.strip(),
            command=command,
            args=args,
            env=tuple((str(k), str(v)) for k, v in env.items()),
            version=1,
        ),
    )


def _v1_list(value: Any, filename: str, field: str) -> tuple[Any, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ComponentError(f"{filename}: implementation.container.{field} must be a list")
    return tuple(value)


def _v1_placeholders(items: list[Any]) -> dict[str, str]:
    """Input/output name -> placeholder kind (inputValue, inputPath, outputPath, ...) used in
    a v1 command line, looking into concat and if/then/else."""
    found: dict[str, str] = {}

    def walk(item: Any) -> None:
        if isinstance(item, list):
            for i in item:
                walk(i)
        elif isinstance(item, dict):
            for key, value in item.items():
                if key in _V1_PLACEHOLDERS and isinstance(value, str):
                    found.setdefault(value, key)
                elif key in ("concat", "then", "else"):
                    walk(value)
                elif key == "if" and isinstance(value, dict):
                    walk(value.get("then"))
                    walk(value.get("else"))

    walk(items)
    return found


def _coerce(value: Any, json_type: str) -> Any:
    """A KFP default (always written as text in v1) as the parameter's JSON type."""
    if not isinstance(value, str):
        return value
    try:
        if json_type == "integer":
            return int(value)
        if json_type == "number":
            return float(value)
    except ValueError:
        return value
    if json_type == "boolean" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


# -- v2 -----------------------------------------------------------------------------------------

_V2_REF = re.compile(r"\{\{\$\.(inputs|outputs)\.(parameters|artifacts)\['([^']+)'\]")


def _v2(doc: dict[str, Any], filename: str) -> Component:
    components = doc.get("components") if isinstance(doc.get("components"), dict) else {}
    root = doc.get("root") if isinstance(doc.get("root"), dict) else {}
    tasks = (root.get("dag") or {}).get("tasks") if isinstance(root.get("dag"), dict) else None
    if isinstance(tasks, dict) and len(tasks) != 1:
        raise ComponentError(
            f"{filename} is a KFP pipeline of {len(tasks)} components; save each component "
            "in its own file to use it as a node"
        )
    if isinstance(tasks, dict):
        task = next(iter(tasks.values()))
        ref = ((task or {}).get("componentRef") or {}).get("name")
        spec = components.get(ref) if isinstance(ref, str) else None
    else:  # a component spec compiled on its own: root is the component
        spec = root
    if not isinstance(spec, dict):
        raise ComponentError(f"{filename}: the component's definition is missing from 'components'")
    executors = ((doc.get("deploymentSpec") or {}).get("executors")) or {}
    executor = executors.get(spec.get("executorLabel")) if isinstance(executors, dict) else None
    container = (executor or {}).get("container") if isinstance(executor, dict) else None
    if not isinstance(container, dict):
        raise ComponentError(
            f"{filename}: deploymentSpec has no container for executor '{spec.get('executorLabel')}'"
        )
    image = container.get("image")
    if not isinstance(image, str) or not image.strip():
        raise ComponentError(f"{filename}: the executor's container has no image")
    inputs = spec.get("inputDefinitions") or {}
    outputs_def = spec.get("outputDefinitions") or {}
    params: list[Param] = []
    for key, entry in (inputs.get("parameters") or {}).items():
        entry = entry if isinstance(entry, dict) else {}
        kind = entry.get("parameterType") or entry.get("type") or "STRING"
        json_type = _V2_TYPES.get(str(kind), "string")
        has_default = "defaultValue" in entry
        params.append(
            Param(
                name=elyra_key(key),
                type=json_type,
                required=not entry.get("isOptional") and not has_default,
                default=entry.get("defaultValue") if has_default else None,
                has_default=has_default,
                description=_text(entry.get("description")),
                type_text=str(kind),
                title=key,
                nullable=bool(entry.get("isOptional")),
            )
        )
    for key, entry in (inputs.get("artifacts") or {}).items():
        entry = entry if isinstance(entry, dict) else {}
        params.append(
            Param(
                name=elyra_key(key),
                type="string",
                required=not entry.get("isOptional"),
                description=_text(entry.get("description")),
                type_text=str((entry.get("artifactType") or {}).get("schemaTitle", "")),
                title=key,
                path=True,
                nullable=bool(entry.get("isOptional")),
            )
        )
    outputs: list[Output] = []
    for group, parameter in (("artifacts", False), ("parameters", True)):
        for key, entry in (outputs_def.get(group) or {}).items():
            entry = entry if isinstance(entry, dict) else {}
            outputs.append(
                Output(
                    name=key,
                    key="output_" + elyra_key(key),
                    description=_text(entry.get("description")),
                    parameter=parameter,
                )
            )
    command = tuple(container.get("command") or ())
    args = tuple(container.get("args") or ())
    known = {(p.title, "inputs") for p in params} | {(o.name, "outputs") for o in outputs}
    for item in command + args:
        if not isinstance(item, str):
            raise ComponentError(f"{filename}: v2 command lines hold strings only")
        for side, _, name in _V2_REF.findall(item):
            if (name, side) not in known:
                raise ComponentError(
                    f"{filename}: the command refers to {side} '{name}', which the component does not define"
                )
    name = ((doc.get("pipelineInfo") or {}).get("name")) or ""
    env = {
        e["name"]: str(e.get("value", ""))
        for e in container.get("env") or []
        if isinstance(e, dict) and isinstance(e.get("name"), str)
    }
    return Component(
        id=name or filename,
        kind=KFP,
        name=name or filename,
        params=tuple(params),
        description=_text(
            doc.get("description") or (doc.get("pipelineInfo") or {}).get("description")
        ),
        outputs=tuple(outputs),
        container=KfpContainer(
            image=image.strip(),
            command=command,
            args=args,
            env=tuple(env.items()),
            version=2,
        ),
    )


# -- the command line of a node ------------------------------------------------------------------

_V2_PLACEHOLDER = re.compile(
    r"\{\{\$\.(inputs|outputs)\.(parameters|artifacts)\['([^']+)'\](?:\.(path|uri|output_file))?\}\}"
)


def resolve_command(
    comp: Component,
    values: dict[str, Any],
    files: dict[str, str],
    outputs: dict[str, str],
) -> tuple[list[Any], list[Any]]:
    """(command, args) of a component's container with its placeholders replaced.

    ``values``: parameter name -> its value (text, or a run-time value such as
    ``plan.values.ParamRef``: text and run-time values are joined with ``+``); ``files``: parameter
    name -> the path the component reads it from; ``outputs``: output key -> the path it writes.
    An argument made only of an input that is not given is left out (as KFP's ``isPresent``
    branches say). Raises ValueError naming what the command needs and the node lacks."""
    container = comp.container
    if container is None:
        raise ValueError("it runs no container")
    by_title = {p.title or p.name: p for p in comp.params}
    out_key = {o.name: o.key for o in comp.outputs}

    def input_of(name: str, as_path: bool) -> Any:
        p = by_title.get(name)
        key = p.name if p is not None else elyra_key(name)
        if as_path:
            if key in files:
                return files[key]
            raise ValueError(f"the input '{name}' is read as a file and has no value")
        if key in values:
            return values[key]
        return _ABSENT

    def output_of(name: str) -> str:
        key = out_key.get(name, "output_" + elyra_key(name))
        return outputs.get(key, f"/tmp/outputs/{key}")

    def v1(item: Any) -> list[Any]:
        if isinstance(item, str):
            return [item]
        if isinstance(item, (int, float, bool)):
            return [str(item).lower() if isinstance(item, bool) else str(item)]
        if not isinstance(item, dict) or len(item) != 1:
            raise ValueError(f"the command holds {item!r}, which is not a KFP placeholder")
        ((kind, arg),) = item.items()
        if kind == "inputValue":
            value = input_of(str(arg), False)
            return [] if value is _ABSENT else [value]
        if kind in ("inputPath", "inputUri"):
            return [input_of(str(arg), True)]
        if kind in ("outputPath", "outputUri"):
            return [output_of(str(arg))]
        if kind == "concat":
            parts: list[Any] = []
            for part in arg if isinstance(arg, list) else [arg]:
                got = v1(part)
                if not got:
                    return []
                parts += got
            joined: Any = ""
            for part in parts:
                joined = joined + part
            return [joined]
        if kind == "if" and isinstance(arg, dict):
            cond = arg.get("cond")
            branch = arg.get("then") if _present(cond, input_of) else arg.get("else")
            out: list[Any] = []
            for part in branch if isinstance(branch, list) else ([branch] if branch else []):
                out += v1(part)
            return out
        raise ValueError(f"the command uses the placeholder '{kind}', which is not supported")

    def v2(item: Any) -> list[Any]:
        text = str(item)
        pieces: list[Any] = []
        last = 0
        for match in _V2_PLACEHOLDER.finditer(text):
            pieces.append(text[last : match.start()])
            side, group, name, attr = match.groups()
            if side == "outputs":
                pieces.append(output_of(name))
            elif group == "artifacts" or attr:
                pieces.append(input_of(name, True))
            else:
                value = input_of(name, False)
                if value is _ABSENT:
                    return []
                pieces.append(value)
            last = match.end()
        pieces.append(text[last:])
        joined: Any = ""
        for part in pieces:
            if part != "":
                joined = joined + part
        return [joined]

    expand = v1 if container.version == 1 else v2
    command = [x for item in container.command for x in expand(item)]
    args = [x for item in container.args for x in expand(item)]
    return command, args


_ABSENT = object()


def _present(cond: Any, input_of: Any) -> bool:
    if isinstance(cond, dict) and "isPresent" in cond:
        return input_of(str(cond["isPresent"]), False) is not _ABSENT
    if isinstance(cond, bool):
        return cond
    if isinstance(cond, str):
        return cond.strip().lower() == "true"
    return bool(cond)
