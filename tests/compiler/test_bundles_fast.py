"""The hand-assembled bundle writer and the export fast paths keep their promises: the same bytes
as tarfile + gzip, a bundle folder that appears complete, file checks that agree with the slow way."""

from __future__ import annotations

import gzip
import io
import os
import posixpath
import random
import tarfile
from pathlib import Path

import compile_corpus as cc
import pytest

from mlpipe_lab.compiler import bundles as bundles_mod
from mlpipe_lab.compiler import export
from mlpipe_lab.compiler.bundles import BundleSet, write_bundle
from mlpipe_lab.pipeline.files import LocalFiles


def reference_bundle(root: Path, relpaths: list[str]) -> bytes:
    """What bundles were before: tarfile (PAX) inside GzipFile(mtime=0), entries normalised; the
    archive ends at its end-of-archive marker (tarfile then pads to 10 KiB records, we do not)."""
    raw = io.BytesIO()
    tar = tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT)
    for rel in sorted(relpaths):
        st = (root / rel).stat()
        info = tarfile.TarInfo(rel)
        info.size, info.mtime = st.st_size, 0
        info.mode = 0o755 if st.st_mode & 0o100 else 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        with open(root / rel, "rb") as fh:
            tar.addfile(info, fh)
    end = tar.offset + 2 * tarfile.BLOCKSIZE
    tar.close()
    assert raw.getvalue()[end:].count(0) == len(raw.getvalue()) - end  # only record padding cut
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as gz:
        gz.write(raw.getvalue()[:end])
    return buf.getvalue()


NAMES = [
    "a.py",
    "x" * 100,
    "y" * 101,
    "d/" + "z" * 120,
    "é日本/語.py",
    "sp ace.txt",
    "run.sh",
    "q\"uote'.txt",
    "nl\nname",
    "deep/er/still/f.ipynb",
]


@pytest.mark.parametrize("seed", range(2))
def test_bundles_are_byte_identical_to_tarfile_and_gzip(tmp_path, seed):
    rng = random.Random(seed)
    for i, name in enumerate(NAMES):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(rng.choice([0, 1, 511, 512, 513, 10240, 10241, 1_500_000])))
        path.chmod(0o755 if (i + seed) % 2 else 0o644)
    for _ in range(4):
        chosen = rng.sample(NAMES, rng.randint(1, len(NAMES)))
        out = io.BytesIO()
        sha, size = write_bundle(tmp_path, chosen, out)
        data = out.getvalue()
        assert data == reference_bundle(tmp_path, chosen)
        assert size == len(data)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            assert sorted(m.name for m in tar.getmembers()) == sorted(chosen)
            for m in tar.getmembers():
                assert tar.extractfile(m).read() == (tmp_path / m.name).read_bytes()


def test_a_file_that_shrinks_while_bundled_is_an_error(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_bytes(b"x" * 100)
    real_fstat = os.fstat

    def lying_fstat(fd):
        st = real_fstat(fd)
        return os.stat_result(
            (
                st.st_mode,
                st.st_ino,
                st.st_dev,
                st.st_nlink,
                st.st_uid,
                st.st_gid,
                200,
                st.st_atime,
                st.st_mtime,
                st.st_ctime,
            )
        )

    monkeypatch.setattr(os, "fstat", lying_fstat)
    with pytest.raises(OSError, match="changed"):
        write_bundle(tmp_path, ["a.py"], io.BytesIO())


def _export_random(tmp_path: Path, n: int = 12):
    doc = cc.random_dag(n, svg=False)
    folder = tmp_path / "p"
    folder.mkdir()
    path = folder / "p.pipeline"
    import json

    path.write_text(json.dumps(doc), encoding="utf-8")
    cc.write_files(doc, folder)
    return path


def test_first_export_moves_a_complete_bundle_folder_into_place(tmp_path, monkeypatch):
    path = _export_random(tmp_path)
    renamed = []
    real_rename = os.rename

    def spy(src, dst):
        renamed.append((Path(src), Path(dst)))
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", spy)
    result = export(path, config=cc.CONFIG, images=cc.IMAGES, output=tmp_path / "dags" / "d.py")
    folder = tmp_path / "dags" / "random_12.bundles"
    assert [dst for _, dst in renamed] == [folder]
    assert renamed[0][0].name.startswith(".random_12.bundles.tmp-")
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        Path(b.path).name for b in result.bundles.values()
    )
    assert oct(folder.stat().st_mode & 0o777) == oct(0o755)
    assert [p.name for p in (tmp_path / "dags").iterdir() if p.name.startswith(".")] == []
    # the second export finds the folder: bundles are compared one by one, nothing is rewritten
    before = {p.name: p.stat().st_ino for p in folder.iterdir()}
    again = export(path, config=cc.CONFIG, images=cc.IMAGES, output=tmp_path / "dags" / "d.py")
    assert {p.name: p.stat().st_ino for p in folder.iterdir()} == before and again.changed is False


def test_a_folder_made_by_someone_else_meanwhile_is_filled_one_by_one(tmp_path, monkeypatch):
    root = tmp_path / "src"
    root.mkdir()
    (root / "a.py").write_text("print(1)\n")
    folder = tmp_path / "out" / "d.bundles"
    bundles = BundleSet(folder)
    bundles.add("n1", "d", "a", root, ["a.py"])
    real_rename = os.rename

    def racing(src, dst):
        Path(dst).mkdir(parents=True)
        (Path(dst) / "other.txt").write_text("theirs")
        return real_rename(src, dst)  # fails: the folder is not empty

    monkeypatch.setattr(os, "rename", racing)
    bundles.commit()
    assert Path(bundles.refs["n1"].path).read_bytes() == reference_bundle(root, ["a.py"])
    assert (folder / "other.txt").read_text() == "theirs"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["d.bundles"]  # staging removed


def test_a_failed_staging_leaves_nothing(tmp_path, monkeypatch):
    root = tmp_path / "src"
    root.mkdir()
    (root / "a.py").write_text("x")
    folder = tmp_path / "out" / "d.bundles"
    bundles = BundleSet(folder)
    bundles.add("n1", "d", "a", root, ["a.py"])

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "chmod", broken)
    with pytest.raises(OSError, match="disk full"):
        bundles.commit()
    assert list((tmp_path / "out").iterdir()) == []


def _many_bundles(tmp_path: Path, n: int = 6) -> tuple[Path, BundleSet, Path]:
    root = tmp_path / "src"
    root.mkdir()
    bundles = BundleSet(tmp_path / "out" / "d.bundles")
    for i in range(n):
        (root / f"s{i}.py").write_text(f"print({i})\n")
        bundles.add(f"n{i}", "d", f"s{i}", root, [f"s{i}.py"])
    return root, bundles, tmp_path / "out"


@pytest.fixture
def background(monkeypatch):
    """Background writing from 2 bundles on, as if pytest ran no other thread."""
    monkeypatch.setattr(bundles_mod, "BACKGROUND_MIN_BUNDLES", 2)
    monkeypatch.setattr(bundles_mod.threading, "active_count", lambda: 1)


def test_a_large_first_export_writes_its_bundles_in_a_child_while_the_caller_goes_on(
    tmp_path, background
):
    root, bundles, out = _many_bundles(tmp_path)
    assert bundles.stage_in_background()
    pid = bundles._writer[0]
    assert pid != os.getpid()
    assert not bundles.folder.exists()  # nothing visible before the commit
    bundles.commit()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped
    for i, ref in enumerate(bundles.refs.values()):
        assert Path(ref.path).read_bytes() == reference_bundle(root, [f"s{i}.py"])
    assert sorted(p.name for p in out.iterdir()) == ["d.bundles"]


def test_a_failing_background_writer_fails_the_commit_and_leaves_nothing(
    tmp_path, background, monkeypatch
):
    _, bundles, out = _many_bundles(tmp_path)
    real_open = os.open

    def full(path, *args, **kwargs):
        if str(path).endswith(".tar.gz"):
            raise OSError("No space left on device")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", full)  # the forked child inherits it
    assert bundles.stage_in_background()
    with pytest.raises(OSError, match="No space left on device"):
        bundles.commit()
    assert list(out.iterdir()) == []


def test_a_discarded_export_stops_its_background_writer(tmp_path, background):
    _, bundles, out = _many_bundles(tmp_path)
    assert bundles.stage_in_background()
    pid = bundles._writer[0]
    bundles.discard()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    assert list(out.iterdir()) == []


def test_no_background_writer_in_a_threaded_process_or_for_few_bundles(tmp_path, monkeypatch):
    _, bundles, out = _many_bundles(tmp_path)
    monkeypatch.setattr(bundles_mod, "BACKGROUND_MIN_BUNDLES", 2)
    monkeypatch.setattr(bundles_mod.threading, "active_count", lambda: 3)  # e.g. the Jupyter server
    assert not bundles.stage_in_background()
    monkeypatch.setattr(bundles_mod.threading, "active_count", lambda: 1)
    monkeypatch.setattr(bundles_mod, "BACKGROUND_MIN_BUNDLES", 500)
    assert not bundles.stage_in_background()
    bundles.commit()
    assert len(list((out / "d.bundles").iterdir())) == 6


def test_the_cli_exports_a_large_pipeline_exactly_as_the_sequential_way(tmp_path, monkeypatch):
    """The mlpipe process (single-threaded) writes 600 bundles in a forked child; the result is
    the same bundle files as writing them one after the other in process, and the DAG names them."""
    import json
    import subprocess
    import sys

    doc = cc.random_dag(600, svg=False)
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "p.pipeline").write_text(json.dumps(doc), encoding="utf-8")
    cc.write_files(doc, folder)
    env = dict(os.environ, MLPIPE_LAB_DATA_DIR=str(tmp_path / "data"))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlpipe_lab.cli",
            "export",
            str(folder / "p.pipeline"),
            "--runtime-config",
            "local",
            "--output",
            str(tmp_path / "cli" / "d.py"),
        ],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    # the process ends without the interpreter's teardown: its report must still be complete
    assert done.stdout.endswith("600 tasks, 600 node bundles\n")
    monkeypatch.setattr(bundles_mod, "BACKGROUND_MIN_BUNDLES", 10**9)
    export(
        folder / "p.pipeline", config={"type": "local"}, images=[], output=tmp_path / "seq" / "d.py"
    )

    def contents(out: Path) -> dict[str, bytes]:
        return {
            p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()
        }

    cli, seq = contents(tmp_path / "cli"), contents(tmp_path / "seq")
    dag = cli.pop("d.py").decode()
    seq.pop("d.py")
    assert len(cli) == 600 and cli == seq
    assert all(posixpath.basename(k) in dag for k in cli)


@pytest.mark.parametrize(
    "relpath",
    [
        "a.py",
        "sub/b.py",
        "sub",
        "missing.py",
        "sub/missing.py",
        "link_in.py",
        "link_out.py",
        "dirlink/b.py",
        "outlink/secret.txt",
        "a.py/x",
        "sub/../a.py",
        "./a.py",
        "sub//b.py",
        "sub/",
        ".hidden",
    ],
)
def test_fast_file_checks_agree_with_the_general_way(tmp_path, relpath):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("s")
    (root / "a.py").write_text("a")
    (root / ".hidden").write_text("h")
    (root / "sub" / "b.py").write_text("b")
    (root / "link_in.py").symlink_to(root / "a.py")
    (root / "link_out.py").symlink_to(outside / "secret.txt")
    (root / "dirlink").symlink_to(root / "sub")
    (root / "outlink").symlink_to(outside)
    fast = LocalFiles(root).check(relpath)
    slow_files = LocalFiles(root)
    slow = slow_files._check.__func__(_NoFastPath(slow_files), relpath)
    assert fast == slow


class _NoFastPath:
    """A LocalFiles whose plain-path shortcut always defers to the general way."""

    def __init__(self, files: LocalFiles):
        self._files = files

    def __getattr__(self, name):
        return getattr(self._files, name)

    def _check_plain(self, relpath):
        return None


def test_globs_are_computed_once_per_pattern(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("1")
    files = LocalFiles(tmp_path)
    calls = []
    real = files._glob
    monkeypatch.setattr(files, "_glob", lambda p, *a: calls.append(p) or real(p, *a))
    first = files.glob("data/*.csv")
    first.append("mutated by the caller")
    assert files.glob("data/*.csv") == ["data/a.csv"] and calls == ["data/*.csv"]
