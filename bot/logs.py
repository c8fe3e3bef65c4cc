"""Process logging: one root handler, every record redacted, chatty libraries kept quiet.

`setup_logging` replaces the root logger's handlers with one stderr handler carrying `Redactor`, a
`logging.Filter` that rewrites each record before any formatter sees it: the message (with its args
merged in), the formatted traceback and the stack. Records of every library propagate to the root, so
httpx's request lines, slack_sdk's debug dumps and uvicorn's errors all pass through it. It hides:

- every URL's `user:password@`, key-like path segments and secret query values (`cluster.redact`);
- Slack tokens by shape (`xoxb-…`, `xoxp-…`, `xapp-…`);
- the exact secret values the process was given (`register_secrets`: Slack tokens, the signing
  secret, the Redis password, node URL credentials), wherever they appear.

| Variable                    | Values            | Default |
|-----------------------------|-------------------|---------|
| CONDUCTOR_BOT_LOG_LEVEL     | DEBUG…CRITICAL    | INFO    |
| CONDUCTOR_BOT_LOG_FORMAT    | text, json        | text (`time LEVEL logger key=value message`) |

Below DEBUG's verbosity, httpx/httpcore (a line per request) and APScheduler (two lines per job run)
are held at WARNING; at DEBUG they speak too, still redacted.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal

from cluster.redact import REDACTED, redact_text, secrets_in_url

LogFormat = Literal["text", "json"]

# Libraries that log per request or per job run at INFO; WARNING and above still come through.
QUIET_LIBRARIES = ("httpx", "httpcore", "apscheduler", "hpack", "websockets", "aiohttp.access")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_SLACK_TOKEN = re.compile(r"\bx(?:ox[a-z]|app)-[A-Za-z0-9-]+")
# Shorter values would blank ordinary words out of every line.
_MIN_SECRET_LENGTH = 4


class Redactor(logging.Filter):
    """Rewrites each record so that no secret reaches a formatter; never drops a record."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: list[str] = []

    def add_secrets(self, values: Iterable[str]) -> None:
        """Hide these exact values (longest first, so a secret containing another goes whole)."""
        known = set(self._secrets)
        known.update(v for v in values if len(v) >= _MIN_SECRET_LENGTH)
        self._secrets = sorted(known, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return redact_text(_SLACK_TOKEN.sub(REDACTED, text))

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a library's bad format string must not lose the line
            message = f"{record.msg} {record.args}"
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


REDACTOR = Redactor()


def register_secrets(values: Iterable[str | None]) -> None:
    """Add secrets to the process's redactor: plain values whole, URLs by their secret parts only
    (the rest of a URL says which node a line is about)."""
    found: list[str] = []
    for value in values:
        if value:
            found += secrets_in_url(value) if "://" in value else [value]
    REDACTOR.add_secrets(found)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (+ traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str = "INFO", fmt: LogFormat = "text") -> logging.Handler:
    """Route all logging through one redacting stderr handler; returns that handler."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(REDACTOR)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    numeric = logging.getLevelName(level.upper())
    root.setLevel(numeric if isinstance(numeric, int) else logging.INFO)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.NOTSET if root.level <= logging.DEBUG else logging.WARNING)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    return handler


def _log_uncaught(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    # Last resort (the CLI catches what it expects): even a crash's traceback goes through the redactor.
    logging.getLogger("conductor_bot").critical("uncaught exception", exc_info=(kind, value, tb))
