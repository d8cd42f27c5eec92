"""What the waivers' reasons in policies/config/<stack>.json claim about the stack, checked against its plan: which
namespaces Pod Security admits privileged pods into, what runs in them, and why the MPS control daemon (waived as
privileged) never schedules. A reason that drifts from the stack fails here, not in a reviewer's reading."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from mlops_infra.plan import Inventory, ResourceRecord
from tests.conftest import ROOT, planned
from tests.nonempty import each

PRIVILEGED_CLAIM = re.compile(r"one of the (\w+) namespaces at Pod Security level privileged \(([a-z0-9 -]+)\)")
"""How a reason names the privileged namespaces: `one of the two namespaces at Pod Security level privileged
(gpu-system and monitoring)`."""
COUNTS = {"two": 2, "three": 3}
ENFORCE = "pod-security.kubernetes.io/enforce"
MPS_LABEL = "nvidia.com/mps.capable"
POD_SPEC_PATHS = {"kubernetes:apps/v1:DaemonSet": ("template",), "kubernetes:apps/v1:Deployment": ("template",),
                  "kubernetes:apps/v1:StatefulSet": ("template",), "kubernetes:batch/v1:Job": ("template",),
                  "kubernetes:batch/v1:CronJob": ("jobTemplate", "spec", "template")}


def _reasons(stack: str) -> list[tuple[str, str, str]]:
    config = json.loads((ROOT / "policies" / "config" / f"{stack}.json").read_text())
    return [(policy, w["resource"], w["reason"]) for policy, body in config.items() for w in body.get("waivers", [])]


def _privileged(inv: Inventory) -> set[str]:
    return {str(r.inputs["metadata"]["name"]) for r in inv.of_type("kubernetes:core/v1:Namespace")
            if (r.inputs["metadata"].get("labels") or {}).get(ENFORCE) == "privileged"}


def _pod_spec(record: ResourceRecord) -> dict[str, Any] | None:
    path = POD_SPEC_PATHS.get(record.type)
    if path is None:
        return None
    node: Any = record.inputs.get("spec") or {}
    for key in path:
        node = node.get(key) or {}
    spec = node.get("spec")
    return spec if isinstance(spec, dict) else None


def _needs_privileged_level(spec: dict[str, Any]) -> bool:
    """What Pod Security `baseline` refuses and this platform's node-level pods use: host namespaces, host paths,
    privileged containers."""
    containers = [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
    return (any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))
            or any("hostPath" in v for v in spec.get("volumes") or [])
            or any((c.get("securityContext") or {}).get("privileged") for c in containers))


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_reasons_name_exactly_the_namespaces_the_stack_labels_privileged(stack: str) -> None:
    privileged = _privileged(planned(stack))
    assert privileged, f"{stack}: no namespace at level privileged, so no reason should claim one"
    claims = [(p, r, reason) for p, r, reason in _reasons(stack) if "Pod Security" in reason]
    for policy, resource, reason in each(claims):
        match = PRIVILEGED_CLAIM.search(reason)
        assert match, f"{stack} {policy} {resource}: names Pod Security without the checked claim: {reason}"
        named = set(match.group(2).split(" and "))
        assert named == privileged, (policy, resource)
        assert COUNTS[match.group(1)] == len(named), (policy, resource)


@pytest.mark.charts("nvidia-device-plugin", "kube-prometheus-stack", "dcgm-exporter")
@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_what_the_privileged_namespaces_hold_is_what_the_reasons_say(stack: str) -> None:
    """gpu-system `holds only the device plugins`; monitoring is privileged `for its two node-level exporters`: the
    only pods there that need more than baseline are the node-exporter and dcgm-exporter DaemonSets."""
    inv = planned(stack, render=True)
    pods = [(r, spec) for r in inv.rendered() if (spec := _pod_spec(r)) is not None]
    in_gpu_system = [r for r, _ in pods if r.inputs["metadata"].get("namespace") == "gpu-system"]
    for record in each(in_gpu_system):
        assert record.type == "kubernetes:apps/v1:DaemonSet", record.name
        component = inv.component_of(inv.by_urn()[record.parent])
        assert component is not None and component.type == "mlops:compute:GpuSoftware", record.name
    beyond_baseline = sorted(str(r.inputs["metadata"]["name"]) for r, spec in pods
                             if r.inputs["metadata"].get("namespace") == "monitoring" and _needs_privileged_level(spec))
    assert len(beyond_baseline) == 2, beyond_baseline
    assert {n.rsplit("-", 2)[-2] for n in beyond_baseline} == {"dcgm", "node"}, beyond_baseline
    for record in each([r for r, _ in pods if str(r.inputs["metadata"]["name"]) in beyond_baseline]):
        assert record.type == "kubernetes:apps/v1:DaemonSet", record.name  # node-level agents


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_no_node_can_carry_the_label_the_mps_control_daemon_waits_for(stack: str) -> None:
    """The MPS daemon's waivers: only GPU feature discovery sets `nvidia.com/mps.capable` (k8s-device-plugin
    v0.18.2, internal/lm), the platform runs no GFD and no sharing config, and sets the label on no pool."""
    inv = planned(stack)
    (plugin,) = [r for r in inv.of_type("kubernetes:helm.sh/v3:Release")
                 if r.inputs.get("chart") == "nvidia-device-plugin"]
    values = plugin.inputs["values"]
    assert not (values.get("gfd") or {}).get("enabled")  # the chart's default, false, stays
    assert "config" not in values  # no sharing config (the chart's `config.map` / `config.name`)
    assert [r.name for r in inv.declared() if MPS_LABEL in json.dumps(r.inputs)] == []
    mps = [reason for _, resource, reason in _reasons(stack) if resource == "nvidia-device-plugin-mps-control-daemon"]
    assert all("GPU feature discovery" in reason and "no GFD" in reason for reason in each(mps))
