"""Plain services behind the REST handlers and the CLI: one code path for both.

Paths given to a service are relative to its root (the Jupyter server's root folder, or the
current folder for the CLI) and may not leave it.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import Any

from .errors import ServiceError
from .pipeline import PipelineError, has_errors, load, parse, validate
from .pipeline.files import PipelineFiles
from .pipeline.ids import slugify, unique_ids
from .pipeline.model import normalise_entries

CATALOG_KINDS = ("runtime-images", "runtime-configs", "component-catalogs")
KIND_ALIASES = {
    "runtime-images": "runtime-images",
    "images": "runtime-images",
    "image": "runtime-images",
    "runtime-image": "runtime-images",
    "runtime-configs": "runtime-configs",
    "configs": "runtime-configs",
    "config": "runtime-configs",
    "runtime-config": "runtime-configs",
    "runtimes": "runtime-configs",
    "component-catalogs": "component-catalogs",
    "component-catalog": "component-catalogs",
}


def catalog_kind(kind: str) -> str:
    try:
        return KIND_ALIASES[kind]
    except KeyError:
        raise ServiceError(
            f"Unknown catalog '{kind}'; use runtime-images, runtime-configs or component-catalogs.",
            404,
        ) from None


class Services:
    def __init__(
        self,
        root_dir: str | os.PathLike,
        data_dir: str | os.PathLike | None = None,
        elyra_data_dir: str | os.PathLike | None = None,
        confine_outputs: bool = True,
    ):
        self.root = Path(root_dir).resolve()
        # The server keeps what it writes inside its root; the CLI writes where its user says.
        self.confine_outputs = confine_outputs
        self.data_dir = Path(data_dir) if data_dir else None
        self.elyra_data_dir = Path(elyra_data_dir) if elyra_data_dir else None
        self._catalogs: dict[str, Any] = {}

    # -- catalogs --------------------------------------------------------------------------

    def catalog(self, kind: str):
        kind = catalog_kind(kind)
        if kind not in self._catalogs:
            from .catalog import open_catalog

            self._catalogs[kind] = open_catalog(
                kind, data_dir=self.data_dir, elyra_data_dir=self.elyra_data_dir
            )
        return self._catalogs[kind]

    def catalog_call(self, kind: str, method: str, *args: Any, **kwargs: Any) -> Any:
        from .catalog import CatalogError

        try:
            return getattr(self.catalog(kind), method)(*args, **kwargs)
        except CatalogError as exc:
            raise ServiceError(
                str(getattr(exc, "message", exc)),
                getattr(exc, "status", 400),
                field=getattr(exc, "field", None),
            ) from None

    def image_refs(self) -> set[str]:
        return {e["image"] for e in self.catalog_call("runtime-images", "list") if e.get("image")}

    # -- pipelines -------------------------------------------------------------------------

    def resolve(self, path: str) -> Path:
        """A pipeline path inside the root; refuses anything else with a plain message."""
        if not isinstance(path, str) or not path.strip():
            raise ServiceError("Give the path of a .pipeline file.", 400, field="path")
        candidate = (self.root / path).resolve()
        try:
            candidate.relative_to(self.root)
        except ValueError:
            raise ServiceError(
                f"'{path}' is outside the server's root folder.", 403, field="path"
            ) from None
        if not path.endswith(".pipeline"):
            raise ServiceError(f"'{path}' is not a .pipeline file.", 400, field="path")
        return candidate

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def display_path(self, path: Path) -> str:
        """Relative to the root when inside it (never an absolute path in API answers)."""
        try:
            return self.relative(path.resolve())
        except ValueError:
            return str(path)

    def read(self, path: str, content: str | None = None) -> tuple[Path, str]:
        file = self.resolve(path)
        if content is not None:
            return file, content
        try:
            return file, file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ServiceError(f"Pipeline '{path}' does not exist.", 404, field="path") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ServiceError(
                f"Pipeline '{path}' cannot be read: {exc}.", 400, field="path"
            ) from None

    def validate(self, path: str, content: str | None = None) -> dict[str, Any]:
        file, text = self.read(path, content)
        problems = validate(
            text,
            source=self.relative(file),
            files=PipelineFiles.at(self.root, file),
            images=self.image_refs(),
        )
        return {
            "path": self.relative(file),
            "valid": not has_errors(problems),
            "problems": [p.to_json() for p in problems],
        }

    def load(self, path: str, content: str | None = None):
        file, text = self.read(path, content)
        try:
            doc = parse(text, pipeline=self.relative(file))
        except PipelineError as exc:
            raise ServiceError(
                f"Pipeline '{path}' cannot be read.", 400, problems=exc.problems
            ) from None
        return file, load(doc, self.relative(file))

    def describe(self, path: str) -> dict[str, Any]:
        """What a pipeline uses: files, images, secrets, volumes, parameters, task ids."""
        file, pipeline = self.load(path)
        files = PipelineFiles.at(self.root, file)
        catalog = {
            e["image"]: e for e in self.catalog_call("runtime-images", "list") if e.get("image")
        }
        task_ids = unique_ids([n.mlpipe.get("task_id") or slugify(n.label) for n in pipeline.nodes])
        graph = pipeline.graph
        try:
            order = graph.topological_order()
        except ValueError:
            order = [n.id for n in pipeline.nodes]
        position = {nid: i for i, nid in enumerate(order)}
        nodes, images, secrets, volumes = [], {}, [], []
        bundled = []
        for node, task_id in zip(pipeline.nodes, task_ids):
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
                    "task_id": task_id,
                    "filename": node.filename,
                    # a serve node has no file by design
                    "file_status": (
                        None
                        if node.is_serve
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
            "path": self.relative(file),
            "name": pipeline.name,
            "dag_id": pipeline.mlpipe.get("dag_id") or slugify(pipeline.name, fallback="pipeline"),
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

    # -- export and publish ----------------------------------------------------------------

    def runtime_config(self, name: str, *, with_secrets: bool = False) -> dict[str, Any]:
        """A runtime configuration; local paths made absolute (relative ones are in the data dir)."""
        if not isinstance(name, str) or not name:
            raise ServiceError("Choose a runtime configuration.", 400, field="runtime_config")
        config = self.catalog_call(
            "runtime-configs", "get_with_secrets" if with_secrets else "get", name
        )
        if config.get("type") == "local":
            from .catalog import resolve_local_paths

            paths = resolve_local_paths(config, self.catalog("runtime-configs").data_dir)
            config = {
                **config,
                "local": {
                    **config.get("local", {}),
                    "dag_repo_path": str(paths.dag_repo_path),
                    "artifacts_path": str(paths.artifacts_path),
                    "branch": paths.branch,
                    "subfolder": paths.subfolder,
                },
            }
        return config

    def _compile_errors(self, path: str, exc: PipelineError) -> ServiceError:
        return ServiceError(
            f"Pipeline '{path}' has errors; fix them before exporting.", 422, problems=exc.problems
        )

    def _export_output(self, output: str | None) -> Path | None:
        if not output:
            return None
        target = (self.root / output).resolve()
        try:
            target.relative_to(self.root)
        except ValueError:
            if self.confine_outputs:
                raise ServiceError(
                    f"'{output}' is outside the server's root folder.", 403, field="output"
                ) from None
        if target.suffix != ".py":
            raise ServiceError("The DAG file must end in .py.", 400, field="output")
        return target

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
        from .compiler.export import export_target

        file, text = self.read(path, content)
        try:
            target = export_target(file, text=text, output=self._export_output(output))
        except PipelineError as exc:
            raise ServiceError(
                f"Pipeline '{path}' cannot be read.", 400, problems=exc.problems
            ) from None
        existing = target.existing
        data: dict[str, Any] = {
            "dag_id": target.dag_id,
            "dag_path": self.display_path(target.dag_path),
            "existing": None
            if existing is None
            else {"generated": existing.generated, "source": existing.source},
        }
        if runtime_config:
            from .publish.publisher import where

            data["submit"] = where(self.runtime_config(runtime_config), target.dag_id)
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
        from .compiler.export import OutputExists, export

        file = self.resolve(path)
        if not file.exists():
            raise ServiceError(f"Pipeline '{path}' does not exist.", 404, field="path")
        target = self._export_output(output)
        config = self.runtime_config(runtime_config)
        images = self.catalog_call("runtime-images", "list")
        try:
            result = export(
                file,
                config=config,
                images=images,
                output=target,
                overwrite=overwrite,
                root=self.root,
            )
        except PipelineError as exc:
            raise self._compile_errors(path, exc) from None
        except OutputExists as exc:
            raise self._output_exists(exc) from None
        data = result.to_json()
        data["dag_path"] = self.display_path(Path(data["dag_path"]))
        shown: dict[str, str] = {}  # the bundles share one folder: resolve it once
        for bundle in data["bundles"]:
            folder, _, name = bundle["path"].rpartition(os.sep)
            if folder not in shown:
                shown[folder] = self.display_path(Path(folder))
            bundle["path"] = posixpath.join(shown[folder], name) if shown[folder] != "." else name
        data["runtime_config"] = runtime_config
        return data

    def _output_exists(self, exc: Any) -> ServiceError:
        shown = self.display_path(exc.path)
        if not exc.existing.generated:
            return ServiceError(
                f"'{shown}' exists and was not written by mlpipe-lab, so export leaves it alone. "
                "Move it away, choose another DAG file, or give the pipeline another DAG id.",
                409,
                field="output",
                code="output-not-generated",
                details={"dag_path": shown},
            )
        source = exc.existing.source or "another pipeline"
        return ServiceError(
            f"'{shown}' holds an earlier export of {source}; replacing it needs your consent "
            "(overwrite).",
            409,
            field="overwrite",
            code="output-exists",
            details={"dag_path": shown, "source": exc.existing.source},
        )

    def submit(
        self,
        path: str,
        runtime_config: str,
        replace: bool = False,
        allow_plain_secrets: bool = False,
    ) -> dict[str, Any]:
        """Export into a scratch folder, then upload the bundles and commit the DAG (one commit).
        A DAG id published from another pipeline file is refused (409) unless ``replace``.
        Environment variables that look like secrets but have plain values would be committed in
        the DAG file: refused (409 plain-secrets) unless ``allow_plain_secrets`` (the user said
        yes)."""
        import tempfile

        from .compiler.export import export
        from .publish import PublishError, cache_dir_for, publish
        from .publish.identity import identify

        file = self.resolve(path)
        if not file.exists():
            raise ServiceError(f"Pipeline '{path}' does not exist.", 404, field="path")
        compile_config = self.runtime_config(runtime_config)
        images = self.catalog_call("runtime-images", "list")
        with tempfile.TemporaryDirectory(prefix="mlpipe-submit-") as scratch:
            try:
                exported = export(
                    file,
                    config=compile_config,
                    images=images,
                    output=Path(scratch) / "dag.py",
                    root=self.root,
                )
            except PipelineError as exc:
                raise self._compile_errors(path, exc) from None
            plain = [p for p in exported.problems if p.code == "plain-secret"]
            if plain and not allow_plain_secrets:
                raise _plain_secrets(path, plain)
            bundles = [
                {"node_id": b.node_id, "key": b.key, "sha256": b.sha256, "path": b.path}
                for b in exported.bundles.values()
            ]
            dag_text = exported.dag_path.read_text(encoding="utf-8")
            data_dir = self.catalog("runtime-configs").data_dir
            try:
                result = publish(
                    dag_id=exported.dag_id,
                    dag_text=dag_text,
                    source_path=self.relative(file),
                    bundles=bundles,
                    config=self.runtime_config(runtime_config, with_secrets=True),
                    cache_dir=cache_dir_for(data_dir),
                    identity=identify(file, self.relative(file), data_dir),
                    replace=bool(replace),
                )
            except PublishError as exc:
                if exc.step == "dag-id":
                    raise _dag_id_taken(exc, self.relative(file)) from None
                raise ServiceError(
                    f"Publishing '{path}' failed at {exc.step}: {exc.message}",
                    exc.status if 400 <= exc.status < 600 and exc.status != 500 else 502,
                    field="runtime_config" if exc.step == "config" else None,
                ) from None
        data = result.to_dict()
        data["problems"] = [p.to_json() for p in exported.problems]
        data["runtime_config"] = runtime_config
        return data

    def retire(self, dag_id: str, runtime_config: str, path: str | None = None) -> dict[str, Any]:
        """Delete a DAG from the DAG repository. With ``path`` (the pipeline being retired), a
        DAG another pipeline file published is left alone (409)."""
        from .publish import PublishError, cache_dir_for, retire
        from .publish.identity import identify

        if not isinstance(dag_id, str) or not dag_id:
            raise ServiceError("Give the DAG id to retire.", 400, field="dag_id")
        data_dir = self.catalog("runtime-configs").data_dir
        identity = None
        if path:
            file = self.resolve(path)
            identity = identify(file, self.relative(file), data_dir)
        try:
            result = retire(
                dag_id=dag_id,
                config=self.runtime_config(runtime_config, with_secrets=True),
                cache_dir=cache_dir_for(data_dir),
                identity=identity,
            )
        except PublishError as exc:
            if exc.step == "dag-id":
                raise _dag_id_taken(exc, path or dag_id) from None
            raise ServiceError(
                f"Retiring '{dag_id}' failed at {exc.step}: {exc.message}",
                exc.status if exc.status != 500 else 502,
            ) from None
        return result.to_dict() | {"runtime_config": runtime_config}

    # -- the MLflow model registry (lists for the Serve MLflow model node) ------------------

    def mlflow_tracking_uri(self, tracking_uri: str | None, runtime_config: str | None) -> str:
        """The tracking URI asked for, else the named runtime configuration's mlflow.tracking_uri."""
        uri = (tracking_uri or "").strip()
        if not uri and runtime_config:
            uri = str(
                (self.runtime_config(runtime_config).get("mlflow") or {}).get("tracking_uri") or ""
            )
        if not uri:
            raise ServiceError(
                "Give an MLflow tracking URI (or a runtime configuration that has one).",
                400,
                field="tracking_uri",
            )
        if "\n" in uri or len(uri) > 2048 or "://" not in uri:
            raise ServiceError(
                f"'{uri[:100]}' is not a tracking URI (e.g. http://mlflow:5000).",
                400,
                field="tracking_uri",
            )
        if "@" in uri.split("://", 1)[1].split("/", 1)[0]:
            raise ServiceError(
                "The tracking URI must not contain credentials; the MLflow client reads "
                "them from MLFLOW_TRACKING_USERNAME/PASSWORD or TOKEN.",
                400,
                field="tracking_uri",
            )
        return uri

    def _registry_call(self, func, *args: Any) -> Any:
        try:
            from .serving import registry
        except ImportError:  # pragma: no cover - registry is stdlib-only at import
            raise
        try:
            import mlflow  # noqa: F401
        except ImportError:
            raise ServiceError(
                "MLflow is not installed in the Jupyter server's environment "
                "(pip install mlflow), so the model registry cannot be listed.",
                501,
            ) from None
        try:
            return func(*args)
        except registry.ModelNotFound as exc:
            raise ServiceError(str(exc), 404, field="model_name") from None
        except registry.RegistryUnavailable as exc:
            raise ServiceError(str(exc), 502, field="tracking_uri") from None

    def mlflow_models(
        self, tracking_uri: str | None, name_filter: str = "", runtime_config: str | None = None
    ) -> dict[str, Any]:
        from .serving import registry

        uri = self.mlflow_tracking_uri(tracking_uri, runtime_config)
        return {
            "tracking_uri": uri,
            "models": self._registry_call(registry.search_models, uri, name_filter or ""),
        }

    def mlflow_versions(
        self, name: str, tracking_uri: str | None, runtime_config: str | None = None
    ) -> dict[str, Any]:
        from .serving import registry

        if not name:
            raise ServiceError("Give a registered model name.", 400, field="model_name")
        uri = self.mlflow_tracking_uri(tracking_uri, runtime_config)
        return {"tracking_uri": uri, **self._registry_call(registry.model_versions, uri, name)}


def _dag_id_taken(exc: Any, pipeline: str) -> ServiceError:
    """A DAG id another pipeline file published: 409, with a problem on the DAG id field that
    names the other file (the Submit dialog shows it and offers the ways out)."""
    from .pipeline.problems import Problem

    problem = Problem(
        code="dag-id-taken",
        message=exc.message,
        pipeline=pipeline,
        path="mlpipe/dag_id",
        extra=dict(exc.details),
    )
    other = exc.details.get("published_from")
    by = f"the pipeline file '{other}'" if other else "a DAG file mlpipe-lab did not publish"
    summary = f"DAG id '{exc.details.get('dag_id')}' is taken by {by}; nothing was changed."
    return ServiceError(
        summary,
        409,
        field="dag_id",
        problems=[problem],
        code="dag-id-taken",
        details=dict(exc.details),
    )


def _plain_secrets(path: str, problems: list[Any]) -> ServiceError:
    names = sorted({str(p.extra.get("env_var")) for p in problems if p.extra.get("env_var")})
    return ServiceError(
        f"Pipeline '{path}' sets {', '.join(names) or 'variables that look like secrets'} as "
        "plain values, which would be committed to the DAG repository in the DAG file, readable "
        "by everyone who can read the repository. Make each a Kubernetes secret (node properties "
        "> Kubernetes secrets: the variable, the Secret's name and key), or submit anyway.",
        409,
        code="plain-secrets",
        problems=problems,
    )
