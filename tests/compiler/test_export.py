"""export(): offline, deterministic node bundles and an atomically written DAG file."""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import os
import socket
import tarfile
from pathlib import Path

import compile_corpus as cc
import pytest
from compile_corpus import node, pipeline, read_dag

from mlpipe_lab.compiler import bundle_bytes, export
from mlpipe_lab.pipeline import PipelineError

IMG = "registry.example.com/ml/runtime:1.4"


def members(path: str | Path) -> list[tarfile.TarInfo]:
    with tarfile.open(path, "r:gz") as tar:
        return tar.getmembers()


def write_pipeline(folder: Path, doc: dict, name: str = "p.pipeline") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


@pytest.fixture
def props(tmp_path):
    src = cc.FIXTURES / "props_demo"
    if not src.is_dir():
        pytest.skip("Elyra fixtures not found")
    dst = tmp_path / "props_demo"
    dst.mkdir()
    for f in src.rglob("*"):
        if f.is_file():
            (dst / f.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
            (dst / f.relative_to(src)).write_bytes(f.read_bytes())
    return dst / "props_demo.pipeline"


@pytest.fixture
def offline(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("export tried to use the network")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_export_props_demo(props, offline):
    result = export(props, config=cc.CONFIG, images=cc.IMAGES)
    assert (
        result.dag_id == "props_demo" and result.dag_path == props.parent / "dags" / "props_demo.py"
    )
    text = result.dag_path.read_text(encoding="utf-8")
    assert text.splitlines()[0].endswith(" from props_demo.pipeline. DO NOT EDIT.")
    assert str(props.parent) not in text and "/tmp" not in text
    dag = read_dag(text)
    hello = result.bundles["55555555-eeee-4eee-8eee-000000000005"]
    world = result.bundles["66666666-ffff-4fff-8fff-000000000006"]
    assert hello.key.startswith("props_demo/bundles/hello-") and hello.key.endswith(".tar.gz")
    assert len(hello.key.split("-")[-1]) == len("0123456789ab.tar.gz")
    assert (
        dag["tasks"]["hello"]["arguments"][dag["tasks"]["hello"]["arguments"].index("--bundle") + 1]
        == hello.key
    )
    # hello: its file, data.csv and sub/*.py; include_subdirectories only lets the patterns match
    # in subfolders, it does not ship the whole folder (as in Elyra)
    assert list(hello.files) == ["data.csv", "hello.py", "sub/helper.py"]
    assert list(world.files) == ["world.py"]
    assert [m.name for m in members(hello.path)] == list(hello.files)
    assert Path(hello.path).parent == props.parent / "dags" / "props_demo.bundles"
    assert "bundles" not in {p.code for p in result.problems}
    data = result.to_json()
    json.dumps(data)
    assert data["dag_path"] == str(result.dag_path) and len(data["bundles"]) == 2


def test_bundles_are_deterministic(props, tmp_path):
    first = export(props, config=cc.CONFIG, images=cc.IMAGES)
    first_bytes = {k: Path(b.path).read_bytes() for k, b in first.bundles.items()}
    dag_bytes = first.dag_path.read_bytes()
    for f in props.parent.rglob("*"):  # new times and an odd umask change nothing
        if f.is_file():
            os.utime(f, (1, 1))
            os.chmod(f, 0o600)
    second = export(props, config=cc.CONFIG, images=cc.IMAGES)
    assert second.changed is False and second.dag_path.read_bytes() == dag_bytes
    assert {k: Path(b.path).read_bytes() for k, b in second.bundles.items()} == first_bytes
    for ref in second.bundles.values():
        raw = Path(ref.path).read_bytes()
        assert raw[4:8] == b"\0\0\0\0"  # gzip header mtime
        for m in members(ref.path):
            assert (m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) == (0, 0, 0, "", "", 0o644)
    # an executable keeps its x bit, and only that
    os.chmod(props.parent / "world.py", 0o755)
    third = export(props, config=cc.CONFIG, images=cc.IMAGES, overwrite=True)  # a new DAG
    world = third.bundles["66666666-ffff-4fff-8fff-000000000006"]
    assert [m.mode for m in members(world.path)] == [0o755]
    assert (
        third.changed is True
        and world.key != second.bundles["66666666-ffff-4fff-8fff-000000000006"].key
    )
    # the old bundle of that node is gone, nothing temporary is left
    names = sorted(p.name for p in (props.parent / "dags" / "props_demo.bundles").iterdir())
    assert len(names) == 2 and not any(n.startswith(".") for n in names)
    for folder in (props.parent, props.parent / "dags"):
        assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_bundle_bytes_do_not_depend_on_order_or_folder(tmp_path):
    for folder in (tmp_path / "a", tmp_path / "b"):
        folder.mkdir()
        (folder / "x.py").write_text("x")
        (folder / "y.csv").write_text("y")
    one = bundle_bytes(tmp_path / "a", ["x.py", "y.csv"])
    assert one == bundle_bytes(tmp_path / "b", ["y.csv", "x.py"])
    assert gzip.decompress(one)  # a valid gzip stream


def test_export_to_another_folder(props, tmp_path):
    out = tmp_path / "dags" / "sub" / "props.py"
    result = export(props, config=cc.CONFIG, images=cc.IMAGES, output=out)
    assert result.dag_path == out and out.is_file()
    assert (tmp_path / "dags" / "sub" / "props_demo.bundles").is_dir()
    assert str(tmp_path) not in out.read_text()
    assert not (props.parent / "props_demo.py").exists()
    assert not (props.parent / "dags").exists()


def test_files_outside_the_folder_are_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not ship")
    folder = tmp_path / "proj"
    doc = pipeline(
        "p",
        [node("a", "a.py", params={"dependencies": ["*.txt", "link/*"]})],
        defaults={"runtime_image": IMG},
    )
    path = write_pipeline(folder, doc)
    (folder / "a.py").write_text("print(1)")
    (folder / "ok.txt").write_text("ok")
    (folder / "link").mkdir()
    (folder / "link" / "escape.txt").symlink_to(secret)
    (folder / "link" / "fine.txt").write_text("fine")
    result = export(path, config=cc.CONFIG, images=cc.IMAGES)
    ref = result.bundles["a"]
    assert list(ref.files) == ["a.py", "link/fine.txt", "ok.txt"]
    for m in members(ref.path):
        assert "secret" not in m.name
    # a pattern that only matches a link pointing out matches nothing: refused, not skipped
    (folder / "link" / "fine.txt").unlink()
    with pytest.raises(PipelineError) as exc:
        export(path, config=cc.CONFIG, images=cc.IMAGES)
    assert [p.path for p in exc.value.problems] == ["component_parameters/dependencies/1"]
    doc["pipelines"][0]["nodes"][0]["app_data"]["component_parameters"]["filename"] = "../secret.py"
    write_pipeline(folder, doc)
    with pytest.raises(PipelineError) as exc:
        export(path, config=cc.CONFIG, images=cc.IMAGES)
    assert {p.code for p in exc.value.problems} == {"file"}


def test_errors_write_nothing(tmp_path):
    doc = pipeline("p", [node("a", "missing.py")], defaults={"runtime_image": IMG})
    path = write_pipeline(tmp_path / "proj", doc)
    with pytest.raises(PipelineError) as exc:
        export(path, config=cc.CONFIG, images=cc.IMAGES)
    assert exc.value.problems[0].code == "file"
    assert sorted(p.name for p in path.parent.iterdir()) == ["p.pipeline"]
    # a compile error after the bundles were built leaves no bundle behind either
    (path.parent / "missing.py").write_text("x")
    config = copy.deepcopy(cc.CONFIG)
    del config["object_storage"]
    with pytest.raises(PipelineError):
        export(path, config=config, images=cc.IMAGES)
    leftovers = [
        p
        for p in path.parent.rglob("*")
        if p.is_file() and p.name not in ("p.pipeline", "missing.py")
    ]
    assert leftovers == []


def test_a_pipeline_with_errors_leaves_nothing_even_after_large_bundles_were_started(
    tmp_path, monkeypatch
):
    """Bundles are built before validation (so that their files can be written meanwhile); a
    pipeline with errors then throws them away: no folder, no temporary file."""
    import mlpipe_lab.compiler.bundles as bundles

    monkeypatch.setattr(bundles, "IN_MEMORY_LIMIT", 0)  # every bundle through a temporary file
    doc = pipeline(
        "p", [node("a", "a.py"), node("b", "b.py", parents=["a"])], defaults={"runtime_image": IMG}
    )
    doc["pipelines"][0]["nodes"][1]["app_data"]["component_parameters"]["cpu"] = "lots"
    path = write_pipeline(tmp_path / "proj", doc)
    for name in ("a.py", "b.py"):
        (path.parent / name).write_text("print(1)\n")
    with pytest.raises(PipelineError) as exc:
        export(path, config=cc.CONFIG, images=cc.IMAGES)
    assert [(p.node_id, p.path) for p in exc.value.problems] == [("b", "component_parameters/cpu")]
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.py", "b.py", "p.pipeline"]


def test_broken_json_is_a_problem(tmp_path):
    path = tmp_path / "bad.pipeline"
    path.write_text("{ not json")
    with pytest.raises(PipelineError) as exc:
        export(path, config=cc.CONFIG, images=cc.IMAGES)
    assert exc.value.problems[0].code == "json" and exc.value.problems[0].line == 1


def test_export_everything_corpus(tmp_path, offline):
    doc = cc.everything()
    folder = tmp_path / "everything"
    path = write_pipeline(folder, doc, "everything.pipeline")
    cc.write_files(doc, folder)
    (folder / "train" / "nested").mkdir(parents=True)
    (folder / "train" / "nested" / "util.py").write_text("u")
    (folder / "train" / ".ipynb_checkpoints").mkdir()
    (folder / "train" / ".ipynb_checkpoints" / "train-checkpoint.ipynb").write_text("{}")
    result = export(path, config=cc.CONFIG, images=cc.IMAGES, target="3")
    train = result.bundles["train"]
    # relative to the node file's folder; the subfolder that no pattern names is not shipped
    assert list(train.files) == ["data/sample.csv", "lib/helpers.py", "train.ipynb"]
    assert result.tasks[1] == {"node_id": "train", "task_id": "train_model", "label": "Train model"}
    text = result.dag_path.read_text()
    gz = Path(train.path).read_bytes()
    assert hashlib.sha256(gz).hexdigest() == train.sha256 and len(gz) == train.size
    # the key names the uncompressed archive, so it does not depend on the zlib that compressed it
    tar_sha = hashlib.sha256(gzip.decompress(gz)).hexdigest()
    assert train.key == f"everything/bundles/train_model-{tar_sha[:12]}.tar.gz"
    assert "try:" not in text and train.key in text


def test_large_export_is_fast_and_complete(tmp_path):
    doc = cc.random_dag(300, svg=False)
    folder = tmp_path / "big"
    path = write_pipeline(folder, doc, "big.pipeline")
    cc.write_files(doc, folder)
    result = export(path, config=cc.CONFIG, images=cc.IMAGES)
    assert (
        len(result.bundles) == 300
        and len(list((folder / "dags" / "random_300.bundles").iterdir())) == 300
    )
    assert len(read_dag(result.dag_path.read_text())["tasks"]) == 300


def test_large_bundles_are_streamed_through_temporary_files(props, monkeypatch):
    small = export(props, config=cc.CONFIG, images=cc.IMAGES)
    expected = {k: Path(b.path).read_bytes() for k, b in small.bundles.items()}
    for b in small.bundles.values():
        Path(b.path).unlink()
    import mlpipe_lab.compiler.bundles as bundles

    monkeypatch.setattr(bundles, "IN_MEMORY_LIMIT", 0)
    large = export(props, config=cc.CONFIG, images=cc.IMAGES)
    assert {k: Path(b.path).read_bytes() for k, b in large.bundles.items()} == expected
    assert not [
        p
        for p in (props.parent / "dags" / "props_demo.bundles").iterdir()
        if p.name.startswith(".")
    ]
