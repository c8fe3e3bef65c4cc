"""What the bot knows about the Slack channels it posts to: which ones it cannot post to, and why.

`ChannelAccess` (one per process, on `BotContext.channels`) is filled three ways: the start-up and
periodic checks of every configured channel (`chat.channel_check`, `conversations.info`'s
`is_member`), a write Slack refused (`bot.slack_app.CountingWebClient`), and the bot's own
`member_joined_channel` event, which clears a channel. `/readyz` names the channels it holds.

Only codes a person must fix are held (`UNPOSTABLE`): the bot not invited, a private channel it
cannot see (Slack says `channel_not_found`), an archived channel, a posting restriction.
"""

from __future__ import annotations

import time

# Posting to the channel cannot succeed until someone changes something in Slack.
UNPOSTABLE = frozenset({"channel_not_found", "not_in_channel", "is_archived", "restricted_action"})
# How long a channel the bot could post to is trusted without asking Slack again (a command's check).
MEMBER_TTL_SECONDS = 600.0
BOT_NAME = "conductor-bot"


class ChannelAccess:
    """Channels the bot cannot post to (`unpostable`: channel -> Slack's code) and channel names."""

    def __init__(self, unpostable: dict[str, str] | None = None) -> None:
        # Shared with the Web API client, which records refusals as they happen.
        self.unpostable: dict[str, str] = unpostable if unpostable is not None else {}
        self.names: dict[str, str] = {}
        self.bot_user_id = ""
        self.bot_name = BOT_NAME
        self._member_until: dict[str, float] = {}

    def refused(self, channel: str, code: str) -> None:
        self.unpostable[channel] = code
        self._member_until.pop(channel, None)

    def joined(self, channel: str) -> None:
        self.unpostable.pop(channel, None)
        self._member_until[channel] = time.monotonic() + MEMBER_TTL_SECONDS

    def known_member(self, channel: str) -> bool:
        return self._member_until.get(channel, 0.0) > time.monotonic()

    def shown(self, channel: str) -> str:
        """`#name` when known, else a channel mention Slack renders as its name."""
        name = self.names.get(channel)
        return f"#{name}" if name else f"<#{channel}>"

    def invite_hint(self) -> str:
        return f"`/invite @{self.bot_name}`"

    def refusal(self, channel: str, code: str) -> str:
        """What a person is told when the bot cannot post where they asked it to."""
        if code == "is_archived":
            return f"{self.shown(channel)} is archived, so I cannot post there."
        if code == "restricted_action":
            return f"Posting in {self.shown(channel)} is restricted, so I cannot post there."
        return f"I'm not in {self.shown(channel)} — {self.invite_hint()}"
