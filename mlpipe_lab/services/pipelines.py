"""Pipelines: validate, describe and export, all from the one plan (``mlpipe_lab.plan``)."""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import threading
from pathlib import Path
from typing import Any

from ..errors import MLPipeError
from ..pipeline import PipelineError, has_errors, load, parse
from ..pipeline.files import PipelineFiles
from ..pipeline.model import Pipeline, normalise_entries
from .catalogs import Catalogs
from .workspace import Workspace

# Validation and describe plan for the built-in local runtime unless told otherwise.
DEFAULT_RUNTIME = "local"
PLANS_KEPT = 32


class Pipelines:
    def __init__(self, workspace: Workspace, catalogs: Catalogs, components: Any = None):
        self.workspace = workspace
        self.catalogs = catalogs
        self.components = components  # services.components.Components: component nodes' index
        # (path, sha256 of its text, sha256 of the runtime configuration) -> its tasks
        self._layouts: dict[tuple[str, str, str], Any] = {}
        self._lock = threading.Lock()

    def load(self, path: str, content: str | None = None) -> tuple[Path, Pipeline]:
        file, text = self.workspace.read(path, content)
        try:
            doc = parse(text, pipeline=self.workspace.relative(file))
        except PipelineError as exc:
            raise PipelineError(exc.problems, f"Pipeline '{path}' cannot be read.") from None
        return file, load(doc, self.workspace.relative(file))

    def check(
        self,
        path: str,
        content: str | None = None,
        runtime_config: str | None = None,
        planned: bool = True,
    ):
        """(file, Checked): every problem export would find, and the plan, for a runtime
        configuration (default: local); ``planned=False``: the file's own problems only."""
        from ..plan import check

        file, text = self.workspace.read(path, content)
        config = self.catalogs.runtime_config(runtime_config or DEFAULT_RUNTIME)
        checked = check(
            text,
            source=self.workspace.relative(file),
            config=config,
            images=self.catalogs.images(),
            files=PipelineFiles.at(self.workspace.root, file),
            planned=planned,
            components=self.component_index,
        )
        return file, checked

    def component_index(self) -> Any:
        """The component catalogs' index (made only for pipelines with component nodes)."""
        if self.components is None:
            from ..components import ComponentIndex

            return ComponentIndex([], root=self.workspace.root)
        return self.components.index()

    def validate(
        self, path: str, content: str | None = None, runtime_config: str | None = None
    ) -> dict[str, Any]:
        file, checked = self.check(path, content, runtime_config)
        return {
            "path": self.workspace.relative(file),
            "runtime_config": runtime_config or DEFAULT_RUNTIME,
            "valid": not has_errors(checked.problems),
            "problems": [p.to_json() for p in checked.problems],
        }

    def tasks(self, path: str, runtime_config: str) -> tuple[str, list[dict[str, Any]]] | None:
        """(DAG id, [{task_id, node_id, label, kind, upstream}]) of the pipeline at ``path`` for a runtime
        configuration; planned once per content of the file and the configuration (a run that is
        followed asks every few seconds). None when the file cannot be read or planned."""
        from ..plan import layout_for

        try:
            _, text = self.workspace.read(path)
            config = self.catalogs.runtime_config(runtime_config)
        except MLPipeError:
            return None
        key = (
            path,
            hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
            hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest(),
        )
        with self._lock:
            cached = self._layouts.get(key)
        if cached is None:
            try:
                _, pipeline = self.load(path, text)
            except MLPipeError:
                return None
            tasks = layout_for(pipeline, config)
            cached = (
                tasks.dag_id,
                [
                    {
                        "task_id": s.task_id,
                        "node_id": s.node_id,
                        "label": s.node.label,
                        "kind": s.kind,
                        "upstream": list(s.upstream),
                    }
                    for s in tasks.slots
                ],
            )
            with self._lock:
                self._layouts[key] = cached
                while len(self._layouts) > PLANS_KEPT:
                    self._layouts.pop(next(iter(self._layouts)))
        return cached

    def dag_id(self, path: str) -> str:
        """The pipeline's DAG id, as its plan (and so export) has it."""
        from ..plan import dag_id_of

        _, pipeline = self.load(path)
        dag_id = dag_id_of(pipeline)
        if not dag_id:
            raise MLPipeError(
                f"Pipeline '{path}': the pipeline name gives no usable DAG id; set a DAG id.",
                400,
                field="dag_id",
            )
        return dag_id

    def describe(self, path: str, runtime_config: str | None = None) -> dict[str, Any]:
        """What a pipeline uses: files, images, secrets, volumes, parameters, and the task ids
        of its plan for the runtime configuration (default local)."""
        from ..plan import plan as make_plan

        file, pipeline = self.load(path)
        files = PipelineFiles.at(self.workspace.root, file)
        entries = self.catalogs.images()
        catalog = {e["image"]: e for e in entries if e.get("image")}
        plan = make_plan(
            pipeline,
            self.catalogs.runtime_config(runtime_config or DEFAULT_RUNTIME),
            entries,
            components=self.component_index,
        )
        graph = pipeline.graph
        try:
            order = graph.topological_order()
        except ValueError:
            order = [n.id for n in pipeline.nodes]
        position = {nid: i for i, nid in enumerate(order)}
        nodes, images, secrets, volumes = [], {}, [], []
        bundled = []
        for node in pipeline.nodes:
            task_ids = [t.task_id for t in plan.tasks_of(node.id)]
            props = pipeline.node_properties(node)
            found = files.node(pipeline, node)
            bundled.append(found)
            deps = [f for f in found.bundle if f != found.name] if found.file else []
            image = props.get("runtime_image") or ""
            if image:
                entry = catalog.get(image)
                images.setdefault(
                    image,
                    {
                        "image": image,
                        "catalog_entry": entry["name"] if entry else None,
                        "pull_policy": entry.get("pull_policy") if entry else None,
                        "pull_secret": entry.get("pull_secret") if entry else None,
                        "nodes": [],
                    },
                )["nodes"].append(node.label)
            for s in normalise_entries("kubernetes_secrets", props.get("kubernetes_secrets")):
                secrets.append(
                    {
                        "node": node.label,
                        "env_var": s.get("env_var"),
                        "secret": s.get("name"),
                        "key": s.get("key"),
                    }
                )
            for v in normalise_entries("mounted_volumes", props.get("mounted_volumes")):
                volumes.append(
                    {
                        "node": node.label,
                        "path": v.get("path"),
                        "pvc_name": v.get("pvc_name"),
                        "sub_path": v.get("sub_path") or None,
                        "read_only": bool(v.get("read_only")),
                    }
                )
            nodes.append(
                {
                    "id": node.id,
                    "label": node.label,
                    "op": node.op,
                    # the node's (first) task in the DAG; a serve node has one per step
                    "task_id": task_ids[0] if task_ids else None,
                    "task_ids": task_ids,
                    "filename": node.filename,
                    # a serve or branch node has no file by design
                    "file_status": (
                        None
                        if node.is_serve or node.is_branch
                        else "ok"
                        if found.file
                        and not any(p.field.endswith("filename") for p in found.problems)
                        else "missing"
                    ),
                    "dependencies": sorted(set(deps)),
                    "outputs": list(props.get("outputs") or []),
                    "runtime_image": image,
                    "parents": graph.parents(node.id),
                    "order": position.get(node.id),
                }
            )
        nodes.sort(key=lambda n: (n["order"] is None, n["order"] or 0))
        return {
            "path": self.workspace.relative(file),
            "name": pipeline.name,
            "dag_id": plan.dag_id,
            "runtime_config": runtime_config or DEFAULT_RUNTIME,
            "version": pipeline.version,
            "nodes": nodes,
            # every file the nodes ship, relative to the root (dependencies are relative to
            # their node's file)
            "files": sorted(
                {posixpath.join(f.folder, b) for f in bundled for b in f.bundle if f.file}
            ),
            "images": sorted(images.values(), key=lambda i: i["image"]),
            "secrets": secrets,
            "volumes": volumes,
            "parameters": [
                p.__dict__ | {"enum": list(p.enum) if p.enum else None} for p in pipeline.parameters
            ],
        }

    # -- export -------------------------------------------------------------------------------

    def export_to(
        self,
        path: str,
        config: dict[str, Any],
        output: Path | None,
        overwrite: bool = False,
        scratch: bool = False,
    ):
        """compiler.export of a pipeline in the workspace, its errors in the service's words.
        The server's outputs stay in its root (``scratch``: a private temporary folder of ours)."""
        from ..compiler.export import OutputExists, export

        file = self.workspace.existing(path)
        try:
            return export(
                file,
                config=config,
                images=self.catalogs.images(),
                output=output,
                overwrite=overwrite,
                root=self.workspace.root,
                components=self.component_index,
                confine=self.workspace.root
                if self.workspace.confine_outputs and not scratch
                else None,
            )
        except PipelineError as exc:
            raise PipelineError(
                exc.problems, f"Pipeline '{path}' has errors; fix them before exporting."
            ) from None
        except OutputExists as exc:
            raise self._output_exists(exc) from None
        except MLPipeError:
            raise
        except OSError as exc:  # the file system refused a write: say which and why
            where = self.workspace.display_path(exc.filename) if exc.filename else "its outputs"
            raise MLPipeError(
                f"Exporting '{path}' failed writing {where}: {exc.strerror or exc}.",
                400,
                field="output",
            ) from None

    def export_target(
        self,
        path: str,
        content: str | None = None,
        output: str | None = None,
        runtime_config: str | None = None,
    ) -> dict[str, Any]:
        """What the next export would write (DAG id, file) and what is there now; writes nothing.
        ``existing``: null, or whether mlpipe-lab wrote it and from which pipeline. With a
        ``runtime_config``, also where a submit would commit the DAG (``submit``)."""
        from ..compiler.export import export_target

        file, text = self.workspace.read(path, content)
        target_path = self.workspace.output(output) if output else None
        try:
            target = export_target(file, text=text, output=target_path)
        except PipelineError as exc:
            raise PipelineError(exc.problems, f"Pipeline '{path}' cannot be read.") from None
        existing = target.existing
        data: dict[str, Any] = {
            "dag_id": target.dag_id,
            "dag_path": self.workspace.display_path(target.dag_path),
            "existing": None
            if existing is None
            else {"generated": existing.generated, "source": existing.source},
        }
        if runtime_config:
            from ..publish.publisher import where

            data["submit"] = where(self.catalogs.runtime_config(runtime_config), target.dag_id)
        return data

    def export(
        self,
        path: str,
        runtime_config: str,
        output: str | None = None,
        overwrite: bool = False,
    ) -> dict[str, Any]:
        """Offline: the DAG file (default: ``dags/<dag_id>.py`` beside the pipeline) and the node
        bundles, on disk. A file mlpipe-lab did not write is never replaced; an earlier export only
        with ``overwrite`` (the user said yes)."""
        self.workspace.existing(path)
        target = self.workspace.output(output) if output else None
        result = self.export_to(
            path, self.catalogs.runtime_config(runtime_config), target, overwrite=overwrite
        )
        data = result.to_json()
        data["dag_path"] = self.workspace.display_path(data["dag_path"])
        shown: dict[str, str] = {}  # the bundles share one folder: resolve it once
        for bundle in data["bundles"]:
            folder, _, name = bundle["path"].rpartition(os.sep)
            if folder not in shown:
                shown[folder] = self.workspace.display_path(folder)
            bundle["path"] = posixpath.join(shown[folder], name) if shown[folder] != "." else name
        data["runtime_config"] = runtime_config
        return data

    def _output_exists(self, exc: Any) -> MLPipeError:
        shown = self.workspace.display_path(exc.path)
        if not exc.existing.generated:
            return MLPipeError(
                f"'{shown}' exists and was not written by mlpipe-lab, so export leaves it alone. "
                "Move it away, choose another DAG file, or give the pipeline another DAG id.",
                409,
                field="output",
                code="output-not-generated",
                details={"dag_path": shown},
            )
        source = exc.existing.source or "another pipeline"
        return MLPipeError(
            f"'{shown}' holds an earlier export of {source}; replacing it needs your consent "
            "(overwrite).",
            409,
            field="overwrite",
            code="output-exists",
            details={"dag_path": shown, "source": exc.existing.source},
        )
