"""What Slack would refuse, or show wrongly, in a message the bot sends: checked on every call the fake gets.

    call_problems("chat.postMessage", params)   # -> ["block 3 (section): text attribute cannot ...", ...]
    message_problems(text, blocks)              # the same for a message built without the fake
    record(method, params)                      # the fake's hook: problems are logged and kept for the tests
    take_recorded()                             # -> and cleared; tests/conftest.py fails a test that left any

Each block goes through slack_sdk's own models (`Block.parse(...)`, validated with its elements); this
adds what they do not check: at most 50 blocks (100 in a view), a non-empty `text` fallback on
chat.postMessage, chat.update, chat.postEphemeral and response_url posts, unique `action_id`s and
`block_id`s, section fields ≤ 2,000 characters, no empty text object, and mrkdwn that reads as written:
a `<`, `>` or `&` that is not part of a link, mention or date token, or a `<!here>`/`<!channel>`/
`<!everyone>`, means an external string reached mrkdwn without `chat.text.escape`.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
FIELD_LIMIT = 2000
_MESSAGE_METHODS = ("chat.postMessage", "chat.update", "chat.postEphemeral", "chat.scheduleMessage")
_VIEW_METHODS = ("views.open", "views.push", "views.update", "views.publish")

# The `<…>` Slack reads in mrkdwn, by design: user, channel and group mentions, date tokens, links.
# `<!here>`, `<!channel>`, `<!everyone>` are left out on purpose: the bot never pings a whole channel.
_TOKEN = re.compile(
    r"<(?:[@#][UWCGS][A-Z0-9_]+|!subteam\^[A-Z0-9]+|!date\^\d+\^[^|<>]+|(?:https?://|mailto:)[^|<>\s]+)"
    r"(?:\|(?P<label>[^<>]*))?>"
)
_BARE_AMPERSAND = re.compile(r"&(?!amp;|lt;|gt;)")

logger = logging.getLogger(__name__)
_recorded: list[str] = []


def record(method: str, params: dict[str, Any]) -> None:
    """The fake Web API's hook (one call per request it gets): keep what Slack would refuse, and log it
    (a warning: the demo and a fake in another process show it in their output)."""
    for problem in call_problems(method, params):
        logger.warning("Slack would refuse or misshow %s: %s", method, problem)
        _recorded.append(f"{method}: {problem}")


def take_recorded() -> list[str]:
    """Every problem recorded since the last call, and forget them."""
    problems = list(_recorded)
    _recorded.clear()
    return problems


def call_problems(method: str, params: dict[str, Any]) -> list[str]:
    """Problems of one Web API call, response_url post (`response:<name>`) or ack body (`ack`)."""
    if method in _MESSAGE_METHODS or method.startswith("response:"):
        if params.get("delete_original"):
            return []
        return message_problems(params.get("text"), _decoded(params.get("blocks")), mrkdwn=_mrkdwn(params))
    if method in ("ack", "socket:ack"):
        payload = params.get("payload", params) if method == "socket:ack" else params
        if isinstance(payload, dict) and ("text" in payload or "blocks" in payload):
            return message_problems(payload.get("text"), _decoded(payload.get("blocks")), mrkdwn=True)
        return []
    if method in _VIEW_METHODS:
        return view_problems(_decoded(params.get("view")))
    if method == "files.completeUploadExternal" and params.get("initial_comment"):
        return [f"initial_comment: {p}" for p in mrkdwn_problems(str(params["initial_comment"]))]
    return []


def message_problems(text: Any, blocks: Any, *, mrkdwn: bool = True) -> list[str]:
    """Problems of a message: its `text` fallback and its blocks."""
    problems: list[str] = []
    if not isinstance(text, str) or not text.strip():
        problems.append("no `text` fallback (notifications and screen readers show it)")
    elif mrkdwn:
        problems += [f"text: {p}" for p in mrkdwn_problems(text)]
    if blocks is not None:
        problems += blocks_problems(blocks)
    return problems


def view_problems(view: Any) -> list[str]:
    if not isinstance(view, dict):
        return [f"a view must be an object, got {view!r:.80}"]
    try:
        View(**view).to_dict()
        problems = []
    except (SlackObjectFormationError, TypeError) as error:
        problems = [f"view: {error}"]
    return problems + blocks_problems(view.get("blocks", []), limit=VIEW_BLOCKS)


def blocks_problems(blocks: Any, *, limit: int = MESSAGE_BLOCKS) -> list[str]:
    """Problems of a list of blocks: slack_sdk's models, then the limits they leave out."""
    if not isinstance(blocks, list):
        return [f"blocks must be a list, got {blocks!r:.80}"]
    problems = [f"{len(blocks)} blocks; Slack accepts at most {limit}"] if len(blocks) > limit else []
    action_ids: list[str] = []
    block_ids: list[str] = []
    for index, raw in enumerate(blocks):
        where = f"block {index} ({raw.get('type') if isinstance(raw, dict) else raw!r:.40})"
        problems += [f"{where}: {p}" for p in _block_problems(raw)]
        if isinstance(raw, dict):
            block_ids += [raw["block_id"]] if "block_id" in raw else []
            action_ids += [
                e["action_id"] for e in raw.get("elements", []) if isinstance(e, dict) and "action_id" in e
            ]
            accessory = raw.get("accessory")
            action_ids += (
                [accessory["action_id"]] if isinstance(accessory, dict) and "action_id" in accessory else []
            )
    for kind, ids in (("action_id", action_ids), ("block_id", block_ids)):
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        problems += [f"duplicate {kind} {duplicates}"] if duplicates else []
    return problems


def _block_problems(raw: Any) -> list[str]:
    if not isinstance(raw, dict):
        return ["not an object"]
    try:
        block = Block.parse(raw)
        if block is None:
            return ["unknown block type"]
        block.to_dict()  # validates the nested elements too, which `validate_json()` alone skips
    except (SlackObjectFormationError, TypeError, KeyError) as error:
        return [str(error)]
    problems = [
        f"field {i} has {len(f.get('text', ''))} characters; Slack accepts at most {FIELD_LIMIT}"
        for i, f in enumerate(raw.get("fields") or [])
        if len(f.get("text", "")) > FIELD_LIMIT
    ]
    for obj in _text_objects(raw):
        if not obj.get("text"):
            problems.append(f"empty {obj.get('type')} text")
        elif obj.get("type") == "mrkdwn":
            problems += mrkdwn_problems(obj["text"])
    return problems


def mrkdwn_problems(text: str) -> list[str]:
    """What in `text` Slack would not show as written: `<`, `>`, `&` outside its own tokens."""
    residue = _TOKEN.sub(lambda m: m.group("label") or "", text)
    found = [(residue.find(c), c) for c in "<>" if c in residue]
    ampersand = _BARE_AMPERSAND.search(residue)
    found += [(ampersand.start(), "&")] if ampersand else []
    return [f"unescaped {c!r} in mrkdwn: …{residue[max(0, at - 60) : at + 60]!r}…" for at, c in found]


def _text_objects(node: Any) -> list[dict[str, Any]]:
    """Every text object (`{"type": "mrkdwn" | "plain_text", "text": …}`) inside a block."""
    if isinstance(node, list):
        return [obj for item in node for obj in _text_objects(item)]
    if not isinstance(node, dict):
        return []
    if node.get("type") in ("mrkdwn", "plain_text"):
        return [node]
    return [obj for value in node.values() for obj in _text_objects(value)]


def _decoded(value: Any) -> Any:
    """Blocks and views arrive as JSON text in form-encoded calls, as JSON values otherwise."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _mrkdwn(params: dict[str, Any]) -> bool:
    return str(params.get("mrkdwn", True)).lower() not in ("false", "0")
