"""execution_mode 'local-worker': tasks are BashOperators that run the node runner on the Airflow
worker. The shell command, once Airflow has rendered it and bash has parsed it, is exactly the
argument vector a task pod would get; environment, retries and dependencies are the pod's too."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import compile_corpus as cc
import jinja2.sandbox
import pytest
from compile_corpus import node, pipeline
from hypothesis import HealthCheck, assume, given, settings
from test_compile_hostile import EXAMPLES, hostile_pipelines

from mlpipe_lab.compiler import compile_pipeline
from mlpipe_lab.compiler.bash import PYTHON_VAR, command, sh_quote
from mlpipe_lab.pipeline import Pipeline, PipelineError
from mlpipe_lab.runner.contract import (
    DAG_RUNNER_ENV,
    IMAGE_ENV,
    RUNNER_ENV,
    WORKER_ZIPAPP,
    runner_command,
)

JINJA = jinja2.sandbox.SandboxedEnvironment(
    extensions=["jinja2.ext.do"], cache_size=0, undefined=jinja2.StrictUndefined
)
RUN_ID = "manual__2024-01-01T00:00:00+00:00"


def pod_env(env: dict) -> dict:
    """A pod's environment less what only pods have (the image's name for the runner's messages)."""
    return {k: v for k, v in env.items() if k != IMAGE_ENV}


def worker_env(env: dict) -> dict:
    """A worker task's environment less what only worker tasks have (the runner beside the DAG)."""
    assert env[DAG_RUNNER_ENV] == "/opt/airflow/dags/" + WORKER_ZIPAPP  # cc.DAG_FILE's folder
    return {k: v for k, v in env.items() if k != DAG_RUNNER_ENV}


def worker_config(base=None, **airflow):
    cfg = copy.deepcopy(base or cc.CONFIG)
    cfg.setdefault("airflow", {})["execution_mode"] = "local-worker"
    cfg["airflow"].update(airflow)
    return cfg


def compile_doc(doc, config, target=None):
    return compile_pipeline(
        Pipeline(doc, "p.pipeline"),
        images=cc.IMAGES,
        config=config,
        source_path="p.pipeline",
        target=target,
    )


@pytest.fixture
def bash_ast(monkeypatch):
    """cc.check_dag_ast / cc.read_dag, taught the local-worker shape (BashOperator, TASK_SETTINGS)."""
    monkeypatch.setattr(cc, "ALLOWED_CALLS", cc.ALLOWED_CALLS | {"BashOperator"})
    monkeypatch.setattr(
        cc,
        "ALLOWED_IMPORTS",
        cc.ALLOWED_IMPORTS
        | {
            ("airflow.providers.standard.operators.bash", "BashOperator"),
            ("airflow.operators.bash", "BashOperator"),
        },
    )
    monkeypatch.setattr(cc, "CONSTANTS", cc.CONSTANTS | {"TASK_SETTINGS"})

    def as_kpo(text):  # the corpus checker only knows one operator name in the DAG block
        assert "KubernetesPodOperator" not in text
        return text.replace(" = BashOperator(", " = KubernetesPodOperator(")

    return lambda text: cc.read_dag(as_kpo(text))


def render(value, params):
    if isinstance(value, str):
        return JINJA.from_string(value).render(params=params, run_id=RUN_ID)
    if isinstance(value, dict):
        return {k: render(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, params) for v in value]
    return value


@pytest.fixture(scope="module")
def argv_dump(tmp_path_factory):
    """An executable standing in for python3: writes its argv as JSON to $ARGV_OUT."""
    path = tmp_path_factory.mktemp("bin") / "fake-python"
    path.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        "open(os.environ['ARGV_OUT'], 'w').write(json.dumps(sys.argv[1:]))\n"
    )
    path.chmod(0o755)
    return path


def shell_argv(cmd: str, fake, out) -> list[str]:
    """What bash passes to the interpreter for a rendered bash_command (as BashOperator runs it),
    with the runner zipapp's path replaced by ``-m mlpipe_lab.runner`` (a pod's runner)."""
    runner = out.parent / "mlpipe-runner.pyz"
    runner.write_bytes(b"")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        PYTHON_VAR: str(fake),
        DAG_RUNNER_ENV: str(runner),
        "ARGV_OUT": str(out),
    }
    subprocess.run(["bash", "-c", cmd], env=env, check=True, timeout=30)
    argv = json.loads(out.read_text())
    assert argv[:2] == ["-S", str(runner)], argv
    return ["-m", "mlpipe_lab.runner", *argv[2:]]


def pod_argv(kpo_task) -> list[str]:
    """The runner's argv in the pod, as ``python3 -m mlpipe_lab.runner`` would get it (without
    "python3"): the pod's launcher passes its arguments on to the runner unchanged."""
    cmds = list(kpo_task["cmds"])
    launcher = runner_command(delivery="init-container")
    if cmds[: len(launcher)] == launcher:
        cmds = runner_command() + cmds[len(launcher) :]
    return cmds[1:] + list(kpo_task["arguments"])


# -- the emitted file ------------------------------------------------------------------------------


def test_everything_pipeline_becomes_bash_tasks(bash_ast, argv_dump, tmp_path):
    doc = cc.everything()
    kpo = cc.read_dag(compile_doc(doc, cc.CONFIG).text)
    out = compile_doc(doc, worker_config())
    dag = bash_ast(out.text)
    assert (
        "KubernetesPodOperator" not in out.text
        and "k8s" not in out.text
        and "Secret" not in out.text
    )
    assert (
        "try:\n    from airflow.providers.standard.operators.bash import BashOperator\nexcept ImportError"
        in out.text
    )
    assert dag["order"] == kpo["order"] and dag["upstream"] == kpo["upstream"]
    assert dag["dag"] == kpo["dag"]
    params = {
        "alpha": 0.5,
        "epochs": 3,
        "mode": "fast",
        "dry_run": True,
        "note": None,
        "items": "it's",
    }
    for task_id, task in dag["tasks"].items():
        pod = kpo["tasks"][task_id]
        assert task["append_env"] is True and task["do_xcom_push"] is False
        assert task["bash_command"].startswith(dag["constants"]["RUNNER"] + " --contract 1 ")
        assert not task["bash_command"].endswith((".sh", ".bash"))
        for key in (
            "retries",
            "retry_delay",
            "execution_timeout",
            "trigger_rule",
            "pool",
            "priority_weight",
            "task_display_name",
            "doc_md",
        ):
            assert task.get(key) == pod.get(key), (task_id, key)
        assert worker_env(task["env"]) == pod_env(pod["env_vars"])
        for key in (
            "image",
            "container_resources",
            "volumes",
            "tolerations",
            "secrets",
            "labels",
            "cmds",
        ):
            assert key not in task
        rendered = render(task["bash_command"], params)
        assert shell_argv(rendered, argv_dump, tmp_path / "argv.json") == render(
            pod_argv(pod), params
        )
    # one warning per Kubernetes-only kind, not per node
    kinds = [p.extra.get("kind") for p in out.problems if p.code == "local-worker"]
    assert sorted(kinds) == sorted(set(kinds))
    assert {"image", "resources", "volumes", "tolerations", "secrets"} <= set(kinds)
    assert not [p for p in out.problems if p.code == "execution-mode"]


def test_kubernetes_mode_untouched():
    doc = cc.everything()
    for mode in (None, "kubernetes"):
        cfg = copy.deepcopy(cc.CONFIG)
        if mode is None:
            cfg["airflow"].pop("execution_mode", None)
        text = compile_doc(doc, cfg).text
        assert "BashOperator" not in text and "KubernetesPodOperator(" in text


def test_unknown_mode_still_warns_and_uses_pods():
    out = compile_doc(cc.everything(), worker_config(execution_mode="ssh"))
    assert "KubernetesPodOperator(" in out.text
    assert [p.code for p in out.problems].count("execution-mode") == 1


def test_deterministic_and_key_order_independent(bash_ast):
    doc = cc.everything()
    texts = {
        compile_doc(d, worker_config()).text
        for d in (doc, copy.deepcopy(doc), cc.shuffled_keys(doc))
    }
    assert len(texts) == 1


@pytest.mark.parametrize(
    "target,line",
    [
        ("3", "from airflow.providers.standard.operators.bash import BashOperator"),
        ("2", "from airflow.operators.bash import BashOperator"),
    ],
)
def test_fixed_targets(target, line, bash_ast):
    text = compile_doc(cc.everything(), worker_config(), target=target).text
    assert line in text and "except ImportError" not in text
    bash_ast(text)


def test_hostile_corpus(bash_ast, argv_dump, tmp_path):
    doc = cc.hostile()
    kpo = cc.read_dag(compile_doc(doc, cc.CONFIG).text)
    out = compile_doc(doc, worker_config())
    dag = bash_ast(out.text)
    params = {"text": cc.HOSTILE[0] + "'\"{{ x }}", "choice": "\n"}
    for task_id, task in dag["tasks"].items():
        pod = kpo["tasks"][task_id]
        cmd = render(task["bash_command"], params)
        if "\x00" in cmd:  # argv cannot hold NUL: neither a pod nor bash can run this one
            continue
        assert shell_argv(cmd, argv_dump, tmp_path / "a.json") == render(pod_argv(pod), params)
        assert render(worker_env(task["env"]), params) == render(pod_env(pod["env_vars"]), params)


def test_command_quoting_units():
    assert sh_quote("it's") == "'it'\"'\"'s'"
    cmd = command(["--store", "local"], ["--output", "x.sh"])
    assert cmd.endswith("--output 'x.sh'")
    assert command([], ["a b"]).endswith("'a b'")


def test_store_secret_warns_once():
    cfg = worker_config()
    cfg["object_storage"]["pod_credentials_secret"] = "s3-creds"
    out = compile_doc(cc.everything(), cfg)
    assert [p.extra.get("kind") for p in out.problems if p.code == "local-worker"].count(
        "secrets"
    ) == 1


@given(hostile_pipelines())
@settings(
    max_examples=max(20, EXAMPLES // 5),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_any_text_runs_the_same_argv(argv_dump, tmp_path, bash_ast, case):
    doc, values = case
    try:
        out = compile_doc(doc, worker_config())
    except PipelineError as exc:
        assert {p.code for p in exc.problems} == {"template-text"}, exc.problems
        return
    try:  # pod mode also protects annotations and volume sub-paths, so it may refuse more
        kpo = cc.read_dag(compile_doc(doc, cc.CONFIG).text)
    except PipelineError:
        return
    dag = bash_ast(out.text)
    params = {"p": values["param_default"]}
    for task_id, task in dag["tasks"].items():
        cmd = render(task["bash_command"], params)
        assume("\x00" not in cmd)
        try:
            cmd.encode("utf-8")
        except UnicodeEncodeError:
            assume(False)
        assert shell_argv(cmd, argv_dump, tmp_path / "h.json") == render(
            pod_argv(kpo["tasks"][task_id]), params
        )
        assert render(worker_env(task["env"]), params) == render(
            pod_env(kpo["tasks"][task_id]["env_vars"]), params
        )


def test_env_value_ending_in_sh_is_not_a_template_file(bash_ast):
    doc = pipeline(
        "sh",
        [node("a", "a.py", params={"env_vars": [{"env_var": "S", "value": "deploy.sh"}]})],
        defaults={"runtime_image": "registry.example.com/ml/runtime:1.4"},
        mlpipe={"dag_id": "sh"},
    )
    task = bash_ast(compile_doc(doc, worker_config()).text)["tasks"]["a"]
    assert task["env"]["S"] == "{% raw %}deploy.sh{% endraw %}"
    assert render(task["env"], {})["S"] == "deploy.sh"


def test_worker_launcher_says_what_is_missing_in_one_line(bash_ast, tmp_path):
    """The runner beside the DAG is missing, or the worker has no such python: one line each,
    status 127; MLPIPE_RUNNER on the worker names another copy of the runner."""
    doc = pipeline(
        "w",
        [node("a", "a.py")],
        defaults={"runtime_image": "registry.example.com/ml/runtime:1.4"},
        mlpipe={"dag_id": "w"},
    )
    dag = bash_ast(compile_doc(doc, worker_config()).text)
    task = dag["tasks"]["a"]
    cmd = render(task["bash_command"], {})
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}

    def run(**env):
        return subprocess.run(
            ["bash", "-c", cmd], env={**base, **env}, capture_output=True, text=True, timeout=30
        )

    missing = tmp_path / "dags" / WORKER_ZIPAPP
    proc = run(**{DAG_RUNNER_ENV: str(missing)})
    assert proc.returncode == 127 and proc.stderr == (
        f"mlpipe-runner: the runner {missing} is missing: publish the DAG with mlpipe submit or "
        f"export (they write {WORKER_ZIPAPP} beside it) or set MLPIPE_RUNNER on the worker\n"
    )
    proc = run(**{DAG_RUNNER_ENV: str(missing), PYTHON_VAR: "/nowhere/python3"})
    assert proc.returncode == 127 and proc.stderr == (
        "mlpipe-runner: this Airflow worker has no /nowhere/python3: set MLPIPE_RUNNER_PYTHON to "
        "a python3 (3.9 or later)\n"
    )
    other = tmp_path / "elsewhere.pyz"
    other.write_text("import sys; print('runner elsewhere', sys.argv[1:3])")
    proc = run(**{DAG_RUNNER_ENV: str(missing), RUNNER_ENV: str(other), PYTHON_VAR: sys.executable})
    assert proc.returncode == 0 and proc.stdout == "runner elsewhere ['--contract', '1']\n"
