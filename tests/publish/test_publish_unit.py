"""Small pieces of the publisher: secret handling, timeouts, the clone lock, result shape."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from mlpipe_lab.publish import GitDagRepo, PublishError, PublishResult
from mlpipe_lab.publish.gitrepo import _base_env, _exclusive, cache_key, run_git, url_transport
from mlpipe_lab.publish.redact import collect_secrets, find_leak, redact_url, scrub


def test_collect_secrets_finds_every_secret_field():
    config = {
        "dag_repo": {
            "url": "https://h/r.git",
            "auth": {"type": "token", "username": "bot", "token": "tok-123456789"},
        },
        "object_storage": {"auth": {"access_key_id": "AKIA", "secret_access_key": "sk-abcdefghij"}},
        "airflow": {"auth": {"password": "pw-abcdefgh", "token": ""}},
        "other": [
            {
                "ssh_private_key": "-----BEGIN KEY-----\nAAAAB3NzaC1yc2EAAAADAQABAAABAQC0123456789\n-----END KEY-----"
            }
        ],
    }
    secrets = collect_secrets(config)
    assert "tok-123456789" in secrets and "sk-abcdefghij" in secrets and "pw-abcdefgh" in secrets
    assert "AAAAB3NzaC1yc2EAAAADAQABAAABAQC0123456789" in secrets  # one leaked key line is enough
    assert "bot" not in secrets and "AKIA" not in secrets and "" not in secrets


def test_scrub_and_guard():
    secrets = ["p@ss word/secret"]
    text = "fatal: https://user:p%40ss%20word%2Fsecret@host/x and p@ss word/secret"
    cleaned = scrub(text, secrets)
    assert "secret" not in cleaned and "user" not in cleaned
    assert redact_url("https://a:b@h/x") == "https://***@h/x"
    assert find_leak("x = 'p@ss word/secret'", secrets)
    assert not find_leak("from airflow import DAG", ["airflow"])  # too short to guard on


def test_url_transport():
    assert url_transport("https://git.example.com/a.git") == "http"
    assert url_transport("ssh://git@h:22/a.git") == "ssh"
    assert url_transport("git@github.com:org/a.git") == "ssh"
    assert url_transport("file:///srv/a.git") == "local"
    assert url_transport("/srv/a.git") == "local"
    with pytest.raises(PublishError):
        url_transport("relative/path.git")


def test_config_errors():
    with pytest.raises(PublishError):
        GitDagRepo("/srv/a.git", cache_dir="/tmp/x", branch="bad..branch")
    with pytest.raises(PublishError):
        GitDagRepo("/srv/a.git", cache_dir="/tmp/x", subfolder="../up")
    with pytest.raises(PublishError):
        GitDagRepo("/srv/a.git", cache_dir="/tmp/x", author="no email")
    assert GitDagRepo("/srv/a.git", cache_dir="/tmp/x", subfolder="").path_for("etl") == "etl.py"
    assert cache_key("u", "main") != cache_key("u", "dev")
    with pytest.raises(PublishError, match="credentials"):
        GitDagRepo("https://bot:tok3n@git.example.com/r.git", cache_dir="/tmp/x")


def test_git_calls_are_bounded_in_time(tmp_path):
    """A server that accepts the connection and never answers: git is killed after the timeout."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(PublishError) as err:
            run_git(
                ["ls-remote", f"http://127.0.0.1:{port}/x.git"],
                cwd=tmp_path,
                env=_base_env({}),
                timeout=1.5,
                step="git-fetch",
            )
        assert time.monotonic() - started < 10
    assert err.value.step == "git-fetch" and "timed out" in err.value.message


def test_the_clone_lock_is_exclusive(tmp_path):
    lock = tmp_path / "lock"
    order: list[str] = []
    with _exclusive(lock, timeout=5):

        def other() -> None:
            try:
                with _exclusive(lock, timeout=0.3):
                    order.append("other got it")
            except PublishError as exc:
                order.append(exc.step)

        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert order == ["git-lock"]
    with _exclusive(lock, timeout=1):
        pass


def test_result_json_shape():
    result = PublishResult(
        dag_id="etl",
        action="publish",
        commit="a" * 40,
        changed=True,
        branch="main",
        path="dags/etl.py",
        repo="https://h/r.git",
    )
    data = json.loads(result.to_json())
    assert data == result.to_dict()
    assert set(data) == {
        "dag_id",
        "action",
        "commit",
        "changed",
        "branch",
        "path",
        "repo",
        "links",
        "uploaded",
        "reused",
        "retries",
        "steps",
    }
    err = PublishError("git-push", "refused")
    assert err.to_dict() == {"step": "git-push", "message": "refused", "steps": []}
    assert err.status == 502 and str(err) == "git-push: refused"
