"""The runner's command-line contract, and that generated DAGs speak it."""

from __future__ import annotations

import compile_corpus as cc
import jinja2.sandbox
import pytest
from compile_corpus import read_dag

from mlpipe_lab.compiler import compile_pipeline
from mlpipe_lab.pipeline import Pipeline
from mlpipe_lab.runner import contract
from mlpipe_lab.runner.contract import (
    CONTRACT_VERSION,
    build_parser,
    parse_args,
    runner_arguments,
    runner_command,
    store_arguments,
    task_arguments,
)


def test_round_trip_s3():
    argv = runner_arguments(
        store="s3",
        run_prefix="dag/runs/r1",
        endpoint="http://minio:9000",
        bucket="b",
        region="eu-west-1",
        prefix="team/x",
        kind="notebook",
        file="nb/train.ipynb",
        bundle="dag/bundles/t-abc.tar.gz",
        task_id="train",
        outputs=["model.pkl", "out/*.csv"],
        upstream=["prep", "load"],
        params=[("alpha", "0.5"), ("mode", '"fast"'), ("flag", "true"), ("note", "null")],
    )
    args = parse_args(argv)
    assert (args.store, args.endpoint, args.bucket, args.region, args.prefix) == (
        "s3",
        "http://minio:9000",
        "b",
        "eu-west-1",
        "team/x",
    )
    assert (args.run_prefix, args.kind, args.file, args.bundle, args.task_id) == (
        "dag/runs/r1",
        "notebook",
        "nb/train.ipynb",
        "dag/bundles/t-abc.tar.gz",
        "train",
    )
    assert args.outputs == ["model.pkl", "out/*.csv"] and args.upstream == ["prep", "load"]
    assert args.params == {"alpha": 0.5, "mode": "fast", "flag": True, "note": None}
    assert args.contract == CONTRACT_VERSION


def test_round_trip_local_and_defaults():
    argv = store_arguments(
        store="local", root="local/artifacts", run_prefix="d/runs/x"
    ) + task_arguments(kind="r", file="a.r", bundle="d/bundles/a.tar.gz", task_id="a")
    args = parse_args(argv)
    assert (args.store, args.root, args.kind) == ("local", "local/artifacts", "r")
    assert args.outputs == [] and args.upstream == [] and args.params == {}
    assert runner_command() == ["python3", "-m", "mlpipe_lab.runner"]


def test_param_values_that_are_not_json_stay_text():
    args = parse_args(
        store_arguments(store="local", root="r", run_prefix="p")
        + task_arguments(
            kind="python",
            file="a.py",
            bundle="b",
            task_id="a",
            params=[("x", "not json"), ("y", ""), ("z", "a=b")],
        )
    )
    assert args.params == {"x": "not json", "y": "", "z": "a=b"}


@pytest.mark.parametrize(
    "argv",
    [
        [
            "--store",
            "s3",
            "--run-prefix",
            "p",
            "--kind",
            "python",
            "--file",
            "a",
            "--bundle",
            "b",
            "--task-id",
            "t",
        ],
        [
            "--store",
            "local",
            "--run-prefix",
            "p",
            "--kind",
            "python",
            "--file",
            "a",
            "--bundle",
            "b",
            "--task-id",
            "t",
        ],
        [
            "--contract",
            "99",
            "--store",
            "local",
            "--root",
            "r",
            "--run-prefix",
            "p",
            "--kind",
            "python",
            "--file",
            "a",
            "--bundle",
            "b",
            "--task-id",
            "t",
        ],
        [
            "--store",
            "local",
            "--root",
            "r",
            "--run-prefix",
            "p",
            "--kind",
            "sql",
            "--file",
            "a",
            "--bundle",
            "b",
            "--task-id",
            "t",
        ],
        [
            "--store",
            "local",
            "--root",
            "r",
            "--run-prefix",
            "p",
            "--kind",
            "python",
            "--file",
            "a",
            "--bundle",
            "b",
            "--task-id",
            "t",
            "--param",
            "no-equals",
        ],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2


def test_builders_refuse_nonsense():
    with pytest.raises(ValueError):
        task_arguments(kind="sql", file="a", bundle="b", task_id="t")
    with pytest.raises(ValueError):
        store_arguments(store="s3", run_prefix="p")
    with pytest.raises(ValueError):
        store_arguments(store="local", run_prefix="p")
    with pytest.raises(ValueError):
        store_arguments(store="ftp", run_prefix="p")


def test_parser_is_stdlib_only():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(contract))
    modules = {
        a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    modules |= {
        n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
    }
    assert modules <= {
        "__future__",
        "argparse",
        "base64",
        "binascii",
        "collections",
        "json",
        "typing",
    }
    assert build_parser().prog == "python -m mlpipe_lab.runner"


@pytest.mark.parametrize("config", [cc.CONFIG, cc.LOCAL_CONFIG], ids=["s3", "local"])
def test_generated_commands_parse_after_rendering(config):
    out = compile_pipeline(
        Pipeline(cc.everything(), "e.pipeline"),
        images=cc.IMAGES,
        config=config,
        source_path="e.pipeline",
    )
    dag = read_dag(out.text)
    env = jinja2.sandbox.SandboxedEnvironment(extensions=["jinja2.ext.do"], cache_size=0)
    params = {
        "alpha": 0.25,
        "epochs": 3,
        "mode": "fast",
        "dry_run": True,
        "note": None,
        "items": "i",
    }
    for task_id, task in dag["tasks"].items():
        rendered = [
            env.from_string(a).render(params=params, run_id="manual__2024")
            for a in task["cmds"] + task["arguments"]
        ]
        # Kubernetes: the runner copied in by an init container; the local runtime: installed
        launcher = runner_command(delivery="init-container" if config is cc.CONFIG else "image")
        assert rendered[: len(launcher)] == launcher
        args = parse_args(rendered[len(launcher) :])
        assert args.task_id == task_id and args.run_prefix == "everything/runs/manual__2024"
        assert args.bundle == f"everything/bundles/{task_id}.tar.gz"
        if task_id == "train_model":
            assert args.params == {"alpha": 0.25, "epochs": 3}
            assert args.upstream == ["Prepare_data"] and args.kind == "notebook"
            assert args.file == "train.ipynb"  # relative to the bundle root: its folder
        if config is cc.CONFIG:
            assert (args.store, args.bucket, args.prefix) == (
                "s3",
                "mlpipe",
                "pipelines/team-a/churn",
            )
        else:
            assert (args.store, args.root) == ("local", "local/artifacts")
