"""Pipelines for compiler tests, benchmarks and the real-Airflow harness.

Each generator returns a fresh .pipeline document (a dict). ``corpus()`` gives them all by name;
``CONFIG``/``LOCAL_CONFIG``/``IMAGES`` are the runtime configuration and image catalog to compile
them with (the config holds canary secret values that must never reach a DAG).
``check_dag_ast`` is the allow-list of what a generated DAG file may contain.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import posixpath
import random
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

_LOCAL_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "elyra"
_SHARED = Path(
    os.environ.get("MLPIPE_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared"
)
FIXTURES = _LOCAL_FIXTURES if _LOCAL_FIXTURES.is_dir() else _SHARED / "fixtures" / "elyra"

CANARY = "CANARY-9f2c-do-not-leak"
CONFIG: dict[str, Any] = {
    "name": "prod",
    "display_name": "Production Airflow",
    "type": "airflow",
    "airflow": {
        "api_endpoint": "https://airflow.example.com",
        "version": "auto",
        "auth": {"type": "basic", "username": "admin", "password": CANARY + "-airflow-password"},
        "execution_mode": "kubernetes",
    },
    "dag_repo": {
        "url": "https://git.example.com/org/dags.git",
        "branch": "main",
        "subfolder": "dags",
        "auth": {
            "type": "token",
            "token": CANARY + "-git-token",
            "ssh_private_key": CANARY + "-ssh",
        },
    },
    "object_storage": {
        "endpoint": "http://minio.minio:9000",
        "public_endpoint": "https://minio.example.com",
        "bucket": "mlpipe",
        "region": "eu-west-1",
        "prefix": "pipelines",
        "auth": {
            "type": "credentials",
            "access_key_id": CANARY + "-access-key",
            "secret_access_key": CANARY + "-secret-key",
        },
        "pod_credentials_secret": "mlpipe-s3",
    },
    "kubernetes": {
        "namespace": "ml-jobs",
        "in_cluster": True,
        "image_pull_secret": "regcred",
        "service_account": "pipeline-runner",
    },
}
LOCAL_CONFIG: dict[str, Any] = {
    "name": "local",
    "type": "local",
    "local": {
        "dag_repo_path": "local/dags.git",
        "branch": "main",
        "subfolder": "dags",
        "artifacts_path": "local/artifacts",
    },
}
IMAGES: list[dict[str, Any]] = [
    {
        "name": "pandas",
        "display_name": "Pandas",
        "image": "amancevice/pandas:jupyter-2.3.2",
        "pull_policy": "IfNotPresent",
        "source": "builtin",
    },
    {
        "name": "private",
        "display_name": "Private",
        "image": "quay.io/example/private:1.0",
        "pull_policy": "Always",
        "pull_secret": "quay-pull",
        "source": "user",
    },
    {
        "name": "runtime",
        "display_name": "Runtime",
        "image": "registry.example.com/ml/runtime:1.4",
        "pull_policy": "IfNotPresent",
        "source": "user",
    },
    {"name": "r", "display_name": "R", "image": "registry.example.com/ml/r:4.3", "source": "user"},
]
OPS = {"notebook": "execute-notebook-node", "python": "execute-python-node", "r": "execute-r-node"}
EXT = {"notebook": ".ipynb", "python": ".py", "r": ".r"}


# -- builders -----------------------------------------------------------------------------------


def node(
    node_id: str,
    filename: str,
    *,
    kind: str | None = None,
    label: str = "",
    params: dict[str, Any] | None = None,
    parents: Iterable[str] = (),
    mlpipe: dict[str, Any] | None = None,
    description: str = "",
    ui_extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    if kind is None:
        kind = next((k for k, e in EXT.items() if filename.lower().endswith(e)), "python")
    app_data: dict[str, Any] = {
        "component_parameters": {"filename": filename, **(params or {})},
        "label": label,
        "ui_data": {
            "label": label or filename.rsplit("/", 1)[-1],
            "x_pos": 0,
            "y_pos": 0,
            "description": description,
            **(ui_extra or {}),
        },
    }
    if mlpipe:
        app_data["mlpipe"] = mlpipe
    inputs: dict[str, Any] = {"id": "inPort"}
    links = [{"id": f"{p}->{node_id}", "node_id_ref": p, "port_id_ref": "outPort"} for p in parents]
    if links:
        inputs["links"] = links
    return {
        "id": node_id,
        "type": "execution_node",
        "op": OPS[kind],
        "app_data": app_data,
        "inputs": [inputs],
        "outputs": [{"id": "outPort"}],
    }


def pipeline(
    name: str,
    nodes: list[dict[str, Any]],
    *,
    defaults: dict[str, Any] | None = None,
    mlpipe: dict[str, Any] | None = None,
    description: str = "",
) -> dict[str, Any]:
    props: dict[str, Any] = {
        "name": name,
        "runtime": "Apache Airflow",
        "pipeline_defaults": defaults or {},
    }
    if description:
        props["description"] = description
    app_data: dict[str, Any] = {
        "ui_data": {"comments": []},
        "version": 8,
        "runtime_type": "APACHE_AIRFLOW",
        "properties": props,
    }
    if mlpipe:
        app_data["mlpipe"] = mlpipe
    return {
        "doc_type": "pipeline",
        "version": "3.0",
        "json_schema": "",
        "id": "corpus",
        "primary_pipeline": "primary",
        "pipelines": [{"id": "primary", "nodes": nodes, "app_data": app_data, "runtime_ref": ""}],
        "schemas": [],
    }


def nodes_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return doc["pipelines"][0]["nodes"]


# -- the corpus -----------------------------------------------------------------------------------


def _fixture(name: str) -> dict[str, Any] | None:
    path = FIXTURES / name / f"{name}.pipeline"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def hello_world() -> dict[str, Any] | None:
    """Elyra's two-node example (tests/fixtures/elyra), or None when the fixtures are absent."""
    return _fixture("hello_world")


def props_demo() -> dict[str, Any] | None:
    """Elyra fixture with every generic-node property set on its first node."""
    return _fixture("props_demo")


def _svg(i: int) -> str:
    # The editor stores ~3 KB of URI-encoded SVG per node; keep files realistically large.
    unit = f"%3Cpath d='M{i} 0 L{i + 7} 13 Z' fill='%23{i % 997:03d}a0c'/%3E"
    return "data:image/svg+xml;utf8,%3Csvg xmlns='http://www.w3.org/2000/svg'%3E" + unit * (
        2900 // len(unit)
    )


def random_dag(n: int = 200, seed: int = 7, svg: bool = True) -> dict[str, Any]:
    """``n`` nodes, each linked to 1-3 of the 20 nodes before it; a mix of notebooks, Python and R,
    some outputs and dependencies, two parameters. Same arguments, same document."""
    rng = random.Random(seed)
    nodes = []
    for i in range(n):
        kind = rng.choices(["notebook", "python", "r"], weights=[5, 4, 1])[0]
        stage = rng.choice(["load", "clean", "features", "train", "evaluate", "report"])
        filename = f"steps/{stage}_{i}{EXT[kind]}"
        params: dict[str, Any] = {}
        if i % 3 == 0:
            params["outputs"] = [f"out/{stage}_{i}.csv"]
        if i % 5 == 0:
            params["dependencies"] = ["data/*.csv"]
        if i % 4 == 0:
            params["pipeline_parameters"] = ["alpha"]
        if i % 7 == 0:
            params["cpu"] = 1
            params["memory"] = 2
        parents = []
        if i:
            window = list(range(max(0, i - 20), i))
            parents = [
                f"n{p:05d}"
                for p in sorted(rng.sample(window, min(len(window), rng.choice([1, 1, 2, 3]))))
            ]
        nodes.append(
            node(
                f"n{i:05d}",
                filename,
                kind=kind,
                label=f"{stage.title()} {i}",
                params=params,
                parents=parents,
                description=f"Step {i}: {stage}",
                ui_extra={"image": _svg(i)} if svg else None,
            )
        )
    return pipeline(
        f"random {n}",
        nodes,
        defaults={
            "runtime_image": "registry.example.com/ml/runtime:1.4",
            "env_vars": [{"env_var": "STAGE", "value": "dev"}],
        },
        mlpipe={
            "dag_id": f"random_{n}",
            "parameters": [
                {"name": "alpha", "type": "number", "default": 0.5, "minimum": 0, "maximum": 1},
                {"name": "mode", "type": "string", "default": "fast", "enum": ["fast", "full"]},
            ],
        },
    )


def minimal_dag(n: int = 200) -> dict[str, Any]:
    """``n`` Python nodes in a chain (n-1 links), only a file each and a default image: the shape of
    the 200-node pipeline Elyra's export was measured with."""
    nodes = [
        node(
            f"n{i:05d}",
            f"step_{i}.py",
            parents=[f"n{i - 1:05d}"] if i else [],
            description="Run Python script",
        )
        for i in range(n)
    ]
    return pipeline(
        f"minimal {n}",
        nodes,
        defaults={"runtime_image": "registry.example.com/ml/runtime:1.4"},
        mlpipe={"dag_id": f"minimal_{n}"},
    )


HOSTILE = [
    '"; import os; os.system("id") #',
    "'''\"\"\"",
    "back\\slash \\n \\x00 \\\\",
    "two\nlines\r\nand\rcr",
    "{{ 7 * 7 }} {{ dag_run.conf }}",
    "{% for x in range(3) %}{{ x }}{% endfor %}",
    "{# comment #}",
    "trailing newline\n",
    "$(whoami) `id` ${HOME}",
    "\x00\x07\x1b[31m\x7f",
    "\u2028\u2029\x85\x0b\x0c",
    "é日本語🚀\u200b\ufeff",
    "run.sh",
    "README.md",
    ")\nimport os\nos.system('id')\n(",
    "__import__('os').system('id')",
    "\t tab  ",
    "# not a comment",
]


def hostile() -> dict[str, Any]:
    """Hostile text in every free-text field a person can type into."""
    nodes = []
    for i, text in enumerate(HOSTILE):
        env = [{"env_var": "HOSTILE", "value": text}, {"env_var": f"V{i}", "value": text[::-1]}]
        nodes.append(
            node(
                f"h{i:02d}",
                f"files/ff{_safe_name(text)}_{i}.py",
                label=text,
                description=text,
                parents=[f"h{i - 1:02d}"] if i else [],
                params={
                    "env_vars": env,
                    "outputs": [f"out/{_safe_name(text)}*.csv"],
                    "kubernetes_pod_annotations": [{"key": "note", "value": text}],
                    "mounted_volumes": [
                        {"path": "/mnt/data", "pvc_name": "data", "sub_path": text}
                    ],
                },
            )
        )
    return pipeline(
        'Hostile "pipeline" {{ x }}\n',
        nodes,
        defaults={"runtime_image": "registry.example.com/ml/runtime:1.4"},
        description="'''; import os #\n{% raw %}",
        mlpipe={
            "dag_id": "hostile",
            "owner": "o'wner\"{{x}}",
            "doc_md": '# Title\n{{ 1 }}\n```\n"""\n```\nREADME.md',
            "tags": ["tag {{ x }}", "quote\"'", "uni 🚀"],
            "parameters": [
                {
                    "name": "text",
                    "type": "string",
                    "default": HOSTILE[0] + HOSTILE[4],
                    "description": HOSTILE[3] + HOSTILE[1],
                },
                {
                    "name": "choice",
                    "type": "string",
                    "default": 'a"b',
                    "enum": ['a"b', "{{ c }}", "\n"],
                },
            ],
        },
    )


def _safe_name(text: str) -> str:
    """File-name-safe but still odd: quotes, braces, spaces and unicode kept; separators dropped."""
    out = "".join(c for c in text if c.isprintable() and c not in "/\\*?[]:")
    return out.replace("..", "_")[:40] or "x"


def everything() -> dict[str, Any]:
    """Every node property and every Airflow setting, on notebook, Python and R nodes."""
    all_props = {
        "runtime_image": "quay.io/example/private:1.0",
        "cpu": 0.5,
        "cpu_limit": "1500m",
        "memory": 8,
        "memory_limit": "12Gi",
        "gpu": 2,
        "gpu_vendor": "amd.com/gpu",
        "dependencies": ["data/*.csv", "lib/helpers.py"],
        "include_subdirectories": True,
        "outputs": ["model/model.pkl", "metrics.json"],
        "env_vars": [{"env_var": "MODE", "value": "train"}, {"env_var": "STAGE", "value": "prod"}],
        "kubernetes_secrets": [{"env_var": "DB_PASSWORD", "name": "db-creds", "key": "password"}],
        "mounted_volumes": [
            {"path": "/mnt/data", "pvc_name": "datasets", "sub_path": "team-a", "read_only": True},
            {"path": "/mnt/scratch", "pvc_name": "scratch"},
            {"path": "/mnt/data2", "pvc_name": "datasets", "sub_path": "team-b"},
        ],
        "kubernetes_pod_annotations": [{"key": "example.com/owner", "value": "alice"}],
        "kubernetes_pod_labels": [{"key": "team", "value": "ml"}],
        "kubernetes_tolerations": [
            {"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"},
            {"key": "spot", "operator": "Exists", "effect": "NoExecute"},
        ],
        "kubernetes_shared_mem_size": {"size": 4, "units": "Gi"},
        "pipeline_parameters": ["alpha", "epochs"],
    }
    mlpipe_task = {
        "task_id": "train_model",
        "retries": 3,
        "retry_delay_seconds": 60,
        "execution_timeout_seconds": 7200,
        "trigger_rule": "all_done",
        "pool": "gpu_pool",
        "priority_weight": 10,
        "node_selector": [{"key": "kubernetes.io/arch", "value": "amd64"}],
        "service_account": "trainer",
    }
    nodes = [
        node(
            "prep",
            "prep/prepare.py",
            label="Prepare data",
            description="Cleans the raw data.",
            params={"memory": "512Mi", "cpu": 2, "outputs": ["data/clean.csv"]},
        ),
        node(
            "train",
            "train/train.ipynb",
            label="Train model",
            description="Fits the model.",
            params=all_props,
            mlpipe=mlpipe_task,
            parents=["prep"],
        ),
        node(
            "report",
            "report/report.r",
            label="Report",
            parents=["train", "prep"],
            params={"pipeline_parameters": []},
            mlpipe={"trigger_rule": "none_failed"},
        ),
    ]
    # An Elyra binding node between train and a final step: links run through it.
    nodes.append(
        {
            "id": "bind",
            "type": "binding_exit_node",
            "inputs": [
                {
                    "id": "inPort",
                    "links": [{"id": "l", "node_id_ref": "train", "port_id_ref": "outPort"}],
                }
            ],
        }
    )
    nodes.append(node("publish", "publish.py", label="Publish", parents=["bind"]))
    return pipeline(
        "Everything pipeline",
        nodes,
        description="All properties.",
        defaults={
            "runtime_image": "registry.example.com/ml/runtime:1.4",
            "env_vars": [
                {"env_var": "STAGE", "value": "dev"},
                {"env_var": "LOG_LEVEL", "value": "info"},
            ],
            "kubernetes_secrets": [{"env_var": "API_TOKEN", "name": "api", "key": "token"}],
            "kubernetes_pod_labels": [{"key": "project", "value": "churn"}],
            "kubernetes_tolerations": [
                {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}
            ],
            "kubernetes_shared_mem_size": {"size": 1, "units": "G"},
            "cos_object_prefix": "team-a/churn",
        },
        mlpipe={
            "dag_id": "everything",
            "schedule": "0 3 * * *",
            "start_date": "2024-06-01",
            "catchup": True,
            "max_active_runs": 2,
            "owner": "alice",
            "tags": ["churn", "ml"],
            "doc_md": "# Everything\nAll of it.",
            "is_paused_upon_creation": False,
            "dagrun_timeout_seconds": 86400,
            "retries": 1,
            "retry_delay_seconds": 120,
            "execution_timeout_seconds": 3600,
            "parameters": [
                {
                    "name": "alpha",
                    "type": "number",
                    "default": 0.1,
                    "minimum": 0,
                    "maximum": 1,
                    "description": "Learning rate",
                },
                {"name": "epochs", "type": "integer", "default": 10, "minimum": 1},
                {"name": "mode", "type": "string", "default": "full", "enum": ["fast", "full"]},
                {"name": "dry_run", "type": "boolean", "default": False},
                {"name": "note", "type": "string"},
                {
                    "name": "items",
                    "type": "string",
                    "default": "x",
                    "description": "dict attribute name",
                },
            ],
        },
    )


def corpus(large: int = 200) -> dict[str, dict[str, Any]]:
    """Every corpus pipeline by name (the Elyra fixtures only when they are present)."""
    out = {}
    for name, make in (("hello_world", hello_world), ("props_demo", props_demo)):
        doc = make()
        if doc is not None:
            out[name] = doc
    out[f"random_{large}"] = random_dag(large)
    out["hostile"] = hostile()
    out["everything"] = everything()
    return out


def write_files(doc: dict[str, Any], folder: Path, size: int = 64) -> None:
    """Create every file a pipeline's nodes name (and something for each dependency glob, which
    is relative to the node file's folder, as in Elyra)."""
    folder = Path(folder)
    for n in nodes_of(doc):
        params = n.get("app_data", {}).get("component_parameters", {})
        filename = params.get("filename")
        base = posixpath.dirname(filename) if isinstance(filename, str) else ""
        names = [filename] + [
            posixpath.join(base, d.replace("*", "sample")) for d in params.get("dependencies") or []
        ]
        for name in names:
            if isinstance(name, str) and name:
                path = folder / name
                path.parent.mkdir(parents=True, exist_ok=True)
                if not path.exists():
                    path.write_bytes(
                        (f"# {name}\n".encode("utf-8", "surrogatepass") * size)[: size * 8]
                    )


def shuffled_keys(value: Any, seed: int = 1) -> Any:
    """The same document with every object's keys in another order (lists untouched)."""
    rng = random.Random(seed)

    def walk(v: Any) -> Any:
        if isinstance(v, dict):
            items = list(v.items())
            rng.shuffle(items)
            return {k: walk(x) for k, x in reversed(items)}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return walk(copy.deepcopy(value))


# -- what a generated DAG may contain -------------------------------------------------------------

ALLOWED_CALLS = {
    "DAG",
    "KubernetesPodOperator",
    "Secret",
    "Param",
    "dict",
    "timedelta",
    "pendulum.datetime",
    "k8s.V1ResourceRequirements",
    "k8s.V1Volume",
    "k8s.V1VolumeMount",
    "k8s.V1Toleration",
    "k8s.V1PersistentVolumeClaimVolumeSource",
    "k8s.V1EmptyDirVolumeSource",
    "k8s.V1LocalObjectReference",
    "k8s.V1SecretVolumeSource",
    "k8s.V1KeyToPath",  # a serve node's registry Secret for Kaniko
    "k8s.V1Container",  # the runner's init container (RUNNER_POD)
    "k8s.V1Pod",
    "k8s.V1PodSpec",
    # local-worker DAGs: the runner zipapp beside the DAG file (RUNNER_ZIPAPP)
    "os.path.join",
    "os.path.dirname",
    "os.path.abspath",
    # a branch's callable: the evaluator copied from plan/branching.py, given a literal spec
    "mlpipe_branch",
    "BranchPythonOperator",
}
ALLOWED_IMPORTS = {
    ("datetime", "timedelta"),
    ("airflow.sdk", "DAG"),
    ("airflow.sdk", "Param"),
    ("airflow", "DAG"),
    ("airflow.models.param", "Param"),
    ("airflow.providers.cncf.kubernetes.operators.pod", "KubernetesPodOperator"),
    ("airflow.providers.cncf.kubernetes.secret", "Secret"),
    ("kubernetes.client", "models"),
    ("airflow.providers.standard.operators.python", "BranchPythonOperator"),
    ("airflow.operators.python", "BranchPythonOperator"),
    ("airflow.providers.standard.operators.hitl", "ApprovalOperator"),  # approval gates
}
TASK_CALLS = {"KubernetesPodOperator", "BranchPythonOperator"}
CONSTANTS = {
    "RUNNER",
    "RUNNER_IN_IMAGE",
    "RUNNER_COPIED",
    "RUNNER_POD",
    "NOTEBOOK_PARAMS",
    "TASK_ENV",
    "TASK_LABELS",
    "STORE_SECRETS",
    "POD_SETTINGS",
    "RUNNER_ZIPAPP",
}
# where read_dag pretends the DAG file is (RUNNER_ZIPAPP is computed from it)
DAG_FILE = "/opt/airflow/dags/dag.py"


class DagShapeError(AssertionError):
    pass


def _branch_functions() -> dict[str, str]:
    import inspect

    from mlpipe_lab.plan import branching

    return {
        f.__name__: ast.dump(ast.parse(inspect.getsource(f)).body[0]) for f in branching.FUNCTIONS
    }


_BRANCH_FUNCTIONS = _branch_functions()


# Operator classes a DAG may also import and call as tasks (operator nodes): set by check_dag_ast
_OPERATORS: dict[tuple[str, str], None] = {}
_OPERATOR_NAMES: set[str] = set()


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return _dotted(node.value) + "." + node.attr
    raise DagShapeError(f"not a plain name: {ast.dump(node)}")


def _check_value(node: ast.AST, names: set[str]) -> None:
    """A value: literals, containers, allowed constructor calls, references to defined names."""
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, (str, int, float, bool, type(None))):
            raise DagShapeError(f"constant of type {type(node.value).__name__}")
        return
    if isinstance(node, ast.Name):
        if node.id not in names or not isinstance(node.ctx, ast.Load):
            raise DagShapeError(f"unknown name {node.id}")
        return
    if isinstance(node, (ast.List, ast.Tuple)):
        for elt in node.elts:
            _check_value(elt.value if isinstance(elt, ast.Starred) else elt, names)
        return
    if isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values):
            if key is None:  # **NAME
                if not isinstance(value, ast.Name):
                    raise DagShapeError("dict unpacking of an expression")
            elif not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                raise DagShapeError("dict key is not a string literal")
            _check_value(value, names)
        return
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
    ):
        return _check_value(node.operand, names)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):  # RUNNER + " args"
        _check_value(node.left, names)
        return _check_value(node.right, names)
    if isinstance(node, ast.Call):
        func = _dotted(node.func)
        if (
            func not in ALLOWED_CALLS
            and func not in _OPERATOR_NAMES
            and not (func == "ApprovalOperator" and func in names)
        ):
            raise DagShapeError(f"call of {func}")
        for arg in node.args:
            _check_value(arg, names)
        for kw in node.keywords:
            if kw.arg is None and not (isinstance(kw.value, ast.Name) and kw.value.id in CONSTANTS):
                raise DagShapeError("** of something other than a module constant")
            _check_value(kw.value, names)
        return
    raise DagShapeError(f"unexpected {type(node).__name__}")


def _check_import(stmt: ast.stmt, names: set[str]) -> None:
    if isinstance(stmt, ast.Import):
        imported = [(a.name, a.asname) for a in stmt.names]
        if imported not in ([("pendulum", None)], [("os", None)]):
            raise DagShapeError("unexpected import")
        names.add(imported[0][0])
        return
    if isinstance(stmt, ast.ImportFrom):
        for alias in stmt.names:
            if (stmt.module, alias.name) in _OPERATORS and not stmt.level:
                name = alias.asname or alias.name
                if alias.asname and not alias.asname.startswith(alias.name + "_"):
                    raise DagShapeError("unexpected operator alias")
                _OPERATOR_NAMES.add(name)
                names.add(name)
                continue
            if (stmt.module, alias.name) not in ALLOWED_IMPORTS or stmt.level:
                raise DagShapeError(f"unexpected import {stmt.module}.{alias.name}")
            if alias.asname not in (None, "k8s") or (alias.asname == "k8s") != (
                alias.name == "models"
            ):
                raise DagShapeError("unexpected alias")
            names.add(alias.asname or alias.name)
        return
    raise DagShapeError(f"unexpected {type(stmt).__name__} among imports")


def _is_approval_refusal(stmt: ast.stmt) -> bool:
    """``raise ImportError("<text>") from None``: nothing but a string literal."""
    return (
        isinstance(stmt, ast.Raise)
        and isinstance(stmt.cause, ast.Constant)
        and stmt.cause.value is None
        and isinstance(stmt.exc, ast.Call)
        and _dotted(stmt.exc.func) == "ImportError"
        and not stmt.exc.keywords
        and len(stmt.exc.args) == 1
        and isinstance(stmt.exc.args[0], ast.Constant)
        and isinstance(stmt.exc.args[0].value, str)
    )


def check_dag_ast(text: str, operators: Collection[tuple[str, str]] = ()) -> ast.Module:
    """Parse a generated DAG and check it holds only what the compiler emits; returns the tree.
    ``operators``: (module, class) of operator nodes' classes it may import and call as tasks."""
    _OPERATORS.clear()
    _OPERATOR_NAMES.clear()
    _OPERATORS.update(dict.fromkeys(operators))
    try:
        return _check_dag_ast(text)
    finally:
        _OPERATORS.clear()
        _OPERATOR_NAMES.clear()


def _check_dag_ast(text: str) -> ast.Module:
    tree = ast.parse(text)
    names: set[str] = {"__file__"}
    dag_seen = False
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            _check_import(stmt, names)
        elif isinstance(stmt, ast.Try):
            if stmt.orelse or stmt.finalbody or len(stmt.handlers) != 1:
                raise DagShapeError("unexpected try shape")
            handler = stmt.handlers[0]
            if (
                not (isinstance(handler.type, ast.Name) and handler.type.id == "ImportError")
                or handler.name
            ):
                raise DagShapeError("unexpected except clause")
            body = handler.body
            if len(body) == 1 and _is_approval_refusal(body[0]):
                body = []  # Airflow 2: the DAG stops with the plan's sentence (a str literal)
            for s in stmt.body + body:
                _check_import(s, names)
        elif isinstance(stmt, ast.Assign) and not dag_seen:
            if (
                len(stmt.targets) != 1
                or not isinstance(stmt.targets[0], ast.Name)
                or stmt.targets[0].id not in CONSTANTS
            ):
                raise DagShapeError("unexpected module assignment")
            _check_value(stmt.value, names)
            names.add(stmt.targets[0].id)
        elif isinstance(stmt, ast.FunctionDef) and not dag_seen:
            # only the branch evaluator, exactly as plan/branching.py defines it
            if ast.dump(stmt) != _BRANCH_FUNCTIONS.get(stmt.name):
                raise DagShapeError(f"unexpected function {stmt.name}")
            names.add(stmt.name)
        elif isinstance(stmt, ast.With) and not dag_seen:
            dag_seen = True
            if len(stmt.items) != 1 or stmt.items[0].optional_vars is not None:
                raise DagShapeError("unexpected with shape")
            call = stmt.items[0].context_expr
            if not (isinstance(call, ast.Call) and _dotted(call.func) == "DAG" and not call.args):
                raise DagShapeError("with block is not DAG(...)")
            _check_value(call, names)
            _check_dag_body(stmt.body, names)
        else:
            raise DagShapeError(f"unexpected top-level {type(stmt).__name__}")
    if not dag_seen:
        raise DagShapeError("no DAG")
    return tree


def _check_dag_body(body: list[ast.stmt], names: set[str]) -> None:
    tasks: set[str] = set()
    for stmt in body:
        if isinstance(stmt, ast.Assign):
            target = stmt.targets[0]
            if len(stmt.targets) != 1 or not isinstance(target, ast.Name) or target.id in names:
                raise DagShapeError("unexpected assignment in the DAG block")
            if not (
                isinstance(stmt.value, ast.Call)
                and (
                    _dotted(stmt.value.func) in TASK_CALLS
                    or _dotted(stmt.value.func) in _OPERATOR_NAMES
                    or (
                        _dotted(stmt.value.func) == "ApprovalOperator"
                        and "ApprovalOperator" in names
                    )
                )
            ):
                raise DagShapeError(
                    "a task that is not a KubernetesPodOperator or an operator node"
                )
            if stmt.value.args:
                raise DagShapeError("positional operator arguments")
            _check_value(stmt.value, names)
            names.add(target.id)
            tasks.add(target.id)
        elif (
            isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.BinOp)
            and isinstance(stmt.value.op, ast.RShift)
        ):
            left, right = stmt.value.left, stmt.value.right
            ups = left.elts if isinstance(left, ast.List) else [left]
            for n in ups + [right]:
                if not (isinstance(n, ast.Name) and n.id in tasks):
                    raise DagShapeError("dependency between things that are not tasks")
        else:
            raise DagShapeError(f"unexpected {type(stmt).__name__} in the DAG block")


def string_constants(tree: ast.AST) -> set[str]:
    return {
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def operator_kwargs(tree: ast.AST) -> dict[str, dict[str, ast.AST]]:
    """task_id -> {keyword: value node} for each KubernetesPodOperator call."""
    out = {}
    for n in ast.walk(tree):
        if (
            isinstance(n, ast.Call)
            and isinstance(n.func, ast.Name)
            and n.func.id == "KubernetesPodOperator"
        ):
            kw = {k.arg: k.value for k in n.keywords if k.arg}
            out[ast.literal_eval(kw["task_id"])] = kw
    return out


def dag_kwargs(tree: ast.AST) -> dict[str, ast.AST]:
    for n in ast.walk(tree):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "DAG":
            return {k.arg: k.value for k in n.keywords if k.arg}
    raise KeyError("DAG")


def dependencies(tree: ast.AST) -> dict[str, list[str]]:
    """Variable name -> upstream variable names, from the ``>>`` lines."""
    out: dict[str, list[str]] = {}
    for n in ast.walk(tree):
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.RShift):
            left = n.left.elts if isinstance(n.left, ast.List) else [n.left]
            out[n.right.id] = [x.id for x in left]
    return out


# -- reading a generated DAG back without Airflow --------------------------------------------------


class C:
    """A constructor call seen in a generated DAG: ``C("k8s.V1Volume", args, kwargs)``."""

    def __init__(self, func: str, args: list[Any], kwargs: dict[str, Any]):
        self.func, self.args, self.kwargs = func, args, kwargs

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, C) and (self.func, self.args, self.kwargs) == (
            other.func,
            other.args,
            other.kwargs,
        )

    def __repr__(self) -> str:
        inner = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.func}({', '.join(inner)})"


def _evaluate(node: ast.AST, env: dict[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_evaluate(node.operand, env)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _evaluate(node.left, env) + _evaluate(node.right, env)
    if isinstance(node, (ast.List, ast.Tuple)):
        out: list[Any] = []
        for elt in node.elts:
            if isinstance(elt, ast.Starred):
                out.extend(_evaluate(elt.value, env))
            else:
                out.append(_evaluate(elt, env))
        return out
    if isinstance(node, ast.Dict):
        d: dict[Any, Any] = {}
        for key, value in zip(node.keys, node.values):
            if key is None:
                d.update(_evaluate(value, env))
            else:
                d[_evaluate(key, env)] = _evaluate(value, env)
        return d
    if isinstance(node, ast.Call):
        kwargs: dict[str, Any] = {}
        for kw in node.keywords:
            if kw.arg is None:
                kwargs.update(_evaluate(kw.value, env))
            else:
                kwargs[kw.arg] = _evaluate(kw.value, env)
        func = _dotted(node.func)
        if func == "dict":
            return kwargs
        if func in ("os.path.join", "os.path.dirname", "os.path.abspath"):
            return getattr(posixpath, func.rsplit(".", 1)[1])(
                *[_evaluate(a, env) for a in node.args]
            )
        return C(func, [_evaluate(a, env) for a in node.args], kwargs)
    raise DagShapeError(f"cannot evaluate {type(node).__name__}")


def read_dag(text: str) -> dict[str, Any]:
    """What a generated DAG declares, read from its AST (nothing is executed):
    {"dag": DAG kwargs, "tasks": {task_id: effective operator kwargs}, "upstream": {task_id: [...]},
    "constants": {name: value}, "order": [task ids in file order]}."""
    tree = check_dag_ast(text)
    env: dict[str, Any] = {"__file__": DAG_FILE}
    out: dict[str, Any] = {"tasks": {}, "upstream": {}, "order": []}
    var_task: dict[str, str] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            env[stmt.targets[0].id] = _evaluate(stmt.value, env)
        elif isinstance(stmt, ast.With):
            out["dag"] = _evaluate(stmt.items[0].context_expr, env).kwargs
            for s in stmt.body:
                if isinstance(s, ast.Assign):
                    kwargs = _evaluate(s.value, env).kwargs
                    var_task[s.targets[0].id] = kwargs["task_id"]
                    out["tasks"][kwargs["task_id"]] = kwargs
                    out["upstream"][kwargs["task_id"]] = []
                    out["order"].append(kwargs["task_id"])
                else:
                    left, right = s.value.left, s.value.right
                    ups = left.elts if isinstance(left, ast.List) else [left]
                    out["upstream"][var_task[right.id]] = [var_task[u.id] for u in ups]
    out["constants"] = env
    return out
