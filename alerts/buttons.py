"""`/conductor alerts|silence|unsilence` and the buttons on alert messages.

    alerts [NETWORK]                                  firing, pending and silenced alerts
    silence NETWORK [TARGET|all] DURATION             DURATION: 30m, 2h, 1h30m, 1d, or until-resolved
    unsilence NETWORK [TARGET|all]                    (until-resolved only for one alert)

TARGET names one alert: its fingerprint (`net/rule/subject`), `rule/subject`, `rule`, or `RULE SUBJECT`.
Without a target (or with `all`) the whole network is silenced (`Keys.silence`), ending by itself.

Who may respond to alerts (acknowledge, silence, unsilence): a user listed among the network's
requesters OR approvers (directly or through a user group): the people who would act on the alert
anyway. Unlike `chat.authz.may_request`, an empty requesters list means nobody here, not everyone: a
silence takes effect at once, with no approval behind it. Commands must come from a command channel
of the network (READ rule); buttons live in the alert channel, so only the user is checked there.
Listing is READ. Every acknowledge, silence and unsilence (of one alert or of the network) is written
to the network's audit stream (`store.audit`: ALERT for acknowledgements, SILENCE for the rest).
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING, Any

from alerts import views
from alerts.alert_store import AlertStore, NetworkSilence
from alerts.blocks import AlertButtonValue
from alerts.catalog import RULES, rule_spec
from alerts.ids import SILENCE_SECONDS, AlertAction
from alerts.model import AlertState, SilenceEnd, fingerprint
from alerts.notifier import Notifier
from alerts.observations import Acknowledge, Observation, Silence, Unsilence
from alerts.state import transition
from alerts.texts import silence_text
from alerts.views import NOTHING_FIRING, VIEW_ACTIONS, alerts_list, alerts_list_blocks
from chat import authz
from chat.errors import NotAuthorized, StaleAction, UsageError
from chat.suggest import closest_duration, unknown
from chat.text import duration, parse_span
from cluster.topology import NetworkSpec
from commands.router import Respond, add_button, button_value
from commands.status import find_network
from store import audit
from store.audit import AuditEntry, AuditKind
from store.gateway import retry_cas

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from chat.context import BotContext
    from commands.router import CommandInvocation, Reply, VerbRegistry

logger = logging.getLogger(__name__)

SILENCE_USAGE = (
    "Usage: `/conductor silence NETWORK [RULE [SUBJECT]|FINGERPRINT|all] DURATION`"
    " (e.g. `30m`, `2h`, `until-resolved`)"
)
UNSILENCE_USAGE = "Usage: `/conductor unsilence NETWORK [RULE [SUBJECT]|FINGERPRINT|all]`"
MAX_SILENCE_SECONDS = 7 * 24 * 3600
_UNTIL_RESOLVED = ("until-resolved", "until_resolved", "resolved")


def parse_duration(word: str) -> SilenceEnd | float:
    """Seconds for `30m`/`2h`/`1h30m`/`1d`/`90s`, or "resolved" for until-resolved; UsageError otherwise."""
    lowered = word.lower()
    if lowered in _UNTIL_RESOLVED:
        return "resolved"
    seconds = parse_span(lowered)
    if seconds is None:
        guess = closest_duration(lowered, _UNTIL_RESOLVED[:1])
        if guess is not None:
            raise UsageError(f"`{word}` is not a duration — did you mean `{guess}`?")
        raise UsageError(f"`{word}` is not a duration; use e.g. `30m`, `2h`, `1h30m` or `until-resolved`.")
    if not 0 < seconds <= MAX_SILENCE_SECONDS:
        raise UsageError("A silence lasts between 1 second and 7 days.")
    return seconds


def target_fingerprint(network: str, words: tuple[str, ...]) -> str | None:
    """The alert `words` name in `network`, or None for the whole network (`all` or nothing)."""
    if not words or (len(words) == 1 and words[0].lower() == "all"):
        return None
    if len(words) == 2:
        rule, subject = words
    elif len(words) == 1:
        name = words[0].removeprefix(network + "/")
        rule, _, subject = name.partition("/")
    else:
        raise UsageError("Name one alert: `RULE [SUBJECT]`, `rule/subject` or its fingerprint.")
    if rule not in RULES:
        raise UsageError(f"{unknown('alert rule', rule, RULES)} Rules: {', '.join(f'`{r}`' for r in RULES)}.")
    return fingerprint(network, rule, subject)


STALE_BUTTON_TEXT = (
    "This button does not belong to an alert this bot knows; it may be from an old or foreign message."
    " Use `/conductor alerts` to see what is firing."
)


async def require_responder(ctx: BotContext, spec: NetworkSpec, user_id: str) -> None:
    """Raise NotAuthorized unless the user is listed as a requester or an approver of the network."""
    principals = (*spec.requesters, *spec.approvers)
    if user_id and principals and await ctx.directory.is_listed(user_id, principals):
        return
    raise NotAuthorized(
        f"Only requesters or approvers of `{spec.name}` may acknowledge or silence its alerts."
    )


def audit_entry(network: str, fp: str, observation: Observation, now: float) -> AuditEntry | None:
    """The audit entry for a user's response to one alert (None for the watcher's own observations)."""
    match observation:
        case Acknowledge():
            kind, text, data = AuditKind.ALERT, f"acknowledged alert `{fp}`", {"action": "acknowledge"}
        case Silence():
            kind, text = AuditKind.SILENCE, f"silenced alert `{fp}` {_plain_end(observation.until, now)}"
            data = {"action": "silence", "until": str(observation.until)}
        case Unsilence():
            kind, text, data = (
                AuditKind.SILENCE,
                f"lifted the silence on alert `{fp}`",
                {"action": "unsilence"},
            )
        case _:
            return None
    return AuditEntry(
        at=now,
        network=network,
        kind=kind,
        actor=observation.user,
        message=text,
        data={"fingerprint": fp, **data},
    )


def _plain_end(until: SilenceEnd, now: float) -> str:
    # Audit text is read outside Slack too (the CLI), so no `<!date^...>` markup here.
    return "until resolved" if until == "resolved" else f"for {duration(float(until) - now)}"


async def apply(ctx: BotContext, network: str, fp: str, observation: Observation) -> AlertState:
    """Move one alert by a user's observation (CAS, re-read on conflict), audit it, then notify Slack."""
    alerts = AlertStore(ctx.store)

    async def attempt() -> AlertState | None:
        stored = await alerts.get(network, fp)
        if stored is None:
            raise StaleAction(f"There is no alert `{fp}` (it may have expired long after resolving).")
        now = ctx.clock.now()
        new, effects = transition(stored.state, observation, now, rule_spec(stored.state.rule))
        if new == stored.state:
            return new
        if not await alerts.save(new, stored.version, now, audit=audit_entry(network, fp, observation, now)):
            return None
        await Notifier(ctx, alerts).submit(network, effects)
        return new

    applied = await retry_cas(attempt)
    if applied is None:
        raise StaleAction("The alert kept changing while we tried to update it; please try again.")
    return applied


# --- verbs -----------------------------------------------------------------------------------


async def handle_alerts(ctx: BotContext, cmd: CommandInvocation, reply: Reply) -> None:
    if len(cmd.args) > 1:
        raise UsageError("Usage: `/conductor alerts [NETWORK]`")
    network = cmd.args[0] if cmd.args else None
    if network is not None:
        network = find_network(ctx, network).name
    lines = await alerts_list(ctx, network, cmd.user_id, cmd.channel_id)
    text = "\n".join(lines) if lines else NOTHING_FIRING
    await reply.ephemeral(text, alerts_list_blocks(lines, network))


async def handle_silence(ctx: BotContext, cmd: CommandInvocation, reply: Reply) -> None:
    if len(cmd.args) < 2:
        raise UsageError(SILENCE_USAGE)
    spec = find_network(ctx, cmd.args[0])
    await authz.require(ctx, spec, authz.Permission.READ, user_id=cmd.user_id, channel_id=cmd.channel_id)
    await require_responder(ctx, spec, cmd.user_id)
    length = parse_duration(cmd.args[-1])
    fp = target_fingerprint(spec.name, cmd.args[1:-1])
    now = ctx.clock.now()
    if fp is None:
        if length == "resolved":
            raise UsageError("`until-resolved` silences one alert; give the network silence a duration.")
        assert isinstance(length, float)
        await silence_network(ctx, spec.name, cmd.user_id, now + length)
        await reply.in_channel(
            f":no_bell: <@{cmd.user_id}> silenced every alert of `{spec.name}` for {duration(length)}."
        )
        return
    until: SilenceEnd = "resolved" if length == "resolved" else now + float(length)
    silence = Silence(user=cmd.user_id, until=until)
    state = await apply(ctx, spec.name, fp, silence)
    await reply.ephemeral(
        not_firing_text(state, silence, now) or f"Silenced `{fp}` {silence_text(until, now)}."
    )


async def silence_network(ctx: BotContext, network: str, user: str, until: float) -> None:
    now = ctx.clock.now()
    await AlertStore(ctx.store).set_silence(network, NetworkSilence(until=until, by=user, since=now), now)
    logger.info("network silenced network=%s user=%s seconds=%.0f", network, user, until - now)
    entry = AuditEntry(
        at=now,
        network=network,
        kind=AuditKind.SILENCE,
        actor=user,
        message=f"silenced every alert of `{network}` {_plain_end(until, now)}",
        data={"action": "silence", "until": str(until)},
    )
    await audit.append(ctx.store, network, entry)


async def unsilence_network(ctx: BotContext, network: str, user: str) -> bool:
    """Lift the network-wide silence; False when there was none."""
    if not await AlertStore(ctx.store).clear_silence(network):
        return False
    logger.info("network unsilenced network=%s user=%s", network, user)
    entry = AuditEntry(
        at=ctx.clock.now(),
        network=network,
        kind=AuditKind.SILENCE,
        actor=user,
        message=f"lifted the silence on every alert of `{network}`",
        data={"action": "unsilence"},
    )
    await audit.append(ctx.store, network, entry)
    return True


async def handle_unsilence(ctx: BotContext, cmd: CommandInvocation, reply: Reply) -> None:
    if not cmd.args:
        raise UsageError(UNSILENCE_USAGE)
    spec = find_network(ctx, cmd.args[0])
    await authz.require(ctx, spec, authz.Permission.READ, user_id=cmd.user_id, channel_id=cmd.channel_id)
    await require_responder(ctx, spec, cmd.user_id)
    fp = target_fingerprint(spec.name, cmd.args[1:])
    if fp is None:
        if not await unsilence_network(ctx, spec.name, cmd.user_id):
            await reply.ephemeral(f"`{spec.name}` has no network-wide silence.")
            return
        await reply.in_channel(f":bell: <@{cmd.user_id}> lifted the silence on `{spec.name}`.")
        return
    stored = await AlertStore(ctx.store).get(spec.name, fp)
    if stored is not None and stored.state.silenced_until is None:
        await reply.ephemeral(f"`{fp}` is not silenced; nothing to lift.")
        return
    await apply(ctx, spec.name, fp, Unsilence(user=cmd.user_id))
    await reply.ephemeral(f"Lifted the silence on `{fp}`.")


def not_firing_text(state: AlertState, observation: Observation, now: float) -> str | None:
    """What a user's response did to an alert that is not firing; None when it is (the thread says)."""
    if state.phase == "firing":
        return None
    fp = f"`{state.fingerprint}`"
    was = "resolved" if state.phase == "resolved" else f"{state.phase}, not firing"
    match observation:
        case Acknowledge():
            return f"{fp} is {was}: nothing to acknowledge."
        case Silence() if observation.until == "resolved":
            return f"{fp} is {was}: nothing to silence until resolved."
        case Silence():
            return (
                f"{fp} is {was}. Silenced anyway {silence_text(observation.until, now)}: "
                "if it fires before then, it will not be posted."
            )
    return None


def register(registry: VerbRegistry) -> None:
    registry.add("alerts", handle_alerts)
    registry.add("silence", handle_silence)
    registry.add("unsilence", handle_unsilence)


# --- buttons ---------------------------------------------------------------------------------


def register_actions(app: AsyncApp, ctx: BotContext) -> None:
    for action in AlertAction:
        if action not in VIEW_ACTIONS:
            add_button(app, ctx, action.value, partial(_clicked_button, ctx, action))
    views.register_actions(app, ctx)


async def _clicked_button(
    ctx: BotContext, action: AlertAction, body: dict[str, Any], respond: Respond
) -> None:
    await clicked(ctx, action, body, respond)


async def clicked(
    ctx: BotContext, action: AlertAction, body: dict[str, Any], respond: Respond | None = None
) -> None:
    """One alert button: check the user, then move the alert (which updates the message and its thread).

    A click on an alert that is no longer firing changes nothing anyone would see, so the clicker is
    told (ephemerally) what it did instead."""
    value = button_value(AlertButtonValue, body, STALE_BUTTON_TEXT)
    spec = find_network(ctx, value.network)
    user = str((body.get("user") or {}).get("id", ""))
    await require_responder(ctx, spec, user)
    now = ctx.clock.now()
    logger.info("alert action action_id=%s network=%s user=%s", action.value, spec.name, user)
    if action in (AlertAction.SILENCE_NETWORK_30M, AlertAction.SILENCE_NETWORK_2H):
        seconds = SILENCE_SECONDS[action]
        await silence_network(ctx, spec.name, user, now + seconds)
        channel = str((body.get("channel") or {}).get("id", ""))
        message = body.get("message") or {}
        # A summary in a request's thread is itself a reply: answer in that thread, not under it.
        ts = str(message.get("thread_ts") or message.get("ts", ""))
        if channel and ts:
            until = silence_text(now + seconds, now)
            text = f":no_bell: <@{user}> silenced every alert of `{spec.name}` {until}."
            await ctx.slack.chat_postMessage(channel=channel, thread_ts=ts, text=text)
        return
    if value.fingerprint is None:
        raise StaleAction(STALE_BUTTON_TEXT)
    observation: Observation
    if action is AlertAction.ACKNOWLEDGE:
        observation = Acknowledge(user=user)
    elif action is AlertAction.SILENCE_UNTIL_RESOLVED:
        observation = Silence(user=user, until="resolved")
    else:
        observation = Silence(user=user, until=now + SILENCE_SECONDS[action])
    state = await apply(ctx, spec.name, value.fingerprint, observation)
    note = not_firing_text(state, observation, now)
    if note is not None and respond is not None:
        await respond(text=note, response_type="ephemeral", replace_original=False)
