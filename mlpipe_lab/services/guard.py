"""What a runtime configuration may point at when it comes from the browser (issue #17).

- Local paths (the local DAG repository and artifact folder, a git ``url`` that is a local path, a
  ``file:``/``sqlite:`` MLflow tracking URI) only inside the server's root, its data folder or
  the folders the administrator allows (``c.MLPipeLab.allowed_local_paths``).
- Credentials to a non-loopback Airflow, git or S3 endpoint over plain ``http://`` would cross
  the network unencrypted: refused unless the configuration says it is intended
  (``allow_plain_http: true``) or the administrator allows it (``c.MLPipeLab.allow_plain_http``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..confine import Folders, plain_http_elsewhere
from ..errors import MLPipeError
from .registry import local_path_of

# (section, endpoint field, auth types that send nothing secret)
ENDPOINTS = (
    ("airflow", "api_endpoint", {"none"}),
    ("dag_repo", "url", {"none", "ssh"}),
    ("object_storage", "endpoint", {"irsa"}),
)


def plain_http_credentials(entry: dict[str, Any]) -> list[str]:
    """The fields (``section.endpoint``) whose credentials would go over plain http:// to
    another machine."""
    found = []
    for section, key, harmless in ENDPOINTS:
        part = entry.get(section)
        if not isinstance(part, dict):
            continue
        auth = part.get("auth")
        if section == "object_storage" and auth is None:
            continue  # the ambient credential chain: nothing of ours is sent
        kind = auth.get("type") if isinstance(auth, dict) else None
        if kind == "kubernetes_secret" and not (
            isinstance(auth, dict) and (auth.get("access_key_id") or auth.get("secret_access_key"))
        ):
            continue  # the keys stay in the cluster's Secret
        if kind in harmless or (kind is None and section != "object_storage"):
            continue
        if plain_http_elsewhere(part.get(key)):
            found.append(f"{section}.{key}")
    return found


def plain_http_message(fields: list[str]) -> str:
    return (
        f"{', '.join(fields)}: credentials would be sent over plain http:// to another machine, "
        "readable by anyone on the network. Use https://, or set allow_plain_http: true in this "
        "configuration if that is intended (e.g. a cluster-internal address)."
    )


def _local_git_path(url: str) -> str | None:
    if url.startswith("file://"):
        return url[len("file://") :]
    if "://" in url:
        return None
    head = url.split("/", 1)[0]
    if ":" in head and not url.startswith(("/", ".")):  # scp-like user@host:path
        return None
    return url


class ConfigGuard:
    def __init__(
        self,
        folders: Callable[[], Folders | None],
        data_dir: Callable[[], Path],
        allow_plain_http: bool = False,
        warn: Callable[[str], None] | None = None,
    ):
        self.folders = folders
        self.data_dir = data_dir
        self.allow_plain_http = allow_plain_http
        self.warn = warn  # told once per configuration that sends credentials over http://
        self._warned: set[str] = set()

    def __call__(self, entry: Any) -> None:
        if not isinstance(entry, dict):
            return
        folders = self.folders()
        if folders is not None:
            local = entry.get("local")
            if isinstance(local, dict):
                for key in ("dag_repo_path", "artifacts_path"):
                    value = local.get(key)
                    if isinstance(value, str) and value:
                        path = os.path.join(self.data_dir(), os.path.expanduser(value))
                        folders.check(path, f"local.{key}", f"local.{key}")
            repo = entry.get("dag_repo")
            url = repo.get("url") if isinstance(repo, dict) else None
            if isinstance(url, str) and url:
                path = _local_git_path(url)
                if path is not None:
                    folders.check(os.path.abspath(path), "dag_repo.url", "dag_repo.url")
            mlflow = entry.get("mlflow")
            uri = mlflow.get("tracking_uri") if isinstance(mlflow, dict) else None
            if isinstance(uri, str) and uri:
                path = local_path_of(uri)
                if path is not None:
                    folders.check(path, "mlflow.tracking_uri", "mlflow.tracking_uri")
        fields = plain_http_credentials(entry)
        if not fields:
            return
        if not self.allow_plain_http and entry.get("allow_plain_http") is not True:
            raise MLPipeError(plain_http_message(fields), 400, field=fields[0])
        name = str(entry.get("name") or "")
        if self.warn is not None and name not in self._warned:
            self._warned.add(name)
            self.warn(
                f"warning: runtime configuration '{name}' sends credentials over plain http:// "
                f"({', '.join(fields)}); anyone on the network between can read them."
            )
