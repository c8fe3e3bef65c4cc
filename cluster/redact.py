"""Credentials out of URLs and text, before anything is logged or shown in Slack.

RPC providers put secrets in three places: `user:password@`, a key-like path segment
(`/v2/<api-key>`) and a query value (`?apikey=…`). `redact_url` hides all three; `redact_text` does
the same for every URL inside free text (a library's or a node's error message).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

REDACTED = "***"
# `ticket`: Slack's Socket Mode WebSocket URL carries a one-time connection ticket.
_SECRET_QUERY = re.compile(r"(key|token|secret|auth|pass|sig|ticket)", re.IGNORECASE)
_SECRET_SEGMENT = re.compile(r"^[A-Za-z0-9_-]{20,}$")
_URL_IN_TEXT = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+")
_USERINFO = re.compile(r"(://)[^/\s@]+@")
_KEY_SEGMENT = re.compile(r"/[A-Za-z0-9_-]{20,}")


def redact_url(url: str) -> str:
    """The URL without user:password, secret-looking query values or key-like path segments."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        # Unparseable (e.g. port out of range): keep it recognisable, minus the secret-looking parts.
        return _KEY_SEGMENT.sub("/" + REDACTED, _USERINFO.sub(r"\1" + REDACTED + "@", url.split("?")[0]))
    if not parts.scheme or not parts.netloc:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if port is not None:
        host = f"{host}:{port}"
    if parts.username or parts.password:
        host = f"{REDACTED}@{host}"
    path = "/".join(REDACTED if _SECRET_SEGMENT.match(seg) else seg for seg in parts.path.split("/"))
    query = urlencode(
        [
            (k, REDACTED if _SECRET_QUERY.search(k) else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*",
    )
    return urlunsplit((parts.scheme, host, path, query, ""))


def redact_text(text: str) -> str:
    """`text` with every URL in it redacted."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


def secrets_in_url(url: str) -> list[str]:
    """The values `redact_url` hides in `url` (password, secret query values, key-like segments),
    so they can also be hidden where they appear outside a URL."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return []
    found = [password, unquote(password)] if password else []
    found += [v for k, v in parse_qsl(parts.query) if _SECRET_QUERY.search(k) and v]
    found += [seg for seg in parts.path.split("/") if _SECRET_SEGMENT.match(seg)]
    return found
