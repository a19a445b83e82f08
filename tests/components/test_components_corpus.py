"""Every component node of the real Elyra pipelines in the shared corpus finds its component, or
is refused with a message that names it: Elyra's example catalogs installed as Elyra users install
them (scripts/elyra-catalogs.sh), supernodes flattened first."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

import pytest
from fixture_paths import REPO

from mlpipe_lab.components import ComponentIndex, flatten
from mlpipe_lab.pipeline.model import GENERIC_OPS


def corpus_dir() -> Path | None:
    for candidate in (
        os.environ.get("MLPIPE_REALWORLD_CORPUS"),
        REPO.parent / "shared" / "fixtures" / "elyra-realworld",
        Path("/work/shared/fixtures/elyra-realworld"),
    ):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def elyra_catalogs() -> str:
    try:
        out = subprocess.run(
            ["bash", str(REPO / "scripts" / "elyra-catalogs.sh")],
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"Elyra's example catalogs cannot be installed here: {exc}")
    return out.stdout.strip().splitlines()[-1]


# Nodes whose component is not in the corpus (the file the catalog entry names is missing from
# the repository the pipeline comes from): refused, naming the component.
NOT_IN_ANY_CATALOG = {
    "local-file-catalog:8371f5970c7b:TestOperator": "operator TestOperator from "
    "local-file-catalog (airflow_test_operator.py)",
    "local-directory-catalog:fdb001a1cf3d": "from local-directory-catalog (input-url.yaml)",
    "local-directory-catalog:6c6f270e6531": "from local-directory-catalog "
    "(spark-json-to-parquet.yaml)",
    "local-directory-catalog:e2691ba83bf0": "from local-directory-catalog (upload-to-cos.yaml)",
}


def resolve_corpus(providers: str | None):
    """(pipeline, op, Resolution) of every component node, with Elyra's example catalogs and,
    when given, the Airflow providers installed in the venv ``providers``."""
    corpus = corpus_dir()
    if corpus is None:
        pytest.skip("the shared real-pipeline corpus is not next to the repository")
    site = elyra_catalogs()
    entries = [
        {"name": "kfp-examples", "type": "elyra-kfp-examples-catalog", "environment": site},
        {"name": "airflow-examples", "type": "elyra-airflow-examples-catalog", "environment": site},
    ]
    if providers:
        entries.append({"name": "airflow", "type": "airflow-providers", "environment": providers})
    index = ComponentIndex(entries)
    assert [len(lst.components) for lst in index.listings][:2] == [4, 6]
    rows = list(csv.DictReader((corpus / "INDEX.tsv").open(), delimiter="\t"))
    table = []
    for row in rows:
        if "custom_component" not in row["features"] and "supernode" not in row["features"]:
            continue
        path = corpus / row["local"]
        flat = flatten(json.loads(path.read_text())).doc
        for node in flat["pipelines"][0]["nodes"]:
            if node.get("type") != "execution_node" or node.get("op") in GENERIC_OPS:
                continue
            res = index.resolve(node, path.parent)
            table.append((row["local"], node["op"], res))
    print("\npipeline | op | resolved by | component")
    for local, op, res in table:
        print(
            f"{local} | {op} | {res.how or '-'} | {res.component.id if res.component else res.message}"
        )
    return table


def test_every_component_node_of_the_corpus_resolves_or_is_named():
    table = resolve_corpus(None)
    assert len(table) == 33
    for local, op, res in table:
        if op == "airflow-package-catalog:ce4bcf4f74a0:PythonOperator":
            # Airflow 1.10's wheel is not here, and no providers catalog is configured
            assert res.component is None and "PythonOperator" in res.message
        elif op in NOT_IN_ANY_CATALOG:
            assert res.component is None and NOT_IN_ANY_CATALOG[op] in res.message, (local, op)
        else:
            assert res.component is not None, (local, op, res.message)
    resolved = {op: res.component.id for _, op, res in table if res.component}
    assert resolved["elyra-kfp-examples-catalog:d68ec7fcdf46"] == "kfp-examples:calculate_hash.yaml"
    assert resolved["component_Downloaddata"] == "kfp-examples:download_data.yaml"  # Elyra 3.0
    assert resolved["filter-text"] == "kfp-examples:filter_text_using_shell_and_grep.yaml"  # 2.x
    assert (
        resolved["local-directory-catalog:3a55d015ea96"]
        == "airflow-examples:bash_operator.py:BashOperator"
    )
    assert (
        resolved["bash-operator_BashOperator"] == "airflow-examples:bash_operator.py:BashOperator"
    )


@pytest.mark.airflow
def test_with_the_installed_providers_the_python_operator_resolves_too():
    import sys

    sys.path.insert(0, str(REPO / "tests" / "airflow"))
    import harness

    venv = harness.require_airflow("3.3")
    table = resolve_corpus(str(venv))
    found = {op: res for _, op, res in table}
    python_op = found["airflow-package-catalog:ce4bcf4f74a0:PythonOperator"].component
    assert python_op.import_path == "airflow.providers.standard.operators.python.PythonOperator"
    assert found["bash-operator"].component.module == "airflow.providers.standard.operators.bash"
    unresolved = {op for op, res in found.items() if res.component is None}
    assert unresolved == set(NOT_IN_ANY_CATALOG)
