"""How a fan-out's items are read (docs/control-flow.md), one implementation for both places it
runs: the local engine calls these functions, and the compiler copies their source into the DAG
file (the callable of the PythonOperator the mapped task expands over), so they use nothing but
builtins, each other and the branch's value reader (``plan/branching.py``).

Each item becomes the runner arguments ``--item-index I --item-count N --item-b64 B64``
(``runner/contract.py``): the item travels as base64 of its JSON, so neither Airflow's Jinja
(mapped arguments may be rendered) nor a shell ever reads a hostile item as anything but data.
"""

from __future__ import annotations

from typing import Any

from .branching import mlpipe_branch_lookup, mlpipe_branch_value
from .model import FROM_PARAMETER, ForEach

MAX_ITEMS = 1000


def mlpipe_items_args(items, limit, where, what="its value"):
    """The runner arguments of each item of ``items`` (a JSON list of at most ``limit``);
    ``where`` names the node and ``what`` the parameter or result, for the one-line error."""
    import base64
    import json

    if not isinstance(items, list):
        raise ValueError(
            f"{where} runs once per item of a list, but {what} is a "
            f"{type(items).__name__}: {json.dumps(items)[:200]}"
        )
    if len(items) > limit:
        raise ValueError(
            f"{where} would run for {len(items)} items of {what}; at most {limit} are allowed"
        )
    count = str(len(items))
    return [
        [
            "--item-index",
            str(index),
            "--item-count",
            count,
            "--item-b64",
            base64.b64encode(json.dumps(item, sort_keys=True).encode("utf-8")).decode("ascii"),
        ]
        for index, item in enumerate(items)
    ]


def mlpipe_items(spec):
    """The callable of a fan-out's items task: each item's runner arguments (its XCom, which
    the mapped task expands over). A value that is not a usable list fails the task without
    retries, its log's last line naming the node and the parameter or result."""

    def items(**context):
        def pull(task_id):
            return context["ti"].xcom_pull(task_ids=task_id)

        where = spec.get("where", spec["task_id"])
        try:
            value = mlpipe_branch_value(spec, context["params"], pull)
            args = mlpipe_items_args(value, spec["limit"], where, spec.get("what", "its value"))
        except ValueError as exc:
            message = str(exc) if str(exc).startswith(where) else f"{where}: {exc}"
            try:  # a data error: retrying cannot help
                from airflow.sdk.exceptions import AirflowFailException as Fail
            except ImportError:  # Airflow 2
                from airflow.exceptions import AirflowFailException as Fail
            print(f"ERROR {message}", flush=True)
            raise Fail(message) from None
        print(f"fan-out {spec['task_id']}: {len(args)} item(s)")
        return args

    return items


# What the compiler copies into a DAG file, in this order (a function already copied for a
# branch is not copied twice).
FUNCTIONS = (mlpipe_branch_lookup, mlpipe_branch_value, mlpipe_items_args, mlpipe_items)


def spec(
    task_id: str, for_each: ForEach, parse: bool = False, label: str | None = None
) -> dict[str, Any]:
    """The JSON the functions above read (``parse``: a result arrives as JSON text, the XCom of
    Airflow's BashOperator; ``where``/``what``: the node and its value, as errors name them)."""
    v = for_each.value
    source: dict[str, Any] = (
        {"from": v.source, "parameter": v.parameter}
        if v.source == FROM_PARAMETER
        else {"from": v.source, "task_id": v.task_id, "key": list(v.key)}
    )
    if v.source == FROM_PARAMETER:
        what = f"parameter '{v.parameter}'"
    else:
        what = f"the result of '{v.task_id}'" + (f" at key '{v.key_text}'" if v.key else "")
    return {
        "task_id": task_id,
        "value_from": source,
        "parse": parse,
        "limit": MAX_ITEMS,
        "where": f"fan-out node '{label or task_id}'",
        "what": what,
    }


def local_items(task_id: str, for_each: ForEach, params: dict[str, Any], results: dict[str, Any]):
    """A local run's items of a fan-out task: (items, each item's runner arguments)."""
    s = spec(task_id, for_each)
    try:
        value = mlpipe_branch_value(s, params, lambda tid: results.get(tid))
    except ValueError as exc:  # name the node, as the list checks below do
        raise ValueError(f"{s['where']}: {exc}") from None
    return value, mlpipe_items_args(value, MAX_ITEMS, s["where"], s["what"])
