"""`conductor-bot audit NETWORK` as an operator runs it: the trail from Redis, output and exit codes."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

from typer.testing import Result

from bot.audit_cli import audit_command
from store import audit
from store.audit import AuditEntry, AuditKind
from store.connection import open_redis
from store.gateway import Store
from store.keys import Keys
from tests.fixtures.cli import command_app, invoke

CLUSTERS = Path(__file__).parent.parent / "data" / "clusters" / "valid.yaml"
NETWORK = "op-sepolia"

app = command_app("audit", audit_command)


def run(*args: str, env: dict[str, str]) -> Result:
    return invoke(app, "audit", args, env)


def entry(i: int, kind: AuditKind = AuditKind.STEP) -> AuditEntry:
    return AuditEntry(
        at=1_760_000_000.0 + i,
        network=NETWORK,
        kind=kind,
        actor="U02GHIJKL",
        request_id="req-7",
        message=f"step {i} conductor_pause on seq-{i}",
        data={"ok": "true"},
    )


async def test_prints_the_newest_entries_first_as_a_table(store: Store, redis_url: str) -> None:
    for i in range(5):
        await audit.append(store, NETWORK, entry(i))
    env = {"REDIS_URL": redis_url, "CONDUCTOR_BOT_KEY_PREFIX": store.keys.prefix}

    result = await asyncio.to_thread(run, NETWORK, "-n", "3", "--clusters", str(CLUSTERS), env=env)

    assert result.exit_code == 0, result.output
    assert "op-sepolia: last 3 audit entries, newest first (UTC)" in result.output
    rows = [line for line in result.output.splitlines() if "conductor_pause" in line]
    assert [r.split("conductor_pause on ")[1].split()[0] for r in rows] == ["seq-4", "seq-3", "seq-2"]
    assert "2025-10-09 08:53:24" in rows[0] and "U02GHIJKL" in rows[0] and "req-7" in rows[0]


async def test_json_output_is_one_entry_per_line(store: Store, redis_url: str) -> None:
    await audit.append(store, NETWORK, entry(0, AuditKind.REQUEST))
    await audit.append(store, NETWORK, entry(1, AuditKind.APPROVE))
    env = {"REDIS_URL": redis_url, "CONDUCTOR_BOT_KEY_PREFIX": store.keys.prefix}

    result = await asyncio.to_thread(run, NETWORK, "--json", "--clusters", str(CLUSTERS), env=env)

    assert result.exit_code == 0, result.output
    parsed = [AuditEntry.model_validate(json.loads(line)) for line in result.output.splitlines()]
    assert parsed == [entry(1, AuditKind.APPROVE), entry(0, AuditKind.REQUEST)]


async def test_reads_the_embedded_valkey_a_stopped_bot_left_in_the_state_dir(tmp_path: Path) -> None:
    keys = Keys()
    handle = await open_redis(None, tmp_path)
    try:
        await audit.append(Store(handle.client, keys), NETWORK, entry(1, AuditKind.RESULT))
    finally:
        await handle.close()
    env = {"CONDUCTOR_BOT_STATE_DIR": str(tmp_path)}

    result = await asyncio.to_thread(run, NETWORK, "--clusters", str(CLUSTERS), env=env)

    assert result.exit_code == 0, result.output
    assert "result" in result.output and "step 1 conductor_pause on seq-1" in result.output


async def test_a_network_without_entries_says_so(store: Store, redis_url: str) -> None:
    env = {"REDIS_URL": redis_url, "CONDUCTOR_BOT_KEY_PREFIX": store.keys.prefix}
    result = await asyncio.to_thread(run, "devnet", "--clusters", str(CLUSTERS), env=env)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "devnet: no audit entries yet"


def test_unknown_network_and_missing_clusters_file_exit_3_without_traceback() -> None:
    unknown = run("nope", "--clusters", str(CLUSTERS), env={})
    assert unknown.exit_code == 3
    assert "unknown network 'nope'; configured: devnet, op-sepolia" in unknown.output
    missing = run(NETWORK, env={})
    assert missing.exit_code == 3
    assert "no clusters file" in missing.output
    for result in (unknown, missing):
        assert "Traceback" not in result.output


def test_unreachable_redis_exits_1_without_leaking_the_password() -> None:
    with socket.socket() as probe:  # a port nobody listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"REDIS_URL": f"redis://:hunter2@127.0.0.1:{port}/0"}
    result = run(NETWORK, "--clusters", str(CLUSTERS), env=env)
    assert result.exit_code == 1, result.output
    assert "cannot read the audit trail" in result.output
    assert "hunter2" not in result.output and "Traceback" not in result.output
