"""The bot's Redis, opened by a terminal command (`conductor-bot audit`, `timeline`, break-glass verbs)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.settings import Settings
from store.connection import open_redis
from store.gateway import Store
from store.keys import Keys


@asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[Store]:
    """`REDIS_URL`, or the embedded Valkey under the state directory, as a `Store`; closed on the way out."""
    url = settings.redis_url.get_secret_value() if settings.redis_url is not None else None
    handle = await open_redis(url, settings.state_dir)
    try:
        yield Store(handle.client, Keys(prefix=settings.key_prefix))
    finally:
        await handle.close()
