"""The Slack app manifest asks for what the bot uses and no more."""

from __future__ import annotations

from pathlib import Path

import yaml

from commands.router import COMMAND

MANIFEST = Path(__file__).parents[2] / "manifest.yml"


def test_manifest_declares_the_command_interactivity_and_minimal_scopes() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == COMMAND
    assert "status" in command["usage_hint"]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "commands",
        "chat:write",
        "usergroups:read",
        "files:write",
        "channels:history",
        "groups:history",
        "channels:read",
        "groups:read",
    }
    # An invite releases the alerts held for that channel (chat.channel_check.joined).
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == [
        "member_joined_channel",
        "member_left_channel",
    ]
