"""Publishing over git smart HTTP with a token: the token reaches git only through the askpass helper
and appears nowhere on disk, in git objects, in the result or in the logs."""

from __future__ import annotations

import hashlib
import logging
import tempfile
import uuid
from pathlib import Path

import pytest

from mlpipe_lab.publish import PublishError, publish, retire

try:
    from gitserver import GitHttpServer, all_objects, git, log, show
except ImportError:  # pragma: no cover
    from tests.gitserver import GitHttpServer, all_objects, git, log, show

USER = "mlpipe-bot"
CANARY = f"canary-token-{uuid.uuid4().hex}"


def dag_text(dag_id: str, marker: str = "v1") -> str:
    return f'from airflow.sdk import DAG\n# {marker}\nwith DAG(dag_id="{dag_id}", schedule=None):\n    pass\n'


def tree_contains(root: Path, needle: bytes) -> list[Path]:
    """Files under ``root`` whose raw bytes contain ``needle``."""
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
            hits.append(path)
    return hits


@pytest.fixture
def server(tmp_path: Path):
    root = tmp_path / "srv"
    root.mkdir()
    git("init", "-q", "--bare", "-b", "main", str(root / "dags.git"))
    srv = GitHttpServer(root, user=USER, token=CANARY, max_seconds=240)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Route the publisher's temporary files (the askpass helper) to a folder we can inspect."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def http_config(url: str, token: str, auth_type: str = "token", **extra) -> dict:
    auth = {"type": auth_type, "token": token}
    auth["username"] = USER
    return {
        "name": "http",
        "type": "airflow",
        "dag_repo": {
            "url": url,
            "branch": "main",
            "subfolder": "dags",
            "auth": auth,
            "web_url_template": "https://git.example/org/dags/-/commit/{sha}",
        },
        "airflow": {"api_endpoint": "https://airflow.example.com"},
        **extra,
    }


def test_server_requires_the_token(tmp_path, server):
    # plain git without credentials is refused, so the publish below really authenticates
    with pytest.raises(RuntimeError, match="Authentication failed|could not read Username"):
        git("ls-remote", server.url("dags.git"))


def test_token_publish_leaves_no_trace_of_the_token(tmp_path, server, private_tmp, caplog):
    caplog.set_level(logging.DEBUG, logger="mlpipe_lab.publish")
    cache = tmp_path / "cache"
    config = http_config(server.url("dags.git"), CANARY)
    first = publish(
        dag_id="etl",
        dag_text=dag_text("etl"),
        source_path="pipelines/etl.pipeline",
        bundles=[],
        config=config,
        cache_dir=cache,
        generator="t",
    )
    second = publish(
        dag_id="etl",
        dag_text=dag_text("etl", "v2"),
        source_path="pipelines/etl.pipeline",
        bundles=[],
        config=config,
        cache_dir=cache,
        generator="t",
    )
    gone = retire(dag_id="etl", config=config, cache_dir=cache)
    assert first.changed and second.changed and gone.changed

    bare = tmp_path / "srv" / "dags.git"
    commits = log(bare)
    assert len(commits) == 3
    assert commits[2]["subject"].startswith("pipelines: publish etl (pipelines/etl.pipeline) hash=")
    assert show(bare, "dags/etl.py", commits[1]["sha"]) == dag_text("etl", "v2")
    assert first.links["commit"] == f"https://git.example/org/dags/-/commit/{first.commit}"

    needle = CANARY.encode()
    # not in the remote repository: neither raw files nor any (decompressed) object
    assert tree_contains(tmp_path / "srv", needle) == []
    assert needle not in all_objects(bare)
    # not in the cache: .git/config, objects, anything
    clone = next(cache.glob("*/repo"))
    assert CANARY not in (clone / ".git" / "config").read_text()
    assert USER not in (clone / ".git" / "config").read_text()
    assert tree_contains(cache, needle) == []
    assert needle not in all_objects(clone / ".git")
    assert "@" not in git("config", "--get", "remote.origin.url", cwd=clone)
    # not in results or logs; the askpass helper is gone
    for result in (first, second, gone):
        assert CANARY not in result.to_json()
    assert caplog.records, "expected the publisher to log"
    assert CANARY not in caplog.text
    assert all(CANARY not in str(r.args) for r in caplog.records)
    assert list(private_tmp.iterdir()) == []


def test_basic_auth_publish(tmp_path, server):
    config = http_config(server.url("dags.git"), CANARY, auth_type="basic")
    result = publish(
        dag_id="basic",
        dag_text=dag_text("basic"),
        source_path="p.pipeline",
        bundles=[],
        config=config,
        cache_dir=tmp_path / "cache",
        generator="t",
    )
    assert result.changed and show(tmp_path / "srv" / "dags.git", "dags/basic.py") == dag_text(
        "basic"
    )


def test_wrong_token_fails_plainly_and_uploads_nothing(tmp_path, server, private_tmp, caplog):
    pytest.importorskip("boto3")
    pytest.importorskip("moto")
    try:
        from s3server import S3Server
    except ImportError:  # pragma: no cover
        from tests.s3server import S3Server
    import boto3

    caplog.set_level(logging.DEBUG, logger="mlpipe_lab.publish")
    wrong = f"wrong-token-{uuid.uuid4().hex}"
    s3_secret = f"s3-secret-{uuid.uuid4().hex}"
    bundle_file = tmp_path / "b.tar.gz"
    bundle_file.write_bytes(b"bundle bytes")
    sha = hashlib.sha256(b"bundle bytes").hexdigest()
    bundles = [
        {
            "node_id": "n",
            "key": f"etl/bundles/n-{sha[:12]}.tar.gz",
            "sha256": sha,
            "path": str(bundle_file),
        }
    ]
    with S3Server(max_seconds=240) as s3:
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=s3.endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key=s3_secret,
        )
        client.create_bucket(Bucket="bundles")
        config = http_config(
            server.url("dags.git"),
            wrong,
            object_storage={
                "endpoint": s3.endpoint,
                "bucket": "bundles",
                "region": "us-east-1",
                "prefix": "mlpipe",
                "auth": {
                    "type": "credentials",
                    "access_key_id": "test",
                    "secret_access_key": s3_secret,
                },
            },
        )
        with pytest.raises(PublishError) as err:
            publish(
                dag_id="etl",
                dag_text=dag_text("etl"),
                source_path="p.pipeline",
                bundles=bundles,
                config=config,
                cache_dir=tmp_path / "cache",
                generator="t",
            )
        assert client.list_objects_v2(Bucket="bundles").get("KeyCount", 0) == 0
    exc = err.value
    assert exc.step == "git-fetch"
    assert "Authentication failed" in exc.message
    for secret in (wrong, s3_secret, CANARY):
        assert (
            secret not in exc.message
            and secret not in str(exc.to_dict())
            and secret not in caplog.text
        )
    assert "\n" not in exc.message
    assert (
        git(
            "--git-dir",
            str(tmp_path / "srv" / "dags.git"),
            "rev-parse",
            "-q",
            "--verify",
            "main",
            check=False,
        ).strip()
        == ""
    )
    assert list(private_tmp.iterdir()) == []
    assert not tree_contains(tmp_path / "cache", wrong.encode())
