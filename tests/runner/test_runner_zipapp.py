"""The self-contained runner (zipapp): stdlib only, Python 3.9-3.13, its own S3 client.

Every interpreter runs the zipapp with ``-I -S`` (no site-packages, no user site, no PYTHON*
variables), so anything but the standard library would fail to import. S3 goes to moto's server
with IAM authentication on, so signatures are really checked (wrong keys are refused).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import uuid
import zipfile
from pathlib import Path

import pytest

from mlpipe_lab.runner import contract, zipapp
from mlpipe_lab.runner.s3 import Credentials, S3Client, S3Error, sign

try:
    from s3server import S3Server
except ImportError:  # pragma: no cover
    from tests.s3server import S3Server

PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
RUN = "d/runs/r1"


def interpreters(minor_from: int = 9) -> dict[str, Path]:
    """pyenv's CPython 3.x interpreters, newest patch per minor version."""
    found: dict[str, Path] = {}
    for folder in sorted(PYENV.glob("3.*")) if PYENV.is_dir() else []:
        parts = folder.name.split(".")
        if len(parts) >= 2 and parts[1].isdigit() and (folder / "bin" / "python3").exists():
            found[f"3.{parts[1]}"] = folder / "bin" / "python3"
    found.setdefault(f"3.{sys.version_info[1]}", Path(sys.executable))
    return {k: v for k, v in found.items() if int(k.split(".")[1]) >= minor_from}


SUPPORTED = sorted(interpreters(), key=lambda v: int(v.split(".")[1]))


def test_every_supported_python_is_here():
    """The claim "3.9 to 3.13" is tested, not assumed: all five interpreters must exist."""
    assert {"3.9", "3.10", "3.11", "3.12", "3.13"} <= set(SUPPORTED), SUPPORTED


@pytest.fixture(scope="module")
def pyz(tmp_path_factory) -> Path:
    return zipapp.write_zipapp(tmp_path_factory.mktemp("zipapp") / contract.ZIPAPP_NAME)


def test_zipapp_holds_the_runner_and_the_serve_tasks_and_is_small(pyz):
    assert pyz.stat().st_size < 15 * 1024 * 1024
    names = zipfile.ZipFile(pyz).namelist()
    assert "__main__.py" in names and "mlpipe_lab/__init__.py" in names
    assert "mlpipe_lab/runner/node.py" in names and "mlpipe_lab/runner/s3.py" in names
    # the serve node's tasks (--kind serve): the serving package, its schema, PyYAML
    assert "mlpipe_lab/serving/tasks/cli.py" in names and "yaml/__init__.py" in names
    assert "mlpipe_lab/serving/runtime/server.py" in names  # copied into build contexts
    assert all(
        n.startswith(("mlpipe_lab/runner/", "mlpipe_lab/serving/", "yaml/", "__main__"))
        or n
        in (
            "mlpipe_lab/__init__.py",
            "mlpipe_lab/schemas/__init__.py",
            "mlpipe_lab/schemas/node-properties.json",
        )
        for n in names
    ), names
    assert "mlpipe_lab/runner/install.py" not in names  # the init container's, not the pod's
    assert "mlpipe_lab/serving/cli.py" not in names  # the extension's mlpipe serve
    assert "yaml/cyaml.py" not in names  # libyaml's binding: pure Python only
    # the same sources give the same bytes (the runner image hands out identical runners)
    assert zipapp.archive_bytes() == pyz.read_bytes()


def _bundle(store: Path, name: str, files: dict[str, str]) -> str:
    key = f"d/bundles/{name}.tar.gz"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(rel)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (store / key).parent.mkdir(parents=True, exist_ok=True)
    (store / key).write_bytes(buf.getvalue())
    return key


def _run(python: Path, pyz: Path, args: list[str], env: dict[str, str] | None = None):
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}
    return subprocess.run(
        [str(python), "-I", "-S", str(pyz), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**base, **(env or {})},
    )


@pytest.mark.parametrize("version", SUPPORTED)
def test_zipapp_runs_a_script_node_on_each_python(version, pyz, tmp_path):
    python = interpreters()[version]
    store = tmp_path / "store"
    key = _bundle(
        store,
        "a",
        {
            "src/a.py": "import os, sys\nopen('out.txt', 'w').write(os.environ['alpha'] + ' '"
            " + '%d.%d' % sys.version_info[:2])\nprint('ran')\n"
        },
    )
    args = contract.store_arguments(store="local", root=str(store), run_prefix=RUN)
    args += contract.task_arguments(
        kind="python", file="src/a.py", bundle=key, task_id="a", outputs=["src/out.txt"]
    )
    proc = _run(python, pyz, args, {"alpha": "0.5"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("mlpipe-runner: node 'a' succeeded")
    out = (store / RUN / "a/outputs/src/out.txt").read_text()
    assert out == f"0.5 {version}"
    assert json.loads((store / RUN / "a/manifest.json").read_text())["own_outputs"] == [
        "src/out.txt"
    ]


@pytest.mark.parametrize("version", SUPPORTED)
def test_zipapp_runs_the_serve_steps_on_each_python(version, pyz, tmp_path):
    """--kind serve after the store options (the DAG's RUNNER): the deploy step prints its
    objects (spec defaults read from the schema inside the archive); a kubeconfig is read with
    the vendored PyYAML, and a user it cannot authenticate as is one line, status 1."""
    python = interpreters()[version]
    shared = contract.store_arguments(store="local", root=str(tmp_path), run_prefix=RUN)
    spec = json.dumps(
        {"model_name": "churn", "name": "churn", "namespace": "m", "target": "kserve"}
    )
    proc = _run(
        python,
        pyz,
        [*shared, "--kind", "serve", "deploy", "--spec", spec, "--image", "r/m:1", "--dry-run"],
    )
    assert proc.returncode == 0, proc.stderr
    (isvc,) = [o for o in json.loads(proc.stdout) if o["kind"] == "InferenceService"]
    assert isvc["metadata"]["name"] == "churn"
    config = tmp_path / "kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {exec: {command: aws}}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
    )
    proc = _run(
        python,
        pyz,
        [*shared, "--kind", "serve", "wait", "--spec", spec, "--kubeconfig", str(config)],
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"wait failed: kubeconfig {config}: user 'u' authenticates with an exec plugin, which "
        "the serve tasks do not run: use a token or a client certificate (or the pod's service "
        "account)"
    )


def test_an_old_python_is_refused_in_one_line(pyz):
    old = PYENV / "3.8.18" / "bin" / "python3"
    if not old.exists():
        pytest.skip("no Python 3.8 in pyenv")
    proc = _run(old, pyz, ["--help"], {"MLPIPE_IMAGE": "python:3.8-slim"})
    assert proc.returncode == 127
    assert proc.stderr.strip() == (
        "mlpipe-runner: image python:3.8-slim has python3 3.8; the runner needs Python 3.9 or later"
    )


# -- S3 ---------------------------------------------------------------------------------------------


def test_signature_matches_botocore():
    """Our SigV4 against botocore's signer for the same request at the same second."""
    pytest.importorskip("botocore")
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    body = b'{"a": 1}'
    payload = hashlib.sha256(body).hexdigest()
    for token in (None, "session-token"):
        creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
        request = AWSRequest(
            method="PUT",
            url="http://127.0.0.1:9000/bucket/some%20dir/k%C3%A9y%2Bplus.json"
            "?partNumber=1&uploadId=a%2Fb%3Dc",
            data=body,
            headers={"Content-Type": "application/json", "Content-Length": str(len(body))},
        )
        request.headers["X-Amz-Content-SHA256"] = payload
        S3SigV4Auth(BotoCredentials(creds.key, creds.secret, token), "s3", "eu-west-1").add_auth(
            request
        )
        when = dt.datetime.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
        ours = sign(
            "PUT",
            "127.0.0.1:9000",
            "/bucket/some%20dir/k%C3%A9y%2Bplus.json",
            {"partNumber": "1", "uploadId": "a/b=c"},
            {"Content-Type": "application/json", "Content-Length": str(len(body))},
            payload,
            creds,
            "eu-west-1",
            now=when.replace(tzinfo=dt.timezone.utc),
        )
        assert ours["Authorization"] == request.headers["Authorization"]


class AuthS3Server(S3Server):
    """moto with IAM authentication: after the first requests (which set up a user and a bucket),
    every request must be signed with a key moto knows."""

    def environment(self):
        return {**super().environment(), "INITIAL_NO_AUTH_ACTION_COUNT": "5"}


@pytest.fixture(scope="module")
def auth_s3():
    boto3 = pytest.importorskip("boto3")
    server = AuthS3Server(max_seconds=600)
    server.start()
    try:
        anon = {"endpoint_url": server.endpoint, "region_name": "us-east-1"}
        keys = {"aws_access_key_id": "AKIASETUP", "aws_secret_access_key": "setup"}
        iam = boto3.client("iam", **anon, **keys)
        iam.create_user(UserName="runner")
        allow_s3 = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
        iam.put_user_policy(UserName="runner", PolicyName="s3", PolicyDocument=json.dumps(allow_s3))
        key = iam.create_access_key(UserName="runner")["AccessKey"]
        s3 = boto3.client(
            "s3",
            **anon,
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )
        bucket = f"zipapp-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)
        yield server, bucket, key["AccessKeyId"], key["SecretAccessKey"], s3
    finally:
        server.stop()


def _clear_aws(monkeypatch):
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)


def test_client_round_trip_and_errors(auth_s3, monkeypatch, tmp_path):
    server, bucket, key_id, secret, s3 = auth_s3
    _clear_aws(monkeypatch)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    client = S3Client(bucket, server.endpoint, "us-east-1")
    client.put_bytes("a dir/é+x.json", b'{"x": 1}', "application/json")
    assert json.loads(s3.get_object(Bucket=bucket, Key="a dir/é+x.json")["Body"].read()) == {"x": 1}
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    monkeypatch.setattr("mlpipe_lab.runner.s3.MULTIPART_THRESHOLD", 1024 * 1024)
    monkeypatch.setattr("mlpipe_lab.runner.s3.PART_SIZE", 5 * 1024 * 1024)
    client.put_file("big.bin", str(big))  # multipart: parts of 5 MiB (S3's minimum) and the rest
    with open(tmp_path / "back.bin", "wb") as fh:
        client.get_to("big.bin", fh)
    assert (tmp_path / "back.bin").read_bytes() == big.read_bytes()
    with pytest.raises(S3Error) as missing:
        client.get_bytes("nope.json")
    assert (
        missing.value.missing
        and str(missing.value) == f"nope.json does not exist in bucket {bucket}"
    )

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    with pytest.raises(S3Error) as wrong:
        S3Client(bucket, server.endpoint, "us-east-1").get_bytes("big.bin")
    assert str(wrong.value) == (
        "wrong object store credentials (environment): the secret access key does not match "
        "the access key id (SignatureDoesNotMatch)"
    )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWN")
    with pytest.raises(S3Error) as unknown:
        S3Client(bucket, server.endpoint, "us-east-1").get_bytes("big.bin")
    assert "the access key id is not known to the store (InvalidAccessKeyId)" in str(unknown.value)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    with pytest.raises(S3Error) as none:
        S3Client(bucket, server.endpoint, "us-east-1").get_bytes("big.bin")
    assert str(none.value).startswith("no object store credentials: set AWS_ACCESS_KEY_ID")


def test_web_identity_credentials_from_sts(monkeypatch, tmp_path):
    """IRSA: the projected token is exchanged with STS (moto's) for temporary keys."""
    server = S3Server(max_seconds=120)
    server.start()
    _clear_aws(monkeypatch)
    token = tmp_path / "token"
    token.write_text("eyJhbGciOiJSUzI1NiJ9.e30.c2ln")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/mlpipe-runner")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", server.endpoint)
    from mlpipe_lab.runner.s3 import find_credentials

    try:
        creds = find_credentials("us-east-1")
    finally:
        server.stop()
    assert creds.source == "web identity (role arn:aws:iam::123456789012:role/mlpipe-runner)"
    assert creds.key.startswith("ASIA") and creds.secret and creds.token and creds.expires


def _answer(raw: bytes, method: str = "GET"):
    import socket

    from mlpipe_lab.runner import s3

    ours, theirs = socket.socketpair()
    theirs.sendall(raw)
    theirs.close()
    try:
        response = s3._Response(ours, method)
        return response.status, response.headers, response.read(2) + response.read()
    finally:
        ours.close()


def test_the_runners_http_reads_lengths_chunks_and_connection_ends():
    """The S3 client's own HTTP/1.1 (not http.client, for a faster start)."""
    from mlpipe_lab.runner import s3

    assert _answer(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: x\r\n\r\nhello") == (
        200,
        {"content-length": "5", "etag": "x"},
        b"hello",
    )
    chunked = (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;ext=1\r\nhel\r\n2\r\nlo\r\n0\r\nTrailer: t\r\n\r\n"
    )
    assert _answer(chunked)[::2] == (200, b"hello")
    assert _answer(b"HTTP/1.0 404 Not Found\r\n\r\n<Error/>")[::2] == (404, b"<Error/>")
    assert _answer(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD")[2] == b""
    with pytest.raises(s3.HTTPError, match="ended early"):
        _answer(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhello")
    with pytest.raises(s3.HTTPError, match="not an HTTP answer"):
        _answer(b"SSH-2.0-OpenSSH\r\n")


def test_unreachable_store_is_one_line(monkeypatch):
    _clear_aws(monkeypatch)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "a")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "b")
    monkeypatch.setattr("mlpipe_lab.runner.s3.RETRIES", 2)
    with pytest.raises(S3Error) as exc:
        S3Client("b", "http://127.0.0.1:9", "us-east-1").get_bytes("k")
    assert str(exc.value).startswith("cannot reach the object store at http://127.0.0.1:9: ")
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("version", [SUPPORTED[0], SUPPORTED[-1]])
def test_zipapp_node_against_s3_on_oldest_and_newest_python(version, pyz, auth_s3, tmp_path):
    server, bucket, key_id, secret, s3 = auth_s3
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = b"open('o.txt', 'w').write('from s3')\n"
        info = tarfile.TarInfo("s.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    s3.put_object(Bucket=bucket, Key=f"p/{version}/b.tar.gz", Body=buf.getvalue())
    args = contract.store_arguments(
        store="s3", bucket=bucket, endpoint=server.endpoint, prefix="p", run_prefix=f"{version}/run"
    )
    args += contract.task_arguments(
        kind="python", file="s.py", bundle=f"{version}/b.tar.gz", task_id="t", outputs=["o.txt"]
    )
    env = {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret}
    proc = _run(interpreters()[version], pyz, args, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = s3.get_object(Bucket=bucket, Key=f"p/{version}/run/t/outputs/o.txt")["Body"].read()
    assert got == b"from s3"
    proc = _run(interpreters()[version], pyz, args, {**env, "AWS_SECRET_ACCESS_KEY": "nope"})
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "mlpipe-runner: node 't' failed: cannot fetch its bundle: wrong object store credentials "
        "(environment): the secret access key does not match the access key id "
        "(SignatureDoesNotMatch)"
    )


@pytest.mark.parametrize("version", SUPPORTED)
def test_bytecode_is_used_by_its_own_python_and_ignored_by_the_others(version, tmp_path):
    """The runner image's zipapp carries the bytecode of the interpreter that wrote it: that
    version runs it without compiling the runner; the others compile the sources. Either way the
    runner's modules are loaded once each by the zipapp's own finder."""
    pyz = zipapp.write_zipapp(tmp_path / "with-bytecode.pyz", bytecode=True)
    names = zipfile.ZipFile(pyz).namelist()
    assert "mlpipe_lab/runner/node.pyc" in names
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import runpy, sys\n"
        "sys.argv = [sys.argv[1], '--help']\n"
        "compiled = []\n"
        "import builtins\n"
        "real = builtins.compile\n"
        "builtins.compile = lambda src, name, *a, **k: compiled.append(name) or real(src, name, *a, **k)\n"
        "try:\n"
        "    runpy.run_path(sys.argv[0], run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "node = sys.modules['mlpipe_lab.runner.node']\n"
        "print(type(node.__loader__).__name__, sorted(set(n.rsplit('/', 1)[-1] for n in compiled)))\n"
    )
    python = interpreters()[version]
    proc = subprocess.run(
        [str(python), "-S", str(probe), str(pyz)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    loader, compiled = proc.stdout.strip().splitlines()[-1].split(" ", 1)
    assert loader == "_RunnerLoader"
    own = version == f"{sys.version_info[0]}.{sys.version_info[1]}"
    if own:
        assert "node.py" not in compiled, compiled
    else:
        assert "node.py" in compiled, compiled
