"""State shared while compiling one pipeline: its settings, the problems found, the names used."""

from __future__ import annotations

from typing import Any

from ..pipeline.model import Node, Pipeline
from ..pipeline.problems import ERROR, WARNING, Problem
from .emit import TemplateTextError, jinja_safe
from .settings import Settings


class Context:
    def __init__(
        self,
        pipeline: Pipeline,
        settings: Settings,
        images: list[dict[str, Any]],
        bundles: dict[str, Any] | None,
    ):
        self.pipeline = pipeline
        self.settings = settings
        self.images = [i for i in images or [] if isinstance(i, dict)]
        self.bundles = bundles
        self.problems: list[Problem] = []
        self.uses: set[str] = set()  # imported names the module needs (Secret, k8s, ...)
        self._image_index: dict[str, dict[str, Any]] | None = None
        self.runner_store_args: list[str] = []  # local-worker mode: the runner's shared arguments
        self.warned: set[str] = set()  # warning kinds given once per pipeline
        self.store_args: list[
            str
        ] = []  # the runner's shared store arguments (serve tasks use them too)
        self.cmds_per_task = (
            False  # True when some task's command is not the runner's (serve nodes)
        )
        self.delivery_modes: set[str] = set()  # how the runner reaches the runner tasks' pods

    def add(
        self,
        code: str,
        message: str,
        severity: str,
        node: Node | None = None,
        path: str = "",
        **extra: Any,
    ) -> None:
        self.problems.append(
            Problem(
                code=code,
                message=message,
                severity=severity,
                pipeline=self.pipeline.name,
                node_id=node.id if node else None,
                node_label=node.label if node else None,
                path=path,
                extra=extra,
            )
        )

    def error(
        self, code: str, message: str, node: Node | None = None, path: str = "", **extra: Any
    ) -> None:
        self.add(code, message, ERROR, node, path, **extra)

    def warn(
        self, code: str, message: str, node: Node | None = None, path: str = "", **extra: Any
    ) -> None:
        self.add(code, message, WARNING, node, path, **extra)

    def tpl(self, text: str, node: Node | None = None, path: str = "") -> str:
        """User text for a Jinja-templated operator field, protected so it renders as itself."""
        try:
            return jinja_safe(text)
        except TemplateTextError:
            self.error(
                "template-text",
                "This text contains Jinja markers ('{{', '{%' or '{#') and the word 'endraw', so it "
                "cannot be protected from Airflow's template rendering; remove 'endraw'.",
                node=node,
                path=path,
            )
            return text

    def image_entry(self, image: str) -> dict[str, Any] | None:
        """The catalog entry for an image reference: user entries win over built-in and Elyra ones
        (so a user's copy of a factory image keeps its pull secret), then the first one listed."""
        if self._image_index is None:
            rank = {"user": 0, "builtin": 1, "elyra": 2}
            index: dict[str, tuple[int, int, dict[str, Any]]] = {}
            for pos, entry in enumerate(self.images):
                ref = entry.get("image")
                if not isinstance(ref, str):
                    continue
                key = (rank.get(entry.get("source"), 0), pos)
                if ref not in index or key < index[ref][:2]:
                    index[ref] = (key[0], key[1], entry)
            self._image_index = {ref: v[2] for ref, v in index.items()}
        return self._image_index.get(image)
