"""Reading and writing .pipeline files (Elyra's pipeline-flow v3 envelope). Text in, text out: no I/O.

The document is kept as the parsed JSON object itself, so keys we do not know (UI data, other
tools' additions) survive a load -> save round trip untouched.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from .problems import PipelineError, Problem

PIPELINE_FLOW_VERSION = "3.0"
ELYRA_VERSION = 8
JSON_SCHEMA_URL = (
    "http://api.dataplatform.ibm.com/schemas/common-pipeline/pipeline-flow/"
    "pipeline-flow-v3-schema.json"
)


def parse(text: str, pipeline: str = "") -> dict[str, Any]:
    """Parse pipeline JSON; a syntax error becomes a Problem with line and column."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PipelineError(
            [
                Problem(
                    code="json",
                    message=f"The file is not valid JSON: {exc.msg}.",
                    pipeline=pipeline,
                    line=exc.lineno,
                    column=exc.colno,
                )
            ]
        ) from None
    if not isinstance(doc, dict):
        raise PipelineError(
            [
                Problem(
                    code="json", message="The file must contain a JSON object.", pipeline=pipeline
                )
            ]
        )
    return doc


def dumps(doc: dict[str, Any], *, like: str | None = None) -> str:
    """Serialise the way Elyra's editor does (``JSON.stringify(doc, null, 2)``: 2-space indent,
    UTF-8 kept). Newline-terminated, unless ``like`` (the text the document was read from) is
    not: Elyra writes no final newline, and a file saved unchanged stays byte-identical."""
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    return text if like is not None and not like.endswith("\n") else text + "\n"


def new_document(name: str, runtime_type: str = "APACHE_AIRFLOW") -> dict[str, Any]:
    """An empty pipeline that Elyra 4 opens (the frontend's template mirrors this)."""
    return {
        "doc_type": "pipeline",
        "version": PIPELINE_FLOW_VERSION,
        "json_schema": JSON_SCHEMA_URL,
        "id": "elyra-auto-generated-pipeline",
        "primary_pipeline": "primary",
        "pipelines": [
            {
                "id": "primary",
                "nodes": [],
                "app_data": {
                    "ui_data": {"comments": []},
                    "version": ELYRA_VERSION,
                    "runtime_type": runtime_type,
                    "properties": {
                        "name": name,
                        "runtime": "Apache Airflow",
                        "pipeline_defaults": {},
                    },
                },
                "runtime_ref": "",
            }
        ],
        "schemas": [],
    }


def clone(doc: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(doc)
