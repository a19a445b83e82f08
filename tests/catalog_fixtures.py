"""Helpers shared by tests/test_catalog*.py: sample entries, Elyra metadata writers, and worker
functions for the multiprocessing tests (module level so that spawned processes can import them)."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

from mlpipe_lab.catalog import MASK, Conflict, RuntimeConfigs, RuntimeImages

TOKEN_CANARY = "ghp_CANARY_token_7f3a9c"
PASSWORD_CANARY = "airflow-CANARY-pw-41b2"
S3_SECRET_CANARY = "s3-CANARY-secret-9d0e"
SSH_CANARY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nCANARY-ssh-key\n-----END OPENSSH PRIVATE KEY-----\n"
)
ELYRA_TOKEN_CANARY = "ghp_ELYRA_CANARY_5e61"
ELYRA_COS_PASSWORD_CANARY = "elyra-cos-CANARY-pw"
CANARIES = (
    TOKEN_CANARY,
    PASSWORD_CANARY,
    S3_SECRET_CANARY,
    "CANARY-ssh-key",
    ELYRA_TOKEN_CANARY,
    ELYRA_COS_PASSWORD_CANARY,
)


def airflow_config(name: str = "prod", **overrides: Any) -> dict[str, Any]:
    """A complete Airflow runtime configuration with every secret set."""
    config: dict[str, Any] = {
        "name": name,
        "display_name": "Production Airflow",
        "description": "The team's Airflow 3",
        "tags": ["prod"],
        "type": "airflow",
        "airflow": {
            "api_endpoint": "https://airflow.example.com",
            "version": "3",
            "auth": {"type": "basic", "username": "alice", "password": PASSWORD_CANARY},
        },
        "dag_repo": {
            "url": "https://github.com/org/dags.git",
            "branch": "main",
            "subfolder": "dags",
            "web_url_template": "https://github.com/org/dags/commit/{sha}",
            "auth": {"type": "token", "token": TOKEN_CANARY},
        },
        "object_storage": {
            "endpoint": "http://minio.minio:9000",
            "bucket": "pipelines",
            "auth": {
                "type": "credentials",
                "access_key_id": "minioadmin",
                "secret_access_key": S3_SECRET_CANARY,
            },
            "pod_credentials_secret": "s3-creds",
        },
        "kubernetes": {"namespace": "ml", "in_cluster": True, "service_account": "runner"},
    }
    config.update(overrides)
    return config


def image(name: str = "pandas", **overrides: Any) -> dict[str, Any]:
    entry = {
        "name": name,
        "display_name": "Pandas",
        "image": "quay.io/org/pandas:2.1",
        "pull_policy": "IfNotPresent",
        "tags": ["data"],
    }
    entry.update(overrides)
    return entry


def write_elyra(root: Path, schemaspace: str, name: str, instance: dict[str, Any]) -> Path:
    folder = root / "metadata" / schemaspace
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(instance, indent=2))
    return path


def elyra_image(root: Path, name: str, image_name: str, **metadata: Any) -> Path:
    return write_elyra(
        root,
        "runtime-images",
        name,
        {
            "display_name": metadata.pop("display_name", name.title()),
            "schema_name": "runtime-image",
            "metadata": {"image_name": image_name, **metadata},
        },
    )


def elyra_airflow(root: Path, name: str, **metadata: Any) -> Path:
    base = {
        "runtime_type": "APACHE_AIRFLOW",
        "api_endpoint": "https://airflow.corp.example/",
        "user_namespace": "ml-team",
        "git_type": "GITHUB",
        "github_api_endpoint": "https://api.github.com",
        "github_repo": "org/airflow-dags",
        "github_branch": "dags",
        "github_repo_token": ELYRA_TOKEN_CANARY,
        "cos_endpoint": "http://minio.corp.example:9000",
        "cos_bucket": "elyra-bucket",
        "cos_auth_type": "USER_CREDENTIALS",
        "cos_username": "minio",
        "cos_password": ELYRA_COS_PASSWORD_CANARY,
        "tags": ["elyra"],
        "description": "From Elyra",
    }
    base.update(metadata)
    return write_elyra(
        root,
        "runtimes",
        name,
        {"display_name": f"Elyra {name}", "schema_name": "airflow", "metadata": base},
    )


def files_under(root: Path, skip: str | None = None) -> list[Path]:
    out = []
    for dirpath, _dirs, files in os.walk(root):
        if skip and Path(dirpath).relative_to(root).parts[:1] == (skip,):
            continue
        out.extend(Path(dirpath) / f for f in files)
    return out


def leftover_temp_files(root: Path) -> list[Path]:
    return [p for p in files_under(root) if p.name.endswith((".tmp", ".pending"))]


# ----------------------------------------------------------------------------- process workers


def worker_update_own(data_dir: str, worker: int, writes: int) -> None:
    """Create entry w<worker> and update it ``writes`` times: description n, new token each time."""
    catalog = RuntimeConfigs(data_dir, include_elyra=False)
    name = f"w{worker}"
    config = airflow_config(name)
    config["dag_repo"]["auth"]["token"] = f"tok-{worker}-0"
    config["description"] = "0"
    catalog.create(config)
    for n in range(1, writes):
        config = copy.deepcopy(config)
        config["description"] = str(n)
        config["dag_repo"]["auth"]["token"] = f"tok-{worker}-{n}"
        config["airflow"]["auth"]["password"] = MASK  # kept
        config["object_storage"]["auth"].pop("secret_access_key", None)  # absent: kept
        catalog.update(name, config)


def worker_update_shared(data_dir: str, worker: int, writes: int) -> None:
    """Update the entry "shared": description and storage secret change together, the git token is
    masked (kept), the Airflow password is absent (kept)."""
    catalog = RuntimeConfigs(data_dir, include_elyra=False)
    for n in range(writes):
        config = catalog.get("shared")
        for key in ("source", "read_only"):
            config.pop(key)
        config["description"] = f"{worker}-{n}"
        config["object_storage"]["auth"]["secret_access_key"] = f"s3-{worker}-{n}"
        assert config["dag_repo"]["auth"]["token"] == MASK
        del config["airflow"]["auth"]["password"]
        catalog.update("shared", config)


def worker_images(data_dir: str, worker: int, writes: int) -> None:
    """Create/update/delete runtime images, some shared between workers."""
    catalog = RuntimeImages(data_dir, include_elyra=False)
    for n in range(writes):
        own = f"img-{worker}"
        if n == 0:
            catalog.create(image(own))
        else:
            catalog.update(own, image(own, description=str(n)))
        shared = image("img-shared", description=f"{worker}-{n}")
        try:
            catalog.create(shared)
        except Conflict:
            catalog.update("img-shared", shared)


def worker_reader(data_dir: str, rounds: int) -> int:
    """Read "shared" repeatedly; every read must pair description and storage secret."""
    catalog = RuntimeConfigs(data_dir, include_elyra=False)
    checked = 0
    for _ in range(rounds):
        entry = catalog.get_with_secrets("shared")
        description = entry["description"]
        secret = entry["object_storage"]["auth"]["secret_access_key"]
        if description == "initial":
            assert secret == S3_SECRET_CANARY, (description, secret)
        else:
            assert secret == f"s3-{description}", (description, secret)
        assert entry["dag_repo"]["auth"]["token"] == TOKEN_CANARY
        assert entry["airflow"]["auth"]["password"] == PASSWORD_CANARY
        for listed in catalog.list():
            json.dumps(listed)
        checked += 1
    return checked
