"""Carries out the alert engine's effects on Slack, through a per-network outbox in Redis.

Every effect is first queued (`AlertStore.enqueue`), then `flush(network)` delivers the queue in
order and removes each entry once Slack accepted it. So:

- A Slack outage or a rate limit delays messages but loses none: the entry stays and the next
  flush (the next watcher tick) retries it; a restart finds the same queue in Redis.
- One flusher per network at a time: `flush` holds `Keys.flush_lock(net)` (SET NX PX, renewed after
  each entry), so a button click's flush and the watcher's (or two replicas') never read the same
  entries and deliver them twice. A flush that finds the lock taken leaves the entries to its holder
  (or to the next watcher tick).
- `ratelimited` (HTTP 429) stops deliveries until `Retry-After` has passed: the flusher keeps the
  flush lock with `PX = Retry-After` instead of releasing it, so the back-off lives in Redis and
  every notifier of every replica honours it. Other transient failures (5xx, connection errors)
  stop this flush and retry on the next one.
- A post whose claim is in flight elsewhere (WAIT) holds back only that alert's entries; the
  network's other alerts are still delivered, in order.
- Permanent errors (`channel_not_found`, `message_not_found`, `invalid_blocks`, …) drop the entry
  with an error log: retrying would block every later notification of the network.
- Never two posts for one episode: a post first claims `once(net, post:<fp>:<episode>)`, and is
  skipped when the stored state already has its message. The claim is dropped when Slack refused
  the post, so it is retried; it is kept on an ambiguous timeout (Slack may have posted).
- Updates render the alert's current stored state, so they are idempotent and never show stale data.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from enum import Enum

import aiohttp
from pydantic import BaseModel, ConfigDict
from redis.exceptions import RedisError
from slack_sdk.errors import SlackApiError

from alerts.alert_store import AlertStore, Stored
from alerts.blocks import alert_blocks, alert_text, burst_summary_blocks, burst_summary_text
from alerts.effects import Effect, PostAlert, PostSummary, ThreadReply, UpdateAlert, effect_fingerprints
from alerts.model import AlertState
from chat.context import BotContext

logger = logging.getLogger(__name__)

# A post claim outlives any single Slack call, so a slow post is never repeated by a retry meanwhile.
POST_CLAIM_MS = 120_000
# The flush lock outlives one Slack call (the client times out after 30 s) and is renewed after
# every entry, so it only lapses when its holder died (see `Keys.flush_lock`).
FLUSH_LOCK_MS = 60_000
DEFAULT_RETRY_AFTER = 5.0
FLUSH_LIMIT = 50
_TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "fatal_error", "internal_error", "service_unavailable", "request_timeout"}
)


class Outcome(Enum):
    DELIVERED = "delivered"
    SKIPPED = "skipped"  # nothing to do any more (already posted, alert gone, silenced...)
    WAIT = "wait"  # not deliverable yet (its post is in flight elsewhere); keep it and its alert's later ones
    RETRY = "retry"  # Slack failed transiently; keep it and stop
    DROPPED = "dropped"  # Slack refused it for good


class FlushReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    delivered: int = 0
    dropped: int = 0
    remaining: int = 0
    # Slack answered 429 during this flush: nobody flushes this network before its Retry-After.
    backing_off: bool = False
    # Nothing was flushed: another notifier holds the flush lock, or a Retry-After is in force.
    busy: bool = False


class Notifier:
    """Delivers alert effects; any number of them (per click, per replica) may flush one network."""

    def __init__(self, ctx: BotContext, alerts: AlertStore | None = None) -> None:
        self.ctx = ctx
        self.alerts = alerts or AlertStore(ctx.store)
        # Retry-After (seconds) of a 429 met during the current flush of a network.
        self._retry_after: dict[str, float] = {}

    async def submit(self, network: str, effects: Sequence[Effect]) -> FlushReport:
        """Queue `effects` and deliver what can be delivered now."""
        await self.alerts.enqueue(network, list(effects), self.ctx.clock.now())
        return await self.flush(network)

    async def flush(self, network: str) -> FlushReport:
        """Deliver the network's queued effects in order, unless another notifier is at it."""
        if await self.alerts.outbox_length(network) == 0:
            return FlushReport()  # the usual quiet tick: one round trip instead of a lock cycle
        store = self.ctx.store
        key = store.keys.flush_lock(network)
        token = uuid.uuid4().hex
        if not await store.redis.set(key, token, nx=True, px=FLUSH_LOCK_MS):
            return FlushReport(remaining=await self.alerts.outbox_length(network), busy=True)
        self._retry_after.pop(network, None)
        try:
            delivered, dropped = await self._flush_locked(network, key, token)
        finally:
            retry_after = self._retry_after.pop(network, None)
            await self._unlock(key, token, retry_after)
        remaining = await self.alerts.outbox_length(network)
        return FlushReport(
            delivered=delivered, dropped=dropped, remaining=remaining, backing_off=retry_after is not None
        )

    async def _flush_locked(self, network: str, key: str, token: str) -> tuple[int, int]:
        delivered = dropped = 0
        # Alerts whose post is in flight elsewhere: their entries stay, in order, for a later flush.
        waiting: set[str] = set()
        for raw, entry in await self.alerts.pending(network, FLUSH_LIMIT):
            fps = effect_fingerprints(entry.effect)
            if fps & waiting:
                continue
            outcome = await self._deliver(network, entry.effect)
            if outcome is Outcome.WAIT:
                waiting |= fps
                continue
            if outcome is Outcome.RETRY:
                break
            await self.alerts.done(network, raw)
            delivered += outcome is Outcome.DELIVERED
            dropped += outcome is Outcome.DROPPED
            if not await self.ctx.store.run_script("compare_pexpire", [key], [token, FLUSH_LOCK_MS]):
                logger.warning("flush lock lost network=%s; stopping this flush", network)
                break
        return delivered, dropped

    async def _unlock(self, key: str, token: str, retry_after: float | None) -> None:
        try:
            if retry_after is None:
                await self.ctx.store.run_script("compare_del", [key], [token])
            else:
                # Keep the lock for Retry-After: every notifier of every replica backs off with us.
                ms = max(int(retry_after * 1000), 1)
                await self.ctx.store.run_script("compare_pexpire", [key], [token, ms])
        except RedisError as e:
            # The lock's TTL frees it anyway; do not mask the flush's own outcome.
            logger.warning("flush lock release failed key=%s error=%s", key, type(e).__name__)

    # --- one effect --------------------------------------------------------------------------

    async def _deliver(self, network: str, effect: Effect) -> Outcome:
        try:
            match effect:
                case PostAlert():
                    return await self._post(network, effect.fingerprint)
                case PostSummary():
                    return await self._summary(network, effect.fingerprints)
                case UpdateAlert():
                    return await self._update(network, effect.fingerprint)
                case ThreadReply():
                    return await self._reply(network, effect)
        except SlackApiError as e:
            return self._slack_failed(network, effect, e)
        except (aiohttp.ClientError, TimeoutError) as e:
            logger.warning(
                "slack unreachable network=%s effect=%s error=%s", network, effect.effect, type(e).__name__
            )
            return Outcome.RETRY

    def _slack_failed(self, network: str, effect: Effect, e: SlackApiError) -> Outcome:
        status = e.response.status_code if e.response is not None else 0
        error = str(e.response.get("error", "unknown")) if e.response is not None else "unknown"
        if status == 429 or error == "ratelimited":
            retry_after = _retry_after(e)
            self._retry_after[network] = retry_after
            logger.warning("slack rate limited network=%s retry_after=%s", network, retry_after)
            return Outcome.RETRY
        if status >= 500 or error in _TRANSIENT_ERRORS:
            logger.warning(
                "slack failed network=%s effect=%s status=%s error=%s", network, effect.effect, status, error
            )
            return Outcome.RETRY
        logger.error(
            "slack refused alert effect network=%s effect=%s error=%s", network, effect.effect, error
        )
        return Outcome.DROPPED

    def _channel(self, network: str) -> str | None:
        spec = self.ctx.topology.network(network)
        return spec.alert_channel if spec is not None else None

    async def _post(self, network: str, fp: str) -> Outcome:
        stored = await self.alerts.get(network, fp)
        channel = self._channel(network)
        if stored is None or stored.state.message is not None or stored.state.post_requested_at is None:
            return Outcome.SKIPPED
        if channel is None:
            logger.error("no alert_channel configured network=%s; alert not posted", network)
            return Outcome.DROPPED
        state = stored.state
        claim = self.ctx.store.keys.once(network, f"post:{fp}:{state.episode}")
        if not await self.ctx.store.claim_once(claim, POST_CLAIM_MS):
            return Outcome.WAIT
        now = self.ctx.clock.now()
        ts = await self._claimed_post(claim, channel, alert_text(state), alert_blocks(state, now))
        await self._record_posted(network, [fp], state.episode, channel, ts, shared=False)
        logger.info("alert posted network=%s fingerprint=%s episode=%d", network, fp, state.episode)
        return Outcome.DELIVERED

    async def _summary(self, network: str, fps: Sequence[str]) -> Outcome:
        found = [s for fp in fps if (s := await self.alerts.get(network, fp)) is not None]
        todo = [s.state for s in found if s.state.message is None and s.state.post_requested_at is not None]
        channel = self._channel(network)
        if not todo:
            return Outcome.SKIPPED
        if channel is None:
            logger.error("no alert_channel configured network=%s; summary not posted", network)
            return Outcome.DROPPED
        first = todo[0]
        claim = self.ctx.store.keys.once(network, f"post:{first.fingerprint}:{first.episode}")
        if not await self.ctx.store.claim_once(claim, POST_CLAIM_MS):
            return Outcome.WAIT
        now = self.ctx.clock.now()
        text = burst_summary_text(network, todo)
        ts = await self._claimed_post(claim, channel, text, burst_summary_blocks(network, todo, now))
        for state in todo:
            await self._record_posted(network, [state.fingerprint], state.episode, channel, ts, shared=True)
        logger.info("burst summary posted network=%s alerts=%d", network, len(todo))
        return Outcome.DELIVERED

    async def _claimed_post(
        self, claim: str, channel: str, text: str, blocks: list[dict[str, object]]
    ) -> str:
        try:
            response = await self.ctx.slack.chat_postMessage(channel=channel, text=text, blocks=blocks)
        except TimeoutError:
            raise  # ambiguous: Slack may have posted, so the claim stays until it expires
        except Exception:
            # Slack answered with an error or could not be reached: nothing was posted, retry later.
            await self.ctx.store.redis.delete(claim)
            raise
        return str(response["ts"])

    async def _record_posted(
        self, network: str, fps: Sequence[str], episode: int, channel: str, ts: str, *, shared: bool
    ) -> None:
        for fp in fps:
            for _attempt in range(5):
                stored = await self.alerts.get(network, fp)
                if stored is None or stored.state.episode != episode or stored.state.message is not None:
                    break
                posted = stored.state.posted(channel, ts, shared=shared)
                if await self.alerts.save(posted, stored.version, self.ctx.clock.now()):
                    break

    async def _update(self, network: str, fp: str) -> Outcome:
        stored = await self.alerts.get(network, fp)
        if stored is None:
            return Outcome.SKIPPED
        state = stored.state
        if state.message is None:
            return await self._unposted(network, state)
        now = self.ctx.clock.now()
        ref = state.message
        if ref.shared:
            sharing = await self._sharing(network, ref.ts)
            text, blocks = burst_summary_text(network, sharing), burst_summary_blocks(network, sharing, now)
        else:
            text, blocks = alert_text(state), alert_blocks(state, now)
        await self.ctx.slack.chat_update(channel=ref.channel, ts=ref.ts, text=text, blocks=blocks)
        return Outcome.DELIVERED

    async def _unposted(self, network: str, state: AlertState) -> Outcome:
        # Wait only while its post is in flight; a post that was dropped or never due means nothing to edit.
        claim = self.ctx.store.keys.once(network, f"post:{state.fingerprint}:{state.episode}")
        in_flight = state.post_requested_at is not None and await self.ctx.store.redis.exists(claim)
        return Outcome.WAIT if in_flight else Outcome.SKIPPED

    async def _sharing(self, network: str, ts: str) -> list[AlertState]:
        every: dict[str, Stored] = await self.alerts.load(network)
        return [s.state for s in every.values() if s.state.message is not None and s.state.message.ts == ts]

    async def _reply(self, network: str, reply: ThreadReply) -> Outcome:
        stored = await self.alerts.get(network, reply.fingerprint)
        if stored is None:
            return Outcome.SKIPPED
        state = stored.state
        if reply.episode is not None and reply.episode != state.episode:
            logger.info(
                "reply for an earlier episode dropped network=%s fingerprint=%s", network, state.fingerprint
            )
            return Outcome.SKIPPED
        if state.message is None:
            return await self._unposted(network, state)
        text = reply.text
        if state.message.shared:
            # Several alerts share the summary's thread: say which one this is about.
            text = f"`{state.fingerprint}`: {text}"
        await self.ctx.slack.chat_postMessage(
            channel=state.message.channel, thread_ts=state.message.ts, text=text
        )
        return Outcome.DELIVERED


def _retry_after(e: SlackApiError) -> float:
    headers = e.response.headers if e.response is not None else {}
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return max(float(raw), 1.0)
            except ValueError:
                break
    return DEFAULT_RETRY_AFTER
