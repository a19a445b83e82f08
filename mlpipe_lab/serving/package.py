"""Image build context for an MLflow model: ``Predictor.py``, ``Dockerfile``, ``requirements.txt``.

:func:`build_context` copies an MLflow model directory (``MLmodel`` with a ``python_function``
flavor, e.g. ``model.skops`` + ``requirements.txt``) into ``<out>/model/`` and writes:

- ``Predictor.py``: the Seldon wrapper contract; ``load()`` calls ``mlflow.pyfunc.load_model``
  (never ``joblib``/``pickle``); ``init_metadata()`` comes from the model's signature;
- ``requirements.txt``: the model's requirements plus the serving runtime;
- ``Dockerfile``: ``python:3.12-slim``, requirements first (cached layer), then model and code.

Runtimes: ``mlpipe`` (default, Apache-2.0: :mod:`mlpipe_lab.serving.runtime` is copied into the
context, so the image does not need the JupyterLab extension) or ``seldon-core`` (1.19.0, BSL 1.1;
the model's numpy and pandas pins are dropped because seldon-core needs numpy<2, as measured).
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .spec import RUNTIMES, defaults

OUR_RUNTIME = "mlpipe"  # what mlpipe_lab.serving.runtime is called in the runtime setting
DEFAULT_BASE_IMAGE = "python:3.12-slim"
SELDON_CORE_REQUIREMENT = "seldon-core==1.19.0"
# What our runtime needs in the image, pinned to the versions it is tested with.
RUNTIME_REQUIREMENTS = (
    "uvicorn==0.54.0",
    "httptools==0.9.0",
    "uvloop==0.23.0",
    "prometheus_client==0.26.0",
)
# seldon-core 1.19.0 needs numpy<2; pandas>=3 needs numpy>=2: both pins go (serving facts).
SELDON_CORE_UNPIN = ("numpy", "pandas")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class PackageError(ValueError):
    """A model directory that cannot be packaged."""


def canonical_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class ModelInfo:
    path: Path
    mlmodel: dict
    requirements: list[str]
    python_version: str | None
    flavor: str
    signature: dict | None = None
    notes: list[str] = field(default_factory=list)


def read_model(model_dir: str | Path) -> ModelInfo:
    """The parts of an MLflow model directory that packaging needs."""
    import yaml

    path = Path(model_dir)
    mlmodel_path = path / "MLmodel"
    if not mlmodel_path.is_file():
        raise PackageError(f"{path} is not an MLflow model directory (no MLmodel file)")
    try:
        mlmodel = yaml.safe_load(mlmodel_path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise PackageError(f"{mlmodel_path}: not valid YAML: {exc}") from None
    flavors = mlmodel.get("flavors") or {}
    if "python_function" not in flavors:
        raise PackageError(
            f"{mlmodel_path}: no python_function flavor, mlflow.pyfunc cannot load it"
        )
    pyfunc = flavors["python_function"] or {}
    other = [f for f in flavors if f != "python_function"]
    flavor = other[0] if other else (pyfunc.get("loader_module") or "pyfunc").rpartition(".")[2]
    notes: list[str] = []
    requirements = _model_requirements(path, notes)
    signature = mlmodel.get("signature")
    if isinstance(signature, dict):
        signature = {k: json.loads(v) if isinstance(v, str) else v for k, v in signature.items()}
    return ModelInfo(
        path,
        mlmodel,
        requirements,
        pyfunc.get("python_version"),
        flavor,
        signature if isinstance(signature, dict) else None,
        notes,
    )


def _model_requirements(path: Path, notes: list[str]) -> list[str]:
    req = path / "requirements.txt"
    if req.is_file():
        lines = req.read_text().splitlines()
    else:
        lines = []
        conda = path / "conda.yaml"
        if conda.is_file():
            import yaml

            env = yaml.safe_load(conda.read_text()) or {}
            for dep in env.get("dependencies") or []:
                if isinstance(dep, dict) and "pip" in dep:
                    lines.extend(str(x) for x in dep["pip"])
            notes.append("requirements taken from conda.yaml's pip section")
        else:
            notes.append("no requirements.txt or conda.yaml: only mlflow is installed")
    out = []
    for raw in lines:
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):  # -r, -e, --index-url …: not followed into the image
            notes.append(f"requirement option dropped: {line}")
            continue
        if not _NAME.match(line):
            notes.append(f"requirement not understood, dropped: {line}")
            continue
        out.append(line)
    if not any(canonical_name(_NAME.match(r).group(1)) in ("mlflow", "mlflow-skinny") for r in out):
        out.insert(0, "mlflow")
        notes.append("mlflow added: pyfunc loading needs it")
    return out


def rewrite_requirements(requirements: list[str], runtime: str | None = None) -> list[str]:
    """The model's requirements made installable together with ``runtime`` (default: the
    node setting's default)."""
    runtime = runtime or defaults()["serving_runtime"]
    if runtime not in RUNTIMES:
        raise PackageError(f"runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
    out: list[str] = []
    for req in requirements:
        name = _NAME.match(req).group(1)
        canon = canonical_name(name)
        if runtime == "seldon-core" and canon in SELDON_CORE_UNPIN:
            marker = req.split(";", 1)[1].strip() if ";" in req else ""
            out.append(f"{name}; {marker}" if marker else name)
            continue
        if (
            canon in {canonical_name(_NAME.match(r).group(1)) for r in RUNTIME_REQUIREMENTS}
            and runtime == OUR_RUNTIME
        ):
            continue  # the runtime's tested pin wins
        out.append(req)
    if runtime == "seldon-core":
        out.append(SELDON_CORE_REQUIREMENT)
    else:
        if not any(canonical_name(_NAME.match(r).group(1)) == "numpy" for r in out):
            out.append("numpy")
        out.extend(RUNTIME_REQUIREMENTS)
    return out


_MLFLOW_TO_V2 = {
    "boolean": "BOOL",
    "bool": "BOOL",
    "integer": "INT32",
    "int32": "INT32",
    "long": "INT64",
    "int64": "INT64",
    "float": "FP32",
    "float32": "FP32",
    "double": "FP64",
    "float64": "FP64",
    "string": "BYTES",
    "str": "BYTES",
    "binary": "BYTES",
    "bytes": "BYTES",
    "datetime": "BYTES",
    "int8": "INT8",
    "int16": "INT16",
    "uint8": "UINT8",
    "uint16": "UINT16",
    "uint32": "UINT32",
    "uint64": "UINT64",
    "float16": "FP16",
    "object": "BYTES",
}


def _tensors(spec: Any, default_name: str) -> list[dict]:
    if not isinstance(spec, list):
        return []
    if spec and all(isinstance(s, dict) and s.get("type") == "tensor" for s in spec):
        out = []
        for i, s in enumerate(spec):
            t = s.get("tensor-spec") or {}
            name = s.get("name") or (default_name if len(spec) == 1 else f"{default_name}-{i}")
            out.append(
                {
                    "name": name,
                    "datatype": _MLFLOW_TO_V2.get(str(t.get("dtype")), "BYTES"),
                    "shape": list(t.get("shape") or [-1]),
                }
            )
        return out
    return [
        {
            "name": s.get("name") or f"{default_name}-{i}",
            "datatype": _MLFLOW_TO_V2.get(str(s.get("type")), "BYTES"),
            "shape": [-1],
        }
        for i, s in enumerate(spec)
        if isinstance(s, dict)
    ]


def model_metadata(info: ModelInfo, name: str, version: str | None) -> dict:
    """``init_metadata()`` of the generated Predictor, from the MLmodel signature."""
    sig = info.signature or {}
    return {
        "name": name,
        "versions": [str(version)] if version else [],
        "platform": f"mlflow-{info.flavor}",
        "inputs": _tensors(sig.get("inputs"), "input"),
        "outputs": _tensors(sig.get("outputs"), "output"),
        "custom": {},
    }


# MLflow column types -> (V2 datatype, content type), as MLServer's MLflow runtime maps them
_COLUMN_TYPES = {
    "boolean": ("BOOL", "np"),
    "integer": ("INT32", "np"),
    "long": ("INT64", "np"),
    "float": ("FP32", "np"),
    "double": ("FP64", "np"),
    "string": ("BYTES", "str"),
    "binary": ("BYTES", "base64"),
    "datetime": ("BYTES", "datetime"),
}


def _v2_tensors(spec: Any, prefix: str) -> list[dict]:
    out = []
    for i, s in enumerate(spec if isinstance(spec, list) else []):
        if not isinstance(s, dict):
            continue
        name = s.get("name") or f"{prefix}{i}"
        if s.get("type") == "tensor":
            t = s.get("tensor-spec") or {}
            datatype = _MLFLOW_TO_V2.get(str(t.get("dtype")), "BYTES")
            out.append(
                {
                    "name": name,
                    "datatype": datatype,
                    "shape": list(t.get("shape") or [-1]),
                    "parameters": {"content_type": "np"},
                }
            )
            continue
        # array, object, map and any columns travel as JSON text
        datatype, content = _COLUMN_TYPES.get(str(s.get("type")), ("BYTES", "pd_json"))
        out.append(
            {
                "name": name,
                "datatype": datatype,
                "shape": [-1, 1],
                "parameters": {"content_type": content},
            }
        )
    return out


def v2_metadata(info: ModelInfo, name: str, version: str | None) -> dict:
    """The Open Inference Protocol metadata of the generated Predictor (``v2_metadata()``), from
    the MLmodel signature with MLServer's names, shapes and content types: ``np`` for one
    unnamed tensor, ``dict`` for named tensors, ``pd`` for columns."""
    sig = info.signature or {}
    inputs = sig.get("inputs") if isinstance(sig.get("inputs"), list) else []
    doc = {
        "name": name,
        "versions": [str(version)] if version else [],
        "platform": f"mlflow-{info.flavor}",
        "inputs": _v2_tensors(inputs, "input-"),
        "outputs": _v2_tensors(sig.get("outputs"), "output-"),
    }
    if inputs:
        tensors = all(isinstance(s, dict) and s.get("type") == "tensor" for s in inputs)
        named = all(isinstance(s, dict) and s.get("name") for s in inputs)
        doc["parameters"] = {"content_type": ("dict" if named else "np") if tensors else "pd"}
    return doc


def column_names(info: ModelInfo) -> list[str]:
    sig = (info.signature or {}).get("inputs")
    if (
        isinstance(sig, list)
        and sig
        and all(isinstance(s, dict) and s.get("name") and s.get("type") != "tensor" for s in sig)
    ):
        return [s["name"] for s in sig]
    return []


PREDICTOR_TEMPLATE = '''"""Seldon-contract wrapper for an MLflow model, generated by mlpipe-lab.

Model: {model_uri}
The runtime builds ``Predictor(**parameters)`` once and calls ``load()`` in every worker.
"""

import json
import os

import numpy as np

METADATA = json.loads({metadata!r})
V2_METADATA = json.loads({v2_metadata!r})
COLUMNS = {columns!r}


class Predictor:
    def __init__(self, model_dir=None):
        self.model_dir = model_dir or os.environ.get("MODEL_DIR", "/app/model")
        self.model = None

    def load(self):
        import mlflow.pyfunc

        self.model = mlflow.pyfunc.load_model(self.model_dir)

    def predict(self, X, features_names=None):
        if self.model is None:
            self.load()
        if isinstance(X, dict) and COLUMNS:  # V2 inputs by name: the model's columns
            import pandas as pd

            X = pd.DataFrame(X)
        elif isinstance(X, np.ndarray) and X.ndim == 2:
            names = list(features_names or []) or COLUMNS
            if names and len(names) == X.shape[1]:
                import pandas as pd

                X = pd.DataFrame(X, columns=names)
        out = self.model.predict(X)
        if hasattr(out, "to_numpy"):
            out = out.to_numpy()
        return np.asarray(out)

    def init_metadata(self):
        return METADATA

    def v2_metadata(self):
        return V2_METADATA
'''

DOCKERFILE_TEMPLATE = """# Generated by mlpipe-lab: {model_uri} served by the {runtime} runtime.
FROM {base_image}
ENV PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1 \\
    PIP_NO_CACHE_DIR=1 \\
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
# requirements.txt = the model's requirements{rewrite_note} + the serving runtime
COPY requirements.txt /app/requirements.txt
RUN pip install --no-cache-dir -r /app/requirements.txt
{runtime_copy}COPY model/ /app/model/
COPY Predictor.py /app/Predictor.py
ENV MODEL_DIR=/app/model \\
    GUNICORN_WORKERS={workers}{pythonpath}
LABEL io.mlpipe-lab.model-uri="{model_uri}" \\
      io.mlpipe-lab.runtime="{runtime}" \\
      io.mlpipe-lab.model-python="{python_version}"
RUN useradd --uid 8888 --no-create-home --home-dir /app seldon && chown -R 8888 /app
USER 8888
EXPOSE 9000 6000
CMD {cmd}
"""


@dataclass
class BuildContext:
    path: Path
    runtime: str
    requirements: list[str]
    notes: list[str]
    files: list[str]


def build_context(
    model_dir: str | Path,
    out_dir: str | Path,
    *,
    runtime: str | None = None,
    model_uri: str | None = None,
    model_name: str | None = None,
    model_version: str | None = None,
    base_image: str = DEFAULT_BASE_IMAGE,
    workers: int = 1,
) -> BuildContext:
    """Write the build context for ``model_dir`` into ``out_dir`` (created; must be empty)."""
    runtime = runtime or defaults()["serving_runtime"]
    if runtime not in RUNTIMES:
        raise PackageError(f"runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
    if workers < 1:
        raise PackageError("workers must be >= 1")
    if any(c in base_image for c in "\n\r \t"):
        raise PackageError(f"invalid base image: {base_image!r}")
    info = read_model(model_dir)
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise PackageError(f"{out} is not empty")
    out.mkdir(parents=True, exist_ok=True)
    name = model_name or info.path.resolve().name
    uri = model_uri or str(info.path)
    _safe_text(uri, "model URI")
    shutil.copytree(info.path, out / "model", ignore=shutil.ignore_patterns("__pycache__"))
    requirements = rewrite_requirements(info.requirements, runtime)
    (out / "requirements.txt").write_text("\n".join(requirements) + "\n")
    metadata = json.dumps(model_metadata(info, name, model_version), sort_keys=True)
    metadata_v2 = json.dumps(v2_metadata(info, name, model_version), sort_keys=True)
    (out / "Predictor.py").write_text(
        PREDICTOR_TEMPLATE.format(
            model_uri=uri.replace('"""', ""),
            metadata=metadata,
            v2_metadata=metadata_v2,
            columns=column_names(info),
        )
    )
    files = ["Dockerfile", "Predictor.py", "requirements.txt", "model/"]
    if runtime == OUR_RUNTIME:
        _copy_runtime(out / "runtime")
        files.append("runtime/")
        runtime_copy = "COPY runtime/ /app/runtime/\n"
        pythonpath = " \\\n    PYTHONPATH=/app/runtime"
        cmd = json.dumps(
            ["python", "-m", "mlpipe_lab.serving.runtime", "Predictor", "--service-type", "MODEL"]
        )
        rewrite_note = ""
    else:
        runtime_copy, pythonpath = "", ""
        cmd = json.dumps(["seldon-core-microservice", "Predictor", "--service-type", "MODEL"])
        rewrite_note = " minus the numpy/pandas pins (seldon-core 1.19 needs numpy<2)"
    (out / "Dockerfile").write_text(
        DOCKERFILE_TEMPLATE.format(
            model_uri=uri,
            runtime=runtime,
            base_image=base_image,
            rewrite_note=rewrite_note,
            runtime_copy=runtime_copy,
            workers=workers,
            pythonpath=pythonpath,
            python_version=info.python_version or "unknown",
            cmd=cmd,
        )
    )
    (out / ".dockerignore").write_text("**/__pycache__\n**/*.pyc\n")
    notes = list(info.notes)
    if info.python_version and not info.python_version.startswith("3.12") and "3.12" in base_image:
        notes.append(
            f"model was logged with Python {info.python_version}; the image uses {base_image}"
        )
    return BuildContext(out, runtime, requirements, notes, files)


def _safe_text(value: str, what: str) -> None:
    if any(c in value for c in '\n\r"\\'):
        raise PackageError(f"{what} must not contain newlines, quotes or backslashes: {value!r}")


def _copy_runtime(dest: Path) -> None:
    """Our runtime as a stand-alone package (no JupyterLab extension in the image)."""
    src = Path(__file__).resolve().parent / "runtime"
    target = dest / "mlpipe_lab" / "serving" / "runtime"
    target.mkdir(parents=True)
    (dest / "mlpipe_lab" / "__init__.py").write_text(
        '"""Serving runtime only (copied by mlpipe-lab)."""\n'
    )
    (dest / "mlpipe_lab" / "serving" / "__init__.py").write_text("")
    for name, data in _runtime_sources(src):  # self-contained (a test enforces it)
        (target / name).write_bytes(data)


def _runtime_sources(src: Path) -> list[tuple[str, bytes]]:
    """The runtime's ``.py`` files: from its folder, or from the runner zipapp the serve tasks
    run from (the archive carries the runtime's sources for this)."""
    if src.is_dir():
        return [(p.name, p.read_bytes()) for p in sorted(src.glob("*.py"))]
    import zipfile

    archive = next((p for p in src.parents if p.is_file()), None)
    if archive is None or not zipfile.is_zipfile(archive):
        raise PackageError(f"the serving runtime's sources are missing ({src})")
    inner = src.relative_to(archive).as_posix() + "/"
    with zipfile.ZipFile(archive) as zf:
        return [
            (n[len(inner) :], zf.read(n))
            for n in sorted(zf.namelist())
            if n.startswith(inner) and n.endswith(".py") and "/" not in n[len(inner) :]
        ]
