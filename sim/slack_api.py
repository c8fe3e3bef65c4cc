"""`FakeSlackApi`: an aiohttp server on 127.0.0.1 (ephemeral port) that answers like Slack's Web API.

The local stand-in for Slack where Slack itself cannot be reached: the tests' fake Web API, and the
demo's console (`listeners` are called with every recorded call, e.g. to print it).

    fake = await FakeSlackApi.start()
    client = AsyncWebClient(token="xoxb-test", base_url=fake.base_url)     # http://127.0.0.1:PORT/api/
    ...
    await fake.wait_for("chat.postMessage", count=1)                        # event-driven, bounded
    fake.calls("chat.postMessage")        # every call's merged params (query, form or JSON body)
    fake.messages("C1")                   # channel history: FakeMessage(ts, text, blocks, replies)
    url = fake.response_url_for("cmd1")   # a response_url; posts to it are recorded:
    await fake.wait_for_response("cmd1")  # -> list of payloads posted there
    await fake.stop()

Methods: auth.test, chat.postMessage (incrementing `ts`; `thread_ts` adds a reply to the parent),
chat.update (replaces text/blocks in place), chat.postEphemeral, usergroups.list,
usergroups.users.list, users.info, conversations.info (`is_member`: `set_member(channel, False)` takes
the bot out, then posts there answer `not_in_channel`); any other method answers `{"ok": true}`.
chat.getPermalink (for a posted message; `message_not_found` otherwise).
File uploads (`files_upload_v2`): files.getUploadURLExternal, the byte upload to `/upload/<id>`
(recorded as an `upload` call) and files.completeUploadExternal (`sim.slack_files`); `fake.files(channel)`
lists what was shared, bytes included.
Socket Mode: `apps.connections.open` (with an `xapp-` token) hands out `ws://…/socket`; once the bot
is connected (`await fake.wait_for("socket:connected")`), `await fake.socket_send(type, payload)`
pushes an envelope and returns its id; the bot's acks are recorded as `socket:ack` calls.
`chat.postMessage` keeps `metadata` (Slack message metadata); `conversations.history` (newest first,
`oldest`, `limit`) and `conversations.replies` return it with `include_all_metadata`. Message `ts` are
wall-clock based and strictly increasing, as Slack's are.
`message_listeners` are called with each message as it stands after a chat.postMessage or chat.update.
Every call goes through `sim.slack_checks.record` (what Slack would refuse; tests fail on any).

Faults:
- `fail_next(method, status=429, retry_after=1, error="ratelimited")` fails the next call of one method
  (status 200 gives a plain `ok: false` error such as `plan_upgrade_required`);
- `set_down(True)` makes every API call answer 500 until `set_down(False)`;
- `set_fault(kind, retry_after=..., delay=...)` until `set_fault(None)`: `"429"` (ratelimited with
  Retry-After), `"500"`/`"503"`, `"timeout"` (the write is applied, then the answer is held `delay`
  seconds: the caller times out not knowing), `"refuse"` (every connection is reset before an answer:
  Slack unreachable);
- `hold(predicate)`: calls matching `predicate(method, params)` are applied but their answers are held
  until `hold(None)` (a bot killed meanwhile never learns the outcome); `held` is set once one waits.
  `hold_posts(True)` holds top-level posts.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sim import slack_checks
from sim.slack_channels import BOT_ID, BOT_USER_ID, TEAM_ID, Call, FakeChannels, FakeMessage
from sim.slack_files import FakeFile, FakeFiles
from sim.slack_wire import request_params, reset

__all__ = ["BOT_ID", "BOT_USER_ID", "TEAM_ID", "Call", "FakeMessage", "FakeSlackApi"]


@dataclass
class _Failure:
    status: int
    error: str
    retry_after: int | None


class FakeSlackApi:
    def __init__(self) -> None:
        self._calls: list[tuple[str, Call]] = []
        self._changed = asyncio.Condition()
        self._messages = FakeChannels(self._changed_message)
        self._failures: dict[str, list[_Failure]] = {}
        self._groups: dict[str, tuple[str, list[str]]] = {}  # handle -> (id, users)
        self._users: dict[str, dict[str, Any]] = {}
        self._down = False
        self._fault: str | None = None
        self._fault_retry_after = 1
        self._fault_delay = 5.0
        self._hold = asyncio.Event()
        self._hold.set()
        self._hold_when: Callable[[str, Call], bool] | None = None
        # Set while a held post waits for `hold_posts(False)`.
        self.held = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self._envelopes = 0
        self.port = 0
        self.uploads = FakeFiles()
        # Called with (method, params) for every recorded call; `response:<name>` for response_url posts.
        self.listeners: list[Callable[[str, Call], None]] = []
        # Called with ("chat.postMessage" | "chat.update", message as it now stands) once a message
        # changed: unlike `listeners`, after the fake assigned the `ts` (the rehearsal page needs it).
        self.message_listeners: list[Callable[[str, FakeMessage], None]] = []

    # --- lifecycle ---------------------------------------------------------------------------

    @classmethod
    async def start(cls) -> FakeSlackApi:
        fake = cls()
        app = web.Application()
        app.router.add_post("/api/{method}", fake._api)
        app.router.add_get("/api/{method}", fake._api)
        app.router.add_post("/response/{name}", fake._response)
        app.router.add_post("/upload/{file_id}", fake._upload)
        app.router.add_get("/socket", fake._socket)
        app.on_shutdown.append(fake._close_sockets)
        fake._runner = web.AppRunner(app, access_log=None)
        await fake._runner.setup()
        fake._site = web.TCPSite(fake._runner, "127.0.0.1", 0)
        await fake._site.start()
        fake.port = int(fake._runner.addresses[0][1])
        return fake

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url_for(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/response/{name}"

    # --- set-up and faults -------------------------------------------------------------------

    def add_usergroup(self, handle: str, group_id: str, users: list[str]) -> None:
        self._groups[handle] = (group_id, list(users))

    def add_user(self, user_id: str, name: str, *, is_bot: bool = False) -> None:
        self._users[user_id] = {"id": user_id, "name": name, "real_name": name, "is_bot": is_bot}

    def fail_next(
        self, method: str, status: int = 429, retry_after: int | None = 1, error: str = "ratelimited"
    ) -> None:
        self._failures.setdefault(method, []).append(_Failure(status, error, retry_after))

    def set_member(self, channel: str, member: bool) -> None:
        """Put the bot in `channel` or take it out (then posts there answer `not_in_channel`)."""
        self._messages.set_member(channel, member)

    def set_down(self, down: bool) -> None:
        self._down = down

    async def set_fault(self, kind: str | None, *, retry_after: int = 1, delay: float = 5.0) -> None:
        """Answer every API call with fault `kind` ("429", "500", "503", "timeout", "refuse") until None."""
        if kind not in (None, "429", "500", "503", "timeout", "refuse"):
            raise ValueError(f"unknown fault {kind!r}")
        self._fault, self._fault_retry_after, self._fault_delay = kind, retry_after, delay

    def hold(self, predicate: Callable[[str, Call], bool] | None) -> None:
        self._hold_when = predicate
        if predicate is not None:
            self._hold.clear()
        else:
            self._hold.set()
            self.held.clear()

    def hold_posts(self, on: bool) -> None:
        self.hold(_top_level_post if on else None)

    # --- what happened -----------------------------------------------------------------------

    def calls(self, method: str) -> list[Call]:
        return [params for m, params in self._calls if m == method]

    def messages(self, channel: str) -> list[FakeMessage]:
        return self._messages.messages(channel)

    def files(self, channel: str | None = None) -> list[FakeFile]:
        """Files shared by files.completeUploadExternal (in `channel` when given), with their bytes."""
        return [f for f in self.uploads.shared if channel is None or f.channel == channel]

    def responses(self, name: str) -> list[Call]:
        return self.calls(f"response:{name}")

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - the documented test API; enforced with asyncio.timeout
        predicate: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Wait until `method` was called `count` times (matching `predicate`); returns those calls."""

        def matching() -> list[Call]:
            return [c for c in self.calls(method) if predicate is None or predicate(c)]

        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: len(matching()) >= count)
        except TimeoutError:
            seen = sorted({m for m, _ in self._calls})
            raise AssertionError(
                f"{method}: {len(matching())} of {count} calls within {timeout}s; methods seen: {seen}"
            ) from None
        return matching()

    async def wait_for_response(
        self,
        name: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - as in wait_for
    ) -> list[Call]:
        return await self.wait_for(f"response:{name}", count, timeout)

    # --- HTTP handlers -----------------------------------------------------------------------

    async def _record(self, method: str, params: Call) -> None:
        slack_checks.record(method, params)
        async with self._changed:
            self._calls.append((method, params))
            self._changed.notify_all()
        for listener in self.listeners:
            listener(method, params)

    async def _response(self, request: web.Request) -> web.Response:
        payload = json.loads(await request.text() or "{}")
        await self._record(f"response:{request.match_info['name']}", payload)
        if self._failures.get("response"):  # `fail_next("response", 404, None, "expired_url")`
            failure = self._failures["response"].pop(0)
            return web.Response(status=failure.status, text=failure.error)
        return web.Response(text="ok")

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        data = await request.read()
        await self._record("upload", {"file_id": file_id, "length": len(data)})
        if not self.uploads.receive(file_id, data):
            return web.Response(status=404, text="unknown upload")
        return web.Response(text=f"OK - {len(data)}")

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await request_params(request)
        await self._record(method, params)
        if self._down:
            return web.json_response({"ok": False, "error": "fatal_error"}, status=500)
        fault = await self._faulted(request, method, params)
        if fault is not None:
            return fault
        if self._failures.get(method):
            failure = self._failures[method].pop(0)
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            return web.json_response(
                {"ok": False, "error": failure.error}, status=failure.status, headers=headers
            )
        if not request.headers.get("Authorization", "").startswith(("Bearer xox", "Bearer xapp-")):
            return web.json_response({"ok": False, "error": "not_authed"})
        return web.json_response(self._answer(method, params))

    async def _faulted(self, request: web.Request, method: str, params: Call) -> web.Response | None:
        match self._fault:
            case "429":
                headers = {"Retry-After": str(self._fault_retry_after)}
                return web.json_response({"ok": False, "error": "ratelimited"}, status=429, headers=headers)
            case "500" | "503":
                error = "internal_error" if self._fault == "500" else "service_unavailable"
                return web.json_response({"ok": False, "error": error}, status=int(self._fault))
            case "timeout":
                answer = self._answer(method, params)  # Slack did it; the caller will never know
                await asyncio.sleep(self._fault_delay)
                return web.json_response(answer)
            case "refuse":
                reset(request)
                return web.json_response({"ok": False, "error": "fatal_error"}, status=500)
        if self._hold_when is not None and self._hold_when(method, params):
            answer = self._answer(method, params)
            self.held.set()
            await self._hold.wait()
            return web.json_response(answer)
        return None

    def _answer(self, method: str, p: Call) -> Call:
        match method:
            case "auth.test":
                return {
                    "ok": True,
                    "url": "https://fake.slack.test/",
                    "team": "fake",
                    "user": "conductor-bot",
                    "team_id": TEAM_ID,
                    "user_id": BOT_USER_ID,
                    "bot_id": BOT_ID,
                    "is_enterprise_install": False,
                }
            case "apps.connections.open":
                return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}
            case "chat.postMessage":
                return self._messages.post(p)
            case "chat.update":
                return self._messages.update(p)
            case "chat.getPermalink" | "files.getUploadURLExternal" | "files.completeUploadExternal":
                return self._answer_links_and_files(method, p)
            case "chat.postEphemeral":
                return {"ok": True, "message_ts": self._messages.next_ts()}
            case "usergroups.list":
                groups = [{"id": gid, "handle": h, "name": h} for h, (gid, _) in self._groups.items()]
                return {"ok": True, "usergroups": groups}
            case "usergroups.users.list":
                for gid, users in self._groups.values():
                    if gid == p.get("usergroup"):
                        return {"ok": True, "users": users}
                return {"ok": False, "error": "no_such_subteam"}
            case "users.info":
                uid = str(p.get("user", ""))
                user = self._users.get(
                    uid, {"id": uid, "name": uid.lower(), "real_name": uid, "is_bot": False}
                )
                return {"ok": True, "user": user}
            case "conversations.history" | "conversations.replies":
                history = method == "conversations.history"
                return self._messages.history(p) if history else self._messages.replies(p)
            case "conversations.info":
                return self._messages.info(p)
            case _:
                return {"ok": True}

    def _answer_links_and_files(self, method: str, p: Call) -> Call:
        if method == "files.getUploadURLExternal":
            return self.uploads.get_upload_url(p, f"http://127.0.0.1:{self.port}/")
        if method == "files.completeUploadExternal":
            return self.uploads.complete(p)
        return self._messages.permalink(p)

    async def socket_send(self, envelope_type: str, payload: Call, *, retry_attempt: int = 0) -> str:
        """Push one Socket Mode envelope to the connected bot; returns its envelope id."""
        if not self._sockets:
            raise AssertionError("no Socket Mode connection; wait_for('socket:connected') first")
        self._envelopes += 1
        envelope_id = f"env-{self._envelopes}"
        envelope = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": True,
            "retry_attempt": retry_attempt,
            "retry_reason": "timeout" if retry_attempt else "",
        }
        await self._sockets[-1].send_str(json.dumps(envelope))
        return envelope_id

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(
            json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0001"}})
        )
        await self._record("socket:connected", {})
        try:
            async for message in ws:
                if message.type == web.WSMsgType.TEXT:
                    await self._record("socket:ack", json.loads(message.data))
        finally:
            self._sockets.remove(ws)
        return ws

    async def drop_sockets(self) -> None:
        """Close every Socket Mode connection from Slack's side (as a server rotation does)."""
        await self._close_sockets(None)

    async def _close_sockets(self, _app: web.Application | None) -> None:
        for ws in list(self._sockets):
            await ws.close()

    def _changed_message(self, method: str, msg: FakeMessage) -> None:
        for listener in self.message_listeners:
            listener(method, msg)


def _top_level_post(method: str, params: Call) -> bool:
    return method == "chat.postMessage" and not params.get("thread_ts")
