"""The runner image's Dockerfile (Docker does not run here: the emulated-pods tier builds the same
image as a root file system, tests/pods). Its instructions parse, it installs the wheel with the
extra that exists in pyproject.toml and nothing else, and its command is the init container's."""

from __future__ import annotations

import re
import shlex

import pytest

from mlpipe_lab.runner.contract import install_command

tomllib = pytest.importorskip("tomllib")

from fixture_paths import REPO as ROOT  # noqa: E402

DOCKERFILE = ROOT / "images" / "runner" / "Dockerfile"
KNOWN = {
    "FROM",
    "ARG",
    "ENV",
    "RUN",
    "COPY",
    "ADD",
    "USER",
    "WORKDIR",
    "CMD",
    "ENTRYPOINT",
    "LABEL",
    "EXPOSE",
    "VOLUME",
    "SHELL",
    "HEALTHCHECK",
    "STOPSIGNAL",
    "ONBUILD",
}


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if full:
            word, _, rest = full.partition(" ")
            out.append((word.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def test_dockerfile_instructions():
    steps = instructions(DOCKERFILE.read_text())
    names = [name for name, _ in steps]
    assert set(names) <= KNOWN
    assert steps[0] == ("FROM", "python:3.11-slim")
    runs = " ".join(args for name, args in steps if name == "RUN")
    copies = [args for name, args in steps if name == "COPY"]
    assert copies == ["mlpipe_lab-*.whl /tmp/wheels/"]
    assert "python3 -m mlpipe_lab.runner.install /tmp/check" in runs
    assert "apt-get" not in runs  # python3 and the wheel, nothing else
    assert not re.search(r"\b(curl|wget)\b", runs)  # nothing fetched from the internet but packages
    command = shlex.split(steps[-1][1].replace(",", " ").strip("[]"))
    assert names[-1] == "CMD" and command == install_command()
    assert ("USER", "1000") in steps


def test_the_extra_it_installs_exists():
    steps = instructions(DOCKERFILE.read_text())
    runs = " ".join(args for name, args in steps if name == "RUN")
    assert re.findall(r"mlpipe_lab\[([^\]]+)\]", runs) == ["${EXTRAS}"]
    assert ("ARG", "EXTRAS=runner") in steps  # the default: the node runner alone
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "serve-task" in project["optional-dependencies"]  # the other choice (serve nodes)
    assert project["optional-dependencies"]["runner"] == []  # the runner is standard library only
    readme = (ROOT / "images" / "runner" / "README.md").read_text()
    assert "mlpipe_lab[runner]" in readme and "Rscript" in readme and "ipykernel" in readme


@pytest.mark.parametrize("value", [None, "", "   "])
def test_an_unset_runner_image_is_this_versions_default(value):
    """A runtime configuration without a runner image (absent, empty, blank) still gives every
    pod an init container with an image: this mlpipe-lab version's runner image, never an empty
    reference the cluster would refuse only when the task runs."""
    import copy

    import compile_corpus as cc

    from mlpipe_lab.compiler import compile_pipeline
    from mlpipe_lab.pipeline import Pipeline
    from mlpipe_lab.plan.settings import default_runner_image

    config = copy.deepcopy(cc.CONFIG)
    kube = config.setdefault("kubernetes", {})
    kube.pop("runner_image", None)
    if value is not None:
        kube["runner_image"] = value
    doc = cc.everything()
    text = compile_pipeline(
        Pipeline(doc, "p.pipeline"), images=cc.IMAGES, config=config, source_path="p.pipeline"
    ).text
    pod = cc.read_dag(text)["constants"]["RUNNER_POD"]
    (init,) = pod.kwargs["spec"].kwargs["init_containers"]
    assert init.kwargs["image"] == default_runner_image() != ""
    assert default_runner_image().startswith("ghcr.io/mlpipe-lab/runner:")
