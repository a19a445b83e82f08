"""The palette's components: ``GET /mlpipe-lab/components`` (through a real Jupyter server) and
``mlpipe components list``: one entry per component of the component catalogs, with the JSON
Schema of its properties, and the catalogs that cannot be read named in ``problems``."""

from __future__ import annotations

import json

import pytest
from openapi_check import check_response

from mlpipe_lab.cli import main

OPERATOR = '''
from airflow.models import BaseOperator


class GreetOperator(BaseOperator):
    """Greets someone.

    :param name: Who to greet.
    :param times: How often.
    """

    template_fields = ("name",)

    def __init__(self, name: str, times: int = 3, **kwargs):
        super().__init__(**kwargs)
'''

KFP = """
name: Fetch page
description: Fetches a page with curl.
inputs:
- {name: Url, type: String}
outputs:
- {name: Data}
implementation:
  container:
    image: alpine:3.19
    command: [sh, -c, 'curl "$0" > "$1"', {inputValue: Url}, {outputPath: Data}]
"""


def _catalog(root):
    folder = root / "components"
    folder.mkdir()
    (folder / "greet.py").write_text(OPERATOR)
    (folder / "fetch.yaml").write_text(KFP)
    return [
        {"name": "team", "type": "local-directory-catalog", "paths": ["components"]},
        {"name": "gone", "type": "local-directory-catalog", "paths": ["no-such-folder"]},
    ]


def _check(data):
    by_id = {c["id"]: c for c in data["components"]}
    assert set(by_id) == {"team:greet.py:GreetOperator", "team:fetch.yaml"}
    greet = by_id["team:greet.py:GreetOperator"]
    assert greet["kind"] == "airflow-operator" and greet["catalog"] == "team"
    assert isinstance(greet["aliases"], list) and greet["id"] not in greet["aliases"]
    assert greet["label"] == "GreetOperator" and greet["description"].startswith("Greets")
    props = greet["schema"]["properties"]
    assert greet["schema"]["required"] == ["name"]
    assert props["name"]["type"] == "string" and props["name"]["x-mlpipe-widget"] == "textarea"
    assert "x-mlpipe-widget" not in props["times"]
    assert props["times"] == {**props["times"], "type": "integer", "default": 3}
    fetch = by_id["team:fetch.yaml"]
    assert fetch["kind"] == "kfp-component" and fetch["label"] == "Fetch page"
    assert fetch["schema"]["x-mlpipe-outputs"][0]["key"] == "output_data"
    assert [p["catalog"] for p in data["problems"]] == ["gone"]
    assert "no-such-folder" in data["problems"][0]["message"]


async def test_components_endpoint_lists_the_palette(jp_fetch, jp_root_dir):
    for entry in _catalog(jp_root_dir):
        await jp_fetch(
            "mlpipe-lab", "catalogs", "component-catalogs", method="POST", body=json.dumps(entry)
        )
    response = await jp_fetch("mlpipe-lab", "components")
    check_response("GET", "/components", response.code, response.body)
    _check(json.loads(response.body))


def test_cli_lists_the_same_components(tmp_path, capsys):
    entries = _catalog(tmp_path)
    for entry in entries:
        (tmp_path / "e.json").write_text(json.dumps(entry))
        assert (
            main(["catalog", "add", "component-catalogs", "--from-file", str(tmp_path / "e.json")])
            == 0
        )
    capsys.readouterr()
    assert main(["components", "list", "--json", "--root", str(tmp_path)]) == 0
    _check(json.loads(capsys.readouterr().out))
    assert main(["components", "list", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr()
    assert "team:greet.py:GreetOperator" in out.out and "gone" in out.err


@pytest.mark.parametrize("method", ["GET"])
async def test_components_endpoint_requires_authentication(jp_fetch, method):
    from tornado.httpclient import HTTPClientError

    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("mlpipe-lab", "components", headers={"Authorization": ""})
    assert info.value.code in (401, 403)
