"""Read what a generated DAG file asks Airflow to do, without importing Airflow or executing it.

Local runs start exactly the commands the DAG's pods would start, so they read them from the
DAG text: module constants (``RUNNER``, ``TASK_ENV``, ``POD_SETTINGS``...), the ``DAG(...)`` call
and each ``KubernetesPodOperator(...)`` with its ``cmds``, ``arguments``, ``env_vars``,
``trigger_rule`` and timeouts, and the ``a >> b`` dependencies. The file is only parsed (``ast``);
values are evaluated from literals, names defined earlier and ``**``/``*`` splats. Other calls
(``Param``, ``k8s.V1...``, ``Secret``) become :class:`Opaque` values, ``timedelta`` a real one.

:func:`render` then renders the Jinja templates the way Airflow would (``{{ run_id }}``,
``{{ params.x | tojson }}``, ``{% raw %}``...).
"""

from __future__ import annotations

import ast
import datetime as _dt
from dataclasses import dataclass, field
from typing import Any


class DagFileError(ValueError):
    """The DAG text does not have the shape mlpipe-lab generates."""


@dataclass
class Opaque:
    """A call the reader does not evaluate (kept for inspection)."""

    func: str
    args: list[Any]
    kwargs: dict[str, Any]


@dataclass
class DagTask:
    task_id: str
    operator: str
    kwargs: dict[str, Any]  # effective keyword arguments (splats applied)
    upstream: list[str] = field(default_factory=list)

    @property
    def cmds(self) -> list[str]:
        return list(self.kwargs.get("cmds") or [])

    @property
    def arguments(self) -> list[str]:
        return list(self.kwargs.get("arguments") or [])

    @property
    def env_vars(self) -> dict[str, str]:
        env = self.kwargs.get("env_vars") or {}
        return dict(env) if isinstance(env, dict) else {}

    @property
    def trigger_rule(self) -> str:
        rule = self.kwargs.get("trigger_rule")
        return rule if isinstance(rule, str) and rule else "all_success"

    @property
    def secrets(self) -> list[Opaque]:
        value = self.kwargs.get("secrets") or []
        return [s for s in value if isinstance(s, Opaque)] if isinstance(value, list) else []


@dataclass
class DagFile:
    dag_id: str
    dag_kwargs: dict[str, Any]
    tasks: dict[str, DagTask]  # in file order (which is a topological order)
    constants: dict[str, Any]

    @property
    def default_args(self) -> dict[str, Any]:
        value = self.dag_kwargs.get("default_args") or {}
        return value if isinstance(value, dict) else {}

    def setting(self, task: DagTask, name: str) -> Any:
        """A task setting, falling back to the DAG's default_args (as Airflow does)."""
        if name in task.kwargs:
            return task.kwargs[name]
        return self.default_args.get(name)

    def timeout_seconds(self, task: DagTask) -> float | None:
        value = self.setting(task, "execution_timeout")
        return value.total_seconds() if isinstance(value, _dt.timedelta) else None


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return _dotted(node.value) + "." + node.attr
    raise DagFileError(
        f"unexpected callee {type(node).__name__} at line {getattr(node, 'lineno', '?')}"
    )


def _eval(node: ast.AST, env: dict[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise DagFileError(
                f"name {node.id!r} is used before it is defined (line {node.lineno})"
            )
        return env[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _eval(node.operand, env)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, (ast.List, ast.Tuple)):
        items: list[Any] = []
        for elt in node.elts:
            if isinstance(elt, ast.Starred):
                items.extend(_eval(elt.value, env))
            else:
                items.append(_eval(elt, env))
        return items
    if isinstance(node, ast.Dict):
        out: dict[Any, Any] = {}
        for key, value in zip(node.keys, node.values):
            if key is None:
                out.update(_eval(value, env))
            else:
                out[_eval(key, env)] = _eval(value, env)
        return out
    if isinstance(node, ast.Call):
        func = _dotted(node.func)
        kwargs: dict[str, Any] = {}
        for kw in node.keywords:
            if kw.arg is None:
                kwargs.update(_eval(kw.value, env))
            else:
                kwargs[kw.arg] = _eval(kw.value, env)
        args = [_eval(a, env) for a in node.args]
        if func == "dict" and not args:
            return kwargs
        if func in ("timedelta", "datetime.timedelta") and not args:
            return _dt.timedelta(**kwargs)
        return Opaque(func, args, kwargs)
    raise DagFileError(f"cannot read {type(node).__name__} at line {getattr(node, 'lineno', '?')}")


def _chain(node: ast.AST) -> list[list[str]]:
    """``a >> [b, c] >> d`` as groups of variable names, left to right."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.RShift):
        return _chain(node.left) + _chain(node.right)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.LShift):
        return list(reversed(_chain(node.left) + _chain(node.right)))
    if isinstance(node, ast.Name):
        return [[node.id]]
    if isinstance(node, (ast.List, ast.Tuple)) and all(isinstance(e, ast.Name) for e in node.elts):
        return [[e.id for e in node.elts]]
    raise DagFileError(f"unexpected dependency expression at line {getattr(node, 'lineno', '?')}")


def read_dag(text: str) -> DagFile:
    """Parse a DAG file generated by mlpipe-lab. Raises DagFileError for another shape."""
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise DagFileError(
            f"the DAG file is not valid Python: {exc.msg} (line {exc.lineno})"
        ) from None
    env: dict[str, Any] = {}
    dag_kwargs: dict[str, Any] | None = None
    tasks: dict[str, DagTask] = {}
    by_var: dict[str, str] = {}
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.Try)):
            continue
        if (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
        ):
            env[stmt.targets[0].id] = _eval(stmt.value, env)
        elif isinstance(stmt, ast.With) and len(stmt.items) == 1:
            dag = _eval(stmt.items[0].context_expr, env)
            if not isinstance(dag, Opaque) or dag.func.split(".")[-1] != "DAG":
                raise DagFileError(f"expected 'with DAG(...)' at line {stmt.lineno}")
            dag_kwargs = dag.kwargs
            for inner in stmt.body:
                _task_statement(inner, env, tasks, by_var)
        else:
            raise DagFileError(f"unexpected statement at line {stmt.lineno}")
    if dag_kwargs is None:
        raise DagFileError("the file has no 'with DAG(...)' block")
    dag_id = dag_kwargs.get("dag_id")
    if not isinstance(dag_id, str):
        raise DagFileError("the DAG has no dag_id")
    return DagFile(dag_id=dag_id, dag_kwargs=dag_kwargs, tasks=tasks, constants=env)


def _task_statement(
    stmt: ast.stmt, env: dict[str, Any], tasks: dict[str, DagTask], by_var: dict[str, str]
) -> None:
    if (
        isinstance(stmt, ast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], ast.Name)
    ):
        value = _eval(stmt.value, env)
        if not isinstance(value, Opaque) or not isinstance(value.kwargs.get("task_id"), str):
            raise DagFileError(f"expected an operator with a task_id at line {stmt.lineno}")
        task_id = value.kwargs["task_id"]
        if task_id in tasks:
            raise DagFileError(f"task id {task_id!r} is used twice")
        tasks[task_id] = DagTask(task_id=task_id, operator=value.func, kwargs=value.kwargs)
        by_var[stmt.targets[0].id] = task_id
        env[stmt.targets[0].id] = value
    elif isinstance(stmt, ast.Expr):
        groups = _chain(stmt.value)
        try:
            ids = [[by_var[v] for v in group] for group in groups]
        except KeyError as exc:
            raise DagFileError(
                f"unknown task variable {exc.args[0]!r} at line {stmt.lineno}"
            ) from None
        for left, right in zip(ids, ids[1:]):
            for down in right:
                for up in left:
                    if up not in tasks[down].upstream:
                        tasks[down].upstream.append(up)
    elif not isinstance(stmt, ast.Pass):
        raise DagFileError(f"unexpected statement in the DAG block at line {stmt.lineno}")


def render(value: Any, context: dict[str, Any]) -> Any:
    """Render Jinja templates in strings (recursively in lists and dict values) as Airflow does for
    templated operator fields: a sandboxed environment, undefined names are errors."""
    import jinja2
    import jinja2.sandbox

    env = jinja2.sandbox.SandboxedEnvironment(
        undefined=jinja2.StrictUndefined, cache_size=0, keep_trailing_newline=True
    )

    def go(item: Any) -> Any:
        if isinstance(item, str):
            if "{" not in item:
                return item
            return env.from_string(item).render(**context)
        if isinstance(item, list):
            return [go(i) for i in item]
        if isinstance(item, dict):
            return {k: go(v) for k, v in item.items()}
        return item

    try:
        return go(value)
    except jinja2.TemplateError as exc:
        raise DagFileError(f"cannot render a template of the DAG: {exc}") from None
