"""REST handlers under /mlpipe-lab/: thin, authenticated, JSON in and out.

Each handler parses its input, calls one service method and writes the result. Bad input is a
4xx with ``{"error": {"message", "field"?, "problems"?}}``; never a traceback.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

import tornado
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from .errors import ServiceError
from .runs import RunsService
from .schemas import UnknownSchema, dereference, load_schema, schema_names
from .services import Services

AUTH_RESOURCE = "mlpipe-lab"


def json_errors(method: Callable[..., Awaitable[Any] | Any]):
    """Turn ServiceError into its status and JSON body; anything else is a logged 500."""

    @functools.wraps(method)
    async def wrapper(self: BaseHandler, *args: Any, **kwargs: Any) -> None:
        try:
            result = method(self, *args, **kwargs)
            if hasattr(result, "__await__"):
                await result
        except ServiceError as exc:
            self.set_status(exc.status)
            self.finish(json.dumps(exc.to_json()))
        except tornado.web.HTTPError:
            raise
        except Exception:  # a bug: say so without leaking internals
            self.log.exception("mlpipe-lab: unexpected error in %s", type(self).__name__)
            self.set_status(500)
            self.finish(json.dumps({"error": {"message": "Internal error; see the server log."}}))

    return wrapper


class BaseHandler(APIHandler):
    auth_resource = AUTH_RESOURCE

    def initialize(self, services: Services, runs: RunsService | None = None) -> None:
        self.services = services
        self.runs = runs

    def body(self) -> dict[str, Any]:
        if not self.request.body:
            return {}
        try:
            data = json.loads(self.request.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ServiceError(f"The request body is not valid JSON: {exc}.", 400) from None
        if not isinstance(data, dict):
            raise ServiceError("The request body must be a JSON object.", 400)
        return data

    def send(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(data))


class SchemasHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    def get(self) -> None:
        nodes = load_schema("node-properties")["x-node-types"]
        self.send({"schemas": schema_names(), "node_types": nodes})


class SchemaHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    def get(self, name: str) -> None:
        op = self.get_query_argument("op", None)
        try:
            if name == "node-properties" and op:
                if op not in load_schema("node-properties")["x-node-types"]:
                    raise ServiceError(f"Unknown node type '{op}'.", 404, field="op")
                self.send(dereference(name, f"/$defs/{op}"))
            else:
                self.send(dereference(name))
        except UnknownSchema:
            raise ServiceError(f"Unknown schema '{name}'.", 404) from None


class CatalogHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    def get(self, kind: str) -> None:
        self.send({"items": self.services.catalog_call(kind, "list")})

    @tornado.web.authenticated
    @authorized
    @json_errors
    def post(self, kind: str) -> None:
        self.send(self.services.catalog_call(kind, "create", self.body()), 201)


class CatalogEntryHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    def get(self, kind: str, name: str) -> None:
        self.send(self.services.catalog_call(kind, "get", name))

    @tornado.web.authenticated
    @authorized
    @json_errors
    def put(self, kind: str, name: str) -> None:
        self.send(self.services.catalog_call(kind, "update", name, self.body()))

    @tornado.web.authenticated
    @authorized
    @json_errors
    def delete(self, kind: str, name: str) -> None:
        self.services.catalog_call(kind, "delete", name)
        self.set_status(204)
        self.finish()


class ElyraImportHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    def post(self, kind: str) -> None:
        body = self.body()
        names = body.get("names")
        if names is not None and not (
            isinstance(names, list) and all(isinstance(n, str) for n in names)
        ):
            raise ServiceError("'names' must be a list of entry names.", 400, field="names")
        overwrite = body.get("overwrite", False)
        if not isinstance(overwrite, bool):
            raise ServiceError("'overwrite' must be true or false.", 400, field="overwrite")
        imported = self.services.catalog_call(
            kind, "import_elyra", names=names, overwrite=overwrite
        )
        self.send({"imported": imported})


class ValidateHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    def post(self) -> None:
        body = self.body()
        content = body.get("content")
        if content is not None and not isinstance(content, str):
            raise ServiceError("'content' must be the pipeline file's text.", 400, field="content")
        self.send(self.services.validate(body.get("path"), content))


class ScheduleHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    def get(self) -> None:
        from .pipeline.schedule import ScheduleError, explain

        try:
            self.send(
                explain(
                    self.get_query_argument("expression", ""),
                    self.get_query_argument("start_date", None),
                )
            )
        except ScheduleError as exc:
            raise ServiceError(exc.message, 400, field="schedule") from None


class DescribeHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    def get(self) -> None:
        self.send(self.services.describe(self.get_query_argument("path", "")))


class ExportHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    async def post(self) -> None:
        body = self.body()
        for flag in ("overwrite", "dry_run"):
            if not isinstance(body.get(flag, False), bool):
                raise ServiceError(f"'{flag}' must be true or false.", 400, field=flag)
        if body.get("dry_run"):
            content = body.get("content")
            if content is not None and not isinstance(content, str):
                raise ServiceError(
                    "'content' must be the pipeline file's text.", 400, field="content"
                )
            self.send(
                self.services.export_target(
                    body.get("path"), content, body.get("output"), body.get("runtime_config")
                )
            )
            return
        args = (body.get("path"), body.get("runtime_config"), body.get("output"))
        self.send(
            await asyncio.to_thread(
                self.services.export, *args, overwrite=body.get("overwrite", False)
            )
        )


class SubmitHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    async def post(self) -> None:
        body = self.body()
        allow = body.get("allow_plain_secrets", False)
        if not isinstance(allow, bool):
            raise ServiceError(
                "'allow_plain_secrets' must be true or false.", 400, field="allow_plain_secrets"
            )
        # git and uploads block: keep the server responsive while they run
        self.send(
            await asyncio.to_thread(
                self.services.submit,
                body.get("path"),
                body.get("runtime_config"),
                body.get("replace") is True,
                allow,
            )
        )


class RetireHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    async def post(self) -> None:
        body = self.body()
        self.send(
            await asyncio.to_thread(
                self.services.retire,
                body.get("dag_id"),
                body.get("runtime_config"),
                body.get("path") or None,
            )
        )


class MlflowModelsHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    async def get(self) -> None:
        # the MLflow client blocks (network or sqlite): off the event loop
        self.send(
            await asyncio.to_thread(
                self.services.mlflow_models,
                self.get_query_argument("tracking_uri", ""),
                self.get_query_argument("filter", ""),
                self.get_query_argument("runtime_config", "") or None,
            )
        )


class MlflowVersionsHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    async def get(self, name: str) -> None:
        from urllib.parse import unquote

        self.send(
            await asyncio.to_thread(
                self.services.mlflow_versions,
                unquote(name),
                self.get_query_argument("tracking_uri", ""),
                self.get_query_argument("runtime_config", "") or None,
            )
        )


class RunsHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    async def get(self) -> None:
        q = {
            k: self.get_query_argument(k, None)
            for k in ("runtime_config", "dag_id", "path", "limit")
        }
        # Airflow answers over the network: keep the server responsive meanwhile
        self.send(await asyncio.to_thread(self.runs.list, **q))

    @tornado.web.authenticated
    @authorized
    @json_errors
    async def post(self) -> None:
        self.send(await asyncio.to_thread(self.runs.start, self.body()), 202)


RUN = r"runs/(?P<runtime_config>[^/]+)/(?P<dag_id>[^/]+)/(?P<run_id>[^/]+)"


class RunHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    async def get(self, runtime_config: str, dag_id: str, run_id: str) -> None:
        self.send(await asyncio.to_thread(self.runs.get, runtime_config, dag_id, run_id))


class RunLogsHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    async def get(self, runtime_config: str, dag_id: str, run_id: str, task_id: str) -> None:
        self.send(
            await asyncio.to_thread(
                self.runs.logs,
                runtime_config,
                dag_id,
                run_id,
                task_id,
                try_number=self.get_query_argument("try_number", None),
                offset=self.get_query_argument("offset", None),
            )
        )


class RunCancelHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    async def post(self, runtime_config: str, dag_id: str, run_id: str) -> None:
        self.send(await asyncio.to_thread(self.runs.cancel, runtime_config, dag_id, run_id))


class PublishStatusHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    async def post(self) -> None:
        self.send(await asyncio.to_thread(self.runs.publish_status, self.body()))


def route_table(base_url: str, services: Services) -> list[tuple[str, type, dict[str, Any]]]:
    kind = r"(?P<kind>[A-Za-z-]+)"
    name = r"(?P<name>[^/]+)"
    runs = RunsService(services)
    routes = [
        ("schemas", SchemasHandler),
        (r"schemas/(?P<name>[a-z-]+)", SchemaHandler),
        (f"catalogs/{kind}", CatalogHandler),
        (f"catalogs/{kind}/_import-elyra", ElyraImportHandler),
        (f"catalogs/{kind}/{name}", CatalogEntryHandler),
        ("validate", ValidateHandler),
        ("describe", DescribeHandler),
        ("export", ExportHandler),
        ("schedule", ScheduleHandler),
        ("submit", SubmitHandler),
        ("retire", RetireHandler),
        ("mlflow/models", MlflowModelsHandler),
        (f"mlflow/models/{name}/versions", MlflowVersionsHandler),
        ("runs", RunsHandler),
        (RUN, RunHandler),
        (RUN + r"/logs/(?P<task_id>[^/]+)", RunLogsHandler),
        (RUN + "/cancel", RunCancelHandler),
        ("publish-status", PublishStatusHandler),
    ]
    return [
        (
            url_path_join(base_url, "mlpipe-lab", pattern),
            handler,
            {"services": services, "runs": runs},
        )
        for pattern, handler in routes
    ]


def setup_handlers(web_app: Any, services: Services) -> None:
    web_app.add_handlers(".*$", route_table(web_app.settings["base_url"], services))
