"""op-conductor's health monitor and control loop (op-conductor/health/monitor.go, conductor/service.go).

Runs for every live conductor on each model step: a health check every `health_interval`, then the
eight-case `(leader, healthy, active)` action table whenever something queued an action.
"""

from __future__ import annotations

import logging

from sim.errors import SimError
from sim.network import SimNetwork
from sim.node import ERR_CONNECTION_DOWN, ERR_NOT_HEALTHY, LoopState, SimNode
from sim.params import EPSILON

logger = logging.getLogger(__name__)


def check_health(net: SimNetwork, node: SimNode) -> str | None:
    """The OPT health rule, first failure wins; None means healthy."""
    now = net.clock.now()
    if not node.answers("node"):
        return ERR_CONNECTION_DOWN
    head = node.head
    block_time = net.params.block_time
    error: str | None = None
    if node.last_seen_num is not None:
        # OPT's per-block progress check: about two block times without a new head is unhealthy.
        diff = now - node.last_seen_time
        expected = int(diff // block_time)
        if expected > 0:
            expected -= 1
        if diff > block_time and head.number - node.last_seen_num < expected:
            error = ERR_NOT_HEALTHY
    if node.last_seen_num is None or head.number > node.last_seen_num:
        node.last_seen_num = head.number
        node.last_seen_time = now
    if error is None and max(0.0, now - head.timestamp) > net.params.unsafe_interval:
        error = ERR_NOT_HEALTHY
    if error is None and node.peers < net.params.min_peer_count:
        error = ERR_NOT_HEALTHY
    return error


def run_conductor(net: SimNetwork, node: SimNode) -> None:
    now = net.clock.now()
    leader = net.leader == node.id and node.in_raft
    if leader != node.leader_flag:
        node.leader_flag = leader
        node.action_pending = True
    if now - node.last_health_at >= net.params.health_interval - EPSILON:
        node.last_health_at = now
        error = check_health(net, node)
        healthy = error is None
        if not healthy or healthy != node.healthy:
            node.action_pending = True
        node.healthy, node.hcerr = healthy, error
    if node.action_pending and now >= node.next_action_at - EPSILON:
        node.action_pending = False
        if node.paused:
            return
        status = LoopState(node.leader_flag, node.healthy, node.active)
        try:
            _act(net, node, status)
        except SimError as exc:
            node.last_error = exc.message
            node.action_pending = True
            node.next_action_at = now + net.params.action_retry
            logger.debug("sim action failed network=%s node=%s error=%s", net.name, node.id, exc.message)
            return
        node.last_error = None
        node.prev_state = status


def _act(net: SimNetwork, node: SimNode, s: LoopState) -> None:
    if not s.leader:
        if s.active:  # cases 2 and 4: a follower must not sequence
            _stop_sequencer(net, node)
        return  # cases 1 and 3
    if s.healthy:
        if not s.active:  # case 7
            _start_sequencer(net, node)
        return  # case 8
    connection_down = node.hcerr == ERR_CONNECTION_DOWN
    if not s.active:  # case 5
        prev = node.prev_state
        if not prev.leader and not prev.active and not connection_down:
            try:
                _start_sequencer(net, node)
                return
            except SimError:
                pass  # fall through to the transfer, as op-conductor does
        _transfer_leader(net, node)
        return
    # case 6
    if node.prev_state == LoopState(True, False, False) and not connection_down:
        raise SimError("waiting for sequencing to become healthy by itself")
    errors: list[str] = []
    for step in (_stop_sequencer, _transfer_leader):
        try:
            step(net, node)
        except SimError as exc:
            errors.append(exc.message)
    if errors:
        raise SimError("; ".join(errors))


def _stop_sequencer(net: SimNetwork, node: SimNode) -> None:
    if not node.answers("node"):
        raise SimError(f"failed to stop sequencer: {ERR_CONNECTION_DOWN}")
    try:
        net.stop_sequencer(node)
    except SimError as exc:
        if "sequencer not running" not in exc.message:
            raise
    node.active = False


def _start_sequencer(net: SimNetwork, node: SimNode) -> None:
    if net.leader != node.id or not node.in_raft:
        raise SimError(
            "unable to retrieve unsafe head from consensus: failed to apply barrier: node is not the leader"
        )
    fsm = net.fsm_head
    if fsm is None:
        raise SimError("no unsafe head")
    if not node.answers("node"):
        raise SimError(f"failed to get latest unsafe block: {ERR_CONNECTION_DOWN}")
    if fsm.hash != node.head.hash:
        if fsm.number == node.head.number + 1 and fsm.parent_hash == node.head.hash:
            net.post_unsafe_payload(node, fsm)
        else:
            raise SimError("unsafe head mismatch")
    try:
        net.start_sequencer(node, fsm.hash)
    except SimError as exc:
        if "sequencer already running" not in exc.message:
            raise
    node.active = True


def _transfer_leader(net: SimNetwork, node: SimNode) -> None:
    net.transfer_leader(node)
    node.leader_flag = False
