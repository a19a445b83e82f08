"""The node runner (python -m mlpipe_lab.runner) against the local store: real bundles built by the
compiler's bundle writer, real subprocesses, real notebooks executed in a real ipykernel (through
jupyter_client, as in a pod's image)."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import nbformat
import pytest

from mlpipe_lab.compiler.bundles import bundle_bytes
from mlpipe_lab.runner.errors import UnsafePath
from mlpipe_lab.runner.notebook import INJECTED_TAG, inject_parameters, python_literal, r_literal
from mlpipe_lab.runner.paths import clean_relpath, match_outputs, unpack_bundle

RUN = "dag/runs/manual__2024-01-01T00:00:00+00:00"


# -- helpers (also used by test_runner_s3.py) ------------------------------------------------------


def notebook(*cells: tuple[str, str] | str) -> str:
    """A notebook's JSON; a cell is source text, or (tag, source) for a tagged code cell."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for cell in cells:
        tag, source = cell if isinstance(cell, tuple) else (None, cell)
        c = nbformat.v4.new_code_cell(source)
        if tag:
            c.metadata["tags"] = [tag]
        nb.cells.append(c)
    return nbformat.writes(nb)


class Store:
    """A local store folder with bundles built from {relpath: text} by the compiler's writer."""

    def __init__(self, root: Path):
        self.root = root
        self.src = root.parent / (root.name + "-src")

    def bundle(self, task: str, files: dict[str, str]) -> str:
        folder = self.src / task
        for rel, text in files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text)
        key = f"dag/bundles/{task}.tar.gz"
        (self.root / key).parent.mkdir(parents=True, exist_ok=True)
        (self.root / key).write_bytes(bundle_bytes(folder, sorted(files)))
        return key

    def raw_bundle(self, task: str, data: bytes) -> str:
        key = f"dag/bundles/{task}.tar.gz"
        (self.root / key).parent.mkdir(parents=True, exist_ok=True)
        (self.root / key).write_bytes(data)
        return key

    def run_file(self, *parts: str) -> Path:
        return self.root.joinpath(RUN, *parts)

    def manifest(self, task: str) -> dict:
        return json.loads(self.run_file(task, "manifest.json").read_text())


def run_node(
    store: Store,
    task: str,
    kind: str,
    file: str,
    *,
    outputs=(),
    upstream=(),
    params=(),
    env=None,
    bundle: str | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess:
    argv = [
        sys.executable,
        "-m",
        "mlpipe_lab.runner",
        "--contract",
        "1",
        "--store",
        "local",
        "--root",
        str(store.root),
        "--run-prefix",
        RUN,
        "--kind",
        kind,
        "--file",
        file,
        "--bundle",
        bundle or f"dag/bundles/{task}.tar.gz",
        "--task-id",
        task,
    ]
    for o in outputs:
        argv += ["--output", o]
    for u in upstream:
        argv += ["--upstream", u]
    for name, value in params:
        argv += ["--param", f"{name}={value}"]
    full_env = {**os.environ, "MLPIPE_RUNNER_HTML": "0", **(env or {})}
    return subprocess.run(argv, env=full_env, capture_output=True, text=True, timeout=timeout)


def verdict(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.startswith("mlpipe-runner: ")]
    return lines[-1] if lines else ""


@pytest.fixture
def store(tmp_path) -> Store:
    root = tmp_path / "artifacts"
    root.mkdir()
    return Store(root)


# -- python nodes -----------------------------------------------------------------------------------


def test_python_node_uses_dependencies_params_and_uploads_outputs(store):
    store.bundle(
        "prep",
        {
            "src/prep.py": (
                "import json, os\n"
                "rows = open('../data/in.txt').read().split()\n"
                "os.makedirs('../out', exist_ok=True)\n"
                "json.dump({'rows': rows, 'alpha': os.environ['alpha'], 'mode': os.environ['mode']},"
                " open('../out/result.json', 'w'))\n"
                "open('../out/extra.txt', 'w').write('x')\n"
                "print('prepared', len(rows), 'rows')\n"
            ),
            "data/in.txt": "a b c",
        },
    )
    proc = run_node(
        store,
        "prep",
        "python",
        "src/prep.py",
        outputs=["out/*.json", "out/extra.txt"],
        params=[("alpha", "0.5"), ("mode", '"fast"')],
    )
    assert proc.returncode == 0, proc.stderr
    assert "prepared 3 rows" in proc.stdout
    assert verdict(proc).startswith("mlpipe-runner: node 'prep' succeeded")
    result = json.loads(store.run_file("prep", "outputs", "out", "result.json").read_text())
    assert result == {"rows": ["a", "b", "c"], "alpha": "0.5", "mode": "fast"}
    manifest = store.manifest("prep")
    assert manifest["status"] == "succeeded" and manifest["task_id"] == "prep"
    assert [(o["path"], o["producer"], o["object"]) for o in manifest["outputs"]] == [
        ("out/extra.txt", "prep", "prep/outputs/out/extra.txt"),
        ("out/result.json", "prep", "prep/outputs/out/result.json"),
    ]
    assert manifest["own_outputs"] == ["out/extra.txt", "out/result.json"]
    log = store.run_file("prep", "prep.log").read_text()
    assert "prepared 3 rows" in log and "succeeded" in log.splitlines()[-1]
    assert manifest["log"] == "prep/prep.log"


def test_outputs_reach_children_and_grandchildren(store):
    store.bundle(
        "a",
        {
            "a.py": "import os\nos.makedirs('data', exist_ok=True)\n"
            "open('data/a.txt', 'w').write('from a')\n"
        },
    )
    store.bundle(
        "b", {"b.py": "a = open('data/a.txt').read()\nopen('b.txt', 'w').write(a + ' via b')\n"}
    )
    store.bundle(
        "c",
        {
            "c.py": "print(open('data/a.txt').read(), '|', open('b.txt').read())\n"
            "open('c.txt', 'w').write('c')\n"
        },
    )
    assert run_node(store, "a", "python", "a.py", outputs=["data/a.txt"]).returncode == 0
    # b declares a glob that also matches its (unchanged) input: that stays a's output
    proc = run_node(store, "b", "python", "b.py", outputs=["b.txt", "data/*.txt"], upstream=["a"])
    assert proc.returncode == 0, proc.stderr
    proc = run_node(store, "c", "python", "c.py", outputs=["c.txt"], upstream=["b"])
    assert proc.returncode == 0, proc.stderr
    assert "from a | from a via b" in proc.stdout
    manifest = store.manifest("c")
    assert {o["path"]: o["producer"] for o in manifest["outputs"]} == {
        "data/a.txt": "a",
        "b.txt": "b",
        "c.txt": "c",
    }
    assert store.manifest("b")["own_outputs"] == ["b.txt"]
    assert not store.run_file("b", "outputs", "data").exists()


def test_failing_node_exits_non_zero_names_the_node_and_uploads_its_log(store):
    store.bundle("bad", {"bad.py": "print('before the error')\nraise ValueError('boom')\n"})
    proc = run_node(store, "bad", "python", "bad.py", outputs=["never.txt"])
    assert proc.returncode == 1
    assert (
        verdict(proc)
        == "mlpipe-runner: node 'bad' failed: bad.py exited with status 1 (ValueError: boom)"
    )
    log = store.run_file("bad", "bad.log").read_text()
    assert "before the error" in log and "Traceback" in log and "ValueError: boom" in log
    assert log.rstrip().endswith(
        "node 'bad' failed: bad.py exited with status 1 (ValueError: boom)"
    )
    assert not store.run_file("bad", "manifest.json").exists()


def test_script_exit_status_is_kept(store):
    store.bundle("quit", {"quit.py": "import sys\nsys.exit(7)\n"})
    proc = run_node(store, "quit", "python", "quit.py")
    assert proc.returncode == 7
    assert "quit.py exited with status 7" in verdict(proc)


def test_missing_declared_outputs_are_named(store):
    store.bundle("lazy", {"lazy.py": "open('present.txt', 'w').write('x')\n"})
    proc = run_node(
        store, "lazy", "python", "lazy.py", outputs=["present.txt", "model.pkl", "out/*.csv"]
    )
    assert proc.returncode == 1
    assert verdict(proc) == (
        "mlpipe-runner: node 'lazy' failed: declared output(s) not produced: model.pkl, out/*.csv"
    )
    assert store.run_file("lazy", "lazy.log").is_file()
    assert not store.run_file("lazy", "manifest.json").exists()


def test_missing_bundle_and_missing_file(store):
    proc = run_node(store, "ghost", "python", "g.py", bundle="dag/bundles/nothing.tar.gz")
    assert proc.returncode == 1
    assert (
        "node 'ghost' failed: cannot fetch its bundle: dag/bundles/nothing.tar.gz does not exist"
        in verdict(proc)
    )
    store.bundle("other", {"x.py": "pass\n"})
    proc = run_node(store, "other", "python", "y.py")
    assert "node 'other' failed: y.py is not in its bundle" in verdict(proc)


def test_upstream_without_manifest_is_reported_and_skipped(store):
    store.bundle("after", {"after.py": "import os\nprint(sorted(os.listdir('.')))\n"})
    proc = run_node(store, "after", "python", "after.py", upstream=["failed_one"])
    assert proc.returncode == 0, proc.stderr
    assert "upstream task failed_one left no manifest" in proc.stdout


def test_manifest_paths_that_escape_are_refused(store, tmp_path):
    evil = store.run_file("evil", "manifest.json")
    evil.parent.mkdir(parents=True)
    (store.run_file("evil", "outputs")).mkdir()
    (store.run_file("evil", "outputs", "x")).write_text("pwned")
    evil.write_text(
        json.dumps(
            {
                "outputs": [
                    {"path": "../../escaped.txt", "object": "evil/outputs/x", "producer": "evil"}
                ]
            }
        )
    )
    store.bundle("victim", {"v.py": "pass\n"})
    proc = run_node(store, "victim", "python", "v.py", upstream=["evil"])
    assert proc.returncode == 1
    assert (
        "node 'victim' failed: input from evil '../../escaped.txt' climbs out with '..'"
        in verdict(proc)
    )
    assert not list(tmp_path.rglob("escaped.txt"))


def test_r_node(store):
    store.bundle("r", {"hello.r": 'cat("hello from R\\n")\nwriteLines("x", "r.txt")\n'})
    proc = run_node(store, "r", "r", "hello.r", outputs=["r.txt"])
    if shutil.which("Rscript") is None:
        assert proc.returncode == 1
        assert verdict(proc) == (
            "mlpipe-runner: node 'r' failed: this image has no Rscript (R nodes need R in "
            "their image)"
        )
    else:  # pragma: no cover - machines with R
        assert proc.returncode == 0 and "hello from R" in proc.stdout


def test_runner_needs_no_boto3_nbclient_or_nbformat(store):
    """The runner's own S3 client and notebook executor: with boto3, botocore, nbclient and
    nbformat unimportable it still runs nodes, and S3 fails only for want of a reachable store."""
    store.bundle("plain", {"p.py": "print('no boto here')\n"})
    blocker = (
        "import sys\nfor m in ('boto3', 'botocore', 'nbclient', 'nbformat', 'nbconvert'): "
        "sys.modules[m] = None\n"
        "from mlpipe_lab.runner.__main__ import main; sys.exit(main(sys.argv[1:]))"
    )
    argv = [
        sys.executable,
        "-c",
        blocker,
        "--store",
        "local",
        "--root",
        str(store.root),
        "--run-prefix",
        RUN,
        "--kind",
        "python",
        "--file",
        "p.py",
        "--bundle",
        "dag/bundles/plain.tar.gz",
        "--task-id",
        "plain",
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "no boto here" in proc.stdout
    argv[argv.index("local")] = "s3"
    argv[argv.index("--root") : argv.index("--root") + 2] = [
        "--bucket",
        "b",
        "--endpoint",
        "http://127.0.0.1:9",
    ]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 1
    assert verdict(proc).startswith(
        "mlpipe-runner: node 'plain' failed: cannot fetch its bundle: cannot reach the object "
        "store at http://127.0.0.1:9: "
    ), proc.stderr
    code = (
        "import sys, mlpipe_lab.runner.__main__\n"
        "print(*[m in sys.modules for m in ('boto3', 'nbclient', 'nbformat', 'jupyter_client')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "False", "False", "False"]


def test_sigterm_stops_the_node_and_still_uploads_the_log(store):
    store.bundle(
        "slow", {"slow.py": "import time\nprint('started', flush=True)\ntime.sleep(120)\n"}
    )
    argv = [
        sys.executable,
        "-m",
        "mlpipe_lab.runner",
        "--store",
        "local",
        "--root",
        str(store.root),
        "--run-prefix",
        RUN,
        "--kind",
        "python",
        "--file",
        "slow.py",
        "--bundle",
        "dag/bundles/slow.tar.gz",
        "--task-id",
        "slow",
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if line.startswith("started"):
                break
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143 and time.monotonic() - t0 < 15
    assert "node 'slow' failed: terminated" in err
    assert "started" in store.run_file("slow", "slow.log").read_text()


def test_node_timeout(store):
    store.bundle("sleepy", {"s.py": "import time\ntime.sleep(60)\n"})
    t0 = time.monotonic()
    proc = run_node(store, "sleepy", "python", "s.py", env={"MLPIPE_RUNNER_TIMEOUT": "1"})
    assert proc.returncode == 124 and time.monotonic() - t0 < 30
    assert "node 'sleepy' failed: timed out after 1 s" in verdict(proc)


# -- notebook nodes ---------------------------------------------------------------------------------


def test_notebook_node_gets_typed_parameters_and_keeps_executed_copy(store):
    store.bundle(
        "nb",
        {
            "nb/train.ipynb": notebook(
                "print('setup')",
                ("parameters", "alpha = 1\nname = 'default'\nlayers = None\nflag = False"),
                "import json, os\nos.makedirs('../out', exist_ok=True)\n"
                "json.dump({'alpha': alpha, 'type': type(alpha).__name__, 'name': name, 'layers': layers,"
                " 'flag': flag, 'env_alpha': os.environ['alpha'], 'cwd': os.path.basename(os.getcwd())},"
                " open('../out/params.json', 'w'))\nprint('alpha is', alpha)",
                "1 + 1",
            )
        },
    )
    proc = run_node(
        store,
        "nb",
        "notebook",
        "nb/train.ipynb",
        outputs=["out/params.json"],
        params=[("alpha", "0.25"), ("name", '"bob"'), ("layers", "[8, 4]"), ("flag", "true")],
        env={"MLPIPE_RUNNER_HTML": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(store.run_file("nb", "outputs", "out", "params.json").read_text())
    assert got == {
        "alpha": 0.25,
        "type": "float",
        "name": "bob",
        "layers": [8, 4],
        "flag": True,
        "env_alpha": "0.25",
        "cwd": "nb",
    }
    executed = nbformat.read(str(store.run_file("nb", "train.ipynb")), as_version=4)
    tags = [c.metadata.get("tags", []) for c in executed.cells]
    assert tags[2] == [INJECTED_TAG] and "alpha = 0.25" in executed.cells[2].source
    assert executed.cells[4].outputs[0]["data"]["text/plain"] == "2"
    assert "alpha is 0.25" in proc.stdout  # streamed to the pod log as it ran
    log = store.run_file("nb", "nb.log").read_text()
    assert "alpha is 0.25" in log and "cell 4/5" in log
    html = store.run_file("nb", "train.html")
    assert html.is_file() and "alpha is 0.25" in html.read_text()
    assert store.manifest("nb")["notebook"] == "nb/train.ipynb"


def test_failing_notebook_names_the_cell_and_keeps_notebook_and_log(store):
    store.bundle(
        "nbbad",
        {
            "bad.ipynb": notebook(
                "x = 1\nprint('first cell ran')",
                "raise RuntimeError('cell exploded')",
                "print('never')",
            )
        },
    )
    proc = run_node(store, "nbbad", "notebook", "bad.ipynb")
    assert proc.returncode == 1
    assert (
        verdict(proc)
        == "mlpipe-runner: node 'nbbad' failed: cell 2 raised RuntimeError: cell exploded"
    )
    executed = nbformat.read(str(store.run_file("nbbad", "bad.ipynb")), as_version=4)
    assert executed.cells[1].outputs[0]["output_type"] == "error"
    assert executed.cells[2].get("outputs") == []
    log = store.run_file("nbbad", "nbbad.log").read_text()
    assert "first cell ran" in log and "RuntimeError: cell exploded" in log
    assert not store.run_file("nbbad", "manifest.json").exists()


# -- parameter injection ------------------------------------------------------------------------------


def test_injection_goes_after_the_parameters_cell_and_replaces_an_old_one():
    nb = json.loads(notebook("a", ("parameters", "x = 1"), (INJECTED_TAG, "x = 0"), "b"))
    assert inject_parameters(nb, {"x": 5, "s": "it's"}) == 2
    sources = ["".join(c["source"]) for c in nb["cells"]]
    assert sources[0] == "a" and sources[1] == "x = 1" and sources[3] == "b" and len(sources) == 4
    assert sources[2].splitlines()[1:] == ["x = 5", 's = "it\'s"']
    assert nb["cells"][2]["metadata"]["tags"] == [INJECTED_TAG] and nb["cells"][2]["id"]
    nb2 = json.loads(notebook("a", "b"))
    assert inject_parameters(nb2, {"y": None}) == 0 and nb2["cells"][0]["source"].endswith(
        "y = None"
    )
    assert inject_parameters(nb2, {}) is None
    assert ["".join(c["source"]) for c in nb2["cells"]] == ["a", "b"]


def test_literals():
    assert python_literal(float("nan")) == "float('nan')"
    assert (
        python_literal({"a": [1, float("inf"), None, True]})
        == "{'a': [1, float('inf'), None, True]}"
    )
    namespace: dict = {}
    exec("v = " + python_literal({"k": ["x\n'\"", 1.5, False]}), namespace)
    assert namespace["v"] == {"k": ["x\n'\"", 1.5, False]}
    assert [r_literal(v) for v in (None, True, 3, 2.5, 'a"b', [1, 2])] == [
        "NULL",
        "TRUE",
        "3L",
        "2.5",
        '"a\\"b"',
        '"[1, 2]"',
    ]


# -- bundles and paths ----------------------------------------------------------------------------------


def _tar(*members: tuple[str, str, str | bytes]) -> bytes:
    """(type, name, content-or-linkname) with type file|dir|sym|hard|chr."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for kind, name, value in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                data = value.encode() if isinstance(value, str) else value
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                continue
            info.type = {
                "dir": tarfile.DIRTYPE,
                "sym": tarfile.SYMTYPE,
                "hard": tarfile.LNKTYPE,
                "chr": tarfile.CHRTYPE,
            }[kind]
            info.linkname = value if kind in ("sym", "hard") else ""
            tar.addfile(info)
    return buf.getvalue()


UNSAFE = {
    "dotdot": ([("file", "../evil.txt", "x")], "climbs out with '..'"),
    "nested-dotdot": ([("file", "a/../../evil.txt", "x")], "climbs out with '..'"),
    "absolute": ([("file", "/tmp/evil.txt", "x")], "is absolute"),
    "symlink-out": ([("sym", "link", "../../etc/passwd")], "link leading out of the bundle"),
    "symlink-absolute": ([("sym", "link", "/etc/passwd")], "link to an absolute path"),
    "symlink-chain": (
        [("sym", "p", "."), ("sym", "p/q", "../evil")],
        "link leading out of the bundle",
    ),
    "link-through-link": (
        [
            ("sym", "d", "."),
            ("file", "d/ok.txt", "fine"),
            ("sym", "e", "d/.."),
            ("file", "e/evil.txt", "x"),
        ],
        "link leading out of the bundle",
    ),
    "hardlink-out": ([("hard", "h", "/etc/passwd")], "is absolute"),
    "device": ([("chr", "dev", "")], "not a regular file or folder"),
}


@pytest.mark.parametrize("case", sorted(UNSAFE))
def test_unsafe_bundles_are_refused(tmp_path, case):
    members, message = UNSAFE[case]
    archive = tmp_path / "b.tar.gz"
    archive.write_bytes(_tar(*members))
    root = tmp_path / "deep" / "work"
    with pytest.raises(UnsafePath) as exc:
        unpack_bundle(archive, root)
    assert message in exc.value.cause
    assert (
        not (tmp_path / "deep" / "evil").exists() and not (tmp_path / "deep" / "evil.txt").exists()
    )
    assert not (tmp_path / "evil.txt").exists()


def test_unsafe_bundle_fails_the_node_cleanly(store):
    key = store.raw_bundle(
        "tricky", _tar(("file", "ok.py", "print(1)\n"), ("file", "../../escape.py", "x"))
    )
    proc = run_node(store, "tricky", "python", "ok.py", bundle=key)
    assert proc.returncode == 1
    assert verdict(proc) == (
        "mlpipe-runner: node 'tricky' failed: bundle member '../../escape.py' climbs out with '..'"
    )
    assert not list(store.root.parent.rglob("escape.py"))


def test_safe_links_inside_the_bundle_are_kept(tmp_path):
    archive = tmp_path / "b.tar.gz"
    archive.write_bytes(
        _tar(
            ("dir", "pkg", ""),
            ("file", "pkg/mod.py", "X = 1\n"),
            ("sym", "alias.py", "pkg/mod.py"),
            ("hard", "copy.py", "pkg/mod.py"),
        )
    )
    root = tmp_path / "work"
    files = unpack_bundle(archive, root)
    assert sorted(files) == ["alias.py", "copy.py", "pkg/mod.py"]
    assert (root / "alias.py").read_text() == "X = 1\n" and (
        root / "copy.py"
    ).read_text() == "X = 1\n"


def test_garbage_bundle(tmp_path):
    archive = tmp_path / "b.tar.gz"
    archive.write_bytes(b"not a tar")
    with pytest.raises(UnsafePath, match="not a readable tar.gz"):
        unpack_bundle(archive, tmp_path / "w")


def test_output_globs(tmp_path):
    root = tmp_path / "work"
    (root / "out" / "sub").mkdir(parents=True)
    (root / "out" / "a.csv").write_text("a")
    (root / "out" / "sub" / "b.csv").write_text("b")
    (tmp_path / "secret.txt").write_text("o")
    os.symlink(tmp_path / "secret.txt", root / "out" / "leak.csv")
    found, missing = match_outputs(root, ["out/**/*.csv", "out/sub", "none/*.bin"])
    assert sorted(found) == ["out/a.csv", "out/sub/b.csv"] and missing == ["none/*.bin"]
    for bad in ("../x", "/etc/passwd", "a\\b", "", "."):
        with pytest.raises(UnsafePath):
            clean_relpath(bad)


def test_notebook_cell_timeout(store):
    store.bundle("stuck", {"stuck.ipynb": notebook("import time\ntime.sleep(60)")})
    t0 = time.monotonic()
    proc = run_node(
        store, "stuck", "notebook", "stuck.ipynb", env={"MLPIPE_RUNNER_CELL_TIMEOUT": "1.5"}
    )
    assert proc.returncode == 1 and time.monotonic() - t0 < 45
    assert "node 'stuck' failed: a cell ran longer than 1.5 s (cell timeout)" in verdict(proc)
    assert store.run_file("stuck", "stuck.ipynb").is_file()


def test_file_outside_the_bundle_is_refused(store):
    store.bundle("esc", {"x.py": "pass\n"})
    proc = run_node(store, "esc", "python", "../x.py")
    assert proc.returncode == 1
    assert (
        verdict(proc) == "mlpipe-runner: node 'esc' failed: --file '../x.py' climbs out with '..'"
    )
