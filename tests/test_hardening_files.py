"""Files a server reads stay its own (issue #17): a dependency symlink swapped to a file outside
the root while exports run never puts that file into a bundle (the file is checked once opened,
not before), and a FIFO among a node's files is refused without blocking."""

from __future__ import annotations

import json
import os
import tarfile
import threading
import time

import pytest
from pipeline_builder import node, pipeline

from mlpipe_lab.errors import MLPipeError
from mlpipe_lab.services import Services

pytestmark = pytest.mark.hardening

CANARY = "canary-outside-file-0c3a"


@pytest.fixture
def project(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text(CANARY)
    (root / "inside.txt").write_text("inside")
    (root / "main.py").write_text("print('hi')\n")
    (root / "dep.txt").symlink_to("inside.txt")
    doc = pipeline("swap", [node("n1", "main.py", dependencies=["dep.txt"])])
    (root / "swap.pipeline").write_text(json.dumps(doc))
    return root, outside


def bundled_text(result) -> str:
    out = []
    for bundle in result["bundles"]:
        with tarfile.open(bundle["abs"]) as tar:
            for member in tar.getmembers():
                out.append(tar.extractfile(member).read().decode("utf-8", "replace"))
    return "\n".join(out)


def test_a_dependency_swapped_to_an_outside_file_is_never_bundled(project, tmp_path):
    root, outside = project
    services = Services(root, tmp_path / "data")
    stop = threading.Event()

    def swap():
        i = 0
        while not stop.is_set():
            tmp = root / f".dep-{i}"
            os.symlink(outside / "secret.txt" if i % 2 else "inside.txt", tmp)
            os.replace(tmp, root / "dep.txt")
            i += 1

    swapper = threading.Thread(target=swap)
    swapper.start()
    outcomes = {"exported": 0, "refused by the check (422)": 0, "refused once opened (403)": 0}
    try:
        for _ in range(300):
            try:
                result = services.pipelines.export("swap.pipeline", "local", overwrite=True)
            except MLPipeError as exc:
                assert exc.status in (400, 403, 422), exc.message
                assert CANARY not in exc.message
                key = (
                    "refused once opened (403)"
                    if exc.status == 403
                    else "refused by the check (422)"
                )
                outcomes[key] += 1
                continue
            outcomes["exported"] += 1
            for bundle in result["bundles"]:
                bundle["abs"] = str(root / bundle["path"])
            assert CANARY not in bundled_text(result)
    finally:
        stop.set()
        swapper.join()
    print(f"\n300 exports while the dependency flips in and out of the root: {outcomes}")
    assert outcomes["exported"] > 0


def test_a_fifo_among_a_nodes_files_is_refused_without_blocking(project, tmp_path):
    root, _ = project
    (root / "dep.txt").unlink()
    os.mkfifo(root / "dep.txt")
    services = Services(root, tmp_path / "data")
    started = time.monotonic()
    with pytest.raises(MLPipeError) as exc:
        services.pipelines.export("swap.pipeline", "local")
    assert time.monotonic() - started < 10
    assert exc.value.status in (400, 403, 422)


def test_what_is_opened_is_checked_not_the_path_checked_before(project):
    """The window of the race, made certain: the path was judged inside, then became a link
    outside. The bundle writer checks the opened file itself, so it refuses."""
    import io

    from mlpipe_lab.compiler.bundles import FileEscapes, write_bundle

    root, outside = project
    os.replace(root / "dep.txt", root / "dep.old")
    (root / "dep.txt").symlink_to(outside / "secret.txt")
    with pytest.raises(FileEscapes) as exc:
        write_bundle(root, ["dep.txt", "main.py"], io.BytesIO(), inside=str(root))
    assert exc.value.status == 403 and CANARY not in exc.value.message
    # a link that stays inside the root is bundled as before
    (root / "dep.txt").unlink()
    (root / "dep.txt").symlink_to("inside.txt")
    write_bundle(root, ["dep.txt", "main.py"], io.BytesIO(), inside=str(root))
