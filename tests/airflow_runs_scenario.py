"""Runs against a real `airflow standalone` that reads DAGs from a git repo: the scenario behind
tests/runs/test_runs_airflow.py, run INSIDE the private network namespace (with Airflow and moto S3).

    python airflow_runs_scenario.py WORKDIR BARE_REPO API   (API: v2 | v1)

Prints ``RESULT <json>``: what each step observed; the test asserts on it. Each step catches its own
ServiceError so that one failure still reports the others.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gitserver import git  # noqa: E402
from pipeline_builder import node, pipeline  # noqa: E402
from s3server import S3Server  # noqa: E402

from mlpipe_lab.cli import main as mlpipe  # noqa: E402
from mlpipe_lab.errors import ServiceError  # noqa: E402
from mlpipe_lab.pipeline import dumps  # noqa: E402
from mlpipe_lab.runs import RunsService  # noqa: E402
from mlpipe_lab.runs.airflow import AirflowRuns  # noqa: E402
from mlpipe_lab.services import Services  # noqa: E402

KEY_ID, SECRET = "AKIARUNSTEST", "runs-secret-0b7f"
DAG_ID = "runs_demo"
FAIL_ID = "runs_fails"
SLOW_ID = "runs_slow"
FAN_ID = "runs_fan"


def credentials(home: Path, api: str) -> tuple[str, str]:
    deadline = time.monotonic() + 120
    while True:
        try:
            if api == "v2":
                users = json.loads(
                    (home / "simple_auth_manager_passwords.json.generated").read_text()
                )
                return next(iter(users.items()))
            return "admin", (home / "standalone_admin_password.txt").read_text().strip()
        except (OSError, ValueError, StopIteration):
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def write_pipeline(
    folder: Path, name: str, dag_id: str, nodes: list[dict], files: dict[str, str]
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        (folder / rel).write_text(text)
    doc = pipeline(
        name,
        nodes,
        mlpipe={
            "dag_id": dag_id,
            "parameters": [{"name": "scale", "type": "number", "default": 1.0}],
        },
    )
    path = folder / f"{name}.pipeline"
    path.write_text(dumps(doc))
    return path


def error(exc: ServiceError) -> dict:
    return {"status": exc.status, "message": exc.message, "field": exc.field}


def step(out: dict, name: str, fn) -> None:
    started = time.monotonic()
    try:
        out[name] = fn()
    except ServiceError as exc:
        out[name] = {"service_error": error(exc)}
    except Exception:
        out[name] = {"crash": traceback.format_exc()[-3000:]}
    out.setdefault("_seconds", {})[name] = round(time.monotonic() - started, 1)


def until(fn, timeout: float, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("gave up waiting")
        time.sleep(interval)


def main() -> int:
    work, bare, api = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    home = Path(os.environ["AIRFLOW_HOME"])
    os.environ["MLPIPE_LAB_DATA_DIR"] = str(work / "data")
    user, password = credentials(home, api)
    s3 = S3Server(max_seconds=900)
    s3.start()
    out: dict = {"api": api}
    try:
        import boto3

        boto3.session.Session().client(
            "s3",
            endpoint_url=s3.endpoint,
            region_name="us-east-1",
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
        ).create_bucket(Bucket="runs")
        project = work / "project"
        write_pipeline(
            project,
            "demo",
            DAG_ID,
            [
                node(
                    "prep",
                    "prep.py",
                    label="Prepare data",
                    outputs=["data.txt"],
                    pipeline_parameters=["scale"],
                ),
                node("train", "train.py", label="Train", parents=["prep"]),
            ],
            {
                "prep.py": "import os\nopen('data.txt', 'w').write('rows')\n"
                "print('prepared with scale', os.environ['scale'])\n",
                "train.py": "print('trained on', open('data.txt').read())\n",
            },
        )
        write_pipeline(
            project,
            "fails",
            FAIL_ID,
            [node("bad", "bad.py", label="Load table")],
            {"bad.py": "import sys\nprint('loading')\nsys.exit('table sales is missing')\n"},
        )
        write_pipeline(
            project,
            "slow",
            SLOW_ID,
            [node("nap", "nap.py", label="Nap")],
            {"nap.py": "import time\nprint('napping', flush=True)\ntime.sleep(300)\n"},
        )
        services = Services(project)
        base = {
            "type": "airflow",
            "airflow": {
                "api_endpoint": "http://127.0.0.1:8080",
                "version": "auto",
                "execution_mode": "local-worker",
                "auth": {"type": "basic", "username": user, "password": password},
            },
            "dag_repo": {"url": str(bare), "branch": "main", "subfolder": "dags"},
            "object_storage": {
                "endpoint": s3.endpoint,
                "bucket": "runs",
                "region": "us-east-1",
                "prefix": "mlpipe",
                "auth": {
                    "type": "credentials",
                    "access_key_id": KEY_ID,
                    "secret_access_key": SECRET,
                },
            },
        }
        services.catalogs.create("runtime-configs", {"name": "af", **base})
        services.catalogs.create(
            "runtime-configs",
            {
                "name": "af-badpass",
                **base,
                "airflow": {
                    **base["airflow"],
                    "auth": {"type": "basic", "username": user, "password": password + "x"},
                },
            },
        )
        services.catalogs.create(
            "runtime-configs",
            {
                "name": "af-down",
                **base,
                "airflow": {**base["airflow"], "api_endpoint": "http://127.0.0.1:9"},
            },
        )
        services.catalogs.create(
            "runtime-configs",
            {
                "name": "af-nos3",
                **base,
                "object_storage": {**base["object_storage"], "endpoint": "http://127.0.0.1:9"},
            },
        )
        runs = RunsService(services)

        # 1. before publishing: Airflow does not know the DAG
        step(
            out,
            "status_before",
            lambda: runs.publish_status({"runtime_config": "af", "dag_id": DAG_ID}),
        )

        # 2. mlpipe submit --trigger --wait: publish, wait for the import at the pushed commit, trigger, follow
        def submit_trigger():
            stdout, stderr = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                code = mlpipe(
                    [
                        "submit",
                        str(project / "demo.pipeline"),
                        "-r",
                        "af",
                        "--trigger",
                        "--wait",
                        "--param",
                        "scale=3",
                        "--json",
                        "--import-timeout",
                        "240",
                    ]
                )
            return {
                "exit": code,
                "run": json.loads(stdout.getvalue()) if stdout.getvalue().strip() else None,
                "progress": stderr.getvalue()[-3000:],
                "head": git("rev-parse", "main", cwd=bare).strip(),
            }

        step(out, "submit_trigger", submit_trigger)
        run = (out["submit_trigger"] or {}).get("run") or {}

        step(
            out,
            "status_after",
            lambda: runs.publish_status(
                {"runtime_config": "af", "dag_id": DAG_ID, "commit": out["submit_trigger"]["head"]}
            ),
        )
        step(out, "run", lambda: runs.get("af", DAG_ID, run["id"]))
        step(out, "log_prep", lambda: runs.logs("af", DAG_ID, run["id"], "Prepare_data"))
        step(
            out,
            "log_tail",
            lambda: runs.logs(
                "af", DAG_ID, run["id"], "Prepare_data", offset=out["log_prep"]["offset"]
            ),
        )
        step(
            out,
            "listed",
            lambda: [r["id"] for r in runs.list(runtime_config="af", dag_id=DAG_ID)["runs"]],
        )
        step(
            out,
            "listed_by_path",
            lambda: [r["id"] for r in runs.list(runtime_config="af", path="demo.pipeline")["runs"]],
        )

        def cli_runs_and_logs():
            res = {}
            for name, argv in [
                ("runs", ["runs", "-r", "af", "--dag-id", DAG_ID]),
                ("show", ["runs", "show", run["id"], "-r", "af", "--dag-id", DAG_ID]),
                ("logs", ["logs", run["id"], "Train", "-r", "af", "--dag-id", DAG_ID]),
            ]:
                stdout = io.StringIO()
                with contextlib.redirect_stdout(stdout):
                    res[name] = [mlpipe(argv), stdout.getvalue()[-3000:]]
            return res

        step(out, "cli", cli_runs_and_logs)

        # 2b. a fan-out node (docs/control-flow.md): its mapped instances are one task with items,
        #     its log each item's log
        def fan_out():
            (project / "work.py").write_text(
                "import os\nprint('working on', os.environ['MLPIPE_ITEM'])\n"
            )
            doc = pipeline(
                "fan",
                [
                    node(
                        "work",
                        "work.py",
                        label="Work",
                        mlpipe={
                            "for_each": {"value_from": {"from": "parameter", "parameter": "shards"}}
                        },
                    )
                ],
                mlpipe={
                    "dag_id": FAN_ID,
                    "parameters": [{"name": "shards", "type": "list", "default": ["x"]}],
                },
            )
            (project / "fan.pipeline").write_text(dumps(doc))
            stdout = io.StringIO()
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
                code = mlpipe(
                    [
                        "submit",
                        str(project / "fan.pipeline"),
                        "-r",
                        "af",
                        "--trigger",
                        "--wait",
                        "--param",
                        'shards=["a", "b"]',
                        "--json",
                        "--import-timeout",
                        "240",
                    ]
                )
            fan = json.loads(stdout.getvalue()) if stdout.getvalue().strip() else {}
            return {
                "exit": code,
                "run": fan,
                "log": runs.logs("af", FAN_ID, fan["id"], "Work") if fan.get("id") else None,
            }

        step(out, "fan_out", fan_out)

        # 3. republish a change. A commit Airflow has not read yet is "waiting": on Airflow 2 the DAG
        #    folder's sync is held meanwhile; on Airflow 3 a commit on a branch the bundle does not track.
        def republish():
            airflow = AirflowRuns(
                "af", services.catalogs.runtime_config("af", with_secrets=True), services
            )
            previous = git("rev-parse", "main", cwd=bare).strip()
            (project / "train.py").write_text("print('trained v2 on', open('data.txt').read())\n")
            if api == "v1":
                (work / "pause-sync").write_text("")
                time.sleep(3)  # a pull already under way ends
                published = services.publishing.submit("demo.pipeline", "af")
                held = runs.publish_status(
                    {"runtime_config": "af", "dag_id": DAG_ID, "commit": published["commit"]}
                )
                (work / "pause-sync").unlink()
            else:
                side = work / "side"
                git("clone", "-q", str(bare), str(side))
                (side / "dags" / f"{DAG_ID}.py").write_text("# not tracked\n")
                git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "side", cwd=side)
                git("push", "-q", "origin", "HEAD:refs/heads/side", cwd=side)
                held = runs.publish_status(
                    {
                        "runtime_config": "af",
                        "dag_id": DAG_ID,
                        "commit": git("rev-parse", "HEAD", cwd=side).strip(),
                    }
                )
                published = services.publishing.submit("demo.pipeline", "af")
            t0 = time.monotonic()
            final = airflow.wait_imported(DAG_ID, published["commit"], timeout=240)
            return {
                "previous": previous,
                "commit": published["commit"],
                "held": held,
                "final": final,
                "seconds": round(time.monotonic() - t0, 1),
            }

        step(out, "republish", republish)

        # 4. a failing node: POST runs with publish; the run's message names the node and its error
        def failing():
            started = runs.start(
                {
                    "runtime_config": "af",
                    "path": "fails.pipeline",
                    "publish": True,
                    "import_timeout": 240,
                }
            )
            return until(
                lambda: (lambda r: r if r["state"] not in ("queued", "running") else None)(
                    runs.get("af", FAIL_ID, started["id"])
                ),
                300,
                2,
            )

        step(out, "failing", failing)

        # 5. cancel a running run
        def cancel():
            started = runs.start(
                {
                    "runtime_config": "af",
                    "path": "slow.pipeline",
                    "publish": True,
                    "import_timeout": 240,
                }
            )
            until(
                lambda: (
                    True
                    if any(
                        t["state"] == "running"
                        for t in runs.get("af", SLOW_ID, started["id"])["tasks"]
                    )
                    else None
                ),
                300,
                2,
            )
            cancelled = runs.cancel("af", SLOW_ID, started["id"])
            return {
                "cancelled": cancelled,
                "again": runs.get("af", SLOW_ID, started["id"])["state"],
            }

        step(out, "cancel", cancel)

        # 6. a broken DAG file in the repo: import_error with Airflow's message
        def broken():
            clone = work / "clone"
            git("clone", "-q", str(bare), str(clone))
            (clone / "dags" / "broken_dag.py").write_text(
                "import airflow  # a dag file\nraise RuntimeError('broken on purpose')\n"
            )
            git("add", "dags/broken_dag.py", cwd=clone)
            git(
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-q",
                "-m",
                "broken",
                cwd=clone,
            )
            git("push", "-q", "origin", "HEAD:main", cwd=clone)
            sha = git("rev-parse", "HEAD", cwd=clone).strip()
            status = until(
                lambda: (lambda s: s if s["state"] == "import_error" else None)(
                    runs.publish_status(
                        {"runtime_config": "af", "dag_id": "broken_dag", "commit": sha}
                    )
                ),
                240,
                2,
            )
            try:
                AirflowRuns(
                    "af", services.catalogs.runtime_config("af", with_secrets=True), services
                ).wait_imported("broken_dag", sha, timeout=5)
                waited = None
            except ServiceError as exc:
                waited = error(exc)
            return {"status": status, "wait": waited}

        step(out, "broken", broken)

        # 7. errors in plain words
        def token_auth():  # Airflow 3: a bearer token (here one Airflow issued) instead of a password
            from mlpipe_lab.airflowapi import AirflowClient

            token = AirflowClient("http://127.0.0.1:8080", user, password).token()
            services.catalogs.create(
                "runtime-configs",
                {
                    "name": "af-token",
                    **base,
                    "airflow": {**base["airflow"], "auth": {"type": "token", "token": token}},
                },
            )
            listed = runs.list(runtime_config="af-token", dag_id=DAG_ID)["runs"]
            return {"ids": [r["id"] for r in listed], "token_shown": token in json.dumps(listed)}

        if api == "v2":
            step(out, "token_auth", token_auth)
        step(out, "bad_password", lambda: runs.list(runtime_config="af-badpass", dag_id=DAG_ID))
        step(out, "unreachable", lambda: runs.list(runtime_config="af-down", dag_id=DAG_ID))
        step(
            out,
            "no_object_store",
            lambda: runs.start(
                {"runtime_config": "af-nos3", "path": "demo.pipeline", "publish": True}
            ),
        )
        step(
            out,
            "never_imported",
            lambda: AirflowRuns(
                "af", services.catalogs.runtime_config("af", with_secrets=True), services
            ).wait_imported("never_there", "0" * 40, timeout=3),
        )
        step(out, "unknown_run", lambda: runs.get("af", DAG_ID, "manual__nope"))
        step(
            out,
            "trigger_unpublished",
            lambda: runs.start({"runtime_config": "af", "dag_id": "never_there"}),
        )
        out["secrets_in_output"] = [s for s in (password, SECRET) if s in json.dumps(out)]
    finally:
        s3.stop()
    print("RESULT " + json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
