"""The serve tasks' standard-library MLflow client where no tracking server is needed to show it:
an ``s3://`` artifact location (an MLflow server with ``--no-serve-artifacts``) downloaded from
moto's S3 with the runner's own S3 client, as MLflow's client reads ``MLFLOW_S3_ENDPOINT_URL``;
other schemes are refused with a message. The REST calls themselves run against a real MLflow
server in test_serve_mlflow_node.py and tests/pods/test_pods_serve.py."""

from __future__ import annotations

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

import boto3
from s3server import S3Server

from mlpipe_lab.serving import mlflow_rest


@pytest.fixture(scope="module")
def s3():
    server = S3Server(max_seconds=300)
    server.start()
    try:
        client = boto3.client(
            "s3",
            endpoint_url=server.endpoint,
            region_name="us-east-1",
            aws_access_key_id="k",
            aws_secret_access_key="s",
        )
        client.create_bucket(Bucket="models")
        yield server, client
    finally:
        server.stop()


def test_s3_artifacts_are_downloaded_with_the_runners_client(s3, tmp_path, monkeypatch):
    server, client = s3
    files = {
        "MLmodel": b"flavors: {python_function: {loader_module: mlflow.sklearn}}\n",
        "requirements.txt": b"scikit-learn==1.5.0\n",
        "sub/extra.bin": bytes(range(256)) * 100,
    }
    for rel, data in files.items():
        client.put_object(Bucket="models", Key=f"1/abc/artifacts/model/{rel}", Body=data)
    client.put_object(Bucket="models", Key="1/abc/artifacts/model-other/MLmodel", Body=b"x")
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", server.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    rest = mlflow_rest.Client("http://127.0.0.1:9")  # not called for s3://
    dst = rest.download("s3://models/1/abc/artifacts/model", tmp_path / "dl")
    got = {p.relative_to(dst).as_posix(): p.read_bytes() for p in dst.rglob("*") if p.is_file()}
    assert got == files  # model-other/ is not under model/
    with pytest.raises(mlflow_rest.RestError, match="no artifacts there"):
        rest.download("s3://models/1/none", tmp_path / "none")
    with pytest.raises(mlflow_rest.UnsupportedLocation, match="gs:// are read by the mlflow"):
        rest.download("gs://b/m", tmp_path / "gs")
