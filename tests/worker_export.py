"""Export a pipeline for Airflow in local-worker mode, its bundles in a fresh bucket of a moto S3
server, as submit would leave them: the set-up of the real-Airflow `dags test` tests."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from mlpipe_lab.compiler.export import export


def export_to_bucket(
    s3: Any, path: Path, dags: Path, dag_id: str, *, key_id: str, secret: str, auth: bool = False
) -> tuple[Any, Any, str]:
    """(the export, an S3 client, the bucket). ``auth``: the runtime configuration holds the
    credentials too (they must not reach the DAG); otherwise the workers' environment has them."""
    import boto3

    bucket = f"w-{uuid.uuid4().hex[:12]}"
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=s3.endpoint,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )
    client.create_bucket(Bucket=bucket)
    store: dict[str, Any] = {
        "endpoint": s3.endpoint,
        "bucket": bucket,
        "region": "us-east-1",
        "prefix": "mlpipe",
    }
    if auth:
        store["auth"] = {
            "type": "credentials",
            "access_key_id": key_id,
            "secret_access_key": secret,
        }
    config = {
        "name": "worker",
        "type": "airflow",
        "object_storage": store,
        "airflow": {"execution_mode": "local-worker"},
    }
    exported = export(path, config=config, images=[], output=dags / f"{dag_id}.py")
    for ref in exported.bundles.values():  # what submit uploads
        client.upload_file(str(ref.path), bucket, f"mlpipe/{ref.key}")
    return exported, client, bucket
