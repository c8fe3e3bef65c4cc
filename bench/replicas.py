"""Real bot replicas as OS processes, for the chaos tests and the soak benchmark.

    async with simulate(networks=2, realtime=True) as sim:
        fake = await FakeSlackApi.start()
        replicas = Replicas(sim, fake, redis_url, workdir, poll_interval=0.5)
        replicas.start(3)
        pid = await replicas.lease_holder(redis, "sim-1")     # which process watches sim-1
        replicas.kill(pid)                                    # SIGKILL: no cleanup, locks left to expire
        ...
        replicas.stop_all()

Each replica is `conductor-bot run` (HTTP mode on an ephemeral port) with its own environment: the
simulator's clusters file, the fake Slack Web API, the shared Redis, a short poll interval. Their
output goes to one log file per process in `workdir`.

`count_alert_delivery` checks the outcome from the fake Web API's record: every alert episode in
Redis posted exactly once (by the metadata tag of its message), every resolved episode's message
showing it resolved with one resolution reply.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from redis.asyncio import Redis

from alerts.alert_store import AlertStore
from alerts.catalog import rule_spec
from sim.config_files import channel_for
from sim.harness import Simulator
from sim.slack_api import FakeMessage, FakeSlackApi
from store.gateway import Store, text
from store.outbox import METADATA_EVENT

SIGNING_SECRET = "replica-signing-secret"
_BOT = "from bot.cli import main; main()"
_STARTED = re.compile(r"bot started port=(\d+)")


class Replicas:
    def __init__(
        self,
        sim: Simulator,
        fake: FakeSlackApi,
        redis_url: str,
        workdir: Path,
        *,
        poll_interval: float,
        access: dict[str, list[str]] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.fake = fake
        self.extra_env = dict(env or {})
        self.redis_url = redis_url
        self.workdir = workdir
        self.poll_interval = poll_interval
        sim.write_config(workdir)
        if access:
            # e.g. {"requesters": [...], "approvers": [...]} for every network
            clusters = workdir / "clusters.yml"
            config = yaml.safe_load(clusters.read_text())
            for network in config["networks"].values():
                network.update(access)
            clusters.write_text(yaml.safe_dump(config, sort_keys=False))
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.logs: dict[int, Path] = {}
        self._started = 0

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CONDUCTOR_BOT_"))}
        env.update(
            {
                "SLACK_BOT_TOKEN": "xoxb-replica",
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": self.fake.base_url,
                "REDIS_URL": self.redis_url,
                "CONDUCTOR_BOT_CLUSTERS": str(self.workdir / "clusters.yml"),
                "CONDUCTOR_BOT_POLL_INTERVAL": str(self.poll_interval),
                "CONDUCTOR_BOT_STATE_DIR": str(self.workdir / "state"),
                **self.extra_env,
            }
        )
        return env

    def start(self, count: int = 1) -> list[int]:
        pids = []
        for _ in range(count):
            self._started += 1
            path = self.workdir / f"replica-{self._started}.log"
            log = path.open("wb")
            proc = subprocess.Popen(
                [sys.executable, "-c", _BOT, "run", "--http-port", "0"],
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            log.close()
            self.procs[proc.pid] = proc
            self.logs[proc.pid] = path
            pids.append(proc.pid)
        return pids

    def port(self, pid: int) -> int | None:
        """The replica's HTTP port (/slack/events, /healthz) once it serves (from its log line)."""
        found = _STARTED.search(self.logs[pid].read_text(errors="replace"))
        return int(found.group(1)) if found else None

    def check(self) -> None:
        """Raise if a replica we did not kill has exited (e.g. it could not bind its port)."""
        dead = {pid: p.returncode for pid, p in self.procs.items() if p.poll() is not None}
        if dead:
            raise AssertionError(f"replicas exited on their own: {dead}; logs in {self.workdir}")

    def alive(self) -> list[int]:
        return [pid for pid, p in self.procs.items() if p.poll() is None]

    def kill(self, pid: int) -> None:
        """SIGKILL: the process gets no chance to release anything."""
        proc = self.procs.pop(pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        for proc in self.procs.values():
            proc.wait(timeout=10)
        self.procs.clear()

    async def flush_holder(self, redis: Redis, store: Store, network: str) -> int | None:
        """The pid of the replica flushing `network`'s outbox now (its lock token is host:pid:random)."""
        token = await redis.get(store.keys.flush_lock(network))
        if token is None:
            return None
        pid = int(text(token).split(":")[1])
        return pid if pid in self.procs else None

    async def lease_holder(self, redis: Redis, store: Store, network: str) -> int | None:
        """The pid of the replica watching `network` (owner ids are host:pid:suffix)."""
        owner = await redis.get(store.keys.watch_lease(network))
        if owner is None:
            return None
        pid = int(text(owner).split(":")[1])
        return pid if pid in self.procs else None


@dataclass
class DeliveryCount:
    episodes: int = 0
    posted: int = 0
    duplicates: int = 0
    lost: int = 0
    # Resolved episodes whose message does not show them resolved, or without exactly one resolution reply.
    stale: int = 0
    problems: list[str] = field(default_factory=list)


def _tag(message: FakeMessage) -> str | None:
    meta = message.metadata or {}
    if meta.get("event_type") != METADATA_EVENT:
        return None
    return str((meta.get("event_payload") or {}).get("message"))


async def count_alert_delivery(store: Store, fake: FakeSlackApi, networks: list[str]) -> DeliveryCount:
    """Every alert episode so far (1..the stored episode of each alert; no silences in the chaos, so
    each fired episode asked for a post) against the top-level messages Slack holds, by metadata tag."""
    alerts = AlertStore(store)
    out = DeliveryCount()
    for network in networks:
        channel = channel_for(network)
        tagged = [(t, m) for m in fake.messages(channel) if (t := _tag(m)) is not None]
        by_tag = Counter(t for t, _ in tagged)
        messages = dict(tagged)
        out.posted += len(by_tag)
        out.duplicates += sum(n - 1 for n in by_tag.values() if n > 1)
        for stored in (await alerts.load(network)).values():
            state = stored.state
            last = state.episode if state.post_requested_at is not None else state.episode - 1
            spec = rule_spec(state.rule)
            for episode in range(1, last + 1):
                out.episodes += 1
                key = await alerts.message_key(network, state.fingerprint, episode)
                message = messages.get(key)
                if message is None:
                    out.lost += 1
                    out.problems.append(f"lost: {key}")
                    continue
                resolved = episode < state.episode or state.phase == "resolved"
                if not resolved or key.startswith("summary:"):
                    continue
                replies = [r for r in message.replies if "Resolved" in r.text]
                wanted = 1 if spec.send_resolved else 0
                if "(resolved)" not in message.text or len(replies) != wanted:
                    out.stale += 1
                    out.problems.append(
                        f"stale: {key} text={message.text!r} resolution_replies={len(replies)}"
                    )
    return out
