"""Runtime configurations from the browser stay in bounds (issue #17): local paths and file-based
tracking URIs only in the root, the data folder or the administrator's folders; credentials over
plain http:// to another machine only when the configuration says so. The services the server
builds (confine_outputs=True) are the REST handlers' code path; the CLI's (False) is unchanged."""

from __future__ import annotations

import pytest

from mlpipe_lab.errors import MLPipeError
from mlpipe_lab.services import Services

pytestmark = pytest.mark.hardening


@pytest.fixture
def server_services(tmp_path):
    root, data, allowed = tmp_path / "root", tmp_path / "data", tmp_path / "allowed"
    for folder in (root, data, allowed):
        folder.mkdir()
    return Services(root, data, allowed_local_paths=[allowed]), tmp_path


def airflow(**over):
    entry = {
        "name": "af",
        "type": "airflow",
        "airflow": {"api_endpoint": "https://airflow.example.com"},
        "dag_repo": {"url": "https://git.example.com/org/dags.git"},
    }
    for key, value in over.items():
        entry[key] = {**entry.get(key, {}), **value} if isinstance(value, dict) else value
    return entry


@pytest.mark.parametrize(
    "entry,field",
    [
        (
            {"name": "l", "type": "local", "local": {"dag_repo_path": "/{t}/out/dags.git"}},
            "local.dag_repo_path",
        ),
        (
            {"name": "l", "type": "local", "local": {"artifacts_path": "../../out"}},
            "local.artifacts_path",
        ),
        (airflow(dag_repo={"url": "/{t}/out/repo.git"}), "dag_repo.url"),
        (airflow(dag_repo={"url": "file:///{t}/out/repo.git"}), "dag_repo.url"),
        (airflow(mlflow={"tracking_uri": "sqlite:////{t}/out/mlflow.db"}), "mlflow.tracking_uri"),
        (airflow(mlflow={"tracking_uri": "file:///{t}/out/mlruns"}), "mlflow.tracking_uri"),
    ],
)
def test_local_paths_outside_the_allowed_folders_are_refused(server_services, entry, field):
    services, tmp = server_services
    import json

    entry = json.loads(json.dumps(entry).replace("/{t}", str(tmp)))
    with pytest.raises(MLPipeError) as exc:
        services.catalogs.create("runtime-configs", entry)
    assert exc.value.status == 403 and exc.value.field == field
    assert "allowed_local_paths" in exc.value.message
    assert not (tmp / "out").exists()


def test_local_paths_inside_the_root_data_or_allowed_folders_are_kept(server_services):
    services, tmp = server_services
    for i, path in enumerate(
        [str(tmp / "root" / "dags.git"), "local/dags.git", str(tmp / "allowed" / "d.git")]
    ):
        entry = {"name": f"l{i}", "type": "local", "local": {"dag_repo_path": path}}
        assert services.catalogs.create("runtime-configs", entry)["name"] == f"l{i}"
        services.catalogs.runtime_config(f"l{i}")


def test_the_cli_may_point_anywhere(tmp_path):
    services = Services(tmp_path / "root", tmp_path / "data", confine_outputs=False)
    entry = {"name": "l", "type": "local", "local": {"dag_repo_path": "/srv/elsewhere.git"}}
    assert services.catalogs.create("runtime-configs", entry)["name"] == "l"


SECRET = "plain-http-canary-77"


@pytest.mark.parametrize(
    "over,field",
    [
        (
            {
                "airflow": {
                    "api_endpoint": "http://airflow.example.com:8080",
                    "auth": {"type": "basic", "username": "u", "password": SECRET},
                }
            },
            "airflow.api_endpoint",
        ),
        (
            {
                "dag_repo": {
                    "url": "http://git.example.com/org/dags.git",
                    "auth": {"type": "token", "token": SECRET},
                }
            },
            "dag_repo.url",
        ),
        (
            {
                "object_storage": {
                    "endpoint": "http://10.0.0.5:9000",
                    "bucket": "bucket",
                    "auth": {
                        "type": "credentials",
                        "access_key_id": "AKIA",
                        "secret_access_key": SECRET,
                    },
                }
            },
            "object_storage.endpoint",
        ),
    ],
)
def test_credentials_over_plain_http_need_consent(server_services, over, field):
    services, _ = server_services
    with pytest.raises(MLPipeError) as exc:
        services.catalogs.create("runtime-configs", airflow(**over))
    assert exc.value.status == 400 and exc.value.field == field
    assert "plain http://" in exc.value.message and SECRET not in exc.value.message
    # the configuration says it is intended: stored
    entry = services.catalogs.create("runtime-configs", airflow(**over, allow_plain_http=True))
    assert entry["allow_plain_http"] is True
    services.catalogs.runtime_config("af")


def test_plain_http_without_credentials_or_to_this_machine_is_fine(server_services):
    services, _ = server_services
    services.catalogs.create(
        "runtime-configs", airflow(airflow={"api_endpoint": "http://airflow.example.com"})
    )
    local = airflow(
        name="af2",
        airflow={
            "api_endpoint": "http://127.0.0.1:8080",
            "auth": {"type": "basic", "username": "u", "password": "p"},
        },
    )
    services.catalogs.create("runtime-configs", local)


def test_the_administrator_may_allow_plain_http(tmp_path):
    services = Services(tmp_path, tmp_path / "data", allow_plain_http=True)
    over = {"airflow": {"api_endpoint": "http://af:8080", "auth": {"type": "token", "token": "t"}}}
    services.catalogs.create("runtime-configs", airflow(**over))


def test_the_cli_refuses_too_and_warns_when_told(tmp_path, capsys):
    services = Services(tmp_path, tmp_path / "data", confine_outputs=False)
    over = {"airflow": {"api_endpoint": "http://af:8080", "auth": {"type": "token", "token": "t"}}}
    with pytest.raises(MLPipeError) as exc:
        services.catalogs.create("runtime-configs", airflow(**over))
    assert exc.value.field == "airflow.api_endpoint"
    services.catalogs.create("runtime-configs", airflow(**over, allow_plain_http=True))
    services.catalogs.runtime_config("af")
    services.catalogs.runtime_config("af")
    err = capsys.readouterr().err
    assert err.count("sends credentials over plain http://") == 1, err
