"""`conductor-bot demo` (and `make demo`): the whole bot on this machine, no Slack workspace needed.

It starts, on loopback ports: the simulator in scaled real time (one network of 3 sequencers, plus a
standby one to rehearse add-voter on), a local stand-in for Slack's Web API that prints every message
the bot posts, updates or answers to this terminal, and the real bot in HTTP mode (embedded Valkey under
`.state/demo`, the alert watcher on its scheduler). Then it walks a short tour through signed Slack
requests sent to the bot's own `/slack/events` endpoint: status, a killed leader and the alerts it
raises, a pause requested by one person and approved by another. Afterwards everything keeps running
until Ctrl-C, so the endpoints, `conductor-bot status sim-1 --clusters .state/demo/clusters.yml` and the
simulator's control API can be tried by hand.

It also serves the rehearsal room (`bot.rehearsal`), a Slack-like page on 127.0.0.1 (port 8765, or any
free one if that is taken; the URL is printed) where a team practises incidents on the simulator with
the real bot: four users to switch between, fault buttons per node and scenarios from the runbook.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.main import serve_bot
from bot.rehearsal.server import RehearsalRoom, RoomUser
from bot.scheduler import start_scheduler, stop_scheduler
from bot.settings import Settings
from cluster.topology import Topology
from commands.ids import ApprovalAction
from sim.config_files import channel_for
from sim.harness import Simulator, simulate
from sim.slack_api import FakeSlackApi
from sim.slack_requests import SlackDriver
from store.connection import open_redis

NETWORK = "sim-1"
ONCALL, LEAD, SRE, GUEST = "U0ONCALL", "U0LEAD", "U0SRE", "U0GUEST"
ROOM_USERS = (
    RoomUser(ONCALL, "Olivia", "on-call, requester"),
    RoomUser(LEAD, "Lee", "lead, approver"),
    RoomUser(SRE, "Sam", "SRE, approver"),
    RoomUser(GUEST, "Gus", "outsider"),
)
SIGNING_SECRET = "demo-signing-secret"  # signs the tour's own requests; not a real Slack secret
WATCH_INTERVAL = 1.0
STEP_TIMEOUT = 60.0


def _flatten(blocks: Any) -> list[str]:
    """The readable text of Block Kit blocks, one line per section/context/header."""
    lines: list[str] = []
    for block in blocks if isinstance(blocks, list) else []:
        texts = [block.get("text"), *(block.get("fields") or []), *(block.get("elements") or [])]
        for t in texts:
            if isinstance(t, dict) and isinstance(t.get("text"), str):
                lines.append(t["text"])
            elif isinstance(t, dict) and isinstance(t.get("text"), dict):
                lines.append(f"[button: {t['text'].get('text')}]")
    return lines


def console_printer(echo: Callable[[str], None]) -> Callable[[str, dict[str, Any]], None]:
    """Print what Slack users would see for each Web API call or response_url post the bot makes."""

    def show(method: str, params: dict[str, Any]) -> None:
        labels = {
            "chat.postMessage": "posted" + (" in thread" if params.get("thread_ts") else ""),
            "chat.update": "updated",
        }
        if method.startswith("response:"):
            method = "response"
            labels[method] = "replied to the user"
        if method not in labels:
            return
        blocks = params.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        body = _flatten(blocks) or [str(params.get("text") or "")]
        where = params.get("channel") or ""
        echo(f"\n── slack {labels[method]} {where} " + "─" * 20)
        echo("\n".join(body))

    return show


async def _reply(fake: FakeSlackApi, name: str) -> None:
    await fake.wait_for_response(name, timeout=STEP_TIMEOUT)


async def tour(
    sim: Simulator, fake: FakeSlackApi, driver: SlackDriver, echo: Callable[[str], None], speed: float
) -> None:
    channel = channel_for(NETWORK)

    def step(title: str) -> None:
        echo(f"\n\n=== {title} ===")

    step(f"1. {ONCALL} asks: /conductor status {NETWORK}")
    await _reply(
        fake, (await driver.command(f"status {NETWORK}", user=ONCALL, channel=channel)).response_name
    )

    # The watcher's first tick of a network comes at that network's phase within the interval
    # (bot.scheduler); wait one interval so it has seen the healthy cluster before the fault.
    await asyncio.sleep(WATCH_INTERVAL)
    leader = sim.network(NETWORK).leader_id() or "seq-0"
    step(f"2. The leader's conductor ({leader}) dies; the watcher tells the channel")
    await sim.kill(NETWORK, leader)
    await fake.wait_for(
        "chat.postMessage", predicate=lambda c: c.get("channel") == channel, timeout=STEP_TIMEOUT
    )
    await asyncio.sleep(8 / speed)  # let the new leader settle (8 simulated seconds)

    target = next(n for n in ("seq-1", "seq-2") if n != sim.network(NETWORK).leader_id())
    step(f"3. {ONCALL} requests: /conductor pause {NETWORK} {target}  (needs a second person)")
    command = f"pause {NETWORK} {target}"
    await driver.command(command, user=ONCALL, channel=channel)
    await fake.wait_for(
        "chat.postMessage", predicate=lambda c: command in str(c.get("text")), timeout=STEP_TIMEOUT
    )
    request = next(m for m in fake.messages(channel) if command in m.text)
    value = _button_value(request.blocks, ApprovalAction.APPROVE)

    step(f"4. {ONCALL} tries to approve their own request")
    sent = await driver.click(
        ApprovalAction.APPROVE, value, user=ONCALL, channel=channel, message_ts=request.ts
    )
    await _reply(fake, sent.response_name)

    step(f"5. {LEAD} approves; the bot re-checks, runs the step under the network lock and verifies it")
    await driver.click(ApprovalAction.APPROVE, value, user=LEAD, channel=channel, message_ts=request.ts)
    await fake.wait_for(
        "chat.update",
        predicate=lambda c: (
            c.get("ts") == request.ts and str(c.get("text", "")).startswith(("succeeded", "failed"))
        ),
        timeout=STEP_TIMEOUT,
    )


def _button_value(blocks: list[dict[str, Any]] | None, action_id: str) -> str:
    for block in blocks or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return str(element["value"])
    raise RuntimeError(f"no {action_id} button in the approval message")


async def _open_room(fake: FakeSlackApi, events_url: str, control_url: str, port: int) -> RehearsalRoom:
    async def start(port: int) -> RehearsalRoom:
        return await RehearsalRoom.start(
            fake,
            events_url,
            SIGNING_SECRET,
            control_url,
            network=NETWORK,
            channel=channel_for(NETWORK),
            users=ROOM_USERS,
            port=port,
        )

    try:
        return await start(port)
    except OSError:
        if port == 0:
            raise
        return await start(0)  # the usual port is taken (another demo?): any free one, printed anyway


async def run_demo(
    state_dir: Path, http_port: int, speed: float, with_tour: bool, ui_port: int | None = 0
) -> None:
    echo = typer.echo
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    fake = await FakeSlackApi.start()
    fake.listeners.append(console_printer(echo))
    redis = await open_redis(None, state_dir)
    try:
        async with simulate(nodes=3, spare=1, realtime=True, speed=speed) as sim:
            base = sim.topology()
            topology = Topology(
                networks={
                    n: s.model_copy(update={"requesters": (ONCALL,), "approvers": (LEAD, SRE)})
                    for n, s in base.networks.items()
                }
            )
            sim.write_config(state_dir)
            settings = Settings(
                SLACK_BOT_TOKEN="xoxb-demo",
                SLACK_SIGNING_SECRET=SIGNING_SECRET,
                SLACK_API_URL=fake.base_url,
                CONDUCTOR_BOT_STATE_DIR=str(state_dir),
                CONDUCTOR_BOT_POLL_INTERVAL=WATCH_INTERVAL,
            )
            async with serve_bot(
                settings,
                topology,
                redis=redis.client,
                clock=sim.clock,
                host="127.0.0.1",
                port=http_port,
                startup=(start_scheduler,),
                shutdown=(stop_scheduler,),
            ) as bot:
                echo(f"bot ready: {bot.url}/slack/events  /healthz  /metrics")
                echo(f"simulator control: {sim.control_url}; configs in {state_dir}/")
                driver = SlackDriver(f"{bot.url}/slack/events", SIGNING_SECRET, fake.response_url_for)
                room = None
                if ui_port is not None:
                    room = await _open_room(fake, f"{bot.url}/slack/events", sim.control_url, ui_port)
                    echo(f"rehearsal room (open in a browser): {room.url}")
                if with_tour:
                    tour_task = asyncio.create_task(tour(sim, fake, driver, echo, speed))
                    stopped = asyncio.create_task(stop.wait())
                    await asyncio.wait({tour_task, stopped}, return_when=asyncio.FIRST_COMPLETED)
                    if not tour_task.done():
                        tour_task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await tour_task
                echo(
                    "\nThe demo keeps running (Ctrl-C stops it). Try, in another terminal:\n"
                    f"  .venv/bin/conductor-bot status {NETWORK} --clusters {state_dir}/clusters.yml\n"
                    f"  curl -s -H 'content-type: application/json' {sim.control_url} -d "
                    '\'{"jsonrpc":"2.0","id":1,"method":"sim_splitBrain","params":["sim-1","seq-2"]}\'\n'
                    "and watch the alerts appear here."
                )
                try:
                    await stop.wait()
                finally:
                    if room is not None:
                        await room.stop()
    finally:
        await redis.close()
        await fake.stop()


def demo_command(
    state_dir: Annotated[Path, typer.Option(help="Where the demo keeps Valkey data and configs.")] = Path(
        ".state/demo"
    ),
    http_port: Annotated[int, typer.Option("--http-port", help="The bot's HTTP port (0: any free one).")] = 0,
    speed: Annotated[float, typer.Option(help="Simulated seconds per real second.")] = 1.0,
    tour_: Annotated[bool, typer.Option("--tour/--no-tour", help="Walk the scripted tour first.")] = True,
    ui: Annotated[bool, typer.Option("--ui/--no-ui", help="Serve the rehearsal room page.")] = True,
    ui_port: Annotated[
        int, typer.Option("--ui-port", help="The rehearsal room's port on 127.0.0.1 (0: any free one).")
    ] = 8765,
) -> None:
    """Run the simulator, a console stand-in for Slack, the real bot and the rehearsal room together."""
    state_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(run_demo(state_dir, http_port, speed, tour_, ui_port if ui else None))
