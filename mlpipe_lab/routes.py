"""REST handlers under /mlpipe-lab/: thin, authenticated, JSON in and out.

Each handler parses its input, calls one service method and writes the result. Errors are
:class:`~mlpipe_lab.errors.MLPipeError`: its status (``errors.http_status``) and its JSON body
``{"error": {"message", "field"?, "problems"?, "steps"?}}``; anything else is a logged 500
without details, never a traceback.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

import tornado
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from .errors import MLPipeError, http_status
from .services import Services, schema, schema_index

AUTH_RESOURCE = "mlpipe-lab"


def json_errors(method: Callable[..., Awaitable[Any] | Any]):
    """An MLPipeError becomes its status and JSON body; anything else is a logged 500."""

    @functools.wraps(method)
    async def wrapper(self: BaseHandler, *args: Any, **kwargs: Any) -> None:
        try:
            result = method(self, *args, **kwargs)
            if hasattr(result, "__await__"):
                await result
        except MLPipeError as exc:
            self.set_status(http_status(exc))
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

    def initialize(self, services: Services) -> None:
        self.services = services

    def body(self) -> dict[str, Any]:
        if not self.request.body:
            return {}
        try:
            data = json.loads(self.request.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MLPipeError(f"The request body is not valid JSON: {exc}.", 400) from None
        if not isinstance(data, dict):
            raise MLPipeError("The request body must be a JSON object.", 400)
        return data

    def text(self, body: dict[str, Any], key: str, what: str) -> str | None:
        """An optional text member of the body (400 naming it when it is something else)."""
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            raise MLPipeError(f"'{key}' must be {what}.", 400, field=key)
        return value

    def send(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(data))


class SchemasHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    def get(self) -> None:
        self.send(schema_index())


class SchemaHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    def get(self, name: str) -> None:
        self.send(schema(name, self.get_query_argument("op", None)))


class CatalogHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    def get(self, kind: str) -> None:
        self.send({"items": self.services.catalogs.list(kind)})

    @tornado.web.authenticated
    @authorized
    @json_errors
    def post(self, kind: str) -> None:
        self.send(self.services.catalogs.create(kind, self.body()), 201)


class CatalogEntryHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    def get(self, kind: str, name: str) -> None:
        self.send(self.services.catalogs.get(kind, name))

    @tornado.web.authenticated
    @authorized
    @json_errors
    def put(self, kind: str, name: str) -> None:
        self.send(self.services.catalogs.update(kind, name, self.body()))

    @tornado.web.authenticated
    @authorized
    @json_errors
    def delete(self, kind: str, name: str) -> None:
        self.services.catalogs.delete(kind, name)
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
            raise MLPipeError("'names' must be a list of entry names.", 400, field="names")
        overwrite = body.get("overwrite", False)
        if not isinstance(overwrite, bool):
            raise MLPipeError("'overwrite' must be true or false.", 400, field="overwrite")
        imported = self.services.catalogs.import_elyra(kind, names=names, overwrite=overwrite)
        self.send({"imported": imported})


class ComponentsHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    async def get(self) -> None:
        # reading catalogs parses files and may fetch URLs: off the event loop
        self.send(await asyncio.to_thread(self.services.components.list))


class ValidateHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    def post(self) -> None:
        body = self.body()
        content = self.text(body, "content", "the pipeline file's text")
        runtime_config = self.text(body, "runtime_config", "a runtime configuration's name")
        self.send(self.services.pipelines.validate(body.get("path"), content, runtime_config))


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
            raise MLPipeError(exc.message, 400, field="schedule") from None


class DescribeHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    def get(self) -> None:
        self.send(
            self.services.pipelines.describe(
                self.get_query_argument("path", ""),
                self.get_query_argument("runtime_config", "") or None,
            )
        )


class ExportHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    async def post(self) -> None:
        body = self.body()
        for flag in ("overwrite", "dry_run"):
            if not isinstance(body.get(flag, False), bool):
                raise MLPipeError(f"'{flag}' must be true or false.", 400, field=flag)
        if body.get("dry_run"):
            content = self.text(body, "content", "the pipeline file's text")
            self.send(
                self.services.pipelines.export_target(
                    body.get("path"), content, body.get("output"), body.get("runtime_config")
                )
            )
            return
        args = (body.get("path"), body.get("runtime_config"), body.get("output"))
        self.send(
            await asyncio.to_thread(
                self.services.pipelines.export, *args, overwrite=body.get("overwrite", False)
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
            raise MLPipeError(
                "'allow_plain_secrets' must be true or false.", 400, field="allow_plain_secrets"
            )
        # git and uploads block: keep the server responsive while they run
        self.send(
            await asyncio.to_thread(
                self.services.publishing.submit,
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
                self.services.publishing.retire,
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
                self.services.registry.models,
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
        self.send(
            await asyncio.to_thread(
                self.services.registry.versions,
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
        self.send(await asyncio.to_thread(self.services.runs.list, **q))

    @tornado.web.authenticated
    @authorized
    @json_errors
    async def post(self) -> None:
        self.send(await asyncio.to_thread(self.services.runs.start, self.body()), 202)


RUN = r"runs/(?P<runtime_config>[^/]+)/(?P<dag_id>[^/]+)/(?P<run_id>[^/]+)"


class RunHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    async def get(self, runtime_config: str, dag_id: str, run_id: str) -> None:
        self.send(await asyncio.to_thread(self.services.runs.get, runtime_config, dag_id, run_id))


class RunLogsHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    async def get(self, runtime_config: str, dag_id: str, run_id: str, task_id: str) -> None:
        self.send(
            await asyncio.to_thread(
                self.services.runs.logs,
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
        self.send(
            await asyncio.to_thread(self.services.runs.cancel, runtime_config, dag_id, run_id)
        )


class RunClearHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    async def post(self, runtime_config: str, dag_id: str, run_id: str) -> None:
        self.send(
            await asyncio.to_thread(
                self.services.runs.clear, runtime_config, dag_id, run_id, self.body()
            ),
            202,
        )


class PublishStatusHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    async def post(self) -> None:
        self.send(await asyncio.to_thread(self.services.runs.publish_status, self.body()))


def route_table(base_url: str, services: Services | None) -> list[tuple[str, type, dict[str, Any]]]:
    kind = r"(?P<kind>[A-Za-z-]+)"
    name = r"(?P<name>[^/]+)"
    routes = [
        ("schemas", SchemasHandler),
        (r"schemas/(?P<name>[a-z-]+)", SchemaHandler),
        (f"catalogs/{kind}", CatalogHandler),
        (f"catalogs/{kind}/_import-elyra", ElyraImportHandler),
        (f"catalogs/{kind}/{name}", CatalogEntryHandler),
        ("components", ComponentsHandler),
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
        (RUN + "/clear", RunClearHandler),
        ("publish-status", PublishStatusHandler),
    ]
    return [
        (url_path_join(base_url, "mlpipe-lab", pattern), handler, {"services": services})
        for pattern, handler in routes
    ]


def setup_handlers(web_app: Any, services: Services) -> None:
    web_app.add_handlers(".*$", route_table(web_app.settings["base_url"], services))
