"""What Prometheus scrapes in the monitoring program: the DCGM exporter (pinned, GPU taints tolerated, the listed
counters, no capability after Helm merges the chart defaults), the Pushgateway address for batch jobs, and every
ServiceMonitor selecting the Service its chart really creates (read from the chart sources)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from mlops_infra.observability.exporter_metrics import DCGM_COUNTERS
from mlops_infra.plan import Inventory, ResourceRecord
from tests.observability.conftest import RELEASE, SERVICE_MONITOR, UPSTREAM, helm_merge, release

# --- What the charts really put on their Services (read from the chart sources, not from our component) --------


def dcgm_service(release_name: str, values: dict[str, Any]) -> tuple[dict[str, str], str]:
    """NVIDIA/dcgm-exporter deployment/templates/service.yaml at 4.5.1-4.8.0: labels `dcgm-exporter.labels`
    (_helpers.tpl: chart, selectorLabels = name/instance/component, version, managed-by); port name "metrics"."""
    name = (values.get("nameOverride") or "dcgm-exporter")[:63].rstrip("-")
    return {"helm.sh/chart": "dcgm-exporter-4.8.0", "app.kubernetes.io/name": name,
            "app.kubernetes.io/instance": release_name, "app.kubernetes.io/component": name,
            "app.kubernetes.io/version": "4.8.0", "app.kubernetes.io/managed-by": "Helm"}, "metrics"


def pushgateway_service(release_name: str, values: dict[str, Any]) -> tuple[dict[str, str], str]:
    """prometheus-community/helm-charts charts/prometheus-pushgateway 3.8.0 templates/service.yaml: labels
    `defaultLabels` (chart, selectorLabels = name/instance, version, managed-by) plus `serviceLabels`; port name
    `service.portName` (default "http")."""
    name = (values.get("nameOverride") or "prometheus-pushgateway")[:63].rstrip("-")
    labels = {"helm.sh/chart": "prometheus-pushgateway-3.8.0", "app.kubernetes.io/name": name,
              "app.kubernetes.io/instance": release_name, "app.kubernetes.io/version": "v1.11.3",
              "app.kubernetes.io/managed-by": "Helm", **values.get("serviceLabels", {})}
    return labels, values.get("service", {}).get("portName", "http")


CHART_SERVICES = {"dcgm-exporter": dcgm_service, "prometheus-pushgateway": pushgateway_service}


def selector_matches(monitor: ResourceRecord, target: ResourceRecord) -> bool:
    """Whether the ServiceMonitor selects the Service its target release renders, on the right port."""
    labels, port = CHART_SERVICES[target.inputs["chart"]](
        "any-release-name", target.inputs["values"])  # the Pulumi-generated release name is not known in advance
    spec = monitor.inputs["spec"]
    wanted = spec["selector"]["matchLabels"]
    return (all(labels.get(k) == v for k, v in wanted.items())
            and spec["namespaceSelector"]["matchNames"] == [target.inputs["namespace"]]
            and all(endpoint["port"] == port for endpoint in spec["endpoints"]))


def monitored_release(inv: Inventory, monitor: ResourceRecord) -> ResourceRecord:
    index = inv.by_urn()
    [target] = [index[u] for u in monitor.options["dependsOn"]
                if index[u].type == RELEASE and index[u].inputs["chart"] in CHART_SERVICES]
    return target


# --- DCGM exporter and ServiceMonitors ------------------------------------------------------------------------------


def test_dcgm_exporter_is_pinned_tolerates_gpu_taints_and_emits_the_listed_counters(full: Inventory) -> None:
    dcgm = release(full, "dcgm-exporter")
    values = dcgm.inputs["values"]
    assert (dcgm.inputs["version"], dcgm.inputs["repositoryOpts"]) == (
        "4.8.0", {"repo": "https://nvidia.github.io/dcgm-exporter/helm-charts"})
    assert values["tolerations"] == [{"key": "example.com/dedicated", "operator": "Exists"},
                                     {"key": "nvidia.com/gpu", "operator": "Exists"}]
    terms = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    # By the label every GPU pool's nodes carry (a workspace pool's instance types are not the platform's).
    assert terms == [{"matchExpressions": [{"key": "nvidia.com/gpu.present", "operator": "In", "values": ["true"]}]}]
    emitted = [line.split(",")[0] for line in values["customMetrics"].splitlines() if not line.startswith("#")]
    assert emitted == [name for name, _, _ in DCGM_COUNTERS]
    assert values["serviceMonitor"] == {"enabled": False}


def effective_capabilities(security_context: dict[str, Any]) -> set[str]:
    """The Linux capabilities a container keeps: the runtime drops `drop` from its default set, then adds `add`."""
    caps = security_context.get("capabilities") or {}
    runtime_default = {"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP",
                       "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"}  # containerd's default
    kept = set() if "ALL" in (caps.get("drop") or []) else runtime_default - set(caps.get("drop") or [])
    return kept | set(caps.get("add") or [])


def test_the_dcgm_container_keeps_no_capability_after_helm_merges_the_chart_defaults(full: Inventory) -> None:
    dcgm = release(full, "dcgm-exporter")
    chart = yaml.safe_load((UPSTREAM / f"dcgm-exporter-{dcgm.inputs['version']}-values.yaml").read_text())
    assert chart["securityContext"]["capabilities"]["add"] == ["SYS_ADMIN"]  # the chart default at the pin
    values = dcgm.inputs["values"]
    # templates/daemonset.yaml renders the exporter container's `securityContext` from .Values.securityContext.
    rendered = helm_merge(chart, values)["securityContext"]
    assert effective_capabilities(rendered) == set()
    assert rendered["privileged"] is False and rendered["allowPrivilegeEscalation"] is False
    # The values before the fix (drop ALL, no `add`) keep SYS_ADMIN through the merge: the check can fail.
    before = {**values, "securityContext": {**values["securityContext"], "capabilities": {"drop": ["ALL"]}}}
    assert effective_capabilities(helm_merge(chart, before)["securityContext"]) == {"SYS_ADMIN"}


def test_batch_jobs_get_a_stable_pushgateway_address(full: Inventory) -> None:
    values = release(full, "prometheus-pushgateway").inputs["values"]
    assert values["fullnameOverride"] == "mlops-prod-monitoring-pushgateway"  # the chart's Service name
    assert full.outputs["pushgatewayUrl"] == "http://mlops-prod-monitoring-pushgateway.monitoring.svc:9091"


@pytest.mark.parametrize("stack", ["full", "minimal"])
def test_every_service_monitor_selects_its_exporters_service(stack: str, request: pytest.FixtureRequest) -> None:
    inv = request.getfixturevalue(stack)
    monitors = inv.of_type(SERVICE_MONITOR)
    assert len(monitors) == 2
    for monitor in monitors:
        assert selector_matches(monitor, monitored_release(inv, monitor)), monitor.name


def test_the_selector_check_catches_a_peer_style_mismatch(full: Inventory) -> None:
    """The ai-on-eks DCGM ServiceMonitor selects a label the exporter does not carry: this check rejects it."""
    monitor = full.named("mlops-prod-monitoring-dcgm-servicemonitor")
    target = monitored_release(full, monitor)
    broken = ResourceRecord(**{**monitor.__dict__, "inputs": {**monitor.inputs, "spec": {
        **monitor.inputs["spec"], "selector": {"matchLabels": {"app": "nvidia-dcgm-exporter"}}}}})
    assert not selector_matches(broken, target)
    wrong_ns = ResourceRecord(**{**monitor.__dict__, "inputs": {**monitor.inputs, "spec": {
        **monitor.inputs["spec"], "namespaceSelector": {"matchNames": ["gpu-operator"]}}}})
    assert not selector_matches(wrong_ns, target)
