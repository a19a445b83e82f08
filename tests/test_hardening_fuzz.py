"""A fuzzer over mlpipe_lab/openapi.yaml (hypothesis) against a real Jupyter server with
mlpipe-lab, in a sandbox: every operation of the description gets hostile path parameters, query
arguments and bodies (shaped after its schema, and not), bounded in time.

Printed: requests tried, status classes. Asserted: no 500 (a bug), any other 5xx is an outside
system's failure with a message naming the field (502, e.g. an unreachable MLflow); no canary
secret in any response, the server's log or any file the server wrote; no file created or changed
outside the root and the data folder; the server answers /api/status throughout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections import Counter
from urllib.parse import quote, urlencode

import pytest
import yaml
from fixture_paths import ELYRA_FIXTURES
from hardening_server import JupyterServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_check import SPEC_PATH, check_response

pytestmark = pytest.mark.hardening

CANARY = "canary-fuzz-secret-4e81d2"
BUDGET_SECONDS = float(os.environ.get("MLPIPE_FUZZ_SECONDS", "100"))
EXAMPLES = int(os.environ.get("MLPIPE_FUZZ_EXAMPLES", "100"))

SPEC = yaml.safe_load(SPEC_PATH.read_text())
OPERATIONS = [
    (method.upper(), template)
    for template, item in SPEC["paths"].items()
    for method in item
    if method in ("get", "post", "put", "delete", "patch")
]
# Operations that would start real work on a valid pipeline (local runs spawn node processes):
# fuzzed without the name of a real pipeline.
NO_REAL_PIPELINE = {("POST", "/runs"), ("POST", "/runs/{runtime_config}/{dag_id}/{run_id}/clear")}

VOCABULARY = [
    "hello_world/hello_world.pipeline",
    "x.pipeline",
    "leak.pipeline",
    "../outside/secret.txt",
    "/etc/passwd",
    "local",
    "canary",
    "hello_world",
    "runtime-images",
    "runtime-configs",
    "a" * 300,
    "a" * 300 + ".pipeline",
    "x/" * 2100 + "a.pipeline",
    "a\x00b.pipeline",
    "a\ud800b.pipeline",
    "file:///{outside}/mlruns",
    "sqlite:////{outside}/x.db",
    "http://127.0.0.1:9",
    "http://user:pw@127.0.0.1:9",
    "${HOME}",
    "%s%n",
    "' OR 1=1 --",
]
HUGE = st.one_of(
    st.integers(min_value=2**63, max_value=10**200),
    st.integers(max_value=-(2**63) - 1, min_value=-(10**200)),
)


def texts(vocabulary=VOCABULARY):
    return st.one_of(
        st.sampled_from(vocabulary),
        st.text(max_size=30),
        st.text(st.characters(codec=None), min_size=1, max_size=8),
        st.integers(0, 5000).map(lambda n: "z" * n),
    )


def values(vocabulary=VOCABULARY):
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-10, 10**6),
        HUGE,
        st.floats(allow_nan=False),
        texts(vocabulary),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(texts(vocabulary), inner, max_size=4)
        ),
        max_leaves=12,
    )


def resolve(node):
    while isinstance(node, dict) and "$ref" in node:
        parts = node["$ref"].lstrip("#/").split("/")
        node = SPEC
        for part in parts:
            node = node[part]
    return node


def shaped(schema, vocabulary, depth=0):
    """A value of the schema's shape (members from its properties), mixed with any value."""
    schema = resolve(schema or {})
    anything = values(vocabulary)
    kind = schema.get("type")
    if kind == "object" and depth < 3:
        props = {
            k: shaped(v, vocabulary, depth + 1) for k, v in (schema.get("properties") or {}).items()
        }
        obj = (
            st.fixed_dictionaries({}, optional=props)
            if props
            else st.dictionaries(texts(vocabulary), anything, max_size=4)
        )
        return st.one_of(obj, obj, anything)
    if kind == "array":
        return st.one_of(
            st.lists(shaped(schema.get("items"), vocabulary, depth + 1), max_size=3), anything
        )
    if kind == "string":
        return st.one_of(texts(vocabulary), texts(vocabulary), anything)
    if kind in ("integer", "number"):
        return st.one_of(st.integers(-5, 1000), HUGE, anything)
    if kind == "boolean":
        return st.one_of(st.booleans(), anything)
    return anything


def raw_bodies():
    return st.sampled_from(
        [
            "[" * 20000 + "]" * 20000,
            '{"a": ' * 3000 + "1" + "}" * 3000,
            "{",
            "\xff\xfe",
            '{"path": NaN}',
            '{"path": 1e999}',
            "null",
            "[]",
            '"x"',
        ]
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    sandbox = tmp_path_factory.mktemp("fuzz")
    srv = JupyterServer(sandbox, {"MLPipeLab": {"max_request_mb": 2, "max_pipeline_mb": 2}})
    srv.start()
    shutil.copytree(ELYRA_FIXTURES / "hello_world", srv.root / "hello_world")
    (srv.outside / "secret.txt").write_text(CANARY)
    os.mkfifo(srv.root / "x.pipeline")
    (srv.root / "leak.pipeline").symlink_to(srv.outside / "secret.txt")
    (srv.root / "hello_world" / "leak.py").symlink_to(srv.outside / "secret.txt")
    config = {
        "name": "canary",
        "type": "airflow",
        "airflow": {
            "api_endpoint": "http://127.0.0.1:9",
            "auth": {"type": "basic", "username": "u", "password": CANARY},
        },
        "dag_repo": {
            "url": "http://127.0.0.1:9/dags.git",
            "auth": {"type": "token", "token": CANARY},
        },
    }
    code, body = srv.request("POST", "/mlpipe-lab/catalogs/runtime-configs", config)
    assert code == 201, body
    srv.stats = Counter()
    srv.undescribed = []
    srv.started = time.monotonic()
    srv.before = srv.snapshot()
    try:
        yield srv
    finally:
        srv.stop()


def _path(template, params):
    def fill(match):
        value = params[match.group(1)]
        return quote(value.encode("utf-8", "surrogatepass"), safe="")

    return "/mlpipe-lab" + re.sub(r"\{(\w+)\}", fill, template)


def _check(server, method, path, code, raw):
    server.stats["requests"] += 1
    server.stats[f"{code // 100}xx"] += 1
    text = raw.decode("utf-8", "replace")
    assert CANARY not in text, (method, path[:100])
    assert code != 500, (method, path[:200], text[:500])
    if code >= 500:
        server.stats["502 (outside system)"] += 1
        error = json.loads(raw)["error"]
        assert code in (501, 502) and error["message"], (method, path[:100], text[:300])
    if code >= 400 and raw:
        assert "Traceback" not in text
    if code == 404 and not raw.lstrip().startswith(b"{"):  # no route of ours matched the path
        server.stats["not routed to mlpipe-lab"] += 1
        return
    if code == 400 and not raw:
        # tornado refuses a path argument that is not UTF-8 before any handler runs (an empty
        # 400, not our error shape: a known gap, counted)
        server.stats["empty 400 from tornado (invalid UTF-8 in the path)"] += 1
        return
    try:  # what the description says the operation answers, in its shape
        check_response(method, path.split("?")[0].removeprefix("/mlpipe-lab"), code, raw)
    except (AssertionError, ValueError) as exc:
        server.undescribed.append(f"{method} {path[:80]}: {str(exc)[:200]}")


@pytest.mark.parametrize("method,template", OPERATIONS, ids=[f"{m} {t}" for m, t in OPERATIONS])
def test_fuzz_operation(server, method, template):
    op = SPEC["paths"][template][method.lower()]
    params = [resolve(p) for p in SPEC["paths"][template].get("parameters", [])]
    params += [resolve(p) for p in op.get("parameters", [])]
    vocabulary = [
        v.replace("{outside}", str(server.outside).lstrip("/"))
        for v in VOCABULARY
        if not ((method, template) in NO_REAL_PIPELINE and v.startswith("hello_world/"))
    ]
    path_params = {
        p["name"]: texts(vocabulary).filter(lambda s: s != "") for p in params if p["in"] == "path"
    }
    query_params = {p["name"]: texts(vocabulary) for p in params if p["in"] == "query"}
    body_schema = None
    if "requestBody" in op:
        body_schema = resolve(op["requestBody"])["content"]["application/json"]["schema"]
    bodies = (
        st.one_of(shaped(body_schema, vocabulary).map(lambda v: json.dumps(v)), raw_bodies())
        if body_schema is not None
        else st.none()
    )
    share = BUDGET_SECONDS / len(OPERATIONS)
    deadline = time.monotonic() + share

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        st.fixed_dictionaries(path_params),
        st.fixed_dictionaries({}, optional=query_params),
        bodies,
    )
    def one(pvalues, qvalues, body):
        if time.monotonic() > deadline:
            return
        path = _path(template, pvalues)
        if qvalues:
            path += "?" + urlencode(
                {k: v.encode("utf-8", "surrogatepass") for k, v in qvalues.items()}
            )
        if method in ("POST", "PUT") and body is None:
            body = "{}"
        code, raw = server.request(method, path, body, timeout=60)
        _check(server, method, path, code, raw)

    one()
    started = time.monotonic()
    assert server.request("GET", "/api/status", timeout=10)[0] == 200
    assert time.monotonic() - started < 5


def test_fuzz_summary(server):
    """Runs last in the module: the counts, and what the whole run left behind."""
    stats = dict(server.stats)
    classes = {k: v for k, v in sorted(stats.items()) if k.endswith("xx")}
    print(
        f"\nfuzzed {len(OPERATIONS)} operations of openapi.yaml: {stats.get('requests', 0)} "
        f"requests in {time.monotonic() - server.started:.0f} s; status classes {classes}; "
        f"500s: 0; other 5xx (outside system): {stats.get('502 (outside system)', 0)}"
    )
    assert stats.get("requests", 0) >= 5 * len(OPERATIONS)
    print(
        "tornado's empty 400 for invalid UTF-8 in a path: "
        f"{stats.get('empty 400 from tornado (invalid UTF-8 in the path)', 0)}; "
        f"paths no route of ours matched (404): {stats.get('not routed to mlpipe-lab', 0)}"
    )
    print(f"answers not as openapi.yaml describes them: {len(server.undescribed)}")
    for line in sorted(set(server.undescribed))[:10]:
        print("  ", line)
    assert not server.undescribed
    after = server.snapshot()
    changed = {k for k in set(after) | set(server.before) if after.get(k) != server.before.get(k)}
    print(f"files created or changed outside the root and the data folder: {len(changed)}")
    assert not changed, sorted(changed)[:20]
    assert CANARY not in server.log()
    leaked = []
    for folder in (server.root, server.data):
        for dirpath, _, filenames in os.walk(folder):
            for name in filenames:
                path = os.path.join(dirpath, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                if os.sep + "secrets" + os.sep in path:  # the catalog's secret store, by design
                    continue
                with open(path, "rb") as fh:
                    if CANARY.encode() in fh.read():
                        leaked.append(path)
    print(f"canary secrets found in responses, the log or files: {len(leaked)}")
    assert not leaked, leaked
