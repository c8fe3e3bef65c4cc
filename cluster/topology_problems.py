"""What can be wrong with a clusters file (`Problem`, `TopologyError`), and the checks of its addresses."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from cluster.redact import redact_url

Loc = tuple[str | int, ...]


class Problem(BaseModel):
    """One thing wrong with a clusters file."""

    model_config = ConfigDict(frozen=True)

    file: str
    location: str
    message: str
    hint: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        loc = f" {self.location}:" if self.location else ""
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{where}:{loc} {self.message}{hint}"


class TopologyError(Exception):
    """Raised when a clusters file cannot be read or is invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def check_http_url(url: str) -> str | None:
    """Why `url` is not a usable http(s) endpoint, or None; credentials redacted."""
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"invalid URL {shown!r}: {exc}"
    if parts.scheme not in ("http", "https"):
        return f"URL {shown!r} must start with http:// or https://"
    if not parts.hostname:
        return f"URL {shown!r} has no host"
    if port == 0:
        return f"URL {shown!r} has port 0"
    return None


def check_host_port(addr: str) -> str | None:
    """Why `addr` is not `host:port` with a port in 1-65535, or None."""
    host, sep, port = addr.rpartition(":")
    if not sep or not host or "/" in addr or " " in addr:
        return f"{addr!r} is not host:port"
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        return f"{addr!r} has port {port!r}, expected 1-65535"
    return None
