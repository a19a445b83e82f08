"""How a branch decides (docs/control-flow.md), one implementation for both places it runs:
the local engine calls these functions, and the compiler copies their source into the DAG file
(the BranchPythonOperator's callable), so they use nothing but builtins and each other.

A branch's spec is the JSON of :meth:`mlpipe_lab.plan.model.Branch.spec`; user text only ever
reaches them as data (the spec is a literal in the DAG file).
"""

from __future__ import annotations


def mlpipe_branch_lookup(value, key, where):
    """``value`` at the dotted ``key`` (a list of parts; a number indexes a list)."""
    for depth, part in enumerate(key):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise ValueError(
                f"the result of task {where} has no key '{'.'.join(key[: depth + 1])}'"
            )
    return value


def mlpipe_branch_match(op, value, operand):
    """Whether ``value`` passes the rule's test; a comparison of unlike values is an error."""
    if op == "is true":
        return value is True
    if op == "is false":
        return value is False
    if op == "==":
        return value == operand
    if op == "!=":
        return value != operand
    if op in ("in", "not in"):
        return (value in operand) == (op == "in")
    number = (int, float)
    like = (
        isinstance(value, number)
        and isinstance(operand, number)
        and not isinstance(value, bool)
        and not isinstance(operand, bool)
    ) or (isinstance(value, str) and isinstance(operand, str))
    if not like:
        raise ValueError(f"cannot test {value!r} {op} {operand!r}: compare numbers or texts")
    if op == "<":
        return value < operand
    if op == "<=":
        return value <= operand
    if op == ">":
        return value > operand
    if op == ">=":
        return value >= operand
    raise ValueError(f"unknown test {op!r}")


def mlpipe_branch_value(spec, params, pull):
    """The value the branch tests: a parameter from ``params``, or the result ``pull(task_id)``
    returns (JSON text when ``spec['parse']``), at its key."""
    import json

    source = spec["value_from"]
    if source["from"] == "parameter":
        if source["parameter"] not in params:
            raise ValueError(f"the run has no parameter '{source['parameter']}'")
        return params[source["parameter"]]
    result = pull(source["task_id"])
    if spec["parse"] and isinstance(result, str):
        result = json.loads(result)
    if result is None:
        raise ValueError(f"task {source['task_id']} returned no result")
    return mlpipe_branch_lookup(result, source["key"], source["task_id"])


def mlpipe_branch_choose(spec, value):
    """(the task ids that run, the index of the rule that matched or None: otherwise)."""
    for index, rule in enumerate(spec["rules"]):
        if mlpipe_branch_match(rule["op"], value, rule.get("value")):
            return list(rule["run"]), index
    return list(spec["otherwise"]), None


def mlpipe_branch(spec):
    """The callable of a BranchPythonOperator: the task ids to follow."""

    def choose(**context):
        def pull(task_id):
            return context["ti"].xcom_pull(task_ids=task_id)

        value = mlpipe_branch_value(spec, context["params"], pull)
        chosen, index = mlpipe_branch_choose(spec, value)
        rule = "otherwise" if index is None else f"rule {index + 1}"
        print(f"branch {spec['task_id']}: value {value!r}, {rule}: {chosen or 'none'}")
        return chosen

    return choose


# What the compiler copies into a DAG file, in this order.
FUNCTIONS = (
    mlpipe_branch_lookup,
    mlpipe_branch_match,
    mlpipe_branch_value,
    mlpipe_branch_choose,
    mlpipe_branch,
)
