"""The node-level exporters as the charts render them at their pins (prod, with the chart store): dcgm-exporter runs
with a read-only root because every place it would write is redirected or off, and node-exporter gets the limits
MonitoringCore states, reaching the subchart through kube-prometheus-stack's values."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_infra.observability.core import DCGM_LOG_TO_STDOUT, NODE_EXPORTER_RESOURCES
from mlops_infra.plan import Inventory
from tests.conftest import planned
from tests.nonempty import each
from tests.system_capacity import cpu_m, memory_mib

DCGM_LOG_LEVELS_THAT_LOG_ERRORS = {"ERROR", "WARN", "INFO", "DEBUG", "VERB"}
"""dcgm-exporter 4.5.1-4.8.0 pkg/cmd/const.go DCGMDbgLvlValues, less NONE and FATAL (which would drop DCGM's errors)."""
KUBE_PROMETHEUS_NODE_EXPORTER = {"cpu": "250m", "memory": "180Mi"}
"""prometheus-operator/kube-prometheus v0.18.0 manifests/nodeExporter-daemonset.yaml: node-exporter's limits."""


def _container(inv: Inventory, release: str, name: str) -> dict[str, Any]:
    assert {e["name"]: e["status"] for e in inv.rendering}[release] == "rendered"
    (daemonset,) = [r for r in inv.rendered()
                    if r.type == "kubernetes:apps/v1:DaemonSet" and r.parent.endswith(f"::{release}")]
    (container,) = [c for c in daemonset.inputs["spec"]["template"]["spec"]["containers"] if c["name"] == name]
    return dict(container)


@pytest.mark.charts("dcgm-exporter")
def test_dcgm_exporter_writes_nothing_to_its_read_only_root() -> None:
    """Its own code writes only debug dumps (`--dump-enabled`); the DCGM it embeds logs to
    /var/log/nv-hostengine.log unless the exporter routes that log to stdout (DCGM_LOG_TO_STDOUT)."""
    exporter = _container(planned("prod", render=True), "mlops-prod-monitoring-dcgm", "exporter")
    assert exporter["securityContext"]["readOnlyRootFilesystem"] is True
    env = {e["name"]: e.get("value") for e in exporter["env"]}
    assert env["DCGM_EXPORTER_ENABLE_DCGM_LOG"] == "true"  # DCGM's file log becomes its console appender
    assert env["DCGM_EXPORTER_DCGM_LOG_LEVEL"] in DCGM_LOG_LEVELS_THAT_LOG_ERRORS
    assert DCGM_LOG_TO_STDOUT.items() <= env.items()
    assert not any(str(a).startswith("--dump-enabled") for a in exporter.get("args") or [])
    assert "DCGM_EXPORTER_DUMP_ENABLED" not in env
    # Nothing writable was needed: each mount is the read-only pod-resources dir or a ConfigMap's file.
    for mount in each(exporter["volumeMounts"]):
        assert mount.get("readOnly") or mount["mountPath"].startswith("/etc/dcgm-exporter/"), mount


@pytest.mark.charts("kube-prometheus-stack")
def test_node_exporter_limits_reach_the_daemonset_and_hold_the_reference_deployments() -> None:
    node_exporter = _container(planned("prod", render=True), "mlops-prod-monitoring-kube-prometheus-stack",
                               "node-exporter")
    resources = node_exporter["resources"]
    assert resources == NODE_EXPORTER_RESOURCES
    limits, requests = resources["limits"], resources["requests"]
    assert memory_mib(limits["memory"]) >= memory_mib(KUBE_PROMETHEUS_NODE_EXPORTER["memory"])
    assert cpu_m(limits["cpu"]) >= cpu_m(KUBE_PROMETHEUS_NODE_EXPORTER["cpu"])
    assert memory_mib(requests["memory"]) <= memory_mib(limits["memory"])
    assert cpu_m(requests["cpu"]) <= cpu_m(limits["cpu"])
