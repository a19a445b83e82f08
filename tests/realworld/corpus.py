"""The real-pipeline corpus tier: every pipeline of ``shared/fixtures/elyra-realworld`` (real Elyra
files from public repositories, with their notebooks and scripts in the repositories' own layout)
exported with the ``mlpipe`` command line as a user would, then the DAGs imported in real Airflow.

What each pipeline must do is read from the corpus's INDEX.tsv (what the repository has), not
from our code: a pipeline whose referenced files all exist exports, and its DAG imports with one
task per node (supernodes expanded) and exactly the pipeline's links (through supernodes and
their bindings); operator nodes become their operator, KFP component nodes pods. The rest (a
referenced file or component file missing from the repository, a component node left incomplete
as saved, no nodes, no ``pipelines`` field, invalid JSON) is refused with the node and field named.

Component nodes resolve through the catalogs a user of these pipelines has: Elyra's example
catalogs (``scripts/elyra-catalogs.sh``) and the Airflow providers of the Airflow 3.3 venv
(:func:`component_catalogs`).

Each repository is copied into a scratch folder and made a git work tree (``git init``), as a
user's clone is, so the command line finds the project root itself; it runs from elsewhere.

Run as a script to print the table for any Python with mlpipe-lab (e.g. an older checkout on
PYTHONPATH, for a before/after comparison)::

    python tests/realworld/corpus.py [--python PY] [--airflow]
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# what the test tier found, for the table printed at the end of the run (conftest.py)
REPORT: dict[str, Any] = {}
REPO = HERE.parents[1]
GENERIC_OPS = ("execute-notebook-node", "execute-python-node", "execute-r-node")
# Component files the repositories do not hold (their catalog entry names a file that is not there)
MISSING_COMPONENTS = {
    "local-file-catalog:8371f5970c7b:TestOperator",  # airflow_test_operator.py
    "local-directory-catalog:fdb001a1cf3d",  # input-url.yaml
    "local-directory-catalog:6c6f270e6531",  # spark-json-to-parquet.yaml
    "local-directory-catalog:e2691ba83bf0",  # upload-to-cos.yaml
}
# Component pipelines incomplete as saved: (node label, field) that export names.
INCOMPLETE_NODES = {
    # Elyra's example gives no recipient; EmailOperator requires 'to'
    "elyra-ai__examples/pipelines/airflow_component_examples/email_operator/"
    "aa_email_operator_example.pipeline": ("Email Operator", "component_parameters/to"),
    # python_callable is code, and it is set to the output of a notebook node
    "cBevilaqua__elyra@77e69d0f8b/pipeline1.pipeline": (
        "PythonOperator",
        "component_parameters/python_callable",
    ),
}
COMPONENTS = "components"  # the reason of a component pipeline that exports


EXTRA = REPO / "tests" / "fixtures" / "elyra-extra"  # more real pipelines whose license allows


def corpus_dir() -> Path | None:
    """The corpus folder: $MLPIPE_REALWORLD_CORPUS, else shared/fixtures/elyra-realworld next to
    (or above) the checkout, else /work/shared/... ; None when it is nowhere."""
    given = os.environ.get("MLPIPE_REALWORLD_CORPUS")
    candidates = [Path(given)] if given else []
    shared = os.environ.get("MLPIPE_SHARED_DIR")
    if shared:
        candidates.append(Path(shared) / "fixtures" / "elyra-realworld")
    candidates += [p / "shared" / "fixtures" / "elyra-realworld" for p in REPO.parents]
    candidates.append(Path("/work/shared/fixtures/elyra-realworld"))
    for c in candidates:
        if (c / "INDEX.tsv").is_file():
            return c
    return None


@dataclass
class Entry:
    """One pipeline of INDEX.tsv and what it must do."""

    local: str  # path below the corpus folder
    repo: str
    base: Path  # the corpus folder
    version: str
    nodes: str
    ops: str
    refs: str
    expect: str = ""  # "export", "refuse" or "either" (exported, or refused naming the node)
    reason: str = ""  # why it is refused (for the table and the assertions)

    @property
    def has_components(self) -> bool:
        """Operator or KFP component nodes, or supernodes (their bindings)."""
        ops = [o.strip().rsplit("x", 1)[0] for o in self.ops.split(",") if o.strip()]
        return any(op not in GENERIC_OPS for op in ops)

    @property
    def repo_dir(self) -> str:
        return self.local.split("/", 1)[0]

    @property
    def inner(self) -> str:
        return self.local.split("/", 1)[1]


def read_index(corpus: Path) -> list[Entry]:
    out = []
    with open(corpus / "INDEX.tsv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            entry = Entry(
                local=row["local"],
                repo=row["repo"],
                base=corpus,
                version=row["version"],
                nodes=row["nodes"],
                ops=row["ops"],
                refs=row["refs"],
            )
            entry.expect, entry.reason = _expectation(entry)
            if entry.expect == "export" and _without_image(load_doc(entry) or {}):
                entry.expect, entry.reason = "refuse", "no runtime image"
            out.append(entry)
    return out


def _without_image(doc: dict[str, Any]) -> bool:
    """A node with no runtime image, itself or as a pipeline default (read from the file)."""
    pipelines = doc.get("pipelines") or [{}]
    props = (pipelines[0].get("app_data") or {}).get("properties") or {}
    default = (props.get("pipeline_defaults") or {}).get("runtime_image")
    for node in _primary_nodes(doc):
        if node.get("type") != "execution_node" or node.get("op") not in GENERIC_OPS:
            continue  # components run their own images; supernodes and bindings run nothing
        data = node.get("app_data") or {}
        params = data.get("component_parameters")
        params = params if isinstance(params, dict) else data
        if not (params.get("runtime_image") or params.get("image") or default):
            return True
    return False


def _expectation(e: Entry) -> tuple[str, str]:
    if e.version == "(invalid JSON)":
        return "refuse", "invalid JSON"
    if e.version == "(no pipelines)":
        return "refuse", "no pipelines field"
    ops = [o.strip().rsplit("x", 1)[0] for o in e.ops.split(",") if o.strip()]
    components = [op for op in ops if op not in GENERIC_OPS and op != "binding"]
    if e.refs.startswith("MISSING"):
        return "refuse", "referenced file missing"
    if any(op in MISSING_COMPONENTS for op in components):
        return "refuse", "component file missing"
    if e.local in INCOMPLETE_NODES:
        return "refuse", "component node incomplete"
    if components or "binding" in ops:
        return "export", COMPONENTS
    if e.nodes.strip() in ("", "0"):
        return "refuse", "no nodes"
    return "export", ""


def expected_links(doc: dict[str, Any]) -> set[tuple[str, str]]:
    """(upstream node id, node id) between the nodes that run, read straight from the file: a
    link from a supernode comes from the nodes linked into its exit binding, a link from an entry
    binding from the nodes linked into the supernode's port."""
    nodes = {n["id"]: n for p in doc.get("pipelines") or [] for n in p.get("nodes") or []}
    owner = {}  # binding id -> the supernode whose sub-pipeline holds it
    by_pipeline = {p.get("id"): p for p in doc.get("pipelines") or []}
    for n in nodes.values():
        if n.get("type") == "super_node":
            sub = by_pipeline.get((n.get("subflow_ref") or {}).get("pipeline_id_ref")) or {}
            for inner in sub.get("nodes") or []:
                owner[inner["id"]] = n

    def sources(nid: str, seen: frozenset = frozenset()) -> set[str]:
        node = nodes.get(nid) or {}
        if nid in seen:
            return set()
        seen = seen | {nid}
        if node.get("type") == "super_node":
            ports = [nodes.get(p.get("subflow_node_ref")) for p in node.get("outputs") or []]
            return {s for b in ports if b for s in _into(b, seen)}
        if node.get("type") == "binding":
            sup = owner.get(nid) or {}
            ports = [p for p in sup.get("inputs") or [] if p.get("subflow_node_ref") == nid]
            return {
                s
                for p in ports
                for ln in p.get("links") or []
                for s in sources(ln["node_id_ref"], seen)
            }
        return {nid}

    def _into(node: dict[str, Any], seen: frozenset) -> set[str]:
        return {
            s
            for port in node.get("inputs") or []
            for ln in port.get("links") or []
            for s in sources(ln["node_id_ref"], seen)
        }

    return {(src, n["id"]) for n in execution_nodes(doc) for src in _into(n, frozenset())}


def execution_nodes(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The nodes that run: the primary pipeline's execution nodes and, through its supernodes,
    those of their sub-pipelines."""
    by_pipeline = {p.get("id"): p for p in doc.get("pipelines") or []}
    out: list[dict[str, Any]] = []

    def walk(nodes: list[dict[str, Any]], depth: int) -> None:
        for n in nodes:
            if n.get("type") == "execution_node":
                out.append(n)
            elif n.get("type") == "super_node" and depth < 8:
                sub = by_pipeline.get((n.get("subflow_ref") or {}).get("pipeline_id_ref")) or {}
                walk(sub.get("nodes") or [], depth + 1)

    walk(_primary_nodes(doc), 0)
    return out


def expected_operator(node: dict[str, Any]) -> str | None:
    """The Airflow class a node's task is: its operator class (as Airflow 2+ names it), a pod for
    a KFP component, None for notebooks and scripts."""
    op = str(node.get("op") or "")
    if op in GENERIC_OPS:
        return None
    data = node.get("app_data") or {}
    name = op.rsplit(":", 1)[-1] if op.count(":") == 2 else ""
    if not name and "_" in op and op.rsplit("_", 1)[-1][:1].isupper():
        name = op.rsplit("_", 1)[-1]
    name = name or data.get("elyra_airflow_class_name") or ""
    if not name and ".py'" in str(data.get("component_source") or ""):  # a Python file: the
        name = str((data.get("ui_data") or {}).get("label") or "")  # palette labels the class
    if name.endswith("Operator") or name.endswith("Sensor"):
        return {"SimpleHttpOperator": "HttpOperator"}.get(name, name)
    return "KubernetesPodOperator"


@dataclass
class Result:
    entry: Entry
    code: int = -1
    output: dict[str, Any] = field(default_factory=dict)
    stderr: str = ""
    seconds: float = 0.0
    dag_file: Path | None = None

    @property
    def exported(self) -> bool:
        return self.code == 0 and "dag_id" in self.output

    @property
    def problems(self) -> list[dict[str, Any]]:
        if self.exported:
            return list(self.output.get("problems") or [])
        return list((self.output.get("error") or {}).get("problems") or [])


def prepare(work: Path, entries: list[Entry]) -> Path:
    """Copy every repository of ``entries`` into ``work``/repos and make each a git work tree."""
    repos = work / "repos"
    for base, name in sorted({(e.base, e.repo_dir) for e in entries}):
        dst = repos / name
        shutil.copytree(base / name, dst, symlinks=True)
        subprocess.run(
            ["git", "init", "-q", str(dst)], check=True, stdout=subprocess.DEVNULL, timeout=60
        )
    return repos


def export_all(
    entries: list[Entry],
    repos: Path,
    out: Path,
    python: str = sys.executable,
    env: dict[str, str] | None = None,
    workers: int = 2,
    timeout: float = 120.0,
) -> list[Result]:
    """``mlpipe export --json`` of every pipeline, run from ``out`` (outside the repositories)."""
    out.mkdir(parents=True, exist_ok=True)

    def one(i: int, e: Entry) -> Result:
        dags = out / f"{i:03d}"
        dags.mkdir()
        started = time.monotonic()
        run = subprocess.run(
            [
                python,
                "-m",
                "mlpipe_lab.cli",
                "export",
                "--json",
                str(repos / e.local),
                "-o",
                str(dags / "dag.py"),
            ],
            cwd=out,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        result = Result(e, run.returncode, stderr=run.stderr, seconds=time.monotonic() - started)
        try:
            result.output = json.loads(run.stdout) if run.stdout.strip() else {}
        except ValueError:
            result.output = {"raw": run.stdout[-2000:]}
        if result.exported:
            result.dag_file = Path(result.output["dag_path"])
            if not result.dag_file.is_absolute():
                result.dag_file = repos / e.repo_dir / result.dag_file
            if not result.dag_file.exists():  # older CLIs answered relative to other roots
                result.dag_file = dags / "dag.py"
        return result

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda a: one(*a), enumerate(entries)))


def export_in_process(
    entries: list[Entry], repos: Path, out: Path, data_dir: Path | None = None
) -> list[Result]:
    """The same ``mlpipe export --json`` calls through the command line's ``main`` in this
    process (no interpreter start per pipeline); the current folder is ``out``; ``data_dir``: the
    catalog folder (MLPIPE_LAB_DATA_DIR) while they run."""
    import contextlib
    import gc
    import io

    from mlpipe_lab.cli import main

    results = []
    out.mkdir(parents=True, exist_ok=True)
    cwd = os.getcwd()
    os.chdir(out)
    before = os.environ.get("MLPIPE_LAB_DATA_DIR")
    if data_dir is not None:
        os.environ["MLPIPE_LAB_DATA_DIR"] = str(data_dir)
    try:
        for i, e in enumerate(entries):
            dags = out / f"{i:03d}"
            dags.mkdir(parents=True)
            stdout, stderr = io.StringIO(), io.StringIO()
            started = time.monotonic()
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                try:
                    code = main(
                        ["export", "--json", str(repos / e.local), "-o", str(dags / "d.py")]
                    )
                finally:
                    gc.enable()  # export turns the collector off for its short-lived process
            r = Result(e, code, stderr=stderr.getvalue(), seconds=time.monotonic() - started)
            r.output = json.loads(stdout.getvalue()) if stdout.getvalue().strip() else {}
            if r.exported:
                r.dag_file = dags / "d.py"
            results.append(r)
    finally:
        os.chdir(cwd)
        if data_dir is not None:
            if before is None:
                os.environ.pop("MLPIPE_LAB_DATA_DIR", None)
            else:
                os.environ["MLPIPE_LAB_DATA_DIR"] = before
    return results


def dag_folders(results: list[Result], base: Path) -> list[Path]:
    """The exported DAG files in as few folders as possible (one Airflow import each): a folder
    never holds two DAGs of the same id (many real pipelines are named "untitled")."""
    folders: list[tuple[Path, set[str]]] = []
    for i, r in enumerate(results):
        if not (r.exported and r.dag_file is not None):
            continue
        dag_id = r.output["dag_id"]
        slot = next((f for f in folders if dag_id not in f[1]), None)
        if slot is None:
            slot = (base / f"dags{len(folders)}", set())
            slot[0].mkdir(parents=True)
            folders.append(slot)
        slot[1].add(dag_id)
        shutil.copy(r.dag_file, slot[0] / f"p{i:03d}_{dag_id}.py")
    return [f for f, _ in folders]


def import_all(results: list[Result], base: Path, inspect) -> dict[str, dict[int, dict]]:
    """{version: {result index: that DAG's import document}}, via ``inspect(folder)`` (one
    {version: inspect_dags document} per folder)."""
    out: dict[str, dict[int, dict]] = {}
    for folder in dag_folders(results, base):
        docs = inspect(folder)
        for version, doc in docs.items():
            for name in os.listdir(folder):
                i = int(name[1:4])
                out.setdefault(version, {})[i] = doc
    return out


def check_airflow(result: Result, doc: dict[str, Any], imported: dict[str, Any]) -> list[str]:
    """What is wrong with one exported pipeline in one Airflow's import ([] = all right)."""
    dag_id = result.output["dag_id"]
    dag = imported["dags"].get(dag_id)
    if dag is None:
        errors = [t for f, t in imported["import_errors"].items() if dag_id in f]
        return [f"DAG {dag_id} not imported" + (f": {errors[0][-500:]}" if errors else "")]
    task_of = {t["node_id"]: t["task_id"] for t in result.output["tasks"]}
    wrong = []
    for node in execution_nodes(doc):
        task = dag["tasks"].get(task_of.get(node["id"], ""), {})
        want = expected_operator(node)
        if want is not None and task.get("operator") != want:
            wrong.append(f"node {node['id']}: operator {task.get('operator')}, expected {want}")
        if want not in (None, "KubernetesPodOperator"):
            values = (node.get("app_data") or {}).get("component_parameters") or {}
            for field, value in (task.get("template_values") or {}).items():
                given = values.get(field)
                if (
                    isinstance(given, str)
                    and given
                    and value not in (given, _raw(given), _json(given))
                ):
                    wrong.append(
                        f"node {node['id']}: {field} is {value!r}, the node says {given!r}"
                    )
    node_ids = [n["id"] for n in execution_nodes(doc)]
    if sorted(task_of) != sorted(node_ids):
        wrong.append(f"tasks for nodes {sorted(task_of)}, pipeline has {sorted(node_ids)}")
    if sorted(dag["tasks"]) != sorted(task_of.values()):
        wrong.append(
            f"Airflow has tasks {sorted(dag['tasks'])}, export said {sorted(task_of.values())}"
        )
    want = {(task_of.get(a), task_of.get(b)) for a, b in expected_links(doc)}
    got = {(u, t) for t, task in dag["tasks"].items() for u in task["upstream"]}
    if want != got:
        wrong.append(f"links {sorted(got)}, pipeline has {sorted(want)}")
    return wrong


def _raw(text: str) -> str:
    return "{% raw %}" + text + "{% endraw %}"


def _json(text: str) -> Any:
    """Elyra stored a mapping or a list as its JSON text."""
    try:
        return json.loads(text)
    except ValueError:
        return None


def component_catalogs() -> tuple[list[dict[str, Any]], str]:
    """The component catalog entries the corpus's users have (Elyra's example catalogs and the
    Airflow providers of the Airflow 3.3 venv), or ([], why not)."""
    try:
        run = subprocess.run(
            ["bash", str(REPO / "scripts" / "elyra-catalogs.sh")],
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        return [], f"Elyra's example catalogs cannot be installed: {exc}"
    site = run.stdout.strip().splitlines()[-1]
    sys.path.insert(0, str(REPO / "tests" / "airflow"))
    import harness

    venv = harness.airflow_venv("3.3")
    if venv is None:
        return [], f"no Airflow 3.3 venv for its providers: {harness.airflow_venv_error('3.3')}"
    return [
        {"name": "kfp-examples", "type": "elyra-kfp-examples-catalog", "environment": site},
        {"name": "airflow-examples", "type": "elyra-airflow-examples-catalog", "environment": site},
        {"name": "airflow", "type": "airflow-providers", "environment": str(venv)},
    ], ""


def add_catalogs(data_dir: Path, entries: list[dict[str, Any]]) -> None:
    """Write component catalog entries into the catalog folder ``data_dir``."""
    from mlpipe_lab.catalog import open_catalog

    store = open_catalog("component-catalogs", data_dir=data_dir, include_elyra=False)
    for entry in entries:
        store.create(entry)


def _primary_nodes(doc: dict[str, Any]) -> list[dict[str, Any]]:
    pipelines = doc.get("pipelines") or []
    primary = next((p for p in pipelines if p.get("id") == doc.get("primary_pipeline")), None)
    return (primary or (pipelines[0] if pipelines else {})).get("nodes") or []


def load_doc(e: Entry) -> dict[str, Any] | None:
    try:
        return json.loads((e.base / e.local).read_text(encoding="utf-8"))
    except ValueError:
        return None


def table(results: list[Result], airflow: dict[str, dict[int, list[str]]] | None = None) -> str:
    """The result table: one line per pipeline, then the totals."""
    lines = []
    width = max(len(r.entry.local) for r in results)
    head = f"{'pipeline':<{width}}  {'expected':<8}  {'result':<8}"
    if airflow:
        head += "  " + "  ".join(f"airflow {v:<5}" for v in airflow)
    lines.append(head + "  note")
    for i, r in enumerate(results):
        got = "exported" if r.exported else "refused"
        line = f"{r.entry.local:<{width}}  {r.entry.expect:<8}  {got:<8}"
        if airflow:
            for v in airflow:
                wrong = airflow[v].get(i)
                line += "  " + ("-" if wrong is None else "ok" if not wrong else "WRONG").ljust(13)
        note = r.entry.reason
        if not r.exported:
            first = _first_error(r)
            note = f"{note}: {first}" if note else first
        lines.append(line + "  " + note[:160])
    complete = [r for r in results if r.entry.expect == "export"]
    incomplete = [r for r in results if r.entry.expect == "refuse"]
    either = [r for r in results if r.entry.has_components]
    lines.append("")
    lines.append(
        f"complete: {sum(r.exported for r in complete)}/{len(complete)} export; "
        f"incomplete: {sum(not r.exported for r in incomplete)}/{len(incomplete)} refused; "
        f"with components/supernodes: {sum(r.exported for r in either)}/{len(either)} export, "
        f"{sum(not r.exported for r in either)} refused"
        + (
            "; "
            + "; ".join(
                f"Airflow {v}: {sum(1 for w in airflow[v].values() if not w)}/"
                f"{len(airflow[v])} import with the exact tasks and links"
                for v in airflow
            )
            if airflow
            else ""
        )
    )
    return "\n".join(lines)


def _first_error(r: Result) -> str:
    err = r.output.get("error") or {}
    problems = [p for p in err.get("problems") or [] if p.get("severity", "error") == "error"]
    if problems:
        p = problems[0]
        where = " › ".join(
            x for x in (p.get("node_label") or p.get("node_id") or "", p.get("path") or "") if x
        )
        return f"{where}: {p['message']}" if where else p["message"]
    if err.get("message"):
        return err["message"]
    lines = r.stderr.strip().splitlines()
    return lines[-1] if lines else ""


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--airflow", action="store_true", help="also import the DAGs")
    args = parser.parse_args(argv)
    corpus = corpus_dir()
    if corpus is None:
        print("corpus not found", file=sys.stderr)
        return 2
    entries = read_index(corpus) + read_index(EXTRA)
    with tempfile.TemporaryDirectory(prefix="mlpipe-corpus-") as tmp:
        work = Path(tmp)
        repos = prepare(work, entries)
        env = dict(os.environ, MLPIPE_LAB_DATA_DIR=str(work / "data"))
        catalogs, why = component_catalogs()
        add_catalogs(work / "data", catalogs)
        if why:
            print(f"component pipelines without catalogs: {why}", file=sys.stderr)
        started = time.monotonic()
        results = export_all(entries, repos, work / "out", python=args.python, env=env)
        print(f"exported in {time.monotonic() - started:.1f} s", file=sys.stderr)
        airflow = None
        if args.airflow:
            sys.path.insert(0, str(REPO / "tests" / "airflow"))
            import harness

            imported = import_all(results, work / "dags", harness.inspect_both)
            airflow = {
                v: {
                    i: check_airflow(results[i], load_doc(results[i].entry) or {}, doc)
                    for i, doc in docs.items()
                }
                for v, docs in imported.items()
            }
        print(table(results, airflow))
    return 0


if __name__ == "__main__":
    sys.exit(main())
