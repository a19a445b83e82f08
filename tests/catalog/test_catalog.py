"""Catalog storage: CRUD, validation messages, names, secrets, masking, crash safety, built-ins."""

from __future__ import annotations

import copy
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlpipe_lab.catalog import (
    MASK,
    NAME_PATTERN,
    Catalog,
    CatalogError,
    Conflict,
    NotFound,
    ReadOnly,
    RuntimeConfigs,
    RuntimeImages,
    default_data_dir,
    is_valid_name,
    open_catalog,
    resolve_local_paths,
)

try:
    from catalog_fixtures import (
        CANARIES,
        PASSWORD_CANARY,
        S3_SECRET_CANARY,
        SSH_CANARY,
        TOKEN_CANARY,
        airflow_config,
        files_under,
        image,
        leftover_temp_files,
    )
except ImportError:  # tests/ turned into a package
    from tests.catalog_fixtures import (
        CANARIES,
        PASSWORD_CANARY,
        S3_SECRET_CANARY,
        SSH_CANARY,
        TOKEN_CANARY,
        airflow_config,
        files_under,
        image,
        leftover_temp_files,
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def configs(data_dir: Path, tmp_path: Path) -> RuntimeConfigs:
    return RuntimeConfigs(data_dir, elyra_data_dir=tmp_path / "no-elyra")


@pytest.fixture
def images(data_dir: Path, tmp_path: Path) -> RuntimeImages:
    return RuntimeImages(data_dir, elyra_data_dir=tmp_path / "no-elyra")


def strip_meta(entry: dict) -> dict:
    entry = copy.deepcopy(entry)
    entry.pop("source", None)
    entry.pop("read_only", None)
    return entry


# ------------------------------------------------------------------ data dir


def test_default_data_dir_env_and_jupyter(monkeypatch, tmp_path):
    monkeypatch.setenv("MLPIPE_LAB_DATA_DIR", str(tmp_path / "custom"))
    assert default_data_dir() == tmp_path / "custom"
    assert RuntimeImages().data_dir == tmp_path / "custom"
    assert RuntimeImages(tmp_path / "arg").data_dir == tmp_path / "arg"  # argument wins
    monkeypatch.delenv("MLPIPE_LAB_DATA_DIR")
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter"))
    assert default_data_dir() == tmp_path / "jupyter" / "mlpipe-lab"


def test_catalog_kinds():
    with pytest.raises(ValueError):
        Catalog("nope")
    assert isinstance(open_catalog("runtime-images"), RuntimeImages)
    assert isinstance(open_catalog("runtime-configs"), RuntimeConfigs)
    assert Catalog("runtime-images", "/x").catalog_dir == Path("/x/catalogs/runtime-images")
    assert RuntimeConfigs("/x").secrets_dir == Path("/x/secrets/runtime-configs")


def test_reading_does_not_create_files(configs, images, data_dir):
    assert images.list() == []
    assert [e["name"] for e in configs.list()] == ["local"]
    assert not data_dir.exists()


# ------------------------------------------------------------------ CRUD


def test_image_crud(images, data_dir):
    created = images.create(image())
    assert created == {**image(), "source": "user", "read_only": False}
    path = data_dir / "catalogs" / "runtime-images" / "pandas.json"
    assert json.loads(path.read_text())["image"] == "quay.io/org/pandas:2.1"
    assert images.get("pandas") == created
    assert images.list() == [created]

    updated = images.update("pandas", {**image(), "pull_policy": "Always", "source": "user"})
    assert updated["pull_policy"] == "Always"
    assert images.get("pandas")["pull_policy"] == "Always"

    with pytest.raises(Conflict) as exc:
        images.create(image())
    assert exc.value.status == 409 and exc.value.field == "name"

    images.delete("pandas")
    assert not path.exists()
    for call in (
        lambda: images.get("pandas"),
        lambda: images.delete("pandas"),
        lambda: images.update("pandas", image()),
    ):
        with pytest.raises(NotFound) as exc:
            call()
        assert exc.value.status == 404


def test_defaults_are_filled_and_stored(images, configs):
    assert images.create({"name": "py", "image": "python:3.11"})["pull_policy"] == "IfNotPresent"
    entry = configs.create(
        {
            "name": "af",
            "type": "airflow",
            "airflow": {"api_endpoint": "http://af:8080"},
            "dag_repo": {"url": "git@github.com:org/dags.git"},
        }
    )
    assert entry["airflow"]["version"] == "auto"
    assert entry["dag_repo"]["branch"] == "main" and entry["dag_repo"]["subfolder"] == "dags"
    assert entry["kubernetes"] == {"namespace": "default", "in_cluster": True}


def test_name_derived_from_display_name(images, configs):
    assert (
        images.create({"display_name": "My Image (v2)", "image": "a/b:1"})["name"] == "my-image-v2"
    )
    assert (
        images.create({"display_name": "My Image (v2)", "image": "a/b:2"})["name"]
        == "my-image-v2-2"
    )
    assert images.create({"image": "quay.io/x/y:1"})["name"] == "quay.io-x-y-1"
    # a derived name never silently shadows the built-in entry
    local = configs.create({"display_name": "Local", "type": "local", "local": {}})
    assert local["name"] == "local-2"


def test_meta_keys_are_ignored_on_input(images):
    entry = images.create({**image(), "source": "builtin", "read_only": True, "error": "x"})
    assert entry["source"] == "user" and entry["read_only"] is False and "error" not in entry


def test_rename_is_refused(images):
    images.create(image())
    with pytest.raises(CatalogError) as exc:
        images.update("pandas", image("other"))
    assert exc.value.field == "name"


def test_null_means_unset(images):
    images.create(image(pull_secret="regcred"))
    entry = images.update("pandas", image(pull_secret=None, description=None))
    assert "pull_secret" not in entry and "description" not in entry


# ------------------------------------------------------------------ validation messages


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            lambda c: c["dag_repo"].update(url="ftp://x"),
            "dag_repo.url",
            "dag_repo.url: 'ftp://x' is not a supported git URL",
        ),
        (
            lambda c: c["airflow"].update(api_endpoint="airflow.example.com"),
            "airflow.api_endpoint",
            "airflow.api_endpoint: 'airflow.example.com' is not an http(s) URL",
        ),
        (
            lambda c: c["airflow"].update(version="4"),
            "airflow.version",
            "airflow.version: '4' is not one of 'auto', '2', '3'",
        ),
        (
            lambda c: c["kubernetes"].update(namespace="Bad_NS"),
            "kubernetes.namespace",
            "kubernetes.namespace: 'Bad_NS' is not a valid Kubernetes namespace",
        ),
        (
            lambda c: c["kubernetes"].update(in_cluster="yes"),
            "kubernetes.in_cluster",
            "kubernetes.in_cluster: expected true or false, got a string",
        ),
        (
            lambda c: c["object_storage"].update(bucket="B"),
            "object_storage.bucket",
            "object_storage.bucket: 'B' is not a valid bucket name",
        ),
        (
            lambda c: c["object_storage"]["auth"].pop("access_key_id"),
            "object_storage.auth.access_key_id",
            "object_storage.auth.access_key_id: this field is required",
        ),
        (
            lambda c: (
                c["object_storage"].update(auth={"type": "kubernetes_secret"})
                or c["object_storage"].pop("pod_credentials_secret")
            ),
            "object_storage.pod_credentials_secret",
            "object_storage.pod_credentials_secret: this field is required",
        ),
        (
            lambda c: c["dag_repo"].update(auth={"type": "ssh"}),
            "dag_repo.auth.ssh_private_key",
            "dag_repo.auth.ssh_private_key: this field is required",
        ),
        (
            lambda c: c["dag_repo"].update(subfolder="../up"),
            "dag_repo.subfolder",
            "dag_repo.subfolder: '../up' is not a relative folder path",
        ),
        (
            lambda c: c["dag_repo"].update(branch="a..b"),
            "dag_repo.branch",
            "dag_repo.branch: 'a..b' is not a valid git branch name",
        ),
        (
            lambda c: c.update(local={}),
            "local",
            'local: is only allowed when the runtime type is "local"',
        ),
        (lambda c: c.pop("dag_repo"), "dag_repo", "dag_repo: this field is required"),
        (
            lambda c: c["airflow"].update(colour="red"),
            "airflow.colour",
            "airflow.colour: unknown field",
        ),
        (lambda c: c.update(type="kfp"), "type", "type: 'kfp' is not one of 'local', 'airflow'"),
        (lambda c: c.update(tags=["a", "a"]), "tags", "tags: contains duplicates"),
        (lambda c: c.update(display_name=""), "display_name", "display_name: must not be empty"),
    ],
)
def test_validation_error_names_the_field(configs, data_dir, change, field, message):
    config = airflow_config()
    change(config)
    with pytest.raises(CatalogError) as exc:
        configs.create(config)
    assert exc.value.status == 400
    assert exc.value.field == field
    assert exc.value.message.startswith(message)
    assert "Traceback" not in exc.value.message and "\n" not in exc.value.message
    assert exc.value.errors[0] == {"field": field, "message": exc.value.message.split(" (and ")[0]}
    assert not (data_dir / "catalogs" / "runtime-configs" / "prod.json").exists()


def test_local_config_cannot_carry_airflow_fields(configs):
    with pytest.raises(CatalogError) as exc:
        configs.create({"name": "l2", "type": "local", "local": {}, "dag_repo": {"url": "/x"}})
    assert exc.value.field == "dag_repo"
    assert 'only allowed when the runtime type is "airflow"' in exc.value.message


def test_all_problems_are_reported(configs):
    with pytest.raises(CatalogError) as exc:
        configs.create({"name": "x", "type": "airflow"})
    fields = {e["field"] for e in exc.value.errors}
    assert fields == {"airflow", "dag_repo"}
    assert exc.value.message.endswith("(and 1 more problem)")
    assert exc.value.to_dict()["errors"] == exc.value.errors


def test_image_validation(images):
    with pytest.raises(CatalogError) as exc:
        images.create({"name": "x", "image": "Not An Image"})
    assert exc.value.field == "image"
    assert "is not a valid container image reference" in exc.value.message
    with pytest.raises(CatalogError) as exc:
        images.create({"name": "x"})
    assert exc.value.message == "image: this field is required"
    with pytest.raises(CatalogError) as exc:
        images.create({"name": "x", "image": "a:1", "pull_policy": "Sometimes"})
    assert (
        exc.value.message
        == "pull_policy: 'Sometimes' is not one of 'Always', 'IfNotPresent', 'Never'"
    )
    with pytest.raises(CatalogError):
        images.create(["not", "an", "object"])  # type: ignore[arg-type]


def test_invalid_secret_values_are_not_echoed(configs):
    config = airflow_config()
    config["dag_repo"]["auth"]["token"] = {"value": TOKEN_CANARY}
    with pytest.raises(CatalogError) as exc:
        configs.create(config)
    assert exc.value.field == "dag_repo.auth.token"
    assert TOKEN_CANARY not in json.dumps(exc.value.to_dict()) + repr(exc.value) + str(exc.value)


# ------------------------------------------------------------------ names


BAD_NAMES = [
    "",
    "../x",
    "a/b",
    "..",
    ".hidden",
    "/abs",
    "UPPER",
    "a b",
    "x" * 64,
    "a\n",
    "a\\b",
    "-x",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_are_refused(images, data_dir, tmp_path, name):
    for call in (
        lambda: images.get(name),
        lambda: images.get_with_secrets(name),
        lambda: images.update(name, image(name)),
        lambda: images.delete(name),
        lambda: images.create(image(name)),
    ):
        with pytest.raises(CatalogError) as exc:
            call()
        assert exc.value.status == 400 and exc.value.field == "name"
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.one_of(st.text(max_size=70), st.from_regex(NAME_PATTERN, fullmatch=True)))
def test_any_name_is_either_valid_and_contained_or_refused(images, name):
    root = images.catalog_dir
    if is_valid_name(name):
        entry = images.create(image(name))
        assert entry["name"] == name
        assert (root / f"{name}.json").resolve().parent == root.resolve()
        assert images.get(name)["image"] == image()["image"]
        images.delete(name)
    else:
        with pytest.raises(CatalogError):
            images.create(image(name))
        with pytest.raises(CatalogError):
            images.get(name)
    if root.exists():
        assert sorted(p.name for p in root.iterdir()) == [".lock"]


# ------------------------------------------------------------------ secrets and masking


def test_secrets_are_masked_and_stored_apart(configs, data_dir):
    config = airflow_config()
    config["dag_repo"]["auth"] = {"type": "ssh", "ssh_private_key": SSH_CANARY}
    created = configs.create(config)
    assert created["airflow"]["auth"]["password"] == MASK
    assert created["dag_repo"]["auth"]["ssh_private_key"] == MASK
    assert created["object_storage"]["auth"]["secret_access_key"] == MASK
    assert "token" not in created["dag_repo"]["auth"]  # unset secrets are absent
    assert "token" not in created["airflow"]["auth"]
    assert configs.get("prod") == created
    assert [e for e in configs.list() if e["name"] == "prod"] == [created]

    full = configs.get_with_secrets("prod")
    assert full["airflow"]["auth"]["password"] == PASSWORD_CANARY
    assert full["dag_repo"]["auth"]["ssh_private_key"] == SSH_CANARY
    assert full["object_storage"]["auth"]["secret_access_key"] == S3_SECRET_CANARY
    assert full["source"] == "user"

    # nothing outside secrets/ contains a secret
    for path in files_under(data_dir, skip="secrets"):
        content = path.read_bytes()
        for canary in CANARIES:
            assert canary.encode() not in content, (path, canary)
    # the secrets store is private
    secrets_root = data_dir / "secrets"
    for directory in (secrets_root, secrets_root / "runtime-configs"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    secret_file = secrets_root / "runtime-configs" / "prod.json"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert PASSWORD_CANARY in secret_file.read_text()
    # masked entries and errors are safe to print
    assert not any(c in repr(configs.list()) + repr(configs.get("prod")) for c in CANARIES)


def test_update_secret_semantics(configs):
    configs.create(airflow_config())
    masked = strip_meta(configs.get("prod"))

    # MASK keeps, absent keeps
    del masked["object_storage"]["auth"]["secret_access_key"]
    masked["description"] = "v2"
    configs.update("prod", masked)
    full = configs.get_with_secrets("prod")
    assert full["description"] == "v2"
    assert full["dag_repo"]["auth"]["token"] == TOKEN_CANARY
    assert full["airflow"]["auth"]["password"] == PASSWORD_CANARY
    assert full["object_storage"]["auth"]["secret_access_key"] == S3_SECRET_CANARY

    # a new value replaces
    masked = strip_meta(configs.get("prod"))
    masked["dag_repo"]["auth"]["token"] = "new-token"
    configs.update("prod", masked)
    assert configs.get_with_secrets("prod")["dag_repo"]["auth"]["token"] == "new-token"
    assert configs.get("prod")["dag_repo"]["auth"]["token"] == MASK

    # null clears (the auth type must then not need it)
    masked = strip_meta(configs.get("prod"))
    masked["dag_repo"]["auth"] = {"type": "none", "token": None}
    entry = configs.update("prod", masked)
    assert "token" not in entry["dag_repo"]["auth"]
    assert "token" not in configs.get_with_secrets("prod")["dag_repo"]["auth"]

    # null on a required secret is a validation error, and nothing changes
    masked = strip_meta(configs.get("prod"))
    masked["airflow"]["auth"]["password"] = None
    with pytest.raises(CatalogError) as exc:
        configs.update("prod", masked)
    assert exc.value.field == "airflow.auth.password"
    assert configs.get_with_secrets("prod")["airflow"]["auth"]["password"] == PASSWORD_CANARY

    # removing the object that held a secret drops the secret
    masked = strip_meta(configs.get("prod"))
    del masked["object_storage"]
    configs.update("prod", masked)
    assert "object_storage" not in configs.get_with_secrets("prod")


def test_mask_without_stored_secret_is_an_error(configs):
    config = airflow_config()
    config["dag_repo"]["auth"]["token"] = MASK
    with pytest.raises(CatalogError) as exc:
        configs.create(config)
    assert exc.value.field == "dag_repo.auth.token"
    assert "no stored value" in exc.value.message


def test_last_secret_removed_deletes_secret_file(configs, data_dir):
    configs.create(airflow_config())
    config = strip_meta(configs.get("prod"))
    config["airflow"]["auth"] = {"type": "none", "password": None}
    config["dag_repo"]["auth"] = {"type": "none", "token": None}
    del config["object_storage"]
    configs.update("prod", config)
    assert not (data_dir / "secrets" / "runtime-configs" / "prod.json").exists()
    configs.delete("prod")
    assert list((data_dir / "secrets" / "runtime-configs").iterdir()) == []


def test_hand_edited_secret_in_public_file_is_masked_and_moved(configs, data_dir):
    path = data_dir / "catalogs" / "runtime-configs" / "hand.json"
    path.parent.mkdir(parents=True)
    config = airflow_config("hand")
    path.write_text(json.dumps(config))  # secrets in clear, as someone might write it by hand
    assert configs.get("hand")["dag_repo"]["auth"]["token"] == MASK
    assert configs.get_with_secrets("hand")["dag_repo"]["auth"]["token"] == TOKEN_CANARY
    configs.update("hand", strip_meta(configs.get("hand")))
    assert TOKEN_CANARY not in path.read_text()
    assert configs.get_with_secrets("hand")["dag_repo"]["auth"]["token"] == TOKEN_CANARY


def test_names_containing_json_keep_their_secrets(configs, data_dir):
    configs.create(airflow_config("cfg.json"))
    configs.create(airflow_config("cfg"))
    configs.delete("cfg")
    configs.create(airflow_config("other"))  # a write sweeps orphaned secrets
    assert configs.get_with_secrets("cfg.json")["dag_repo"]["auth"]["token"] == TOKEN_CANARY


def test_orphaned_secrets_of_a_half_deleted_entry_are_swept(configs, data_dir):
    configs.create(airflow_config("gone"))
    (data_dir / "catalogs" / "runtime-configs" / "gone.json").unlink()  # delete died halfway
    assert (data_dir / "secrets" / "runtime-configs" / "gone.json").exists()
    with pytest.raises(NotFound):
        configs.get("gone")
    configs.create(airflow_config("other"))
    assert not (data_dir / "secrets" / "runtime-configs" / "gone.json").exists()
    configs.create(airflow_config("gone", dag_repo={"url": "/srv/dags.git"}))
    assert "token" not in configs.get_with_secrets("gone")["dag_repo"]["auth"]


def test_unreadable_secrets_are_reported_and_can_be_reentered(configs, data_dir):
    configs.create(airflow_config())
    (data_dir / "secrets" / "runtime-configs" / "prod.json").write_text("{broken")
    (listed,) = [e for e in configs.list() if e["name"] == "prod"]
    assert "re-enter" in listed["error"]
    with pytest.raises(CatalogError) as exc:
        configs.get_with_secrets("prod")
    assert exc.value.status == 500
    with pytest.raises(CatalogError) as exc:  # MASK cannot keep what cannot be read
        configs.update(
            "prod",
            {
                **airflow_config(),
                "dag_repo": {"url": "/x", "auth": {"type": "token", "token": MASK}},
            },
        )
    assert exc.value.field == "dag_repo.auth.token"
    configs.update("prod", airflow_config())
    assert configs.get_with_secrets("prod")["dag_repo"]["auth"]["token"] == TOKEN_CANARY


def test_validate_without_saving(configs, data_dir):
    entry = configs.validate(airflow_config())
    assert entry["dag_repo"]["auth"]["token"] == MASK and entry["name"] == "prod"
    assert not data_dir.exists()
    with pytest.raises(CatalogError):
        configs.validate({"type": "airflow"})


def test_delete_removes_secrets(configs, data_dir):
    configs.create(airflow_config())
    configs.delete("prod")
    assert files_under(data_dir / "secrets") == []
    with pytest.raises(NotFound):
        configs.get("prod")


# ------------------------------------------------------------------ built-in local


def test_builtin_local(configs, data_dir):
    (local,) = [e for e in configs.list() if e["name"] == "local"]
    assert local["source"] == "builtin" and local["read_only"] is True
    assert local["display_name"] == "Local (embedded)"
    assert local["type"] == "local"
    assert local["local"] == {
        "dag_repo_path": "local/dags.git",
        "branch": "main",
        "subfolder": "dags",
        "artifacts_path": "local/artifacts",
    }
    assert configs.get("local") == local
    for call in (
        lambda: configs.update("local", strip_meta(local)),
        lambda: configs.delete("local"),
    ):
        with pytest.raises(ReadOnly) as exc:
            call()
        assert exc.value.status == 403

    paths = configs.local_paths()
    assert paths.dag_repo_path == data_dir / "local" / "dags.git"
    assert paths.artifacts_path == data_dir / "local" / "artifacts"
    assert (paths.branch, paths.subfolder) == ("main", "dags")


def test_user_entry_overrides_builtin(configs):
    override = {
        "name": "local",
        "display_name": "My local",
        "type": "local",
        "local": {"dag_repo_path": "/srv/dags.git"},
    }
    entry = configs.create(override)
    assert entry["source"] == "user" and entry["read_only"] is False
    assert entry["local"]["artifacts_path"] == "local/artifacts"
    assert [e["display_name"] for e in configs.list() if e["name"] == "local"] == ["My local"]
    configs.update("local", {**override, "display_name": "Mine"})
    configs.delete("local")
    assert configs.get("local")["source"] == "builtin"


def test_resolve_local_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = {
        "type": "local",
        "local": {"dag_repo_path": "/abs/dags.git", "artifacts_path": "~/art"},
    }
    paths = resolve_local_paths(config, tmp_path / "d")
    assert paths.dag_repo_path == Path("/abs/dags.git")
    assert paths.artifacts_path == tmp_path / "home" / "art"
    assert paths.subfolder == "dags" and paths.branch == "main"
    relative = resolve_local_paths({"type": "local", "local": {}}, "rel")
    assert relative.dag_repo_path.is_absolute() and relative.dag_repo_path.parts[-3:] == (
        "rel",
        "local",
        "dags.git",
    )
    with pytest.raises(CatalogError):
        resolve_local_paths(airflow_config(), tmp_path)


# ------------------------------------------------------------------ damaged and foreign files


def test_unreadable_entry_is_listed_with_error_and_can_be_replaced(images, data_dir):
    images.create(image("good"))
    folder = data_dir / "catalogs" / "runtime-images"
    (folder / "bad.json").write_text("{ not json")
    (folder / "README.txt").write_text("ignored")
    (folder / "Not Valid.json").write_text("{}")
    listed = {e["name"]: e for e in images.list()}
    assert set(listed) == {"good", "bad"}
    assert listed["bad"]["error"] and listed["bad"]["source"] == "user"
    with pytest.raises(CatalogError) as exc:
        images.get("bad")
    assert exc.value.status == 500
    images.update("bad", image("bad"))
    assert images.get("bad")["image"] == image()["image"]
    (folder / "bad.json").write_text("[1, 2]")
    assert "error" in {e["name"]: e for e in images.list()}["bad"]
    images.delete("bad")


# ------------------------------------------------------------------ crash safety


class Boom(RuntimeError):
    pass


def failing_replace(monkeypatch, fail_on_call: int):
    real = os.replace
    calls = {"n": 0}

    def replace(src, dst, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == fail_on_call:
            raise Boom(f"crash on replace #{fail_on_call}")
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    return calls


@pytest.mark.parametrize("fail_on_call", [1, 2, 3])
def test_crash_during_update_leaves_old_or_new_entry(configs, data_dir, monkeypatch, fail_on_call):
    configs.create(airflow_config())
    old = configs.get_with_secrets("prod")
    old_public = (data_dir / "catalogs" / "runtime-configs" / "prod.json").read_bytes()

    new = strip_meta(configs.get("prod"))
    new["description"] = "new"
    new["dag_repo"]["auth"]["token"] = "new-token"
    failing_replace(monkeypatch, fail_on_call)
    with pytest.raises(Boom):
        configs.update("prod", new)
    monkeypatch.undo()

    after = RuntimeConfigs(data_dir, include_elyra=False).get_with_secrets("prod")
    if fail_on_call < 3:  # before the public file was committed: the old entry, intact
        assert after == old
        assert (data_dir / "catalogs" / "runtime-configs" / "prod.json").read_bytes() == old_public
    else:  # committed; the secrets rename was pending: the new entry, secrets included
        assert after["description"] == "new"
        assert after["dag_repo"]["auth"]["token"] == "new-token"
        assert after["airflow"]["auth"]["password"] == PASSWORD_CANARY
    assert [p for p in leftover_temp_files(data_dir) if p.suffix == ".tmp"] == []

    # the next write settles whatever was left behind
    configs.update("prod", strip_meta(configs.get("prod")))
    assert leftover_temp_files(data_dir) == []
    assert configs.get_with_secrets("prod") == after


def test_crash_during_create_leaves_nothing(images, data_dir, monkeypatch):
    failing_replace(monkeypatch, 1)
    with pytest.raises(Boom):
        images.create(image())
    monkeypatch.undo()
    assert images.list() == []
    assert leftover_temp_files(data_dir) == []


def test_crash_while_writing_temp_file(images, data_dir, monkeypatch):
    images.create(image())
    before = images.get("pandas")

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        images.update("pandas", image(description="never"))
    monkeypatch.undo()
    assert images.get("pandas") == before
    assert leftover_temp_files(data_dir) == []


def test_stale_temp_files_are_swept(images, data_dir):
    images.create(image())
    folder = data_dir / "catalogs" / "runtime-images"
    (folder / ".pandas.json.abc123.tmp").write_text("{half")
    assert [e["name"] for e in images.list()] == ["pandas"]
    images.update("pandas", image(description="x"))
    assert leftover_temp_files(data_dir) == []


# ------------------------------------------------------------------ import cost


def test_reading_needs_neither_jsonschema_nor_jupyter_server(tmp_path):
    RuntimeConfigs(tmp_path, include_elyra=False).create(airflow_config())
    code = (
        "import sys\n"
        "from mlpipe_lab.catalog import RuntimeConfigs, RuntimeImages\n"
        f"c = RuntimeConfigs({str(tmp_path)!r}, include_elyra=False)\n"
        "assert [e['name'] for e in c.list()] == ['local', 'prod']\n"
        "c.get('prod'); c.get_with_secrets('prod')\n"
        "RuntimeImages(c.data_dir, include_elyra=False).list()\n"
        "bad = [m for m in ('jsonschema', 'jupyter_server', 'tornado') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)
