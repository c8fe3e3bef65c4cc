"""Typed clients for one sequencer's op-conductor and op-node JSON-RPC APIs.

Each method is one RPC call whose result is validated (pydantic) into our own types; a result of
the wrong shape raises `MalformedResponse` naming the method. The `parse_*` functions are shared
with `cluster.poller`, which sends the same reads as one batch per endpoint.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from cluster.rpc import INVALID_PARAMS, JsonRpcClient, JsonRpcError, MalformedResponse
from cluster.snapshot import BlockRef, Membership, ServerInfo
from cluster.topology import SequencerSpec

T = TypeVar("T")


class _Lenient(BaseModel):
    # Node versions add keys over time (e.g. blocksTopicV4); unknown keys are ignored.
    model_config = ConfigDict(frozen=True, extra="ignore")


class L2BlockRefResult(_Lenient):
    hash: str
    number: int
    timestamp: int

    def to_block_ref(self) -> BlockRef:
        # Validated already (as this model): constructing skips validating it twice, per node per tick.
        return BlockRef.model_construct(number=self.number, hash=self.hash, timestamp=self.timestamp)


class SyncStatus(_Lenient):
    """The parts of `optimism_syncStatus` we use; keys differ between op-node versions."""

    unsafe_l2: L2BlockRefResult | None = None
    safe_l2: L2BlockRefResult | None = None
    finalized_l2: L2BlockRefResult | None = None

    @property
    def unsafe(self) -> BlockRef | None:
        return self.unsafe_l2.to_block_ref() if self.unsafe_l2 else None

    @property
    def safe(self) -> BlockRef | None:
        return self.safe_l2.to_block_ref() if self.safe_l2 else None


class PeerStats(_Lenient):
    connected: int


class RollupConfig(_Lenient):
    block_time: int


class _ServerInfoResult(_Lenient):
    id: str
    addr: str
    suffrage: int = 0


class _MembershipResult(_Lenient):
    servers: list[_ServerInfoResult] | None
    version: int = 0


_BOOL = TypeAdapter(bool)
_STR = TypeAdapter(str)
_NONE = TypeAdapter(type(None))
# Before op #10823 clusterMembership answered a bare array of ServerInfo.
_MEMBERSHIP = TypeAdapter(_MembershipResult | list[_ServerInfoResult])


def _validate(url: str, method: str, parse: Callable[[Any], T], value: Any) -> T:
    try:
        return parse(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "result"
        raise MalformedResponse(url, f"unexpected result: {where}: {first['msg']}", method) from exc


def parse_bool(value: Any) -> bool:
    # Strict: a conductor answering "true" (a string) is broken, not truthy.
    return _BOOL.validate_python(value, strict=True)


def parse_server_info(value: Any) -> ServerInfo:
    r = _ServerInfoResult.model_validate(value)
    return ServerInfo(id=r.id, addr=r.addr, suffrage=r.suffrage)


def parse_membership(value: Any) -> Membership:
    key = _membership_key(value)
    if key is not None:
        return _membership(key)
    r = _MEMBERSHIP.validate_python(value)
    servers, version = (r, 0) if isinstance(r, list) else (r.servers, r.version)
    if servers is None:
        return Membership(servers=None, version=version)
    return _membership((tuple((s.id, s.addr, s.suffrage) for s in servers), version))


_MembershipKey = tuple[tuple[tuple[str, str, int], ...], int]


def _membership_key(value: Any) -> _MembershipKey | None:
    """The usual answer's content as a hashable key, when every value has exactly the type it
    should (anything else goes through validation): every node of a network answers the same
    membership every tick, so it is built once."""
    if not isinstance(value, dict) or not isinstance(servers := value.get("servers"), list):
        return None
    version = value.get("version", 0)
    if type(version) is not int:
        return None
    key = []
    for s in servers:
        if not isinstance(s, dict):
            return None
        sid, addr, suffrage = s.get("id"), s.get("addr"), s.get("suffrage", 0)
        if type(sid) is not str or type(addr) is not str or type(suffrage) is not int:
            return None
        key.append((sid, addr, suffrage))
    return tuple(key), version


@functools.lru_cache(maxsize=8192)
def _membership(key: _MembershipKey) -> Membership:
    servers, version = key
    return Membership(
        servers=tuple(ServerInfo(id=i, addr=a, suffrage=s) for i, a, s in servers), version=version
    )


def parse_sync_status(value: Any) -> SyncStatus:
    return SyncStatus.model_validate(value)


def parse_peer_stats(value: Any) -> PeerStats:
    return PeerStats.model_validate(value)


def parse_rollup_config(value: Any) -> RollupConfig:
    return RollupConfig.model_validate(value)


def parse_null(value: Any) -> None:
    _NONE.validate_python(value)


def parse_hash(value: Any) -> str:
    return _STR.validate_python(value, strict=True)


class _Endpoint:
    def __init__(self, rpc: JsonRpcClient, url: str) -> None:
        self.rpc = rpc
        self.url = url

    async def _call(self, method: str, parse: Callable[[Any], T], *params: Any) -> T:
        return _validate(self.url, method, parse, await self.rpc.call(self.url, method, params))


class ConductorClient(_Endpoint):
    """op-conductor's `conductor_*` API on one sequencer."""

    async def leader(self) -> bool:
        return await self._call("conductor_leader", parse_bool)

    async def leader_with_id(self) -> ServerInfo:
        return await self._call("conductor_leaderWithID", parse_server_info)

    async def leader_overridden(self) -> bool:
        return await self._call("conductor_leaderOverridden", parse_bool)

    async def override_leader(self, override: bool = True) -> None:
        """Set (or clear) the override; conductors before op #12451 take no parameter and can only set."""
        try:
            await self._call("conductor_overrideLeader", parse_null, override)
        except JsonRpcError as err:
            if err.code != INVALID_PARAMS or not override:
                raise
            await self._call("conductor_overrideLeader", parse_null)

    async def active(self) -> bool:
        return await self._call("conductor_active", parse_bool)

    async def paused(self) -> bool:
        return await self._call("conductor_paused", parse_bool)

    async def stopped(self) -> bool:
        return await self._call("conductor_stopped", parse_bool)

    async def pause(self) -> None:
        await self._call("conductor_pause", parse_null)

    async def resume(self) -> None:
        await self._call("conductor_resume", parse_null)

    async def stop(self) -> None:
        await self._call("conductor_stop", parse_null)

    async def sequencer_healthy(self) -> bool:
        return await self._call("conductor_sequencerHealthy", parse_bool)

    async def cluster_membership(self) -> Membership:
        return await self._call("conductor_clusterMembership", parse_membership)

    async def add_server_as_voter(self, server_id: str, addr: str, version: int = 0) -> None:
        await self._call("conductor_addServerAsVoter", parse_null, server_id, addr, version)

    async def add_server_as_nonvoter(self, server_id: str, addr: str, version: int = 0) -> None:
        await self._call("conductor_addServerAsNonvoter", parse_null, server_id, addr, version)

    async def remove_server(self, server_id: str, version: int = 0) -> None:
        await self._call("conductor_removeServer", parse_null, server_id, version)

    async def transfer_leader(self) -> None:
        """Start a transfer; note a follower answers success without doing anything."""
        await self._call("conductor_transferLeader", parse_null)

    async def transfer_leader_to_server(self, server_id: str, addr: str) -> None:
        await self._call("conductor_transferLeaderToServer", parse_null, server_id, addr)


class NodeClient(_Endpoint):
    """op-node's `admin_*`, `optimism_*` and `opp2p_*` API on one sequencer."""

    async def sequencer_active(self) -> bool:
        return await self._call("admin_sequencerActive", parse_bool)

    async def start_sequencer(self, block_hash: str) -> None:
        await self._call("admin_startSequencer", parse_null, block_hash)

    async def stop_sequencer(self) -> str:
        """Stop sequencing; returns the hash of the head it stopped on (feed it to start_sequencer)."""
        return await self._call("admin_stopSequencer", parse_hash)

    async def override_leader(self) -> None:
        """One-way: only an op-node restart clears it."""
        await self._call("admin_overrideLeader", parse_null)

    async def conductor_enabled(self) -> bool:
        return await self._call("admin_conductorEnabled", parse_bool)

    async def sync_status(self) -> SyncStatus:
        return await self._call("optimism_syncStatus", parse_sync_status)

    async def peer_stats(self) -> PeerStats:
        return await self._call("opp2p_peerStats", parse_peer_stats)

    async def rollup_config(self) -> RollupConfig:
        return await self._call("optimism_rollupConfig", parse_rollup_config)


class SequencerClient:
    """Both endpoints of one configured sequencer."""

    def __init__(self, rpc: JsonRpcClient, spec: SequencerSpec) -> None:
        self.spec = spec
        self.conductor = ConductorClient(rpc, spec.conductor_rpc_url)
        self.node = NodeClient(rpc, spec.node_rpc_url)
