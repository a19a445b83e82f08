"""Shared pytest set-up: the server extension for jp_fetch, and isolated data folders per test."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest

pytest_plugins = ("pytest_jupyter.jupyter_server",)

from fixture_paths import ELYRA_FIXTURES, FIXTURES  # noqa: E402, F401


def pytest_configure(config):
    """No test, not even a module-scoped fixture that runs before ``isolated_data``, may reach the
    user's own catalogs: the whole session's default data folders are a fresh temporary folder."""
    data = Path(tempfile.mkdtemp(prefix="mlpipe-test-data-"))
    os.environ["MLPIPE_LAB_DATA_DIR"] = str(data / "mlpipe-lab")
    os.environ["JUPYTER_DATA_DIR"] = str(data / "jupyter")


@pytest.fixture(autouse=True)
def isolated_data(tmp_path_factory, monkeypatch):
    """Catalogs and Jupyter data live in a fresh folder for every test: never the user's."""
    data = tmp_path_factory.mktemp("data")
    monkeypatch.setenv("MLPIPE_LAB_DATA_DIR", str(data / "mlpipe-lab"))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(data / "jupyter"))
    return data


@pytest.fixture
def jp_server_config(jp_server_config):
    return {
        "ServerApp": {
            "jpserver_extensions": {"mlpipe_lab": True},
            "allow_unauthenticated_access": False,
        }
    }


@pytest.fixture
def elyra_copy(tmp_path):
    """A writable copy of the Elyra fixtures: {name: folder}."""
    out = {}
    for src in ELYRA_FIXTURES.iterdir():
        dst = tmp_path / src.name
        shutil.copytree(src, dst)
        out[src.name] = dst
    return out


@pytest.fixture
def make_bundle(tmp_path: Path):
    """A fake node bundle on disk, shaped as the compiler's BundleRef: {node_id, key, sha256, path}."""
    folder = tmp_path / "bundles"
    folder.mkdir()

    def make(dag_id: str, task: str, content: bytes) -> dict:
        sha = hashlib.sha256(content).hexdigest()
        path = folder / f"{task}-{sha[:12]}.tar.gz"
        path.write_bytes(content)
        return {
            "node_id": task,
            "key": f"{dag_id}/bundles/{task}-{sha[:12]}.tar.gz",
            "sha256": sha,
            "path": str(path),
        }

    return make
