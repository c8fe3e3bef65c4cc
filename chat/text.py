"""Small text pieces every Slack message builder shares: clipping to Block Kit limits, times, durations.

Pure functions, so every builder renders the same moment and the same length the same way.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

# Block Kit limits (docs.slack.dev/reference/block-kit/blocks): a section's text, a header's text.
SECTION_LIMIT = 3000
HEADER_LIMIT = 150

_ESCAPED_MENTION = re.compile(r"&lt;(@[UW][A-Z0-9_]{2,20}|#C[A-Z0-9_]{2,20})&gt;")
_TORN = re.compile(r"&[a-z]{0,3}$|<[^<>]*$")
_SPAN = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def escape(text: str, *, keep_user_mentions: bool = False) -> str:
    """`text` shown as written inside mrkdwn. Slack reads `<…>` as a link, mention or `<!channel>`
    and `&` as an entity, so an external string (a node's error, a stored message) could ping a
    channel or fake a link; these three are the only characters Slack asks to escape.

    `keep_user_mentions` leaves `<@U…>` (and `<#C…>`) working: our own stored texts (audit messages)
    name users that way, and a mention of one user or channel by id can neither ping a channel nor
    hide a link."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _ESCAPED_MENTION.sub(r"<\1>", escaped) if keep_user_mentions else escaped


def plural(count: int, word: str, words: str | None = None) -> str:
    """`1 step`, `3 steps`: a count with its noun, never `step(s)`."""
    return f"{count} {word if count == 1 else (words or word + 's')}"


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with an ellipsis when cut (Block Kit rejects longer fields).

    A cut never splits an escaped character (`&amp;`) or a `<…>` token, whose remains Slack would show
    as a stray `&` or `<`."""
    if len(text) <= limit:
        return text
    return _TORN.sub("", text[: limit - 1]) + "…"


def utc_time(when: float) -> str:
    """A unix time as `2026-11-26 05:38:34 UTC`: what operators compare with node and bot logs."""
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def slack_date(when: float) -> str:
    """A Slack date token (shown in the reader's time zone) with a UTC fallback."""
    fallback = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(when)}^{{date_short_pretty}} {{time}}|{fallback}>"


def slack_relative(when: float, fallback: str) -> str:
    """A Slack date token shown as time from now in the reader's client ("in 15 minutes", "3 minutes
    ago"), so it never goes stale in a message nobody re-renders; `fallback` where it cannot be shown."""
    return f"<!date^{int(when)}^{{ago}}|{fallback}>"


def duration(seconds: float) -> str:
    """A short human duration: 45s, 12m, 1h 5m, 2d 3h."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    m = s // 60
    if m < 60:
        return f"{m}m"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h}h {m}m" if m else f"{h}h"
    d, h = divmod(h, 24)
    return f"{d}d {h}h" if h else f"{d}d"


def parse_span(word: str) -> float | None:
    """Seconds in a span the user typed (`30m`, `2h`, `1h30m`, `1d`, `90s`), None if it is not one.

    The one duration grammar of every command (silences, timelines); `duration` writes it back.
    """
    match = _SPAN.match(word.strip().lower())
    if not word.strip() or match is None:
        return None
    d, h, m, s = (int(g) if g else 0 for g in match.groups())
    return float(d * 86400 + h * 3600 + m * 60 + s)
