"""Unreachable servers are told in words: the cause, not urllib3's or socket's exception text
(real connections to a closed port and an unknown host)."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

import pytest

from mlpipe_lab.networds import network_reason


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens


def test_a_refused_connection_in_words():
    with pytest.raises(urllib.error.URLError) as exc:
        urllib.request.urlopen(f"http://127.0.0.1:{closed_port()}/", timeout=5)
    assert network_reason(exc.value) == "nothing answers at that address"


def test_urllib3s_text_as_mlflow_quotes_it():
    text = (
        "API request to http://127.0.0.1:9/api/2.0/mlflow/registered-models/search failed with "
        "exception HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded with url: "
        "/api/2.0/mlflow/registered-models/search (Caused by NewConnectionError('<urllib3."
        "connection.HTTPConnection object at 0x7f0a1c2d3e50>: Failed to establish a new "
        "connection: [Errno 111] Connection refused'))"
    )
    assert network_reason(text) == "nothing answers at that address"


@pytest.mark.parametrize(
    "text, words",
    [
        ("<urlopen error [Errno -2] Name or service not known>", "its host name is not known here"),
        ("Read timed out. (read timeout=10)", "it did not answer in time"),
        ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed", "its TLS certificate"),
        (
            "('Connection aborted.', RemoteDisconnected('Remote end closed'))",
            "closed the connection",
        ),
        ("<Foo object at 0xdeadbeef>: something odd", "something odd"),
    ],
)
def test_other_causes(text, words):
    assert words in network_reason(text)


async def test_the_runs_api_says_airflow_is_down_in_words(jp_fetch, isolated_data):
    import json

    config = {
        "name": "down",
        "type": "airflow",
        "airflow": {"api_endpoint": f"http://127.0.0.1:{closed_port()}"},
        "dag_repo": {"url": "https://git.example.invalid/team/dags.git"},
    }
    await jp_fetch(
        "mlpipe-lab", "catalogs", "runtime-configs", method="POST", body=json.dumps(config)
    )
    response = await jp_fetch(
        "mlpipe-lab",
        "publish-status",
        method="POST",
        raise_error=False,
        body=json.dumps({"runtime_config": "down", "dag_id": "hello"}),
    )
    message = json.loads(response.body)["error"]["message"]
    assert response.code == 502
    assert "cannot be reached: nothing answers at that address." in message
    assert "Errno" not in message and "urlopen" not in message
