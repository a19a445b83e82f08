"""REST handlers under /mlpipe-lab/: thin, authenticated, JSON in and out.

Each handler parses its input, calls one service method and writes the result. Errors are
:class:`~mlpipe_lab.errors.MLPipeError`: its status (``errors.http_status``) and its JSON body
``{"error": {"message", "field"?, "problems"?, "steps"?}}``; anything else is a logged 500
without details, never a traceback.

Nothing of ours runs on the server's event loop: a handler method that is not a coroutine runs
whole (parsing its body, the service call, encoding the answer) in a bounded thread pool, and
``send`` only records the answer that :func:`json_errors` writes back on the loop. Work that is
pure Python computation (validate, describe, export: :class:`ComputeHandler`) runs in worker
processes (``services.compute``): in a thread of the server it would hold the GIL that the event
loop needs to answer anyone else. Its request is parsed in the thread pool, the loop only awaits
the worker's answer (already JSON). Without a compute pool (``compute_processes = 0``, handlers
built alone) it runs in a thread as the rest. Request bodies
have a size limit and a nesting limit; numbers and text in them must be ones the services can
take (no integer beyond 64 bits, no lone surrogate).
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote

import tornado
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from .errors import MLPipeError, http_status
from .services import Services, schema, schema_index
from .services.compute import ComputePool

AUTH_RESOURCE = "mlpipe-lab"
MAX_BODY_BYTES = 32 * 1024 * 1024
MAX_DEPTH = 64
MAX_INT = 2**63

_default_pool: ThreadPoolExecutor | None = None


def default_pool() -> ThreadPoolExecutor:
    """The pool handlers run in when the extension gave none (tests that build handlers alone)."""
    global _default_pool
    if _default_pool is None:
        _default_pool = ThreadPoolExecutor(4, thread_name_prefix="mlpipe-lab")
    return _default_pool


def json_errors(method: Callable[..., Awaitable[Any] | Any]):
    """Runs the handler method (a plain method: in the bounded pool, off the event loop), then
    writes what it sent. An MLPipeError becomes its status and JSON body; anything else is a
    logged 500."""
    is_coroutine = asyncio.iscoroutinefunction(method)

    @functools.wraps(method)
    async def wrapper(self: BaseHandler, *args: Any, **kwargs: Any) -> None:
        try:
            if is_coroutine:
                await method(self, *args, **kwargs)
            else:
                await self.offload(method, self, *args, **kwargs)
        except MLPipeError as exc:
            self._reply = (http_status(exc), json.dumps(exc.to_json()))
        except tornado.web.HTTPError:
            raise
        except RecursionError:  # input nested deeper than the checks foresaw
            self._reply = (400, json.dumps(_nested_too_deeply().to_json()))
        except Exception:  # a bug: say so without leaking internals
            self.log.exception("mlpipe-lab: unexpected error in %s", type(self).__name__)
            self._reply = (
                500,
                json.dumps({"error": {"message": "Internal error; see the server log."}}),
            )
        reply, self._reply = self._reply, None
        if reply is not None and not self._finished:
            status, text = reply
            self.set_status(status)
            self.finish(text)

    return wrapper


def _nested_too_deeply() -> MLPipeError:
    return MLPipeError(f"The request body is nested too deeply (at most {MAX_DEPTH} levels).", 400)


def check_value(value: Any, where: str = "", depth: int = 0) -> None:
    """Reject what no service can take, naming the field: nesting beyond MAX_DEPTH, integers
    beyond 64 bits, text with lone surrogates (not valid Unicode, so never writable as UTF-8)."""
    if depth > MAX_DEPTH:
        raise _nested_too_deeply()
    if isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, where or key)
            check_value(item, f"{where}.{key}" if where else key, depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_value(item, f"{where}[{i}]", depth + 1)
    elif isinstance(value, str):
        _check_text(value, where)
    elif isinstance(value, int) and not isinstance(value, bool):
        if not -MAX_INT <= value < MAX_INT:
            raise MLPipeError(
                f"'{where or 'value'}' is too large a number.", 400, field=where or None
            )
    elif isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        raise MLPipeError(f"'{where or 'value'}' is not a finite number.", 400, field=where or None)


def _check_text(value: str, where: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise MLPipeError(
            f"'{where or 'value'}' contains characters that are not valid Unicode "
            "(a lone surrogate).",
            400,
            field=where or None,
        ) from None


def _parse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class BaseHandler(APIHandler):
    auth_resource = AUTH_RESOURCE
    _reply: tuple[int, str | None] | None = None
    compute = False  # pure computation: worker processes (or the compute threads)

    def initialize(
        self,
        services: Services,
        pool: ThreadPoolExecutor | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        compute_pool: ComputePool | ThreadPoolExecutor | None = None,
    ) -> None:
        self.services = services
        self.workers = compute_pool if isinstance(compute_pool, ComputePool) else None
        threads = None if self.workers is not None else compute_pool
        self.pool = (threads or pool) if self.compute else pool
        self.max_body_bytes = max_body_bytes
        self._reply = None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors raised before or around a handler method (tornado's: undecodable UTF-8 in a
        path or query argument, authentication) in the API's one error shape."""
        exc = (kwargs.get("exc_info") or (None, None, None))[1]
        if isinstance(exc, tornado.web.HTTPError) and status_code < 500:
            message = (
                exc.log_message % exc.args if exc.log_message and exc.args else exc.log_message
            )
            message = message or self._reason
        else:
            message = "Internal error; see the server log."
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": {"message": str(message)}}))

    async def offload(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``func(*args, **kwargs)`` in the bounded pool: the event loop stays free."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.pool or default_pool(), functools.partial(func, *args, **kwargs)
        )

    def body(self) -> dict[str, Any]:
        raw = self.request.body
        if not raw:
            return {}
        if len(raw) > self.max_body_bytes:
            raise MLPipeError(
                f"The request body is too big ({len(raw) // 1024} KiB; at most "
                f"{self.max_body_bytes // 1024} KiB).",
                413,
            )
        try:
            data = json.loads(raw, parse_constant=_parse_constant)
        except RecursionError:
            raise _nested_too_deeply() from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise MLPipeError(f"The request body is not valid JSON: {exc}.", 400) from None
        if not isinstance(data, dict):
            raise MLPipeError("The request body must be a JSON object.", 400)
        check_value(data)
        return data

    def text(self, body: dict[str, Any], key: str, what: str) -> str | None:
        """An optional text member of the body (400 naming it when it is something else)."""
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            raise MLPipeError(f"'{key}' must be {what}.", 400, field=key)
        return value

    def query(self, name: str, default: Any = None) -> Any:
        """A query argument (its text checked as the body's is)."""
        value = self.get_query_argument(name, default)
        if isinstance(value, str):
            _check_text(value, name)
        return value

    def send(self, data: Any, status: int = 200) -> None:
        """Record the answer (encoded here, in the pool); json_errors writes it on the loop."""
        self._reply = (status, None if data is None else json.dumps(data))


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
        self.send(schema(name, self.query("op", None)))


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
        self.send(None, 204)


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
    def get(self) -> None:
        # reading catalogs parses files and may fetch URLs: in the pool like every handler
        self.send(self.services.components.list())


class ImageCheckHandler(BaseHandler):
    """POST {"image": reference or runtime-images entry name}: run it with $MLPIPE_IMAGE_RUN
    (in the pool like every handler: it may pull) and say what it has (catalog/imagecheck.py)."""

    @tornado.web.authenticated
    @authorized
    @json_errors
    def post(self) -> None:
        from .catalog.imagecheck import check_image, image_of

        target = self.text(self.body(), "image", "an image reference")
        if not target:
            raise MLPipeError("Give the image to check.", 400, field="image")
        image = image_of(target, self.services.catalogs)
        self.send(check_image(image).to_json())


class ComputeHandler(BaseHandler):
    """Validate, describe, export: the request is parsed in the thread pool, the work runs in a
    worker process; the event loop only waits for its answer."""

    compute = True

    def arguments(self) -> tuple[str, dict[str, Any]]:
        """(operation, its keyword arguments) from the request (in the pool)."""
        raise NotImplementedError

    def start(self) -> Future | None:
        """In the pool: parse the request and hand the work to a worker (its future); without
        worker processes, do the work here."""
        operation, kwargs = self.arguments()
        if self.workers is not None:
            return self.workers.submit(operation, _what(kwargs.get("path")), **kwargs)
        self.send(getattr(self.services.pipelines, operation)(**kwargs))
        return None

    async def run(self) -> None:
        future = await self.offload(self.start)
        if future is not None:
            self._reply = await asyncio.wrap_future(future)


def _what(path: Any) -> str:
    """The pipeline a request is about, for messages."""
    if isinstance(path, str) and path and len(path) <= 200:
        return f"'{path}'"
    return "the pipeline"


class ValidateHandler(ComputeHandler):
    def arguments(self) -> tuple[str, dict[str, Any]]:
        body = self.body()
        return "validate", {
            "path": body.get("path"),
            "content": self.text(body, "content", "the pipeline file's text"),
            "runtime_config": self.text(body, "runtime_config", "a runtime configuration's name"),
        }

    @tornado.web.authenticated
    @authorized
    @json_errors
    async def post(self) -> None:
        await self.run()


class ScheduleHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    def get(self) -> None:
        from .pipeline.schedule import ScheduleError, explain

        try:
            self.send(
                explain(
                    self.query("expression", ""),
                    self.query("start_date", None),
                )
            )
        except ScheduleError as exc:
            raise MLPipeError(exc.message, 400, field="schedule") from None


class DescribeHandler(ComputeHandler):
    def arguments(self) -> tuple[str, dict[str, Any]]:
        return "describe", {
            "path": self.query("path", ""),
            "runtime_config": self.query("runtime_config", "") or None,
        }

    @tornado.web.authenticated
    @authorized
    @json_errors
    async def get(self) -> None:
        await self.run()


class ExportHandler(ComputeHandler):
    def arguments(self) -> tuple[str, dict[str, Any]]:
        body = self.body()
        for flag in ("overwrite", "dry_run"):
            if not isinstance(body.get(flag, False), bool):
                raise MLPipeError(f"'{flag}' must be true or false.", 400, field=flag)
        if body.get("dry_run"):
            return "export_target", {
                "path": body.get("path"),
                "content": self.text(body, "content", "the pipeline file's text"),
                "output": body.get("output"),
                "runtime_config": body.get("runtime_config"),
            }
        return "export", {
            "path": body.get("path"),
            "runtime_config": body.get("runtime_config"),
            "output": body.get("output"),
            "overwrite": body.get("overwrite", False),
        }

    @tornado.web.authenticated
    @authorized
    @json_errors
    async def post(self) -> None:
        await self.run()


class SubmitHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    def post(self) -> None:
        body = self.body()
        allow = body.get("allow_plain_secrets", False)
        if not isinstance(allow, bool):
            raise MLPipeError(
                "'allow_plain_secrets' must be true or false.", 400, field="allow_plain_secrets"
            )
        self.send(
            self.services.publishing.submit(
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
    def post(self) -> None:
        body = self.body()
        self.send(
            self.services.publishing.retire(
                body.get("dag_id"),
                body.get("runtime_config"),
                body.get("path") or None,
            )
        )


class MlflowModelsHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    def get(self) -> None:
        self.send(
            self.services.registry.models(
                self.query("tracking_uri", ""),
                self.query("filter", ""),
                self.query("runtime_config", "") or None,
            )
        )


class MlflowVersionsHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    def get(self, name: str) -> None:
        self.send(
            self.services.registry.versions(
                unquote(name),
                self.query("tracking_uri", ""),
                self.query("runtime_config", "") or None,
            )
        )


class RunsHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    def get(self) -> None:
        q = {k: self.query(k, None) for k in ("runtime_config", "dag_id", "path", "limit")}
        self.send(self.services.runs.list(**q))

    @tornado.web.authenticated
    @authorized
    @json_errors
    def post(self) -> None:
        self.send(self.services.runs.start(self.body()), 202)


RUN = r"runs/(?P<runtime_config>[^/]+)/(?P<dag_id>[^/]+)/(?P<run_id>[^/]+)"


class RunHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    def get(self, runtime_config: str, dag_id: str, run_id: str) -> None:
        self.send(self.services.runs.get(runtime_config, dag_id, run_id))


class RunLogsHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    def get(self, runtime_config: str, dag_id: str, run_id: str, task_id: str) -> None:
        self.send(
            self.services.runs.logs(
                runtime_config,
                dag_id,
                run_id,
                task_id,
                try_number=self.query("try_number", None),
                offset=self.query("offset", None),
            )
        )


class RunCancelHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    def post(self, runtime_config: str, dag_id: str, run_id: str) -> None:
        self.send(self.services.runs.cancel(runtime_config, dag_id, run_id))


class RunClearHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    def post(self, runtime_config: str, dag_id: str, run_id: str) -> None:
        self.send(self.services.runs.clear(runtime_config, dag_id, run_id, self.body()), 202)


class RunDecisionHandler(BaseHandler):
    """An approval gate's decision: ``{"decision": "approve"|"reject", "comment": "..."}``."""

    @tornado.web.authenticated
    @authorized
    @json_errors
    def post(self, runtime_config: str, dag_id: str, run_id: str, task_id: str) -> None:
        body = self.body()
        user = self.current_user
        by = getattr(user, "display_name", None) or getattr(user, "username", None)
        self.send(
            self.services.runs.decide(
                runtime_config,
                dag_id,
                run_id,
                task_id,
                body.get("decision"),
                body.get("comment"),
                by=by if isinstance(by, str) else None,
            )
        )


class PublishStatusHandler(BaseHandler):
    @tornado.web.authenticated
    @authorized
    @json_errors
    def post(self) -> None:
        self.send(self.services.runs.publish_status(self.body()))


def route_table(
    base_url: str,
    services: Services | None,
    pool: ThreadPoolExecutor | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    compute_pool: ComputePool | ThreadPoolExecutor | None = None,
) -> list[tuple[str, type, dict[str, Any]]]:
    kind = r"(?P<kind>[A-Za-z-]+)"
    name = r"(?P<name>[^/]+)"
    routes = [
        ("schemas", SchemasHandler),
        (r"schemas/(?P<name>[a-z-]+)", SchemaHandler),
        (f"catalogs/{kind}", CatalogHandler),
        (f"catalogs/{kind}/_import-elyra", ElyraImportHandler),
        ("catalogs/runtime-images/_check", ImageCheckHandler),
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
        (RUN + r"/tasks/(?P<task_id>[^/]+)/decision", RunDecisionHandler),
        ("publish-status", PublishStatusHandler),
    ]
    return [
        (
            url_path_join(base_url, "mlpipe-lab", pattern),
            handler,
            {
                "services": services,
                "pool": pool,
                "max_body_bytes": max_body_bytes,
                "compute_pool": compute_pool,
            },
        )
        for pattern, handler in routes
    ]


def setup_handlers(
    web_app: Any,
    services: Services,
    pool: ThreadPoolExecutor | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    compute_pool: ComputePool | ThreadPoolExecutor | None = None,
) -> None:
    web_app.add_handlers(
        ".*$",
        route_table(web_app.settings["base_url"], services, pool, max_body_bytes, compute_pool),
    )
