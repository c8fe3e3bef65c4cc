"""What the break-glass terminal commands (`bot.terminal_cli`, `bot.procedure_cli`) share: exit codes,
refusals, the operator and the typed-back confirmation, Redis and HTTP without Slack, the best-effort
notice to the alert channel, and how a run's result ends the command.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
import socket
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any, NoReturn

import httpx
import typer
from redis.exceptions import RedisError
from rich.console import Console
from rich.markup import escape
from slack_sdk.web.async_client import AsyncWebClient

from bot.cli_store import open_store
from bot.settings import Settings
from bot.status_cli import fail_exit, stdout_console
from chat.authz import UserGroupDirectory
from chat.context import BotContext
from cluster.clock import SystemClock
from cluster.poller import polling_client
from cluster.topology import NetworkSpec, Topology
from commands import terminal
from store.connection import RedisUnavailable

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 3
EXIT_NO_BREAK_GLASS, EXIT_BLOCKED, EXIT_BUSY, EXIT_NOT_CONFIRMED, EXIT_REDIS = 4, 5, 6, 7, 8
EXIT_INTERRUPTED = 130
# The verdicts both commands can end with; each adds its own.
EXIT_BY_SHARED_VERDICT = {
    "succeeded": EXIT_OK,
    "failed": EXIT_FAILED,
    "busy": EXIT_BUSY,
    "store_lost": EXIT_REDIS,
}
NOTICE_TIMEOUT = 5.0
DEFAULT_SLACK_API_URL = "https://slack.com/api/"


# The options both break-glass commands take.
BreakGlassOption = Annotated[
    bool, typer.Option("--break-glass", help="Act without a second approver (required).")
]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why; recorded in the audit trail (required).")]
YesOption = Annotated[bool, typer.Option("--yes", help="Skip typing the network name to confirm.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")]


class Refused(Exception):
    """Ends the command with `code`, after `message` (and the JSON result when asked)."""

    def __init__(self, code: int, message: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.result = result or {}


def confirm(err: Console, network: str) -> bool:
    """The operator types the network's name back; anything else (or no input) declines."""
    err.print(f"Type the network name ([bold]{escape(network)}[/bold]) to run this: ", end="")
    answer = sys.stdin.readline()
    return answer.strip() == network


def confirm_or_refuse(err: Console, network: str, base: dict[str, Any]) -> None:
    """Ask for the network's name typed back; `Refused` (with `base` in the result) unless it is."""
    if not confirm(err, network):
        raise Refused(EXIT_NOT_CONFIRMED, "not confirmed; nothing ran", {**base, "verdict": "not_confirmed"})


async def refuse_if_busy(ctx: BotContext, spec: NetworkSpec, base: dict[str, Any]) -> None:
    """`Refused` (with `base` in the result) while an operation holds the network's lock."""
    if await terminal.lock_holder(ctx, spec):
        text = f"an operation is running on {spec.name} right now (its lock is held); nothing ran"
        raise Refused(EXIT_BUSY, text, {**base, "verdict": "busy"})


async def post_notice(settings: Settings, spec: NetworkSpec, text: str) -> bool:
    """Tell the network's alert channel, if Slack answers in time; never raises."""
    if spec.alert_channel is None or settings.slack_bot_token is None:
        return False
    base = settings.slack_api_url or DEFAULT_SLACK_API_URL
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=base if base.endswith("/") else base + "/",
        timeout=int(NOTICE_TIMEOUT),
    )
    try:
        async with asyncio.timeout(NOTICE_TIMEOUT):
            await client.chat_postMessage(channel=spec.alert_channel, text=text)
    except Exception as e:  # best effort by design: the operation's result stands
        logger.warning("break-glass notice not posted network=%s error=%s", spec.name, type(e).__name__)
        return False
    return True


@asynccontextmanager
async def terminal_context(settings: Settings, topology: Topology) -> AsyncIterator[BotContext]:
    """What the executor and the procedure runner need, without Slack: Redis, HTTP, the clock."""
    async with open_store(settings) as store, polling_client(topology) as http:
        clock = SystemClock()
        slack = AsyncWebClient(token=None)  # the cores never talk to Slack from the terminal
        yield BotContext(
            settings=settings,
            topology=topology,
            http=http,
            clock=clock,
            slack=slack,
            directory=UserGroupDirectory(slack, clock),
            redis=store.redis,
            store=store,
        )


def require_break_glass(break_glass: bool, reason: str, what: str) -> None:
    """Refuse unless `--break-glass` and a non-empty `--reason` were given (`what`: the command)."""
    if not break_glass or not reason.strip():
        raise fail_exit(
            f'{what} from the terminal has no second approver: pass --break-glass --reason "why" '
            "(recorded with your OS user and host). Nothing ran.",
            EXIT_NO_BREAK_GLASS,
        )


def operator_or_exit(reason: str) -> terminal.Operator:
    """The OS user and host at the terminal, with the reason given; refused when it will not do."""
    who = terminal.Operator(user=getpass.getuser(), host=socket.gethostname(), reason=reason.strip())
    if (problem := who.problem()) is not None:
        raise fail_exit(f"{problem}. Nothing ran.", EXIT_USAGE)
    return who


def consoles(json_out: bool) -> tuple[Console, Console]:
    """(out, err): with --json, stdout carries only the result; the plan and progress go to stderr."""
    err = Console(stderr=True, highlight=False)
    out = err if json_out else stdout_console()
    return out, err


def end_with_result(
    work: Coroutine[Any, Any, dict[str, Any]],
    exit_by_verdict: Mapping[str, int],
    *,
    interrupted: str,
    json_out: bool,
    out: Console,
    shown: Callable[[str], str],
) -> NoReturn:
    """Run `work` and end the command with its verdict's exit code, after its result (`shown` as a line)."""
    try:
        result = asyncio.run(work)
        code = exit_by_verdict[result["verdict"]]
        message = result["text"]
    except Refused as exc:
        result, code, message = exc.result, exc.code, str(exc)
    except KeyboardInterrupt:
        raise fail_exit(interrupted, EXIT_INTERRUPTED) from None
    except RedisUnavailable as exc:
        raise fail_exit(f"cannot take the network's lock or write the audit: {exc}", EXIT_REDIS) from None
    except (RedisError, OSError, httpx.HTTPError) as exc:
        # Only the type: a Redis URL in the message may carry a password.
        raise fail_exit(
            f"the store or network failed ({type(exc).__name__}); see the audit trail", EXIT_REDIS
        ) from None
    if json_out:
        stdout_console().print(json.dumps(result), markup=False, highlight=False, soft_wrap=True)
    else:
        style = "green" if code == EXIT_OK else "red"
        out.print(f"[{style}]{escape(result.get('verdict', 'refused'))}[/{style}]: {shown(message)}")
    raise typer.Exit(code)
