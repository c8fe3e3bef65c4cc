"""The whole Redis keyspace, one method per key.

Every key that belongs to a network carries the network as a hash tag (`cb:{net}:...`), so each
multi-key Lua script touches a single Redis Cluster slot. Keys that are not about a network live
under `cb:slack:...`. The TTL each key gets, and why, is in its method's docstring; the code that
writes the key is the one that applies it.

No code anywhere enumerates keys with `KEYS`: everything we need to list has an index key.
"""

from __future__ import annotations

import re

# A network name becomes a hash tag, so it must not contain the tag delimiters; colons would make
# the key ambiguous to read. This is stricter than Redis needs, on purpose.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_PART = re.compile(r"^[^\s{}]+$")


def hash_tag(key: str) -> str | None:
    """The hash tag Redis Cluster would hash for `key` (text between the first `{` and next `}`)."""
    start = key.find("{")
    if start < 0:
        return None
    end = key.find("}", start + 1)
    if end <= start + 1:
        return None
    return key[start + 1 : end]


class Keys:
    """Builds every key the bot uses, under one configurable prefix."""

    def __init__(self, prefix: str = "cb") -> None:
        if not _NAME.match(prefix):
            raise ValueError(f"invalid key prefix {prefix!r}")
        self.prefix = prefix

    def _net(self, network: str, *parts: str) -> str:
        if not _NAME.match(network):
            raise ValueError(f"network name {network!r} cannot be used in a Redis key")
        for part in parts:
            if not _PART.match(part):
                raise ValueError(f"key part {part!r} must be non-empty, without spaces or braces")
        return ":".join((self.prefix, "{" + network + "}", *parts))

    def _global(self, *parts: str) -> str:
        for part in parts:
            if not _PART.match(part):
                raise ValueError(f"key part {part!r} must be non-empty, without spaces or braces")
        return ":".join((self.prefix, *parts))

    # --- per network -------------------------------------------------------------------------

    def request(self, network: str, request_id: str) -> str:
        """Approval request record (versioned hash). TTL: request TTL plus a grace period while
        pending, so a forgotten request cleans itself up; terminal records are kept for days
        (caller's choice) so the Slack message can still be explained."""
        return self._net(network, "req", request_id)

    def pending(self, network: str) -> str:
        """Sorted set of pending request ids scored by expiry (unix seconds). No TTL: members are
        removed by the same Lua transition that ends the request, and the expiry sweep reads it."""
        return self._net(network, "pending")

    def procedure(self, network: str, run_id: str) -> str:
        """A running procedure (versioned hash, `commands.procedures.state.ProcedureRun`). TTL: a week,
        like approval records, refreshed on every write, so a finished one can still be explained."""
        return self._net(network, "proc", run_id)

    def procedures(self, network: str) -> str:
        """Index of the network's unfinished procedures (sorted set, score = start time), so any replica
        finds one whose runner died. No TTL: members are removed when the run finishes."""
        return self._net(network, "procs")

    def lock(self, network: str) -> str:
        """Per-network operation lock holding the holder's token. TTL: a short lease (tens of
        seconds) renewed while an operation runs, so a crashed executor frees the network."""
        return self._net(network, "lock")

    @staticmethod
    def fencing_epoch(lock_key: str) -> str:
        """Fencing counter of a lock key (same hash tag), INCR'd on every acquisition. No TTL: the
        epoch must only grow, or a stale holder could look current again."""
        return lock_key + ":epoch"

    def audit(self, network: str) -> str:
        """Audit stream. No TTL: it is the history; XADD caps it at about 10,000 entries."""
        return self._net(network, "audit")

    def alert(self, network: str, fingerprint: str) -> str:
        """Alert state record (versioned hash). TTL: a few days after resolution, so a replica
        that restarts neither forgets a firing alert nor re-posts a resolved one."""
        return self._net(network, "alert", fingerprint)

    def alerts(self, network: str) -> str:
        """Sorted set of alert fingerprints with live state, scored by next due time. No TTL:
        transitions add and remove members atomically with the state change."""
        return self._net(network, "alerts")

    def memory(self, network: str) -> str:
        """Watcher memory between ticks (previous leader, last best head and when it moved). TTL:
        1 hour, so a leader change is still recognised across a short watcher outage (a deploy)."""
        return self._net(network, "memory")

    def outbox(self, network: str) -> str:
        """The network's list of pending Slack writes (`store.outbox.SlackWrite` JSON), oldest first:
        alert posts, updates and replies, and approval message updates and replies. No TTL: an entry
        leaves only once Slack took it (or refused it for good), so an outage loses no message."""
        return self._net(network, "outbox")

    def outbox_tries(self, network: str) -> str:
        """Hash: outbox entry id -> wall time of its first send attempt. An entry found here has an
        unknown outcome (its sender died or timed out), so Slack's history is searched for it before
        it is sent again. No TTL: fields leave with their entries, in the same script."""
        return self._net(network, "outbox", "tries")

    def slack_message(self, network: str, message: str) -> str:
        """Where a message of the outbox landed (`{"channel", "ts"}`), by message key (`alert:<fp>:<ep>`,
        `summary:<fp>:<ep>`, `request:<id>`). TTL: a few days, renewed by every delivery to it, so a
        late update still finds its message and dead messages do not pile up."""
        return self._net(network, "msg", message)

    def alert_message(self, network: str, fingerprint: str, episode: int) -> str:
        """The message key that shows one alert episode, when it is not its own (a burst summary).
        TTL: a few days, like the message itself."""
        return self._net(network, "alertmsg", fingerprint, str(episode))

    def summary(self, network: str, message: str) -> str:
        """A burst summary's members as last rendered (fingerprint -> AlertState JSON), so a re-render
        keeps a member that has since moved to a new episode of its own. TTL: a few days."""
        return self._net(network, "summary", message)

    def flush_lock(self, network: str) -> str:
        """The outbox flusher's lock (`store.locks`: token + fencing epoch). TTL: a few poll intervals,
        renewed in the background while its holder lives, so exactly one live flusher delivers a
        network's outbox and a new one takes over within a few intervals of its holder's death."""
        return self._net(network, "lock", "flush")

    def slack_backoff(self, network: str) -> str:
        """Set after Slack answered 429 for this network's channel. TTL: the Retry-After, so no
        flusher of any replica calls Slack for the network before then."""
        return self._net(network, "slack", "backoff")

    def outbox_failures(self, network: str) -> str:
        """Hash: outbox entry id -> how many times Slack answered `message_not_found` for it (an edit
        may reach Slack before the message it edits is readable). No TTL: fields leave with their
        entries, in the same script."""
        return self._net(network, "outbox", "failures")

    def channel_hold(self, network: str, channel: str) -> str:
        """Set when Slack refused a write to `channel` for a reason only a person can fix (the bot
        is not in it, it is archived...): the network's writes to that channel wait in the outbox.
        Value: Slack's error code. TTL: a minute, after which one write probes the channel again;
        an invite (`member_joined_channel`) or a passing access check deletes it at once."""
        return self._net(network, "slack", "hold", channel)

    def watch_lease(self, network: str) -> str:
        """Watcher lease holding the owning replica's id. TTL: a few watch intervals, renewed
        every tick, so exactly one live replica watches a network and another takes over soon
        after it dies."""
        return self._net(network, "lease", "watch")

    def history(self, network: str) -> str:
        """The watcher's compact per-tick record of the network (heads, leader, active, new alerts),
        a list, oldest first, for `/conductor timeline`. Bounded: each append trims it to the last
        `store.history.MAX_POINTS` entries. TTL: a day, renewed on every append, so a network
        dropped from the config (or no longer watched) leaves nothing behind."""
        return self._net(network, "history")

    def silence(self, network: str) -> str:
        """Network-wide alert silence (JSON: who, why, until). TTL: the silence's own end, so it
        lifts by itself."""
        return self._net(network, "silence")

    def operation_window(self, network: str) -> str:
        """The approved operation running (or just finished) on the network, as JSON
        (`commands.own_operation.OperationWindow`), so the watcher threads the alerts it causes under
        its request. TTL: the longest execution while it runs, a few minutes once it has finished."""
        return self._net(network, "opwindow")

    def leader_events(self, network: str) -> str:
        """The network's current chain of leader changes (versioned record, `alerts.leader_events`):
        one message lists every change of a flap. TTL: the flap window plus a margin."""
        return self._net(network, "leaderevents")

    def once(self, network: str, token: str) -> str:
        """Idempotency marker for one scheduled slot or event (`SET NX PX`). TTL: about two slot
        lengths, long enough that overlapping leaders cannot both act on the same slot."""
        return self._net(network, "once", token)

    def node_overrides(self, network: str) -> str:
        """Hash of op-node leader overrides this bot set, one field per sequencer (JSON: request,
        who, when). op-node cannot report the flag and only a restart clears it, so this is the only
        place it is known. TTL: 30 days from the last one set, long past any disaster recovery, so a
        record of an op-node that was restarted long ago does not linger for ever."""
        return self._net(network, "node_overrides")

    # --- the deployment, not per network -----------------------------------------------------

    def replicas(self) -> str:
        """Sorted set of live replica ids scored by when their heartbeat expires (unix seconds). No
        TTL: each heartbeat prunes expired members, and a clean shutdown removes its own."""
        return self._global("watch", "replicas")

    # --- Slack, not per network --------------------------------------------------------------

    def usergroup(self, handle: str) -> str:
        """Cached member list of a Slack user group. TTL: minutes, so membership changes apply
        soon and the cache stays bounded by the groups in the config."""
        return self._global("slack", "usergroup", handle)

    def channel_pace(self, channel: str) -> str:
        """When the next post to a Slack channel may go (unix ms; `lua/pace.lua`), shared by every
        replica and network posting there (Slack allows about one message a second per channel).
        TTL: one pacing interval, so an idle channel leaves nothing behind."""
        return self._global("slack", "pace", channel)

    def seen(self, interaction_id: str) -> str:
        """Dedup marker for a Slack delivery (retry or double click). TTL: a few minutes, longer
        than Slack's retry window."""
        return self._global("slack", "seen", interaction_id)
