"""Loading the user's Predictor class and calling its optional methods.

The contract is Seldon's Python wrapper contract: ``Predictor(**parameters)`` in the supervisor,
``load()`` once in each worker after the fork, then ``predict`` or ``predict_raw`` per request and
the optional ``metrics``, ``tags``, ``class_names``, ``health_status``, ``init_metadata`` and
``send_feedback``.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from typing import Any


class MicroserviceError(Exception):
    """An error with a Seldon status body: ``{"status": {"code": -1, "info", "reason", "status": 1}}``.

    Predictors may raise it (or seldon-core's ``SeldonMicroserviceException``, which has the same
    ``status_code``/``reason``/``message`` attributes) to choose the HTTP code and reason.
    """

    def __init__(self, message: str, status_code: int = 400, reason: str = "MICROSERVICE_BAD_DATA"):
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.reason = reason

    def to_dict(self) -> dict:
        return {"status": {"code": -1, "info": self.message, "reason": self.reason, "status": 1}}


class SeldonResponse:
    """What ``predict`` may return to attach per-request tags and metrics to its data."""

    __slots__ = ("data", "metrics", "tags")

    def __init__(self, data: Any, tags: dict | None = None, metrics: list | None = None):
        self.data = data
        self.tags = tags
        self.metrics = metrics


def import_predictor_class(spec: str, search_path: str | None = None) -> type:
    """The class named by ``spec``: ``Module`` (class of the same name) or ``module.Class``.

    ``search_path`` (default: the working directory) goes first on ``sys.path``, as the user's
    ``Predictor.py`` usually sits next to where the server starts.
    """
    path = os.path.abspath(search_path or os.getcwd())
    if path not in sys.path:
        sys.path.insert(0, path)
    if "." in spec:
        module_name, _, class_name = spec.rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name.split(".")[0]:
                raise
            module, class_name = importlib.import_module(spec), spec.rpartition(".")[2]
    else:
        module, class_name = importlib.import_module(spec), spec
    try:
        cls = getattr(module, class_name)
    except AttributeError:
        raise ImportError(f"module {module.__name__!r} has no class {class_name!r}") from None
    if not callable(cls):
        raise ImportError(f"{spec!r} is not a class")
    return cls


def _accepts(func: Any, name: str) -> bool:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


class UserModel:
    """The user's object with its optional methods looked up once."""

    def __init__(self, obj: Any):
        self.obj = obj
        self.name = type(obj).__name__
        self._predict = getattr(obj, "predict", None)
        self.predict_raw = getattr(obj, "predict_raw", None)
        self._predict_takes_meta = self._predict is not None and _accepts(self._predict, "meta")
        self._metrics = getattr(obj, "metrics", None)
        self._tags = getattr(obj, "tags", None)
        self._class_names = getattr(obj, "class_names", None)
        self.health_status = getattr(obj, "health_status", None)
        self.init_metadata = getattr(obj, "init_metadata", None)
        self._send_feedback = getattr(obj, "send_feedback", None)
        if self._predict is None and self.predict_raw is None:
            raise TypeError(f"{self.name} has neither predict() nor predict_raw()")

    def load(self) -> None:
        load = getattr(self.obj, "load", None)
        if callable(load):
            load()

    def predict(self, features: Any, feature_names: list, meta: dict | None) -> Any:
        if self._predict is None:
            raise MicroserviceError(
                "predict() is not implemented", 500, "MICROSERVICE_INTERNAL_ERROR"
            )
        if self._predict_takes_meta:
            return self._predict(features, feature_names, meta=meta)
        return self._predict(features, feature_names)

    def send_feedback(self, features, feature_names, reward, truth, routing) -> Any:
        if self._send_feedback is None:
            return None
        return self._send_feedback(features, feature_names, reward, truth, routing=routing)

    def metrics(self) -> list:
        if self._metrics is None:
            return []
        out = self._metrics()
        return list(out) if out else []

    def tags(self) -> dict:
        if self._tags is None:
            return {}
        out = self._tags()
        return dict(out) if out else {}

    def class_names(self, n_columns: int) -> list:
        names = self._class_names
        if callable(names):
            names = names()
        if names is not None:
            return list(names)
        return [f"t:{i}" for i in range(n_columns)]
