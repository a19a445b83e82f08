"""Build contexts for MLflow models: Predictor.py, Dockerfile and requirements for both runtimes,
and the generated Predictor served by our runtime (with a stand-in ``mlflow.pyfunc`` here; the
real-MLflow test is in test_serving_mlflow.py)."""

from __future__ import annotations

import json
import os
import py_compile
import subprocess
import sys
import sysconfig
import textwrap

import pytest

from mlpipe_lab.serving import package as pkg

MLMODEL = textwrap.dedent("""\
    artifact_path: model
    flavors:
      python_function:
        env:
          conda: conda.yaml
          virtualenv: python_env.yaml
        loader_module: mlflow.sklearn
        model_path: model.skops
        predict_fn: predict
        python_version: 3.11.7
      sklearn:
        code: null
        pickled_model: model.skops
        serialization_format: skops
        sklearn_version: 1.9.1
    mlflow_version: 3.17.2
    model_id: m-0123456789abcdef
    signature:
      inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1, 2]}}]'
      outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]'
      params: null
    """)
REQUIREMENTS = textwrap.dedent("""\
    mlflow==3.17.2
    numpy==2.4.6
    pandas==3.1.1
    scikit-learn==1.9.1
    scipy==1.17.1
    skops==0.16.0
    """)

FAKE_PYFUNC = textwrap.dedent('''\
    """Stand-in for mlflow.pyfunc in tests: 'predicts' 1 when a row sums to more than 2."""
    import os
    import numpy as np

    class _Model:
        def predict(self, X):
            return (np.asarray(X).sum(axis=1) > 2).astype("int64")

    def load_model(model_uri):
        assert os.path.isfile(os.path.join(model_uri, "MLmodel")), model_uri
        return _Model()
    ''')


@pytest.fixture
def model_dir(tmp_path):
    d = tmp_path / "artifacts"
    d.mkdir()
    (d / "MLmodel").write_text(MLMODEL)
    (d / "requirements.txt").write_text(REQUIREMENTS)
    (d / "model.skops").write_bytes(b"PK\x03\x04 not a real model")
    (d / "python_env.yaml").write_text("python: 3.11.7\ndependencies:\n- -r requirements.txt\n")
    return d


def test_mlpipe_runtime_context(model_dir, tmp_path):
    ctx = pkg.build_context(
        model_dir,
        tmp_path / "ctx",
        model_uri="models:/mlflowdemo/1",
        model_name="mlflowdemo",
        model_version="1",
        workers=2,
    )
    out = ctx.path
    assert sorted(p.name for p in out.iterdir()) == [
        ".dockerignore",
        "Dockerfile",
        "Predictor.py",
        "model",
        "requirements.txt",
        "runtime",
    ]
    assert (out / "model" / "model.skops").is_file() and (out / "model" / "MLmodel").is_file()
    reqs = (out / "requirements.txt").read_text().split()
    assert reqs[:6] == REQUIREMENTS.split()  # the model's exact pins stay with our runtime
    assert set(pkg.RUNTIME_REQUIREMENTS) <= set(reqs)
    docker = (out / "Dockerfile").read_text()
    assert docker.splitlines()[1] == "FROM python:3.12-slim"
    assert "RUN pip install --no-cache-dir -r /app/requirements.txt" in docker
    assert docker.index("requirements.txt") < docker.index("COPY model/")  # cached layer first
    assert (
        'CMD ["python", "-m", "mlpipe_lab.serving.runtime", "Predictor", "--service-type", "MODEL"]'
        in docker
    )
    assert "GUNICORN_WORKERS=2" in docker and "USER 8888" in docker
    assert "seldon-core" not in docker + "\n".join(reqs)
    predictor = (out / "Predictor.py").read_text()
    assert "mlflow.pyfunc.load_model(self.model_dir)" in predictor
    assert "joblib" not in predictor and "pickle" not in predictor
    py_compile.compile(str(out / "Predictor.py"), doraise=True)
    assert (out / "runtime" / "mlpipe_lab" / "serving" / "runtime" / "server.py").is_file()
    assert any("3.11.7" in n for n in ctx.notes)


def test_seldon_core_runtime_rewrites_pins(model_dir, tmp_path):
    ctx = pkg.build_context(model_dir, tmp_path / "ctx", runtime="seldon-core")
    reqs = (ctx.path / "requirements.txt").read_text().split("\n")
    assert reqs[:7] == [
        "mlflow==3.17.2",
        "numpy",
        "pandas",
        "scikit-learn==1.9.1",
        "scipy==1.17.1",
        "skops==0.16.0",
        "seldon-core==1.19.0",
    ]
    docker = (ctx.path / "Dockerfile").read_text()
    assert "FROM python:3.12-slim" in docker
    assert 'CMD ["seldon-core-microservice", "Predictor", "--service-type", "MODEL"]' in docker
    assert not (ctx.path / "runtime").exists()


def test_requirement_rewriting_edge_cases():
    reqs = ["numpy==2.4.6 ; python_version >= '3.10'", "Pandas>=3", "uvicorn==0.1", "mlflow"]
    assert pkg.rewrite_requirements(reqs, "seldon-core") == [
        "numpy; python_version >= '3.10'",
        "Pandas",
        "uvicorn==0.1",
        "mlflow",
        "seldon-core==1.19.0",
    ]
    ours = pkg.rewrite_requirements(reqs, "mlpipe")
    assert "uvicorn==0.1" not in ours and "uvicorn==0.54.0" in ours
    with pytest.raises(pkg.PackageError):
        pkg.rewrite_requirements(reqs, "tensorflow-serving")


def test_requirements_from_conda_and_options(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    (d / "MLmodel").write_text(
        "flavors:\n  python_function:\n    loader_module: mlflow.pyfunc.model\n"
    )
    (d / "conda.yaml").write_text(
        "dependencies:\n- python=3.11\n- pip:\n  - --index-url http://x\n  - cloudpickle==3.1.2\n"
    )
    info = pkg.read_model(d)
    assert info.requirements == ["mlflow", "cloudpickle==3.1.2"]
    assert any("--index-url" in n for n in info.notes)


def test_refuses_non_pyfunc_and_non_empty_output(model_dir, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    with pytest.raises(pkg.PackageError, match="MLmodel"):
        pkg.read_model(bad)
    (bad / "MLmodel").write_text("flavors:\n  keras: {}\n")
    with pytest.raises(pkg.PackageError, match="python_function"):
        pkg.read_model(bad)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    with pytest.raises(pkg.PackageError, match="not empty"):
        pkg.build_context(model_dir, tmp_path / "full")
    with pytest.raises(pkg.PackageError):
        pkg.build_context(model_dir, tmp_path / "q", model_uri='models:/a"\nRUN evil')


def test_metadata_from_signature(model_dir):
    info = pkg.read_model(model_dir)
    assert pkg.model_metadata(info, "mlflowdemo", "1") == {
        "custom": {},
        "inputs": [{"datatype": "INT64", "name": "input", "shape": [-1, 2]}],
        "name": "mlflowdemo",
        "outputs": [{"datatype": "INT64", "name": "output", "shape": [-1]}],
        "platform": "mlflow-sklearn",
        "versions": ["1"],
    }
    info.signature = {"inputs": [{"type": "long", "name": "f0"}, {"type": "double", "name": "f1"}]}
    assert pkg.column_names(info) == ["f0", "f1"]
    assert pkg.model_metadata(info, "m", None)["inputs"] == [
        {"name": "f0", "datatype": "INT64", "shape": [-1]},
        {"name": "f1", "datatype": "FP64", "shape": [-1]},
    ]


def test_generated_predictor_served_by_copied_runtime(model_dir, tmp_path):
    """The context's own runtime copy serves its Predictor.py (mlflow.pyfunc stubbed)."""
    pytest.importorskip("numpy")
    pytest.importorskip("uvicorn")
    from serving_helpers import ServingServer, call

    ctx = pkg.build_context(model_dir, tmp_path / "ctx", model_name="mlflowdemo", model_version="1")
    fake = tmp_path / "fake"
    (fake / "mlflow").mkdir(parents=True)
    (fake / "mlflow" / "__init__.py").write_text("")
    (fake / "mlflow" / "pyfunc.py").write_text(FAKE_PYFUNC)
    # -S: no site-packages processing, so the editable mlpipe_lab install is invisible, as in
    # the image; the venv's packages come back through PYTHONPATH after the context's runtime.
    site = sysconfig.get_paths()
    pythonpath = os.pathsep.join(
        [str(ctx.path / "runtime"), str(fake), site["purelib"], site["platlib"]]
    )
    where = subprocess.run(
        [sys.executable, "-S", "-c", "import mlpipe_lab.serving.runtime as r; print(r.__file__)"],
        env={"PYTHONPATH": pythonpath, "PATH": "/usr/bin:/bin"},
        cwd=str(ctx.path),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert where.startswith(str(ctx.path / "runtime"))

    class ContextServer(ServingServer):
        def command(self):
            cmd = super().command()
            cmd.insert(1, "-S")
            cmd[cmd.index("--model-dir") + 1] = str(ctx.path)
            return cmd

    env = {"PYTHONPATH": pythonpath, "MODEL_DIR": str(ctx.path / "model")}
    with ContextServer("Predictor", env=env, cwd=ctx.path) as server:
        status, _, body = call(
            server.url + "/api/v1.0/predictions", "POST", {"data": {"ndarray": [[2, 1]]}}
        )
        assert (status, body) == (200, b'{"data":{"names":[],"ndarray":[1]},"meta":{}}\n')
        meta = json.loads(call(server.url + "/metadata")[2])
        assert meta["name"] == "mlflowdemo" and meta["platform"] == "mlflow-sklearn"
        assert meta["inputs"] == [{"datatype": "INT64", "name": "input", "shape": [-1, 2]}]
