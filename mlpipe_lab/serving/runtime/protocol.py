"""Seldon v1 JSON messages: request payloads to Python values and model outputs to responses.

Pure functions, no I/O. The shapes follow the measured seldon-core 1.19 responses in the project's
serving facts: a numeric array answers in the payload kind of the request (``ndarray`` or
``tensor``), 2-D outputs get ``names`` ``t:0..t:n-1`` (or the Predictor's ``class_names()``), 1-D
outputs ``[]``; ``dict``/``str``/``bytes`` outputs become ``jsonData``/``strData``/``binData``.
Request ``meta.puid``, ``meta.tags``, ``meta.metrics`` and ``meta.requestPath`` are echoed.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import numpy as np

from .model import MicroserviceError, SeldonResponse, UserModel

BAD_DATA = "MICROSERVICE_BAD_DATA"
INTERNAL_ERROR = "MICROSERVICE_INTERNAL_ERROR"
BAD_METADATA = "MICROSERVICE_BAD_METADATA"
BAD_METRIC = "MICROSERVICE_BAD_METRIC"
METRIC_TYPES = ("COUNTER", "GAUGE", "TIMER")


def bad_data(message: str) -> MicroserviceError:
    return MicroserviceError(message, 400, BAD_DATA)


def error_body(info: str, reason: str = INTERNAL_ERROR) -> dict:
    return {"status": {"code": -1, "info": info, "reason": reason, "status": 1}}


def dumps(obj: Any) -> bytes:
    """Compact JSON with sorted keys and a trailing newline, byte-for-byte like Flask's jsonify."""
    return (
        json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_default) + "\n"
    ).encode()


def _default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def loads_request(body: bytes) -> Any:
    """The JSON document of a request body; malformed JSON is a 400 like seldon-core's."""
    if not body or not body.strip():
        raise bad_data("Can't find JSON in data")
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise bad_data("Can't find JSON in data") from None
    if doc is None:  # Flask's get_json() gives None for a JSON null: seldon-core's same 400
        raise bad_data("Can't find JSON in data")
    return doc


def _array_from_datadef(datadef: Any) -> np.ndarray:
    """The features of a ``data`` payload. Malformed arrays (ragged, a shape that does not fit
    the values, a tensor without ``values``) fail as seldon-core's do: a 500 with the Python
    error's own text, which names the problem (the contract test pins this)."""
    if not isinstance(datadef, dict):
        raise bad_data(
            f"Invalid request data type: data must be an object, not {type(datadef).__name__}"
        )
    if "tensor" in datadef:
        tensor = datadef["tensor"]
        return np.array(tensor["values"]).reshape(tensor["shape"])
    if "ndarray" in datadef:
        return np.array(datadef["ndarray"])
    if "tftensor" in datadef:
        raise MicroserviceError(
            "tftensor payloads are not supported by this runtime", 500, INTERNAL_ERROR
        )
    return np.array([])


def extract(request: Any) -> tuple[Any, list, dict | None, str, dict | None]:
    """``(features, feature_names, meta, kind, datadef)`` of a SeldonMessage dict."""
    if not isinstance(request, dict):
        raise bad_data(f"Invalid request data type: {request}")
    meta = request.get("meta")
    if meta is not None and not isinstance(meta, dict):
        raise bad_data("Invalid request: meta must be an object")
    if "data" in request:
        datadef = request["data"]
        features = _array_from_datadef(datadef)
        names = datadef.get("names") or []
        if not isinstance(names, list):
            raise bad_data("Invalid request: data.names must be a list")
        return features, names, meta, "data", datadef
    if "jsonData" in request:
        return request["jsonData"], [], meta, "jsonData", None
    if "strData" in request:
        if not isinstance(request["strData"], str):
            raise bad_data("Invalid request: strData must be a string")
        return request["strData"], [], meta, "strData", None
    if "binData" in request:
        # Not validating, like seldon-core: characters outside the alphabet are skipped.
        return base64.b64decode(request["binData"]), [], meta, "binData", None
    # Python's repr of the request, as seldon-core words it.
    raise bad_data(f"Invalid request data type: {request}")


def _short(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit] + "…"


def unwrap(result: Any) -> tuple[Any, dict | None, list | None]:
    """``(data, tags, metrics)`` of a predict result; SeldonResponse-like objects are unpacked."""
    if isinstance(result, SeldonResponse) or type(result).__name__ == "SeldonResponse":
        return result.data, getattr(result, "tags", None), getattr(result, "metrics", None)
    return result, None, None


def validate_metrics(metrics: list) -> list:
    """The metrics unchanged, or a 500 ``MICROSERVICE_BAD_METRIC`` naming the whole list."""
    for m in metrics:
        ok = (
            isinstance(m, dict)
            and isinstance(m.get("key"), str)
            and m.get("type") in METRIC_TYPES
            and isinstance(m.get("value"), (int, float))
            and not isinstance(m.get("value"), bool)
            and isinstance(m.get("tags", {}), dict)
        )
        if not ok:
            raise MicroserviceError(
                f"Bad metric created during request: {json.dumps(metrics, default=str)}",
                500,
                BAD_METRIC,
            )
    return metrics


def request_path_from_env() -> dict:
    name, image = os.environ.get("PREDICTIVE_UNIT_ID"), os.environ.get("PREDICTIVE_UNIT_IMAGE")
    return {name: image} if name and image else {}


def build_meta(
    request_meta: dict | None, tags: dict, metrics: list, include_metrics: bool = True
) -> dict:
    """The response ``meta``: request tags/metrics/puid/requestPath plus the model's.

    Like seldon-core, the request's own ``tags`` dict and ``metrics`` list are extended in place,
    so a Predictor that returns the ``meta`` it was given sees the merged values (the contract
    test compares exactly that).
    """
    meta: dict = {}
    req = request_meta or {}
    all_tags = req["tags"] if isinstance(req.get("tags"), dict) else {}
    all_tags.update(tags)
    all_metrics = req["metrics"] if isinstance(req.get("metrics"), list) else []
    if include_metrics:
        all_metrics.extend(metrics)
    if all_tags:
        meta["tags"] = all_tags
    if all_metrics:
        meta["metrics"] = all_metrics
    if req.get("puid"):
        meta["puid"] = req["puid"]
    path = {**request_path_from_env(), **(req.get("requestPath") or {})}
    if path:
        meta["requestPath"] = path
    return meta


def build_data(model: UserModel, request: dict, output: Any) -> dict:
    """The payload part of a response for a model output (without ``meta``)."""
    if isinstance(output, dict):
        return {"jsonData": output}
    if isinstance(output, (bytes, bytearray)):
        return {"binData": base64.b64encode(output).decode("ascii")}
    if isinstance(output, str):
        return {"strData": output}
    if not isinstance(output, (np.ndarray, list, tuple)) and hasattr(output, "to_numpy"):
        output = output.to_numpy()  # pandas DataFrame/Series from pyfunc models
    if isinstance(output, np.ndarray):
        arr = output
    elif isinstance(output, (list, tuple)):
        try:
            arr = np.asarray(output)
        except ValueError:
            arr = np.asarray(output, dtype=object)
    else:
        raise MicroserviceError(
            f"Unknown data type returned as payload (must be list or np array): {_short(str(output))}",
            500,
            INTERNAL_ERROR,
        )
    numeric = np.issubdtype(arr.dtype, np.number)
    requested = request.get("data") if isinstance(request.get("data"), dict) else None
    if numeric and (requested is None or "tensor" in requested):
        payload_kind, payload = "tensor", {"shape": list(arr.shape), "values": arr.ravel().tolist()}
    else:
        payload_kind, payload = (
            "ndarray",
            arr.tolist() if isinstance(output, np.ndarray) else _listify(output),
        )
    names = model.class_names(arr.shape[1]) if arr.ndim > 1 else []
    return {"data": {"names": names, payload_kind: payload}}


def _listify(value: Any) -> Any:
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, list):
        return [_listify(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def validate_metadata(meta: Any, default_name: str) -> dict:
    """The ``/metadata`` document with defaults, or a 500 ``MICROSERVICE_BAD_METADATA`` error."""
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise MicroserviceError("Model metadata must be a dict", 500, BAD_METADATA)
    out = {
        "name": meta.get("name", default_name),
        "versions": meta.get("versions", []),
        "platform": meta.get("platform", ""),
        "inputs": meta.get("inputs", []),
        "outputs": meta.get("outputs", []),
        "custom": meta.get("custom", {}),
    }
    if not isinstance(out["name"], str) or not isinstance(out["platform"], str):
        raise MicroserviceError(
            "Model metadata: name and platform must be strings", 500, BAD_METADATA
        )
    if not isinstance(out["versions"], list) or not all(
        isinstance(v, str) for v in out["versions"]
    ):
        raise MicroserviceError(
            "Model metadata: versions must be a list of strings", 500, BAD_METADATA
        )
    if not isinstance(out["custom"], dict):
        raise MicroserviceError("Model metadata: custom must be a dict", 500, BAD_METADATA)
    for side in ("inputs", "outputs"):
        tensors = out[side]
        if isinstance(tensors, dict) and "messagetype" in tensors:
            continue
        if not isinstance(tensors, list):
            raise MicroserviceError(f"Model metadata: {side} must be a list", 500, BAD_METADATA)
        for t in tensors:
            if not (
                isinstance(t, dict)
                and isinstance(t.get("name"), str)
                and (
                    (isinstance(t.get("datatype"), str) and isinstance(t.get("shape"), list))
                    or "messagetype" in t
                )
            ):
                raise MicroserviceError(
                    f"Model metadata: each of {side} needs name, datatype and shape: {t!r}",
                    500,
                    BAD_METADATA,
                )
    return out


def _doubles(value: Any) -> Any:
    """Numbers as a ``google.protobuf.Value`` holds them: every number is a double."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, list):
        return [_doubles(v) for v in value]
    if isinstance(value, dict):
        return {k: _doubles(v) for k, v in value.items()}
    return value


def as_proto_json(message: dict) -> dict:
    """A SeldonMessage dict as seldon-core answers it after a protobuf round trip.

    seldon-core builds feedback responses as ``SeldonMessage`` protos and prints them with
    ``MessageToJson``: numbers in ``ndarray``/``jsonData``/tags become doubles, tensor values are
    doubles, empty ``names`` and ``puid`` are left out, and a metric of type ``COUNTER`` (the
    enum's zero value) loses its ``type``. Predictions do not go through protobuf.
    """
    out: dict = {}
    data = message.get("data")
    if isinstance(data, dict):
        d: dict = {}
        if data.get("names"):
            d["names"] = list(data["names"])
        if "tensor" in data:
            t = data["tensor"]
            tensor: dict = {}
            if t.get("shape"):
                tensor["shape"] = [int(x) for x in t["shape"]]
            if t.get("values"):
                tensor["values"] = [float(x) for x in t["values"]]
            d["tensor"] = tensor
        elif "ndarray" in data:
            d["ndarray"] = _doubles(data["ndarray"])
        out["data"] = d
    for key in ("strData", "binData"):
        if key in message:
            out[key] = message[key]
    if "jsonData" in message:
        out["jsonData"] = _doubles(message["jsonData"])
    meta = message.get("meta") or {}
    m: dict = {}
    if meta.get("puid"):
        m["puid"] = meta["puid"]
    if meta.get("tags"):
        m["tags"] = _doubles(meta["tags"])
    if meta.get("routing"):
        m["routing"] = meta["routing"]
    if meta.get("requestPath"):
        m["requestPath"] = meta["requestPath"]
    if meta.get("metrics"):
        metrics = []
        for metric in meta["metrics"]:
            item = {"key": metric["key"]}
            if metric.get("type", "COUNTER") != "COUNTER":
                item["type"] = metric["type"]
            item["value"] = float(metric["value"])
            if metric.get("tags"):
                item["tags"] = dict(metric["tags"])
            metrics.append(item)
        m["metrics"] = metrics
    out["meta"] = m
    return out
