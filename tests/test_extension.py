"""The server extension's settings (traitlets, ``c.MLPipeLab.*``) reach the services it builds."""

from __future__ import annotations

import json

import pytest

from mlpipe_lab.extension import SETTINGS_KEY, MLPipeLab


@pytest.fixture
def configured_data(tmp_path_factory):
    return tmp_path_factory.mktemp("configured")


@pytest.fixture
def jp_server_config(configured_data):
    return {
        "ServerApp": {
            "jpserver_extensions": {"mlpipe_lab": True},
            "allow_unauthenticated_access": False,
        },
        "MLPipeLab": {"data_dir": str(configured_data), "local_run_parallelism": 3},
    }


async def test_settings_configure_the_services(jp_fetch, jp_serverapp, configured_data):
    services = jp_serverapp.web_app.settings[SETTINGS_KEY]
    assert services.runs.local.max_parallel == 3
    entry = {"name": "pandas", "image": "amancevice/pandas:2.4"}
    response = await jp_fetch(
        "mlpipe-lab", "catalogs", "runtime-images", method="POST", body=json.dumps(entry)
    )
    assert response.code == 201
    # the entry is stored in the configured folder, not $MLPIPE_LAB_DATA_DIR's
    assert list(configured_data.rglob("pandas*")), sorted(configured_data.rglob("*"))


def test_a_bad_setting_is_refused():
    from traitlets import TraitError

    with pytest.raises(TraitError):
        MLPipeLab(local_run_parallelism=0)
