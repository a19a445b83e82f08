"""export: a .pipeline file -> its DAG file and node bundles on disk. Offline: it reads the
pipeline's folder and writes its outputs, nothing else (no network, git or object storage)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..pipeline import document
from ..pipeline.files import LocalFiles
from ..pipeline.model import Pipeline
from ..pipeline.problems import ERROR, PipelineError, Problem
from ..pipeline.validation import validate
from .bundles import BundleRef, build_bundles
from .compile import compile_checked, image_refs, plan_for


@dataclass
class ExportResult:
    dag_id: str
    dag_path: Path
    bundles: dict[str, BundleRef]  # node id -> bundle
    problems: list[Problem] = field(default_factory=list)  # warnings
    tasks: list[dict[str, str]] = field(default_factory=list)
    changed: bool = True  # False when the DAG file already had exactly this content

    def to_json(self) -> dict[str, Any]:
        return {
            "dag_id": self.dag_id,
            "dag_path": str(self.dag_path),
            "bundles": [b.to_json() for b in self.bundles.values()],
            "problems": [p.to_json() for p in self.problems],
            "tasks": self.tasks,
            "changed": self.changed,
        }


def _relative_to(path: Path, root: Path) -> str | None:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return None


def write_atomically(path: Path, data: bytes) -> bool:
    """Write via a temporary file and os.replace; False (and no write) when the content is the same."""
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def export(
    pipeline_path: Path,
    *,
    config: dict[str, Any],
    images: list[dict[str, Any]],
    output: Path | None = None,
    target: str | None = None,
    text: str | None = None,
) -> ExportResult:
    """Validate (with the files), build the bundles into ``<output dir>/<dag_id>.bundles/``, compile
    and write the DAG to ``output`` (default ``<pipeline dir>/<dag_id>.py``).
    ``text``: the pipeline's unsaved content (its files are still found next to ``pipeline_path``).
    Raises PipelineError (nothing written) when the pipeline has errors."""
    pipeline_path = Path(pipeline_path)
    source = pipeline_path.name  # the header names the file relative to its own folder
    try:
        if text is None:
            text = pipeline_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PipelineError(
            [
                Problem(
                    code="file", message=f"Cannot read the pipeline file: {exc}.", pipeline=source
                )
            ]
        ) from None
    doc = document.parse(text, pipeline=source)
    pipeline = Pipeline(doc, source)
    files = LocalFiles(pipeline_path.parent)
    plan = plan_for(
        pipeline, config
    )  # a plan even for a broken pipeline; validation says what is wrong
    dag_path = Path(output) if output is not None else pipeline_path.parent / f"{plan.dag_id}.py"
    bundle_dir = dag_path.parent / f"{plan.dag_id}.bundles"
    # Our own outputs never go into a bundle (else each export would change the next one).
    exclude = [
        r for r in (_relative_to(dag_path, files.root), _relative_to(bundle_dir, files.root)) if r
    ]
    # Bundles first, so that a large first export writes their files (in a child process) while
    # this one validates and compiles; nothing is committed before both succeeded.
    bundles, failure = None, None
    try:
        bundles = build_bundles(pipeline, plan, files, bundle_dir, exclude)
        bundles.stage_in_background()
    except Exception as exc:  # reported after validation, which explains most of them better
        failure = exc
    try:
        checked = validate(
            doc, source=source, files=files, images=image_refs(images), pipeline=pipeline
        )
        errors = [p for p in checked if p.severity == ERROR]
        if errors:
            raise PipelineError(errors)
        if failure is not None:
            raise failure
        assert bundles is not None
        compiled = compile_checked(
            pipeline,
            checked,
            images=images,
            config=config,
            source_path=source,
            bundles=bundles.keys,
            target=target,
            plan=plan,
        )
    except BaseException:
        if bundles is not None:
            bundles.discard()
        raise
    bundles.commit()
    changed = write_atomically(dag_path, compiled.text.encode("utf-8"))
    return ExportResult(
        dag_id=compiled.dag_id,
        dag_path=dag_path,
        bundles=bundles.refs,
        problems=compiled.problems,
        tasks=compiled.tasks,
        changed=changed,
    )
