"""Open Inference Protocol (V2) REST messages: requests to Python values, model outputs to responses.

Pure functions, no I/O. Where the protocol leaves room, the answers follow what MLServer 1.7 with
its MLflow runtime answers for the same MLflow model (the contract test compares the two):

- a request is checked field by field first; what is wrong answers 422 with FastAPI's
  ``{"detail": [{"type", "loc", "msg", "input"}]}`` list, in pydantic's words;
- inputs decode by datatype (``BYTES``: strings, or bytes with ``content_type: base64``) and are
  reshaped to their ``shape``; the request's content type (or the model's, from its metadata)
  says what the Predictor gets: ``np`` the first input as an array, ``pd``/``dict`` a dict of
  arrays by input name (a generated MLflow Predictor makes it a DataFrame);
- an array output answers as ``output-1`` with a batch dimension (``[N]`` becomes ``[N, 1]``);
  a dict of arrays as one output per key; NaN as ``null``;
- other errors answer ``{"error": message}``: 404 for an unknown model or version, 400 for a
  request the model refuses, 500 for a failure of the model itself.
"""

from __future__ import annotations

import base64
import json
import math
import uuid
from typing import Any

import numpy as np

DATATYPES = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
    "BYTES": object,
}
_DATATYPE_NAMES = tuple(DATATYPES)
_ENUM_TEXT = ", ".join(f"'{d}'" for d in _DATATYPE_NAMES[:-1]) + f" or '{_DATATYPE_NAMES[-1]}'"
_NUMPY_TO_V2 = {np.dtype(t).str[1:]: name for name, t in DATATYPES.items() if t is not object}
OUTPUT_NAME = "output-1"  # MLServer's name for a single array output
# MLflow's error codes for inputs that do not fit the model's signature
CLIENT_ERROR_CODES = frozenset({"INVALID_PARAMETER_VALUE", "BAD_REQUEST"})


class V2Error(Exception):
    """An answer other than 200: ``{"error": message}``, or ``detail`` for request checks."""

    def __init__(self, status: int, message: str = "", detail: list | str | None = None):
        super().__init__(message or str(detail))
        self.status = status
        self.message = message
        self.detail = detail

    def body(self) -> dict:
        if self.detail is not None:
            return {"detail": self.detail}
        return {"error": self.message}


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), default=_default).encode()


def _default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def not_found(name: str, version: str | None = None) -> V2Error:
    if version is not None:
        return V2Error(404, f"Model {name} with version {version} not found")
    return V2Error(404, f"Model {name} not found")


# -- request checks (FastAPI/pydantic's 422 answers) ---------------------------------------------


def _err(kind: str, loc: list, msg: str, value: Any, ctx: dict | None = None) -> dict:
    out = {"type": kind, "loc": loc, "msg": msg, "input": value}
    if ctx:
        out["ctx"] = ctx
    return out


def _missing(loc: list, parent: Any) -> dict:
    return _err("missing", loc, "Field required", parent)


def _object(loc: list, value: Any) -> dict:
    msg = "Input should be a valid dictionary or object to extract fields from"
    return _err("model_attributes_type", loc, msg, value)


def _string(loc: list, value: Any, errors: list) -> None:
    if not isinstance(value, str):
        errors.append(_err("string_type", loc, "Input should be a valid string", value))


def _optional_parameters(loc: list, value: Any, errors: list) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        errors.append(_object(loc, value))
        return
    if value.get("content_type") is not None:
        _string([*loc, "content_type"], value["content_type"], errors)
    headers = value.get("headers")
    if headers is not None and not isinstance(headers, dict):
        errors.append(
            _err("dict_type", [*loc, "headers"], "Input should be a valid dictionary", headers)
        )


def _int(loc: list, value: Any, errors: list) -> None:
    if isinstance(value, (bool, int)):
        return
    if isinstance(value, float):
        if value.is_integer():
            return
        msg = "Input should be a valid integer, got a number with a fractional part"
        errors.append(_err("int_from_float", loc, msg, value))
        return
    if isinstance(value, str):
        try:
            int(value.strip())
            return
        except ValueError:
            msg = "Input should be a valid integer, unable to parse string as an integer"
            errors.append(_err("int_parsing", loc, msg, value))
            return
    errors.append(_err("int_type", loc, "Input should be a valid integer", value))


def check_request(doc: Any) -> list[dict]:
    """What is wrong with an inference request, as FastAPI's 422 ``detail`` lists it."""
    if doc is None:
        return [_missing(["body"], None)]
    if not isinstance(doc, dict):
        return [_object(["body"], doc)]
    errors: list[dict] = []
    if doc.get("id") is not None:
        _string(["body", "id"], doc["id"], errors)
    _optional_parameters(["body", "parameters"], doc.get("parameters"), errors)
    if "inputs" not in doc:
        errors.append(_missing(["body", "inputs"], doc))
    elif not isinstance(doc["inputs"], list):
        errors.append(
            _err("list_type", ["body", "inputs"], "Input should be a valid list", doc["inputs"])
        )
    else:
        for i, item in enumerate(doc["inputs"]):
            loc = ["body", "inputs", i]
            if not isinstance(item, dict):
                errors.append(_object(loc, item))
                continue
            if "name" not in item:
                errors.append(_missing([*loc, "name"], item))
            else:
                _string([*loc, "name"], item["name"], errors)
            if "shape" not in item:
                errors.append(_missing([*loc, "shape"], item))
            elif not isinstance(item["shape"], list):
                errors.append(
                    _err(
                        "list_type", [*loc, "shape"], "Input should be a valid list", item["shape"]
                    )
                )
            else:
                for j, dim in enumerate(item["shape"]):
                    _int([*loc, "shape", j], dim, errors)
            if "datatype" not in item:
                errors.append(_missing([*loc, "datatype"], item))
            elif item["datatype"] not in DATATYPES:
                errors.append(
                    _err(
                        "enum",
                        [*loc, "datatype"],
                        f"Input should be {_ENUM_TEXT}",
                        item["datatype"],
                        {"expected": _ENUM_TEXT},
                    )
                )
            _optional_parameters([*loc, "parameters"], item.get("parameters"), errors)
            if "data" not in item:
                errors.append(_missing([*loc, "data"], item))
    outputs = doc.get("outputs")
    if outputs is not None:
        if not isinstance(outputs, list):
            errors.append(
                _err("list_type", ["body", "outputs"], "Input should be a valid list", outputs)
            )
        else:
            for i, item in enumerate(outputs):
                loc = ["body", "outputs", i]
                if not isinstance(item, dict):
                    errors.append(_object(loc, item))
                elif "name" not in item:
                    errors.append(_missing([*loc, "name"], item))
                else:
                    _string([*loc, "name"], item["name"], errors)
    return errors


def json_error(body: bytes, exc: ValueError) -> V2Error:
    """422 for a body that is not JSON, located by its character position as FastAPI does."""
    pos = getattr(exc, "pos", 0) or 0
    reason = getattr(exc, "msg", str(exc))
    detail = [_err("json_invalid", ["body", pos], "JSON decode error", {}, {"error": reason})]
    return V2Error(422, detail=detail)


def parse_request(body: bytes) -> dict:
    """The checked request document, or V2Error(422)."""
    if not body.strip():
        raise V2Error(422, detail=[_missing(["body"], None)])
    try:
        doc = json.loads(body)
    except UnicodeDecodeError as exc:
        raise json_error(body, ValueError(str(exc))) from None
    except ValueError as exc:
        raise json_error(body, exc) from None
    errors = check_request(doc)
    if errors:
        raise V2Error(422, detail=errors)
    return doc


# -- decoding ------------------------------------------------------------------------------------


def _content_type(obj: dict | None) -> str | None:
    params = (obj or {}).get("parameters")
    if isinstance(params, dict) and isinstance(params.get("content_type"), str):
        return params["content_type"]
    return None


def decode_input(item: dict, metadata: dict | None = None) -> np.ndarray:
    """One input as an array of its shape. BYTES become strings, or bytes with content type
    ``base64`` (the input's, else the model metadata's for that input)."""
    datatype = item["datatype"]
    data = item["data"]
    shape = [int(d) for d in item["shape"]]
    if datatype == "BYTES":
        content = _content_type(item) or _content_type(metadata)
        flat = _flatten(data)
        values = [base64.b64decode(v) for v in flat] if content == "base64" else flat
        if values and all(isinstance(v, str) for v in values):
            arr = np.array(values, dtype=str)  # as MLServer decodes a list of strings
        else:
            arr = np.empty(len(values), dtype=object)
            arr[:] = values
    else:
        try:
            arr = np.asarray(data, dtype=DATATYPES[datatype])
        except (TypeError, ValueError, OverflowError) as exc:
            raise V2Error(400, f"input {item['name']}: {exc}") from None
    try:
        return arr.reshape(shape)
    except ValueError as exc:
        raise V2Error(400, f"input {item['name']}: {exc}") from None


def _flatten(data: Any) -> list:
    if not isinstance(data, list):
        return [data]
    if not any(isinstance(v, list) for v in data):
        return data
    out: list = []
    for v in data:
        out.extend(_flatten(v))
    return out


def decode_request(doc: dict, metadata: dict) -> tuple[Any, list[str], str | None]:
    """``(features, names, content type)`` for the Predictor: the first input's array for
    ``np`` (and for one input without a content type), else a dict of arrays by input name
    (``pd``: each a column)."""
    by_name = {t.get("name"): t for t in metadata.get("inputs") or [] if isinstance(t, dict)}
    inputs = doc["inputs"]
    names = [item["name"] for item in inputs]
    arrays = [decode_input(item, by_name.get(item["name"])) for item in inputs]
    content = _content_type(doc) or _content_type(metadata)
    if content == "np" or (content is None and len(arrays) == 1):
        if len(arrays) != 1:
            raise V2Error(
                400,
                f"The 'np' codec only supports a single input tensor ({len(arrays)} were received)",
            )
        return arrays[0], names, content
    if content == "pd":
        columns = {}
        for name, arr in zip(names, arrays):
            columns[name] = arr.reshape(len(arr)) if arr.ndim == 2 and arr.shape[1] == 1 else arr
        return columns, names, content
    return dict(zip(names, arrays)), names, content


# -- encoding ------------------------------------------------------------------------------------


def datatype_of(arr: np.ndarray) -> str:
    if arr.dtype.kind in "OSUa":
        return "BYTES"
    name = _NUMPY_TO_V2.get(arr.dtype.str[1:])
    if name is None:
        raise V2Error(500, f"cannot answer an array of {arr.dtype} in the V2 protocol")
    return name


def encode_output(name: str, value: Any) -> dict:
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    datatype = datatype_of(arr)
    shape = list(arr.shape)
    if len(shape) <= 1:
        shape = shape + [1] if shape else [1, 1]
    flat = arr.ravel()
    if datatype == "BYTES":
        data = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in flat.tolist()]
    else:
        data = flat.tolist()
        if arr.dtype.kind == "f" and np.isnan(flat).any():
            data = [None if isinstance(v, float) and math.isnan(v) else v for v in data]
    return {
        "name": name,
        "shape": shape,
        "datatype": datatype,
        "parameters": {"content_type": "np"},
        "data": data,
    }


def encode_response(
    result: Any, model_name: str, model_version: str | None, request_id: str | None
) -> dict:
    """The inference response for a Predictor's result: an array (or list) is one output, a
    dict of arrays one output per key, a DataFrame one output per column."""
    if isinstance(result, dict):
        outputs = [encode_output(str(k), v) for k, v in result.items()]
        content = "dict"
    elif hasattr(result, "columns") and hasattr(result, "to_numpy"):  # a pandas DataFrame
        outputs = [encode_output(str(c), result[c].to_numpy()) for c in result.columns]
        content = "pd"
    else:
        if hasattr(result, "to_numpy"):
            result = result.to_numpy()
        if isinstance(result, (str, bytes)):
            result = np.array([result], dtype=object)
        outputs = [encode_output(OUTPUT_NAME, result)]
        content = "np"
    out: dict[str, Any] = {"model_name": model_name}
    if model_version is not None:
        out["model_version"] = model_version
    out["id"] = request_id or str(uuid.uuid4())
    out["parameters"] = {"content_type": content}
    out["outputs"] = outputs
    return out


def model_error(exc: BaseException) -> V2Error:
    """400 for what the model says is the request's fault (MLflow's schema enforcement, a
    Predictor's 4xx MicroserviceError); 500 for the rest."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and hasattr(exc, "reason"):
        return V2Error(status, str(getattr(exc, "message", exc)))
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    if getattr(exc, "error_code", None) in CLIENT_ERROR_CODES:
        return V2Error(400, str(message))
    return V2Error(500, str(message))


# -- metadata ------------------------------------------------------------------------------------


def model_metadata(doc: dict, name: str) -> dict:
    """The ``/v2/models/{name}`` document from the Predictor's metadata (V2 or Seldon form)."""
    out: dict[str, Any] = {
        "name": name,
        "versions": list(doc.get("versions") or []),
        "platform": doc.get("platform") or "",
        "inputs": [_tensor_meta(t) for t in doc.get("inputs") or [] if isinstance(t, dict)],
        "outputs": [_tensor_meta(t) for t in doc.get("outputs") or [] if isinstance(t, dict)],
    }
    if isinstance(doc.get("parameters"), dict):
        out["parameters"] = doc["parameters"]
    return out


def _tensor_meta(t: dict) -> dict:
    out = {"name": t.get("name"), "datatype": t.get("datatype"), "shape": t.get("shape")}
    if isinstance(t.get("parameters"), dict):
        out["parameters"] = t["parameters"]
    return out
