"""Runner mode ``--kind command`` (runner/command.py) against moto's S3 server on 127.0.0.1 and a
local store: a KFP component's files are fetched before its command and its outputs uploaded
after it; the command runs with its argv as given (no shell); every failure is one line."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

import boto3

from mlpipe_lab.runner.command import command_arguments, is_command, parse
from mlpipe_lab.runner.contract import store_arguments

try:
    from s3server import S3Server
except ImportError:  # pragma: no cover
    from tests.s3server import S3Server

KEY_ID, SECRET = "AKIACOMMANDTEST", f"command-secret-{uuid.uuid4().hex}"
RUN = "dag/runs/manual__2024-06-01T12:00:00+00:00"
# a component command: copies its input file to its output file in capitals, prints its args
SHOUT = [
    sys.executable,
    "-c",
    "import sys; t = open(sys.argv[1]).read(); open(sys.argv[2], 'w').write(t.upper()); "
    "print('args', sys.argv[3:])",
]


@pytest.fixture(scope="module")
def s3():
    server = S3Server(max_seconds=300)
    server.start()
    try:
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=server.endpoint,
            region_name="us-east-1",
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
        )
        bucket = f"cmd-{uuid.uuid4().hex[:8]}"
        client.create_bucket(Bucket=bucket)
        yield server, client, bucket
    finally:
        server.stop()


def runner(store: list[str], own: list[str]) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "MLPIPE_IMAGE": "registry.local/shout:1",
    }
    return subprocess.run(
        [sys.executable, "-m", "mlpipe_lab.runner", *store, *own],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def s3_args(s3) -> list[str]:
    server, _, bucket = s3
    return store_arguments(
        store="s3",
        run_prefix=RUN,
        endpoint=server.endpoint,
        bucket=bucket,
        region="us-east-1",
        prefix="mlpipe",
    )


def test_files_flow_from_one_component_to_the_next_through_s3(s3, tmp_path):
    _, client, bucket = s3
    pod_a, pod_b = tmp_path / "a", tmp_path / "b"  # two pods: nothing shared but the store
    hostile = ["--exec", "-x", "$(id)", "a b", "--output"]
    first = runner(
        s3_args(s3),
        command_arguments(
            task_id="Make",
            argv=[*SHOUT, str(pod_a / "in" / "seed"), str(pod_a / "out" / "data"), *hostile],
            texts=[(str(pod_a / "in" / "seed"), "-- hello 'files' $HOME")],
            outputs=[(str(pod_a / "out" / "data"), "output_data")],
        ),
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"args {hostile!r}"  # argv as given, no shell
    assert first.stderr.strip().splitlines()[-1] == "mlpipe-runner: node 'Make' succeeded"
    key = f"mlpipe/{RUN}/Make/outputs/output_data"
    assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == b"-- HELLO 'FILES' $HOME"

    second = runner(
        s3_args(s3),
        command_arguments(
            task_id="Use",
            argv=[*SHOUT, str(pod_b / "in" / "Make" / "output_data"), str(pod_b / "loud")],
            inputs=[(str(pod_b / "in" / "Make" / "output_data"), "Make/outputs/output_data")],
        ),
    )
    assert second.returncode == 0, second.stderr
    assert (pod_b / "loud").read_text() == "-- HELLO 'FILES' $HOME"


def test_a_missing_upstream_output_fails_in_one_line_before_the_command(s3, tmp_path):
    proc = runner(
        s3_args(s3),
        command_arguments(
            task_id="Use",
            argv=["touch", str(tmp_path / "ran")],
            inputs=[(str(tmp_path / "in"), "Nobody/outputs/output_data")],
        ),
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"mlpipe-runner: node 'Use' failed: cannot fetch the input file {tmp_path / 'in'}: "
        f"{RUN}/Nobody/outputs/output_data does not exist in bucket {s3[2]}"
    ]
    assert not (tmp_path / "ran").exists()


def test_a_failing_command_keeps_its_status_and_uploads_nothing(s3, tmp_path):
    _, client, bucket = s3
    out = tmp_path / "out"
    proc = runner(
        s3_args(s3),
        command_arguments(
            task_id="Broken",
            argv=["sh", "-c", 'echo partial > "$0"; echo oops >&2; exit 7', str(out)],
            outputs=[(str(out), "output_data")],
        ),
    )
    assert proc.returncode == 7
    assert proc.stderr.strip().splitlines() == [
        "oops",
        "mlpipe-runner: node 'Broken' failed: the component's command exited with status 7",
    ]
    listed = client.list_objects_v2(Bucket=bucket, Prefix=f"mlpipe/{RUN}/Broken/")
    assert listed.get("KeyCount", 0) == 0


def test_an_output_the_command_did_not_write_is_named(tmp_path):
    store = store_arguments(store="local", root=str(tmp_path / "store"), run_prefix=RUN)
    proc = runner(
        store,
        command_arguments(
            task_id="Lazy", argv=["true"], outputs=[(str(tmp_path / "out" / "m"), "output_model")]
        ),
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"mlpipe-runner: node 'Lazy' failed: the component's output output_model "
        f"({tmp_path / 'out' / 'm'}) is missing"
    )


def test_a_command_the_image_lacks_is_named_with_the_image(tmp_path):
    store = store_arguments(store="local", root=str(tmp_path / "store"), run_prefix=RUN)
    proc = runner(store, command_arguments(task_id="T", argv=["no-such-program-xyz", "a"]))
    assert proc.returncode == 127
    assert proc.stderr.strip() == (
        "mlpipe-runner: node 'T' failed: the component's command 'no-such-program-xyz' is not "
        "in image registry.local/shout:1"
    )


def test_local_store_round_trip(tmp_path):
    store = store_arguments(store="local", root=str(tmp_path / "store"), run_prefix=RUN)
    out = tmp_path / "pod" / "out"
    proc = runner(
        store,
        command_arguments(
            task_id="W",
            argv=["sh", "-c", 'printf x > "$0"', str(out)],
            outputs=[(str(out), "o")],
        ),
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "store" / RUN / "W" / "outputs" / "o").read_text() == "x"


def test_usage_errors_are_one_line_with_status_2(tmp_path):
    store = store_arguments(store="local", root=str(tmp_path), run_prefix=RUN)
    proc = runner(
        store, ["--kind", "command", "--task-id", "T", "--input", "relative", "k", "--exec", "true"]
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "mlpipe-runner: usage error (--kind command): file paths must be absolute, not 'relative'"
    )


def test_the_command_line_is_read_item_by_item():
    own = command_arguments(
        task_id="T",
        argv=["prog", "--kind", "notebook"],
        texts=[("/p", "--exec")],
        outputs=[("/o", "n")],
    )
    args = store_arguments(store="local", root="/r", run_prefix=RUN) + own
    assert is_command(args)
    ns = parse(args)
    assert ns.texts == [("/p", "--exec")] and ns.outputs == [("/o", "n")]
    assert ns.argv == ["prog", "--kind", "notebook"]
    # the notebook runner's command lines are not this mode
    assert not is_command(["--store", "local", "--kind", "python", "--file", "command"])


def test_a_script_node_downstream_receives_the_components_outputs(tmp_path):
    import io
    import json
    import tarfile

    root = tmp_path / "store"
    store = store_arguments(store="local", root=str(root), run_prefix=RUN)
    out = tmp_path / "pod" / "out"
    proc = runner(
        store,
        command_arguments(
            task_id="Kfp",
            argv=["sh", "-c", 'printf "from kfp" > "$0"', str(out)],
            outputs=[(str(out), "output_data")],
        ),
    )
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((root / RUN / "Kfp" / "manifest.json").read_text())
    assert [(o["path"], o["object"], o["size"]) for o in manifest["outputs"]] == [
        ("Kfp/output_data", "Kfp/outputs/output_data", 8)
    ]
    script = b"open('got.txt', 'w').write(open('Kfp/output_data').read().upper())\n"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("use.py")
        info.size = len(script)
        tar.addfile(info, io.BytesIO(script))
    (root / "bundles").mkdir()
    (root / "bundles" / "use.tar.gz").write_bytes(buffer.getvalue())
    node = ["--kind", "python", "--file", "use.py", "--bundle", "bundles/use.tar.gz"]
    node += ["--task-id", "Use", "--output", "got.txt", "--upstream", "Kfp"]
    proc = runner(store, node)
    assert proc.returncode == 0, proc.stderr
    assert (root / RUN / "Use" / "outputs" / "got.txt").read_text() == "FROM KFP"


def test_an_output_folder_travels_packed_and_arrives_as_a_folder(s3, tmp_path):
    _, client, bucket = s3
    model = tmp_path / "a" / "out" / "model"
    first = runner(
        s3_args(s3),
        command_arguments(
            task_id="Train",
            argv=["sh", "-c", 'mkdir -p "$0/sub" && printf w > "$0/weights" && : > "$0/sub/e"',
                  str(model)],
            outputs=[(str(model), "output_model")],
        ),
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    key = f"mlpipe/{RUN}/Train/outputs/output_model.folder.tar.gz"
    assert client.head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
    got = tmp_path / "b" / "in" / "Train" / "output_model"
    second = runner(
        s3_args(s3),
        command_arguments(
            task_id="Serve",
            argv=["sh", "-c", 'cat "$0/weights"; ls "$0/sub"', str(got)],
            inputs=[(str(got), "Train/outputs/output_model")],
        ),
    )
    assert second.returncode == 0, second.stderr
    assert second.stdout.split() == ["we"]


def test_a_stopped_task_stops_the_command_and_says_so(tmp_path):
    import signal
    import time

    store = store_arguments(store="local", root=str(tmp_path / "store"), run_prefix=RUN)
    marker = tmp_path / "started"
    own = command_arguments(
        task_id="Slow",
        argv=["sh", "-c", 'touch "$0"; exec sleep 60', str(marker)],
        outputs=[(str(tmp_path / "never"), "o")],
    )
    env = {**os.environ, "AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlpipe_lab.runner", *store, *own],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)  # what the kubelet does when Airflow stops the task
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 10  # the command got the signal: no waiting for sleep 60
    assert proc.returncode == 143
    assert (
        err.strip()
        == "mlpipe-runner: node 'Slow' failed: the component's command was ended by signal 15"
    )
