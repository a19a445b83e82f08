"""Redeploy on a registry change: which version a node last deployed, and has the alias moved?

The last step of a serve node (smoke test, rollout, or the local check) records the version it
deployed at a key that does not depend on the run (``<dag>/serving/<node>/deployed.json`` in the
pipeline's object store). The ``registry`` step of the next run resolves the alias with the MLflow
client and compares: the same version means nothing to do, and the run is skipped (exit code 99,
which Airflow's operators turn into "skipped" for the rest of the run). So with the DAG on a
schedule, moving ``@champion`` to another version in MLflow deploys that version on the next run.

A failed deployment records nothing, so the next run tries again.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from .. import registry
from .package import PackageTaskError


def record(store: Any, key: str, model: str, version: str | None, target: str) -> dict:
    doc = {
        "model": model,
        "version": str(version) if version is not None else None,
        "target": target,
        "deployed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    store.put_json(key, doc)
    print(f"recorded {model} version {version} as deployed ({store.describe()} {key})")
    return doc


def alias_moved(
    store: Any, key: str, model: str, alias: str, tracking_uri: str | None, log=print
) -> bool:
    """True when ``models:/model@alias`` is not the version recorded at ``key`` (or nothing is
    recorded yet)."""
    uri = f"models:/{model}@{alias}"
    try:
        resolved = registry.resolve(uri, tracking_uri)
    except registry.RegistryError as exc:
        raise PackageTaskError(f"cannot resolve {uri}: {exc}") from None
    last = store.get_json(key)
    if not isinstance(last, dict) or last.get("model") != model:
        log(f"{uri} is version {resolved.version}; nothing deployed by this node yet: deploying")
        return True
    if str(last.get("version")) == str(resolved.version):
        log(
            f"{uri} is version {resolved.version}, deployed on {last.get('deployed_at')}: "
            "nothing to do (the run is skipped)"
        )
        return False
    log(f"{uri} moved from version {last.get('version')} to {resolved.version}: deploying")
    return True
