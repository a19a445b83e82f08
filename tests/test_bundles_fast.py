"""The hand-assembled bundle writer and the export fast paths keep their promises: the same bytes
as tarfile + gzip, a bundle folder that appears complete, file checks that agree with the slow way."""

from __future__ import annotations

import gzip
import io
import os
import random
import tarfile
from pathlib import Path

import pytest

import compile_corpus as cc
from mlpipe_lab.compiler import export
from mlpipe_lab.compiler.bundles import BundleSet, write_bundle
from mlpipe_lab.pipeline.files import LocalFiles


def reference_bundle(root: Path, relpaths: list[str]) -> bytes:
    """What bundles were before: tarfile (PAX) inside GzipFile(mtime=0), entries normalised."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for rel in sorted(relpaths):
                st = (root / rel).stat()
                info = tarfile.TarInfo(rel)
                info.size, info.mtime = st.st_size, 0
                info.mode = 0o755 if st.st_mode & 0o100 else 0o644
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with open(root / rel, "rb") as fh:
                    tar.addfile(info, fh)
    return buf.getvalue()


NAMES = ["a.py", "x" * 100, "y" * 101, "d/" + "z" * 120, "é日本/語.py", "sp ace.txt", "run.sh",
         "q\"uote'.txt", "nl\nname", "deep/er/still/f.ipynb"]


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
        return os.stat_result((st.st_mode, st.st_ino, st.st_dev, st.st_nlink, st.st_uid, st.st_gid,
                               200, st.st_atime, st.st_mtime, st.st_ctime))

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
    assert sorted(p.name for p in folder.iterdir()) == sorted(Path(b.path).name for b in result.bundles.values())
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
    ref = bundles.add("n1", "d", "a", root, ["a.py"])
    real_rename = os.rename

    def racing(src, dst):
        Path(dst).mkdir(parents=True)
        (Path(dst) / "other.txt").write_text("theirs")
        return real_rename(src, dst)  # fails: the folder is not empty

    monkeypatch.setattr(os, "rename", racing)
    bundles.commit()
    assert Path(ref.path).read_bytes() == reference_bundle(root, ["a.py"])
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


@pytest.mark.parametrize("relpath", [
    "a.py", "sub/b.py", "sub", "missing.py", "sub/missing.py", "link_in.py", "link_out.py", "dirlink/b.py",
    "outlink/secret.txt", "a.py/x", "sub/../a.py", "./a.py", "sub//b.py", "sub/", ".hidden",
])
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
    monkeypatch.setattr(files, "_glob", lambda p: calls.append(p) or real(p))
    first = files.glob("data/*.csv")
    first.append("mutated by the caller")
    assert files.glob("data/*.csv") == ["data/a.csv"] and calls == ["data/*.csv"]
