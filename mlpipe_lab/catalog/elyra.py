"""Read Elyra's metadata catalogs and convert them to mlpipe-lab entries.

Elyra stores instances as ``<jupyter_data_dir>/metadata/<schemaspace>/<name>.json`` of the form
``{"display_name", "schema_name", "metadata": {...}}``. Runtime images live in the
``runtime-images`` schemaspace, runtimes in ``runtimes`` (only ``schema_name == "airflow"`` is
used).
Converted entries still carry their secrets (git token, storage password): callers mask them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ._fs import read_json
from .names import is_valid_name, slugify

#: our kind -> (Elyra schemaspace folder, accepted schema_name values or None for any)
ELYRA_SCHEMASPACES: dict[str, tuple[str, frozenset[str] | None]] = {
    "runtime-images": ("runtime-images", frozenset({"runtime-image"})),
    "runtime-configs": ("runtimes", frozenset({"airflow"})),
    "component-catalogs": (
        "component-catalogs",
        frozenset(
            {
                "local-file-catalog",
                "local-directory-catalog",
                "url-catalog",
                "airflow-package-catalog",
                "airflow-provider-package-catalog",
                "elyra-kfp-examples-catalog",
                "elyra-airflow-examples-catalog",
            }
        ),
    ),
}
# Elyra component catalog metadata we keep (the rest, e.g. UI hints, is Elyra's own).
_COMPONENT_CATALOG_FIELDS = (
    "runtime_type",
    "categories",
    "paths",
    "base_path",
    "include_subdirs",
    "airflow_package_download_url",
    "airflow_provider_package_download_url",
    "search_contrib",
    "auth_id",
    "auth_password",
)

_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_DEFAULT_GIT_HOSTS = {"GITHUB": "https://github.com", "GITLAB": "https://gitlab.com"}


class ConversionError(ValueError):
    """An Elyra instance lacks what a converted entry needs."""


@dataclass
class ElyraEntry:
    name: str
    path: Path
    entry: dict[str, Any] | None  # converted, secrets included
    error: str | None = None


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _tags(value: Any) -> list[str] | None:
    if not isinstance(value, list):
        return None
    tags: list[str] = []
    for tag in value:
        text = _text(tag)
        if text and text not in tags:
            tags.append(text[:128])
    return tags or None


def _common(name: str, instance: dict[str, Any], metadata: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": name,
        "display_name": _text(instance.get("display_name")) or name,
    }
    description = _text(metadata.get("description"))
    if description:
        entry["description"] = description
    tags = _tags(metadata.get("tags"))
    if tags:
        entry["tags"] = tags
    return entry


def image_from_elyra(name: str, instance: dict[str, Any]) -> dict[str, Any]:
    """Elyra runtime-image instance -> our runtime image entry."""
    metadata = instance.get("metadata")
    if not isinstance(metadata, dict):
        raise ConversionError("has no metadata")
    image = _text(metadata.get("image_name"))
    if not image:
        raise ConversionError("has no image_name")
    entry = _common(name, instance, metadata)
    entry["image"] = image
    if metadata.get("pull_policy") in _PULL_POLICIES:
        entry["pull_policy"] = metadata["pull_policy"]
    pull_secret = _text(metadata.get("pull_secret"))
    if pull_secret:
        entry["pull_secret"] = pull_secret
    return entry


def git_urls(git_type: str | None, api_endpoint: str | None, repo: str) -> tuple[str, str | None]:
    """(clone URL, commit link template) for Elyra's ``git_type``/``*_api_endpoint``/``*_repo``.

    ``https://api.github.com`` -> ``https://github.com/<repo>.git``; an Enterprise/GitLab/Gitea API
    endpoint ending in ``/api`` or ``/api/vN`` loses that suffix. A ``repo`` that already is a URL
    is used as is (no link template).
    """
    repo = repo.strip()
    if "://" in repo or repo.startswith("/") or ("@" in repo and ":" in repo):
        return repo, None
    git_type = (git_type or "GITHUB").upper()
    endpoint = (api_endpoint or "").strip().rstrip("/") or _DEFAULT_GIT_HOSTS.get(git_type, "")
    if not endpoint:
        raise ConversionError("has no git API endpoint")
    parts = urlsplit(endpoint)
    scheme = parts.scheme or "https"
    host = parts.netloc.rsplit("@", 1)[-1]  # never carry credentials over
    path = parts.path.rstrip("/")
    if host.lower() == "api.github.com":
        host, path = "github.com", ""
    segments = path.split("/")
    if len(segments) >= 2 and segments[-1].lower().startswith("v") and segments[-1][1:].isdigit():
        segments = segments[:-1]
    if segments and segments[-1].lower() == "api":
        segments = segments[:-1]
    base = f"{scheme}://{host}{'/'.join(segments)}"
    repo_path = repo.strip("/")
    if repo_path.endswith(".git"):
        repo_path = repo_path[:-4]
    commit = "/-/commit/{sha}" if git_type == "GITLAB" else "/commit/{sha}"
    return f"{base}/{repo_path}.git", f"{base}/{repo_path}{commit}"


def runtime_from_elyra(name: str, instance: dict[str, Any]) -> dict[str, Any]:
    """Elyra ``airflow`` runtime instance -> our runtime configuration (type airflow)."""
    metadata = instance.get("metadata")
    if not isinstance(metadata, dict):
        raise ConversionError("has no metadata")
    api_endpoint = _text(metadata.get("api_endpoint"))
    if not api_endpoint:
        raise ConversionError("has no api_endpoint")
    repo = _text(metadata.get("github_repo"))
    if not repo:
        raise ConversionError("has no github_repo")
    entry = _common(name, instance, metadata)
    entry["type"] = "airflow"
    entry["airflow"] = {"api_endpoint": api_endpoint}

    url, web_url_template = git_urls(
        _text(metadata.get("git_type")), _text(metadata.get("github_api_endpoint")), repo
    )
    dag_repo: dict[str, Any] = {
        "url": url,
        "branch": _text(metadata.get("github_branch")) or "main",
        "subfolder": "",  # Elyra pushes DAGs to the repository root
    }
    if web_url_template:
        dag_repo["web_url_template"] = web_url_template
    token = _text(metadata.get("github_repo_token"))
    dag_repo["auth"] = {"type": "token", "token": token} if token else {"type": "none"}
    entry["dag_repo"] = dag_repo

    bucket = _text(metadata.get("cos_bucket"))
    if bucket:
        storage: dict[str, Any] = {"bucket": bucket}
        for ours, theirs in (
            ("endpoint", "cos_endpoint"),
            ("public_endpoint", "public_cos_endpoint"),
        ):
            value = _text(metadata.get(theirs))
            if value:
                storage[ours] = value.rstrip("/")
        auth_type = (_text(metadata.get("cos_auth_type")) or "").upper()
        username = _text(metadata.get("cos_username"))
        password = _text(metadata.get("cos_password"))
        if auth_type == "AWS_IAM_ROLES_FOR_SERVICE_ACCOUNTS":
            storage["auth"] = {"type": "irsa"}
        else:
            auth: dict[str, Any] = {
                "type": "kubernetes_secret" if auth_type == "KUBERNETES_SECRET" else "credentials"
            }
            if username:
                auth["access_key_id"] = username
            if password:
                auth["secret_access_key"] = password
            storage["auth"] = auth
            secret_name = _text(metadata.get("cos_secret"))
            if secret_name:
                storage["pod_credentials_secret"] = secret_name
        entry["object_storage"] = storage

    namespace = _text(metadata.get("user_namespace"))
    entry["kubernetes"] = {"namespace": namespace} if namespace else {}
    return entry


def component_catalog_from_elyra(name: str, instance: dict[str, Any]) -> dict[str, Any]:
    """Elyra component catalog instance -> our component catalog entry (same field names; the
    schema name becomes ``type``)."""
    metadata = instance.get("metadata")
    if not isinstance(metadata, dict):
        raise ConversionError("has no metadata")
    schema_name = instance.get("schema_name")
    if not isinstance(schema_name, str):
        raise ConversionError("has no schema_name")
    entry = _common(name, instance, metadata)
    entry.pop("tags", None)
    entry["type"] = schema_name
    for key in _COMPONENT_CATALOG_FIELDS:
        value = metadata.get(key)
        if value not in (None, "", []):
            entry[key] = value
    if schema_name in ("local-file-catalog", "local-directory-catalog", "url-catalog"):
        if not entry.get("paths"):
            raise ConversionError("has no paths")
    return entry


_CONVERTERS = {
    "runtime-images": image_from_elyra,
    "runtime-configs": runtime_from_elyra,
    "component-catalogs": component_catalog_from_elyra,
}


def read_elyra(kind: str, elyra_data_dir: Path) -> list[ElyraEntry]:
    """The Elyra instances of ``kind`` under ``elyra_data_dir/metadata``, converted, sorted by name.

    Unreadable or unconvertible instances are returned with ``error`` set; instances of other
    schemas (e.g. Kubeflow Pipelines runtimes) are skipped. Names that are not valid here are
    slugified.
    """
    schemaspace, schema_names = ELYRA_SCHEMASPACES[kind]
    folder = elyra_data_dir / "metadata" / schemaspace
    try:
        files = sorted(
            e.name for e in os.scandir(folder) if e.name.endswith(".json") and e.is_file()
        )
    except (FileNotFoundError, NotADirectoryError):
        return []
    convert = _CONVERTERS[kind]
    entries: list[ElyraEntry] = []
    seen: set[str] = set()
    for filename in files:
        stem = filename[: -len(".json")]
        name = stem if is_valid_name(stem) else slugify(stem, fallback="elyra-entry")
        if name in seen:
            continue
        path = folder / filename
        try:
            instance = read_json(path)
        except (OSError, ValueError) as exc:
            entries.append(
                ElyraEntry(name, path, None, f"cannot read {filename}: {type(exc).__name__}")
            )
            seen.add(name)
            continue
        if not isinstance(instance, dict):
            entries.append(ElyraEntry(name, path, None, f"{filename} is not a JSON object"))
            seen.add(name)
            continue
        schema_name = instance.get("schema_name")
        if schema_names is not None and schema_name is not None and schema_name not in schema_names:
            continue
        if kind != "runtime-images" and schema_name is None:
            continue  # a runtime or catalog of unknown flavour
        seen.add(name)
        try:
            entries.append(ElyraEntry(name, path, convert(name, instance)))
        except ConversionError as exc:
            entries.append(ElyraEntry(name, path, None, f"Elyra entry {stem!r} {exc}"))
    return entries
