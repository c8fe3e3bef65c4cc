"""The bot's clusters.yml and op-conductor-ops' config.toml for a running simulator.

Raft server ids are `seq-N` in every network. op-conductor-ops takes a TOML section name as the raft
server id and needs names unique across networks: with one network the sections are named `seq-N`, so
the tool (and the bot reading the TOML) sees the ids the cluster reports; with several networks the
ids would collide, so sections are named `<network>-seq-N` and membership checks from that file will
report drift (use clusters.yml for several networks).
"""

from __future__ import annotations

import json
from typing import Any

from cluster.topology import Topology


def channel_for(network: str) -> str:
    return "C0" + network.replace("-", "").upper()


def clusters_yaml_dict(topology: Topology) -> dict[str, Any]:
    networks: dict[str, Any] = {}
    for name, spec in topology.networks.items():
        networks[name] = {
            "alert_channel": spec.alert_channel,
            "command_channels": list(spec.command_channels),
            "requesters": list(spec.requesters),
            "approvers": list(spec.approvers),
            "approvals_required": spec.approvals_required,
            "thresholds": spec.thresholds.model_dump(),
            "sequencers": [s.model_dump() for s in spec.sequencers],
        }
    return {"networks": networks}


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)  # a JSON string or list of strings is valid TOML


def _section(topology: Topology, network: str, sequencer_id: str) -> str:
    return sequencer_id if len(topology.networks) == 1 else f"{network}-{sequencer_id}"


def config_toml(topology: Topology) -> str:
    lines: list[str] = []
    for name, spec in topology.networks.items():
        names = [_section(topology, name, s.id) for s in spec.sequencers]
        lines += [f"[networks.{name}]", f"sequencers = {_toml_value(names)}", ""]
    for name, spec in topology.networks.items():
        for s in spec.sequencers:
            lines.append(f"[sequencers.{_section(topology, name, s.id)}]")
            for key in ("raft_addr", "conductor_rpc_url", "node_rpc_url", "voting"):
                lines.append(f"{key} = {_toml_value(getattr(s, key))}")
            if s.rollup_boost_rpc_url is not None:  # op-conductor-ops' key for set-rollup-boost-mode
                lines.append(f"rollup_boost_rpc_url = {_toml_value(s.rollup_boost_rpc_url)}")
            if s.standby:  # this bot's key; op-conductor-ops ignores keys it does not know
                lines.append("standby = true")
            lines.append("")
    return "\n".join(lines)
