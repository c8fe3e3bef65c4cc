"""The rehearsal room: a local Slack-like page wired to the real bot, the fake Web API and the simulator.

    room = await RehearsalRoom.start(fake, events_url, secret, control_url, network="sim-1",
                                     channel="C0SIM1", users=USERS)
    print(room.url)            # http://127.0.0.1:PORT/  (loopback only)
    await room.stop()

The page (static files under `bot/rehearsal/static/`, no build step) talks to this server only:

| Route               | What                                                                     |
|---------------------|--------------------------------------------------------------------------|
| GET  /              | the page                                                                 |
| GET  /api/state     | users, channel, messages, cluster state, scenarios, fault buttons        |
| GET  /api/events    | server-sent events: message, delete, cluster, scenario                   |
| POST /api/command   | {user, text}: `/conductor …` sent to the bot as a signed slash command   |
| POST /api/click     | {user, message_id, action_id, value, block_id}: a signed button click    |
| POST /api/fault     | {node, fault}: one of `drills.FAULTS` through the control API            |
| POST /api/scenario  | {id}: heal the cluster, set the scenario up, publish its goal            |

POSTs must be JSON from the page's own origin, so another web page open in the same browser cannot
drive the bot through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from importlib import resources
from typing import Any

from aiohttp import web

from bot.rehearsal.drills import FAULTS, SCENARIOS, Control, ControlError, inject, set_up
from bot.rehearsal.feed import Feed, Origin
from sim.slack_api import FakeSlackApi
from sim.slack_requests import COMMAND, SlackDriver

logger = logging.getLogger(__name__)

CLUSTER_POLL = 0.5  # seconds between control-API state reads pushed to the page when they change
HEARTBEAT = 15.0  # an SSE comment this often keeps proxies and the browser from timing the stream out
STATIC = resources.files("bot.rehearsal") / "static"


@dataclass(frozen=True)
class RoomUser:
    id: str
    name: str
    role: str


class RehearsalRoom:
    def __init__(
        self,
        fake: FakeSlackApi,
        events_url: str,
        secret: str,
        control_url: str,
        *,
        network: str,
        channel: str,
        users: tuple[RoomUser, ...],
    ) -> None:
        self.feed = Feed(channel)
        self.fake = fake
        self.network = network
        self.users = users
        self.control = Control(control_url, network)
        self.cluster: dict[str, Any] | None = None
        self.scenario: dict[str, str] | None = None
        self._origin: Origin | None = None
        # Response names get a prefix of their own so they never collide with another driver's.
        self.driver = SlackDriver(events_url, secret, self._response_url_for)
        self._runner: web.AppRunner | None = None
        self._poller: asyncio.Task[None] | None = None
        self.port = 0

    @classmethod
    async def start(
        cls,
        fake: FakeSlackApi,
        events_url: str,
        secret: str,
        control_url: str,
        *,
        network: str,
        channel: str,
        users: tuple[RoomUser, ...],
        port: int = 0,
    ) -> RehearsalRoom:
        room = cls(fake, events_url, secret, control_url, network=network, channel=channel, users=users)
        for user in users:
            fake.add_user(user.id, user.name)
        fake.listeners.append(room.feed.on_call)
        fake.message_listeners.append(room.feed.on_message)
        app = web.Application(middlewares=[_same_origin])
        app.router.add_get("/", room._index)
        app.router.add_get("/static/{name}", room._static)
        app.router.add_get("/favicon.ico", _no_content)
        app.router.add_get("/api/state", room._state)
        app.router.add_get("/api/events", room._events)
        app.router.add_post("/api/command", room._command)
        app.router.add_post("/api/click", room._click)
        app.router.add_post("/api/fault", room._fault)
        app.router.add_post("/api/scenario", room._scenario)
        app.on_shutdown.append(room._close_streams)
        room._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await room._runner.setup()
        await web.TCPSite(room._runner, "127.0.0.1", port).start()
        room.port = int(room._runner.addresses[0][1])
        room._poller = asyncio.create_task(room._poll_cluster(), name="rehearsal-cluster-poll")
        return room

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.control.close()
        for hooks, hook in (
            (self.fake.listeners, self.feed.on_call),
            (self.fake.message_listeners, self.feed.on_message),
        ):
            with contextlib.suppress(ValueError):
                hooks.remove(hook)  # type: ignore[arg-type]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def _response_url_for(self, name: str) -> str:
        # SlackDriver builds the response_url synchronously before sending: bind it to the request's
        # origin here, so a reply the bot posts before the ack reaches us still finds its user.
        name = f"room-{name}"
        if self._origin is not None:
            self.feed.expect(name, self._origin)
            self._origin = None
        return self.fake.response_url_for(name)

    # --- cluster -----------------------------------------------------------------------------

    async def _poll_cluster(self) -> None:
        while True:
            with contextlib.suppress(ControlError):
                await self._refresh_cluster()
            await asyncio.sleep(CLUSTER_POLL)

    async def _refresh_cluster(self) -> None:
        state = await self.control.state()
        comparable = {k: v for k, v in state.items() if k != "time"}
        if self.cluster is None or comparable != {k: v for k, v in self.cluster.items() if k != "time"}:
            self.cluster = state
            self.feed.publish("cluster", state)

    # --- routes ------------------------------------------------------------------------------

    async def _index(self, _request: web.Request) -> web.Response:
        return _file("index.html")

    async def _static(self, request: web.Request) -> web.Response:
        return _file(request.match_info["name"])

    async def _state(self, _request: web.Request) -> web.Response:
        return web.json_response(self.snapshot())

    def snapshot(self) -> dict[str, Any]:
        items = sorted(self.feed.items.values(), key=lambda i: int(i["seq"]))
        return {
            "network": self.network,
            "channel": self.feed.channel,
            "command": COMMAND,
            "users": [vars(u) for u in self.users],
            "messages": items,
            "cluster": self.cluster,
            "scenario": self.scenario,
            "scenarios": [{"id": s.id, "title": s.title} for s in SCENARIOS],
            "faults": {k: f.label for k, f in FAULTS.items()},
        }

    async def _events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        queue = self.feed.subscribe()  # before the snapshot: nothing falls between the two
        try:
            await response.write(_sse("snapshot", self.snapshot()))
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), HEARTBEAT)
                except TimeoutError:
                    await response.write(b": heartbeat\n\n")
                    continue
                if event is None:
                    break
                kind, data = event
                await response.write(_sse(kind, data))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.feed.unsubscribe(queue)
        return response

    async def _command(self, request: web.Request) -> web.Response:
        body = await _json(request)
        user = self._user(body)
        text = str(body.get("text", "")).strip()
        if not (text == COMMAND or text.startswith(COMMAND + " ")):
            raise _bad(f"Only {COMMAND} commands reach the bot here, e.g. `{COMMAND} status`.")
        origin = Origin(user, self.feed.channel)
        self._origin = origin
        sent = await self.driver.command(
            text.removeprefix(COMMAND).strip(), user=user, channel=origin.channel
        )
        self._check(sent.status, origin)
        return web.json_response({"ok": True, "status": sent.status})

    async def _click(self, request: web.Request) -> web.Response:
        body = await _json(request)
        user = self._user(body)
        item = self.feed.items.get(str(body.get("message_id", "")))
        if item is None:
            raise _bad("That message is gone.")
        origin = Origin(user, str(item["channel"]), str(item["id"]))
        self._origin = origin
        sent = await self.driver.click(
            str(body.get("action_id", "")),
            str(body.get("value", "")),
            user=user,
            channel=origin.channel,
            message_ts=str(item["ts"] or item["id"]),
            block_id=str(body.get("block_id") or "block"),
        )
        self._check(sent.status, origin)
        return web.json_response({"ok": True, "status": sent.status})

    async def _fault(self, request: web.Request) -> web.Response:
        body = await _json(request)
        try:
            await inject(self.control, str(body.get("fault", "")), str(body.get("node", "")))
            await self._refresh_cluster()
        except ControlError as exc:
            raise _bad(str(exc)) from None
        return web.json_response({"ok": True})

    async def _scenario(self, request: web.Request) -> web.Response:
        body = await _json(request)
        try:
            self.scenario = await set_up(self.control, str(body.get("id", "")))
            await self._refresh_cluster()
        except ControlError as exc:
            raise _bad(str(exc)) from None
        self.feed.publish("scenario", self.scenario)
        return web.json_response({"ok": True, "scenario": self.scenario})

    def _user(self, body: dict[str, Any]) -> str:
        user = str(body.get("user", ""))
        if user not in {u.id for u in self.users}:
            raise _bad("Pick a user first.")
        return user

    def _check(self, status: int, origin: Origin) -> None:
        if status != 200:
            self.feed.note(origin, f"The bot answered HTTP {status}; nothing happened.")

    async def _close_streams(self, _app: web.Application) -> None:
        self.feed.close()


async def _no_content(_request: web.Request) -> web.Response:
    return web.Response(status=204)


def _sse(kind: str, data: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode()


_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def _file(name: str) -> web.Response:
    suffix = name[name.rfind(".") :] if "." in name else ""
    if "/" in name or "\\" in name or name.startswith(".") or suffix not in _TYPES:
        raise web.HTTPNotFound()
    path = STATIC / name
    if not path.is_file():
        raise web.HTTPNotFound()
    return web.Response(
        body=path.read_bytes(),
        content_type=_TYPES[suffix],
        charset="utf-8" if suffix != ".png" else None,
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": _CSP,
            "X-Content-Type-Options": "nosniff",
        },
    )


# Message text is rendered with textContent; the policy is a second line of defence against script.
_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'"


def _bad(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(
        text=json.dumps({"ok": False, "error": message}), content_type="application/json"
    )


async def _json(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise _bad("send JSON")
    try:
        body = await request.json()
    except ValueError:
        raise _bad("send JSON") from None
    if not isinstance(body, dict):
        raise _bad("send a JSON object")
    return body


@web.middleware
async def _same_origin(request: web.Request, handler: Any) -> web.StreamResponse:
    origin = request.headers.get("Origin")
    if request.method == "POST" and origin is not None and origin != f"http://{request.host}":
        raise web.HTTPForbidden(text="cross-origin request refused")
    response: web.StreamResponse = await handler(request)
    return response
