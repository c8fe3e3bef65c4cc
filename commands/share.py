"""The "Share in channel" button of the `/conductor alerts` and `/conductor requests` lists.

The caller's list is ephemeral; Share posts a fresh copy for the whole channel (through the click's
`response_url`), which carries a note of who shared it instead of the button: it records one moment.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

Block = dict[str, Any]


class ShareValue(BaseModel):
    """What the button carries: the network listed, or none (every network of the channel)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    network: str | None = None


def share_block(
    action_id: str, network: str | None, shared_by: str | None, block_id: str | None = None
) -> Block:
    """The list's last block: its Share button, or, on the shared copy, who shared it."""
    if shared_by is not None:
        return {"type": "context", "elements": [{"type": "mrkdwn", "text": f"shared by <@{shared_by}>"}]}
    block: Block = {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Share in channel"},
                "action_id": action_id,
                "value": ShareValue(network=network).model_dump_json(),
            }
        ],
    }
    if block_id is not None:
        block["block_id"] = block_id
    return block
