"""Finding the secret values in a runtime configuration, scrubbing them from text, and refusing text
that contains one."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

# Keys whose values are secrets wherever they appear in a runtime configuration.
SECRET_KEYS = frozenset(
    {"token", "password", "secret_access_key", "ssh_private_key", "client_secret", "api_key"}
)

# Secrets shorter than this are scrubbed from messages but not used to refuse a DAG: a short password
# such as "airflow" would match every DAG file.
MIN_GUARD_LENGTH = 8

REDACTED = "***"

_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")


def collect_secrets(config: Any) -> list[str]:
    """Every non-empty secret value found in ``config`` (nested dicts and lists), longest first."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if key in SECRET_KEYS and isinstance(value, str) and value.strip():
                    found.add(value)
                    found.update(_key_fragments(value))
                else:
                    walk(value)
        elif isinstance(node, (list, tuple)):
            for item in node:
                walk(item)

    walk(config)
    return sorted(found, key=len, reverse=True)


def _key_fragments(value: str) -> list[str]:
    """Long lines of a multi-line secret (a PEM key's base64 body), so that one leaked line counts."""
    if "\n" not in value:
        return []
    return [
        line.strip()
        for line in value.splitlines()
        if len(line.strip()) >= 24 and "-----" not in line
    ]


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (and its URL-encoded form) replaced, and URL user-info removed."""
    if not text:
        return text
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
        encoded = quote(secret, safe="")
        if encoded != secret:
            text = text.replace(encoded, REDACTED)
    return _URL_USERINFO.sub(lambda m: m.group("scheme") + REDACTED + "@", text)


def find_leak(text: str, secrets: Iterable[str]) -> bool:
    """True when ``text`` contains one of the (long enough) secrets."""
    if not text:
        return False
    return any(len(s) >= MIN_GUARD_LENGTH and s in text for s in secrets)


def redact_url(url: str) -> str:
    """A repository or endpoint URL safe to show: user-info replaced."""
    return _URL_USERINFO.sub(lambda m: m.group("scheme") + REDACTED + "@", url)
