"""Validation as export sees it: the structural checks and the plan's, for a runtime configuration.

A pipeline :func:`check` finds no error in exports: export runs exactly this, then renders the
plan it made.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..pipeline import document
from ..pipeline.files import LocalFiles, PipelineFiles
from ..pipeline.model import Pipeline
from ..pipeline.problems import ERROR, PipelineError, Problem
from ..pipeline.validation import Validator
from .layout import Layout
from .model import Plan
from .planner import plan as make_plan


@dataclass
class Checked:
    pipeline: Pipeline | None  # None: the text is not a pipeline document at all
    plan: Plan | None  # None: too broken to plan (e.g. no pipelines list)
    problems: list[Problem] = field(default_factory=list)  # structural first, then the plan's
    structural: list[Problem] = field(default_factory=list)  # the file's own (any runtime)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def valid(self) -> bool:
        return self.pipeline is not None and self.plan is not None and not self.errors

    def raise_errors(self) -> None:
        """PipelineError with the errors, when there are any."""
        errors = self.errors
        if errors:
            raise PipelineError(errors)


def image_refs(images: list[dict[str, Any]] | None) -> list[str]:
    return [
        e["image"] for e in images or [] if isinstance(e, dict) and isinstance(e.get("image"), str)
    ]


def check(
    source_text_or_doc: str | dict[str, Any] | Pipeline,
    *,
    config: dict[str, Any],
    images: list[dict[str, Any]] | None = None,
    source: str = "",
    files: PipelineFiles | LocalFiles | None = None,
    bundles: Mapping[str, Any] | None = None,
    tasks: Layout | None = None,
    planned: bool = True,
    components: Any = None,
    dag: bool = False,
) -> Checked:
    """Every problem of a pipeline for the runtime configuration ``config``, and its plan.

    ``images``: the image catalog's entries (None: image references are not checked against a
    catalog); ``files``: a view of the pipeline's folder (None: files are not looked at);
    ``bundles``/``tasks``: see :func:`mlpipe_lab.plan.plan`; ``planned=False``: the file's own
    (structural) problems only, no plan (for callers that plan later, e.g. by exporting);
    ``dag``: checked as a DAG file (export, submit): pods need runtime images with any runtime
    configuration, not only an Airflow one (a local run needs none)."""
    if isinstance(source_text_or_doc, Pipeline):
        pipeline = source_text_or_doc
    else:
        if isinstance(source_text_or_doc, str):
            try:
                doc = document.parse(source_text_or_doc, pipeline=source or "pipeline")
            except PipelineError as exc:
                return Checked(None, None, list(exc.problems), list(exc.problems))
        else:
            doc = source_text_or_doc
        pipeline = Pipeline(doc, source)
    refs: Collection[str] | None = image_refs(images) if images is not None else None
    if not planned:
        problems = Validator(pipeline, files, refs).run()
        return Checked(pipeline, None, problems, problems)
    return structural_and_plan(
        pipeline, config, images, refs, files, bundles, tasks, components, dag=dag
    )


def structural_and_plan(
    pipeline: Pipeline,
    config: dict[str, Any],
    images: list[dict[str, Any]] | None,
    refs: Collection[str] | None,
    files: PipelineFiles | LocalFiles | None,
    bundles: Mapping[str, Any] | None = None,
    tasks: Layout | None = None,
    components: Any = None,
    dag: bool = False,
) -> Checked:
    """``components``: the component catalogs (a ComponentIndex, or a function that makes one;
    see :func:`mlpipe_lab.plan.plan`); ``dag``: see :func:`check`."""
    validator = Validator(pipeline, files, refs)
    problems = validator.run()
    if not validator.usable:
        return Checked(pipeline, None, problems, problems)
    result = make_plan(pipeline, config, images, bundles, tasks, components, dag=dag)
    # A field the structural checks found wrong is reported once (the schema says it first).
    flagged = {(p.node_id, p.path) for p in problems if p.severity == ERROR and p.path}
    planned = [p for p in result.problems if (p.node_id, p.path) not in flagged or not p.path]
    return Checked(pipeline, result, problems + planned, problems)
