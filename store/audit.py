"""The per-network audit trail: a Redis stream of `AuditEntry`, newest read first.

Entries describe who did what (Slack user ids, request ids, step names, results), never
credentials: the model refuses values that look like Slack tokens or keys that name a secret,
so a careless caller fails loudly in tests instead of leaking into the history.

To record an entry atomically with a state change, pass `stage(store, entry)` as the `audit`
argument of `Store.cas`/`Store.create`; `append` is for entries that stand alone.
"""

from __future__ import annotations

import logging
import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from redis.typing import EncodableT

from store.gateway import AuditAppend, Store, text

log = logging.getLogger(__name__)

_SECRET_VALUE = re.compile(r"xox[abposre]-|xapp-|-----BEGIN [A-Z ]*PRIVATE KEY")
_SECRET_NAME = re.compile(r"secret|password|passwd|private_key|api_key|authorization", re.IGNORECASE)


class AuditKind(StrEnum):
    """What an audit entry records."""

    REQUEST = "request"
    VOTE = "vote"
    APPROVE = "approve"
    REJECT = "reject"
    CANCEL = "cancel"
    EXPIRE = "expire"
    EXECUTE = "execute"
    STEP = "step"
    RESULT = "result"
    LOCK = "lock"
    ALERT = "alert"
    SILENCE = "silence"


class AuditEntry(BaseModel):
    """One thing that happened to a network, as shown in Slack and the CLI."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: float
    network: str
    kind: AuditKind
    actor: str | None = None
    request_id: str | None = None
    message: str = Field(max_length=2000)
    data: dict[str, str] = Field(default_factory=dict)

    @field_validator("message")
    @classmethod
    def _no_secret_in_message(cls, value: str) -> str:
        if _SECRET_VALUE.search(value):
            raise ValueError("audit message looks like it contains a credential")
        return value

    @field_validator("data")
    @classmethod
    def _no_secret_in_data(cls, value: dict[str, str]) -> dict[str, str]:
        for name, item in value.items():
            if _SECRET_NAME.search(name) or _SECRET_VALUE.search(item):
                raise ValueError(f"audit data field {name!r} looks like a credential")
        return value


# The stream entry holds the model's JSON in one field: lossless for None and nested data, and
# still readable with `XREVRANGE` in redis-cli.
_FIELD = "entry"


def stage(store: Store, entry: AuditEntry) -> AuditAppend:
    """The XADD to run inside a state transition's Lua script."""
    return AuditAppend(key=store.keys.audit(entry.network), fields={_FIELD: entry.model_dump_json()})


async def append(store: Store, network: str, entry: AuditEntry) -> str:
    """Append a standalone entry; returns its stream id."""
    if entry.network != network:
        raise ValueError(f"entry for {entry.network!r} appended to {network!r}")
    staged = stage(store, entry)
    fields: dict[EncodableT, EncodableT] = {k: v for k, v in staged.fields.items()}
    stream_id = await store.redis.xadd(staged.key, fields, maxlen=staged.maxlen, approximate=True)
    return text(stream_id)


async def read(store: Store, network: str, count: int = 20) -> list[AuditEntry]:
    """The latest `count` entries of a network, newest first."""
    rows = await store.redis.xrevrange(store.keys.audit(network), count=count) or []
    entries: list[AuditEntry] = []
    for stream_id, fields in rows:
        try:
            entries.append(AuditEntry.model_validate_json((fields or {})[_FIELD]))
        except (KeyError, ValidationError):
            # One malformed entry (e.g. written by a newer version) must not hide the rest.
            log.warning("unreadable audit entry network=%s id=%s", network, stream_id)
    return entries
