"""The one `/conductor` listener: ack at once, then parse the verb and dispatch it from a registry.

Adding a verb (e.g. `commands/pause.py`):

    from commands.router import CommandInvocation, Reply, VerbRegistry

    async def handle(ctx: BotContext, cmd: CommandInvocation, reply: Reply) -> None:
        ...  # raise a chat.errors.BotError (e.g. UsageError) to tell the user why not

    def register(registry: VerbRegistry) -> None:
        registry.add("pause", handle)

    def register_actions(app: AsyncApp, ctx: BotContext) -> None:   # optional: buttons of its messages
        app.action(PauseAction.CONFIRM)(...)

Then append the module to `VERB_MODULES` below and give the verb a line in `commands.help.CATALOGUE`
(a test checks every registered verb has one). Verb handlers run after the ack, in a background task
held by `ctx.spawn`, so they may take as long as their RPCs need; every error they raise becomes one
ephemeral reply with a correlation id (`chat.errors.describe`). Action listeners ack first and pass the
slow part to `spawn_after_ack(ctx, work, respond, where=...)`; never raise in a listener after `ack()`
(see that function for why).
"""

from __future__ import annotations

import logging
import shlex
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator
from importlib import import_module
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from chat import metrics, suggest
from chat.context import BotContext
from chat.errors import StaleAction, UsageError, describe, new_correlation_id, user_message
from chat.text import escape

logger = logging.getLogger(__name__)

COMMAND = "/conductor"
# Modules exporting `register(registry)` and optionally `register_actions(app, ctx)`.
VERB_MODULES: tuple[str, ...] = (
    "commands.help",
    "commands.networks",
    "commands.status",
    "commands.request",
    "commands.procedure",
    "commands.requests",
    "commands.audit",
    "commands.timeline",
    "alerts.buttons",
)


class CommandInvocation(BaseModel):
    """One `/conductor …` as Slack sent it; `args` are the words after the verb (shell-style quoting)."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    channel_id: str
    text: str
    verb: str
    args: tuple[str, ...]
    response_url: str | None
    trigger_id: str | None
    correlation_id: str

    @classmethod
    def from_payload(cls, payload: dict[str, Any], correlation_id: str) -> CommandInvocation:
        text = str(payload.get("text") or "").strip()
        try:
            words = shlex.split(text)
        except ValueError as e:
            raise UsageError(f"Could not read the command: {e}.") from e
        return cls(
            user_id=str(payload.get("user_id", "")),
            channel_id=str(payload.get("channel_id", "")),
            text=text,
            verb=words[0].lower() if words else "help",
            args=tuple(words[1:]),
            response_url=payload.get("response_url"),
            trigger_id=payload.get("trigger_id"),
            correlation_id=correlation_id,
        )


Respond = Callable[..., Awaitable[Any]]


def logged(respond: Respond, where: str) -> Respond:
    """Bolt's `respond`, saying in the log when Slack refused the post (`respond` returns Slack's
    status and error text, e.g. 404 `expired_url` after 30 min, instead of raising)."""

    async def send(**kwargs: Any) -> Any:
        try:
            answer = await respond(**kwargs)
        except Exception as e:
            logger.warning("response_url post failed where=%s error=%s", where, type(e).__name__)
            raise
        status = getattr(answer, "status_code", 200)
        if status != 200:
            logger.warning(
                "response_url post refused where=%s status=%s code=%s",
                where,
                status,
                str(getattr(answer, "body", ""))[:100],
            )
        return answer

    return send


class Reply:
    """Where a verb's answer goes: to the user only (`response_url`) or to the channel (chat.postMessage)."""

    def __init__(self, respond: Respond, slack: AsyncWebClient, channel_id: str) -> None:
        self._respond = respond
        self._slack = slack
        self._channel_id = channel_id

    async def ephemeral(self, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        await self._respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)

    async def in_channel(self, text: str, blocks: list[dict[str, Any]] | None = None) -> str:
        """Post to the invoking channel and return the message `ts` (to update it or thread under it)."""
        response = await self._slack.chat_postMessage(channel=self._channel_id, text=text, blocks=blocks)
        return str(response["ts"])


VerbHandler = Callable[[BotContext, CommandInvocation, Reply], Awaitable[None]]


class VerbRegistry:
    """Verb name → handler; filled once at start-up by each verb module's `register`."""

    def __init__(self) -> None:
        self._handlers: dict[str, VerbHandler] = {}

    def add(self, verb: str, handler: VerbHandler) -> None:
        if verb in self._handlers:
            raise ValueError(f"verb {verb!r} registered twice")
        self._handlers[verb] = handler

    def get(self, verb: str) -> VerbHandler | None:
        return self._handlers.get(verb)

    def __contains__(self, verb: object) -> bool:
        return verb in self._handlers

    def __iter__(self) -> Iterator[str]:
        return iter(self._handlers)


def build_registry(modules: tuple[str, ...] = VERB_MODULES) -> VerbRegistry:
    registry = VerbRegistry()
    for name in modules:
        import_module(name).register(registry)
    return registry


def register(app: AsyncApp, ctx: BotContext, modules: tuple[str, ...] = VERB_MODULES) -> VerbRegistry:
    """Wire the `/conductor` listener and every verb module's action handlers into the Bolt app."""
    registry = build_registry(modules)
    for name in modules:
        register_actions = getattr(import_module(name), "register_actions", None)
        if register_actions is not None:
            register_actions(app, ctx)

    @app.command(COMMAND)
    async def on_command(ack: Any, command: dict[str, Any], respond: Respond) -> None:
        # Ack before anything else: Slack retries (and users see a timeout) after 3 s.
        await ack()
        correlation_id = new_correlation_id()
        reply = Reply(
            logged(respond, f"command:{correlation_id}"), ctx.slack, str(command.get("channel_id", ""))
        )
        ctx.spawn(dispatch(ctx, registry, command, reply, correlation_id), name=f"command-{correlation_id}")

    return registry


async def dispatch(
    ctx: BotContext, registry: VerbRegistry, payload: dict[str, Any], reply: Reply, correlation_id: str
) -> None:
    """Run one command; any error becomes one ephemeral reply (and a log line with the correlation id)."""
    verb = "unparsed"
    started = time.monotonic()
    try:
        cmd = CommandInvocation.from_payload(payload, correlation_id)
        verb = cmd.verb
        handler = registry.get(cmd.verb)
        logger.info(
            "command verb=%s user=%s channel=%s correlation_id=%s",
            cmd.verb,
            cmd.user_id,
            cmd.channel_id,
            correlation_id,
        )
        if handler is None:
            metrics.COMMANDS.labels(verb="unknown", outcome="unknown_verb").inc()
            await reply.ephemeral(escape(unknown_verb_text(cmd.verb, registry)))
            return
        await handler(ctx, cmd, reply)
        metrics.COMMANDS.labels(verb=verb, outcome="ok").inc()
    except Exception as error:
        known = verb in registry
        outcome = "user_error" if user_message(error) is not None else "error"
        metrics.COMMANDS.labels(verb=verb if known else "unknown", outcome=outcome).inc()
        text = describe(error, correlation_id, where=f"command:{verb}")
        try:
            await reply.ephemeral(text)
        except Exception:
            logger.warning("could not deliver error reply correlation_id=%s", correlation_id)
    finally:
        logger.debug("command done verb=%s seconds=%.3f", verb, time.monotonic() - started)


ButtonWork = Callable[[dict[str, Any], Respond], Coroutine[Any, Any, None]]
ButtonValue = TypeVar("ButtonValue", bound=BaseModel)


def button_value(model: type[ButtonValue], body: dict[str, Any], stale_text: str) -> ButtonValue:
    """The clicked button's value as `model`, or `StaleAction` for anything our builders did not produce
    (an old message, a foreign app's button, a hand-crafted payload)."""
    try:
        return model.model_validate_json(body["actions"][0]["value"])
    except (KeyError, IndexError, TypeError, ValidationError) as e:
        raise StaleAction(stale_text) from e


def add_button(app: AsyncApp, ctx: BotContext, action_id: str, work: ButtonWork) -> None:
    """Listen for one button: ack at once, then run `work(body, respond)` after the ack."""

    async def on_click(ack: Any, body: dict[str, Any], respond: Respond) -> None:
        await ack()
        metrics.ACTIONS.labels(action_id=action_id).inc()
        sent = logged(respond, f"action:{action_id}")
        spawn_after_ack(ctx, work(body, sent), sent, where=f"action:{action_id}")

    app.action(action_id)(on_click)


def spawn_after_ack(ctx: BotContext, work: Coroutine[Any, Any, None], respond: Respond, *, where: str) -> str:
    """Run an action's slow part in the background; a failure becomes an ephemeral reply with an id.

    Action listeners should `await ack()` and hand the rest to this instead of raising in the
    listener: Bolt (1.30) loses an ack whose listener raises right after it, answers Slack 404 after
    3 s and the user sees a failure. Returns the correlation id.
    """
    correlation_id = new_correlation_id()

    async def run() -> None:
        try:
            await work
        except Exception as error:
            text = describe(error, correlation_id, where=where)
            try:
                await respond(text=text, response_type="ephemeral", replace_original=False)
            except Exception:
                logger.warning("could not deliver error reply correlation_id=%s", correlation_id)

    ctx.spawn(run(), name=f"{where}-{correlation_id}")
    return correlation_id


# Words people type for a verb we spell otherwise; difflib would answer `unpause` with `pause`.
VERB_SYNONYMS: dict[str, str] = {"unpause": "resume", "list": "networks", "ls": "networks"}


def unknown_verb_text(verb: str, available: Iterable[str] = ()) -> str:
    """Why `verb` did nothing, with the verb the user most likely meant among `available` ones."""
    # Imported here: help imports this module for the registry type.
    from commands.help import CATALOGUE

    if verb in CATALOGUE:
        return f"`{verb}` is not available in this deployment yet. Try `{COMMAND} help`."
    known = list(available) or list(CATALOGUE)
    meant = VERB_SYNONYMS.get(verb)
    guess = f" — did you mean `{meant}`?" if meant in known else suggest.hint(verb, known)
    if guess:
        return f"Unknown command `{verb}`{guess} `{COMMAND} help` lists every command."
    return f"Unknown command `{verb}`. Try `{COMMAND} help` for the list of commands."
