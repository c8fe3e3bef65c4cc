"""deploy/: the Kubernetes manifests validate against the API schemas (offline: the schemas ship in the
kubernetes-validate wheel), keep the promises README makes, and the dashboard only charts real metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from prometheus_client import REGISTRY

import chat.metrics  # noqa: F401 - registers every metric the bot serves
from cluster.topology_file import parse_topology

ROOT = Path(__file__).parents[2]
MANIFESTS = sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))
KUBERNETES_VERSION = "1.30.0"


def resources() -> list[dict[str, Any]]:
    return [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def by_kind(kind: str) -> dict[str, Any]:
    [found] = [r for r in resources() if r["kind"] == kind]
    return found


@pytest.mark.parametrize("path", MANIFESTS, ids=[p.name for p in MANIFESTS])
def test_each_manifest_validates_strictly(path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_deployment_is_replicated_probed_non_root_and_read_only() -> None:
    deployment = by_kind("Deployment")
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    [container] = pod["containers"]
    assert spec["replicas"] >= 2
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    # Slack secrets come from the Secret, the clusters file from the ConfigMap.
    assert container["envFrom"] == [{"secretRef": {"name": by_kind("Secret")["metadata"]["name"]}}]
    volumes = {v["name"]: v for v in pod["volumes"]}
    [mount] = [m for m in container["volumeMounts"] if m["name"] == "clusters"]
    assert volumes["clusters"]["configMap"]["name"] == by_kind("ConfigMap")["metadata"]["name"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["CONDUCTOR_BOT_CLUSTERS"] == f"{mount['mountPath']}/clusters.yml"
    # A PodDisruptionBudget selects these pods and keeps one of them.
    pdb = by_kind("PodDisruptionBudget")["spec"]
    assert pdb["selector"]["matchLabels"] == spec["selector"]["matchLabels"]
    assert pdb["minAvailable"] == 1


def test_the_configmaps_clusters_file_is_one_the_bot_accepts() -> None:
    raw = yaml.safe_load(by_kind("ConfigMap")["data"]["clusters.yml"])
    loaded = parse_topology(raw, "configmap.yaml")
    assert list(loaded.topology.networks) == ["op-mainnet"]


def test_the_dashboard_charts_only_metrics_the_bot_serves() -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "conductor-bot.json").read_text())
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    families = {f.name: f.type for f in REGISTRY.collect() if f.name.startswith("conductor_bot_")}
    served = {name + suffix for name, kind in families.items() for suffix in suffixes.get(kind, ("",))}
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used = {name for expr in exprs for name in re.findall(r"\bconductor_bot_[a-z_]+", expr)}
    assert used, "no panel queries a conductor_bot metric"
    assert used <= served, f"unknown metrics: {sorted(used - served)}"
    # Every family but the per-button action counter is on the dashboard.
    charted = {re.sub(r"_(total|bucket|count|sum)$", "", n) for n in used}
    assert set(families) - {"conductor_bot_actions"} <= charted


def test_compose_runs_two_replicas_on_one_shared_valkey() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    bots = {name: s for name, s in services.items() if name.startswith("bot-")}
    assert len(bots) == 2
    for bot in bots.values():
        assert bot["environment"]["REDIS_URL"] == "redis://valkey:6379/0"
        assert bot["depends_on"]["valkey"]["condition"] == "service_healthy"
        assert bot["read_only"] is True
    assert "valkey" in services and "healthcheck" in services["valkey"]
