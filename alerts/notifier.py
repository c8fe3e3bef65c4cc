"""Turns the alert engine's effects into Slack writes in the network's outbox, and delivers them.

Each effect becomes one immutable `store.outbox.SlackWrite`, rendered NOW from the state of the
episode it is about, and addressed to that episode's message:

- `PostAlert` → a post of message `alert:<fp>:<episode>`;
- `PostSummary` → a post of message `summary:<first fp>:<episode>`, and every member episode is
  recorded as shown by it (`AlertStore.start_summary`);
- `UpdateAlert` → an update of the episode's message (a summary re-renders every member, keeping a
  member that has since moved to a new episode as it last was);
- `ThreadReply` → a reply in the thread of the episode the reply names.

An episode the bot's own approved operation caused (`AlertState.cause`, `alerts.own_ops`) is posted
(and summarised) as a reply in the request's thread, where later updates edit it; its thread
replies (reminders, resolved) go to the request's thread too, naming the alert.

So a newer episode never takes an older one's message: an alert that resolves and fires again during
a Slack outage gets its first message updated to "resolved" with its resolution reply, and a new
message for the new episode, in that order, once Slack is back. Delivery (order per message, once
across crashes, rate limits and outages, one live flusher per network) is `chat.delivery`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from alerts.alert_store import AlertStore, own_message_key, summary_message_key
from alerts.blocks import alert_blocks, alert_text, burst_summary_blocks, burst_summary_text
from alerts.catalog import rule_spec
from alerts.effects import Effect, PostAlert, PostSummary, ThreadReply, UpdateAlert
from alerts.model import AlertState
from chat.context import BotContext
from chat.delivery import Deliverer, FlushReport
from chat.text import escape
from store.outbox import Outbox, SlackWrite

logger = logging.getLogger(__name__)

__all__ = ["FlushReport", "Notifier"]


class Notifier:
    """Queues and delivers alert effects; any number of them (per click, per replica) may run."""

    def __init__(self, ctx: BotContext, alerts: AlertStore | None = None) -> None:
        self.ctx = ctx
        self.alerts = alerts or AlertStore(ctx.store)
        self.deliverer = Deliverer(ctx)
        self.outbox = Outbox(ctx.store)

    async def submit(
        self,
        network: str,
        effects: Sequence[Effect],
        states: Mapping[str, AlertState] | None = None,
        events: Sequence[SlackWrite] = (),
    ) -> FlushReport:
        """Render `effects` (from `states` as just written, else as stored), queue them after the
        already rendered `events` (leader change messages), deliver."""
        writes = [*events, *await self.render(network, effects, states or {})]
        return await self.deliverer.submit(network, writes)

    async def flush(self, network: str) -> FlushReport:
        return await self.deliverer.flush(network)

    async def render(
        self, network: str, effects: Sequence[Effect], states: Mapping[str, AlertState]
    ) -> list[SlackWrite]:
        if not effects:
            return []
        spec = self.ctx.topology.network(network)
        channel = spec.alert_channel if spec is not None else None
        if not channel:
            logger.error(
                "no alert_channel configured network=%s; %d alert effect(s) dropped", network, len(effects)
            )
            return []
        now = self.ctx.clock.now()
        writes: list[SlackWrite] = []
        for effect in effects:
            write = await self._render(network, channel, effect, states, now)
            if write is not None:
                writes.append(write)
        return writes

    async def _state(self, network: str, fp: str, states: Mapping[str, AlertState]) -> AlertState | None:
        if fp in states:
            return states[fp]
        stored = await self.alerts.get(network, fp)
        return stored.state if stored is not None else None

    async def _render(
        self, network: str, channel: str, effect: Effect, states: Mapping[str, AlertState], now: float
    ) -> SlackWrite | None:
        if isinstance(effect, PostSummary):
            return await self._summary(network, channel, effect, states, now)
        state = await self._state(network, effect.fingerprint, states)
        if state is None:
            logger.info(
                "effect for an alert no longer stored network=%s fingerprint=%s", network, effect.fingerprint
            )
            return None
        match effect:
            case PostAlert():
                cause = state.cause
                return SlackWrite(
                    message=own_message_key(state.fingerprint, state.episode),
                    op="post",
                    text=alert_text(state),
                    blocks=alert_blocks(state, now),
                    label="alert_post",
                    channel=cause.channel if cause is not None else channel,
                    thread_ts=cause.ts if cause is not None else None,
                    queued_at=now,
                )
            case UpdateAlert():
                message = await self.alerts.message_key(network, state.fingerprint, state.episode)
                if message == own_message_key(state.fingerprint, state.episode):
                    text, blocks = alert_text(state), alert_blocks(state, now)
                else:
                    members = await self.alerts.summary_members(network, message, state)
                    text = burst_summary_text(network, members)
                    blocks = burst_summary_blocks(network, members, now)
                # Queued for the channel its message lives in (holds, pacing and order go by it): a
                # caused episode and its summary were posted in the request's thread, every member of a
                # summary with the same cause (`alerts.burst`).
                return SlackWrite(
                    message=message,
                    op="update",
                    text=text,
                    blocks=blocks,
                    label="alert_update",
                    channel=state.cause.channel if state.cause is not None else channel,
                    queued_at=now,
                )
            case ThreadReply():
                return await self._reply(network, effect, state, channel, now)

    async def _reply(
        self, network: str, reply: ThreadReply, state: AlertState, channel: str, now: float
    ) -> SlackWrite:
        # The reply's own episode: queued before a newer episode began, it still belongs to the old thread.
        episode = reply.episode if reply.episode is not None else state.episode
        cause = state.cause
        if cause is not None and episode == state.episode:
            # The episode's message is itself a reply in the request's thread: answer in that thread.
            return SlackWrite(
                message=f"request:{cause.request_id}",
                op="reply",
                channel=cause.channel,
                ts=cause.ts,
                text=f"*{escape(_title_of(state))}*: {reply.text}",
                label=reply.kind,
                queued_at=now,
            )
        message = await self.alerts.message_key(network, state.fingerprint, episode)
        # An older episode may have been caused (posted in a request's thread): reply where it landed.
        landed = await self.outbox.message(network, message)
        text = reply.text
        if message != own_message_key(state.fingerprint, episode):
            # Several alerts share the summary's thread: say which one this is about.
            text = f"`{state.fingerprint}`: {text}"
        return SlackWrite(
            message=message,
            op="reply",
            text=text,
            label=reply.kind,
            channel=landed.channel if landed is not None else channel,
            queued_at=now,
        )

    async def _summary(
        self, network: str, channel: str, effect: PostSummary, states: Mapping[str, AlertState], now: float
    ) -> SlackWrite | None:
        members = [
            s for fp in effect.fingerprints if (s := await self._state(network, fp, states)) is not None
        ]
        if not members:
            return None
        message = summary_message_key(members[0])
        await self.alerts.start_summary(network, message, members)
        # A burst is grouped by where it goes (`alerts.burst`): every member has the same cause.
        cause = members[0].cause
        return SlackWrite(
            message=message,
            op="post",
            channel=cause.channel if cause is not None else channel,
            thread_ts=cause.ts if cause is not None else None,
            text=burst_summary_text(network, members),
            blocks=burst_summary_blocks(network, members, now),
            label="burst_summary",
            queued_at=now,
        )

    async def posted_or_queued(self, network: str, message: str) -> bool:
        """Whether `message` is in Slack or its post waits in the outbox (`outbox_done` does both
        in one script, so an entry is always one or the other)."""
        if await self.outbox.message(network, message) is not None:
            return True
        return any(
            p.write is not None and p.write.op == "post" and p.write.message == message
            for p in await self.outbox.pending(network)
        )

    async def unposted(self, network: str, candidates: Sequence[AlertState]) -> list[AlertState]:
        """Of `candidates` (episodes whose post was requested), those with neither a message in Slack
        nor a post waiting in the outbox: their post was lost before it was queued."""
        if not candidates:
            return []
        queued = {
            p.write.message for p in await self.outbox.pending(network) if p.write and p.write.op == "post"
        }
        lost: list[AlertState] = []
        for state in candidates:
            message = await self.alerts.message_key(network, state.fingerprint, state.episode)
            if message in queued or await self.outbox.message(network, message) is not None:
                continue
            lost.append(state)
        return lost


def _title_of(state: AlertState) -> str:
    title = rule_spec(state.rule).title
    return f"{title}: {state.subject}" if state.subject else title
