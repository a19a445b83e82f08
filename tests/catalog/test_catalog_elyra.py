"""Elyra metadata: read-only listing, conversion, masking and import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlpipe_lab.catalog import (
    MASK,
    CatalogError,
    Conflict,
    NotFound,
    ReadOnly,
    RuntimeConfigs,
    RuntimeImages,
)
from mlpipe_lab.catalog.elyra import git_urls

try:
    from catalog_fixtures import (
        ELYRA_COS_PASSWORD_CANARY,
        ELYRA_TOKEN_CANARY,
        elyra_airflow,
        elyra_image,
        files_under,
        image,
        write_elyra,
    )
except ImportError:  # tests/ turned into a package
    from tests.catalog_fixtures import (
        ELYRA_COS_PASSWORD_CANARY,
        ELYRA_TOKEN_CANARY,
        elyra_airflow,
        elyra_image,
        files_under,
        image,
        write_elyra,
    )

ELYRA_SECRETS = (ELYRA_TOKEN_CANARY, ELYRA_COS_PASSWORD_CANARY)


@pytest.fixture
def elyra(tmp_path: Path) -> Path:
    root = tmp_path / "jupyter-data"
    elyra_image(
        root,
        "anaconda",
        "continuumio/anaconda3:2024.02-1",
        pull_policy="IfNotPresent",
        display_name="Anaconda (2024.02) with Python 3.11",
        tags=["conda", "conda"],
        description="Anaconda",
    )
    elyra_image(
        root, "pandas", "amancevice/pandas:2.1.4", pull_policy="Always", pull_secret="regcred"
    )
    elyra_airflow(root, "airflow_prod")
    elyra_airflow(root, "k8s_secret", cos_auth_type="KUBERNETES_SECRET", cos_secret="cos-creds")
    elyra_airflow(
        root,
        "irsa",
        cos_auth_type="AWS_IAM_ROLES_FOR_SERVICE_ACCOUNTS",
        cos_username="",
        cos_password="",
    )
    elyra_airflow(
        root, "ghe", github_api_endpoint="https://ghe.corp.example/api/v3", github_repo="team/dags"
    )
    elyra_airflow(
        root,
        "gitlab",
        git_type="GITLAB",
        github_api_endpoint="https://gitlab.corp.example",
        github_repo="group/sub/dags",
    )
    # not ours: a Kubeflow Pipelines runtime and junk
    write_elyra(
        root,
        "runtimes",
        "kfp",
        {"display_name": "KFP", "schema_name": "kfp", "metadata": {"api_endpoint": "http://kfp"}},
    )
    (root / "metadata" / "runtimes" / "notes.txt").write_text("ignored")
    return root


@pytest.fixture
def configs(tmp_path: Path, elyra: Path) -> RuntimeConfigs:
    return RuntimeConfigs(tmp_path / "data", elyra_data_dir=elyra)


@pytest.fixture
def images(tmp_path: Path, elyra: Path) -> RuntimeImages:
    return RuntimeImages(tmp_path / "data", elyra_data_dir=elyra)


def test_elyra_images_are_listed_read_only(images):
    listed = {e["name"]: e for e in images.list()}
    assert set(listed) == {"anaconda", "pandas"}
    assert listed["anaconda"] == {
        "name": "anaconda",
        "display_name": "Anaconda (2024.02) with Python 3.11",
        "description": "Anaconda",
        "image": "continuumio/anaconda3:2024.02-1",
        "pull_policy": "IfNotPresent",
        "tags": ["conda"],
        "source": "elyra",
        "read_only": True,
    }
    assert listed["pandas"]["pull_secret"] == "regcred"
    assert listed["pandas"]["pull_policy"] == "Always"
    with pytest.raises(ReadOnly):
        images.update("pandas", image("pandas"))
    with pytest.raises(ReadOnly):
        images.delete("pandas")


def test_elyra_runtime_conversion(configs):
    listed = {e["name"]: e for e in configs.list()}
    assert set(listed) == {"local", "airflow_prod", "k8s_secret", "irsa", "ghe", "gitlab"}
    prod = configs.get_with_secrets("airflow_prod")
    assert prod == {
        "name": "airflow_prod",
        "display_name": "Elyra airflow_prod",
        "description": "From Elyra",
        "tags": ["elyra"],
        "type": "airflow",
        "airflow": {
            "api_endpoint": "https://airflow.corp.example/",
            "version": "auto",
            "auth": {"type": "none"},
            "execution_mode": "kubernetes",
        },
        "dag_repo": {
            "url": "https://github.com/org/airflow-dags.git",
            "branch": "dags",
            "subfolder": "",
            "web_url_template": "https://github.com/org/airflow-dags/commit/{sha}",
            "auth": {"type": "token", "token": ELYRA_TOKEN_CANARY},
        },
        "object_storage": {
            "endpoint": "http://minio.corp.example:9000",
            "bucket": "elyra-bucket",
            "auth": {
                "type": "credentials",
                "access_key_id": "minio",
                "secret_access_key": ELYRA_COS_PASSWORD_CANARY,
            },
        },
        "kubernetes": {"namespace": "ml-team", "in_cluster": True},
        "source": "elyra",
        "read_only": True,
    }
    k8s = configs.get("k8s_secret")["object_storage"]
    assert k8s["auth"]["type"] == "kubernetes_secret"
    assert k8s["pod_credentials_secret"] == "cos-creds"
    assert configs.get("irsa")["object_storage"]["auth"] == {"type": "irsa"}
    assert configs.get("ghe")["dag_repo"]["url"] == "https://ghe.corp.example/team/dags.git"
    gitlab = configs.get("gitlab")["dag_repo"]
    assert gitlab["url"] == "https://gitlab.corp.example/group/sub/dags.git"
    assert gitlab["web_url_template"] == "https://gitlab.corp.example/group/sub/dags/-/commit/{sha}"


@pytest.mark.parametrize(
    ("git_type", "endpoint", "repo", "url"),
    [
        ("GITHUB", "https://api.github.com", "org/repo", "https://github.com/org/repo.git"),
        ("GITHUB", "https://api.github.com/", "org/repo.git", "https://github.com/org/repo.git"),
        ("GITHUB", "https://ghe.example/api/v3", "org/repo", "https://ghe.example/org/repo.git"),
        ("GITHUB", None, "org/repo", "https://github.com/org/repo.git"),
        ("GITLAB", "https://gitlab.example/api/v4", "g/r", "https://gitlab.example/g/r.git"),
        ("GITLAB", None, "g/r", "https://gitlab.com/g/r.git"),
        ("GITEA", "https://gitea.example/api/v1", "o/r", "https://gitea.example/o/r.git"),
        ("GITHUB", "https://user:pw@ghe.example/api/v3", "o/r", "https://ghe.example/o/r.git"),
        (
            "GITHUB",
            "https://api.github.com",
            "https://github.com/o/r.git",
            "https://github.com/o/r.git",
        ),
    ],
)
def test_git_urls(git_type, endpoint, repo, url):
    assert git_urls(git_type, endpoint, repo)[0] == url


def test_elyra_secrets_never_returned_masked(configs, images):
    output = json.dumps(
        [
            configs.list(),
            images.list(),
            configs.get("airflow_prod"),
            [configs.get(n) for n in ("k8s_secret", "ghe", "gitlab")],
        ]
    )
    for canary in ELYRA_SECRETS:
        assert canary not in output
    masked = configs.get("airflow_prod")
    assert masked["dag_repo"]["auth"]["token"] == MASK
    assert masked["object_storage"]["auth"]["secret_access_key"] == MASK


def test_user_entry_hides_elyra_entry(configs):
    configs.create({"name": "airflow_prod", "type": "local", "local": {}})
    (entry,) = [e for e in configs.list() if e["name"] == "airflow_prod"]
    assert entry["source"] == "user" and entry["type"] == "local"
    configs.delete("airflow_prod")
    assert configs.get("airflow_prod")["source"] == "elyra"


def test_import_all(configs, images, tmp_path):
    data = tmp_path / "data"
    imported = configs.import_elyra()
    assert sorted(e["name"] for e in imported) == [
        "airflow_prod",
        "ghe",
        "gitlab",
        "irsa",
        "k8s_secret",
    ]
    assert all(e["source"] == "user" and not e["read_only"] for e in imported)
    for canary in ELYRA_SECRETS:
        assert canary not in json.dumps(imported)
    assert (
        configs.get_with_secrets("airflow_prod")["dag_repo"]["auth"]["token"] == ELYRA_TOKEN_CANARY
    )
    assert configs.get("airflow_prod")["source"] == "user"
    # secrets went into the secrets store only
    for path in files_under(data, skip="secrets"):
        for canary in ELYRA_SECRETS:
            assert canary.encode() not in path.read_bytes(), path
    assert (
        ELYRA_TOKEN_CANARY
        in (data / "secrets" / "runtime-configs" / "airflow_prod.json").read_text()
    )
    # editable now
    entry = configs.get("airflow_prod")
    entry.update(description="edited")
    configs.update("airflow_prod", entry)
    # importing again skips what is already there
    assert configs.import_elyra() == []
    assert configs.get("airflow_prod")["description"] == "edited"
    assert [e["name"] for e in images.import_elyra()] == ["anaconda", "pandas"]


def test_import_named_and_overwrite(configs):
    assert [e["name"] for e in configs.import_elyra(["ghe"])] == ["ghe"]
    assert configs.get("airflow_prod")["source"] == "elyra"
    with pytest.raises(Conflict):
        configs.import_elyra(["ghe"])
    entry = configs.get("ghe")
    entry["description"] = "mine"
    configs.update("ghe", entry)
    configs.import_elyra(["ghe"], overwrite=True)
    assert configs.get("ghe")["description"] == "From Elyra"
    with pytest.raises(NotFound):
        configs.import_elyra(["nope"])
    with pytest.raises(NotFound):
        configs.import_elyra(["kfp"])  # not an Airflow runtime
    with pytest.raises(CatalogError):
        configs.import_elyra(["../etc"])


def test_invalid_elyra_entries(tmp_path):
    root = tmp_path / "jupyter-data"
    elyra_airflow(root, "bad_url", api_endpoint="airflow-without-scheme")
    write_elyra(root, "runtime-images", "broken", {"schema_name": "runtime-image", "metadata": {}})
    (root / "metadata" / "runtime-images" / "garbage.json").write_text("{nope")
    configs = RuntimeConfigs(tmp_path / "data", elyra_data_dir=root)
    images = RuntimeImages(tmp_path / "data", elyra_data_dir=root)
    listed = {e["name"]: e for e in images.list()}
    assert listed["broken"]["error"] and listed["garbage"]["error"]
    assert listed["broken"]["read_only"] is True
    assert images.import_elyra() == []  # unreadable entries are skipped when importing all
    with pytest.raises(CatalogError):
        images.import_elyra(["broken"])
    with pytest.raises(CatalogError) as exc:
        configs.import_elyra()
    assert exc.value.field == "airflow.api_endpoint"
    assert "bad_url" in exc.value.message
    assert list((tmp_path / "data").rglob("*.json")) == []  # all or nothing
    assert [e["name"] for e in configs.list() if e["source"] == "user"] == []


def test_odd_elyra_names_are_slugified(tmp_path):
    root = tmp_path / "jupyter-data"
    elyra_image(root, "My Image", "python:3.11")
    images = RuntimeImages(tmp_path / "data", elyra_data_dir=root)
    assert [e["name"] for e in images.list()] == ["my-image"]
    assert images.get("my-image")["image"] == "python:3.11"


def test_elyra_disabled_or_missing(tmp_path, elyra):
    assert RuntimeImages(tmp_path / "d", elyra_data_dir=elyra, include_elyra=False).list() == []
    assert RuntimeImages(tmp_path / "d", elyra_data_dir=tmp_path / "missing").list() == []


def test_elyra_default_location_is_jupyter_data_dir(tmp_path, monkeypatch, elyra):
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(elyra))
    monkeypatch.setenv("MLPIPE_LAB_DATA_DIR", str(tmp_path / "data"))
    assert {e["name"] for e in RuntimeImages().list()} == {"anaconda", "pandas"}
