"""Bundles in S3 (moto's server on 127.0.0.1): sha256 metadata, reuse, and no orphan uploads when the
git step fails."""

from __future__ import annotations

import hashlib
import logging
import socket
import sys
import uuid
from pathlib import Path

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

import boto3

from mlpipe_lab.publish import LocalStore, PublishError, S3Store, publish

try:
    from gitserver import git, log, show
    from s3server import S3Server
except ImportError:  # pragma: no cover
    from tests.gitserver import git, log, show
    from tests.s3server import S3Server

SECRET = f"s3-secret-canary-{uuid.uuid4().hex}"


def dag_text(dag_id: str, marker: str = "v1") -> str:
    return f'from airflow.sdk import DAG\n# {marker}\nwith DAG(dag_id="{dag_id}", schedule=None):\n    pass\n'


@pytest.fixture(scope="module")
def s3():
    server = S3Server(max_seconds=300)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bucket(s3) -> str:
    name = f"b-{uuid.uuid4().hex[:12]}"
    client(s3).create_bucket(Bucket=name)
    return name


def client(s3):
    return boto3.session.Session().client(
        "s3",
        endpoint_url=s3.endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIATEST",
        aws_secret_access_key=SECRET,
    )


def keys(s3, bucket: str) -> list[str]:
    answer = client(s3).list_objects_v2(Bucket=bucket)
    return sorted(o["Key"] for o in answer.get("Contents", []))


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    path = tmp_path / "dags.git"
    git("init", "-q", "--bare", "-b", "main", str(path))
    return path


def s3_config(s3, bucket: str, repo_url: str) -> dict:
    return {
        "name": "s3",
        "type": "airflow",
        "dag_repo": {"url": repo_url, "branch": "main", "subfolder": "dags"},
        "object_storage": {
            "endpoint": s3.endpoint,
            "public_endpoint": "https://objects.example.com",
            "bucket": bucket,
            "region": "us-east-1",
            "prefix": "mlpipe",
            "auth": {
                "type": "credentials",
                "access_key_id": "AKIATEST",
                "secret_access_key": SECRET,
            },
        },
        "airflow": {"api_endpoint": "https://airflow.example.com"},
    }


def run(config, cache, dag_id, text, bundles):
    return publish(
        dag_id=dag_id,
        dag_text=text,
        source_path=f"{dag_id}.pipeline",
        bundles=bundles,
        config=config,
        cache_dir=cache,
        generator="t",
    )


def test_upload_with_sha_metadata_then_reuse(tmp_path, s3, bucket, bare, make_bundle, caplog):
    caplog.set_level(logging.DEBUG, logger="mlpipe_lab.publish")
    config = s3_config(s3, bucket, str(bare))
    cache = tmp_path / "cache"
    one = make_bundle("etl", "extract", b"extract v1")
    two = make_bundle("etl", "load", b"load v1")
    first = run(config, cache, "etl", dag_text("etl"), [one, two])
    assert sorted(first.uploaded) == sorted([one["key"], two["key"]]) and first.reused == []
    assert keys(s3, bucket) == sorted(f"mlpipe/{b['key']}" for b in (one, two))
    for b in (one, two):
        head = client(s3).head_object(Bucket=bucket, Key=f"mlpipe/{b['key']}")
        assert head["Metadata"]["sha256"] == b["sha256"]
        body = client(s3).get_object(Bucket=bucket, Key=f"mlpipe/{b['key']}")["Body"].read()
        assert body == Path(b["path"]).read_bytes()
    assert first.links["dag"] == "https://airflow.example.com/dags/etl"

    again = run(config, cache, "etl", dag_text("etl"), [one, two])
    assert again.uploaded == [] and sorted(again.reused) == sorted([one["key"], two["key"]])
    assert not again.changed and len(log(bare)) == 1

    three = make_bundle("etl", "load", b"load v2")
    changed = run(config, cache, "etl", dag_text("etl", "v2"), [one, three])
    assert changed.uploaded == [three["key"]] and changed.reused == [one["key"]]
    assert changed.changed and len(log(bare)) == 2
    upload_step = next(s for s in changed.steps if s["step"] == "upload")
    assert upload_step["message"].startswith("uploaded 1 bundles, reused 1")
    for result in (first, again, changed):
        assert SECRET not in result.to_json()
    assert SECRET not in caplog.text


def test_failed_push_removes_only_this_publishs_uploads(tmp_path, s3, bucket, bare, make_bundle):
    config = s3_config(s3, bucket, str(bare))
    cache = tmp_path / "cache"
    old = make_bundle("etl", "extract", b"extract v1")
    run(config, cache, "etl", dag_text("etl"), [old])
    before = keys(s3, bucket)
    head_before = log(bare)[0]["sha"]

    # the remote now refuses every push (a real server-side hook)
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'pushes are frozen' >&2\nexit 1\n")
    hook.chmod(0o755)
    new = make_bundle("etl", "train", b"train v1")
    with pytest.raises(PublishError) as err:
        run(config, cache, "etl", dag_text("etl", "v2"), [old, new])
    assert err.value.step == "git-push"
    assert "pre-receive hook declined" in err.value.message or "frozen" in err.value.message
    assert "Removed the 1 bundles" in err.value.message
    assert keys(s3, bucket) == before  # the new bundle is gone, the earlier one stays
    assert log(bare)[0]["sha"] == head_before
    assert [s["status"] for s in err.value.steps][-1] == "failed"
    assert SECRET not in str(err.value.to_dict())
    clone = next(cache.glob("*/repo"))
    assert git("status", "--porcelain", "--ignored", cwd=clone).strip() == ""
    assert git("rev-parse", "HEAD", cwd=clone).strip() == head_before

    hook.unlink()
    ok = run(config, cache, "etl", dag_text("etl", "v2"), [old, new])
    assert ok.changed and ok.uploaded == [new["key"]]
    assert show(bare, "dags/etl.py") == dag_text("etl", "v2")


def test_unreachable_remote_uploads_nothing(tmp_path, s3, bucket, make_bundle):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = s3_config(s3, bucket, f"http://127.0.0.1:{port}/dags.git")
    bundle = make_bundle("etl", "extract", b"x")
    with pytest.raises(PublishError) as err:
        run(config, tmp_path / "cache", "etl", dag_text("etl"), [bundle])
    assert err.value.step == "git-fetch"
    assert keys(s3, bucket) == []


def test_s3_store_operations(s3, bucket, tmp_path):
    store = S3Store.from_config(
        {
            "endpoint": s3.endpoint,
            "bucket": bucket,
            "prefix": "p/",
            "auth": {
                "type": "credentials",
                "access_key_id": "AKIATEST",
                "secret_access_key": SECRET,
            },
        }
    )
    one = tmp_path / "one"
    one.write_bytes(b"one")
    sha_one = hashlib.sha256(b"one").hexdigest()
    assert store.head("a/b.tar.gz") is None
    assert store.put("a/b.tar.gz", one, sha_one) == "created"
    assert store.head("a/b.tar.gz")["sha256"] == sha_one
    assert store.put("a/b.tar.gz", one, sha_one) == "reused"
    two = tmp_path / "two"
    two.write_bytes(b"two")
    assert store.put("a/b.tar.gz", two, hashlib.sha256(b"two").hexdigest()) == "replaced"
    assert store.url("a/b.tar.gz") == f"{s3.endpoint}/{bucket}/p/a/b.tar.gz"
    store.delete("a/b.tar.gz")
    store.delete("a/b.tar.gz")  # missing is fine
    assert keys(s3, bucket) == []
    with pytest.raises(PublishError):
        store.put("../x", one, sha_one)


def test_s3_errors_are_plain(tmp_path, s3):
    store = S3Store(
        f"missing-{uuid.uuid4().hex[:8]}",
        endpoint=s3.endpoint,
        access_key_id="AKIATEST",
        secret_access_key=SECRET,
    )
    f = tmp_path / "f"
    f.write_bytes(b"f")
    with pytest.raises(PublishError) as err:
        store.put("k.tar.gz", f, hashlib.sha256(b"f").hexdigest())
    assert err.value.step == "upload" and "NoSuchBucket" in err.value.message
    assert SECRET not in err.value.message


def test_missing_boto3_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "boto3", None)  # makes `import boto3` raise ImportError
    with pytest.raises(PublishError) as err:
        S3Store("bucket")
    assert "mlpipe_lab[s3]" in err.value.message


def test_local_store(tmp_path):
    store = LocalStore(tmp_path / "art")
    f = tmp_path / "f"
    f.write_bytes(b"data")
    sha = hashlib.sha256(b"data").hexdigest()
    assert store.put("d/bundles/x.tar.gz", f, sha) == "created"
    assert store.put("d/bundles/x.tar.gz", f, sha) == "reused"
    assert store.head("d/bundles/x.tar.gz") == {"sha256": sha, "size": 4}
    assert store.url("d/bundles/x.tar.gz").startswith("file://")
    store.delete("d/bundles/x.tar.gz")
    assert not (tmp_path / "art" / "d").exists() and (tmp_path / "art").exists()
