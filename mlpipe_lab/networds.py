"""Why a server could not be reached, in words (not urllib3's or socket's exception text).

Client libraries describe a refused connection as, e.g., ``HTTPConnectionPool(host='127.0.0.1',
port=9): Max retries exceeded with url: ... (Caused by NewConnectionError('<urllib3.connection.
HTTPConnection object at 0x7f...>: Failed to establish a new connection: [Errno 111] Connection
refused'))``. People need the cause and what to check.
"""

from __future__ import annotations

import re

# (pattern in the exception text, the cause in words), first match wins
_CAUSES = (
    (r"connection refused|errno 111|errno 61\b|winerror 10061", "nothing answers at that address"),
    (
        r"name or service not known|nodename nor servname|getaddrinfo failed|"
        r"temporary failure in name resolution|no address associated|errno -[23]\b",
        "its host name is not known here",
    ),
    (r"timed out|timeout", "it did not answer in time"),
    (r"certificate_verify_failed|certificate verify failed", "its TLS certificate is not trusted"),
    (r"wrong version number|ssl", "the TLS handshake failed (http and https mixed up?)"),
    (
        r"connection reset|errno 104|remote end closed|remotedisconnected",
        "it closed the connection",
    ),
    (
        r"network is unreachable|no route to host|errno 101|errno 113",
        "the network has no route to it",
    ),
)


def network_reason(error: BaseException | str) -> str:
    """The cause of a failed connection in a few words; the exception's own first line (without
    object addresses) when it is none of the known ones."""
    text = str(error)
    lowered = text.lower()
    for pattern, words in _CAUSES:
        if re.search(pattern, lowered):
            return words
    first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    first = re.sub(r"<[^<>]* object at 0x[0-9a-f]+>:?\s*", "", first)
    return first[:200]
